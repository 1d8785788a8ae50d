"""Hidden points stay hidden: where hidden checks ran, the text students always see (the
top-level `output` of results.json and the visible checks' outputs) states only the visible
checks' points and that hidden checks were run, and names no hidden case nor the total; the
top-level `score` is the full one. Three submissions (the solution with a wrong
conv_forward_naive on some inputs) graded end to end: failing only hidden cases, only visible
ones, and both; and one that tries to carry what it saw in a hidden case into a visible check.
"""
import concurrent.futures
import json
import re

import pytest

from grader import cases, report
from grading import grade, plain_text, validate_results
from mutants import SOLUTION, write_submission

# Appended to the solution's layers.py: conv_forward_naive wrong on 1x1 filters (only hidden
# cases have them) and/or on the notebook's input (a visible case).
WRONG_1X1 = '''
_right_1x1 = conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    out, cache = _right_1x1(x, w, b, conv_param)
    return (out + 1.0 if w.shape[2:] == (1, 1) else out), cache
'''
WRONG_NOTEBOOK = '''
_right_notebook = conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    out, cache = _right_notebook(x, w, b, conv_param)
    return (out + 1.0 if x.shape == (2, 3, 4, 4) and w.shape == (3, 3, 4, 4) else out), cache
'''
# Remembers whether it was ever given 1x1 filters (only hidden cases have them) and from then on
# raises with that news: a visible check run afterwards would show it to the student.
REMEMBERS = '''
_right_remembers = conv_forward_naive
_saw = []


def conv_forward_naive(x, w, b, conv_param):
    if _saw:
        raise ValueError("SAW_HIDDEN_1X1 earlier in this worker")
    if w.shape[2:] == (1, 1):
        _saw.append(1)
    return _right_remembers(x, w, b, conv_param)
'''
FAILING = {"only_hidden": WRONG_1X1, "only_visible": WRONG_NOTEBOOK,
           "both": WRONG_1X1 + WRONG_NOTEBOOK}
SUBMISSIONS = {**FAILING, "remembers_hidden": REMEMBERS}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    solution = (SOLUTION / "layers.py").read_text()
    folders = {name: write_submission(tmp_path_factory.mktemp(name), {"layers.py": solution + patch})
               for name, patch in SUBMISSIONS.items()}

    def run(name):
        result = grade(folders[name], env={"CS260_DATA_DIR": None})
        assert result.results is not None, result.stdout[-3000:] + result.stderr[-2000:]
        validate_results(result.results)
        return name, result

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, SUBMISSIONS))


def hidden_names():
    names = []
    for case in cases.CASES:
        if case.visibility == "hidden":
            names += [case.id, case.id.split(".", 1)[1]]
    assert names
    return names


@pytest.mark.parametrize("name", list(FAILING))
def test_always_visible_text_shows_only_visible_points(graded, name):
    result = graded[name]
    data = result.results
    tests = data["tests"]
    visible = [t for t in tests if t["visibility"] == "visible"]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    assert visible and hidden and all(t["visibility"] == "after_published" for t in hidden)
    v_earned, v_possible = sum(t["score"] for t in visible), sum(t["max_score"] for t in visible)
    h_earned, h_possible = sum(t["score"] for t in hidden), sum(t["max_score"] for t in hidden)
    # The top-level score is the full one (Gradescope hides it while hidden tests are unpublished).
    assert data["score"] == pytest.approx(v_earned + h_earned, abs=1e-3)
    if name in ("only_hidden", "both"):
        assert h_earned < h_possible
    else:
        assert h_earned == pytest.approx(h_possible)
    if name in ("only_visible", "both"):
        assert v_earned < v_possible
    else:
        assert v_earned == pytest.approx(v_possible)
    output = plain_text(data["output"])
    if output.startswith("What to fix first"):   # the failing visible functions come first
        assert "\n\nVisible checks: " in output
        output = output.split("\n\n", 1)[1]
    assert output.startswith(f"Visible checks: {v_earned:.2f} / {v_possible:.2f} points. "
                             f"{report.HIDDEN_RAN_NOTE}"), output[:400]
    always_visible = "\n".join([data["output"]] + [t["name"] + "\n" + t.get("output", "") for t in visible])
    for hidden_name in hidden_names():
        assert not re.search(rf"(?<!\w){re.escape(hidden_name)}(?!\w)", always_visible), hidden_name
    full = f"{v_possible + h_possible:.2f}"
    assert full not in always_visible, f"the full total {full} is shown"
    if h_earned < h_possible:
        assert f"{data['score']:.2f}" not in always_visible, "the total score is shown"
    # The instructor's view (the terminal table) still has the whole picture.
    assert re.search(rf"Total\s+{data['score']:.2f} /\s+{full}", result.stdout), result.stdout[-2000:]
    if name != "only_visible":
        assert "conv_forward.h_1x1" in result.stdout


def test_hidden_checks_run_after_every_visible_one(graded):
    """What student code saw of a hidden case cannot reach a visible check's output: the
    hidden checks run last. The probe's news (text its code raised while a hidden case had
    run) shows in no results.json text at all, hidden checks' included (docs/SECURITY.md,
    class 1); only the instructors' log has it."""
    result = graded["remembers_hidden"]
    tests = result.results["tests"]
    assert "SAW_HIDDEN_1X1" in result.stdout, "the probe never saw a 1x1 filter"
    assert "SAW_HIDDEN_1X1" not in json.dumps(result.results)
    told = [t for t in tests if t["visibility"] != "visible" and t["score"] < t["max_score"]]
    assert told and all(t["output"].startswith("Failed (hidden case)") for t in told), told
    assert all(t["score"] == t["max_score"] for t in tests if t["visibility"] == "visible")
