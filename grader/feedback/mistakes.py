"""Known mistakes, simulated: what a wrong implementation would output for a case's inputs.

compare.assert_close reports a mistake as the likely cause when the student's result matches its
simulation. These functions are small direct numpy formulas used only to explain a failure; the
points always come from the reference fixtures. Their causes' keys are in grader/feedback/causes.py.
"""
import numpy as np

from grader.feedback.causes import Cause
from grader.reference import conv, pool_windows  # noqa: F401 - the simulators build on them


# ----------------------------------------------------------------------------------------------
# Convolution (cross-correlation) and pooling, direct formulas
# ----------------------------------------------------------------------------------------------

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


def avg_pool(x, ph, pw, stride):
    """Average pooling: what a max pool written as a mean returns."""
    return pool_windows(x, ph, pw, stride).mean(axis=-1)


def max_pool(x, ph, pw, stride):
    """Max pooling, to simulate the mistakes made with wrong window arguments."""
    return pool_windows(x, ph, pw, stride).max(axis=-1)


def max_pool_backward(x, dout, ph, pw, stride, accumulate=True, spread=False, steps=None,
                      whole_window=False, all_ties=False):
    """dx of max pooling; accumulate=False overwrites where windows overlap (the bug): the
    window's non-zero entries, or its whole block with whole_window=True (dx[...] = mask * d);
    spread=True sends dout / (ph*pw) to every window position (average-pool backward);
    steps=(sr, sc) places window (i, j) at (i * sr, j * sc) instead of using the stride;
    all_ties=True marks every position equal to the window's maximum (window == max)."""
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
            elif all_ties:
                part = (window == window.max(axis=2, keepdims=True)) * dout[:, :, i, j][:, :, None]
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


def max_pool_backward_shared_mask(x, dout, ph, pw, stride, accumulate=False):
    """dx of a backward that reads one mask of every window's maximum (as a forward builds it
    for the whole input) through each window: dx[window] = dout * mask[window] (+= with
    accumulate), so a window's gradient also lands on its neighbours' maxima."""
    N, C, _, _ = x.shape
    Ho, Wo = dout.shape[2:]
    mask = np.zeros(x.shape)
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(Ho):
        for j in range(Wo):
            k = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].reshape(
                N, C, -1).argmax(axis=2)
            mask[n, c, i * stride + k // pw, j * stride + k % pw] = 1
    dx = np.zeros(x.shape)
    for i in range(Ho):
        for j in range(Wo):
            block = (slice(None), slice(None), slice(i * stride, i * stride + ph),
                     slice(j * stride, j * stride + pw))
            part = mask[block] * dout[:, :, i, j][:, :, None, None]
            dx[block] = dx[block] + part if accumulate else part
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
    ] + [(cause, lambda e=e: scale_shift((x64 - mean) / np.sqrt(var + e), gamma, beta,
                                         channel_axis))
         for cause, e in wrong_eps(bn_param)]


def wrong_eps(params):
    """(cause, eps) of an eps other than the one the parameters give: a default other than
    1e-5 where they give none, or the default where they give one."""
    if "eps" in params:
        return [(Cause("batchnorm.wrong_eps", f"eps = {params['eps']:g} from the parameters is "
                       f"not used (the output fits eps = 1e-5): read it with .get('eps', 1e-5)"),
                 1e-5)]
    return [(Cause("batchnorm.wrong_eps", f"eps defaults to {e:g}: the default is 1e-5"), e)
            for e in (1e-3, 1e-4, 1e-6, 1e-7, 1e-8)]


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
    if C % G == 0 and C // G not in (1, G, C):
        out.append((Cause("group_norm.g_as_group_size",
                          f"G is used as the size of each group (groups of {G} channels, "
                          f"{C // G} groups); G is the number of groups (groups of C // G = "
                          f"{C // G} channels)"),
                    group_norm(x, gamma, beta, C // G, eps)))
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


def softmax_as_hinge(x, y):
    """(cause, loss) of a multiclass SVM (hinge) loss written where softmax belongs."""
    x = np.asarray(x, dtype=np.float64)
    n = len(y)
    right = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - right + 1)
    margins[np.arange(n), y] = 0
    return [(Cause("softmax_loss.hinge", "the loss is the multiclass SVM (hinge) loss, "
                   "max(0, s_j - s_y + 1) summed over the wrong classes; softmax is "
                   "-log(exp(s_y) / sum_j exp(s_j)), averaged over N"),
             float(margins.sum() / n))]


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


def batchnorm_dx_constant_stats(x, gamma, dout, axes, eps):
    """dx if the batch mean and variance were treated as constants (a frequent backward bug)."""
    var = np.asarray(x, dtype=np.float64).var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return dout * np.reshape(gamma, shape) / np.sqrt(var + eps)
