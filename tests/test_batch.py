"""grade-all: a folder of submissions (as Gradescope exports them) graded in parallel into
results.json files and a CSV gradebook; resumable; broken and hostile submissions don't stop it.
"""
import csv
import io
import signal
import zipfile
from pathlib import Path

import pytest

from grader.tools import batch
from grading import validate_results

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"
STARTER = REPO / "starter" / "cs260"
QUICK = ["-k", "prereq"]   # the batch machinery is under test, not the checks

METADATA = """\
submission_101:
  :submitters:
  - :name: Alice Example
    :sid: '1001'
    :email: alice@example.edu
  :created_at: 2024-01-01 10:00:00.000000000 -08:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Bob Example
    :sid: '1002'
    :email: bob@example.edu
  - :name: Bea Partner
    :sid: '1003'
    :email: bea@example.edu
"""


def solution_files():
    return {"layers.py": (SOLUTION / "layers.py").read_text(),
            "cnn.py": (SOLUTION / "classifiers" / "cnn.py").read_text()}


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """An export (inside one top folder, like the unzipped download) graded with --jobs 2."""
    top = tmp_path_factory.mktemp("export")
    export = top / "assignment_7_export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text(METADATA)
    write(export / "submission_101", solution_files())                     # full marks
    with zipfile.ZipFile(export / "submission_102.zip", "w") as zf:       # the untouched starter
        for p in STARTER.rglob("*.py"):
            zf.write(p, "cs260/" + p.relative_to(STARTER).as_posix())
    (export / "submission_103").mkdir()                                   # empty
    hostile = solution_files()
    hostile["layers.py"] = "import os\nos._exit(0)\n" + hostile["layers.py"]
    write(export / "submission_104", hostile)                             # exits at import
    out = top / "graded"
    log = io.StringIO()
    errors = batch.grade_all(top, out, jobs=2, pytest_args=QUICK, timeout=600, stream=log)
    return export, out, errors, log.getvalue()


def read_book(out):
    with open(out / batch.GRADEBOOK, newline="") as f:
        return list(csv.DictReader(f))


def test_every_submission_graded(graded):
    export, out, errors, log = graded
    assert errors == {s: "graded" for s in ("submission_101", "submission_102", "submission_103",
                                            "submission_104")}
    for student in errors:
        results = batch.read_results(out / student / batch.RESULTS)
        validate_results(results)
        assert results["tests"]
        assert (out / student / batch.LOG).stat().st_size > 0
        assert batch.read_status(out / student) == "graded"
    assert "4/4" in log and "gradebook" in log


def test_gradebook(graded):
    export, out, errors, log = graded
    rows = {r["student"]: r for r in read_book(out)}
    assert sorted(rows) == sorted(errors)
    full = rows["submission_101"]
    assert full["name"] == "Alice Example" and full["email"] == "alice@example.edu"
    assert full["sid"] == "1001"
    assert rows["submission_102"]["name"] == "Bob Example; Bea Partner"
    assert float(full["total"]) == float(full["max_score"]) > 0
    for student in ("submission_102", "submission_103", "submission_104"):
        assert float(rows[student]["total"]) == 0, student
        assert rows[student]["status"] == "graded"
    # one column per check, named like results.json's tests, holding that test's score
    results = batch.read_results(out / "submission_101" / batch.RESULTS)
    header = list(full)
    checks = header[header.index("status") + 1:]
    assert checks and set(checks) == {t["name"] for t in results["tests"]}
    for t in results["tests"]:
        assert float(full[t["name"]]) == pytest.approx(t["score"])
    assert sum(float(full[c]) for c in checks) == pytest.approx(float(full["total"]))


def test_resume_skips_graded(graded, tmp_path):
    export, out, errors, log = graded
    stamps = {s: (out / s / batch.RESULTS).stat().st_mtime_ns for s in errors}
    log2 = io.StringIO()
    again = batch.grade_all(export, out, jobs=2, pytest_args=QUICK, stream=log2)
    assert again == {}
    assert "4 already graded" in log2.getvalue()
    assert stamps == {s: (out / s / batch.RESULTS).stat().st_mtime_ns for s in errors}
    assert len(read_book(out)) == 4


def test_time_limit_then_retry_and_force(tmp_path):
    export = tmp_path / "subs"
    slow = solution_files()
    slow["layers.py"] = "import time\ntime.sleep(120)\n" + slow["layers.py"]
    write(export / "slowpoke", slow)
    out = tmp_path / "out"
    statuses = batch.grade_all(export, out, jobs=1, pytest_args=QUICK, timeout=5,
                               stream=io.StringIO())
    # stopped in its first check: nothing was scored, so it is not graded (and retried later)
    assert statuses["slowpoke"].startswith("error: grading did not finish within 5 s")
    results = batch.read_results(out / "slowpoke" / batch.RESULTS)
    validate_results(results)
    assert results["score"] == 0 and "Not graded" in results["output"]
    assert read_book(out)[0]["status"].startswith("error: grading did not finish")

    # fixed, and graded on the next run (a failed one is not "already graded")
    write(export / "slowpoke", solution_files())
    assert batch.grade_all(export, out, jobs=1, pytest_args=QUICK, stream=io.StringIO()) == {
        "slowpoke": "graded"}
    before = (out / "slowpoke" / batch.RESULTS).stat().st_mtime_ns
    assert batch.grade_all(export, out, jobs=1, pytest_args=QUICK, stream=io.StringIO()) == {}
    assert batch.grade_all(export, out, jobs=1, force=True, pytest_args=QUICK,
                           stream=io.StringIO()) == {"slowpoke": "graded"}
    assert (out / "slowpoke" / batch.RESULTS).stat().st_mtime_ns != before
    row = read_book(out)[0]
    assert float(row["total"]) == float(row["max_score"]) > 0 and row["status"] == "graded"


def test_time_limit_keeps_the_checks_that_ran(tmp_path):
    """A function that never returns: at the limit the run is stopped and scored on what ran.

    Run as from a background job in a shell script (`grade-all ... &`), which starts its
    children with SIGINT ignored: the stop signal must still reach the grader."""
    export = tmp_path / "subs"
    files = solution_files()
    files["layers.py"] += "\n\ndef batchnorm_backward(dout, cache):\n    while True:\n        pass\n"
    write(export / "looper", files)
    out = tmp_path / "out"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the grading process
    try:
        statuses = batch.grade_all(export, out, jobs=1, timeout=12, stream=io.StringIO(),
                                   pytest_args=["-k", "prereq", "--worker-timeout", "600"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert statuses["looper"].startswith("partial: stopped at the 12 s limit")
    results = batch.read_results(out / "looper" / batch.RESULTS)
    validate_results(results)
    assert results["score"] > 0   # the checks before batchnorm_backward passed
    assert batch.is_done(out / "looper")


def test_find_submissions(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / batch.METADATA).write_text("")
    assert sorted(batch.find_submissions(tmp_path)) == ["a", "b"]
    assert sorted(batch.find_submissions(tmp_path, exclude=tmp_path / "a")) == ["b"]
    # the unzipped export: one top folder holding the metadata and the submissions
    top = tmp_path / "unzipped"
    (top / "assignment_1_export" / "submission_9").mkdir(parents=True)
    (top / "assignment_1_export" / batch.METADATA).write_text("")
    assert list(batch.find_submissions(top)) == ["submission_9"]
    # a folder with a single submission is that submission's folder's parent, not descended
    single = tmp_path / "single"
    (single / "only_one").mkdir(parents=True)
    assert list(batch.find_submissions(single)) == ["only_one"]


def test_progress_bar_text():
    stream = io.StringIO()
    bar = batch.Progress(3, stream)
    bar.update("x", "graded")
    bar.update("y", "error: boom")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[" + "#" * (batch.BAR_WIDTH // 3)) and "1/3" in lines[0]
    assert "2/3" in lines[1] and "not graded 1" in lines[1] and "y: error: boom" in lines[1]


def test_as_root_without_run_as_warns_or_uses_the_student_account(monkeypatch):
    import io
    import pwd as pwd_module
    from grader.tools import batch
    from grader.config import STUDENT_USER
    root_entry = pwd_module.getpwnam("root")
    monkeypatch.setattr(batch.os, "geteuid", lambda: 0)
    assert batch._default_run_as("someone") == "someone"

    def no_such_user(name):
        raise KeyError(name)
    monkeypatch.setattr(batch.pwd, "getpwnam", no_such_user)
    stream = io.StringIO()
    assert batch._default_run_as(None, stream) is None
    assert "WARNING" in stream.getvalue() and "--run-as" in stream.getvalue()
    monkeypatch.setattr(batch.pwd, "getpwnam", lambda name: root_entry)
    assert batch._default_run_as(None) == STUDENT_USER
