"""Known mistakes of the conv and pool layers, per graded function: (cause, simulated output).

Each function lists the mistakes a student's result may be compared against on one input, as
(grader.feedback.causes.Cause, a callable returning what the mistake outputs). The naive layers'
checks (grader/checks/test_conv_*.py, test_pool_*.py) and the fast-vs-naive checks
(grader/checks/test_fast.py) both use them, so no check file imports another.
"""
import numpy as np

from grader.feedback import mistakes as bugs
from grader.feedback.causes import Cause



def conv_candidates(x, w, b, s, pad, expected):
    """(cause, candidate output) of known conv forward mistakes."""
    out = [
        (Cause("conv_forward.no_bias", "the bias b is not added"),
         lambda: expected - b.reshape(1, -1, 1, 1)),
        (Cause("conv_forward.flipped_kernel", "the filters are flipped (true convolution): CNN "
               "layers compute a cross-correlation, w is used as it is"),
         lambda: bugs.conv(x, w[:, :, ::-1, ::-1], b, s, pad)),
    ]
    if pad:
        for before, side in ((False, "bottom/right"), (True, "top/left")):
            out.append((Cause("conv_forward.pad_one_side",
                              f"the zero padding is all on one side ({2 * pad} rows/columns at "
                              f"the {side}); pad {pad} on every side"),
                        lambda before=before: bugs.conv_one_side(x, w, b, s, pad, before)))
    if s > 1:
        out.append((Cause("conv_forward.no_stride",
                          "the windows start at (i, j) instead of (i * stride, j * stride)"),
                    lambda: bugs.conv(x, w, b, s, pad, window_stride=1)))
    return out


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


def pool_grad_candidates(x, dout, ph, pw, s):
    """(cause, candidate dx) of known max-pool backward mistakes."""
    out = [(Cause("pool_backward.spread_average",
                  "the upstream gradient is spread evenly over each window (average-pool "
                  "backward); max pooling sends it only to the maximum"),
            lambda: bugs.max_pool_backward(x, dout, ph, pw, s, spread=True)),
           (Cause("pool_backward.spread_whole",
                  "the whole upstream gradient goes to every position of each window; max "
                  "pooling sends it only to the maximum"),
            lambda: bugs.max_pool_backward(x, dout, ph, pw, s, spread=True) * (ph * pw)),
           (Cause("pool_backward.mask_only",
                  "dx marks the maxima with 1 instead of passing the upstream gradient"),
            lambda: bugs.max_pool_backward(x, dout * 0 + 1, ph, pw, s))]
    for scope, where in (("channel", "the whole channel"), ("all", "the whole input")):
        out.append((Cause("pool_backward.max_lookup_outside",
                          f"each window's maximum is looked up by its value in {where}, not "
                          f"inside the window: wherever that value occurs elsewhere (zeros "
                          f"after a ReLU) gradient goes outside the window; find the position "
                          f"inside the window (np.argmax of the window)"),
                    lambda scope=scope: bugs.max_pool_backward_lookup(x, dout, ph, pw, s, scope)))
    if (ph, pw) != (s, s):
        out.append((Cause("pool_backward.stride_is_window",
                          "the windows are placed as if the stride were the window size"),
                    lambda: bugs.max_pool_backward(x, dout, ph, pw, s, steps=(ph, pw))))
    if s < max(ph, pw):
        overwrite = Cause("pool_backward.overwrite",
                          "where windows overlap, a later window overwrites the gradient "
                          "instead of adding to it (use +=)")
        out.append((overwrite, lambda: bugs.max_pool_backward(x, dout, ph, pw, s,
                                                              accumulate=False)))
        out.append((overwrite, lambda: bugs.max_pool_backward(x, dout, ph, pw, s,
                                                              accumulate=False,
                                                              whole_window=True)))
        out.append((overwrite, lambda: bugs.max_pool_backward(x, dout, ph, pw, s,
                                                              accumulate=False,
                                                              whole_window=True,
                                                              all_ties=True)))
        for accumulate, how in ((False, "= "), (True, "+= ")):
            out.append((Cause("pool_backward.shared_mask",
                              f"dx[window] {how}dout * mask[window] with one mask of every "
                              f"window's maximum: where windows overlap, a window also sends "
                              f"its gradient to a neighbour's maximum"
                              + (" and overwrites what its neighbours added" if not accumulate
                                 else "") + "; find the maximum of each window on its own "
                              "(np.argmax of the window) and add with +="),
                        lambda a=accumulate: bugs.max_pool_backward_shared_mask(x, dout, ph, pw,
                                                                                s, a)))
    return out
