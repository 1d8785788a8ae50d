"""Known mistakes, simulated: what a wrong implementation would output for a case's inputs.

compare.assert_close reports a mistake as the likely cause when the student's result matches
its simulation. These functions are small direct numpy formulas used only to explain a
failure; the points always come from the reference fixtures.

Every likely cause is a `Cause`: the text the student reads (a str, often with the case's
numbers in it) and a stable key from `CAUSES`, which results.json carries as data
(`extra_data.diagnoses` of a test) so that `python -m grader report` can count a class's
mistakes. `exception_causes` explains exceptions of student code (numpy 2 removals).
"""
import re

import numpy as np

from grader import numpy_notes

# Stable key -> short title of every known mistake (the class report's rows). A key, once
# published in results.json, is never renamed: old results stay countable.
CAUSES = {
    # any array
    "generic.all_zeros": "result is all zeros (never filled in or returned)",
    "generic.sign_flipped": "result has the sign flipped",
    "generic.transposed_hw": "height and width swapped (result transposed)",
    "generic.constant_factor": "result off by a constant factor (average vs sum?)",
    "generic.border_only": "only the border is wrong (zero padding / edge windows)",
    "generic.few_channels": "only a few channels are wrong",
    "generic.not_finite": "NaN or infinite values (overflow, division by zero, np.empty)",
    "generic.reversed_axes": "axes in reverse order",
    "generic.reshape_off": "right number of elements, wrong shape (a reshape or transpose)",
    "backward.forward_wrong": "backward fed by a wrong forward pass (fix the forward first)",
    # convolution
    "conv_forward.no_bias": "conv: the bias is not added",
    "conv_forward.flipped_kernel": "conv: flipped filters (true convolution, not cross-correlation)",
    "conv_forward.pad_one_side": "conv: zero padding on one side only",
    "conv_forward.no_stride": "conv: windows start at (i, j), the stride is not applied",
    "conv_forward.size_no_stride": "conv: output size ignores the stride",
    "conv_forward.size_no_pad": "conv: output size leaves out the padding",
    "conv_forward.size_pad_once": "conv: output size counts the padding once",
    "conv_forward.size_kernel_swapped": "conv: filter height and width swapped in the size",
    "conv_backward.dx_no_stride": "conv backward: stride not applied in dx",
    "conv_backward.dw_no_stride": "conv backward: stride not applied in dw",
    "conv_backward.dw_flipped": "conv backward: dw flipped",
    "conv_backward.dx_flipped_filters": "conv backward: dx uses flipped filters",
    "conv_backward.crop_one_side": "conv backward: padding cut from one side of dx only",
    "conv_backward.dx_keeps_padding": "conv backward: dx still includes the padding",
    "conv_backward.pad0_empty_crop": "conv backward: dx_pad[pad:-pad] is empty when pad == 0",
    "conv_backward.dx_overwrite": "conv backward: = instead of += in dx (overlapping windows)",
    "conv_backward.dw_overwrite": "conv backward: = instead of += in dw (last window only)",
    # max pooling
    "pool_forward.average": "pool: average instead of max",
    "pool_forward.minimum": "pool: minimum instead of max",
    "pool_forward.max_from_zero": "pool: running maximum starts at 0",
    "pool_forward.hw_swapped": "pool: pool_height and pool_width swapped",
    "pool_forward.stride_is_window": "pool: windows placed as if stride = window size",
    "pool_forward.size_no_stride": "pool: output size ignores the stride",
    "pool_forward.size_window_stride": "pool: output size uses the window as the stride",
    "pool_forward.size_floor_div": "pool: output size H // stride",
    "pool_backward.spread_average": "pool backward: gradient spread evenly (average-pool backward)",
    "pool_backward.spread_whole": "pool backward: whole gradient to every window position",
    "pool_backward.mask_only": "pool backward: marks the maxima with 1, no upstream gradient",
    "pool_backward.stride_is_window": "pool backward: windows placed as if stride = window size",
    "pool_backward.overwrite": "pool backward: = instead of += with overlapping windows",
    # batchnorm (N, D) and spatial
    "batchnorm.stats_axis1": "batchnorm: statistics over the features (axis 1)",
    "batchnorm.unbiased_var": "batchnorm: unbiased variance (ddof=1)",
    "batchnorm.eps_outside": "batchnorm: eps added to the std instead of the variance",
    "batchnorm.eps_missing": "batchnorm: eps missing",
    "batchnorm.gamma_beta_swapped": "batchnorm: gamma and beta swapped",
    "batchnorm.no_scale_shift": "batchnorm: gamma and beta not applied",
    "batchnorm.test_batch_stats": "batchnorm test mode: batch statistics instead of running averages",
    "batchnorm.test_no_scale_shift": "batchnorm test mode: gamma and beta dropped",
    "batchnorm.test_eps_missing": "batchnorm test mode: eps missing",
    "batchnorm.running_momentum_reversed": "running averages: momentum the other way round",
    "batchnorm.running_not_updated": "running averages not updated",
    "batchnorm.running_replaced": "running averages replaced by the batch statistic",
    "batchnorm_backward.constant_stats": "batchnorm backward: mean and variance treated as constants",
    "batchnorm_backward.no_mean_term": "batchnorm backward: the term through the mean is missing",
    "spatial_batchnorm.stats_over_n": "spatial batchnorm: statistics over N only",
    "spatial_batchnorm.stats_per_example_channel": "spatial batchnorm: statistics over H, W only",
    "spatial_batchnorm.stats_per_example": "spatial batchnorm: statistics per example",
    "spatial_batchnorm.stats_whole_batch": "spatial batchnorm: one mean for the whole batch",
    "spatial_batchnorm.reshape_without_transpose": "spatial batchnorm: reshaped to (N*H*W, C) without the transpose",
    "spatial_batchnorm.not_transposed_back": "spatial batchnorm: output reshaped back without the transpose",
    "spatial_batchnorm_backward.dx_not_transposed_back": "spatial batchnorm backward: dx reshaped back without the transpose",
    "spatial_batchnorm_backward.dout_reshape_without_transpose": "spatial batchnorm backward: dout reshaped without the transpose",
    # group norm
    "group_norm.interleaved_groups": "group norm: channel c in group c % G (strided groups)",
    "group_norm.ignores_G": "group norm: G ignored (one group)",
    "group_norm.per_channel": "group norm: every channel normalized on its own",
    "group_norm.batch_stats": "group norm: statistics over the batch, as batchnorm",
    "group_norm.eps_outside": "group norm: eps added to the std instead of the variance",
    "group_norm.stats_across_groups": "group norm: statistics over the group axis (across groups)",
    "group_norm.groups_mix_examples": "group norm: x.reshape(G, -1) mixes the examples",
    "group_norm.stats_channels_only": "group norm: statistics over the group's channels, not H and W",
    "group_norm_backward.per_channel": "group norm backward: sums per channel, not per group",
    "group_norm_backward.whole_example": "group norm backward: sums over the whole example",
    "group_norm_backward.constant_stats": "group norm backward: mean and variance treated as constants",
    "group_norm_backward.no_mean_term": "group norm backward: the term through the mean is missing",
    # affine, ReLU
    "affine_forward.no_bias": "affine: the bias is not added",
    "relu_backward.passes_at_zero": "ReLU backward: gradient passes at x == 0",
    "relu_backward.mask_only": "ReLU backward: the mask without dout",
    # softmax, network
    "softmax_loss.summed": "softmax loss summed, not averaged over N",
    "softmax_loss.no_max_shift": "softmax without subtracting the row maximum (overflow)",
    "convnet.reg_no_half": "regularization without the 0.5",
    "convnet.reg_biases": "biases regularized too",
    "convnet.reg_missing": "regularization not added to the loss",
    "convnet.reg_one_layer": "only one weight matrix regularized",
    "convnet.reg_grad_missing": "regularization gradient reg * W missing",
    "convnet.reg_grad_biases": "regularization gradient on the biases",
    # exceptions of student code
    "numpy2.removed_alias": "numpy 2: np.int / np.float / np.bool ... aliases are gone",
    "numpy2.removed_name": "numpy 2: a name removed in NumPy 2.0 (np.float_, np.NaN, ...)",
    "numpy2.removed_method": "numpy 2: an ndarray method removed in NumPy 2.0",
    "numpy2.reshape_newshape": "numpy 2: np.reshape(..., newshape=...) keyword removed",
    "numpy2.copy_false": "numpy 2: np.array(..., copy=False) raises when a copy is needed",
    "numpy2.lib_namespace": "numpy 2: np.lib.<name> (np.lib.pad, ...) is gone, use np.<name>",
    "numpy.array_to_scalar": "numpy 2.4: int() / float() of an array with ndim > 0 raises",
    "numpy.sequence_into_element": "numpy 2.4: an array assigned to one element raises",
    # found by the grader's other checks or by comparing cases (grader/pointers.py)
    "shape.slip": "a shape slip: right values, shape off by axes of size 1",
    "shape.extra_axes": "extra leading axes: an operand of another shape was broadcast in",
    "dependency.fix_first": "uses another graded function that fails its own check: fix it first",
    "exception.float_size": "a size or index computed with / (a float) instead of //",
    "exception.array_to_scalar_many": "int() / float() of an array with several elements "
                                      "(e.g. np.where finding tied maxima)",
    "conv_backward.pad_fixed_one": "conv backward: padding of 1 hard-coded in dx",
    "pool_backward.max_lookup_outside": "pool backward: the window's maximum looked up outside the window",
    "batchnorm.test_eps_outside": "batchnorm test mode: eps added to the std instead of the variance",
    "batchnorm.running_var_eps": "running variance updated with var + eps",
    "softmax_loss.log_epsilon": "softmax loss: a small constant added inside the log",
    "pattern.pad_zero": "fails exactly on the cases with pad = 0",
    "pattern.pad_not_one": "fails exactly on the cases whose pad is not 1",
    "pattern.stride_gt_1": "fails exactly on the cases with stride > 1",
    "pattern.nonsquare_kernel": "fails exactly on the cases with non-square filters",
    "pattern.nonsquare_input": "fails exactly on the cases with a non-square input",
    "pattern.nonsquare_output": "fails exactly on the cases with a non-square output",
    "pattern.untiled": "fails exactly on the cases whose windows do not tile the input",
    "pattern.batch_one": "fails exactly on the cases with a batch of one",
    "pattern.float32": "fails exactly on the float32 cases",
    "pattern.equal_dims": "fails exactly on the cases with two equal dimensions",
    "pattern.rect_window": "fails exactly on the cases with rectangular pooling windows",
    "pattern.overlapping": "fails exactly on the cases with overlapping windows",
    "pattern.g_one": "fails exactly on the cases with G = 1",
    "pattern.g_equals_c": "fails exactly on the cases with G = C",
    "pattern.test_mode": "fails exactly on the test-mode cases",
    "pattern.custom_eps": "fails exactly on the cases with a non-default eps",
    "pattern.custom_momentum": "fails exactly on the cases with a non-default momentum",
    "pattern.one_d": "fails exactly on the cases with a 1-D input",
    "pattern.large_scores": "fails exactly on the cases with large scores",
    "pattern.channels_not_3": "fails exactly on the nets whose input does not have 3 channels",
    "pattern.max_elsewhere": "fails exactly on the cases where a window's maximum also occurs elsewhere",
}

class Cause(str):
    """A likely cause: its text (what the student reads) with its stable key (`CAUSES`)."""

    def __new__(cls, key, text):
        if key not in CAUSES:
            raise KeyError(f"unknown diagnosis key {key!r} (add it to grader.diagnoses.CAUSES)")
        self = super().__new__(cls, text)
        self.key = key
        return self

    def __reduce__(self):
        return (Cause, (self.key, str(self)))


# conv backward: dx_pad[:, :, pad:-pad, pad:-pad] at pad = 0, whether the empty crop is returned
# (a wrong shape) or assigned into dx (a broadcast error of the student's code).
PAD0_EMPTY_CROP = Cause("conv_backward.pad0_empty_crop",
                        "with pad = 0, dx_pad[:, :, pad:-pad, pad:-pad] is empty: -0 is 0, so "
                        "the slice pad:-pad is 0:0. Cut with pad:pad + H and pad:pad + W (or "
                        "skip the cut when pad == 0)")


def key_of(cause):
    """The stable key of a likely cause (every cause the checks give is a Cause)."""
    return getattr(cause, "key", None) or "unkeyed"


# ----------------------------------------------------------------------------------------------
# Convolution (cross-correlation) and pooling, direct formulas
# ----------------------------------------------------------------------------------------------

def conv(x, w, b, stride, pad, window_stride=None):
    """out[n, f, i, j] = sum_{c,a,b} x_pad[n, c, i*s + a, j*s + b] w[f, c, a, b] + b[f].

    window_stride: where the windows start (i * window_stride); the real layer uses `stride`.
    """
    s = stride if window_stride is None else window_stride
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for a in range(HH):
        for c in range(WW):
            patch = xp[:, :, a:a + s * (Ho - 1) + 1:s, c:c + s * (Wo - 1) + 1:s]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, a, c])
    return out + np.asarray(b, dtype=np.float64)[None, :, None, None]


def conv_one_side(x, w, b, stride, pad, before):
    """`conv` with all 2 * pad zeros on one side (before=True: top/left) of each axis."""
    where = (2 * pad, 0) if before else (0, 2 * pad)
    return conv(np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), where, where)), w, b,
                stride, 0)


def conv_backward(x, w, dout, stride, pad, window_stride=None, keep_padding=False):
    """(dx, dw, db) of `conv` for upstream dout; window_stride as in `conv`; keep_padding=True
    returns dx of the padded input."""
    s = stride if window_stride is None else window_stride
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for a in range(HH):
        for c in range(WW):
            rows = slice(a, a + s * (Ho - 1) + 1, s)
            cols = slice(c, c + s * (Wo - 1) + 1, s)
            dw[:, :, a, c] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, a, c])
    dx = dxp if keep_padding else dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def pool_windows(x, ph, pw, stride):
    """Array (N, C, H', W', ph * pw) of the pooling windows."""
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo, ph * pw))
    for a in range(ph):
        for c in range(pw):
            out[..., a * pw + c] = x[:, :, a:a + stride * (Ho - 1) + 1:stride,
                                     c:c + stride * (Wo - 1) + 1:stride]
    return out


def avg_pool(x, ph, pw, stride):
    """Average pooling: what a max pool written as a mean returns."""
    return pool_windows(x, ph, pw, stride).mean(axis=-1)


def max_pool(x, ph, pw, stride):
    """Max pooling, to simulate the mistakes made with wrong window arguments."""
    return pool_windows(x, ph, pw, stride).max(axis=-1)


def max_pool_backward(x, dout, ph, pw, stride, accumulate=True, spread=False, steps=None,
                      whole_window=False):
    """dx of max pooling; accumulate=False overwrites where windows overlap (the bug): the
    window's non-zero entries, or its whole block with whole_window=True (dx[...] = mask * d);
    spread=True sends dout / (ph*pw) to every window position (average-pool backward);
    steps=(sr, sc) places window (i, j) at (i * sr, j * sc) instead of using the stride."""
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2:]
    sr, sc = steps or (stride, stride)
    dx = np.zeros(x.shape)
    for i in range(Ho):
        for j in range(Wo):
            r, c = i * sr, j * sc
            if r + ph > H or c + pw > W:
                continue
            window = x[:, :, r:r + ph, c:c + pw].reshape(N, C, -1)
            if spread:
                part = np.repeat(dout[:, :, i, j][:, :, None], ph * pw, axis=2) / (ph * pw)
            else:
                part = (np.arange(ph * pw) == window.argmax(axis=2)[:, :, None]) * dout[:, :, i, j][:, :, None]
            part = part.reshape(N, C, ph, pw)
            if accumulate:
                dx[:, :, r:r + ph, c:c + pw] += part
            elif whole_window:
                dx[:, :, r:r + ph, c:c + pw] = part
            else:
                target = dx[:, :, r:r + ph, c:c + pw]
                target[part != 0] = part[part != 0]
    return dx


# ----------------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------------

def normalize(x, axes, eps, ddof=0, eps_outside=False):
    """(x - mean) / sqrt(var + eps) with the statistics over `axes`."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    if eps_outside:
        return (x - mean) / (np.sqrt(var) + eps)
    return (x - mean) / np.sqrt(var + eps)


def scale_shift(x_hat, gamma, beta, channel_axis=1):
    """gamma * x_hat + beta with gamma and beta along `channel_axis`."""
    shape = [1] * x_hat.ndim
    shape[channel_axis] = -1
    return x_hat * np.reshape(gamma, shape) + np.reshape(beta, shape)


def spatial_bn_variants(x, gamma, beta, eps):
    """(cause, output) of spatial batchnorm computed with the statistics over wrong axes."""
    out = []
    for axes, key, text in (
            ((0,), "spatial_batchnorm.stats_over_n", "statistics over N only (per channel and "
             "position): they should be over N, H and W for each channel"),
            ((2, 3), "spatial_batchnorm.stats_per_example_channel", "statistics per example "
             "and channel (over H, W only): they should be over N, H and W for each channel"),
            ((1, 2, 3), "spatial_batchnorm.stats_per_example", "statistics per example (over "
             "C, H, W): they should be over N, H and W for each channel"),
            ((0, 1, 2, 3), "spatial_batchnorm.stats_whole_batch", "one mean and variance for "
             "the whole batch: they should be per channel")):
        out.append((Cause(key, text), scale_shift(normalize(x, axes, eps), gamma, beta)))
    out.append((Cause("batchnorm.unbiased_var", "the variance is the unbiased one (ddof=1): "
                      "batchnorm uses the biased variance"),
                scale_shift(normalize(x, (0, 2, 3), eps, ddof=1), gamma, beta)))
    out.append((Cause("batchnorm.eps_outside", "eps is added to the standard deviation instead "
                      "of the variance (use sqrt(var + eps))"),
                scale_shift(normalize(x, (0, 2, 3), eps, eps_outside=True), gamma, beta)))
    out.append((Cause("batchnorm.eps_missing", "eps is missing"),
                scale_shift(normalize(x, (0, 2, 3), 0.0), gamma, beta)))
    out.append((Cause("batchnorm.gamma_beta_swapped", "gamma and beta are swapped"),
                scale_shift(normalize(x, (0, 2, 3), eps), beta, gamma)))
    out.append((Cause("batchnorm.no_scale_shift", "gamma and beta are not applied: the output "
                      "is gamma * x_hat + beta"), normalize(x, (0, 2, 3), eps)))
    return out


def to_columns(x, transpose=True):
    """(N, C, H, W) -> (N*H*W, C) channel columns; transpose=False: x.reshape(-1, C) (the bug)."""
    C = x.shape[1]
    return x.transpose(0, 2, 3, 1).reshape(-1, C) if transpose else x.reshape(-1, C)


def from_columns(columns, shape, transpose=True):
    """Inverse of to_columns; transpose=False: columns.reshape(N, C, H, W) (the bug)."""
    N, C, H, W = shape
    if transpose:
        return columns.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return columns.reshape(shape)


def batchnorm_columns(columns, gamma, beta, bn_param):
    """batchnorm of (M, C) columns as the notebook defines it, train or test mode."""
    columns = np.asarray(columns, dtype=np.float64)
    eps = bn_param.get("eps", 1e-5)
    if bn_param.get("mode") == "test":
        x_hat = (columns - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
    else:
        x_hat = normalize(columns, (0,), eps)
    return x_hat * np.reshape(gamma, -1) + np.reshape(beta, -1)


def spatial_bn_layouts(x, gamma, beta, bn_param):
    """(cause, output) of spatial batchnorm with the channels-last rearrangement done wrong."""
    shape = x.shape
    return [
        (Cause("spatial_batchnorm.reshape_without_transpose",
               "x.reshape(-1, C) without moving the channels last first: its columns are not "
               "the channels; use x.transpose(0, 2, 3, 1).reshape(-1, C)"),
         lambda: from_columns(batchnorm_columns(to_columns(x, False), gamma, beta, bn_param),
                              shape, False)),
        (Cause("spatial_batchnorm.not_transposed_back",
               "the output columns are reshaped straight to (N, C, H, W): reshape to "
               "(N, H, W, C) and transpose(0, 3, 1, 2) back"),
         lambda: from_columns(batchnorm_columns(to_columns(x), gamma, beta, bn_param),
                              shape, False)),
    ]


def running_average_layouts(batches, momentum, key):
    """(cause, running average `key` after training on `batches`) with the channels-last
    rearrangement done wrong (running averages start at zeros, as in the notebook)."""
    def run(transpose):
        avg = 0.0
        for x in batches:
            cols = to_columns(np.asarray(x, dtype=np.float64), transpose)
            stat = cols.mean(axis=0) if key == "running_mean" else cols.var(axis=0)
            avg = momentum * avg + (1 - momentum) * stat
        return avg
    return [(Cause("spatial_batchnorm.reshape_without_transpose",
                   "x.reshape(-1, C) without moving the channels last first: the statistics "
                   "(and so the running averages) are not per channel; use "
                   "x.transpose(0, 2, 3, 1).reshape(-1, C)"), lambda: run(False))]


def batchnorm_backward_columns(x_columns, gamma, dcolumns, eps):
    """dx of train-mode batchnorm over (M, C) columns."""
    x_hat = normalize(x_columns, (0,), eps)
    inv_std = 1.0 / np.sqrt(np.asarray(x_columns, dtype=np.float64).var(axis=0) + eps)
    d_hat = dcolumns * np.reshape(gamma, -1)
    m = x_hat.shape[0]
    return (inv_std / m) * (m * d_hat - d_hat.sum(axis=0) - x_hat * (d_hat * x_hat).sum(axis=0))


def spatial_bn_backward_layouts(x, gamma, dout, eps, expected_dx):
    """(cause, dx) of spatial batchnorm backward with the rearrangement done wrong."""
    shape = x.shape
    cols = to_columns(np.asarray(x, dtype=np.float64))
    return [
        (Cause("spatial_batchnorm_backward.dx_not_transposed_back",
               "dx is reshaped from (N*H*W, C) straight to (N, C, H, W): reshape to "
               "(N, H, W, C) and transpose(0, 3, 1, 2) back, as in the forward pass"),
         lambda: from_columns(to_columns(expected_dx), shape, False)),
        (Cause("spatial_batchnorm_backward.dout_reshape_without_transpose",
               "dout.reshape(-1, C) without moving the channels last first: its columns are "
               "not the channels; use dout.transpose(0, 2, 3, 1).reshape(-1, C)"),
         lambda: from_columns(batchnorm_backward_columns(cols, gamma, to_columns(dout, False),
                                                         eps), shape)),
        (Cause("spatial_batchnorm_backward.dout_reshape_without_transpose",
               "dout and dx are reshaped without the transposes: move the channels last "
               "before reshaping to (N*H*W, C), and back after"),
         lambda: from_columns(batchnorm_backward_columns(cols, gamma, to_columns(dout, False),
                                                         eps), shape, False)),
    ]


def batchnorm_test_variants(x, gamma, beta, bn_param, channel_axis=1):
    """(cause, output) of test-mode batchnorm mistakes, for x (N, D) or (N, C, H, W)."""
    eps = bn_param.get("eps", 1e-5)
    axes = (0,) if np.ndim(x) == 2 else (0, 2, 3)
    shape = [1] * np.ndim(x)
    shape[channel_axis] = -1
    mean = np.reshape(bn_param["running_mean"], shape)
    var = np.reshape(bn_param["running_var"], shape)
    x64 = np.asarray(x, dtype=np.float64)
    return [
        (Cause("batchnorm.test_batch_stats",
               "test mode normalizes with the batch's own mean and variance; it must use "
               "bn_param['running_mean'] and bn_param['running_var']"),
         lambda: scale_shift(normalize(x, axes, eps), gamma, beta, channel_axis)),
        (Cause("batchnorm.test_no_scale_shift",
               "test mode returns the normalized x without gamma and beta: the output is "
               "gamma * x_hat + beta in both modes"),
         lambda: (x64 - mean) / np.sqrt(var + eps)),
        (Cause("batchnorm.test_eps_missing",
               "test mode divides by sqrt(running_var) without eps: use "
               "sqrt(running_var + eps)"),
         lambda: scale_shift((x64 - mean) / np.sqrt(var), gamma, beta, channel_axis)),
        (Cause("batchnorm.test_eps_outside",
               "test mode divides by sqrt(running_var) + eps: eps belongs inside the square "
               "root, sqrt(running_var + eps), as in training mode"),
         lambda: scale_shift((x64 - mean) / (np.sqrt(var) + eps), gamma, beta, channel_axis)),
        (Cause("batchnorm.test_batch_stats",
               "test mode normalizes with the batch statistics and drops gamma and beta: use "
               "the running averages, then gamma * x_hat + beta"),
         lambda: normalize(x, axes, eps)),
    ]


def group_norm(x, gamma, beta, G, eps, interleaved=False):
    """Group norm; interleaved=True puts channel c in group c % G (the bug) instead of c // (C/G)."""
    N, C, H, W = x.shape
    x = np.asarray(x, dtype=np.float64)
    if interleaved:
        groups = x.reshape(N, C // G, G, H, W)
        x_hat = normalize(groups, (1, 3, 4), eps).reshape(x.shape)
    else:
        x_hat = normalize(x.reshape(N, G, -1), (2,), eps).reshape(x.shape)
    return x_hat * np.reshape(gamma, (1, C, 1, 1)) + np.reshape(beta, (1, C, 1, 1))


def group_norm_variants(x, gamma, beta, G, eps):
    """(cause, output) of spatial group norm with known mistakes."""
    N, C, H, W = x.shape
    x = np.asarray(x, dtype=np.float64)
    g, b = np.reshape(gamma, -1), np.reshape(beta, -1)
    out = []
    if 1 < G < C:
        out.append((Cause("group_norm.interleaved_groups",
                          "channel c is put in group c % G; groups are runs of C // G "
                          "consecutive channels (reshape x to (N, G, C // G, H, W))"),
                    group_norm(x, gamma, beta, G, eps, interleaved=True)))
    out.append((Cause("group_norm.stats_channels_only",
                      "the statistics are over the channels of each group only (per pixel); "
                      "they are over its channels and all H x W positions"),
                lambda: scale_shift(normalize(x.reshape(N, G, C // G, H, W), (2,), eps)
                                    .reshape(x.shape), g, b)))
    out.append((Cause("group_norm.stats_across_groups",
                      "the statistics are taken across the groups (over the group axis); they "
                      "are over the C // G channels and H x W positions within each group "
                      "(axis 2 of x.reshape(N, G, -1))"),
                lambda: scale_shift(normalize(x.reshape(N, G, -1), (1,), eps)
                                    .reshape(x.shape), g, b)))
    if G != 1:
        out.append((Cause("group_norm.ignores_G", "G is ignored: all channels of an example are "
                          "normalized together (G = 1)"),
                    group_norm(x, gamma, beta, 1, eps)))
    if G != C:
        out.append((Cause("group_norm.per_channel",
                          "every channel is normalized on its own (as if G = C): a group's "
                          "statistics cover all of its C // G channels"),
                    group_norm(x, gamma, beta, C, eps)))
    if N > 1:
        out.append((Cause("group_norm.groups_mix_examples",
                          "x.reshape(G, -1) puts parts of different examples in one group: "
                          "reshape to (N, G, -1), one row per (example, group)"),
                    lambda: scale_shift(normalize(x.reshape(G, -1), (1,), eps)
                                        .reshape(x.shape), g, b)))
    out.append((Cause("group_norm.batch_stats",
                      "statistics over the batch (N) as in batchnorm: group norm normalizes "
                      "each example on its own"),
                scale_shift(normalize(x.reshape(N, G, -1), (0, 2), eps).reshape(x.shape), g, b)))
    out.append((Cause("group_norm.eps_outside",
                      "eps is added to the standard deviation instead of the variance"),
                scale_shift(normalize(x.reshape(N, G, -1), (2,), eps, eps_outside=True)
                            .reshape(x.shape), g, b)))
    return out


def group_norm_backward(x, gamma, dout, G, eps, reduce_groups=None, mean_term=True):
    """dx of spatial group norm with G groups; the backward's sums run over `reduce_groups`
    runs of consecutive channels (the bug when != G: per channel = C, whole example = 1)."""
    N, C, H, W = x.shape
    R = G if reduce_groups is None else reduce_groups
    rows = np.asarray(x, dtype=np.float64).reshape(N, G, -1)
    inv_std = 1.0 / np.sqrt(rows.var(axis=2, keepdims=True) + eps)
    x_hat = ((rows - rows.mean(axis=2, keepdims=True)) * inv_std).reshape(N, R, -1)
    inv = np.broadcast_to(inv_std, rows.shape).reshape(N, R, -1)
    d_hat = (dout * np.reshape(gamma, (1, C, 1, 1))).reshape(N, R, -1)
    m = d_hat.shape[2]
    mean = d_hat.sum(axis=2, keepdims=True) if mean_term else 0.0
    dx = (inv / m) * (m * d_hat - mean - x_hat * (d_hat * x_hat).sum(axis=2, keepdims=True))
    return dx.reshape(N, C, H, W)


def group_norm_backward_variants(x, gamma, dout, G, eps):
    """(cause, dx) of known group norm backward mistakes."""
    N, C, H, W = x.shape
    out = []
    if G != C:
        out.append((Cause("group_norm_backward.per_channel",
                          "dx sums over each channel instead of each group: the sums of the "
                          "batchnorm-style formula run over the group's C // G channels and "
                          "H x W positions"),
                    lambda: group_norm_backward(x, gamma, dout, G, eps, reduce_groups=C)))
    if G != 1:
        out.append((Cause("group_norm_backward.whole_example",
                          "dx sums over all channels of an example instead of each group"),
                    lambda: group_norm_backward(x, gamma, dout, G, eps, reduce_groups=1)))
    out.append((Cause("group_norm_backward.no_mean_term",
                      "dx misses the term from the group mean (- sum of dx_hat over the group)"),
                lambda: group_norm_backward(x, gamma, dout, G, eps, mean_term=False)))

    def constant():
        rows = np.asarray(x, dtype=np.float64).reshape(N, G, -1)
        inv = np.broadcast_to(1.0 / np.sqrt(rows.var(axis=2, keepdims=True) + eps), rows.shape)
        return dout * np.reshape(gamma, (1, C, 1, 1)) * inv.reshape(x.shape)
    out.append((Cause("group_norm_backward.constant_stats",
                      "dx treats the group mean and variance as constants; they depend on "
                      "every x of the group"), constant))
    return out


def softmax_log_epsilon(x, y):
    """(cause, loss) of softmax losses computed as -log(p + eps) for the small constants
    students add "to avoid log(0)": it changes the loss wherever a probability is tiny."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=1)[:, None])
    p_right = e[np.arange(len(y)), y] / e.sum(axis=1)
    cause = Cause("softmax_loss.log_epsilon",
                  "the loss matches -log(p + eps) with a small eps added inside the log: where "
                  "the right class's probability is tiny (large scores), eps changes the loss; "
                  "compute it as log(sum(exp(x - max))) - (x[y] - max), which never takes the "
                  "log of 0")
    return [(cause, -np.mean(np.log(p_right + eps)))
            for eps in (1e-30, 1e-20, 1e-15, 1e-12, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5)]


def max_pool_backward_lookup(x, dout, ph, pw, stride, scope):
    """dx of max-pool backward that finds each window's maximum by its value in the whole
    channel (scope "channel") or the whole input ("all") instead of inside the window."""
    x = np.asarray(x, dtype=np.float64)
    Ho, Wo = dout.shape[2:]
    top = pool_windows(x, ph, pw, stride).max(axis=-1)
    dx = np.zeros(x.shape)
    for n, c, i, j in np.ndindex(top.shape):
        if scope == "channel":
            dx[n, c] += (x[n, c] == top[n, c, i, j]) * dout[n, c, i, j]
        else:
            dx += (x == top[n, c, i, j]) * dout[n, c, i, j]
    return dx


def softmax_unshifted(x, y):
    """(cause, loss) of softmax losses computed without subtracting each row's maximum:
    exp overflows to inf for scores above ~709, which gives inf or NaN."""
    x = np.asarray(x, dtype=np.float64)
    rows = np.arange(len(y))
    cause = Cause("softmax_loss.no_max_shift",
                  "exp of the raw scores: without subtracting each row's maximum first, exp "
                  "overflows on large scores (inf / NaN) and loses precision; softmax does not "
                  "change when a row is shifted, so use x - x.max(axis=1, keepdims=True)")

    def probs_way():
        with np.errstate(all="ignore"):
            e = np.exp(x)
            return -np.mean(np.log(e[rows, y] / e.sum(axis=1)))

    def log_sum_exp_way():
        with np.errstate(all="ignore"):
            return np.mean(np.log(np.exp(x).sum(axis=1)) - x[rows, y])
    return [(cause, probs_way), (cause, log_sum_exp_way)]


def conv_dx_overwrite(x, w, dout, stride, pad, last_filter=False):
    """dx of conv backward where each window's gradient overwrites (=) instead of adding (+=);
    last_filter=True: the loop over filters overwrites too (only filter F-1 is left)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(Ho):
        for j in range(Wo):
            r, c = i * stride, j * stride
            if last_filter:
                part = dout[:, -1, i, j][:, None, None, None] * w[-1][None]
            else:
                part = np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
            dxp[:, :, r:r + HH, c:c + WW] = part
    return dxp[:, :, pad:pad + H, pad:pad + W]


def conv_dw_last_window(x, w, dout, stride, pad):
    """dw of conv backward with = instead of += over the windows: the last window only."""
    HH, WW = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    r, c = (Ho - 1) * stride, (Wo - 1) * stride
    return np.einsum("nf,nchw->fchw", dout[:, :, -1, -1], xp[:, :, r:r + HH, c:c + WW])


# ----------------------------------------------------------------------------------------------
# Exceptions of student code: names that numpy 2 no longer has
# ----------------------------------------------------------------------------------------------

# np.<alias> of a builtin, removed in NumPy 1.24 (deprecated since 1.20), not in NumPy 2 either.
# np.bool is back in NumPy 2 (as np.bool_), so it fails only on NumPy 1.24-1.26.
NUMPY_ALIASES = {"int": "int (or np.int64)", "float": "float (or np.float64)",
                 "bool": "bool (or np.bool_)", "object": "object", "str": "str",
                 "complex": "complex (or np.complex128)", "long": "int", "unicode": "str"}
# Names removed in NumPy 2.0, with what replaces them (NumPy 2.0 migration guide).
NUMPY2_REMOVED = {
    "float_": "np.float64", "complex_": "np.complex128", "cfloat": "np.complex128",
    "singlecomplex": "np.complex64", "longfloat": "np.longdouble", "string_": "np.bytes_",
    "unicode_": "np.str_", "int0": "np.intp", "uint0": "np.uintp", "bool8": "np.bool_",
    "NaN": "np.nan", "NAN": "np.nan", "Inf": "np.inf", "Infinity": "np.inf",
    "infty": "np.inf", "PINF": "np.inf", "NINF": "-np.inf", "PZERO": "0.0", "NZERO": "-0.0",
    "alltrue": "np.all", "sometrue": "np.any", "product": "np.prod",
    "cumproduct": "np.cumprod", "round_": "np.round", "asfarray": "np.asarray(x, dtype=float)",
    "in1d": "np.isin", "trapz": "np.trapezoid", "msort": "np.sort(a, axis=0)",
    "mat": "np.asmatrix", "asscalar": "a.item()", "find_common_type": "np.result_type",
    "cast": "np.asarray(x, dtype=...)",
}
# The names of NUMPY2_REMOVED that NumPy 2.0 only deprecated; the release that removed them
# (from the one table of uses that warn on one numpy and fail on a newer one).
REMOVED_LATER = {c.key: c.raises_from for c in numpy_notes.CHANGES if c.key in NUMPY2_REMOVED}
NDARRAY_REMOVED = {"ptp": "np.ptp(a)", "itemset": "a[index] = value",
                   "newbyteorder": "a.view(a.dtype.newbyteorder())"}


def exception_causes(etype, message):
    """Likely causes of an exception raised by student code (type name and message as the
    worker reports them): names and keywords that numpy 2 removed."""
    text = str(message or "")
    found = []
    m = re.search(r"module 'numpy' has no attribute '(\w+)'", text)
    removed = re.search(r"`np\.(\w+)` was removed in the NumPy 2\.0 release\. ?(.*?\.)(?: |$)",
                        text)
    if m and m.group(1) in NUMPY_ALIASES:
        name = m.group(1)
        found.append(Cause("numpy2.removed_alias",
                           f"np.{name} was removed from NumPy (it was only an alias of the "
                           f"builtin {name}; gone since NumPy 1.24, and NumPy 2 does not have "
                           f"it): use {NUMPY_ALIASES[name]}"))
    elif m and m.group(1) in NUMPY2_REMOVED:
        name = m.group(1)
        found.append(Cause("numpy2.removed_name", f"np.{name} was removed in NumPy "
                           f"{REMOVED_LATER.get(name, '2.0')}: use {NUMPY2_REMOVED[name]} "
                           f"instead"))
    elif removed:
        name, advice = removed.group(1), removed.group(2).strip()
        replacement = NUMPY2_REMOVED.get(name)
        found.append(Cause("numpy2.removed_name", f"np.{name} was removed in NumPy 2.0: "
                           + (f"use {replacement} instead" if replacement else advice)))
    m = re.search(r"'numpy\.ndarray' object has no attribute '(\w+)'", text)
    if m and m.group(1) in NDARRAY_REMOVED:
        found.append(Cause("numpy2.removed_method",
                           f"ndarray.{m.group(1)} was removed in NumPy 2.0: use "
                           f"{NDARRAY_REMOVED[m.group(1)]}"))
    change = numpy_notes.change_for_error(text)
    if etype == "TypeError" and change and change.key == "reshape_newshape":
        found.append(Cause("numpy2.reshape_newshape",
                           f"the newshape= keyword of np.reshape was deprecated in NumPy 2.1 "
                           f"and removed in {change.raises_from}: pass the shape positionally, "
                           f"{change.fix}"))
    if "Unable to avoid copy while creating an array" in text:
        found.append(Cause("numpy2.copy_false",
                           "in NumPy 2, np.array(x, copy=False) raises when a copy is needed "
                           "(in NumPy 1 it meant 'copy only if needed'): use np.asarray(x)"))
    return found + newer_numpy_causes(etype, text) + float_size_causes(etype, text)


def newer_numpy_causes(etype, text):
    """Causes of exceptions from the numpy.lib clean-up (2.0) and scalar conversion (2.4)."""
    m = re.search(r"module 'numpy\.lib' has no attribute '(\w+)'", text)
    if m and hasattr(np, m.group(1)):
        return [Cause("numpy2.lib_namespace",
                      f"np.lib.{m.group(1)} was removed in NumPy 2.0 (numpy.lib now holds only "
                      f"submodules): use np.{m.group(1)}")]
    change = numpy_notes.change_for_error(text)
    if etype == "TypeError" and change and change.key == "array_to_scalar":
        return [Cause("numpy.array_to_scalar",
                      f"int() or float() of an array that is not 0-dimensional: NumPy 1.25 "
                      f"deprecated it even for one element (e.g. the result of np.where or a "
                      f"(1, 1) product) and NumPy {change.raises_from} raises; take the element "
                      f"with {change.fix} (with np.where on a window, several positions may "
                      f"hold the maximum: pick one, e.g. with np.argmax)")]
    if etype == "TypeError" and "only length-1 arrays can be converted" in text:
        return [Cause("exception.array_to_scalar_many",
                      "int() or float() of an array with more than one element: e.g. np.where "
                      "on a pooling window returns every position holding the maximum, and a "
                      "window with tied maxima has several; pick one position (np.argmax of "
                      "the window, then np.unravel_index)")]
    if etype == "ValueError" and "setting an array element with a sequence" in text:
        return [Cause("numpy.sequence_into_element",
                      "an array was assigned to a single element: NumPy 1.25 deprecated "
                      "assigning a one-element array (such as the (1, 1) result of a (1, K) @ "
                      "(K, 1) product) and NumPy 2.4 raises; assign a number (a.item(), "
                      "np.sum(a * b)), or fix the shapes if the array has more elements")]
    return []


def float_size_causes(etype, text):
    """Causes of exceptions from sizes or indices that are floats (/ instead of //)."""
    if etype in ("TypeError", "IndexError") and re.search(
            r"'float' object cannot be interpreted as an integer|slice indices must be "
            r"integers|only integers, slices .* are valid indices", text):
        return [Cause("exception.float_size",
                      "a float where NumPy or range() needs an integer: a size or index "
                      "computed with / is a float even when it divides exactly; use // (or "
                      "int(...)) for the output size H' = 1 + (H + 2 * pad - HH) // stride")]
    return []


def batchnorm_dx_constant_stats(x, gamma, dout, axes, eps):
    """dx if the batch mean and variance were treated as constants (a frequent backward bug)."""
    var = np.asarray(x, dtype=np.float64).var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return dout * np.reshape(gamma, shape) / np.sqrt(var + eps)
