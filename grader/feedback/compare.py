"""Close-enough checks whose failure messages say what was checked and what went wrong.

Every comparison uses the notebook's rel_error (max |x - y| / max(floor, |x| + |y|), taken
elementwise). A failure raises CheckFailed (an AssertionError): its first line is the one-line
reason of the score table, the rest gives the input, the error against the tolerance, how many
elements are off, the worst one, and a likely cause when a known mistake fits.
"""
import numpy as np

from grader.feedback import policy
from grader.feedback.causes import Cause, key_of

NOTEBOOK_FLOOR = 1e-8   # the notebook's rel_error floor
SHOW_VALUES = 6         # significant digits in messages


class CheckFailed(AssertionError):
    """A check found a wrong result; the message is shown to the student. `diagnoses`: the
    stable keys (grader.feedback.causes.CAUSES) of the likely causes the message gives."""

    def __init__(self, message, diagnoses=()):
        super().__init__(message)
        self.diagnoses = list(diagnoses)


def rel_error(x, y, floor=NOTEBOOK_FLOOR):
    """The notebook's relative error, max |x - y| / max(floor, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))
    if np.isnan(err).any():
        return float("inf")
    return float(np.max(err))


def fmt(v):
    """A number for a message, short but exact enough to see the difference."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{SHOW_VALUES}g}"


def fmt_index(index):
    """An array index as a message shows it: (i, j, ...)."""
    return "(" + ", ".join(str(int(i)) for i in index) + ")" if len(index) != 1 else f"({int(index[0])},)"


def describe(inputs=None, params=None):
    """'x (2, 3, 4, 4) float64, w ...; conv_param={...}' for a failure message."""
    parts = []
    for name, value in (inputs or {}).items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {tuple(value.shape)} {value.dtype}")
        else:
            parts.append(f"{name}={value!r}")
    text = ", ".join(parts)
    if params:
        shown = "; ".join(f"{k}={v!r}" for k, v in params.items())
        text = f"{text}; {shown}" if text else shown
    return text


def floor_for(expected, tol_floor_rel=0.0):
    """rel_error floor: the notebook's, or a fraction of the largest expected magnitude (float32)."""
    if tol_floor_rel <= 0:
        return NOTEBOOK_FLOOR
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    return max(NOTEBOOK_FLOOR, tol_floor_rel * scale)


# ----------------------------------------------------------------------------------------------
# Structure of returned values
# ----------------------------------------------------------------------------------------------

def type_name(value):
    """What a value is, in words, for messages about a wrong return type."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def unpack(result, names, what):
    """result as a tuple of len(names) values; a clear failure for another structure."""
    n = len(names)
    if not isinstance(result, (tuple, list)):
        raise CheckFailed(f"{what} should return {n} values ({', '.join(names)}); it returned "
                          f"{type_name(result)}.")
    if len(result) != n:
        raise CheckFailed(f"{what} should return {n} values ({', '.join(names)}); it returned "
                          f"{len(result)}.")
    return tuple(result)


def as_array(value, what, shape=None):
    """value as a numeric ndarray (numpy scalars become 0-d arrays); checks the shape if given."""
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        arr = np.asarray(value)
    else:
        raise CheckFailed(f"{what} should be a numpy array"
                          f"{'' if shape is None else f' of shape {tuple(shape)}'}; got "
                          f"{type_name(value)}.")
    if arr.dtype.kind not in "biuf":
        raise CheckFailed(f"{what} should hold real numbers; got dtype {arr.dtype}.")
    if shape is not None and arr.shape != tuple(shape):
        raise CheckFailed(f"{what} has shape {tuple(arr.shape)}, expected {tuple(shape)}.")
    return arr


def as_scalar(value, what):
    """value as a Python float: a number or an array of one element."""
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} should be a single number; got an array of shape "
                          f"{tuple(arr.shape)}.")
    return float(arr.reshape(()))


# ----------------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------------

def _matches(actual, candidate, tol, floor, nonfinite=False):
    """True if `candidate` is `actual` within tol; nonfinite=True: both have NaN/inf at the
    same places (not necessarily the same ones) and agree elsewhere."""
    try:
        candidate = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if candidate.shape != actual.shape:
        return False
    bad = ~np.isfinite(candidate)
    if not nonfinite:
        return not bad.any() and rel_error(actual, candidate, floor) <= tol
    if not bad.any() or not np.array_equal(bad, ~np.isfinite(actual)):
        return False
    return rel_error(actual[~bad], candidate[~bad], floor) <= tol


BEST_FIT_FACTOR = 10.0   # candidates that match are named only within this factor of the best


def _fit_error(actual, candidate, floor):
    """rel_error of a matching candidate (finite entries only), to rank the matches."""
    candidate = np.asarray(candidate, dtype=np.float64)
    ok = np.isfinite(candidate) & np.isfinite(actual)
    return rel_error(actual[ok], candidate[ok], floor) if ok.any() else 0.0


def fitting(diagnoses, actual, tol, floor, nonfinite=False, expected=None, expected_tol=0.0):
    """The causes of `diagnoses` ((cause, candidate) pairs) whose candidate matches `actual`,
    the closest first; a match much worse than the best one (BEST_FIT_FACTOR, with an absolute
    slack of 1e-12) is a near miss of another mistake and is left out. A candidate that is
    itself right for this input (within `expected_tol` of `expected`) explains nothing."""
    found = []
    for cause, candidate in diagnoses:
        if callable(candidate):
            try:
                candidate = candidate()
            except Exception:  # a diagnosis that does not apply to this input
                candidate = None
        if (candidate is not None and cause not in [c for c, _ in found]
                and _matches(actual, candidate, tol, floor, nonfinite)
                and not (expected is not None
                         and _matches(expected, candidate, expected_tol, floor))):
            found.append((cause, _fit_error(actual, candidate, floor)))
    best = min((e for _, e in found), default=0.0)
    return [c for c, e in found if e <= BEST_FIT_FACTOR * best + 1e-12]


def failed(lines, causes):
    """CheckFailed with the message `lines` + a "likely cause" line per cause, keys as data."""
    lines = list(lines) + [f"  likely cause: {c}" for c in causes]
    return CheckFailed("\n".join(lines), diagnoses=list(dict.fromkeys(key_of(c) for c in causes)))


def generic_causes(actual, expected, bad, tol, floor):
    """Likely causes that need nothing but the two arrays and where they differ."""
    causes = []
    if not np.any(actual) and np.any(expected):
        causes.append(Cause("generic.all_zeros", "your result is all zeros: it may never be "
                            "filled in (or returned), or every term may cancel (a mean "
                            "subtracted over a single value, a mask that is never set)"))
        return causes
    if _matches(actual, -expected, tol, floor):
        causes.append(Cause("generic.sign_flipped",
                            "your result is the expected one with the sign flipped."))
    if actual.ndim >= 2 and actual.shape[-1] == actual.shape[-2] and actual.shape[-1] > 1:
        if _matches(actual, np.swapaxes(expected, -1, -2), tol, floor):
            causes.append(Cause("generic.transposed_hw", "your result is the expected one "
                                "transposed over the last two axes (height and width swapped?)."))
    denom = float(np.sum(expected * expected))
    if denom > 0 and not causes and actual.size >= 3:   # any two numbers differ by a factor
        k = float(np.sum(actual * expected)) / denom
        if abs(k - 1) > 1e-3 and abs(k) > 1e-12 and _matches(actual, k * expected, tol, floor):
            causes.append(Cause("generic.constant_factor", f"your result is the expected one "
                                f"times {fmt(k)}: a missing or extra constant factor (an "
                                f"average vs a sum?)."))
    if actual.ndim == 4 and not causes and bad.any():
        H, W = actual.shape[2:]
        rows, cols = np.nonzero(bad.any(axis=(0, 1)))
        if H > 2 and W > 2:
            border = (rows == 0) | (rows == H - 1) | (cols == 0) | (cols == W - 1)
            if border.all():
                causes.append(Cause("generic.border_only", "only positions at the border of "
                                    "the output are wrong: check the zero padding (both sides, "
                                    "the right amount) and the windows at the edges."))
        if bad.any(axis=(0, 2, 3)).sum() < bad.shape[1] and not causes:
            wrong = np.nonzero(bad.any(axis=(0, 2, 3)))[0]
            if len(wrong) <= 3:
                causes.append(Cause("generic.few_channels", f"only channel(s) "
                                    f"{', '.join(str(int(c)) for c in wrong)} of axis 1 are "
                                    f"wrong."))
    return causes


def assert_close(actual, expected, *, what, inputs="", tol, floor=NOTEBOOK_FLOOR, diagnoses=(),
                 shape_hints=(), reference="the reference", slips=None):
    """Fail unless `actual` matches `expected` within `tol` (notebook rel_error); returns the error.

    what:        what was checked, e.g. "conv_forward_naive output"
    inputs:      description of the input (see describe)
    diagnoses:   (cause, candidate) pairs; candidate is what a known mistake would produce (an
                 array, or a no-argument callable returning one or None); the causes whose
                 candidate matches `actual` are reported
    shape_hints: (cause, shape) pairs reported when `actual` has that (wrong) shape
    slips:       the check item's shape-slip ledger (grader.feedback.policy.Ledger; the plugin's
                 `slips` fixture): a shape off by axes of size 1 is recorded there and the values
                 are compared; without one it is a wrong shape
    The causes are grader.feedback.causes.Cause objects: CheckFailed.diagnoses carries their keys.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, what)
    where = f"\n  input: {inputs}" if inputs else ""
    if actual.shape != expected.shape and policy.shape_slip(slips, what, actual.shape, expected.shape):
        actual = actual.reshape(expected.shape)   # charged once by the policy; values go on
    if actual.shape != expected.shape:
        raise failed([f"{what}: wrong shape {tuple(actual.shape)}, expected "
                      f"{tuple(expected.shape)}." + where],
                     _shape_causes(actual.shape, expected.shape, shape_hints))
    actual = actual.astype(np.float64)
    _assert_finite(actual, what, where, diagnoses, tol, floor)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(actual - expected) / np.maximum(floor, np.abs(actual) + np.abs(expected))
    worst_err = float(err.max()) if err.size else 0.0
    if worst_err <= tol:
        return worst_err
    lines = [
        f"{what} does not match {reference}: relative error {fmt(worst_err)} > tolerance "
        f"{fmt(tol)}." + where,
        _mismatch_detail(actual, expected, err, tol),
        "  (relative error as the notebook's rel_error: max |x-y| / max("
        f"{fmt(floor)}, |x|+|y|))",
    ]
    causes = fitting(diagnoses, actual, max(tol * 10, 1e-6), floor, expected=expected,
                     expected_tol=tol)
    if not causes:
        causes = generic_causes(actual, expected, err > tol, max(tol * 10, 1e-6), floor)
    raise failed(lines, causes)


def _shape_causes(shape, expected_shape, shape_hints):
    """Likely causes of a wrong shape: the check's own hints first, then generic patterns."""
    hints = [cause for cause, hint in shape_hints if tuple(hint) == tuple(shape)]
    if hints:
        return hints
    if shape == expected_shape[::-1] and len(shape) > 1:
        return [Cause("generic.reversed_axes", "the axes are in reverse order.")]
    extra = len(shape) - len(expected_shape)
    if extra > 0 and shape[extra:] == expected_shape:
        return [Cause("shape.extra_axes", f"the expected shape comes after {extra} "
                      f"extra leading axes {tuple(shape[:extra])}: an operand "
                      f"with more axes was broadcast against the result (check the "
                      f"shapes of what you multiply or add, e.g. gamma and beta, "
                      f"which come as the docstring says, not to be expanded).")]
    if int(np.prod(shape)) == int(np.prod(expected_shape)):
        return [Cause("generic.reshape_off", "the number of elements is right: a "
                      "reshape or transpose is off.")]
    return []


def _assert_finite(actual, what, where, diagnoses, tol, floor):
    """Fail naming the first NaN or infinity of `actual`, with a known mistake that explains it."""
    finite = np.isfinite(actual)
    if finite.all():
        return
    bad_at = np.unravel_index(int(np.argmin(finite.reshape(-1))), actual.shape)
    causes = fitting(diagnoses, actual, max(tol * 10, 1e-6), floor, nonfinite=True) or [
        Cause("generic.not_finite", "an overflow (exp of a large number?), a division by "
              "zero, or an uninitialized array (np.empty).")]
    raise failed([f"{what}: {int((~finite).sum())} of {actual.size} elements are NaN or "
                  f"infinite (first at index {fmt_index(bad_at)})." + where], causes)


def _mismatch_detail(actual, expected, err, tol):
    """numpy.testing-style line: how many elements differ, the worst one and its index."""
    if not err.ndim:
        return f"  expected {fmt(expected)}, got {fmt(actual)}."
    bad = err > tol
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    return (f"  {int(bad.sum())} of {bad.size} elements differ; the worst is at index "
            f"{fmt_index(worst)}: expected {fmt(expected[worst])}, got {fmt(actual[worst])}.")


def assert_scalar_close(actual, expected, *, what, inputs="", tol, floor=NOTEBOOK_FLOOR,
                        diagnoses=(), reference="the reference"):
    """assert_close for one number; the message shows both values."""
    value = as_scalar(actual, what)
    return assert_close(np.asarray(value), np.asarray(float(expected)), what=what, inputs=inputs,
                        tol=tol, floor=floor, diagnoses=diagnoses, reference=reference)
