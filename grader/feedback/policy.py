"""The grading policy: what the checks accept where the notebook leaves a choice open, and what
a right value in a wrong shape earns. docs/GRADING.md ("How the checks decide") describes it.

- ReLU kink: where x == 0 exactly, relu_backward may return any value between 0 and dout.
- Tied max-pool maxima: a window whose maximum is shared by k positions may give those positions
  any split of its dout (each between 0 and dout, in dout's sign, the k of them adding up to
  between dout and k * dout: first, last, an even split, or dout to every one of them). Every
  other position gets exactly what the untied windows send it (nothing, if it is no window's
  maximum), so overwriting (= for +=), argmin, mean pooling and a lost or doubled gradient are
  still wrong. The cases keep the tied maximum sets of different windows apart
  (`tied_sets_disjoint`), so each tied window is judged on its own.
- dtypes: outputs for float32 inputs may come back in any float dtype holding the right values;
  only the checks whose spec pins a dtype (ThreeLayerConvNet(dtype=)) look at it.
- Shape slips: an array with the right values in a shape that differs from the expected one only
  in axes of size 1 ((1, D) for (D,), (C,) for (1, C, 1, 1)) costs the case a fixed part of its
  points (config.SHAPE_SLIP_CREDIT), once per case, and is then compared by its values.
- Backward items: graded on the student's own forward cache when that forward works; otherwise on
  the standard cache (`STANDARD_CACHES`, the tuple the starter's docstring names), with the
  trusted reference forward for the numeric gradient.

The checks call `accepted_gradient` (kinks and ties). Each check item has its own `Ledger`, kept
in the item's stash (the plugin's `slips` fixture); the check passes it to compare.assert_close,
which calls `shape_slip`, and the plugin scores the item from it.
"""

import numpy as np

from grader import config
from grader.reference import pool_windows_max, tied_sets_disjoint, tied_windows  # noqa: F401 - tied_sets_disjoint: tests, casebuild

# ----------------------------------------------------------------------------------------------
# Shape slips: recorded per check item, scored by the plugin
# ----------------------------------------------------------------------------------------------


class Ledger:
    """The shape slips of one check item (the first one is charged, once)."""

    KEY = "shape.slip"   # its diagnosis key (grader.feedback.causes.CAUSES) in results.json

    def __init__(self):
        self.slips = []

    @property
    def credit(self):
        """The share of its points the item keeps (less than 1 after a shape slip)."""
        return config.SHAPE_SLIP_CREDIT if self.slips else 1.0

    def message(self):
        """What the student reads about the item's shape slip, charged once."""
        first = self.slips[0]
        more = (f" ({len(self.slips) - 1} more array(s) of this case show the same slip, "
                f"charged once)") if len(self.slips) > 1 else ""
        return (f"Shape slip: {first}{more}. The values are right, so this case earns "
                f"{config.SHAPE_SLIP_CREDIT:.0%} of its points; return the shape the docstring "
                f"names for all of them.")


def squeezed_equal(got, expected):
    """True if two different shapes differ only in axes of size 1."""
    got, expected = tuple(got), tuple(expected)
    return got != expected and tuple(d for d in got if d != 1) == tuple(
        d for d in expected if d != 1)


def shape_slip(ledger, what, got, expected):
    """Record in `ledger` (the check item's, or None) that `what` came back in shape `got` instead
    of `expected` (axes of size 1 only); True if the comparison may go on with the values, False
    where there is no ledger (outside a grading item a slip is a wrong shape)."""
    if ledger is None or not squeezed_equal(got, expected):
        return False
    ledger.slips.append(f"{what} has shape {tuple(got)}, expected {tuple(expected)}")
    return True


# ----------------------------------------------------------------------------------------------
# Kinks and ties: the reference gradient with every accepted alternative put in
# ----------------------------------------------------------------------------------------------

def _slack(tol):
    """Slack of the range tests, in units of dout (the comparison's own tolerance, doubled)."""
    return max(2.0 * tol, 1e-12)


def relu_accepted(x, dout, actual, reference, tol):
    """`reference` with the student's value kept wherever x == 0 and it lies between 0 and
    dout: comparing `actual` with the result then fails exactly where the policy does."""
    x, dout = np.asarray(x), np.asarray(dout, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != reference.shape or x.shape != reference.shape:
        return reference
    s = _slack(tol) * np.abs(dout) + 1e-300
    lo, hi = np.minimum(0.0, dout) - s, np.maximum(0.0, dout) + s
    with np.errstate(invalid="ignore"):
        ok = (x == 0) & (actual >= lo) & (actual <= hi)
    return np.where(ok, actual, reference)


def pool_accepted(x, dout, ph, pw, stride, actual, reference, tol):
    """`reference` (each window's dout at its first maximum) with the student's values kept on
    the tied maxima of every window whose split of dout the policy accepts (see the module
    docstring): comparing `actual` with the result fails exactly where the policy does."""
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != reference.shape or not np.isfinite(actual).all():
        return reference
    is_max, count = pool_windows_max(x, ph, pw, stride)
    if not (count > 1).any():
        return reference
    Ho, Wo = count.shape[2:]
    fixed = np.zeros(x.shape)          # what the untied windows send to each position
    untied = count == 1
    for a in range(ph):
        for b in range(pw):
            fixed[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += \
                dout * (is_max[..., a * pw + b] & untied)
    expected = reference.copy()
    slack = _slack(tol)
    scale = float(np.abs(dout).max())
    owned = set()
    for n, c, i, j, positions in tied_windows(is_max, count, pw, stride):
        for r, q in positions:
            if (n, c, r, q) in owned:
                raise ValueError("tied maxima shared by two windows: the pooling policy judges "
                                 "each tied window on its own (a grader case problem)")
            owned.add((n, c, r, q))
        rows, cols = zip(*positions)
        share = actual[n, c, rows, cols] - fixed[n, c, rows, cols]
        d = dout[n, c, i, j]
        if d == 0:
            ok = np.all(np.abs(share) <= slack * scale)
        else:
            t = share / d
            ok = (t.min() >= -slack and t.max() <= 1 + slack
                  and 1 - slack * len(t) <= t.sum() <= len(t) * (1 + slack))
        if ok:
            expected[n, c, rows, cols] = actual[n, c, rows, cols]
    return expected


def accepted_gradient(function, grad, inputs, params, dout, actual, reference, tol):
    """The reference gradient `d<grad>` of `function` (the forward's short name) with every
    alternative the policy accepts for `actual` put in; the reference itself elsewhere."""
    if grad != "x" or actual is None:
        return reference
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return reference
    if function == "relu_forward":
        return relu_accepted(inputs["x"], dout, actual, reference, tol)
    if function == "max_pool_forward_naive":
        p = params["pool_param"]
        return pool_accepted(inputs["x"], dout, p["pool_height"], p["pool_width"], p["stride"],
                             actual, reference, tol)
    return reference


# ----------------------------------------------------------------------------------------------
# Standard caches: what a backward is graded on when its forward does not work
# ----------------------------------------------------------------------------------------------

# forward's short name -> (the cache as the starter's docstring names it, builder from the
# call's arguments in the case's `args` order)
STANDARD_CACHES = {
    "affine_forward": ("(x, w, b)", lambda x, w, b: (x, w, b)),
    "relu_forward": ("x", lambda x: x),
    "conv_forward_naive": ("(x, w, b, conv_param)", lambda x, w, b, p: (x, w, b, p)),
    "max_pool_forward_naive": ("(x, pool_param)", lambda x, p: (x, p)),
}


def reference_forward(function):
    """The trusted forward of `function` (a callable of the case's call arguments returning the
    output), for the numeric gradient on the standard cache; None if there is none."""
    if function == "affine_forward":
        return lambda x, w, b: np.asarray(x).reshape(len(x), -1) @ w + b
    if function == "relu_forward":
        return lambda x: np.maximum(x, 0)
    from grader.sandbox.trusted import fast_layers
    fast = fast_layers()
    if function == "conv_forward_naive":
        return lambda x, w, b, p: fast.conv_forward_fast(x, w, b, p)[0]
    if function == "max_pool_forward_naive":
        return lambda x, p: fast.max_pool_forward_fast(x, p)[0]
    return None
