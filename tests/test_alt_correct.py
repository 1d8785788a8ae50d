"""Correct submissions written differently from the solution get every point.

tests/alt_correct/vectorized: sliding_window_view + einsum, keeps float32.
tests/alt_correct/loops: loops over output positions, a hand-written im2col, and batchnorm
backward through the computation graph.
Checks that need CIFAR-10 are skipped when it is absent; every other check must pass.
"""
import concurrent.futures
from pathlib import Path

import pytest

from grading import grade, validate_results

# Every test here grades whole submissions (seconds each); they are the grader's proof, so CI runs them.
ALT = Path(__file__).parent / "alt_correct"
SUBMISSIONS = ("vectorized", "loops")


@pytest.fixture(scope="session")
def alt_results():
    with concurrent.futures.ThreadPoolExecutor(len(SUBMISSIONS)) as pool:
        return dict(zip(SUBMISSIONS, pool.map(lambda n: grade(ALT / n), SUBMISSIONS)))


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_alternative_correct_submission_gets_every_point(alt_results, name):
    result = alt_results[name]
    assert result.results is not None, f"no results.json\n{result.stdout[-3000:]}"
    validate_results(result.results)
    tests = result.results["tests"]
    assert tests
    failed = [t for t in tests if t.get("status") != "passed" and t.get("max_score", 0) > 0]
    assert not failed, "\n\n".join(f"{t['name']}: {t['score']}/{t['max_score']}\n"
                                   f"{t.get('output', '')[:1500]}" for t in failed)
    skipped = [t for t in tests if "status" not in t]
    for t in skipped:
        assert t["max_score"] == 0 and "CIFAR" in t.get("output", ""), t
    possible = sum(t["max_score"] for t in tests)
    assert result.results["score"] == pytest.approx(possible)
    if not skipped:
        assert result.results["score"] == pytest.approx(100)
