"""Hostile whole submissions, graded end to end: none gains anything and every run completes.

Each submission is the solution with one file of tests/hostile_subs/ patched into its layers.py
(tests/mutants.apply_patch: a def replaces the solution's def of that name, other statements go
after its imports, so the patches use the solution's `np`). For every one: results.json is
written and valid, the attacked functions' checks score 0, the total is no higher than that of
the same submission with the attacked functions missing, and (for attacks that stay inside one
call) every other check still passes, so the attack did not disturb the rest of the run.

Two attacks depend on the deployment rather than on the grader process: overwriting
results.json from a process that outlives the grader, and reading the fixture files. They are
run the way Gradescope runs (grader/tools/gradescope/run.py, student code as an unprivileged user);
those tests need root and a user who can run this Python, and skip otherwise (fail in CI:
tests/grading.py run_as_user).
"""
import concurrent.futures
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import config
from grader.config import GRADING_TIMEOUT_S
from grader.report import INTERNAL_ERROR
from grader.sandbox import walls
from grading import grade, run_as_user, skip_unaffected_training, validate_results
from mutants import SOLUTION, USED_BY, apply_patch, write_submission

# Every test here grades whole submissions (seconds each); they are the grader's proof, so CI runs them.
REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile_subs"
FAST_TIMEOUT = "4"  # --worker-timeout for runs that hang on purpose
ALL_LAYERS = tuple(USED_BY)


@dataclass(frozen=True)
class Hostile:
    """One hostile submission and what the grader must make of it."""
    name: str             # tests/hostile_subs/<name>.py
    attacked: tuple       # functions whose checks must score 0
    words: tuple = ()     # the attacked checks' output must contain one of these (lowercase)
    contained: bool = True  # every check outside the attacked functions and their users passes
    args: tuple = ()      # extra grader options


CASES = [
    Hostile("hang", ("conv_forward_naive",), ("did not finish",),
            args=("--worker-timeout", FAST_TIMEOUT)),
    Hostile("memory_bomb", ("max_pool_forward_naive", "conv_backward_naive"), ("memory",)),
    Hostile("exit_at_import", ALL_LAYERS + ("ThreeLayerConvNet",), ("exit", "import"),
            contained=False),
    Hostile("exit_in_function", ("relu_forward", "spatial_batchnorm_backward"), ("exit",)),
    Hostile("os_exit", ("conv_backward_naive",), ("exit", "crash", "died", "ended")),
    Hostile("segfault", ("max_pool_backward_naive",), ("segmentation", "sigsegv", "crash")),
    Hostile("keyboard_interrupt", ("softmax_loss",), ("keyboardinterrupt",)),
    Hostile("fake_output", ("spatial_groupnorm_forward", "spatial_groupnorm_backward")),
    Hostile("monkeypatch", ("conv_forward_naive", "conv_backward_naive"), contained=False),
    Hostile("lying_objects", ("conv_forward_naive", "conv_backward_naive",
                              "max_pool_forward_naive", "max_pool_backward_naive")),
    Hostile("huge_returns", ("conv_forward_naive", "max_pool_forward_naive",
                             "spatial_batchnorm_forward")),
    Hostile("protocol_forgery", ("relu_forward", "affine_forward")),
]


def matches(test, prefix):
    return test["name"].startswith(prefix) or prefix in test.get("tags", ())


def describe(tests):
    return "\n".join(f"  {t['name']}: {t['score']}/{t['max_score']}\n    "
                     + t.get("output", "")[:300].replace("\n", "\n    ") for t in tests)


def build(case, dest, **fill):
    """The solution with tests/hostile_subs/<case>.py patched in; placeholders __KEY__ filled."""
    patch = (HOSTILE / f"{case}.py").read_text()
    for key, value in fill.items():
        patch = patch.replace(f"__{key}__", str(value))
    layers = apply_patch((SOLUTION / "layers.py").read_text(), patch)
    return write_submission(dest, {"layers.py": layers})


@pytest.fixture(scope="session")
def hostile_results(tmp_path_factory):
    """name -> GradeResult for every case of CASES, graded two at a time."""
    # Folders are made here, not in the threads: tmp_path_factory is not thread-safe.
    folders = {case.name: build(case.name, tmp_path_factory.mktemp(case.name)) for case in CASES}

    def run(case):
        # An attack that stays inside its functions leaves the overfit check alone unless the net
        # runs one of them (tests/grading.py); one that reaches further is graded whole.
        skip = skip_unaffected_training(case.attacked) if case.contained else []
        return case.name, grade(folders[case.name], extra_args=(*case.args, *skip),
                                env={"CS260_DATA_DIR": None})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, CASES))


def check_gains_nothing(result, case):
    """The assertions every hostile run must pass; returns (all tests, attacked tests)."""
    assert result.results is not None, (f"no results.json (exit {result.returncode})\n"
                                        f"{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    validate_results(result.results)
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-2000:])
    tests = result.results["tests"]
    assert tests, result.results.get("output", "")[:3000]
    internal = [t["name"] for t in tests if INTERNAL_ERROR in t.get("output", "")]
    assert not internal, f"grader errors: {internal}"
    attacked = [t for t in tests if any(matches(t, f) for f in case.attacked)]
    for function in case.attacked:
        assert any(matches(t, function) for t in attacked), f"no check of {function} ran"
    gained = [t for t in attacked if t["score"] > 0]
    assert not gained, f"attacked checks scored:\n{describe(gained)}"
    # The same submission without the attack (attacked functions missing) gets at most this.
    without_attack = sum(t["max_score"] for t in tests) - sum(t["max_score"] for t in attacked)
    assert result.results["score"] <= without_attack + 1e-6
    assert result.results["score"] == pytest.approx(sum(t["score"] for t in tests), abs=1e-3)
    return tests, attacked


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_submission_gains_nothing(hostile_results, case):
    result = hostile_results[case.name]
    tests, attacked = check_gains_nothing(result, case)
    if case.words:
        failing = [t for t in attacked if t.get("max_score", 0) > 0]
        assert any(any(w in t.get("output", "").lower() for w in case.words) for t in failing), (
            f"no attacked check explains itself with {case.words}:\n{describe(failing)}")
    if case.contained:
        users = set(case.attacked)
        for function in case.attacked:
            users.update(USED_BY.get(function, ()))
        disturbed = [t for t in tests if t.get("max_score", 0) > 0 and t["score"] < t["max_score"]
                     and not any(matches(t, u) for u in users)]
        assert not disturbed, f"checks outside the attack lost points:\n{describe(disturbed)}"


def test_a_hanging_function_cannot_exhaust_the_grading_budget(hostile_results):
    """The hang run used --worker-timeout FAST_TIMEOUT; with the default per-call timeout, the
    calls that timed out would wait this long in total. That must fit in the grading budget
    next to the slowest check, or Gradescope's budget kills the run and one infinite loop costs
    the student every point."""
    tests = hostile_results["hang"].results["tests"]
    waits = [float(m) for t in tests
             for m in re.findall(r"did not finish within ([0-9.]+) s", t.get("output", ""))]
    assert waits
    default = sum(config.WORKER_TIMEOUT_S if w == float(FAST_TIMEOUT) else w for w in waits)
    room = GRADING_TIMEOUT_S - config.TRAIN_TIMEOUT_S  # what the CIFAR-10 run may leave over
    assert default < room, (
        f"{len(waits)} calls timed out; with the default timeout of {config.WORKER_TIMEOUT_S:g} s "
        f"per call they would wait {default:.0f} s, more than the {room:.0f} s of the "
        f"{GRADING_TIMEOUT_S} s budget that the CIFAR-10 run ({config.TRAIN_TIMEOUT_S:g} s) leaves")


def test_exit_at_import_scores_zero(hostile_results):
    result = hostile_results["exit_at_import"]
    assert result.results is not None
    assert result.results["score"] == 0


def test_fake_output_does_not_change_the_score(hostile_results):
    result = hostile_results["fake_output"]
    assert result.results["score"] < 100
    assert result.results["score"] == pytest.approx(
        sum(t["score"] for t in result.results["tests"]), abs=1e-3)


def _wait_for(path, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end and not path.exists():
        time.sleep(0.1)
    return path.exists()


def _uid_of(pid):
    """The real uid of a live process (None when it is gone)."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _stop_daemon(marker):
    """Kill the detached process the submission started, by the pid it reported."""
    pid_file = marker.with_name(marker.name + ".pid")
    try:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass  # never started, or already gone


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(root, user): a folder laid out like Gradescope's /autograder (source/ holding the
    grader, the fixtures and the trusted starter; submission/; results/), graded through
    grader/tools/gradescope/run.py, which locks source/ and results/ away from `user`."""
    user = run_as_user()
    root = tmp_path_factory.mktemp("autograder")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_trusted")
    for part in ("grader", "fixtures", "starter"):
        shutil.copytree(REPO / part, root / "source" / part, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root / "source")
    return root, user


def run_deployed(deployed, submission, pytest_args=""):
    """Grade `submission` (a folder) the way run_autograder does; the parsed results.json."""
    root, user = deployed
    target = root / "submission"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(submission, target)
    env = dict(os.environ, AUTOGRADER_PYTEST_ARGS=pytest_args)
    env.pop("CS260_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "grader.tools.gradescope.run", "--root", str(root),
                           "--run-as", user], cwd=root / "source", env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"runs as {user}" in proc.stdout, proc.stdout[-2000:]
    path = root / "results" / "results.json"
    return json.loads(path.read_text()), path


@pytest.fixture
def drop_dir():
    """A folder any user may write to (the student code's report goes there)."""
    path = Path(tempfile.mkdtemp(prefix="cs260-hostile-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _results_of(data, where):
    assert data is not None, f"no results.json from {where}"
    validate_results(data)
    return data


def test_results_file_written_during_the_run_is_replaced(tmp_path, drop_dir):
    """Same user (a local run): the submission overwrites results.json at import and during a
    call; the grader's own file replaces the forgery at the end."""
    out = tmp_path / "out"
    out.mkdir()
    results = out / "results.json"
    folder = build("write_results", tmp_path / "sub", RESULTS_GUESS=results,
                   MARKER=drop_dir / "daemon.txt", DAEMON="")
    result = grade(folder, extra_args=["--worker-timeout", FAST_TIMEOUT], results_path=results,
                   env={"CS260_DATA_DIR": None})
    check_gains_nothing(result, Hostile("write_results", ("conv_forward_naive",)))
    assert result.results["score"] < 100


@pytest.mark.run_as
def test_results_file_cannot_be_overwritten_when_deployed(deployed, tmp_path, drop_dir):
    """As deployed (student code as an unprivileged user): the submission overwrites
    results.json at import, during a call and from a detached process that waits for the
    grader to exit; the file still holds the grader's real result afterwards."""
    root, _ = deployed
    results = root / "results" / "results.json"
    marker = drop_dir / "daemon.txt"
    folder = build("write_results", tmp_path / "sub", RESULTS_GUESS=results, MARKER=marker,
                   DAEMON="1")
    try:
        data, path = run_deployed(deployed, folder, f"--worker-timeout {FAST_TIMEOUT}")
        tests = _results_of(data, "the deployed run")["tests"]
        attacked = [t for t in tests if matches(t, "conv_forward_naive")]
        assert attacked and all(t["score"] == 0 for t in attacked)
        assert any("forked detached process" in t.get("output", "") for t in attacked), \
            "the detached process was never started, so this test proves nothing"
        # It cannot outlive the worker (docs/SECURITY.md): nothing of the student user is left,
        # and it never wrote anything (its report would be in the marker).
        uid = pwd.getpwnam(deployed[1]).pw_uid
        time.sleep(1)
        left = [p for p in os.listdir("/proc") if p.isdigit() and _uid_of(p) == uid]
        assert not left, f"processes of the student user outlived the grading: {left}"
        assert not marker.exists() or "could not write" in marker.read_text()
        assert json.loads(path.read_text()) == data, "results.json changed after grading"
    finally:
        _stop_daemon(marker)


@pytest.mark.run_as
def test_fixture_lookup_gains_nothing_on_hidden_cases(deployed, tmp_path, drop_dir):
    """A submission that returns the stored answer of any fixture whose inputs match. Run
    locally (same user) it reads the fixtures, and gains nothing anyway: the checks also call
    it on transformed inputs that no fixture holds. As deployed, it cannot even read them."""
    root, _ = deployed
    hidden = "(hidden cases)"
    attacked = ("conv_forward_naive", "conv_backward_naive")
    runs = {}
    for where in ("local", "deployed"):
        report = drop_dir / f"{where}.txt"
        folder = build("fixture_lookup", tmp_path / where, FIXTURES_GUESS=root / "source" / "fixtures",
                       REPORT=report)
        if where == "local":
            data = grade(folder, env={"CS260_DATA_DIR": None}).results
        else:
            data, _ = run_deployed(deployed, folder)
        tests = _results_of(data, f"the {where} run")["tests"]
        looked_up = [t for t in tests if any(matches(t, f) for f in attacked) and hidden in t["name"]]
        assert looked_up
        gained = [t for t in looked_up if t["score"] > 0]
        assert not gained, f"{where}: hidden cases answered from the fixtures:\n{describe(gained)}"
        found = {int(m) for t in tests for m in re.findall(r"FOUND (\d+) fixtures", t.get("output", ""))}
        assert found, f"{where}: the lookup never ran"
        runs[where] = sorted(found)
    # Locally (same user) only Landlock keeps the fixtures out of reach; where the kernel has
    # it, the lookup finds nothing there either (docs/SECURITY.md).
    if walls.probe()["LANDLOCK_FS"]:
        assert runs["local"] == [0], f"local: student code read fixtures ({runs})"
    else:
        assert max(runs["local"]) > 0, "the local run found no fixtures to look up"
    assert runs["deployed"] == [0], f"deployed: the student user read fixtures ({runs})"
