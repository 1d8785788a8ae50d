"""Measure a grading run against Gradescope's limits: wall time and peak memory.

    python -m grader.tools.gradescope.measure [--cpus 0] -- python -m pytest grader --submission solution

Runs the command and samples /proc every 0.1 s: the peak of the summed resident memory of the
whole process tree (the grader and the worker running student code, which live at the same time,
so both count against the container's limit) and the largest single process. Linux only.
--cpus pins the tree to those CPUs (taskset-style list, e.g. 0) to see single-core times.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def _children():
    """{pid: ppid} of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return table


def _rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree(root_pid):
    """root_pid and all its descendants."""
    table = _children()
    found, todo = set(), [root_pid]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += [child for child, parent in table.items() if parent == pid and child not in found]
    return found


def measure(cmd, cpus=None, interval=0.1):
    """(exit code, wall seconds, peak summed RSS MB, peak single-process RSS MB)."""
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    start = time.monotonic()
    proc = subprocess.Popen(cmd, preexec_fn=preexec)
    peak_sum = peak_one = 0.0
    while proc.poll() is None:
        sizes = [_rss_mb(pid) for pid in tree(proc.pid)]
        peak_sum = max(peak_sum, sum(sizes))
        peak_one = max(peak_one, max(sizes, default=0.0))
        time.sleep(interval)
    return proc.returncode, time.monotonic() - start, peak_sum, peak_one


def main(argv=None):
    """Run a command, then print its wall time and the peak memory of its whole process tree."""
    parser = argparse.ArgumentParser(prog="python -m grader.tools.gradescope.measure",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpus", default="", help="CPU list to pin to, e.g. 0 or 0,1")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command to run")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("give the command to measure after --")
    cpus = {int(c) for c in args.cpus.split(",") if c.strip()}
    code, wall, peak_sum, peak_one = measure(cmd, cpus or None)
    print(f"exit {code}; wall {wall:.1f} s; peak RSS of the process tree {peak_sum:.0f} MB "
          f"(largest process {peak_one:.0f} MB)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
