# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels behind cs260.fast_layers: im2col / col2im for convolution, max pooling.

Every kernel writes into an output array the caller allocates, so the Python side decides
shapes and dtypes (float32 and float64 are both compiled through the `floating` fused type).
Each call runs on one thread without the GIL, so fast_layers can run calls on different slices
of a batch at the same time from Python threads (parallel.py). OpenMP threads inside these loops
were tried and fought OpenBLAS's own threads (measured up to 40x slower).
The pure-numpy module im2col.py has the same functions with the same meaning.
"""
from cython cimport floating


cdef inline Py_ssize_t _first_inside(Py_ssize_t offset, Py_ssize_t stride) noexcept nogil:
    """Smallest j >= 0 with j * stride + offset >= 0."""
    if offset >= 0:
        return 0
    return (stride - 1 - offset) // stride


cdef inline Py_ssize_t _end_inside(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t size,
                                   Py_ssize_t count) noexcept nogil:
    """Number of j in [0, count) with j * stride + offset < size."""
    cdef Py_ssize_t end
    if size - offset <= 0:
        return 0
    end = (size - offset + stride - 1) // stride
    return end if end < count else count


cdef int _conv_out_size(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                        const Py_ssize_t* cols_shape, bint extra_rows_ok,
                        Py_ssize_t* Ho, Py_ssize_t* Wo) except -1:
    """Set Ho, Wo for this geometry; raise ValueError if it is invalid or cols has the wrong shape
    (with extra_rows_ok, cols may have more than C*HH*WW rows)."""
    if stride < 1 or pad < 0 or HH < 1 or WW < 1:
        raise ValueError("need stride >= 1, pad >= 0 and a kernel of at least 1x1")
    if H + 2 * pad < HH or W + 2 * pad < WW:
        raise ValueError("kernel larger than the padded input")
    Ho[0] = (H + 2 * pad - HH) // stride + 1
    Wo[0] = (W + 2 * pad - WW) // stride + 1
    if (cols_shape[0] != N or cols_shape[2] != Ho[0] * Wo[0] or cols_shape[1] < C * HH * WW
            or (cols_shape[1] > C * HH * WW and not extra_rows_ok)):
        raise ValueError(f"cols has shape {(cols_shape[0], cols_shape[1], cols_shape[2])}, "
                         f"expected {(N, C * HH * WW, Ho[0] * Wo[0])}")
    return 0


def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols,
           Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride):
    """Fill cols[n, (c*HH + kh)*WW + kw, i*Wo + j] = x[n, c, i*stride + kh - pad, j*stride + kw - pad].

    Positions in the zero padding get 0. Each image's block cols[n] is the (C*HH*WW, Ho*Wo)
    matrix that the weights (F, C*HH*WW) multiply to give that image's output. cols may have
    extra rows after those (fast_layers keeps a row of ones there for the bias); they are not touched.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n_out_h = 0, n_out_w = 0
    _conv_out_size(N, C, H, W, HH, WW, pad, stride, &cols.shape[0], True, &n_out_h, &n_out_w)
    cdef Py_ssize_t K = C * HH * WW
    cdef Py_ssize_t n, row, c, kh, kw, i, j, h, j_lo, j_hi
    cdef floating* dst
    cdef const floating* src
    with nogil:
        for n in range(N):
            for row in range(K):
                c = row // (HH * WW)
                kh = (row // WW) % HH
                kw = row % WW
                # Output columns j in [j_lo, j_hi) read inside the image, the rest read padding.
                j_lo = _first_inside(kw - pad, stride)
                j_hi = _end_inside(kw - pad, stride, W, n_out_w)
                if j_hi < j_lo:
                    j_hi = j_lo
                for i in range(n_out_h):
                    dst = &cols[n, row, i * n_out_w]
                    h = i * stride + kh - pad
                    if h < 0 or h >= H:
                        for j in range(n_out_w):
                            dst[j] = 0
                        continue
                    src = &x[n, c, h, 0]
                    for j in range(j_lo):
                        dst[j] = 0
                    if stride == 1:
                        for j in range(j_lo, j_hi):
                            dst[j] = src[j + kw - pad]
                    else:
                        for j in range(j_lo, j_hi):
                            dst[j] = src[j * stride + kw - pad]
                    for j in range(j_hi, n_out_w):
                        dst[j] = 0


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] dx,
           Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride):
    """Adjoint of im2col: dx[n, c, h, w] = sum of the cols entries im2col copied from x[n, c, h, w].

    dx is overwritten (not accumulated into); entries that fell in the padding are dropped.
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t n_out_h = 0, n_out_w = 0
    _conv_out_size(N, C, H, W, HH, WW, pad, stride, &cols.shape[0], False, &n_out_h, &n_out_w)
    cdef Py_ssize_t n, c, h, kh, kw, i, j, row, j_lo, j_hi, w
    cdef floating* dst
    cdef const floating* src
    with nogil:
        for n in range(N):
            for c in range(C):
                # Row h of dx gathers from every (kh, i) with i*stride + kh - pad == h.
                for h in range(H):
                    dst = &dx[n, c, h, 0]
                    for w in range(W):
                        dst[w] = 0
                    for kh in range(HH):
                        if h + pad - kh < 0 or (h + pad - kh) % stride != 0:
                            continue
                        i = (h + pad - kh) // stride
                        if i >= n_out_h:
                            continue
                        for kw in range(WW):
                            row = (c * HH + kh) * WW + kw
                            src = &cols[n, row, i * n_out_w]
                            j_lo = _first_inside(kw - pad, stride)
                            j_hi = _end_inside(kw - pad, stride, W, n_out_w)
                            if stride == 1:
                                for j in range(j_lo, j_hi):
                                    dst[j + kw - pad] += src[j]
                            else:
                                for j in range(j_lo, j_hi):
                                    dst[j * stride + kw - pad] += src[j]


def maxpool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                    int[:, :, :, ::1] argmax, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride):
    """out[n, c, i, j] = max of the ph x pw window at (i*stride, j*stride).

    argmax[n, c, i, j] = a*pw + b for the first maximum x[..., i*stride + a, j*stride + b]
    of the window in row-major order (that element alone receives the gradient).
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3]
    if stride < 1 or ph < 1 or pw < 1:
        raise ValueError("need stride >= 1 and a window of at least 1x1")
    if (out.shape[0] != N or out.shape[1] != C or Ho < 0 or Wo < 0
            or (Ho > 0 and (Ho - 1) * stride + ph > H) or (Wo > 0 and (Wo - 1) * stride + pw > W)):
        raise ValueError("pooling output shape does not fit the input")
    if (argmax.shape[0] != N or argmax.shape[1] != C
            or argmax.shape[2] != Ho or argmax.shape[3] != Wo):
        raise ValueError("argmax must have the output's shape")
    cdef Py_ssize_t n, c, i, j, a, b, best_k
    cdef const floating* win
    cdef floating best, v
    with nogil:
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        win = &x[n, c, i * stride, j * stride]
                        best = win[0]
                        best_k = 0
                        for a in range(ph):
                            for b in range(pw):
                                v = win[a * W + b]
                                if v > best:  # strict: ties keep the first maximum
                                    best = v
                                    best_k = a * pw + b
                        out[n, c, i, j] = best
                        argmax[n, c, i, j] = <int>best_k


def maxpool_backward(const floating[:, :, :, ::1] dout, const int[:, :, :, ::1] argmax,
                     floating[:, :, :, ::1] dx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride):
    """dx = zeros, then each dout[n, c, i, j] is added to the window element argmax selected.

    Overlapping windows that share a maximum add up their gradients there.
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t Ho = dout.shape[2], Wo = dout.shape[3]
    if (dout.shape[0] != N or dout.shape[1] != C or argmax.shape[0] != N or argmax.shape[1] != C
            or argmax.shape[2] != Ho or argmax.shape[3] != Wo):
        raise ValueError("dout, argmax and dx shapes do not match")
    if stride < 1 or ph < 1 or pw < 1:
        raise ValueError("need stride >= 1 and a window of at least 1x1")
    if (Ho > 0 and (Ho - 1) * stride + ph > H) or (Wo > 0 and (Wo - 1) * stride + pw > W):
        raise ValueError("pooling output shape does not fit the input")
    cdef Py_ssize_t n, c, i, j, k
    cdef floating* dst
    with nogil:
        for n in range(N):
            for c in range(C):
                dst = &dx[n, c, 0, 0]
                for k in range(H * W):
                    dst[k] = 0
                for i in range(Ho):
                    for j in range(Wo):
                        k = argmax[n, c, i, j]
                        if 0 <= k < ph * pw:  # always true for argmax from maxpool_forward
                            dst[(i * stride + k // pw) * W + j * stride + k % pw] += dout[n, c, i, j]
