"""Every wrong submission of the catalogue (tests/mutants.py) loses points exactly where it should.

Each mutant is graded end to end (`pytest grader` in a subprocess). The selected mutants are
graded once per session, two at a time; the parametrized tests then read the results. The
one-epoch CIFAR-10 run is left out (CS260_DATA_DIR unset): every mutant is caught without it; so
is the overfit check for a mutant of a function the net does not run (tests/grading.py).
"""
import concurrent.futures

import pytest

from grader.report import INTERNAL_ERROR
from grading import grade, plain_text, skip_unaffected_training, validate_results
from mutants import CATALOGUE, build_submission

# Every test here grades whole submissions (seconds each); they are the grader's proof, so CI runs them.
PARALLEL = 2


def selected_mutants(session, module_name):
    """Names of the mutants whose tests in this module were selected (all of them by default)."""
    names = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if item.module.__name__ == module_name and callspec and "mutant" in callspec.params:
            name = callspec.params["mutant"].name
            if name not in names:
                names.append(name)
    return names


@pytest.fixture(scope="session")
def graded(request, tmp_path_factory):
    """name -> GradeResult of every selected mutant."""
    wanted = set(selected_mutants(request.session, __name__))
    todo = [m for m in CATALOGUE if m.name in wanted]

    # Folders are made here, not in the threads: tmp_path_factory is not thread-safe.
    folders = {m.name: build_submission(m, tmp_path_factory.mktemp(m.name)) for m in todo}

    changed = {m.name: {m.function} for m in todo}

    def run(name):
        return name, grade(folders[name], env={"CS260_DATA_DIR": None},
                           extra_args=skip_unaffected_training(changed[name]))

    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        return dict(pool.map(run, folders))


def matches(test, prefix):
    """True if the check `test` (a results.json entry) is about `prefix` (name or tag)."""
    return test["name"].startswith(prefix) or prefix in test.get("tags", ())


def lost(test):
    return test.get("max_score", 0) > 0 and test["score"] < test["max_score"]


def describe(tests):
    return "\n".join(f"  {t['name']}: {t['score']}/{t['max_score']}" for t in tests)


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_mutant_loses_points_where_expected(graded, mutant):
    result = graded[mutant.name]
    assert result.results is not None, f"no results.json\n{result.stdout[-3000:]}"
    validate_results(result.results)
    tests = result.results["tests"]
    internal = [t["name"] for t in tests if INTERNAL_ERROR in t.get("output", "")]
    assert not internal, f"grader errors, not catches: {internal}"
    losing = [t for t in tests if lost(t)]
    assert result.results["score"] < 100, f"{mutant.name} ({mutant.why}) got full marks"

    for prefix in mutant.loses:
        hit = [t for t in losing if matches(t, prefix)]
        assert hit, (f"{mutant.name} ({mutant.why}): no check of {prefix} lost points; "
                     f"checks of {prefix}:\n"
                     f"{describe([t for t in tests if matches(t, prefix)])}")

    allowed = mutant.may_lose()
    stray = [t for t in losing if not any(matches(t, p) for p in allowed)]
    assert not stray, (f"{mutant.name} ({mutant.why}) lost points outside {allowed}:\n"
                       f"{describe(stray)}\n\n" + "\n\n".join(t.get("output", "")[:800]
                                                           for t in stray))


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_failure_message_names_function_and_reason(graded, mutant):
    tests = graded[mutant.name].results["tests"]
    failing = [t for t in tests if lost(t) and matches(t, mutant.loses[0])]
    assert failing
    for t in failing:
        text = t["name"] + "\n" + t.get("output", "")
        assert mutant.function in text, f"{t['name']} does not name {mutant.function}:\n{text}"
        output = t.get("output", "").strip()
        assert len(output) > 20, f"{t['name']} gives no reason: {output!r}"
    if mutant.hint:
        assert any(mutant.hint.lower() in plain_text(t.get("output", "")).lower() for t in failing), (
            f"no failing check of {mutant.function} mentions {mutant.hint!r}:\n"
            + "\n---\n".join(t.get("output", "") for t in failing))
