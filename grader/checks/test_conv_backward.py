"""Section 2b: the naive convolution backward pass, conv_backward_naive."""
from grader.feedback import causes
from grader.feedback.catalogue import conv_grad_candidates
from grader.cases import check
from grader.checks.checking import run_backward_check
from grader.feedback.causes import Cause


def conv_grad_shapes(case, fx, g):
    """Gradient shapes that known mistakes produce."""
    pad = case.params["conv_param"]["pad"]
    N, C, H, W = fx.inputs["x"].shape
    if g != "x":
        return []
    fixed = [] if pad == 1 else [
        (Cause("conv_backward.pad_fixed_one", f"dx is cut as if pad were 1: pad = {pad} here, "
               f"so cut pad rows/columns from every side of dx_pad (no padding of 1 hard-coded)"),
         (N, C, H + 2 * pad - 2, W + 2 * pad - 2)),
        (Cause("conv_backward.pad_fixed_one", f"x is padded by 1 instead of pad = {pad} before "
               f"dx is cut: pad by pad (np.pad(x, ... (pad, pad) ...)), not a fixed 1"),
         (N, C, H + 2 - 2 * pad, W + 2 - 2 * pad))]
    if pad:
        return fixed + [(Cause("conv_backward.dx_keeps_padding",
                               "dx still includes the zero padding: cut pad rows/columns off "
                               "every side"), (N, C, H + 2 * pad, W + 2 * pad))]
    return fixed + [(causes.PAD0_EMPTY_CROP, shape) for shape in ((N, C, 0, 0), (N, C, 0, W),
                                                          (N, C, H, 0))]


def conv_grad_mistakes(case, fx, g):
    """Known wrong gradients of this case's conv backward, to name a likely cause."""
    p = case.params["conv_param"]
    return conv_grad_candidates(fx.inputs["x"], fx.inputs["w"], fx.dout, p["stride"], p["pad"],
                                g, fx.expected[f"d{g}"])


def _check(worker, submission, case, record_property, slips=None):
    run_backward_check(worker, submission, case, record_property,
                       diagnoses=conv_grad_mistakes, shape_hints=conv_grad_shapes, slips=slips)


@check("conv_backward.basic", "conv_backward_naive")
def test_basic(case, worker, submission, record_property, slips):
    """dx, dw, db match the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property, slips=slips)


@check("conv_backward.extra", "conv_backward_naive")
def test_extra(case, worker, submission, record_property, slips):
    """dx, dw, db match the reference and the numeric gradient (strides, padding, kernels)"""
    _check(worker, submission, case, record_property, slips=slips)


@check("conv_backward.hidden", "conv_backward_naive")
def test_hidden(case, worker, submission, record_property, slips):
    """dx, dw, db match the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property, slips=slips)
