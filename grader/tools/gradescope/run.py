"""The Python side of run_autograder: grade <root>/submission, always leave results.json.

    python -m grader.tools.gradescope.run [--root /autograder] [--run-as USER] [--timeout S]

Run from <root>/source. It locks the grader, the fixtures and the results folder away from the
student user, runs `python -m pytest grader --submission <root>/submission --results-json
<root>/results/results.json --run-as USER` in its own process group with a wall-clock budget,
and, if pytest did not leave a finished results.json (it crashed, or ran out of time), writes
one that says so. Finding the student's files (any depth, cs260/, loose files, a zip) is the
loader's job (grader/sandbox/loader.py).
"""
import argparse
import json
import os
import pwd
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from grader import options, report
from grader.config import (DATA_SUBDIR, DEFAULT_ROOT, ENV_FILE, GRADER_MEMORY_MB,
                           GRADING_TIMEOUT_S, METADATA_JSON, ROOT_ENV, STOP_GRACE_S, STUDENT_USER)
from grader.sandbox.client import sweep, user_ids

CIFAR_FOLDER = "cifar-10-batches-py"
RUN_AS_ENV = "AUTOGRADER_RUN_AS"   # overrides the student user (tests: an existing user)
# The grading process gets one BLAS thread: its own numpy work is small, and every extra thread
# reserves address space under its RLIMIT_AS (config.GRADER_MEMORY_MB).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PYTEST_ARGS_ENV = "AUTOGRADER_PYTEST_ARGS"   # extra pytest arguments (tests, debugging)


def read_env_file(path):
    """KEY=VALUE lines of gradescope.env as a dict ({} if the file is missing)."""
    values = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"')
    return values


def _remove_group_other(path):
    """chmod go-rwx on path and, for a folder, everything under it (symlinks untouched)."""
    paths = [path]
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            paths += [Path(dirpath, n) for n in dirnames + filenames]
    for p in paths:
        if not p.is_symlink():
            os.chmod(p, p.stat().st_mode & ~0o077)


def lock_down(source, results_dir, private=()):
    """Make the grader, all fixtures, the results folder and `private` (the data, Gradescope's
    submission_metadata.json: earlier results) private to the user running this."""
    results_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(results_dir, 0o700)
    for part in (source / "grader", source / "fixtures", *private):
        if part.exists() and not part.is_symlink():
            _remove_group_other(part)
    os.chmod(source, source.stat().st_mode & ~0o077)


def student_user(name):
    """(user or None, note): run student code as `name` when we are root and the user exists."""
    if not name:
        return None, "student code runs as the current user (no --run-as user configured)"
    if os.geteuid() != 0:
        return None, f"not root: student code runs as the current user, not {name}"
    try:
        pwd.getpwnam(name)
    except KeyError:
        return None, f"user {name} does not exist (setup.sh creates it): student code runs as root"
    return name, f"student code runs as {name}"


def _grader_memory_cap():
    """In the grading process, before it starts: RLIMIT_AS = config.GRADER_MEMORY_MB, the
    grader's own cap (its worker sets a lower one on itself)."""
    try:
        limit = GRADER_MEMORY_MB << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def run_in_group(cmd, cwd, env, timeout, stdout=None, grace=STOP_GRACE_S):
    """Run cmd in a new session (output to stdout, a file, if given).

    At `timeout` seconds it gets SIGINT (pytest stops and the plugin writes results.json for
    the checks that ran); `grace` seconds later, or when it exits, everything left in its
    process group is killed. Returns (returncode, seconds, timed_out).
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.STDOUT if stdout else None,
                            start_new_session=True, preexec_fn=_grader_memory_cap)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    code = proc.wait()
    return code, time.monotonic() - start, timed_out


def read_results(path):
    """The JSON object at path, or None if there is none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def needs_fallback(code, data):
    """True unless pytest ended by itself and left a results.json worth keeping.

    pytest exits 0 or 1 after a full run, 2 when stopped by SIGINT at the time limit (the
    plugin still writes the checks that ran); any other status, or a file without tests (the
    provisional one written at the start), means grading did not happen. Killed by a signal
    (code < 0), nothing it left is trusted: student code may have written it.
    """
    if code < 0 or data is None:
        return True
    return code not in (0, 1, 2) or not data.get("tests")


def fallback_message(code, timed_out, timeout):
    """The top-level message of a results.json that pytest could not finish."""
    if timed_out:
        why = (f"Grading did not finish within {timeout:.0f} s and was stopped. A very slow "
               "function (for example an infinite loop) can cause this")
    elif code < 0:
        why = f"The autograder was killed (signal {-code}) before it finished"
    else:
        why = f"The autograder stopped unexpectedly (pytest exit status {code})"
    return (f"{why}. Your submission was not graded, so the score is 0 for now; please tell "
            "course staff.")


def time_limit_note(timeout):
    """Put in front of results.json's output when grading was cut at the time limit."""
    return (f"Grading was stopped at the time limit ({timeout:.0f} s): the checks below that "
            "had not run yet score 0. A very slow function (for example an infinite loop) "
            "makes every check that calls it wait for its timeout.\n\n")


def main(argv=None):
    """run_autograder's Python side: lock down, grade, and always leave a results.json."""
    parser = argparse.ArgumentParser(
        prog="python -m grader.tools.gradescope.run", description=__doc__.split("\n\n")[0],
        epilog=f"Defaults here: --run-as ${RUN_AS_ENV}, else gradescope.env's STUDENT_USER "
               f"({STUDENT_USER}; '' for none); --timeout gradescope.env's GRADING_TIMEOUT_S.")
    parser.add_argument("--root", default=os.environ.get(ROOT_ENV, DEFAULT_ROOT),
                        help=f"Gradescope's folder (default ${ROOT_ENV} or {DEFAULT_ROOT})")
    options.add(parser, options.RUN_AS, default=os.environ.get(RUN_AS_ENV))
    options.add(parser, options.GRADING_TIMEOUT, default=None)
    args = parser.parse_args(argv)

    root = Path(args.root).resolve()
    source = root / "source"
    results = root / "results" / "results.json"
    settings = read_env_file(source / ENV_FILE)
    run_as = args.run_as if args.run_as is not None else settings.get("STUDENT_USER", STUDENT_USER)
    timeout = args.timeout or float(settings.get("GRADING_TIMEOUT_S", GRADING_TIMEOUT_S))

    data_dir = root / settings.get("DATA_SUBDIR", DATA_SUBDIR)
    if os.geteuid() == 0:
        lock_down(source, results.parent, (data_dir, root / METADATA_JSON))
    results.parent.mkdir(parents=True, exist_ok=True)
    if results.exists() or results.is_symlink():
        results.unlink()

    user, note = student_user(run_as)
    print(f"cs260 autograder: {note}; time budget {timeout:.0f} s", flush=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{v: "1" for v in THREAD_VARS})
    if "CS260_DATA_DIR" not in env and (data_dir / CIFAR_FOLDER).is_dir():
        env["CS260_DATA_DIR"] = str(data_dir)
    cmd = [sys.executable, "-m", "pytest", "grader", "--submission", str(root / "submission"),
           "--results-json", str(results), "-p", "no:cacheprovider"]
    if user:
        cmd += ["--run-as", user]
    cmd += shlex.split(os.environ.get(PYTEST_ARGS_ENV, ""))
    code, elapsed, timed_out = run_in_group(cmd, source, env, timeout)
    if user:   # anything of the student user's still alive (the grader was killed): gone
        sweep(0, user_ids(user)[0])

    data = read_results(results)
    if needs_fallback(code, data):
        report.write_json_atomic(results, report.fallback_json(
            0, fallback_message(code, timed_out, timeout), elapsed))
        print(f"cs260 autograder: wrote a fallback results.json (pytest exit status {code}, "
              f"{elapsed:.0f} s)", flush=True)
    elif timed_out:
        data["output"] = time_limit_note(timeout) + str(data.get("output", ""))
        report.write_json_atomic(results, data)
    os.chmod(results, 0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main())
