"""Hostile whole submissions, graded end to end: none gains anything and every run completes.

Each submission is the solution with the functions of one file in tests/hostile_subs/
replaced (tests/mutants.apply_patch). For every one: results.json is written and valid, the
attacked functions' checks score 0, the total is no higher than that of the same submission
with the attacked functions missing, and (for attacks that stay inside one call) every other
check still passes, so the attack did not disturb the rest of the run.
"""
import concurrent.futures
import json
import os
import pwd
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grading import grade, validate_results
from mutants import SOLUTION, USED_BY, apply_patch, write_submission

HOSTILE = Path(__file__).parent / "hostile_subs"
FAST_TIMEOUT = "4"  # --worker-timeout for runs that hang on purpose
ALL_LAYERS = tuple(USED_BY)


@dataclass(frozen=True)
class Hostile:
    name: str             # tests/hostile_subs/<name>.py
    attacked: tuple       # functions whose checks must score 0
    words: tuple = ()     # the attacked checks' output must contain one of these (lowercase)
    contained: bool = True  # every check outside the attacked functions and their users passes
    args: tuple = ()      # extra grader options


CASES = [
    Hostile("hang", ("conv_forward_naive",), ("time",), args=("--worker-timeout", FAST_TIMEOUT)),
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


def unprivileged_user():
    """An existing unprivileged account for --run-as, or None."""
    for name in ("cs260student", "nobody"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    return None


@pytest.fixture(scope="session")
def hostile_results(tmp_path_factory):
    """name -> GradeResult for every case of CASES, graded two at a time."""
    def run(case):
        folder = build(case.name, tmp_path_factory.mktemp(case.name))
        return case.name, grade(folder, extra_args=case.args)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, CASES))


def check_gains_nothing(result, case):
    """The shared assertions; returns the parsed tests."""
    assert result.results is not None, (f"no results.json (exit {result.returncode})\n"
                                        f"{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    validate_results(result.results)
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-2000:])
    tests = result.results["tests"]
    assert tests, result.results.get("output", "")[:3000]
    attacked = [t for t in tests if any(matches(t, f) for f in case.attacked)]
    for function in case.attacked:
        assert any(matches(t, function) for t in attacked), f"no check of {function} ran"
    gained = [t for t in attacked if t["score"] > 0]
    assert not gained, f"attacked checks scored:\n{describe(gained)}"
    at_stake = sum(t["max_score"] for t in attacked)
    assert result.results["score"] <= 100 - at_stake + 1e-6
    assert result.results["score"] == pytest.approx(sum(t["score"] for t in tests), abs=1e-3)
    return tests, attacked


@pytest.mark.slow
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


def _stop_daemon(marker_text):
    """Kill the detached process the submission started, by the pid it reported."""
    for word in marker_text.split():
        if word.isdigit():
            try:
                os.kill(int(word), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return


@pytest.mark.slow
@pytest.mark.parametrize("run_as", [False, True], ids=["same_user", "run_as"])
def test_results_file_cannot_be_overwritten(tmp_path, run_as):
    """The submission overwrites results.json at import, during a call, and from a detached
    process after the grader exits; the file must still hold the grader's real result."""
    args = ["--worker-timeout", FAST_TIMEOUT]
    if run_as:
        user = unprivileged_user()
        if os.geteuid() != 0 or user is None:
            pytest.skip("--run-as needs root and an unprivileged user (cs260student or nobody)")
        args += ["--run-as", user]
        os.chmod(tmp_path, 0o755)  # the student may traverse it, not write it
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    results = out / "results.json"
    marker = tmp_path / "daemon.txt"
    if run_as:
        os.chmod(tmp_path, 0o777)  # only so the marker can report that the daemon ran
    folder = build("write_results", tmp_path / "sub", RESULTS_GUESS=results, MARKER=marker)
    case = Hostile("write_results", ("conv_forward_naive",))
    result = grade(folder, extra_args=args, results_path=results)
    try:
        check_gains_nothing(result, case)
        ran = _wait_for(marker, 20)
        after = json.loads(results.read_text())
        validate_results(after)
        assert after == result.results, (
            "results.json changed after the grader exited:\n"
            f"{json.dumps(after)[:500]}\n(daemon: {marker.read_text() if ran else 'no report'})")
    finally:
        if marker.exists():
            _stop_daemon(marker.read_text())
