"""The results.json validator (tests/grading.py) accepts Gradescope's format and rejects departures."""
import copy

import pytest

from grading import validate_results

# Every field the specification documents, with allowed values.
FULL = {
    "score": 44.0,
    "execution_time": 136,
    "output": "Text relevant to the entire submission",
    "output_format": "simple_format",
    "test_output_format": "text",
    "test_name_format": "text",
    "visibility": "after_due_date",
    "stdout_visibility": "visible",
    "extra_data": {},
    "tests": [
        {
            "score": 2.0,
            "max_score": 2.0,
            "status": "passed",
            "name": "Your name here",
            "name_format": "text",
            "number": "1.1",
            "output": "Giant multiline string",
            "output_format": "md",
            "tags": ["tag1", "tag2"],
            "visibility": "visible",
            "extra_data": {"k": 1},
        },
        {"name": "Compilation check", "status": "failed"},
    ],
    "leaderboard": [
        {"name": "Accuracy", "value": 0.926},
        {"name": "Time", "value": 15.1, "order": "asc"},
        {"name": "Stars", "value": "*****"},
    ],
}


@pytest.mark.parametrize("good", [
    FULL,
    {"score": 0},
    {"tests": [{"score": 1, "max_score": 1}]},
    {"score": 3.5, "tests": []},
], ids=["every-field", "score-only", "tests-only", "empty-tests"])
def test_accepts_documented_files(good):
    validate_results(good)


def _with(path, value):
    """A copy of FULL with the field at `path` (keys / list indices) set to `value`."""
    d = copy.deepcopy(FULL)
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize("bad, expected", [
    (_with(("score",), "44"), r"results\.score"),
    (_with(("score",), True), r"results\.score"),
    (_with(("score",), float("nan")), "serialisable"),
    (_with(("execution_time",), "2s"), "execution_time"),
    (_with(("output",), ["a"]), r"results\.output"),
    (_with(("output_format",), "markdown"), "output_format"),
    (_with(("visibility",), "public"), r"results\.visibility"),
    (_with(("stdout_visibility",), "shown"), "stdout_visibility"),
    (_with(("extra_data",), []), "extra_data"),
    (_with(("tests",), {"a": 1}), r"results\.tests"),
    (_with(("colour",), "red"), "unknown field 'colour'"),
    (_with(("tests", 0, "status"), "ok"), r"tests\[0\]\.status"),
    (_with(("tests", 0, "score"), None), r"tests\[0\]\.score"),
    (_with(("tests", 0, "max_score"), "2"), r"tests\[0\]\.max_score"),
    (_with(("tests", 0, "number"), 1.1), r"tests\[0\]\.number"),
    (_with(("tests", 0, "tags"), "tag1"), r"tests\[0\]\.tags"),
    (_with(("tests", 0, "tags"), ["a", 2]), r"tests\[0\]\.tags"),
    (_with(("tests", 0, "name_format"), "rst"), r"tests\[0\]\.name_format"),
    (_with(("tests", 0, "visibility"), "never"), r"tests\[0\]\.visibility"),
    (_with(("tests", 0, "weight"), 1), "unknown field 'weight'"),
    (_with(("tests", 1), "a test"), r"tests\[1\]: not an object"),
    (_with(("leaderboard", 1, "order"), "up"), r"leaderboard\[1\]\.order"),
    (_with(("leaderboard", 0), {"name": "x"}), r"leaderboard\[0\]: missing 'value'"),
    ({"output": "no score anywhere"}, "top-level score or a tests list"),
    ({"tests": [{"name": "t"}]}, r"tests\[0\]: needs a score"),
    ([], "not an object"),
])
def test_rejects(bad, expected):
    with pytest.raises(ValueError, match=expected):
        validate_results(bad)


def test_lists_every_problem():
    bad = _with(("score",), "x")
    bad["tests"][0]["status"] = "ok"
    with pytest.raises(ValueError) as e:
        validate_results(bad)
    assert "results.score" in str(e.value) and "tests[0].status" in str(e.value)
