"""Known mistakes, simulated: what a wrong implementation would output for a case's inputs.

compare.assert_close reports a mistake as the likely cause when the student's result matches
its simulation. These functions are small direct numpy formulas used only to explain a
failure; the points always come from the reference fixtures.
"""
import numpy as np


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
    return pool_windows(x, ph, pw, stride).mean(axis=-1)


def max_pool(x, ph, pw, stride):
    return pool_windows(x, ph, pw, stride).max(axis=-1)


def max_pool_backward(x, dout, ph, pw, stride, accumulate=True, spread=False, steps=None):
    """dx of max pooling; accumulate=False overwrites where windows overlap (the bug);
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
    shape = [1] * x_hat.ndim
    shape[channel_axis] = -1
    return x_hat * np.reshape(gamma, shape) + np.reshape(beta, shape)


def spatial_bn_variants(x, gamma, beta, eps):
    """(cause, output) of spatial batchnorm computed with the statistics over wrong axes."""
    out = []
    for axes, cause in (((0,), "statistics over N only (per channel and position): they should "
                                "be over N, H and W for each channel"),
                        ((2, 3), "statistics per example and channel (over H, W only): they "
                                 "should be over N, H and W for each channel"),
                        ((1, 2, 3), "statistics per example (over C, H, W): they should be over "
                                    "N, H and W for each channel"),
                        ((0, 1, 2, 3), "one mean and variance for the whole batch: they should "
                                       "be per channel")):
        out.append((cause, scale_shift(normalize(x, axes, eps), gamma, beta)))
    out.append(("the variance is the unbiased one (ddof=1): batchnorm uses the biased variance",
                scale_shift(normalize(x, (0, 2, 3), eps, ddof=1), gamma, beta)))
    out.append(("eps is added to the standard deviation instead of the variance "
                "(use sqrt(var + eps))",
                scale_shift(normalize(x, (0, 2, 3), eps, eps_outside=True), gamma, beta)))
    out.append(("eps is missing", scale_shift(normalize(x, (0, 2, 3), 0.0), gamma, beta)))
    out.append(("gamma and beta are swapped", scale_shift(normalize(x, (0, 2, 3), eps), beta, gamma)))
    return out


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
    out = []
    if 1 < G < C:
        out.append(("channel c is put in group c % G; groups are runs of C // G consecutive "
                    "channels (reshape x to (N, G, C // G, H, W))",
                    group_norm(x, gamma, beta, G, eps, interleaved=True)))
    if G != 1:
        out.append(("G is ignored: all channels of an example are normalized together (G = 1)",
                    group_norm(x, gamma, beta, 1, eps)))
    if G != C:
        out.append(("every channel is normalized on its own (as if G = C)",
                    group_norm(x, gamma, beta, C, eps)))
    out.append(("statistics over the batch (N) as in batchnorm: group norm normalizes each "
                "example on its own",
                scale_shift(normalize(x.reshape(N, G, -1), (0, 2), eps).reshape(x.shape),
                            np.reshape(gamma, -1), np.reshape(beta, -1))))
    out.append(("eps is added to the standard deviation instead of the variance",
                scale_shift(normalize(x.reshape(N, G, -1), (2,), eps, eps_outside=True)
                            .reshape(x.shape), np.reshape(gamma, -1), np.reshape(beta, -1))))
    return out


def batchnorm_dx_constant_stats(x, gamma, dout, axes, eps):
    """dx if the batch mean and variance were treated as constants (a frequent backward bug)."""
    var = np.asarray(x, dtype=np.float64).var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return dout * np.reshape(gamma, shape) / np.sqrt(var + eps)
