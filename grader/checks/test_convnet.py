"""Section 6: ThreeLayerConvNet (classifiers/cnn.py).

The model lives in the worker; the grader reads its parameters back, sets parameters of its
own, sends data and computes losses, accuracies and expected values itself. Training uses the
trusted Solver in the worker; accuracies are computed here from the scores the model returns.
"""
import functools
import math

import numpy as np

from grader import config
from grader.checks import data
from grader.cases import CONVNET, NET_PARAMS, check, net_inputs
from grader.checks.checking import compare_numeric, depends_on, require_file
from grader.feedback.compare import (
    CheckFailed, as_array, as_scalar, assert_close, assert_scalar_close, failed, fmt, unpack)
from grader.feedback.causes import Cause
from grader.checks.fixtures import load_fixture
from grader.checks.numgrad import numeric_gradient_item, sample_indices

SOLVER = "solver.Solver"


# The layers of layers.py that ThreeLayerConvNet runs (conv and pool are the trusted fast
# layers): when a check of the net fails, its message names those failing their own first case.
NET_USES = ("prereq.affine_forward_4d", "prereq.affine_backward", "prereq.relu_forward",
            "prereq.relu_backward", "prereq.softmax_loss")


def uses_layers(check_fn):
    """A check of the net whose failure names the failing layers it depends on."""
    @functools.wraps(check_fn)
    def run(*args, **kwargs):
        with depends_on(kwargs["worker"], NET_USES, "ThreeLayerConvNet"):
            return check_fn(*args, **kwargs)
    return run


def require(submission):
    """Fail at once with the loader's message when cnn.py or layers.py is missing or broken."""
    require_file(submission, "cnn.py")
    require_file(submission, "layers.py")


def read_params(worker, model, what):
    """model.params as a dict of arrays, with all six keys."""
    params = worker.getattr(model, "params")
    if not isinstance(params, dict):
        raise CheckFailed(f"{what}: model.params should be a dict of numpy arrays; got "
                          f"{type(params).__name__}.")
    missing = [k for k in NET_PARAMS if k not in params]
    if missing:
        raise CheckFailed(f"{what}: model.params is missing {', '.join(missing)} (it has "
                          f"{', '.join(sorted(map(str, params))) or 'nothing'}).")
    return {k: as_array(params[k], f"{what}: params['{k}']") for k in NET_PARAMS}


def expected_shapes(C, H, W, F, fs, hidden, classes):
    """The parameter shapes the notebook specifies for ThreeLayerConvNet."""
    return {"W1": (F, C, fs, fs), "b1": (F,), "W2": (F * (H // 2) * (W // 2), hidden),
            "b2": (hidden,), "W3": (hidden, classes), "b3": (classes,)}


def model_with(worker, model_kwargs, params):
    """A model built with model_kwargs whose six parameters are then set by the grader."""
    model = worker.new(CONVNET, **model_kwargs, seed=0)
    for p in NET_PARAMS:
        worker.setitem(model, "params", p, params[p])
    return model


def loss_and_grads(worker, model, X, y):
    """Call model.loss(X, y) and check it returns a loss and a dict of every gradient."""
    loss, grads = unpack(worker.call((model, "loss"), X, y), ("loss", "grads"),
                         "ThreeLayerConvNet.loss(X, y)")
    if not isinstance(grads, dict):
        raise CheckFailed(f"ThreeLayerConvNet.loss(X, y) should return (loss, grads) with grads "
                          f"a dict; grads is {type(grads).__name__}.")
    missing = [p for p in NET_PARAMS if p not in grads]
    if missing:
        raise CheckFailed(f"ThreeLayerConvNet.loss(X, y): grads is missing {', '.join(missing)}.")
    return as_array(loss, "ThreeLayerConvNet.loss(X, y): loss"), grads


def loss_only(worker, model, X, y):
    """The loss of model.loss(X, y) as a float (its grads are not looked at)."""
    loss, _ = unpack(worker.call((model, "loss"), X, y), ("loss", "grads"),
                     "ThreeLayerConvNet.loss(X, y)")
    return as_scalar(loss, "ThreeLayerConvNet.loss(X, y): loss")


def net_text(case, fx):
    """The net and batch of a case, as failure messages name the input."""
    model = case.params["model"]
    shown = ", ".join(f"{k}={v!r}" for k, v in model.items())
    return (f"ThreeLayerConvNet({shown}) with parameters set by the grader; X "
            f"{tuple(fx.inputs['X'].shape)}, y {tuple(fx.inputs['y'].shape)}  [case {case.id}: "
            f"{case.about}]")


# ----------------------------------------------------------------------------------------------
# Initialization and the sanity checks of the loss
# ----------------------------------------------------------------------------------------------

INIT_CONFIGS = [
    # (kwargs, (C, H, W, F, fs, hidden, classes), weight_scale, dtype)
    ({}, (3, 32, 32, 32, 7, 100, 10), 1e-3, "float32"),
    ({"input_dim": (3, 16, 12), "num_filters": 5, "filter_size": 5, "hidden_dim": 40,
      "num_classes": 7, "weight_scale": 0.05, "dtype": "float64"},
     (3, 16, 12, 5, 5, 40, 7), 0.05, "float64"),
    ({"input_dim": (2, 10, 8), "num_filters": 3, "filter_size": 3, "hidden_dim": 9,
      "num_classes": 4, "weight_scale": 0.02, "dtype": "float64"},
     (2, 10, 8, 3, 3, 9, 4), 0.02, "float64"),   # not 3 channels
]


_BIAS_SHAPE = Cause("convnet.bias_shape", "a bias is 1-D: np.zeros(size); np.zeros((1, size)) "
                    "adds an axis, and np.zeros_like(size) of a number is a 0-d scalar")
INIT_SHAPE_CAUSES = {   # parameter -> the likely causes of a wrong shape
    "W2": [Cause("convnet.w2_rows", "W2 has num_filters * H/2 * W/2 rows: the convolution "
                 "keeps H and W, the 2x2 pool halves them")],
    "b1": [_BIAS_SHAPE], "b2": [_BIAS_SHAPE], "b3": [_BIAS_SHAPE]}


@check("convnet.init", "ThreeLayerConvNet")
def test_init(worker, submission):
    """parameters: shapes, dtype, zero biases, weights drawn with std weight_scale"""
    require(submission)
    for seed, (kwargs, dims, scale, dtype) in enumerate(INIT_CONFIGS, start=1):
        what = f"ThreeLayerConvNet({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        params = read_params(worker, worker.new(CONVNET, **kwargs, seed=seed), what)
        for name, shape in expected_shapes(*dims).items():
            p = params[name]
            if p.shape != shape:
                if name == "W1" and len(p.shape) == 4 and p.shape[1] != dims[0]:
                    raise CheckFailed(f"{what}: params['W1'] has shape {tuple(p.shape)}, "
                                      f"expected {shape} (input_dim has {dims[0]} channel(s): "
                                      f"take C from input_dim instead of writing 3).")
                raise failed([f"{what}: params['{name}'] has shape {tuple(p.shape)}, expected "
                              f"{shape}."], INIT_SHAPE_CAUSES.get(name, []))
            if p.dtype != np.dtype(dtype):
                raise CheckFailed(f"{what}: params['{name}'] has dtype {p.dtype}, expected "
                                  f"{dtype} (the dtype argument).")
            if name.startswith("b"):
                if np.any(p != 0):
                    raise CheckFailed(f"{what}: params['{name}'] should start at zero.")
                continue
            # Normal(0, scale^2) samples: the std within 6 standard errors (and INIT_SCALE_TOL).
            n = p.size
            std, mean = float(p.astype(np.float64).std()), float(p.astype(np.float64).mean())
            tol = max(config.INIT_SCALE_TOL, 6 / math.sqrt(2 * n))
            if not abs(std / scale - 1) <= tol or abs(mean) > 6 * scale / math.sqrt(n):
                raise CheckFailed(
                    f"{what}: params['{name}'] should be drawn from a normal distribution with "
                    f"mean 0 and std weight_scale = {fmt(scale)}; its {n} entries have mean "
                    f"{fmt(mean)} and std {fmt(std)} (allowed: std within {tol:.0%} of "
                    f"{fmt(scale)}).")


@check("convnet.initial_loss", "ThreeLayerConvNet")
@uses_layers
def test_initial_loss(worker, submission):
    """the initial loss (small random weights, no regularization) is about log(C)"""
    require(submission)
    r = np.random.default_rng(61)
    for kwargs, shape, classes in (({}, (50, 3, 32, 32), 10),
                                   ({"input_dim": (3, 16, 16), "num_classes": 4}, (20, 3, 16, 16), 4)):
        X = r.standard_normal(shape)
        y = r.integers(0, classes, size=shape[0])
        model = worker.new(CONVNET, **kwargs, seed=62)
        loss = loss_only(worker, model, X, y)
        expected = math.log(classes)
        if not abs(loss - expected) <= config.INITIAL_LOSS_TOL:
            raise CheckFailed(
                f"Initial loss of ThreeLayerConvNet({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) "
                f"on X {shape} (random), no regularization: {fmt(loss)}; expected about "
                f"log({classes}) = {fmt(expected)} (within {config.INITIAL_LOSS_TOL}).\n"
                f"  With weights ~ 1e-3 the scores are near 0, so the softmax is uniform.")


@check("convnet.reg_loss", "ThreeLayerConvNet")
@uses_layers
def test_reg_loss(worker, submission):
    """regularization adds exactly 0.5 * reg * (sum(W1**2) + sum(W2**2) + sum(W3**2))"""
    require(submission)
    dims = {"input_dim": (3, 8, 8), "num_filters": 4, "filter_size": 3, "hidden_dim": 6,
            "num_classes": 5, "dtype": "float64"}
    values = net_inputs(dims, 4)(71)
    X, y = values["X"], values["y"]
    reg = 0.7
    plain = model_with(worker, dict(dims, reg=0.0), values)
    regd = model_with(worker, dict(dims, reg=reg), values)
    loss0, loss1 = loss_only(worker, plain, X, y), loss_only(worker, regd, X, y)
    # From the parameters the grader set, never from what the model reports about itself.
    squares = {p: float(np.sum(values[p].astype(np.float64) ** 2)) for p in NET_PARAMS}
    expected = 0.5 * reg * (squares["W1"] + squares["W2"] + squares["W3"])
    everything = 0.5 * reg * sum(squares.values())
    assert_scalar_close(
        loss1 - loss0, expected,
        what="loss(reg=0.7) - loss(reg=0)",
        inputs=f"a small float64 net with the same parameters (set by the grader, non-zero "
               f"biases), X {X.shape}; 0.5 * reg * sum of squared weights = {fmt(expected)}",
        tol=1e-7,
        diagnoses=[(Cause("convnet.reg_no_half",
                          "the 0.5 factor is missing: use 0.5 * reg * sum(W ** 2)"), 2 * expected),
                   (Cause("convnet.reg_biases",
                          "the biases are regularized too; only W1, W2 and W3 are"), everything),
                   (Cause("convnet.reg_missing", "the loss does not change with reg: the "
                          "regularization is not added, or added without the factor self.reg"),
                    0.0)]
        + [(Cause("convnet.reg_one_layer", f"only {p} is regularized"), 0.5 * reg * squares[p])
           for p in ("W1", "W2", "W3")]
        + reg_term_mistakes(expected, reg, {p: values[p].astype(np.float64)
                                            for p in ("W1", "W2", "W3")}),
        reference="0.5 * reg * (sum(W1**2) + sum(W2**2) + sum(W3**2))")


# ----------------------------------------------------------------------------------------------
# Scores, loss and gradients against fixtures (parameters set by the grader)
# ----------------------------------------------------------------------------------------------

def reg_loss_mistakes(case, fx):
    """(cause, loss) of regularization mistakes, from the parameters the grader set."""
    reg = case.params["model"]["reg"]
    sq = {p: float(np.sum(fx.inputs[p] ** 2)) for p in NET_PARAMS}
    weights = 0.5 * reg * (sq["W1"] + sq["W2"] + sq["W3"])
    biases = 0.5 * reg * (sq["b1"] + sq["b2"] + sq["b3"])
    e = float(fx.expected["loss"])
    return [(Cause("convnet.reg_missing",
                   "the regularization 0.5 * reg * sum(W ** 2) is not added to the loss"),
             e - weights),
            (Cause("convnet.reg_no_half", "the 0.5 factor of the regularization is missing"),
             e + weights),
            (Cause("convnet.reg_biases", "the biases are regularized too; only W1, W2 and W3 "
                   "are"), e + biases)] + [
        (Cause("convnet.reg_one_layer", f"only {p} is regularized (the terms of the other "
               f"weights are missing from the loss)"), e - weights + 0.5 * reg * sq[p])
        for p in ("W1", "W2", "W3")] + reg_term_mistakes(e, reg, {p: fx.inputs[p] for p in
                                                                   ("W1", "W2", "W3")})


def reg_term_mistakes(right, reg, weights):
    """(cause, loss) of mistakes in one weight's term of 0.5 * reg * sum(W ** 2), the loss being
    `right` with the right terms: the term left out, or written sum(W) ** 2 or sum(W)."""
    out = []
    for p, W in weights.items():
        term = 0.5 * reg * float(np.sum(W ** 2))
        out += [(Cause("convnet.reg_one_missing", f"{p} is not regularized: its term 0.5 * reg * "
                       f"sum({p} ** 2) is missing from the loss"), right - term),
                (Cause("convnet.reg_sum_squared", f"the term of {p} is np.sum({p}) ** 2 (the "
                       f"square of the sum); it is np.sum({p} ** 2)"),
                 right - term + 0.5 * reg * float(np.sum(W)) ** 2),
                (Cause("convnet.reg_sum_squared", f"the term of {p} is np.sum({p}) (not squared); "
                       f"it is np.sum({p} ** 2)"), right - term + 0.5 * reg * float(np.sum(W)))]
    return out


def check_scores(worker, case, fx, model, slips=None):
    """The scores and the loss of a case's net against the fixture."""
    text = net_text(case, fx)
    scores = worker.call((model, "loss"), fx.inputs["X"])
    assert_close(scores, fx.expected["scores"], what="ThreeLayerConvNet.loss(X) (scores)",
                 inputs=text, tol=case.tol,
                 diagnoses=[(Cause("convnet.relu_on_scores", "the scores go through a ReLU "
                                   "(affine_relu_forward for the last layer): the last layer is "
                                   "affine only, scores may be negative"),
                             np.maximum(fx.expected["scores"], 0))], slips=slips)
    loss = loss_only(worker, model, fx.inputs["X"], fx.inputs["y"])
    assert_scalar_close(loss, fx.expected["loss"], what="ThreeLayerConvNet.loss(X, y): loss",
                        inputs=text, tol=case.tol, diagnoses=reg_loss_mistakes(case, fx))


def check_gradients(worker, case, fx, model, slips=None):
    """Gradients vs the fixture, then vs centered differences of the model's own loss (when
    that loss is right for this input; otherwise it says nothing about the gradients).
    Returns a note for the check's output."""
    text = net_text(case, fx)
    loss, grads = loss_and_grads(worker, model, fx.inputs["X"], fx.inputs["y"])
    reg = case.params["model"]["reg"]
    for p in NET_PARAMS:
        expected = fx.expected[f"grad.{p}"]
        if p.startswith("W"):
            W = fx.inputs[p]
            diag = [(Cause("convnet.reg_grad_missing",
                           "the regularization gradient reg * W is missing"), expected - reg * W),
                    (Cause("convnet.reg_grad_double", f"the regularization gradient is 2 * reg * "
                           f"{p}: the gradient of 0.5 * reg * sum({p} ** 2) is reg * {p}"),
                     expected + reg * W),
                    (Cause("convnet.reg_grad_sum", f"the regularization gradient is reg * "
                           f"np.sum({p}) (one number); it is reg * {p}, element by element"),
                     expected - reg * W + reg * float(np.sum(W)))]
        else:
            diag = [(Cause("convnet.reg_grad_biases",
                           "the biases are regularized too (their gradient has reg * b); only "
                           "W1, W2 and W3 are"), expected + reg * fx.inputs[p])]
        assert_close(grads[p], expected, what=f"ThreeLayerConvNet.loss(X, y): grads['{p}']",
                     inputs=text, tol=case.tol, diagnoses=diag, slips=slips)
    loss = float(np.asarray(loss, dtype=np.float64).reshape(-1)[0])
    if not abs(loss - float(fx.expected["loss"])) <= case.tol * (abs(loss) + abs(float(fx.expected["loss"]))):
        return ("Your loss differs from the reference for this input, so the numeric-gradient "
                "check was skipped; the gradients matched the reference.")
    for k, p in enumerate(NET_PARAMS):
        base = fx.inputs[p]
        idx = sample_indices(base.shape, config.NUMERIC_NET_ENTRIES, case.rng_seed + k)
        num = numeric_gradient_item(worker, model, "params", p, base, "loss",
                                    (fx.inputs["X"], fx.inputs["y"]), h=config.NUMERIC_H,
                                    indices=idx, pick=0)
        compare_numeric(as_array(grads[p], p).astype(np.float64), idx, num,
                        what=f"grads['{p}'] vs the numeric gradient of your own loss",
                        inputs=text, tol=config.TOL_NUMERIC_NET, slips=slips)
    return ""


@check("convnet.scores", "ThreeLayerConvNet")
@uses_layers
def test_scores(case, worker, submission, slips):
    """scores and loss match the reference for parameters set by the grader"""
    require(submission)
    fx = load_fixture(case)
    model = model_with(worker, case.params["model"], fx.inputs)
    check_scores(worker, case, fx, model, slips=slips)


@check("convnet.gradients", "ThreeLayerConvNet")
@uses_layers
def test_gradients(case, worker, submission, record_property, slips):
    """gradients match the reference and the numeric gradient of your loss"""
    require(submission)
    fx = load_fixture(case)
    model = model_with(worker, case.params["model"], fx.inputs)
    note = check_gradients(worker, case, fx, model, slips=slips)
    if note:
        record_property("output", note)


@check("convnet.hidden", "ThreeLayerConvNet")
@uses_layers
def test_hidden(case, worker, submission, record_property, slips):
    """scores, loss and gradients match the reference and the numeric gradient (hidden case)"""
    require(submission)
    fx = load_fixture(case)
    model = model_with(worker, case.params["model"], fx.inputs)
    check_scores(worker, case, fx, model, slips=slips)
    note = check_gradients(worker, case, fx, model, slips=slips)
    if note:
        record_property("output", note)


# ----------------------------------------------------------------------------------------------
# Training (the trusted Solver in the worker; accuracy computed here)
# ----------------------------------------------------------------------------------------------

def trusted_scores(fast, params, X, chunk=25):
    """ThreeLayerConvNet's scores computed here, by the trusted fast layers, from `params`: what
    a trained model predicts, whatever its own code would answer (no lookup, no memorising)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    F, C, fs, fs2 = p["W1"].shape if p["W1"].ndim == 4 else (0, 0, 0, -1)
    conv = {"stride": 1, "pad": (fs - 1) // 2}
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out = []
    try:
        for start in range(0, len(X), chunk):
            x = np.asarray(X[start:start + chunk], dtype=np.float64)
            h, _ = fast.conv_forward_fast(x, p["W1"], p["b1"], conv)
            h, _ = fast.max_pool_forward_fast(np.maximum(h, 0), pool)
            h = np.maximum(h.reshape(len(x), -1) @ p["W2"] + p["b2"], 0)
            out.append(h @ p["W3"] + p["b3"])
    except (ValueError, IndexError, AssertionError) as e:
        raise CheckFailed(f"model.params do not make a ThreeLayerConvNet for these images "
                          f"(W1 {p['W1'].shape}, W2 {p['W2'].shape}, W3 {p['W3'].shape}): "
                          f"{e}") from None
    return np.concatenate(out)


def accuracy(worker, model, X, y, fast):
    """The share of X classified as y by the parameters the model trained (read back, scored
    here by the trusted forward pass)."""
    params = read_params(worker, model, "ThreeLayerConvNet after training")
    return float(np.mean(np.argmax(trusted_scores(fast, params, X), axis=1) == y))


def overfit_data():
    """(X, y, description, accuracy needed): 100 CIFAR-10 training images when the data set is
    there, else a deterministic synthetic stand-in."""
    folder = data.cifar_dir()
    if folder is not None:
        d = data.load_cifar10(100, 0, folder)
        return (d["X_train"], d["y_train"], "100 CIFAR-10 training images",
                config.OVERFIT_MIN_TRAIN_ACC)
    d = data.synthetic_dataset(100, seed=260)
    return (d["X"], d["y"], "100 synthetic images (CIFAR-10 is not available)",
            config.OVERFIT_MIN_TRAIN_ACC_SYNTHETIC)


@check("convnet.overfit", "ThreeLayerConvNet")
@uses_layers
def test_overfit(worker, submission, fast, record_property):
    """overfits 100 examples (the notebook's solver settings: 15 epochs, adam, lr 1e-3)"""
    require(submission)
    X, y, source, needed = overfit_data()
    model = worker.new(CONVNET, weight_scale=1e-2, seed=260)
    # Validation set = training set: the Solver ends with its best epoch's parameters.
    solver = worker.new(SOLVER, model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                        num_epochs=15, batch_size=50, update_rule="adam",
                        optim_config={"learning_rate": 1e-3}, verbose=False, seed=260)
    worker.call((solver, "train"), seed=260, timeout=config.OVERFIT_TIMEOUT_S)
    acc = accuracy(worker, model, X, y, fast)
    text = (f"training accuracy {acc:.2f} on {source} after training ThreeLayerConvNet("
            f"weight_scale=1e-2) for 15 epochs (batch 50, adam, learning rate 1e-3)")
    if acc < needed:
        raise CheckFailed(f"The network does not overfit a small training set: {text}; at least "
                          f"{needed:.2f} expected.\n  Check the loss and gradients above first.")
    record_property("output", text[0].upper() + text[1:] + ".")


@check("convnet.train", "ThreeLayerConvNet")
@uses_layers
def test_train(worker, submission, cifar, fast, record_property):
    """one epoch of training on CIFAR-10 reaches the expected held-out accuracy"""
    require(submission)
    d = data.load_cifar10(config.TRAIN_SUBSET, config.TRAIN_HELDOUT, cifar)
    n_val = 100
    # The worker gets no label it is not trained on: its "validation" images are trained on too.
    train = {"X_train": d["X_train"], "y_train": d["y_train"],
             "X_val": d["X_train"][:n_val], "y_val": d["y_train"][:n_val]}
    model = worker.new(CONVNET, weight_scale=1e-3, hidden_dim=500, reg=1e-3, seed=260)
    solver = worker.new(SOLVER, model, train, num_epochs=1, batch_size=50, update_rule="adam",
                        optim_config={"learning_rate": 1e-3}, verbose=False,
                        num_train_samples=200, seed=260)
    del train
    worker.call((solver, "train"), seed=260, timeout=config.TRAIN_TIMEOUT_S)
    elapsed = worker.last_elapsed
    acc = accuracy(worker, model, d["X_test"], d["y_test"], fast)
    text = (f"held-out accuracy {acc:.3f} on {len(d['y_test'])} CIFAR-10 test images after one "
            f"epoch on {len(d['y_train'])} training images (ThreeLayerConvNet("
            f"weight_scale=1e-3, hidden_dim=500, reg=1e-3), batch 50, adam, learning rate 1e-3; "
            f"training took {elapsed:.0f} s)")
    if acc < config.TRAIN_MIN_HELDOUT_ACC:
        raise CheckFailed(f"Training does not reach the expected accuracy: {text}; at least "
                          f"{config.TRAIN_MIN_HELDOUT_ACC:.2f} expected (chance is 0.10).")
    record_property("output", text[0].upper() + text[1:] + ".")
