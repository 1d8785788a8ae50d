"""Pure-numpy versions of the kernels in im2col_cython.pyx (same names, arguments and results).

fast_layers uses this module only when the compiled extension cannot be imported; it is correct
for every shape but slower. Each function fills an output array the caller allocates.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x, HH, WW, stride, Ho, Wo):
    """View of x as (N, C, Ho, Wo, HH, WW): the window under output position (i, j)."""
    return sliding_window_view(x, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :Ho, :Wo]


def im2col(x, cols, HH, WW, pad, stride):
    """Fill cols[n, (c*HH + kh)*WW + kw, i*Wo + j] = x[n, c, i*stride + kh - pad, j*stride + kw - pad].

    Rows of cols after the first C*HH*WW (fast_layers keeps a row of ones there) are not touched.
    """
    N, C, H, W = x.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    K = C * HH * WW
    if cols.ndim != 3 or cols.shape[0] != N or cols.shape[1] < K or cols.shape[2] != Ho * Wo:
        raise ValueError(f"cols has shape {cols.shape}, expected {(N, K, Ho * Wo)}")
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = _windows(x_pad, HH, WW, stride, Ho, Wo)
    # Splitting axes of cols[:, :K] gives a view, so this writes straight into cols.
    cols[:, :K].reshape(N, C, HH, WW, Ho, Wo)[...] = win.transpose(0, 1, 4, 5, 2, 3)


def col2im(cols, dx, HH, WW, pad, stride):
    """Adjoint of im2col: dx[n, c, h, w] = sum of the cols entries im2col copied from x[n, c, h, w]."""
    N, C, H, W = dx.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    if cols.shape != (N, C * HH * WW, Ho * Wo):
        raise ValueError(f"cols has shape {cols.shape}, expected {(N, C * HH * WW, Ho * Wo)}")
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dx.dtype)
    blocks = cols.reshape(N, C, HH, WW, Ho, Wo)
    # One strided add per kernel offset: HH*WW numpy operations instead of a loop over pixels.
    for kh in range(HH):
        for kw in range(WW):
            dx_pad[:, :, kh:kh + stride * Ho:stride, kw:kw + stride * Wo:stride] += blocks[:, :, kh, kw]
    dx[...] = dx_pad[:, :, pad:pad + H, pad:pad + W]


def maxpool_forward(x, out, argmax, ph, pw, stride):
    """out = max over each ph x pw window; argmax = a*pw + b of the window's first maximum."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2:]
    if stride == ph == pw and Ho * ph == H and Wo * pw == W:
        # Windows tile the input: a reshape brings each window's elements together.
        win = x.reshape(N, C, Ho, ph, Wo, pw).transpose(0, 1, 2, 4, 3, 5)
    else:
        win = _windows(x, ph, pw, stride, Ho, Wo)
    win = win.reshape(N, C, Ho, Wo, ph * pw)
    k = win.argmax(axis=-1)  # argmax returns the first maximum, in row-major window order
    argmax[...] = k
    out[...] = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]


def maxpool_backward(dout, argmax, dx, ph, pw, stride):
    """dx = zeros, then each dout[n, c, i, j] is added to the window element argmax selected."""
    Ho, Wo = dout.shape[2:]
    dx[...] = 0
    for a in range(ph):
        for b in range(pw):
            picked = np.where(argmax == a * pw + b, dout, 0)
            dx[:, :, a:a + stride * Ho:stride, b:b + stride * Wo:stride] += picked
