"""cs260.optim (given code, used by every training run) against the textbook update rules.

Adam works in chunks split over threads; these cases cover one chunk, several chunks per
thread, non-contiguous arrays, float32, and the bias correction of early and later steps.
"""
import copy

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cs(load_tree):
    return load_tree("solution")


@pytest.fixture
def threads(cs, set_threads):
    """threads(n): the solution's cs260 splits work over n threads for the rest of the test."""
    return lambda n: set_threads(cs, n)


def adam_reference(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The textbook Adam step in float64: (next_w, m, v)."""
    w, dw, m, v = (np.asarray(a, dtype=np.float64) for a in (w, dw, m, v))
    t += 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


SHAPES = [(5,), (40, 30), (700, 400)]  # the last spans several chunks on each of 2 threads


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("t", [0, 5, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_adam_matches_textbook(cs, threads, n_threads, shape, t, dtype):
    threads(n_threads)
    rng = np.random.default_rng(t + len(shape))
    w, dw, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v = rng.random(shape).astype(dtype) if t else np.zeros(shape, dtype)
    inputs = copy.deepcopy((w, dw, m, v))
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": t}
    next_w, config = cs.optim.adam(w, dw, config)
    want_w, want_m, want_v = adam_reference(w, dw, m, v, t, lr=1e-2)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for got, want, name in ((next_w, want_w, "next_w"), (config["m"], want_m, "m"), (config["v"], want_v, "v")):
        assert got.dtype == dtype and got.shape == shape, name
        # atol scaled to the largest entry: w - step cancels to near 0 in some entries
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(), err_msg=name)
    assert config["t"] == t + 1
    for before, after in zip(inputs, (w, dw, m, v)):
        np.testing.assert_array_equal(before, after)  # the caller's arrays are not modified


def test_adam_starts_from_zero_state_and_accepts_views(cs, threads):
    threads(2)
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((400, 700)).T, rng.standard_normal((400, 700)).T  # not C-contiguous
    next_w, config = cs.optim.adam(w, dw)
    want_w, want_m, want_v = adam_reference(w, dw, np.zeros_like(w), np.zeros_like(w), 0)
    np.testing.assert_allclose(next_w, want_w, rtol=1e-12)
    np.testing.assert_allclose(config["m"], want_m, rtol=1e-12)
    assert config["learning_rate"] == 1e-3 and config["t"] == 1


def test_adam_same_result_on_any_number_of_threads(cs, threads):
    rng = np.random.default_rng(1)
    w, dw, m = (rng.standard_normal((1000, 300)) for _ in range(3))
    v = rng.random((1000, 300))
    results = []
    for n in (1, 2, 3):
        threads(n)
        next_w, config = cs.optim.adam(w, dw, {"m": m, "v": v, "t": 3})
        results.append((next_w, config["m"], config["v"]))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)  # elementwise: no reduction order to differ


def test_sgd_momentum_and_rmsprop_match_textbook(cs):
    rng = np.random.default_rng(2)
    w, dw, vel, cache = (rng.standard_normal((6, 7)) for _ in range(4))
    cache = np.abs(cache)
    next_w, config = cs.optim.sgd_momentum(w, dw, {"learning_rate": 0.1, "velocity": vel})
    np.testing.assert_allclose(next_w, w + 0.9 * vel - 0.1 * dw, rtol=1e-12)
    next_w, config = cs.optim.rmsprop(w, dw, {"learning_rate": 0.1, "cache": cache})
    new_cache = 0.99 * cache + 0.01 * dw**2
    np.testing.assert_allclose(next_w, w - 0.1 * dw / (np.sqrt(new_cache) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(config["cache"], new_cache, rtol=1e-12)
