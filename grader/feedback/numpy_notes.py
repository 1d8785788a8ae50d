"""Feedback lines for student code whose behaviour depends on the numpy version.

The worker records the warnings student code raises (grader/sandbox/worker.py) and sends them back as
data; `notes()` turns those that numpy issues for a use it deprecated into one line each, naming
the deprecation, what newer (or older) numpy does with it and the replacement. No points change:
the grade is the pinned numpy's (grader/pins.txt). `CHANGES` is the one table of these uses; its
`raises` patterns are the same uses failing on a numpy that removed them (for the diagnoses of
code that raises, grader/feedback/diagnoses.py).
"""
import re
from dataclasses import dataclass

from grader import environment


@dataclass(frozen=True)
class NumpyChange:
    key: str        # stable id (results.json extra_data.numpy_notes)
    warns: str      # regex on the warning's message on the numpy that still accepts the use
    raises: str     # regex on the error's message on the numpy that no longer does
    use: str        # what the code does, for the student
    raises_from: str  # first numpy that raises
    error: str      # the exception it raises there
    fix: str        # the replacement


CHANGES = (
    NumpyChange("array_to_scalar", r"Conversion of an array with ndim > 0 to a scalar",
                r"only 0-dimensional arrays can be converted to Python scalars",
                "converts an array holding one element (ndim > 0) to a number: int() or "
                "float() of it, or assigning it to one element of another array",
                "2.4", "TypeError or ValueError",
                "a.item() (or index the element, e.g. a[0])"),
    NumpyChange("reshape_newshape", r"`newshape` keyword argument is deprecated",
                r"unexpected keyword argument 'newshape'", "calls np.reshape with newshape=",
                "2.4", "TypeError", "np.reshape(a, shape) (or a.reshape(shape))"),
    NumpyChange("in1d", r"`in1d` is deprecated", r"has no attribute 'in1d'",
                "calls np.in1d", "2.4", "AttributeError", "np.isin"),
    NumpyChange("trapz", r"`trapz` is deprecated", r"has no attribute 'trapz'",
                "calls np.trapz", "2.4", "AttributeError", "np.trapezoid"),
    NumpyChange("row_stack", r"`row_stack` alias is deprecated", r"has no attribute 'row_stack'",
                "calls np.row_stack", "a later release", "AttributeError", "np.vstack"),
    NumpyChange("numpy_core", r"numpy\.core is deprecated", r"No module named 'numpy\.core",
                "imports from numpy.core", "a later release", "ImportError",
                "the public numpy names (np.<name>)"),
)
WARNING_CATEGORIES = ("DeprecationWarning", "FutureWarning", "VisibleDeprecationWarning",
                      "PendingDeprecationWarning")


def change_for_warning(message):
    """The CHANGES entry a warning's message names, or None."""
    return next((c for c in CHANGES if re.search(c.warns, message)), None)


def change_for_error(message):
    """The CHANGES entry an error's message names (the use on a numpy that removed it), or None."""
    return next((c for c in CHANGES if re.search(c.raises, message)), None)


def _where(warning):
    where = warning.get("file") or "your code"
    line = warning.get("line")
    return f"{where} line {line}" if isinstance(line, int) else where


def note(warning, numpy_version=None):
    """One feedback line for one recorded warning ({category, message, file, line}); "" when it
    is not a numpy deprecation."""
    category, message = str(warning.get("category", "")), str(warning.get("message", ""))
    if category not in WARNING_CATEGORIES:
        return ""
    have = numpy_version or environment.installed_numpy()
    change = change_for_warning(message)
    if change is None:   # another deprecation, reported where it points into the student's files
        if warning.get("student") is not True:
            return ""
        return (f"note (no points lost): {_where(warning)} triggers a {category} (numpy "
                f"{have}): {message}")
    graded = environment.gradescope_numpy()
    which = (f"numpy {have} (the version Gradescope grades with)" if have == graded else
             f"numpy {have} (here; Gradescope grades with numpy {graded})")
    return (f"numpy note (no points lost): {_where(warning)} {change.use}. {which} accepts it "
            f"with a {category}; numpy {change.raises_from} and newer raise {change.error}, so "
            f"this code fails there. Use {change.fix} instead.")


def notes(warnings, numpy_version=None):
    """(keys, lines): the distinct numpy notes of a list of recorded warnings, in order."""
    keys, lines = [], []
    for warning in warnings:
        text = note(warning, numpy_version)
        if text and text not in lines:
            change = change_for_warning(str(warning.get("message", "")))
            keys.append(change.key if change else "numpy_warning")
            lines.append(text)
    return keys, lines
