"""Unit tests of the checks' building blocks: compare.py messages, the known-mistake diagnoses,
numgrad.py, the image-cell formula and the CIFAR-10 reader.

Expected arrays here come from small loop implementations written in this file, independent of
grader/feedback/diagnoses.py, so a diagnosis is tested against a mistake made another way.
"""
import io
import os
import pickle
import re

import numpy as np
import pytest

from grader import config
from grader.checks import data
from grader.feedback import mistakes
from grader.feedback.compare import CheckFailed, assert_close, assert_scalar_close, rel_error, unpack
from grader.checks.numgrad import centered, numeric_gradient_local, perturbed, sample_indices


def loop_conv(x, w, b, stride, pad):
    """Cross-correlation by explicit loops over every output element."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    field = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(field * w[f]) + b[f]
    return out


def loop_dw(x, dout, HH, WW, stride, pad, window_step):
    """dw with windows placed every `window_step` (stride = correct, 1 = the stride bug)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, F, Ho, Wo = dout.shape
    dw = np.zeros((F, x.shape[1], HH, WW))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * window_step, j * window_step
                    dw[f] += dout[n, f, i, j] * xp[n, :, r:r + HH, c:c + WW]
    return dw


def failure(fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.fixture
def conv_case():
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((2, 3, 7, 7)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)
    return x, w, b


# ----------------------------------------------------------------------------------------------
# compare.py
# ----------------------------------------------------------------------------------------------

def test_rel_error_is_the_notebooks():
    x = np.array([1.0, 2.0, 0.0])
    y = np.array([1.0, 2.2, 1e-9])
    manual = max(0.0, 0.2 / 4.2, 1e-9 / 1e-8)
    assert rel_error(x, y) == pytest.approx(manual)
    assert rel_error(x, x) == 0.0


def test_close_arrays_pass_and_return_the_error():
    a = np.linspace(1, 2, 10)
    assert assert_close(a * (1 + 1e-10), a, what="t", tol=1e-7) < 1e-9


def test_message_has_worst_index_count_values_and_tolerance():
    expected = np.arange(24, dtype=float).reshape(2, 3, 4) + 1
    actual = expected.copy()
    actual[1, 2, 3] += 5.0
    actual[0, 0, 1] += 0.01
    msg = failure(assert_close, actual, expected, what="thing output", inputs="x (2, 3, 4)",
                  tol=1e-7)
    assert msg.startswith("thing output does not match the reference")
    assert "2 of 24 elements differ" in msg
    assert "index (1, 2, 3)" in msg
    assert "expected 24, got 29" in msg
    assert "tolerance 1e-07" in msg and "input: x (2, 3, 4)" in msg


def test_shape_mismatch_names_both_shapes_and_hints():
    msg = failure(assert_close, np.zeros((2, 3)), np.zeros((2, 4)), what="o", tol=1e-7,
                  shape_hints=[("the stride is ignored", (2, 3))])
    assert "wrong shape (2, 3), expected (2, 4)" in msg
    assert "likely cause: the stride is ignored" in msg
    msg = failure(assert_close, np.zeros((4, 2)), np.ones((2, 4)), what="o", tol=1e-7)
    assert "reverse order" in msg


def test_nan_and_structure_messages():
    msg = failure(assert_close, np.array([1.0, np.nan, np.inf]), np.ones(3), what="o", tol=1e-7)
    assert "2 of 3 elements are NaN or infinite" in msg and "index (1,)" in msg
    assert "should be a numpy array; got a list" in failure(assert_close, [1.0, 2.0], np.ones(2),
                                                            what="o", tol=1e-7)
    msg = failure(unpack, (1, 2), ("dx", "dw", "db"), "conv_backward_naive")
    assert "should return 3 values (dx, dw, db); it returned 2" in msg
    msg = failure(unpack, np.zeros(3), ("out", "cache"), "f")
    assert "returned an ndarray of shape (3,)" in msg


def test_scalar_message_shows_both_values():
    msg = failure(assert_scalar_close, 4.6, 2.3, what="loss", tol=1e-7,
                  diagnoses=[("summed instead of averaged", 4.6)])
    assert "expected 2.3, got 4.6" in msg and "summed instead of averaged" in msg


def test_generic_diagnoses():
    r = np.random.default_rng(1)
    e = r.standard_normal((2, 3, 5, 5))
    assert "all zeros" in failure(assert_close, np.zeros_like(e), e, what="o", tol=1e-7)
    assert "sign flipped" in failure(assert_close, -e, e, what="o", tol=1e-7)
    assert "transposed" in failure(assert_close, e.swapaxes(2, 3), e, what="o", tol=1e-7)
    assert "times 2" in failure(assert_close, 2 * e, e, what="o", tol=1e-7)
    border = e.copy()
    border[:, :, -1, :] += 1.0
    assert "border" in failure(assert_close, border, e, what="o", tol=1e-7)


def test_a_diagnosis_fires_only_when_it_fits():
    e = np.arange(6.0)
    wrong = e + 1
    msg = failure(assert_close, wrong, e, what="o", tol=1e-7,
                  diagnoses=[("off by one", e + 1), ("off by two", e + 2),
                             ("raises", lambda: 1 / 0)])
    assert "likely cause: off by one" in msg and "off by two" not in msg


# ----------------------------------------------------------------------------------------------
# diagnoses.py: the simulations reproduce mistakes made another way (loops here)
# ----------------------------------------------------------------------------------------------

def test_conv_simulation_equals_loops(conv_case):
    x, w, b = conv_case
    for stride, pad in ((1, 1), (2, 1), (2, 0), (3, 2)):
        assert rel_error(mistakes.conv(x, w, b, stride, pad), loop_conv(x, w, b, stride, pad)) < 1e-12


def test_conv_diagnoses_fire(conv_case):
    x, w, b = conv_case
    expected = loop_conv(x, w, b, 2, 1)
    flipped = loop_conv(x, w[:, :, ::-1, ::-1], b, 2, 1)
    no_bias = loop_conv(x, w, np.zeros_like(b), 2, 1)
    cands = [("flipped kernel", lambda: mistakes.conv(x, w[:, :, ::-1, ::-1], b, 2, 1)),
             ("bias missing", expected - b.reshape(1, -1, 1, 1)),
             ("windows not strided", lambda: mistakes.conv(x, w, b, 2, 1, window_stride=1))]
    assert "likely cause: flipped kernel" in failure(assert_close, flipped, expected, what="o",
                                                     tol=1e-7, diagnoses=cands)
    assert "likely cause: bias missing" in failure(assert_close, no_bias, expected, what="o",
                                                   tol=1e-7, diagnoses=cands)


def test_stride_not_applied_in_dw_fires():
    r = np.random.default_rng(2)
    x, w = r.standard_normal((2, 3, 7, 7)), r.standard_normal((2, 3, 3, 3))
    dout = r.standard_normal((2, 2, 4, 4))
    right, wrong = loop_dw(x, dout, 3, 3, 2, 1, 2), loop_dw(x, dout, 3, 3, 2, 1, 1)
    assert rel_error(mistakes.conv_backward(x, w, dout, 2, 1)[1], right) < 1e-12
    msg = failure(assert_close, wrong, right, what="dw", tol=1e-7, diagnoses=[
        ("stride not applied in dw", lambda: mistakes.conv_backward(x, w, dout, 2, 1, window_stride=1)[1])])
    assert "likely cause: stride not applied in dw" in msg


def test_pool_diagnoses_fire():
    r = np.random.default_rng(3)
    x = r.standard_normal((2, 2, 6, 6))
    loops_avg = np.array([[[[x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean() for j in range(3)]
                            for i in range(3)] for c in range(2)] for n in range(2)])
    loops_max = np.array([[[[x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(3)]
                            for i in range(3)] for c in range(2)] for n in range(2)])
    assert rel_error(mistakes.max_pool(x, 2, 2, 2), loops_max) == 0
    msg = failure(assert_close, loops_avg, loops_max, what="pool", tol=1e-7,
                  diagnoses=[("average pooling", lambda: mistakes.avg_pool(x, 2, 2, 2))])
    assert "likely cause: average pooling" in msg


def test_pool_backward_overwrite_simulation():
    x = np.array([[[[0.0, 1.0, 9.0, 2.0, 3.0]]]])     # 9 is the max of both 1x3 windows
    dout = np.array([[[[1.0, 2.0]]]])
    right = mistakes.max_pool_backward(x, dout, 1, 3, 2)
    assert right[0, 0, 0, 2] == 3.0
    assert mistakes.max_pool_backward(x, dout, 1, 3, 2, accumulate=False)[0, 0, 0, 2] == 2.0


def test_batchnorm_axes_diagnosis_fires():
    r = np.random.default_rng(4)
    x = 3 * r.standard_normal((3, 2, 4, 5)) + 1
    gamma, beta = r.standard_normal(2), r.standard_normal(2)
    per_example = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    wrong = per_example * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
    right = mistakes.scale_shift(mistakes.normalize(x, (0, 2, 3), 1e-5), gamma, beta)
    msg = failure(assert_close, wrong, right, what="sbn", tol=1e-7,
                  diagnoses=mistakes.spatial_bn_variants(x, gamma, beta, 1e-5))
    assert "likely cause: statistics per example and channel" in msg


def test_group_norm_interleaved_diagnosis_fires():
    r = np.random.default_rng(5)
    x = r.standard_normal((2, 6, 3, 3))
    gamma, beta = r.standard_normal((1, 6, 1, 1)), r.standard_normal((1, 6, 1, 1))
    # channel c in group c % 2 (a strided reshape), done by hand
    wrong = np.empty_like(x)
    for n in range(2):
        for g in range(2):
            chans = [c for c in range(6) if c % 2 == g]
            block = x[n, chans]
            wrong[n, chans] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    wrong = wrong * gamma + beta
    right = mistakes.group_norm(x, gamma, beta, 2, 1e-5)
    msg = failure(assert_close, wrong, right, what="sgn", tol=1e-7,
                  diagnoses=mistakes.group_norm_variants(x, gamma, beta, 2, 1e-5))
    assert "group c % G" in msg


# ----------------------------------------------------------------------------------------------
# numgrad.py
# ----------------------------------------------------------------------------------------------

def test_sample_indices():
    assert list(sample_indices((3, 4), 20, 0)) == list(range(12))
    s = sample_indices((10, 10), 7, 1)
    assert len(s) == 7 == len(set(s)) and list(s) == sorted(s)
    assert list(s) == list(sample_indices((10, 10), 7, 1))


def test_perturbed_leaves_input_alone():
    x = np.zeros((2, 2))
    values = perturbed(x, [3], 0.5)
    assert not x.any()
    assert values[0][1, 1] == 0.5 and values[1][1, 1] == -0.5


def test_numeric_gradient_of_array_function():
    r = np.random.default_rng(6)
    A = r.standard_normal((4, 5))
    x = r.standard_normal(5)
    dout = r.standard_normal(4)
    f = lambda v: np.tanh(A @ v)                      # noqa: E731
    analytic = A.T @ (dout * (1 - np.tanh(A @ x) ** 2))
    num = numeric_gradient_local(f, x, dout, h=config.NUMERIC_H, indices=np.arange(5))
    assert rel_error(num, analytic) < 1e-8


def test_numeric_gradient_of_scalar_function_on_a_sample():
    r = np.random.default_rng(7)
    x = r.standard_normal((6, 7))
    idx = sample_indices(x.shape, 10, 3)
    num = numeric_gradient_local(lambda v: np.sum(np.sin(v) * v), x, None, h=config.NUMERIC_H,
                                 indices=idx)
    analytic = (np.cos(x) * x + np.sin(x)).reshape(-1)[idx]
    assert rel_error(num, analytic) < 1e-8


def test_centered_projects_on_dout():
    outs = np.array([[2.0, 4.0], [0.0, 0.0]])          # f(x+h), f(x-h)
    assert centered(outs, np.array([1.0, 0.5]), 0.5)[0] == pytest.approx(4.0)


# ----------------------------------------------------------------------------------------------
# data.py
# ----------------------------------------------------------------------------------------------

def test_image_formula_equals_loop_convolution():
    x = data.generated_images(12)
    w, b = data.image_filters()
    assert rel_error(data.filtered_images(x), loop_conv(x, w, b, 1, 1)) < 1e-12


def test_cifar_reader_reads_a_batch_and_refuses_other_objects(tmp_path):
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({"batch_label": "b", "labels": [3, 7], "data": images,
                     "filenames": ["a.png", "b.png"]}, f, protocol=4)
    X, y = data.read_batch(path)
    assert X.shape == (2, 3, 32, 32) and list(y) == [3, 7]
    assert (X.reshape(2, -1) == images).all()

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))
    with open(path, "wb") as f:
        pickle.dump({"data": Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data.read_batch(path)


def test_cifar_reader_accepts_python2_style_bytes_keys(tmp_path):
    buf = io.BytesIO()
    pickle.dump({b"labels": [1], b"data": np.zeros((1, 3072), np.uint8)}, buf, protocol=2)
    (tmp_path / "b").write_bytes(buf.getvalue())
    X, y = data.read_batch(tmp_path / "b")
    assert X.shape == (1, 3, 32, 32) and list(y) == [1]


@pytest.mark.skipif(data.cifar_dir() is None, reason="CIFAR-10 not available (set CS260_DATA_DIR)")
def test_load_cifar10_preprocessing():
    d = data.load_cifar10(200, 50)
    assert d["X_train"].shape == (200, 3, 32, 32) and d["X_train"].dtype == np.float32
    assert d["X_test"].shape == (50, 3, 32, 32)
    assert abs(float(d["X_train"].mean())) < 1e-3
    assert re.fullmatch(r"int64", str(d["y_train"].dtype)) and d["y_train"].max() <= 9


# ----------------------------------------------------------------------------------------------
# checking.twin: the identities behind the second call of every forward case
# ----------------------------------------------------------------------------------------------

def reference_forward(case, args):
    """Direct numpy versions of the forward layers that have a twin (float64)."""
    from grader.checks.checking import short
    f = short(case.function)
    a = dict(zip(case.args, args))
    x = np.asarray(a["x"], dtype=np.float64)
    if f == "affine_forward":
        return x.reshape(len(x), -1) @ a["w"] + a["b"]
    if f == "relu_forward":
        return np.maximum(x, 0)
    if f == "conv_forward_naive":
        return loop_conv(x, a["w"], a["b"], a["conv_param"]["stride"], a["conv_param"]["pad"])
    if f == "max_pool_forward_naive":
        p = a["pool_param"]
        return mistakes.max_pool(x, p["pool_height"], p["pool_width"], p["stride"])
    if f == "spatial_groupnorm_forward":
        return mistakes.group_norm(x, a["gamma"], a["beta"], a["G"], a["gn_param"].get("eps", 1e-5))
    bn = a["bn_param"]
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    eps = bn.get("eps", 1e-5)
    if bn["mode"] == "train":
        return mistakes.scale_shift(mistakes.normalize(x, axes, eps), a["gamma"], a["beta"])
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    x_hat = (x - np.reshape(bn["running_mean"], shape)) / np.sqrt(np.reshape(bn["running_var"], shape) + eps)
    return mistakes.scale_shift(x_hat, a["gamma"], a["beta"])


def test_twin_identities_hold_for_a_correct_layer():
    from grader import cases
    from grader.checks.checking import twin
    checked = 0
    for case in cases.CASES:
        if case.kind != "layer" or case.dtype != "float64":
            continue
        inputs = case.inputs()
        made = twin(case, inputs)
        if made is None:
            continue
        new_inputs, params, transform, _ = made
        expected = reference_forward(case, case.call_args(inputs))
        args = [new_inputs[a] if a in new_inputs else cases.resolve(params[a], new_inputs)
                for a in case.args]
        assert rel_error(reference_forward(case, args), transform(expected)) < 1e-12, case.id
        checked += 1
    assert checked > 30
