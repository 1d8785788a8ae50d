"""Every layer of the reference solution: numeric gradient checks on many shapes, plus
forward results against independent references and the documented edge behaviour.

All checks run in float64 with inputs that stay away from the kinks of max and ReLU,
so the numeric gradients are exact to round-off and a relative error of 1e-6 is strict.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

TOL = 1e-6


@pytest.fixture(scope="module")
def cs(load_tree):
    return load_tree("solution")


@pytest.fixture(scope="module")
def L(cs):
    return cs.layers


def numeric_grad(f, x, dout, h=1e-5):
    """Centered-difference gradient of sum(f(x) * dout) with respect to x (restored after)."""
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = np.sum(f() * dout)
        x[ix] = old - h
        minus = np.sum(f() * dout)
        x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def check_grads(rel_error, forward, inputs, grads, dout):
    """grads[i] must match the numeric gradient of forward() with respect to inputs[i]."""
    assert len(grads) == len(inputs)
    for i, (x, grad) in enumerate(zip(inputs, grads)):
        assert grad.shape == x.shape, f"gradient {i} has shape {grad.shape}, expected {x.shape}"
        error = rel_error(numeric_grad(forward, x, dout), grad)
        assert error < TOL, f"gradient {i}: relative error {error:.2e}"


def distinct(rng, shape, gap=0.1):
    """Values in random order with at least `gap` between any two (no ties, no kinks crossed)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) * gap


def away_from_zero(rng, shape):
    """Random values with |x| >= 0.1."""
    return rng.choice([-1.0, 1.0], size=shape) * (0.1 + rng.random(shape))


# ---------------------------------------------------------------- affine, relu, softmax

@pytest.mark.parametrize("x_shape, M", [((3, 5), 4), ((2, 3, 4, 5), 7), ((1, 6), 1)])
def test_affine_gradients(L, rel_error, x_shape, M):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((int(np.prod(x_shape[1:])), M))
    b = rng.standard_normal(M)
    out, cache = L.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(x_shape[0], -1) @ w + b)
    dout = rng.standard_normal(out.shape)
    check_grads(rel_error, lambda: L.affine_forward(x, w, b)[0], (x, w, b),
                L.affine_backward(dout, cache), dout)


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4, 5)])
def test_relu_gradients(L, rel_error, shape):
    rng = np.random.default_rng(1)
    x = away_from_zero(rng, shape)
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    dout = rng.standard_normal(shape)
    check_grads(rel_error, lambda: L.relu_forward(x)[0], (x,), (L.relu_backward(dout, cache),), dout)


@pytest.mark.parametrize("N, C", [(5, 7), (1, 2), (8, 10)])
def test_softmax_loss_and_gradient(L, rel_error, N, C):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, C))
    y = rng.integers(C, size=N)
    loss, dx = L.softmax_loss(x, y)
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(N), y])), rel=1e-12)
    check_grads(rel_error, lambda: np.array(L.softmax_loss(x, y)[0]), (x,), (dx,), 1.0)


def test_softmax_loss_is_stable_for_large_scores(L):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    y = rng.integers(6, size=4)
    loss, dx = L.softmax_loss(x, y)
    loss_big, dx_big = L.softmax_loss(x + 1000.0, y)
    assert loss_big == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(dx_big, dx, atol=1e-12)


# ---------------------------------------------------------------- batch normalization

@pytest.mark.parametrize("N, D", [(6, 4), (3, 7), (10, 1)])
def test_batchnorm_train_gradients(L, rel_error, N, D):
    rng = np.random.default_rng(4)
    x = 3 * rng.standard_normal((N, D)) + 2
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    out, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = rng.standard_normal(out.shape)
    forward = lambda: L.batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]  # noqa: E731
    check_grads(rel_error, forward, (x, gamma, beta), L.batchnorm_backward(dout, cache), dout)


def test_batchnorm_test_mode_gradients(L, rel_error):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    stats = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}
    out, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
    dout = rng.standard_normal(out.shape)
    forward = lambda: L.batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})[0]  # noqa: E731
    check_grads(rel_error, forward, (x, gamma, beta), L.batchnorm_backward(dout, cache), dout)


def test_batchnorm_running_averages_and_defaults(L):
    rng = np.random.default_rng(6)
    x1, x2 = rng.standard_normal((8, 3)), rng.standard_normal((8, 3)) + 1
    gamma, beta = np.ones(3), np.zeros(3)
    bn_param = {"mode": "train"}
    out, _ = L.batchnorm_forward(x1, gamma, beta, bn_param)
    np.testing.assert_allclose(out, (x1 - x1.mean(0)) / np.sqrt(x1.var(0) + 1e-5))
    L.batchnorm_forward(x2, gamma, beta, bn_param)
    mean = 0.9 * (0.1 * x1.mean(0)) + 0.1 * x2.mean(0)
    var = 0.9 * (0.1 * x1.var(0)) + 0.1 * x2.var(0)
    np.testing.assert_allclose(bn_param["running_mean"], mean)
    np.testing.assert_allclose(bn_param["running_var"], var)

    bn_param["mode"] = "test"
    out, _ = L.batchnorm_forward(x1, gamma, beta, bn_param)
    np.testing.assert_allclose(out, (x1 - mean) / np.sqrt(var + 1e-5))

    bn_param = {"mode": "train", "eps": 0.5, "momentum": 0.25}
    out, _ = L.batchnorm_forward(x1, gamma, beta, bn_param)
    np.testing.assert_allclose(out, (x1 - x1.mean(0)) / np.sqrt(x1.var(0) + 0.5))
    np.testing.assert_allclose(bn_param["running_mean"], 0.75 * x1.mean(0))


def test_batchnorm_running_averages_take_the_dtype_of_x(L):
    x = np.random.default_rng(7).standard_normal((4, 3)).astype(np.float32)
    bn_param = {"mode": "train"}
    L.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32


def test_batchnorm_unknown_mode_names_it(L):
    with pytest.raises(ValueError, match="evaluate"):
        L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "evaluate"})


# ---------------------------------------------------------------- convolution

def conv_reference(x, w, b, stride, pad):
    """Cross-correlation through sliding windows: an independent formulation."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]


CONV_CASES = [
    # x shape, w shape, stride, pad
    ((2, 3, 5, 7), (4, 3, 3, 3), 1, 1),
    ((2, 2, 7, 9), (3, 2, 3, 5), 2, 2),   # non-square kernel, stride 2, pad 2
    ((1, 3, 6, 5), (2, 3, 2, 3), 2, 0),   # even kernel height, pad 0
    ((3, 1, 8, 8), (2, 1, 4, 4), 4, 0),   # stride equal to the kernel
    ((2, 3, 4, 4), (3, 3, 4, 4), 2, 1),   # the notebook's shapes
    ((1, 2, 3, 3), (1, 2, 1, 1), 1, 0),   # 1x1 kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_conv_forward_matches_reference(L, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, _ = L.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    np.testing.assert_allclose(out, conv_reference(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_conv_gradients(L, rel_error, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = L.conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    check_grads(rel_error, lambda: L.conv_forward_naive(x, w, b, conv_param)[0], (x, w, b),
                L.conv_backward_naive(dout, cache), dout)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    ((1, 1, 5, 5), (1, 1, 2, 2), 2, 0),   # (5 - 2) is not a multiple of 2
    ((1, 1, 4, 6), (1, 1, 3, 3), 2, 1),   # height fits, width does not
    ((1, 1, 2, 2), (1, 1, 5, 5), 1, 0),   # kernel larger than the input
])
def test_conv_forward_rejects_misfitting_geometry(L, x_shape, w_shape, stride, pad):
    with pytest.raises(ValueError, match="conv_forward_naive"):
        L.conv_forward_naive(np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0]),
                             {"stride": stride, "pad": pad})


# ---------------------------------------------------------------- max pooling

def pool_reference(x, ph, pw, stride):
    """Max pooling by explicit loops over every output element."""
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo))
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw].max()
    return out


POOL_CASES = [
    # x shape, pool height, pool width, stride
    ((2, 3, 4, 4), 2, 2, 2),
    ((2, 2, 5, 7), 3, 3, 2),   # overlapping windows
    ((1, 3, 6, 5), 2, 3, 1),   # rectangular, overlapping
    ((2, 2, 6, 8), 3, 2, 3),   # rectangular, gaps between windows
    ((1, 1, 3, 3), 3, 3, 1),   # one window covering everything
]


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOL_CASES)
def test_max_pool_forward_matches_reference(L, x_shape, ph, pw, stride):
    x = np.random.default_rng(10).standard_normal(x_shape)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, _ = L.max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, pool_reference(x, ph, pw, stride))


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOL_CASES)
def test_max_pool_gradients(L, rel_error, x_shape, ph, pw, stride):
    rng = np.random.default_rng(11)
    x = distinct(rng, x_shape)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = L.max_pool_forward_naive(x, param)
    dout = rng.standard_normal(out.shape)
    check_grads(rel_error, lambda: L.max_pool_forward_naive(x, param)[0], (x,),
                (L.max_pool_backward_naive(dout, cache),), dout)


def test_max_pool_ties_go_to_the_first_maximum(L):
    x = np.zeros((1, 1, 4, 4))
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    _, cache = L.max_pool_forward_naive(x, param)
    dx = L.max_pool_backward_naive(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pool_overlapping_windows_accumulate(L):
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the maximum of all four 2x2 windows
    param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    _, cache = L.max_pool_forward_naive(x, param)
    dx = L.max_pool_backward_naive(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pool_rejects_misfitting_geometry(L):
    with pytest.raises(ValueError, match="max_pool_forward_naive"):
        L.max_pool_forward_naive(np.zeros((1, 1, 5, 5)), {"pool_height": 2, "pool_width": 2, "stride": 2})


# ---------------------------------------------------------------- spatial batch / group norm

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 3, 5, 2), (3, 1, 2, 2)])
def test_spatial_batchnorm_train_gradients(L, rel_error, shape):
    rng = np.random.default_rng(12)
    C = shape[1]
    x = 2 * rng.standard_normal(shape) + 1
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    out, cache = L.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    per_channel = out.transpose(1, 0, 2, 3).reshape(C, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1), beta, atol=1e-10)
    np.testing.assert_allclose(per_channel.std(axis=1), np.abs(gamma), rtol=1e-4)
    dout = rng.standard_normal(shape)
    forward = lambda: L.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]  # noqa: E731
    check_grads(rel_error, forward, (x, gamma, beta), L.spatial_batchnorm_backward(dout, cache), dout)


def test_spatial_batchnorm_test_mode_gradients(L, rel_error):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 3, 4))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    stats = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}
    out, cache = L.spatial_batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
    dout = rng.standard_normal(out.shape)
    forward = lambda: L.spatial_batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})[0]  # noqa: E731
    check_grads(rel_error, forward, (x, gamma, beta), L.spatial_batchnorm_backward(dout, cache), dout)


def groupnorm_reference(x, gamma, beta, G, eps=1e-5):
    """Group norm with explicit loops over examples and groups."""
    N, C, H, W = x.shape
    out = np.empty_like(x)
    size = C // G
    for n in range(N):
        for g in range(G):
            part = x[n, g * size:(g + 1) * size]
            out[n, g * size:(g + 1) * size] = (part - part.mean()) / np.sqrt(part.var() + eps)
    return gamma * out + beta


GROUPNORM_CASES = [((2, 6, 3, 4), 1), ((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((2, 6, 3, 4), 6),
                   ((3, 4, 5, 3), 2), ((1, 2, 1, 1), 1)]


@pytest.mark.parametrize("shape, G", GROUPNORM_CASES)
def test_spatial_groupnorm_forward_matches_reference(L, shape, G):
    rng = np.random.default_rng(14)
    C = shape[1]
    x = 3 * rng.standard_normal(shape) - 1
    gamma, beta = rng.standard_normal((1, C, 1, 1)), rng.standard_normal((1, C, 1, 1))
    gn_param = {"mode": "train", "unused": 1}  # extra keys are allowed
    out, _ = L.spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    np.testing.assert_allclose(out, groupnorm_reference(x, gamma, beta, G), rtol=1e-10, atol=1e-12)
    out, _ = L.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 0.3})
    np.testing.assert_allclose(out, groupnorm_reference(x, gamma, beta, G, eps=0.3), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, G", [c for c in GROUPNORM_CASES if np.prod(c[0][2:]) * c[0][1] // c[1] > 1])
def test_spatial_groupnorm_gradients(L, rel_error, shape, G):
    rng = np.random.default_rng(15)
    C = shape[1]
    x = 2 * rng.standard_normal(shape) + 0.5
    gamma, beta = rng.standard_normal((1, C, 1, 1)), rng.standard_normal((1, C, 1, 1))
    out, cache = L.spatial_groupnorm_forward(x, gamma, beta, G, {})
    dout = rng.standard_normal(shape)
    forward = lambda: L.spatial_groupnorm_forward(x, gamma, beta, G, {})[0]  # noqa: E731
    check_grads(rel_error, forward, (x, gamma, beta), L.spatial_groupnorm_backward(dout, cache), dout)


# ---------------------------------------------------------------- dtypes

def test_float32_stays_float32(L):
    rng = np.random.default_rng(16)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    x = f32(2, 3, 6, 6)
    out, cache = L.conv_forward_naive(x, f32(4, 3, 3, 3), f32(4), {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.conv_backward_naive(f32(*out.shape), cache))
    out, cache = L.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.dtype == np.float32
    assert L.max_pool_backward_naive(f32(*out.shape), cache).dtype == np.float32
    out, cache = L.spatial_batchnorm_forward(x, f32(3), f32(3), {"mode": "train"})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.spatial_batchnorm_backward(f32(*x.shape), cache))
    out, cache = L.spatial_groupnorm_forward(x, f32(1, 3, 1, 1), f32(1, 3, 1, 1), 3, {})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.spatial_groupnorm_backward(f32(*x.shape), cache))
    out, cache = L.affine_forward(x, f32(108, 5), f32(5))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.affine_backward(f32(2, 5), cache))
    loss, dx = L.softmax_loss(f32(4, 5), np.array([0, 1, 2, 3]))
    assert dx.dtype == np.float32


# ---------------------------------------------------------------- sandwich layers and helpers

def test_affine_relu_gradients(cs, rel_error):
    rng = np.random.default_rng(17)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)
    b += 0.2 * np.sign(b)  # keep pre-activations away from zero
    lu = cs.layer_utils
    out, cache = lu.affine_relu_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    check_grads(rel_error, lambda: lu.affine_relu_forward(x, w, b)[0], (x, w, b),
                lu.affine_relu_backward(dout, cache), dout)


def test_conv_bn_relu_gradients(cs, rel_error):
    rng = np.random.default_rng(18)
    x, w, b = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    gamma, beta = rng.random(3) + 0.5, rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    lu = cs.layer_utils
    out, cache = lu.conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, {"mode": "train"})
    dout = rng.standard_normal(out.shape)
    forward = lambda: lu.conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, {"mode": "train"})[0]  # noqa: E731
    dx, dw, db, dgamma, dbeta = lu.conv_bn_relu_backward(dout, cache)
    check_grads(rel_error, forward, (x, w, gamma, beta), (dx, dw, dgamma, dbeta), dout)
    # Batch normalization removes any per-channel offset, so the conv bias has no effect.
    assert db.shape == b.shape
    np.testing.assert_allclose(db, 0, atol=1e-10)
    np.testing.assert_allclose(numeric_grad(forward, b, dout), 0, atol=1e-8)


def test_eval_numerical_gradient_helpers(cs):
    rng = np.random.default_rng(19)
    x = rng.standard_normal((3, 4))
    grad = cs.gradient_check.eval_numerical_gradient(lambda z: np.sum(z ** 3), x, verbose=False)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    dout = rng.standard_normal((3, 4))
    grad = cs.gradient_check.eval_numerical_gradient_array(np.sin, x, dout)
    np.testing.assert_allclose(grad, np.cos(x) * dout, rtol=1e-8, atol=1e-10)
