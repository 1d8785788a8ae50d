"""Reference formulas in plain numpy, shared by the case builders, the grading policy and the
simulated mistakes: the direct convolution, pooling windows and their tied maxima.

No student code and no fixture: small formulas the grader itself trusts to draw inputs away from
kinks and ties (grader/casebuild.py), to judge ties (grader/feedback/policy.py) and to build the
simulated mistakes (grader/feedback/mistakes.py).
"""
import numpy as np


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


def pool_windows_max(x, ph, pw, stride):
    """(is_max (N, C, Ho, Wo, ph*pw) boolean, number of maxima per window)."""
    win = pool_windows(np.asarray(x, dtype=np.float64), ph, pw, stride)
    is_max = win == win.max(axis=-1, keepdims=True)
    return is_max, is_max.sum(axis=-1)


def tied_windows(is_max, count, pw, stride):
    """For every window with tied maxima: (n, c, i, j, [flat positions in (H, W) of x]) ..."""
    for n, c, i, j in zip(*np.nonzero(count > 1)):
        ks = np.nonzero(is_max[n, c, i, j])[0]
        yield n, c, i, j, [(i * stride + k // pw, j * stride + k % pw) for k in ks]


def tied_sets_disjoint(x, ph, pw, stride):
    """True if no input position is a tied maximum of two windows (what the policy's per-window
    test needs; the tie cases are drawn so)."""
    is_max, count = pool_windows_max(x, ph, pw, stride)
    seen = set()
    for n, c, _, _, positions in tied_windows(is_max, count, pw, stride):
        for r, q in positions:
            if (n, c, r, q) in seen:
                return False
            seen.add((n, c, r, q))
    return True
