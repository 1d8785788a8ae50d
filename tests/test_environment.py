"""One grading environment: grader/pins.txt is what every install path uses; a numpy other than
Gradescope's is named at the top of the output; numpy deprecations in student code are named in
the feedback without costing points (grader/environment.py, grader/feedback/numpy_notes.py)."""
import re
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import drift
from grader import environment
from grader.feedback import numpy_notes
from grader.tools import release
from grading import grade, plain_text

REPO = Path(__file__).resolve().parents[1]
PINNED = environment.gradescope_numpy()
ON_THE_PIN = np.__version__ == PINNED


def normalized(line):
    from packaging.requirements import Requirement
    return str(Requirement(line)).lower()


def test_numpy_pin_covers_gradescope_and_the_pythons_with_wheels():
    """One numpy for Gradescope's 3.10 and every Python that has a wheel of it (3.10-3.13)."""
    assert PINNED == "2.2.6"
    for python in ("3.10", "3.11", "3.12", "3.13"):
        assert environment.pinned_version("numpy", python=python) == PINNED
    assert environment.pinned_version("numpy", python="3.14") is None  # no wheel: newest numpy


def test_pyproject_builds_against_the_pins():
    """The build requirements of pyproject.toml name the same numpy and Cython as pins.txt."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = [normalized(line) for line in environment.pin_lines()]
    built = [normalized(line) for line in requires
             if line.lower().startswith(("numpy", "cython"))]
    assert built and all(line in pins for line in built)
    assert sorted(built) == sorted(p for p in pins if p.lower().startswith(("numpy", "cython")))


def test_pip_install_e_requires_exactly_the_pins():
    """`pip install -e .` (setup.py) asks for every line of pins.txt, as written there."""
    required = {normalized(r) for r in metadata.requires("cs260-autograder") or []}
    assert {normalized(line) for line in environment.pin_lines()} <= required


def test_release_and_gradescope_zip_install_from_pins_txt():
    """The student release's requirements.txt includes grader/pins.txt, which the bundle ships;
    Gradescope's setup.sh installs grader/pins.txt, which its zip ships."""
    assert "-r grader/pins.txt" in release.REQUIREMENTS.splitlines()
    assert "grader/pins.txt" in release.bundle_entries()
    from grader.tools.gradescope import build
    assert "grader/pins.txt" in build.zip_entries()
    setup_sh = (REPO / "grader" / "tools" / "gradescope" / "setup.sh").read_text()
    assert "-r grader/pins.txt" in setup_sh
    assert not re.search(r"numpy\s*[=<>]=", setup_sh + release.README)  # no second pin


def test_mismatch_note():
    assert environment.mismatch_note(PINNED) == ""
    note = environment.mismatch_note("2.4.6")
    assert "numpy 2.4.6" in note and f"numpy {PINNED}" in note and "may differ" in note


def test_the_table_matches_what_this_numpy_does():
    """Each CHANGES entry of array_to_scalar: on this numpy the use either warns with a message
    its `warns` pattern matches, or raises with one its `raises` pattern matches."""
    change = next(c for c in numpy_notes.CHANGES if c.key == "array_to_scalar")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            int(np.array([3]))
            raised = None
        except TypeError as e:
            raised = str(e)
    if raised is None:
        assert caught and re.search(change.warns, str(caught[0].message))
        assert numpy_notes.change_for_warning(str(caught[0].message)) is change
    else:
        assert re.search(change.raises, raised) and numpy_notes.change_for_error(raised) is change


def test_note_names_the_deprecation_and_the_replacement():
    warned = {"category": "DeprecationWarning", "file": "cs260/layers.py", "line": 12,
              "message": "Conversion of an array with ndim > 0 to a scalar is deprecated, and "
                         "will error in future. Ensure you extract a single element", "student": True}
    text = numpy_notes.note(warned, "2.2.6")
    assert "cs260/layers.py line 12" in text and "a.item()" in text and "TypeError" in text
    assert "no points lost" in text
    # not a deprecation, or a deprecation elsewhere that the table does not know: no note
    assert numpy_notes.note({**warned, "category": "RuntimeWarning"}, "2.2.6") == ""
    assert numpy_notes.note({**warned, "message": "something else", "student": False}) == ""
    assert numpy_notes.notes([warned, warned], "2.2.6") == (["array_to_scalar"], [text])


@pytest.mark.skipif(not ON_THE_PIN, reason=f"needs the pinned numpy {PINNED} (this is "
                    f"{np.__version__}; test_grading_on_another_numpy_says_so runs here)")
def test_int_of_one_element_array_keeps_its_points_and_gets_a_note(tmp_path):
    """On the pinned numpy, correct code that uses int() of a one-element array keeps every
    point; its feedback names the deprecation and a.item(), in the checks that ran it and once
    in the top-level output; the environment and worker peaks are in results.json."""
    sub = drift.build(tmp_path)["int_of_one_element_array"]
    solution = drift.build(tmp_path / "ref")["solution"]
    got = grade(sub, env={"CS260_DATA_DIR": None}).results
    ref = grade(solution, env={"CS260_DATA_DIR": None}).results
    assert got["score"] == ref["score"] > 0
    assert got["extra_data"]["numpy_notes"] == ["array_to_scalar"]
    assert ref["extra_data"]["numpy_notes"] == []
    noted = [t["name"] for t in got["tests"] if "a.item()" in t.get("output", "")]
    assert noted and all(name.startswith("max_pool_backward_naive") for name in noted)
    assert got["output"].count("a.item()") == 1
    assert got["extra_data"]["environment"]["matches_gradescope"] is True
    memory = got["extra_data"]["worker_memory"]
    assert 0 < memory["peak_virtual_mb"] < memory["limit_mb"]


@pytest.mark.skipif(ON_THE_PIN, reason=f"needs a numpy other than the pin {PINNED}: "
                    "`.ci/run newest` runs it")
def test_grading_on_another_numpy_says_so(tmp_path):
    """On a numpy other than Gradescope's the grader still runs and says so first, in its output
    and in results.json; the int() submission then loses points (numpy raises there)."""
    subs = drift.build(tmp_path)
    run = grade(subs["solution"], env={"CS260_DATA_DIR": None}, extra_args=["-v"])  # header on
    note = environment.mismatch_note()
    assert note and plain_text(run.results["output"]).startswith(note)
    assert run.stdout.index(f"numpy {np.__version__}") < run.stdout.index("cs260 grading:")
    assert run.results["extra_data"]["environment"] == {
        **run.results["extra_data"]["environment"], "numpy": np.__version__,
        "gradescope_numpy": PINNED, "matches_gradescope": False}
    full = run.results["score"]
    lost = grade(subs["int_of_one_element_array"], env={"CS260_DATA_DIR": None}).results
    assert lost["score"] < full
