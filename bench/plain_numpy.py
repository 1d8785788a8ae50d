"""Plain-numpy convolution and max pooling: the "numpy" contender of bench_layers.py."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _out_hw(x_shape, w_shape, stride, pad):
    return ((x_shape[2] + 2 * pad - w_shape[2]) // stride + 1, (x_shape[3] + 2 * pad - w_shape[3]) // stride + 1)


def im2col(x, HH, WW, stride, pad):
    """(C*HH*WW, N*Ho*Wo) matrix of receptive fields, from a sliding_window_view of the padded x."""
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(x.shape[1] * HH * WW, -1)


def conv_forward(x, w, b, stride, pad):
    """sliding_window_view + one matmul for the whole batch."""
    N = x.shape[0]
    F, _, HH, WW = w.shape
    out = w.reshape(F, -1) @ im2col(x, HH, WW, stride, pad) + b[:, None]  # (F, N*Ho*Wo)
    return out.reshape(F, N, -1).transpose(1, 0, 2).reshape(N, F, *_out_hw(x.shape, w.shape, stride, pad))


def conv_backward(dout, x, w, stride, pad):
    """One matmul each for dw and the column gradients; dx by one strided add per kernel offset."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*Ho*Wo)
    dw = (d @ im2col(x, HH, WW, stride, pad).T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ d).reshape(C, HH, WW, N, Ho, Wo)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    for kh in range(HH):
        for kw in range(WW):
            dx_pad[:, :, kh:kh + stride * Ho:stride, kw:kw + stride * Wo:stride] += \
                dcols[:, kh, kw].transpose(1, 0, 2, 3)
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def pool_forward(x, ph, pw, stride):
    """Reshape when the windows tile the input, sliding_window_view otherwise; keeps argmax."""
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    if ph == pw == stride and H % ph == 0 and W % pw == 0:
        win = x.reshape(N, C, Ho, ph, Wo, pw).transpose(0, 1, 2, 4, 3, 5)
    else:
        win = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    win = win.reshape(N, C, Ho, Wo, ph * pw)
    k = win.argmax(axis=-1)
    return np.take_along_axis(win, k[..., None], axis=-1)[..., 0], k


def pool_backward(dout, k, x_shape, ph, pw, stride):
    """dx from the argmax of pool_forward, one masked strided add per window offset."""
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for a in range(ph):
        for b in range(pw):
            dx[:, :, a:a + stride * Ho:stride, b:b + stride * Wo:stride] += np.where(k == a * pw + b, dout, 0)
    return dx
