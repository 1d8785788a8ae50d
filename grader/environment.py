"""The grading environment: the pins of grader/pins.txt, and what this machine has instead.

One file pins the versions that decide a grade (numpy above all); every install path reads it
(docs/ENVIRONMENT.md). When this Python could not get the pinned numpy (no wheel for it), the
grader still runs and `mismatch_note()` says so at the top of its output and in results.json.
"""
import platform
from pathlib import Path

PINS_FILE = Path(__file__).resolve().with_name("pins.txt")
GRADESCOPE_PYTHON = "3.10"   # Gradescope's base image (Ubuntu 22.04); grader/tools/gradescope/setup.sh


def pin_lines(path=PINS_FILE):
    """The requirement lines of pins.txt (comments and blank lines dropped), markers kept."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def pinned_version(name, python=None, path=PINS_FILE):
    """The exact version pins.txt gives `name` on this Python (or on `python`, e.g. "3.10");
    None when it is not pinned to one version there."""
    from packaging.requirements import Requirement
    env = None if python is None else {"python_version": python,
                                       "python_full_version": python + ".0"}
    for line in pin_lines(path):
        req = Requirement(line)
        if req.name.lower() != name.lower():
            continue
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        exact = [s.version for s in req.specifier if s.operator == "=="]
        return exact[0] if exact else None
    return None


def gradescope_numpy():
    """The numpy Gradescope grades with: the pin for its Python."""
    return pinned_version("numpy", python=GRADESCOPE_PYTHON)


def installed_numpy():
    """The numpy this process runs (the worker runs the same interpreter)."""
    import numpy
    return numpy.__version__


def mismatch_note(numpy_version=None):
    """One paragraph when this numpy is not Gradescope's, "" when it is."""
    have = numpy_version or installed_numpy()
    want = gradescope_numpy()
    if want is None or have == want:
        return ""
    return (f"Note: this grader runs numpy {have}, but Gradescope grades with numpy {want} "
            f"(Python {GRADESCOPE_PYTHON}, the versions pinned in grader/pins.txt). Results here "
            f"may differ from Gradescope's: numpy changed some behaviour between the two (see "
            f"the numpy notes of any check). For the same numpy, use Python 3.10-3.13 and install "
            f"the pins: python -m pip install -r requirements.txt (the homework's set-up).")


def environment_data(numpy_version=None):
    """What results.json records of the environment (extra_data.environment)."""
    have = numpy_version or installed_numpy()
    return {"python": platform.python_version(), "numpy": have,
            "gradescope_numpy": gradescope_numpy(),
            "matches_gradescope": have == gradescope_numpy()}
