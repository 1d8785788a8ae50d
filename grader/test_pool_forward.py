"""Section 3: the naive max-pooling forward pass, max_pool_forward_naive."""
import numpy as np

from grader import diagnoses as bugs
from grader.cases import check
from grader.checking import check_forward
from grader.diagnoses import Cause
from grader.fixtures import load_fixture
from grader.plugin import require_file


def pool_mistakes(case, fx):
    """What known mistakes would output for this case's input."""
    p = case.params["pool_param"]
    return pool_candidates(fx.inputs["x"], p["pool_height"], p["pool_width"], p["stride"],
                           fx.expected["out"])


def pool_candidates(x, ph, pw, s, expected):
    """(cause, candidate output) of known max-pool forward mistakes."""
    return [
        (Cause("pool_forward.average", "average pooling instead of max pooling"),
         lambda: bugs.avg_pool(x, ph, pw, s)),
        (Cause("pool_forward.minimum", "the minimum of each window instead of the maximum"),
         lambda: bugs.pool_windows(x, ph, pw, s).min(axis=-1)),
        (Cause("pool_forward.max_from_zero", "negative maxima come out as 0: the running "
               "maximum starts at 0 instead of the first value of the window (or -inf)"),
         lambda: np.maximum(expected, 0)),
        (Cause("pool_forward.hw_swapped",
               "pool_height and pool_width are swapped (their output size agrees here)"),
         lambda: bugs.max_pool(x, pw, ph, s)),
        (Cause("pool_forward.stride_is_window",
               "the windows are placed as if the stride were the window size (i * pool_height, "
               "j * pool_width): use i * stride, j * stride"),
         lambda: windows_at_window_steps(x, ph, pw, expected.shape[2:])),
    ]


def windows_at_window_steps(x, ph, pw, out_hw):
    """Max pooling with window (i, j) at (i * ph, j * pw), cut where it leaves x (as slicing
    does); None if a window lies wholly outside x (the mistake raises there)."""
    H, W = x.shape[2:]
    Ho, Wo = out_hw
    if (Ho - 1) * ph >= H or (Wo - 1) * pw >= W:
        return None
    out = np.empty(x.shape[:2] + (Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * ph:i * ph + ph, j * pw:j * pw + pw].max(axis=(2, 3))
    return out


def pool_shape_hints(case, fx):
    """Output shapes that known mistakes in the pooled size produce, with their causes."""
    N, C, H, W = fx.inputs["x"].shape
    p = case.params["pool_param"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    hints = [(Cause("pool_forward.size_no_stride",
                    "the stride is ignored in the output size (stride 1 used)"),
              (N, C, H - ph + 1, W - pw + 1)),
             (Cause("pool_forward.size_window_stride",
                    "the output size uses the window size as the stride"),
              (N, C, 1 + (H - ph) // ph, 1 + (W - pw) // pw)),
             (Cause("pool_forward.size_floor_div", "the output size is H // stride, W // stride"),
              (N, C, H // s, W // s)),
             (Cause("pool_forward.hw_swapped", "pool_height and pool_width are swapped"),
              (N, C, 1 + (H - pw) // s, 1 + (W - ph) // s))]
    return [(c, sh) for c, sh in hints if sh != fx.expected["out"].shape]


def _check(worker, submission, case):
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=pool_mistakes,
                  shape_hints=pool_shape_hints(case, load_fixture(case)))


@check("pool_forward.notebook", "max_pool_forward_naive")
def test_notebook(case, worker, submission):
    """the notebook's case matches the reference (2x2 windows, stride 2)"""
    _check(worker, submission, case)


@check("pool_forward.extra", "max_pool_forward_naive")
def test_extra(case, worker, submission):
    """output matches the reference (overlapping and rectangular windows, strides, float32)"""
    _check(worker, submission, case)


@check("pool_forward.hidden", "max_pool_forward_naive")
def test_hidden(case, worker, submission):
    """output matches the reference (hidden cases)"""
    _check(worker, submission, case)
