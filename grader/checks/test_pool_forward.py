"""Section 3: the naive max-pooling forward pass, max_pool_forward_naive."""

from grader.feedback.catalogue import pool_candidates
from grader.cases import check
from grader.checks.checking import check_forward, require_file
from grader.feedback.causes import Cause
from grader.checks.fixtures import load_fixture


def pool_mistakes(case, fx):
    """What known mistakes would output for this case's input."""
    p = case.params["pool_param"]
    return pool_candidates(fx.inputs["x"], p["pool_height"], p["pool_width"], p["stride"],
                           fx.expected["out"])


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


def _check(worker, submission, case, slips=None):
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=pool_mistakes,
                  shape_hints=pool_shape_hints(case, load_fixture(case)), slips=slips)


@check("pool_forward.notebook", "max_pool_forward_naive")
def test_notebook(case, worker, submission, slips):
    """the notebook's case matches the reference (2x2 windows, stride 2)"""
    _check(worker, submission, case, slips=slips)


@check("pool_forward.extra", "max_pool_forward_naive")
def test_extra(case, worker, submission, slips):
    """output matches the reference (overlapping and rectangular windows, strides, float32)"""
    _check(worker, submission, case, slips=slips)


@check("pool_forward.hidden", "max_pool_forward_naive")
def test_hidden(case, worker, submission, slips):
    """output matches the reference (hidden cases)"""
    _check(worker, submission, case, slips=slips)
