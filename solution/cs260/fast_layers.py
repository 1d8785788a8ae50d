"""Fast convolution and max-pooling layers, with the same API as the naive layers in layers.py.

Convolution uses im2col: each image's receptive fields are copied into the columns of a
(C*HH*WW, Ho*Wo) matrix, so the whole layer becomes one matrix multiply per image, done by BLAS.
The copying kernels live in the compiled extension im2col_cython; if it is missing, the
pure-numpy module im2col.py (same functions, slower) is used instead, with a warning.
Every layer splits the batch over the cores (parallel.py): each thread handles its own images.

Both float32 and float64 work: results have the dtype numpy's type promotion gives the inputs
(float32 inputs stay float32). Integer inputs are computed in float64.
"""
import math
import operator
import os
import warnings

import numpy as np

from . import parallel


def _load_kernels():
    """The compiled kernels, or the numpy fallback (with one warning saying how to build them)."""
    if os.environ.get("CS260_NO_CYTHON", "") not in ("", "0"):
        reason = "CS260_NO_CYTHON is set"
    else:
        try:
            from . import im2col_cython
            return im2col_cython
        except (ImportError, ValueError) as exc:  # ValueError: built against another numpy
            reason = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        f"{__name__}: the Cython extension im2col_cython is not available ({reason}); "
        "using the much slower pure-numpy fallback im2col.py. "
        "To build the extension, run `pip install -e .` from the repo root.",
        RuntimeWarning,
        stacklevel=2,
    )
    from . import im2col
    return im2col


_kernels = _load_kernels()
BACKEND = "cython" if _kernels.__name__.endswith("im2col_cython") else "numpy"


def _float_dtype(*arrays):
    """float32 if promotion of the inputs gives float32 (or float16), float64 otherwise."""
    dtype = np.result_type(*(np.asarray(a) for a in arrays))
    if dtype.kind not in "biuf":
        raise TypeError(f"expected real numeric arrays, got dtype {dtype}")
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize <= 4 else np.dtype(np.float64)


def _int_param(params, key, name, minimum):
    """params[key] as an int >= minimum, or a ValueError that says what is wrong."""
    if key not in params:
        raise ValueError(f"{name} is missing {key!r}")
    try:
        value = operator.index(params[key])
    except TypeError:
        raise ValueError(f"{name}[{key!r}] must be an integer, got {params[key]!r}") from None
    if value < minimum:
        raise ValueError(f"{name}[{key!r}] must be >= {minimum}, got {value}")
    return value


def _conv_geometry(x, w, b, conv_param):
    """Validated (stride, pad, Ho, Wo) for a convolution of x (N, C, H, W) with w (F, C, HH, WW)."""
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got shapes {x.shape} and {w.shape}")
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(f"x has {C} channels but w expects {Cw}")
    if b.shape != (F,):
        raise ValueError(f"b must have shape ({F},), got {b.shape}")
    stride = _int_param(conv_param, "stride", "conv_param", 1)
    pad = _int_param(conv_param, "pad", "conv_param", 0)
    sizes = []
    for axis, size, k in (("height", H, HH), ("width", W, WW)):
        span = size + 2 * pad - k
        if k < 1 or span < 0:
            raise ValueError(f"kernel {axis} {k} does not fit the padded input {axis} {size + 2 * pad}")
        if span % stride:
            raise ValueError(
                f"output {axis} is not an integer: ({axis} + 2*pad - kernel) / stride + 1 = "
                f"({size} + 2*{pad} - {k}) / {stride} + 1; change pad or stride"
            )
        sizes.append(span // stride + 1)
    return stride, pad, sizes[0], sizes[1]


def _pool_geometry(x, pool_param):
    """Validated (ph, pw, stride, Ho, Wo) for max pooling of x (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
    ph = _int_param(pool_param, "pool_height", "pool_param", 1)
    pw = _int_param(pool_param, "pool_width", "pool_param", 1)
    stride = _int_param(pool_param, "stride", "pool_param", 1)
    sizes = []
    for axis, size, k in (("height", x.shape[2], ph), ("width", x.shape[3], pw)):
        if k > size:
            raise ValueError(f"pool {axis} {k} is larger than the input {axis} {size}")
        if (size - k) % stride:
            raise ValueError(
                f"pool windows do not fit the input exactly: ({axis} - pool) / stride + 1 = "
                f"({size} - {k}) / {stride} + 1 is not an integer"
            )
        sizes.append((size - k) // stride + 1)
    return ph, pw, stride, sizes[0], sizes[1]


# Below this much work per thread, handing a slice of the batch to another thread costs more than
# it saves (waking a thread takes ~0.1 ms on the 2-core machine of bench/).
_MIN_FLOPS_PER_THREAD = 4e6  # convolution: 2 * multiply-adds (the backward pass counts double)
_MIN_POOL_ELEMENTS_PER_THREAD = 1 << 18  # max pooling: input elements


def _min_images(work_per_image, min_work):
    """Fewest images per thread for at least min_work of work each."""
    return max(1, math.ceil(min_work / max(work_per_image, 1)))


# Images are processed in blocks whose im2col matrix is about this many bytes, so the block is
# still in cache when the matrix multiply reads it (one big matrix for the whole batch is slower).
_BLOCK_BYTES = 1 << 20


def _column_blocks(x, HH, WW, pad, stride, Ho, Wo, kernels):
    """Yield (n0, n1, cols) over blocks of images; cols[i] is the im2col matrix of image n0 + i
    with an extra last row of ones, so [w | b] @ cols = w @ (image's columns) + b (the bias trick).

    The same buffer is reused for every block: use cols before asking for the next one.
    """
    N, C = x.shape[:2]
    rows = C * HH * WW + 1
    block = max(1, min(N, _BLOCK_BYTES // (rows * Ho * Wo * x.itemsize)))
    buffer = np.empty((block, rows, Ho * Wo), dtype=x.dtype)
    buffer[:, -1, :] = 1  # im2col fills every row but this one
    for n0 in range(0, N, block):
        n1 = min(N, n0 + block)
        cols = buffer[: n1 - n0]
        kernels.im2col(x[n0:n1], cols, HH, WW, pad, stride)
        yield n0, n1, cols


def conv_forward_fast(x, w, b, conv_param):
    """Convolution (cross-correlation with zero padding) forward pass.

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: {'stride', 'pad'}.
    Returns out (N, F, Ho, Wo) and a cache for conv_backward_fast.
    """
    return _conv_forward(x, w, b, conv_param, _kernels)


def _conv_forward(x, w, b, conv_param, kernels):
    """conv_forward_fast with a given kernel module (im2col_cython or im2col)."""
    dtype = _float_dtype(x, w, b)
    x = np.ascontiguousarray(x, dtype=dtype)
    w = np.ascontiguousarray(w, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    stride, pad, Ho, Wo = _conv_geometry(x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    w_and_b = np.concatenate([w.reshape(F, -1), b[:, None]], axis=1)  # (F, C*HH*WW + 1)
    out = np.empty((N, F, Ho * Wo), dtype=dtype)

    def forward_images(n0, n1):
        for m0, m1, cols in _column_blocks(x[n0:n1], HH, WW, pad, stride, Ho, Wo, kernels):
            np.matmul(w_and_b, cols, out=out[n0 + m0:n0 + m1])  # one GEMM per image, in place

    flops = 2 * F * w_and_b.shape[1] * Ho * Wo  # per image
    parallel.over_slices(forward_images, N, _min_images(flops, _MIN_FLOPS_PER_THREAD))
    cache = (x, w, (stride, pad, Ho, Wo), kernels)
    return out.reshape(N, F, Ho, Wo), cache


def conv_backward_fast(dout, cache, compute_dx=True):
    """Convolution backward pass: dout (N, F, Ho, Wo) -> (dx, dw, db).

    compute_dx=False skips dx and returns None for it: a network's first layer does not need the
    gradient of its input, and computing it is about half the work of this function.
    """
    x, w, (stride, pad, Ho, Wo), kernels = cache
    N = x.shape[0]
    F, _, HH, WW = w.shape
    dout = np.asarray(dout)
    if dout.shape != (N, F, Ho, Wo):
        raise ValueError(f"dout has shape {dout.shape}, expected {(N, F, Ho, Wo)}")
    d = np.ascontiguousarray(dout, dtype=x.dtype).reshape(N, F, Ho * Wo)
    w_rows = w.reshape(F, -1)
    dx = np.empty_like(x) if compute_dx else None

    def backward_images(n0, n1):
        """dx of images n0..n1 (written into dx) and their share of [dw | db], transposed."""
        dwb_t = np.zeros((w_rows.shape[1] + 1, F), dtype=x.dtype)  # the ones row gives db
        dcols = None
        # The columns are rebuilt block by block: keeping them from the forward pass would need
        # a buffer for the whole batch, which slows the forward pass more than rebuilding costs.
        for m0, m1, cols in _column_blocks(x[n0:n1], HH, WW, pad, stride, Ho, Wo, kernels):
            d_block = d[n0 + m0:n0 + m1]
            # cols @ d.T is the faster orientation for BLAS here than d @ cols.T.
            dwb_t += np.matmul(cols, d_block.transpose(0, 2, 1)).sum(axis=0)
            if dx is None:
                continue
            if dcols is None:
                dcols = np.empty((cols.shape[0], w_rows.shape[1], Ho * Wo), dtype=x.dtype)
            np.matmul(w_rows.T, d_block, out=dcols[: m1 - m0])
            kernels.col2im(dcols[: m1 - m0], dx[n0 + m0:n0 + m1], HH, WW, pad, stride)
        return dwb_t

    flops = (4 if compute_dx else 2) * F * w_rows.shape[1] * Ho * Wo  # per image (dx: a second product)
    dwb = sum(parallel.over_slices(backward_images, N, _min_images(flops, _MIN_FLOPS_PER_THREAD))).T
    dw = np.ascontiguousarray(dwb[:, :-1]).reshape(w.shape)
    return dx, dw, np.ascontiguousarray(dwb[:, -1])


def max_pool_forward_fast(x, pool_param):
    """Max pooling forward pass.

    x: (N, C, H, W); pool_param: {'pool_height', 'pool_width', 'stride'}. Windows may overlap or
    be rectangular but must fit exactly: Ho = 1 + (H - pool_height) / stride, likewise Wo.
    Returns out (N, C, Ho, Wo) and a cache for max_pool_backward_fast.
    """
    return _max_pool_forward(x, pool_param, _kernels)


def _max_pool_forward(x, pool_param, kernels):
    """max_pool_forward_fast with a given kernel module (im2col_cython or im2col)."""
    x = np.asarray(x)
    x = np.ascontiguousarray(x, dtype=_float_dtype(x))
    ph, pw, stride, Ho, Wo = _pool_geometry(x, pool_param)
    N, C = x.shape[:2]
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.intc)  # a*pw + b of each window's first maximum
    parallel.over_slices(
        lambda n0, n1: kernels.maxpool_forward(x[n0:n1], out[n0:n1], argmax[n0:n1], ph, pw, stride),
        N, _min_images(math.prod(x.shape[1:]), _MIN_POOL_ELEMENTS_PER_THREAD))
    return out, (x.shape, x.dtype, (ph, pw, stride), argmax, kernels)


def max_pool_backward_fast(dout, cache):
    """Max pooling backward pass: each window's gradient goes to its first maximum (row-major);
    where overlapping windows share a maximum, their gradients add up."""
    x_shape, dtype, (ph, pw, stride), argmax, kernels = cache
    dout = np.asarray(dout)
    if dout.shape != argmax.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {argmax.shape}")
    dout = np.ascontiguousarray(dout, dtype=dtype)
    dx = np.empty(x_shape, dtype=dtype)
    parallel.over_slices(
        lambda n0, n1: kernels.maxpool_backward(dout[n0:n1], argmax[n0:n1], dx[n0:n1], ph, pw, stride),
        dx.shape[0], _min_images(math.prod(x_shape[1:]), _MIN_POOL_ELEMENTS_PER_THREAD))
    return dx
