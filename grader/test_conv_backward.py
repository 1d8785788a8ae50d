"""Section 2b: the naive convolution backward pass, conv_backward_naive."""
from grader import diagnoses as bugs
from grader.cases import check
from grader.checking import run_backward_check
from grader.diagnoses import Cause


def conv_grad_candidates(x, w, dout, stride, pad, g, expected):
    """(cause, candidate) of known backward mistakes for gradient `g` ("x", "w" or "b")."""
    s = stride
    out = []
    if s > 1 and g in ("x", "w"):
        k = 0 if g == "x" else 1
        key = "conv_backward.dx_no_stride" if g == "x" else "conv_backward.dw_no_stride"
        out.append((Cause(key,
                          f"stride not applied in d{g}: the windows start at (i, j) instead of "
                          f"(i * stride, j * stride)"),
                    lambda: bugs.conv_backward(x, w, dout, s, pad, window_stride=1)[k]))
    if g == "w":
        out.append((Cause("conv_backward.dw_flipped", "dw is flipped in both spatial axes"),
                    lambda: expected[:, :, ::-1, ::-1]))
        out.append((Cause("conv_backward.dw_overwrite",
                          "dw holds only the last window's contribution: = instead of += when "
                          "adding up the windows"),
                    lambda: bugs.conv_dw_last_window(x, w, dout, s, pad)))
    if g == "x":
        out.append((Cause("conv_backward.dx_flipped_filters", "dx uses flipped filters"),
                    lambda: bugs.conv_backward(x, w[:, :, ::-1, ::-1], dout, s, pad)[0]))
        HH, WW = w.shape[2:]
        if s < max(HH, WW):   # windows overlap: = and += differ
            overwrite = Cause("conv_backward.dx_overwrite",
                              "where windows overlap, a later window overwrites dx instead of "
                              "adding to it (use += into dx_pad)")
            out.append((overwrite, lambda: bugs.conv_dx_overwrite(x, w, dout, s, pad)))
            out.append((overwrite, lambda: bugs.conv_dx_overwrite(x, w, dout, s, pad,
                                                                  last_filter=True)))
        if pad:
            H, W = x.shape[2:]
            full = lambda: bugs.conv_backward(x, w, dout, s, pad, keep_padding=True)[0]  # noqa: E731
            out.append((Cause("conv_backward.crop_one_side",
                              "the padding is cut from one side of dx only (bottom/right); cut "
                              "pad rows/columns from every side"), lambda: full()[:, :, :H, :W]))
            out.append((Cause("conv_backward.crop_one_side",
                              "the padding is cut from one side of dx only (top/left); cut pad "
                              "rows/columns from every side"),
                        lambda: full()[:, :, 2 * pad:, 2 * pad:]))
    return out


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
    return fixed + [(bugs.PAD0_EMPTY_CROP, shape) for shape in ((N, C, 0, 0), (N, C, 0, W),
                                                          (N, C, H, 0))]


def conv_grad_mistakes(case, fx, g):
    """Known wrong gradients of this case's conv backward, to name a likely cause."""
    p = case.params["conv_param"]
    return conv_grad_candidates(fx.inputs["x"], fx.inputs["w"], fx.dout, p["stride"], p["pad"],
                                g, fx.expected[f"d{g}"])


def _check(worker, submission, case, record_property):
    run_backward_check(worker, submission, case, record_property,
                       diagnoses=conv_grad_mistakes, shape_hints=conv_grad_shapes)


@check("conv_backward.basic", "conv_backward_naive")
def test_basic(case, worker, submission, record_property):
    """dx, dw, db match the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property)


@check("conv_backward.extra", "conv_backward_naive")
def test_extra(case, worker, submission, record_property):
    """dx, dw, db match the reference and the numeric gradient (strides, padding, kernels)"""
    _check(worker, submission, case, record_property)


@check("conv_backward.hidden", "conv_backward_naive")
def test_hidden(case, worker, submission, record_property):
    """dx, dw, db match the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property)
