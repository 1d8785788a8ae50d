"""The fast conv / max-pool layers (solution/cs260/fast_layers.py) against independent references.

The references below loop over output positions in float64 and share no code with im2col.
Every case runs through both kernel sets: the compiled im2col_cython and the numpy fallback
im2col.py. Subprocess tests load fast_layers the way the grader does (under a private package
name) to check the extension is used when built and the fallback warns when it is not.
"""
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"


@pytest.fixture(scope="module")
def cs(load_tree):
    return load_tree("solution")


@pytest.fixture(scope="module")
def fl(cs):
    return cs.fast_layers


@pytest.fixture(scope="module", params=["cython", "numpy"])
def kernels(request, cs):
    """Each kernel module in turn (the fast layers' internal _conv_forward etc. take it)."""
    name = "im2col_cython" if request.param == "cython" else "im2col"
    return importlib.import_module(f"{cs.__name__}.{name}")


# ---------------------------------------------------------------- references (float64 loops)

def conv_reference(x, w, b, stride, pad):
    """out[n, f, i, j] = b[f] + sum over c, a, e of w[f, c, a, e] * x_pad[n, c, i*stride + a, j*stride + e]."""
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    x_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    x_pad[:, :, pad:pad + H, pad:pad + W] = x
    out = np.empty((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            field = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv_reference_backward(dout, x, w, stride, pad):
    """Gradients of sum(out * dout) for conv_reference, by the same position loop."""
    dout, x, w = (np.asarray(a, dtype=np.float64) for a in (dout, x, w))
    N, C, H, W = x.shape
    _, _, HH, WW = w.shape
    x_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    x_pad[:, :, pad:pad + H, pad:pad + W] = x
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]
            dx_pad[:, :, rows, cols] += np.tensordot(g, w, axes=(1, 0))
            dw += np.tensordot(g, x_pad[:, :, rows, cols], axes=(0, 0))
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def pool_reference(x, ph, pw, stride):
    """(out, first): window maxima and the (row, col) of each window's first maximum (row-major)."""
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    out = np.empty((N, C, Ho, Wo))
    first = np.empty((N, C, Ho, Wo, 2), dtype=int)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    k = int(np.argmax(window))  # np.argmax returns the first occurrence
                    out[n, c, i, j] = window.flat[k]
                    first[n, c, i, j] = (i * stride + k // pw, j * stride + k % pw)
    return out, first


def pool_reference_backward(dout, x_shape, first):
    dx = np.zeros(x_shape)
    for (n, c, i, j), g in np.ndenumerate(np.asarray(dout, dtype=np.float64)):
        h, w = first[n, c, i, j]
        dx[n, c, h, w] += g
    return dx


def assert_close(actual, expected, dtype, what=""):
    """Tight for float64, loose (float32 round-off) for float32; scaled by the largest entry."""
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    tol = 1e-10 if dtype == np.float64 else 2e-5
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


# ---------------------------------------------------------------- convolution

# (x shape, w shape, stride, pad): notebook cases and odd geometries.
CONV_CASES = [
    ((2, 3, 4, 4), (3, 3, 4, 4), 2, 1),      # the notebook's conv_forward_naive check
    ((4, 3, 5, 5), (2, 3, 3, 3), 1, 1),      # the notebook's conv_backward_naive check
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),      # batch 1, single channel
    ((2, 2, 7, 9), (3, 2, 3, 5), 2, 2),      # non-square kernel and input
    ((1, 2, 10, 12), (3, 2, 3, 2), 3, 1),    # stride 3, even kernel width
    ((3, 4, 6, 5), (2, 4, 1, 1), 1, 0),      # 1x1 kernel
    ((2, 1, 4, 4), (2, 1, 1, 1), 1, 2),      # pad beyond the kernel: border outputs are just b
    ((2, 3, 8, 8), (4, 3, 2, 2), 3, 0),      # stride > kernel: some inputs get no gradient
    ((2, 2, 3, 5), (3, 2, 5, 7), 1, 1),      # kernel fills the padded input: 1x1 output
    ((2, 3, 11, 7), (5, 3, 3, 3), 2, 0),     # tall input, stride 2, no pad
]


def _conv_id(case):
    xs, ws, s, p = case
    return f"x{'x'.join(map(str, xs))}-w{'x'.join(map(str, ws))}-s{s}-p{p}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv_matches_reference(fl, kernels, case, dtype):
    xs, ws, stride, pad = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
    out, cache = fl._conv_forward(x, w, b, {"stride": stride, "pad": pad}, kernels)
    assert_close(out, conv_reference(x, w, b, stride, pad), dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = fl.conv_backward_fast(dout, cache)
    for got, want, name in zip((dx, dw, db), conv_reference_backward(dout, x, w, stride, pad), "xwb"):
        assert_close(got, want, dtype, f"d{name}")


@pytest.fixture
def threads(cs, set_threads, monkeypatch):
    """threads(n) makes the fast layers split batches over n threads for the rest of the test,
    however small the batch (the work thresholds are set to zero)."""
    monkeypatch.setattr(cs.fast_layers, "_MIN_FLOPS_PER_THREAD", 0)
    monkeypatch.setattr(cs.fast_layers, "_MIN_POOL_ELEMENTS_PER_THREAD", 0)
    return lambda n: set_threads(cs, n)


@pytest.mark.parametrize("images_per_block, calls", [(0, 7), (1, 7), (2.5, 4), (7, 1)])
def test_conv_blocks(fl, kernels, monkeypatch, threads, images_per_block, calls):
    """Batches split into blocks (including a shorter last one) give the same results."""
    threads(1)  # one thread sees the whole batch, so the block count is known
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((7, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    per_image = (2 * 3 * 3 + 1) * 36 * 8  # one image's columns (plus the ones row) in bytes
    monkeypatch.setattr(fl, "_BLOCK_BYTES", int(images_per_block * per_image))
    counted = []

    def im2col(x_block, *args):
        counted.append(len(x_block))
        kernels.im2col(x_block, *args)

    spy = type("Spy", (), {"im2col": staticmethod(im2col), "col2im": staticmethod(kernels.col2im)})
    out, cache = fl._conv_forward(x, w, b, {"stride": 1, "pad": 1}, spy)
    assert_close(out, conv_reference(x, w, b, 1, 1), np.float64, "out")
    assert len(counted) == calls and sum(counted) == 7
    dout = rng.standard_normal(out.shape)
    for got, want in zip(fl.conv_backward_fast(dout, cache), conv_reference_backward(dout, x, w, 1, 1)):
        assert_close(got, want, np.float64)


NOTEBOOK_CONV = [
    ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),   # the notebook's fast-layer timing cell
    ((50, 3, 32, 32), (32, 3, 7, 7), 1, 3),    # ThreeLayerConvNet's conv layer on a CIFAR batch
]


@pytest.mark.parametrize("case", NOTEBOOK_CONV, ids=_conv_id)
def test_conv_notebook_shapes(fl, cs, case):
    xs, ws, stride, pad = case
    r = np.random.RandomState(260)
    x, w, b = r.randn(*xs), r.randn(*ws), r.randn(ws[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = fl.conv_forward_fast(x, w, b, conv_param)
    dout = r.randn(*out.shape)
    grads = fl.conv_backward_fast(dout, cache)
    assert_close(out, conv_reference(x, w, b, stride, pad), np.float64, "out")
    for got, want in zip(grads, conv_reference_backward(dout, x, w, stride, pad)):
        assert_close(got, want, np.float64)
    # The solution's naive layer agrees too (as the notebook's cell checks).
    out_naive, cache_naive = cs.layers.conv_forward_naive(x, w, b, conv_param)
    assert_close(out, out_naive, np.float64, "out vs naive")
    for got, want in zip(grads, cs.layers.conv_backward_naive(dout, cache_naive)):
        assert_close(got, want, np.float64, "grad vs naive")


def test_conv_backward_numeric_gradient(fl):
    """Analytic gradients match centered differences of the fast forward pass itself."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    conv_param = {"stride": 2, "pad": 1}
    out, cache = fl.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    analytic = fl.conv_backward_fast(dout, cache)
    for arr, grad in zip((x, w, b), analytic):
        numeric = np.zeros_like(arr)
        for ix in np.ndindex(arr.shape):
            old = arr[ix]
            arr[ix] = old + 1e-6
            plus = np.sum(fl.conv_forward_fast(x, w, b, conv_param)[0] * dout)
            arr[ix] = old - 1e-6
            minus = np.sum(fl.conv_forward_fast(x, w, b, conv_param)[0] * dout)
            arr[ix] = old
            numeric[ix] = (plus - minus) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


def test_conv_dtypes(fl):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    cp = {"stride": 1, "pad": 1}
    f32 = [a.astype(np.float32) for a in (x, w, b)]
    out, cache = fl.conv_forward_fast(*f32, cp)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in fl.conv_backward_fast(np.ones(out.shape), cache))
    # float16 computes in float32; float32 data with float64 weights promote like numpy does;
    # integers compute in float64.
    assert fl.conv_forward_fast(*[a.astype(np.float16) for a in (x, w, b)], cp)[0].dtype == np.float32
    assert fl.conv_forward_fast(f32[0], w, b, cp)[0].dtype == np.float64
    xi = rng.integers(-3, 4, size=x.shape)
    out_i = fl.conv_forward_fast(xi, w, b, cp)[0]
    assert out_i.dtype == np.float64
    assert_close(out_i, conv_reference(xi, w, b, 1, 1), np.float64)


def test_conv_accepts_views_and_readonly(fl):
    rng = np.random.default_rng(4)
    big = rng.standard_normal((3, 4, 10, 12))
    x = big[::-1, 1:, ::2, ::-2]          # non-contiguous, negative strides
    w = rng.standard_normal((2, 3, 3, 3))
    b = rng.standard_normal(2)
    for a in (big, w, b):
        a.setflags(write=False)
    out, cache = fl.conv_forward_fast(x, w, b, {"stride": 1, "pad": 0})
    assert_close(out, conv_reference(x, w, b, 1, 0), np.float64)
    dout = np.ones(out.shape)
    dout.setflags(write=False)
    for got, want in zip(fl.conv_backward_fast(dout, cache), conv_reference_backward(dout, x, w, 1, 0)):
        assert_close(got, want, np.float64)


@pytest.mark.parametrize("xs, ws, conv_param, message", [
    ((1, 3, 5, 5), (2, 3, 2, 2), {"stride": 2, "pad": 0}, "not an integer"),
    ((1, 3, 4, 4), (2, 3, 7, 7), {"stride": 1, "pad": 1}, "does not fit"),
    ((1, 3, 5, 5), (2, 2, 3, 3), {"stride": 1, "pad": 1}, "channels"),
    ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 0, "pad": 1}, "stride"),
    ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": -1}, "pad"),
    ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 1.5, "pad": 1}, "integer"),
    ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 1}, "missing 'pad'"),
    ((3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": 1}, "4-D"),
])
def test_conv_rejects_bad_geometry(fl, xs, ws, conv_param, message):
    with pytest.raises(ValueError, match=message):
        fl.conv_forward_fast(np.zeros(xs), np.zeros(ws), np.zeros(ws[0]), conv_param)


def test_conv_rejects_bad_bias_and_dout(fl):
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match="b must have shape"):
        fl.conv_forward_fast(x, w, np.zeros(3), {"stride": 1, "pad": 1})
    _, cache = fl.conv_forward_fast(x, w, np.zeros(2), {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="dout has shape"):
        fl.conv_backward_fast(np.zeros((1, 2, 4, 5)), cache)


# ---------------------------------------------------------------- max pooling

# (x shape, pool_height, pool_width, stride)
POOL_CASES = [
    ((2, 3, 4, 4), 2, 2, 2),      # the notebook's max_pool_forward_naive check (tiles)
    ((3, 2, 8, 8), 2, 2, 2),      # the notebook's backward check shape (tiles)
    ((2, 2, 9, 6), 3, 3, 3),      # 3x3 tiles, non-square input
    ((2, 2, 7, 7), 3, 3, 2),      # overlapping windows, 7 not a multiple of 3
    ((1, 3, 5, 6), 2, 2, 1),      # stride 1: every inner element is in four windows
    ((2, 2, 6, 9), 2, 3, 1),      # rectangular, overlapping
    ((2, 2, 6, 9), 2, 3, 2),      # rectangular window, square stride (width overlaps)
    ((2, 2, 6, 8), 3, 2, 3),      # rectangular, gaps between windows in the width
    ((1, 1, 4, 7), 2, 3, 2),      # stride == height != width
    ((2, 2, 5, 5), 1, 1, 2),      # 1x1 windows with gaps
    ((2, 1, 4, 4), 4, 4, 1),      # one window covers the whole input
    ((2, 2, 8, 8), 2, 2, 3),      # 2x2 (the unrolled kernel) with gaps between windows
    ((2, 1, 3, 3), 1, 1, 1),      # 1x1 windows tiling the input
]


def _pool_id(case):
    xs, ph, pw, s = case
    return f"x{'x'.join(map(str, xs))}-{ph}x{pw}-s{s}"


def _pool_check(fl, kernels, x, ph, pw, stride, dout_seed=0):
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = fl._max_pool_forward(x, pool_param, kernels)
    want, first = pool_reference(x, ph, pw, stride)
    assert_close(out, want, x.dtype, "out")
    dout = np.random.default_rng(dout_seed).standard_normal(out.shape).astype(x.dtype)
    dx = fl.max_pool_backward_fast(dout, cache)
    assert_close(dx, pool_reference_backward(dout, x.shape, first), x.dtype, "dx")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_matches_reference(fl, kernels, case, dtype):
    xs, ph, pw, stride = case
    x = np.random.default_rng(abs(hash(case)) % 2**32).standard_normal(xs).astype(dtype)
    _pool_check(fl, kernels, x, ph, pw, stride)


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_ties_go_to_first_max(fl, kernels, case):
    """With ties, the gradient goes to the first maximum in row-major order, summed over windows."""
    xs, ph, pw, stride = case
    rng = np.random.default_rng(1)
    _pool_check(fl, kernels, rng.integers(0, 3, size=xs).astype(np.float64), ph, pw, stride)
    _pool_check(fl, kernels, np.zeros(xs, dtype=np.float32), ph, pw, stride)


def test_pool_constant_input_overlapping(fl, kernels):
    """All ties: each window's gradient lands on its top-left element, adding up where shared."""
    x = np.ones((1, 1, 3, 3))
    out, cache = fl._max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1}, kernels)
    dx = fl.max_pool_backward_fast(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])


def test_pool_notebook_shape(fl, cs):
    r = np.random.RandomState(260)
    x, dout = r.randn(100, 3, 32, 32), r.randn(100, 3, 16, 16)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = fl.max_pool_forward_fast(x, pool_param)
    dx = fl.max_pool_backward_fast(dout, cache)
    want, first = pool_reference(x, 2, 2, 2)
    assert_close(out, want, np.float64)
    assert_close(dx, pool_reference_backward(dout, x.shape, first), np.float64)
    out_naive, cache_naive = cs.layers.max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, out_naive)
    np.testing.assert_array_equal(dx, cs.layers.max_pool_backward_naive(dout, cache_naive))


def test_pool_dtypes(fl):
    x = np.random.default_rng(2).standard_normal((2, 2, 4, 4))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = fl.max_pool_forward_fast(x.astype(np.float32), pp)
    assert out.dtype == np.float32
    assert fl.max_pool_backward_fast(np.ones(out.shape), cache).dtype == np.float32
    out_i, _ = fl.max_pool_forward_fast(np.arange(32).reshape(1, 2, 4, 4), pp)
    assert out_i.dtype == np.float64
    np.testing.assert_array_equal(out_i[0, 0], [[5, 7], [13, 15]])


@pytest.mark.parametrize("xs, pool_param, message", [
    ((1, 1, 5, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}, "not an integer"),
    ((1, 1, 4, 4), {"pool_height": 5, "pool_width": 2, "stride": 1}, "larger than the input"),
    ((1, 1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 0}, "stride"),
    ((1, 1, 4, 4), {"pool_height": 2, "stride": 2}, "missing 'pool_width'"),
    ((1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}, "4-D"),
])
def test_pool_rejects_bad_geometry(fl, xs, pool_param, message):
    with pytest.raises(ValueError, match=message):
        fl.max_pool_forward_fast(np.zeros(xs), pool_param)


def test_pool_rejects_bad_dout(fl):
    _, cache = fl.max_pool_forward_fast(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match="dout has shape"):
        fl.max_pool_backward_fast(np.zeros((1, 1, 3, 2)), cache)


# ---------------------------------------------------------------- the kernels themselves

def test_extension_is_built(fl):
    assert fl.BACKEND == "cython", "im2col_cython is not built: run `pip install -e .` from the repo root"


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_kernels_agree_and_col2im_is_adjoint(cs, case):
    xs, ws, stride, pad = case
    cy = importlib.import_module(f"{cs.__name__}.im2col_cython")
    py = importlib.import_module(f"{cs.__name__}.im2col")
    _, C, H, W = xs
    _, _, HH, WW = ws
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs)
    cols_shape = (xs[0], C * HH * WW, Ho * Wo)
    cols_cy, cols_py = np.full(cols_shape, np.nan), np.full(cols_shape, np.nan)
    cy.im2col(x, cols_cy, HH, WW, pad, stride)
    py.im2col(x, cols_py, HH, WW, pad, stride)
    np.testing.assert_array_equal(cols_cy, cols_py)  # pure copies: bit-identical
    y = rng.standard_normal(cols_shape)
    dx_cy, dx_py = np.full(xs, np.nan), np.full(xs, np.nan)
    cy.col2im(y, dx_cy, HH, WW, pad, stride)
    py.col2im(y, dx_py, HH, WW, pad, stride)
    np.testing.assert_allclose(dx_cy, dx_py, rtol=1e-12, atol=1e-12)
    # <im2col(x), y> == <x, col2im(y)>: col2im is exactly the transpose of im2col.
    np.testing.assert_allclose(np.vdot(cols_cy, y), np.vdot(x, dx_cy), rtol=1e-10)
    # Extra rows after the C*HH*WW im2col rows (fast_layers' row of ones) are left alone.
    for k in (cy, py):
        wide = np.full((cols_shape[0], cols_shape[1] + 2, cols_shape[2]), 7.0)
        k.im2col(x, wide, HH, WW, pad, stride)
        np.testing.assert_array_equal(wide[:, :-2], cols_cy)
        assert np.all(wide[:, -2:] == 7.0)


def test_kernels_reject_wrong_buffer_shape(cs):
    for name in ("im2col_cython", "im2col"):
        k = importlib.import_module(f"{cs.__name__}.{name}")
        with pytest.raises(ValueError, match="cols has shape"):
            k.im2col(np.zeros((1, 2, 4, 4)), np.zeros((1, 18, 15)), 3, 3, 1, 1)
        with pytest.raises(ValueError, match="cols has shape"):
            k.col2im(np.zeros((1, 18, 15)), np.zeros((1, 2, 4, 4)), 3, 3, 1, 1)
        with pytest.raises(ValueError, match="cols has shape"):
            k.im2col(np.zeros((1, 2, 4, 4)), np.zeros((1, 17, 16)), 3, 3, 1, 1)


# ---------------------------------------------------------------- loading as the grader does

LOADER = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from grader.sandbox import trusted
        fl = trusted.load("fast_layers", root=sys.argv[1])
        trusted.load("fast_layers", root=sys.argv[1])  # a second import must not warn again
        r = np.random.RandomState(0)
        x, w, b, dout = r.randn(2, 3, 7, 6), r.randn(4, 3, 3, 2), r.randn(4), r.randn(2, 4, 4, 4)
        out, cache = fl.conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
        dx, dw, db = fl.conv_backward_fast(dout, cache)
        p, pcache = fl.max_pool_forward_fast(x, {"pool_height": 3, "pool_width": 2, "stride": 2})
        dp = fl.max_pool_backward_fast(np.ones(p.shape), pcache)
    print(json.dumps({"backend": fl.BACKEND, "kernels": fl._kernels.__name__,
                      "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
                      "results": [a.tolist() for a in (out, dx, dw, db, p, dp)]}))
""")


def _load_in_subprocess(root, **env):
    environ = {k: v for k, v in os.environ.items() if k != "CS260_NO_CYTHON"}
    environ.update(env)
    proc = subprocess.run([sys.executable, "-c", LOADER, str(root)], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    r = np.random.RandomState(0)
    x, w, b, dout = r.randn(2, 3, 7, 6), r.randn(4, 3, 3, 2), r.randn(4), r.randn(2, 4, 4, 4)
    p, first = pool_reference(x, 3, 2, 2)
    expected = [conv_reference(x, w, b, 2, 1), *conv_reference_backward(dout, x, w, 2, 1),
                p, pool_reference_backward(np.ones(p.shape), x.shape, first)]
    for got, want in zip(report["results"], expected):
        assert_close(np.array(got), want, np.float64)
    return report


def test_grader_style_load_uses_extension_without_warning():
    report = _load_in_subprocess(SOLUTION)
    assert report["backend"] == "cython"
    assert report["kernels"] == "_cs260_trusted.im2col_cython"
    assert report["warnings"] == []


def test_env_var_forces_numpy_fallback_with_one_warning():
    report = _load_in_subprocess(SOLUTION, CS260_NO_CYTHON="1")
    assert report["backend"] == "numpy"
    assert len(report["warnings"]) == 1, report["warnings"]
    assert report["warnings"][0].startswith("RuntimeWarning:")
    assert "CS260_NO_CYTHON" in report["warnings"][0]
    assert "pip install -e ." in report["warnings"][0]


def test_missing_extension_falls_back_with_one_warning(tmp_path):
    for name in ("fast_layers.py", "im2col.py", "parallel.py"):
        shutil.copy(SOLUTION / name, tmp_path / name)
    report = _load_in_subprocess(tmp_path)
    assert report["backend"] == "numpy"
    assert len(report["warnings"]) == 1, report["warnings"]
    assert "ImportError" in report["warnings"][0] or "ModuleNotFoundError" in report["warnings"][0]
    assert "pip install -e ." in report["warnings"][0]


# ---------------------------------------------------------------- threads (parallel.py)

@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 2, 5, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_layers_split_over_threads_match_reference(fl, threads, n_threads, N, dtype):
    """Every layer gives the reference result whatever the number of threads and batch size
    (batches smaller than two images per thread use fewer threads)."""
    assert threads(n_threads) == n_threads
    rng = np.random.default_rng(N)
    x = rng.standard_normal((N, 3, 9, 9)).astype(dtype)
    w, b = rng.standard_normal((4, 3, 3, 3)).astype(dtype), rng.standard_normal(4).astype(dtype)
    out, cache = fl.conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
    assert_close(out, conv_reference(x, w, b, 2, 1), dtype, "conv out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    for got, want, name in zip(fl.conv_backward_fast(dout, cache),
                               conv_reference_backward(dout, x, w, 2, 1), "xwb"):
        assert_close(got, want, dtype, f"conv d{name}")
    _pool_check(fl, fl._kernels, x, 3, 3, 2)


def test_over_slices_covers_the_batch_in_order(cs, threads):
    threads(3)
    seen = []
    results = cs.parallel.over_slices(lambda n0, n1: seen.append((n0, n1)) or (n0, n1), 10)
    assert results == [(0, 3), (3, 6), (6, 10)]
    assert sorted(seen) == results
    assert cs.parallel.over_slices(lambda n0, n1: (n0, n1), 5, min_size=2) == [(0, 2), (2, 5)]
    assert cs.parallel.over_slices(lambda n0, n1: (n0, n1), 5, min_size=3) == [(0, 5)]
    assert cs.parallel.over_slices(lambda n0, n1: (n0, n1), 0) == [(0, 0)]


@pytest.mark.parametrize("op, shape, threaded", [
    ("conv", (2, 3, 8, 8), False),      # a gradient check's batch: one thread
    ("conv", (50, 3, 32, 32), True),    # ThreeLayerConvNet's layer on a minibatch
    ("pool", (4, 16, 16, 16), False),
    ("pool", (50, 32, 32, 32), True),
])
def test_small_calls_stay_in_one_thread(cs, fl, set_threads, op, shape, threaded):
    """Waking a thread costs more than a small layer call: those run in the calling thread."""
    import threading
    set_threads(cs, 2)  # with the real work thresholds
    seen = set()
    kernels = fl._kernels

    def spy(name):
        def call(*args):
            seen.add(threading.get_ident())
            return getattr(kernels, name)(*args)
        return staticmethod(call)

    spy_kernels = type("Spy", (), {name: spy(name) for name in
                                   ("im2col", "col2im", "maxpool_forward", "maxpool_backward")})
    x = np.random.default_rng(0).standard_normal(shape)
    if op == "conv":
        out, cache = fl._conv_forward(x, np.ones((32, 3, 7, 7)), np.zeros(32), {"stride": 1, "pad": 3},
                                      spy_kernels)
        fl.conv_backward_fast(out, cache)
    else:
        out, cache = fl._max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2}, spy_kernels)
        fl.max_pool_backward_fast(out, cache)
    assert len(seen) == (2 if threaded else 1)


def test_over_slices_waits_for_threads_and_reraises(cs, threads):
    """An error in any slice reaches the caller, and only after every thread has finished."""
    import threading
    import time
    threads(2)
    finished = threading.Event()

    def fn(n0, n1):
        if n0 == 0:
            raise ValueError("first slice failed")
        time.sleep(0.2)
        finished.set()

    with pytest.raises(ValueError, match="first slice failed"):
        cs.parallel.over_slices(fn, 4)
    assert finished.is_set()

    def fail_in_thread(n0, n1):
        if n0:
            raise KeyError("second slice failed")

    with pytest.raises(KeyError, match="second slice failed"):
        cs.parallel.over_slices(fail_in_thread, 4)


def test_layers_run_in_one_thread_when_no_thread_can_start(cs, fl, threads, monkeypatch):
    """Under a tight memory limit starting a thread fails: the layers must still give results."""
    import threading

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert threads(3) == 1
    assert cs.parallel.over_slices(lambda n0, n1: (n0, n1), 9) == [(0, 9)]
    x = np.random.default_rng(1).standard_normal((6, 2, 5, 5))
    w, b = np.ones((3, 2, 3, 3)), np.zeros(3)
    assert_close(fl.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[0],
                 conv_reference(x, w, b, 1, 1), np.float64)


def test_slices_run_in_the_caller_when_the_pool_refuses_work(cs, threads, monkeypatch):
    """At interpreter exit the executor refuses new work: the calling thread does it all."""
    threads(3)
    pool = cs.parallel._setup()[2]

    def refuse(*args, **kwargs):
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(pool, "submit", refuse)
    assert cs.parallel.over_slices(lambda n0, n1: (n0, n1), 9) == [(0, 3), (3, 6), (6, 9)]


def test_blas_threads_are_restored(cs, fl, threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    threads(2)
    x = np.ones((4, 2, 5, 5))
    fl.conv_backward_fast(np.ones((4, 3, 5, 5)), fl.conv_forward_fast(x, np.ones((3, 2, 3, 3)), np.ones(3),
                                                                      {"stride": 1, "pad": 1})[1])
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert after == before


def test_without_threadpoolctl_everything_runs_in_one_thread(cs, fl, threads, monkeypatch):
    monkeypatch.setattr(cs.parallel, "threadpoolctl", None)
    assert threads(4) == 1  # BLAS threads cannot be limited, so no threads of ours
    x = np.random.default_rng(0).standard_normal((6, 2, 5, 5))
    w, b = np.ones((3, 2, 3, 3)), np.zeros(3)
    assert_close(fl.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[0],
                 conv_reference(x, w, b, 1, 1), np.float64)


def test_bad_thread_count_says_what_is_wrong(cs, threads):
    with pytest.raises(ValueError, match="CS260_THREADS must be an integer, got 'two'"):
        threads("two")


def test_layers_work_in_a_forked_child(tmp_path):
    """Threads do not survive fork: the child starts its own on first use instead of hanging."""
    script = tmp_path / "fork.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        import numpy as np
        sys.path.insert(0, {str(SOLUTION.parent)!r})
        os.environ["CS260_THREADS"] = "2"
        from cs260.fast_layers import conv_forward_fast
        x, w, b = np.ones((8, 3, 8, 8)), np.ones((2, 3, 3, 3)), np.zeros(2)
        conv_forward_fast(x, w, b, {{"stride": 1, "pad": 1}})  # threads started in the parent
        pid = os.fork()
        if pid == 0:
            out, _ = conv_forward_fast(x, w, b, {{"stride": 1, "pad": 1}})
            os._exit(0 if out[0, 0, 4, 4] == 27 else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_conv_backward_can_skip_dx(fl, cs, threads, n_threads, dtype):
    """compute_dx=False (a network's first layer) returns dx None and the same dw, db, also
    through the conv-relu(-pool) sandwiches."""
    threads(n_threads)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 3, 8, 8)).astype(dtype)
    w, b = rng.standard_normal((4, 3, 3, 3)).astype(dtype), rng.standard_normal(4).astype(dtype)
    out, cache = fl.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal(out.shape).astype(dtype)
    _, want_dw, want_db = conv_reference_backward(dout, x, w, 1, 1)
    dx, dw, db = fl.conv_backward_fast(dout, cache, compute_dx=False)
    assert dx is None
    assert_close(dw, want_dw, dtype, "dw")
    assert_close(db, want_db, dtype, "db")
    lu = cs.layer_utils
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    for forward, backward, args in ((lu.conv_relu_forward, lu.conv_relu_backward, ()),
                                    (lu.conv_relu_pool_forward, lu.conv_relu_pool_backward, (pool,))):
        y, c = forward(x, w, b, {"stride": 1, "pad": 1}, *args)
        g = rng.standard_normal(y.shape).astype(dtype)
        full = backward(g, c)
        skipped = backward(g, c, compute_dx=False)
        assert skipped[0] is None and full[0] is not None
        for got, want, name in zip(skipped[1:], full[1:], ("dw", "db")):
            assert_close(got, want, dtype, f"{backward.__name__} {name}")


# ---------------------------------------------------------------- OpenBLAS's idle threads

_SPIN_PROBE = textwrap.dedent("""
    import ctypes, json, os, sys, threading
    import numpy as np
    import threadpoolctl
    sys.path.insert(0, sys.argv[1])
    libs = [lib for lib in threadpoolctl.ThreadpoolController().select(internal_api="openblas").lib_controllers
            if lib.threading_layer == "pthreads"]
    if not libs:
        print(json.dumps(None)); raise SystemExit
    timeout = ctypes.CDLL(libs[0].filepath).openblas_thread_timeout
    before = timeout()
    if sys.argv[2] == "thread":  # another Python thread alive: it might be inside BLAS
        stop = threading.Event(); threading.Thread(target=stop.wait).start()
    from cs260 import fast_layers, parallel
    a = np.random.default_rng(0).standard_normal((300, 300))
    x = np.random.default_rng(1).standard_normal((50, 3, 32, 32))
    out = fast_layers.conv_forward_fast(x, np.ones((8, 3, 3, 3)), np.zeros(8), {"stride": 1, "pad": 1})[0]
    ok = bool(np.allclose(a @ a, np.einsum("ij,jk->ik", a, a)))  # BLAS still right after the restart
    if sys.argv[2] == "thread":
        stop.set()
    print(json.dumps({"before": before, "after": timeout(), "threads": parallel.thread_count(), "ok": ok,
                      "env": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}))
""")


@pytest.mark.parametrize("setting", ["default", "user_set", "thread", "one_thread"])
def test_openblas_idle_threads_spin_briefly(setting):
    """With threads of its own, cs260.parallel makes OpenBLAS's idle threads sleep after ~2**18
    cycles instead of spinning ~0.1 s (which took a core from the layers' threads right after any
    two-threaded numpy matmul; bench/bench_notebook_cell.py); it leaves alone a spin time the user
    chose, and does nothing while another thread might be inside BLAS or without threads of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "CS260_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    if setting == "user_set":
        env["OPENBLAS_THREAD_TIMEOUT"] = "25"
    if setting == "one_thread":
        env["CS260_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-c", _SPIN_PROBE, str(REPO / "solution"),
                           "thread" if setting == "thread" else "-"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    if report is None:
        pytest.skip("numpy's BLAS is not OpenBLAS with its own threads")
    assert report["ok"]
    expected_env = "25" if setting == "user_set" else None
    assert report["env"] == expected_env, "the environment is left as it was"
    if setting == "default":
        assert report["threads"] == 2
        assert report["after"] == 18, report
    else:
        assert report["after"] == report["before"], report


_FAULT_PROBE = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from cs260 import parallel
    from cs260.classifiers.cnn import ThreeLayerConvNet
    np.random.seed(0)
    model = ThreeLayerConvNet()
    X, y = np.random.randn(50, 3, 32, 32), np.random.randint(10, size=50)
    for _ in range(3):
        model.loss(X, y)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        model.loss(X, y)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"threads": parallel.thread_count(), "faults": faults / 5}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
@pytest.mark.parametrize("threads", [2, 1])
def test_freed_layer_outputs_are_reused_without_page_faults(threads):
    """With threads of its own cs260.parallel asks glibc to keep freed blocks for reuse: a float32
    ThreeLayerConvNet training step then touches (almost) no fresh page (thousands otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(OPENBLAS_NUM_THREADS="2", CS260_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", _FAULT_PROBE, str(REPO / "solution")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["threads"] == threads
    if threads == 2:
        assert report["faults"] < 100, report
    else:  # left alone without threads (as in the grader's worker): glibc's usual behaviour
        assert report["faults"] > 1000, report
