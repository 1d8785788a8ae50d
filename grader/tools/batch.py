"""Grade a whole folder of submissions (`python -m grader grade-all DIR --out OUTDIR`).

DIR holds one submission per student: a subfolder or a .zip each, as Gradescope's "Export
Submissions" delivers them (submission_<id>/ folders next to submission_metadata.yml, whose
names and emails go into the gradebook). Every submission is graded by its own
`python -m pytest grader` process, with a wall-clock limit, several at a time (--jobs). For each
student OUTDIR/<student>/ gets results.json, log.txt and status.txt; OUTDIR/gradebook.csv has
one row per student and one column per check. Submissions already graded are skipped unless
--force. At the time limit a run is stopped and scored on the checks that ran ("partial"); one
that leaves no results (a crash) gets a zero results.json and an "error:" status and is retried
on the next run. The batch always goes on.
"""
import csv
import os
import pwd
import queue
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import options, report
from grader.tools.metadata import METADATA, read_metadata
from grader.config import BATCH_UID_BASE, GRADING_TIMEOUT_S
from grader.sandbox.client import sweep
# THREAD_VARS: the grading process itself gets one BLAS thread (parallelism comes from --jobs).
from grader.tools.gradescope.run import THREAD_VARS, needs_fallback, read_results, run_in_group

from grader import config  # noqa: E402

REPO = config.REPO
GRADEBOOK = "gradebook.csv"
RESULTS = "results.json"
LOG = "log.txt"
STATUS = "status.txt"
REPORT_DIR = "report"     # OUTDIR/report/index.html: the class report (grade-all --report)
ERROR = "error:"          # status lines of submissions that were not graded start with this
BAR_WIDTH = 30


def find_submissions(folder, exclude=None):
    """{student key: path} of the submissions in folder (subfolders and .zip files).

    The unzipped export's top folder (the one subfolder, holding submission_metadata.yml) is
    looked into; `exclude` (the output folder, if it is inside) is left out.
    """
    folder = Path(folder)
    skip = Path(exclude).resolve() if exclude else None
    entries = [p for p in sorted(folder.iterdir())
               if not p.name.startswith((".", "__")) and p.resolve() != skip]
    subdirs = [p for p in entries if p.is_dir()]
    if (not (folder / METADATA).exists() and len(subdirs) == 1
            and (subdirs[0] / METADATA).exists()):
        return find_submissions(subdirs[0], exclude)
    found = {}
    for p in entries:
        if p.is_dir():
            found[p.name] = p
        elif p.suffix.lower() == ".zip":
            found[p.stem] = p
    return found


def read_status(student_dir):
    """The status line a previous run left ("" if none)."""
    try:
        return (Path(student_dir) / STATUS).read_text().strip()
    except OSError:
        return ""


def is_done(student_dir):
    """True if a previous run graded this submission (results.json, status not an error)."""
    status = read_status(student_dir)
    return (student_dir / RESULTS).is_file() and bool(status) and not status.startswith(ERROR)


def grade_one(path, student_dir, timeout, pytest_args=(), run_as=None):
    """Grade one submission into student_dir; returns its status line: "graded",
    "partial: ..." (stopped at the time limit, the checks that ran are scored) or
    "error: ..." (no usable results: a zero results.json is written instead)."""
    student_dir.mkdir(parents=True, exist_ok=True)
    results = student_dir / RESULTS
    for old in (results, student_dir / STATUS):
        if old.exists():
            old.unlink()
    cmd = [sys.executable, "-m", "pytest", "grader", "--submission", str(Path(path).resolve()),
           "--results-json", str(results.resolve()), "-p", "no:cacheprovider", *pytest_args]
    if run_as:
        cmd += ["--run-as", run_as]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{v: "1" for v in THREAD_VARS})
    with open(student_dir / LOG, "wb") as log:
        code, elapsed, timed_out = run_in_group(cmd, REPO, env, timeout, stdout=log)
    if needs_fallback(code, read_results(results)):
        why = (f"grading did not finish within {timeout:.0f} s" if timed_out
               else f"pytest exited with status {code} without results")
        report.write_json_atomic(results, report.fallback_json(0, f"Not graded: {why}.", elapsed))
        status = f"{ERROR} {why}; see {LOG}"
    elif timed_out:
        status = f"partial: stopped at the {timeout:.0f} s limit; checks not run score 0"
    else:
        status = "graded"
    (student_dir / STATUS).write_text(status + "\n")
    return status


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def write_gradebook(out_dir, students, metadata):
    """OUTDIR/gradebook.csv from the results.json of `students`: identity columns, total,
    max, then one column per check (by test name, in the checks' number order)."""
    loaded = {}
    for student in students:
        data = read_results(Path(out_dir) / student / RESULTS)
        if data is not None:
            loaded[student] = data
    numbers = {}
    for data in loaded.values():
        for t in data.get("tests", []):
            numbers.setdefault(t.get("name", ""), t.get("number", ""))
    checks = sorted(numbers, key=lambda name: (_natural(numbers[name]), name))
    with_meta = any(metadata.get(s) for s in students)
    header = ["student"] + (["name", "email", "sid"] if with_meta else []) + ["total", "max_score",
                                                                            "status"] + checks
    path = Path(out_dir) / GRADEBOOK
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for student in sorted(students):
            data = loaded.get(student)
            row = [student]
            if with_meta:
                meta = metadata.get(student, {})
                row += [meta.get("name", ""), meta.get("email", ""), meta.get("sid", "")]
            if data is None:
                writer.writerow(row + ["", "", "not graded"] + [""] * len(checks))
                continue
            tests = {t.get("name", ""): t for t in data.get("tests", [])}
            status = read_status(Path(out_dir) / student) or "graded"
            max_score = sum(t.get("max_score", 0) for t in tests.values())
            row += [_num(data.get("score", sum(t.get("score", 0) for t in tests.values()))),
                    _num(max_score), status]
            row += [_num(tests[c].get("score", "")) if c in tests else "" for c in checks]
            writer.writerow(row)
    os.replace(tmp, path)
    return path


def _num(x):
    return f"{x:g}" if isinstance(x, (int, float)) else x


class Progress:
    """A one-line text progress bar on stderr (a line per update when it is not a terminal)."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.done = self.failed = 0
        self.start = time.monotonic()
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def update(self, student, status):
        """Count one finished submission and redraw the bar (a line per update off a terminal)."""
        with self.lock:
            self.done += 1
            self.failed += status.startswith(ERROR)
            filled = BAR_WIDTH * self.done // max(self.total, 1)
            elapsed = int(time.monotonic() - self.start)
            line = (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.done}/{self.total}"
                    f"  not graded {self.failed}  {elapsed // 60}:{elapsed % 60:02d}")
            if self.tty:
                self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
                if status != "graded":
                    self.stream.write(f"\r{student}: {status}\n")
            else:
                note = "" if status == "graded" else f": {status}"
                self.stream.write(f"{line}  {student}{note}\n")
            self.stream.flush()


class _Slots:
    """The job slots of a batch. With a run-as user (as root), slot k runs student code as a uid
    of its own, config.BATCH_UID_BASE + k, so a submission can neither signal nor read another
    one's processes and files, and every process of that uid is killed after each submission."""

    def __init__(self, n, run_as):
        self.run_as = run_as if (run_as and hasattr(os, "geteuid") and os.geteuid() == 0) else None
        self.free = queue.Queue()
        for k in range(n):
            self.free.put(k)
        if self.run_as:
            taken = [u for u in range(BATCH_UID_BASE, BATCH_UID_BASE + n) if _uid_exists(pwd, u)]
            if taken:
                raise RuntimeError(f"uids {taken} belong to accounts; grade-all needs "
                                   f"{BATCH_UID_BASE}-{BATCH_UID_BASE + n - 1} free "
                                   "(config.BATCH_UID_BASE)")

    def grade(self, path, student_dir, timeout, pytest_args):
        """grade_one in a free slot, as that slot's uid; its leftovers killed afterwards."""
        slot = self.free.get()
        try:
            if not self.run_as:
                return grade_one(path, student_dir, timeout, pytest_args, None)
            uid = BATCH_UID_BASE + slot
            try:
                return grade_one(path, student_dir, timeout, pytest_args, str(uid))
            finally:
                sweep(0, uid)
        finally:
            self.free.put(slot)


def _uid_exists(pwd, uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def grade_all(folder, out_dir, jobs=None, force=False, timeout=GRADING_TIMEOUT_S,
              pytest_args=(), run_as=None, stream=sys.stderr):
    """Grade every submission of folder into out_dir; returns {student: status} for the ones
    graded now (see grade_one)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    submissions = find_submissions(folder, exclude=out_dir)
    metadata = read_metadata(folder)
    todo = {s: p for s, p in submissions.items() if force or not is_done(out_dir / s)}
    skipped = len(submissions) - len(todo)
    stream.write(f"{len(submissions)} submissions in {folder}: grading {len(todo)}"
                 f"{f', {skipped} already graded (--force to redo)' if skipped else ''}\n")
    statuses = {}
    if todo:
        progress = Progress(len(todo), stream)
        n_jobs = max(1, jobs or os.cpu_count() or 1)
        slots = _Slots(n_jobs, run_as)
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(slots.grade, path, out_dir / s, timeout, pytest_args): s
                       for s, path in todo.items()}
            for future in as_completed(futures):
                student = futures[future]
                try:
                    statuses[student] = future.result()
                except Exception as e:  # a problem of this run (disk full...), not of the batch
                    statuses[student] = f"{ERROR} {type(e).__name__}: {e}"
                progress.update(student, statuses[student])
    book = write_gradebook(out_dir, list(submissions), metadata)
    failed = sorted(s for s, status in statuses.items() if status.startswith(ERROR))
    stream.write(f"gradebook: {book}" + (f"; not graded (rerun to retry): {', '.join(failed)}"
                                         if failed else "") + "\n")
    return statuses


def add_arguments(parser):
    """The options of grade-all (shared ones from grader/options.py)."""
    parser.add_argument("folder", metavar="DIR",
                        help="one subfolder or .zip per submission (an unzipped Gradescope export)")
    parser.add_argument("--out", required=True, metavar="OUTDIR",
                        help="where results.json per student and gradebook.csv go")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="submissions graded at the same time (default: the number of CPUs)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    options.add(parser, options.GRADING_TIMEOUT)
    options.add(parser, options.RUN_AS)
    parser.add_argument("--report", action="store_true",
                        help="also write the class report to OUTDIR/report/index.html "
                             "(python -m grader report; needs the report extra, matplotlib)")
    parser.add_argument("--pytest-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for each pytest run (repeatable), e.g. "
                             "--pytest-arg=-k --pytest-arg=conv")


def _default_run_as(run_as, stream=sys.stderr):
    """As root, student code must not run as root: a submission could rewrite other students'
    results under OUTDIR. Use the Gradescope student account when it exists, else warn."""
    if run_as is not None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return run_as
    from grader.config import STUDENT_USER
    try:
        pwd.getpwnam(STUDENT_USER)
        return STUDENT_USER
    except KeyError:
        print(f"WARNING: running as root without --run-as: student code runs as root and could "
              f"tamper with other results in the output folder; create an unprivileged user "
              f"(e.g. `useradd -M {STUDENT_USER}`) and pass --run-as", file=stream)
        return None


def run(args):
    """`grade-all`: grade the folder (and write the class report if asked); the exit status."""
    statuses = grade_all(args.folder, args.out, args.jobs, args.force, args.timeout,
                         args.pytest_arg, _default_run_as(args.run_as))
    code = 1 if any(s.startswith(ERROR) for s in statuses.values()) else 0
    if getattr(args, "report", False):
        from grader.tools import classreport
        try:
            page = classreport.write_report([args.out], Path(args.out) / REPORT_DIR)
            print(f"class report: {page}")
        except classreport.MissingMatplotlib as e:
            print(f"class report not written: {e}")
            code = code or 2
    return code
