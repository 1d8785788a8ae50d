"""Helpers for the project's tests: run a grading subprocess, check a results.json, and the
facts several tests need (distinctive solution lines, whether a user can run this Python).

`grade(path)` runs `python -m pytest grader --submission PATH --results-json TMP` from the repo
root and returns what it wrote; `validate_results(d)` checks a results.json against Gradescope's
documented format.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def distinctive_solution_lines():
    """Lines of the solution blocks that occur nowhere in the starter (30+ characters, not
    comments): an oracle for "no solution code shipped", independent of grader.tools.release's check."""
    from grader.tools import release
    starter_text = "\n".join(p.read_text() for p in (REPO / "starter" / "cs260").rglob("*.py"))
    return {line.strip() for blocks in release.solution_blocks().values()
            for block in blocks for line in block
            if len(line.strip()) >= 30 and line.strip() not in starter_text
            and not line.strip().startswith("#")}


def can_run_as(user):
    """True if `user` exists and can run this interpreter with numpy (needs root)."""
    if os.geteuid() != 0:
        return False
    try:
        proc = subprocess.run([sys.executable, "-c", "import numpy"], user=user,
                              capture_output=True, timeout=60, cwd="/")
    except (KeyError, OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


RUN_AS_USERS = ("cs260student", "nobody")   # the Gradescope account first
RUN_AS_HOW = ("`.ci/run gradescope` runs them (as root, with a Python and venv copied where "
              "that user can read them)")


def in_ci():
    """True under CI (CI=true): there a run-as test that cannot run fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def run_as_user():
    """The unprivileged user a run-as test drops student code to. When there is none that can
    run this interpreter, the test skips saying why and how to run it, or, in CI, fails: the
    privilege drop is what keeps the hidden fixtures secret on Gradescope."""
    if os.geteuid() != 0:
        why = "dropping privileges needs root"
    else:
        user = next((u for u in RUN_AS_USERS if can_run_as(u)), None)
        if user is not None:
            return user
        why = (f"no unprivileged user ({' or '.join(RUN_AS_USERS)}) can run {sys.executable} "
               "with numpy: that user must be able to read the interpreter and its packages")
    if in_ci():
        import pytest
        pytest.fail(f"CI=true: this run-as test must run, but {why}; {RUN_AS_HOW}",
                    pytrace=False)
    import pytest
    pytest.skip(f"{why}; {RUN_AS_HOW}")


def plain_text(md):
    """What a results.json output (Markdown, grader/markdown.py) says as plain text: fence lines,
    code-span backticks, bold marks and backslash escapes removed (fenced text kept verbatim),
    for tests that look for a phrase."""
    out, fenced = [], False
    for line in str(md).splitlines():
        if re.fullmatch(r"`{3,}", line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            line = re.sub(r"\\([\\`*_\[\]<>#|~])", lambda m: f"\x00{ord(m.group(1))}\x00", line)
            line = re.sub(r"(`+) ?(.+?) ?\1", r"\2", line)
            line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
            line = re.sub("\x00(\\d+)\x00", lambda m: chr(int(m.group(1))), line)
        out.append(line)
    return "\n".join(out)


@dataclass
class GradeResult:
    """What one grading run produced: the parsed results.json (None if missing or unreadable)."""
    results: dict | None
    stdout: str
    stderr: str
    returncode: int


HIDDEN_TEXT = ("Passed.", "Failed (hidden case): ", "Partly earned (hidden case): ", "Skipped, not counted.")


def split_by_visibility(tests):
    """(the tests students read now, the hidden ones). A hidden test's text is the grader's own
    (grader/report.py's hidden_output): it is checked to be that, and nothing more is asked of it."""
    shown = [t for t in tests if t["visibility"] == "visible"]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    for t in hidden:
        assert t.get("output", "").startswith(HIDDEN_TEXT), t
    return shown, hidden


# The overfit check trains ThreeLayerConvNet for 15 epochs: about two thirds of a whole grade's time
# without CIFAR-10. It runs cnn.py and the layers of NET_USES (grader/checks/test_convnet.py) only,
# so a submission whose changes are all elsewhere gets the solution's result there by construction.
# Tests that grade many such submissions leave it out (a partial run; every other check runs).
OVERFIT_CHECK = "grader/checks/test_convnet.py::test_overfit"


def net_functions():
    """The graded names the overfit check runs: ThreeLayerConvNet and the layers it calls."""
    from grader.cases import BY_ID
    from grader.checks.test_convnet import NET_USES
    names = {"ThreeLayerConvNet"}
    for case_id in NET_USES:
        case = BY_ID[case_id]
        names |= {t.rsplit(".", 1)[-1] for t in (case.function, case.backward) if t}
    return names


def skip_unaffected_training(changed):
    """pytest arguments for grading a submission that differs from the solution only in the
    functions `changed`: the overfit check is left out when it runs none of them."""
    return [] if set(changed) & net_functions() else ["--deselect", OVERFIT_CHECK]


def grade(submission_path, *, extra_args=(), env=None, timeout=900, results_path=None):
    """Grade `submission_path` in a fresh `python -m pytest grader` process (cwd: the repo root).

    env: variables added to (or, with value None, removed from) this process's environment.
    results_path: where results.json goes (default: a temporary file, removed afterwards); give one
    to look at the file yourself, e.g. one a submission pre-wrote.
    """
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        path = Path(results_path) if results_path else Path(tmp, "results.json")
        run_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = str(value)
        # "--opt=value": pytest looks for conftests before it knows these options, and would
        # take a separate value for a test path.
        cmd = [sys.executable, "-m", "pytest", "grader", f"--submission={submission_path}",
               f"--results-json={path}", "-q", "-p", "no:cacheprovider", *extra_args]
        proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True,
                              timeout=timeout)
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = None
    return GradeResult(results, proc.stdout, proc.stderr, proc.returncode)


# Gradescope's results.json format, from the autograder specification ("Output format",
# "Test case status" and "Output String Formatting"):
#   https://gradescope-autograders.readthedocs.io/en/latest/specs/
#   (source: github.com/gradescope/autograder_samples, docs/specs.md)
# Top level: score (required unless every test has one), execution_time (seconds), output,
# output_format, test_output_format, test_name_format, visibility, stdout_visibility, extra_data,
# tests (required unless a top-level score is given), leaderboard. Each test: score (required
# unless a top-level score is given), max_score, status ("passed" | "failed"), name, name_format,
# number, output, output_format, tags, visibility, extra_data. All fields are optional otherwise.
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
STATUSES = {"passed", "failed"}

TOP_FIELDS = {
    "score": "number", "execution_time": "number", "output": "str", "output_format": "format",
    "test_output_format": "format", "test_name_format": "format", "visibility": "visibility",
    "stdout_visibility": "visibility", "extra_data": "dict", "tests": "list", "leaderboard": "list",
}
TEST_FIELDS = {
    "score": "number", "max_score": "number", "status": "status", "name": "str",
    "name_format": "format", "number": "str", "output": "str", "output_format": "format",
    "tags": "tags", "visibility": "visibility", "extra_data": "dict",
}
LEADERBOARD_FIELDS = {"name": "str", "value": "number_or_str", "order": "order"}


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _type_problem(kind, value):
    """Why `value` is not of `kind`, or "" if it is."""
    allowed = {"format": FORMATS, "visibility": VISIBILITIES, "status": STATUSES,
               "order": {"asc", "desc"}}.get(kind)
    if allowed is not None:
        ok = isinstance(value, str) and value in allowed
    else:
        ok = {
            "number": _is_number(value),
            "number_or_str": _is_number(value) or isinstance(value, str),
            "str": isinstance(value, str),
            "dict": isinstance(value, dict),
            "list": isinstance(value, list),
            "tags": isinstance(value, list) and all(isinstance(t, str) for t in value),
        }[kind]
    if ok:
        return ""
    return f"{value!r} is not " + (f"one of {sorted(allowed)}" if allowed else f"a {kind}")


def _check_fields(obj, fields, where, problems):
    if not isinstance(obj, dict):
        problems.append(f"{where}: not an object")
        return False
    for key, value in obj.items():
        if key not in fields:
            problems.append(f"{where}: unknown field {key!r}")
        elif problem := _type_problem(fields[key], value):
            problems.append(f"{where}.{key}: {problem}")
    return True


def validate_results(d):
    """Raise ValueError listing every way `d` departs from Gradescope's results.json format.

    Unknown fields are rejected too (Gradescope would ignore them silently; here they are typos).
    """
    problems = []
    try:
        json.dumps(d, allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"not JSON-serialisable: {e}")
    if _check_fields(d, TOP_FIELDS, "results", problems):
        tests = d.get("tests")
        if "score" not in d and "tests" not in d:
            problems.append("results: needs a top-level score or a tests list")
        for i, test in enumerate(tests if isinstance(tests, list) else []):
            if _check_fields(test, TEST_FIELDS, f"tests[{i}]", problems):
                if "score" not in d and "score" not in test:
                    problems.append(f"tests[{i}]: needs a score when there is no top-level score")
        board = d.get("leaderboard")
        for i, entry in enumerate(board if isinstance(board, list) else []):
            if _check_fields(entry, LEADERBOARD_FIELDS, f"leaderboard[{i}]", problems):
                for key in ("name", "value"):
                    if key not in entry:
                        problems.append(f"leaderboard[{i}]: missing {key!r}")
    if problems:
        raise ValueError("invalid results.json:\n  " + "\n  ".join(problems))
