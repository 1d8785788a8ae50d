"""THE list of fixture cases: what each graded function is called with, and how it is judged.

A case names the graded function (a worker target inside cs260), how its inputs are made
(seeded), the non-array parameters, its tolerance and whether it is public or hidden. Its
expected outputs are produced by running solution/ on it (`python -m grader.fixtures regen`)
and stored in fixtures/<visibility>/<case id>.npz; the checks (grader/test_*.py) run the
student's code on the same inputs and compare.

Notebook cases rebuild the notebook's own inputs (np.random.seed(260) / np.linspace). The
other cases probe what the notebook cases miss (odd sizes, strides, padding, non-square
kernels, overlapping and rectangular pools, a batch of one, float32, G = 1 and G = C).
Hidden cases (checks ending in ".hidden") are defined in grader/cases_hidden.py, which the
student release leaves out (as it leaves out their fixtures); this file defines public cases only.
"""
import inspect
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import number, tags, visibility, weight

from grader import config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

CONV_FORWARD = "layers.conv_forward_naive"
CONV_BACKWARD = "layers.conv_backward_naive"
POOL_FORWARD = "layers.max_pool_forward_naive"
POOL_BACKWARD = "layers.max_pool_backward_naive"
SBN_FORWARD = "layers.spatial_batchnorm_forward"
SBN_BACKWARD = "layers.spatial_batchnorm_backward"
SGN_FORWARD = "layers.spatial_groupnorm_forward"
SGN_BACKWARD = "layers.spatial_groupnorm_backward"
CONVNET = "classifiers.cnn.ThreeLayerConvNet"

# A ThreeLayerConvNet case's parameters are redrawn until every ReLU input and every gap
# between the two largest values of a pooling window is at least this far from a kink, so
# centered differences (step config.NUMERIC_H) never straddle one.
NET_KINK_MARGIN = 1e-3


@dataclass(frozen=True)
class Case:
    """One fixture case; see the module docstring."""
    id: str                      # "<section>.<name>", unique; also the fixture file name
    check: str                   # the config.CHECKS key whose points this case shares
    function: str                # worker target of the graded forward (a class for convnet)
    make: Callable               # make(seed) -> dict of input arrays ("dout" for backward)
    args: tuple = ()             # call order: names of inputs or of params
    params: dict = field(default_factory=dict)  # non-array arguments; "@name" = input `name`
    kind: str = "layer"          # layer | loss | bn_sequence | convnet
    backward: str = ""           # worker target of the backward ("" = forward only)
    grads: tuple = ()            # inputs the backward returns gradients for, in its order
    state: tuple = ()            # (param name, keys): read back from a dict argument after the call
    dtype: str = "float64"       # dtype of the floating inputs
    about: str = ""              # what the case probes, for messages
    seed: int = -1               # -1: derived from the id (crc32)
    numeric_ok: bool = True      # False: centered differences are too noisy here (fixture only)

    @property
    def visibility(self):
        return "hidden" if self.check.endswith(".hidden") else "public"

    @property
    def section(self):
        return config.CHECKS[self.check][0]

    @property
    def rng_seed(self):
        return self.seed if self.seed >= 0 else zlib.crc32(self.id.encode()) % (2 ** 31)

    @property
    def tol(self):
        return config.TOL_FLOAT32 if self.dtype == "float32" else config.TOL_FLOAT64

    @property
    def floor_rel(self):
        """rel_error floor as a fraction of max|expected| (0: the notebook's 1e-8)."""
        return config.FLOOR_FLOAT32 if self.dtype == "float32" else 0.0

    @property
    def numeric(self):
        """Whether analytic gradients are also checked by centered differences (float64 only)."""
        return (bool(self.backward) or self.kind == "loss") and self.dtype == "float64" \
            and self.numeric_ok

    @property
    def fixture_path(self):
        return FIXTURES / self.visibility / f"{self.id}.npz"

    def inputs(self):
        """The case's inputs, freshly generated."""
        return self.make(self.rng_seed)

    def call_args(self, inputs):
        """Positional arguments of the forward call: inputs and params in `args` order."""
        return [inputs[name] if name in inputs else resolve(self.params[name], inputs)
                for name in self.args]

    def manifest(self):
        """The case's manifest entry (fixtures/manifest.json), without the file hash."""
        return {"function": self.function, "backward": self.backward, "kind": self.kind,
                "check": self.check, "args": list(self.args), "params": self.params,
                "grads": list(self.grads), "dtype": self.dtype, "tolerance": self.tol,
                "floor_rel": self.floor_rel, "seed": self.rng_seed,
                "visibility": self.visibility, "about": self.about}


def resolve(value, inputs):
    """A param with "@name" strings replaced by the input arrays they name (deep copy)."""
    if isinstance(value, str) and value.startswith("@"):
        return inputs[value[1:]]
    if isinstance(value, dict):
        return {k: resolve(v, inputs) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, inputs) for v in value)
    return value


# ----------------------------------------------------------------------------------------------
# Input generators (all seeded)
# ----------------------------------------------------------------------------------------------

def _cast(d, dtype):
    return {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in d.items()}


def conv_out_shape(x_shape, w_shape, stride, pad):
    N, _, H, W = x_shape
    F, _, HH, WW = w_shape
    return (N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)


def pool_out_shape(x_shape, ph, pw, stride):
    N, C, H, W = x_shape
    return (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)


def conv_inputs(x_shape, w_shape, stride, pad, dtype="float64", dout=False):
    def make(seed):
        r = np.random.default_rng(seed)
        d = {"x": r.standard_normal(x_shape), "w": r.standard_normal(w_shape) * 0.5,
             "b": r.standard_normal(w_shape[0])}
        if dout:
            d["dout"] = r.standard_normal(conv_out_shape(x_shape, w_shape, stride, pad))
        return _cast(d, dtype)
    return make


def separated(r, shape, low=-2.0, high=2.0):
    """Distinct values spread evenly over [low, high] in random order: no near-ties for max."""
    size = int(np.prod(shape))
    return (low + (high - low) * r.permutation(size) / max(1, size - 1)).reshape(shape)


def planted_ties(r, x_shape, ph, pw, stride):
    """Distinct values with ties planted in about half the windows (a window's maximum copied
    to 1-3 of its other positions), redrawn until no position is a tied maximum of two
    windows (grader.policy judges each tied window on its own)."""
    from grader.policy import tied_sets_disjoint
    N, C, H, W = x_shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    for _ in range(1000):
        x = separated(r, x_shape)
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        if r.random() < 0.5:
                            window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                            others = r.permutation(ph * pw)[:r.integers(1, 4)]
                            window[others // pw, others % pw] = window.max()
        if tied_sets_disjoint(x, ph, pw, stride):
            return x
    raise RuntimeError("no input with separate tied windows found")  # never for the cases below


def relu_zero_windows(r, x_shape, ph, pw):
    """Distinct values after a ReLU (about a third are 0), with every third window all 0: its
    maximum, 0, also occurs in windows whose maximum is positive (non-overlapping windows)."""
    x = np.maximum(separated(r, x_shape, -1.0, 2.0), 0.0)
    N, C, H, W = x_shape
    for n, c, i, j in np.ndindex(N, C, H // ph, W // pw):
        if (n + c + i + j) % 3 == 0:
            x[n, c, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw] = 0.0
    return x


def pool_inputs(x_shape, ph, pw, stride, dtype="float64", dout=False, negative=False,
                ties=False, relu_zeros=False):
    """Pooling input without near-ties (ties=True: small integers, so most windows have tied
    maxima, or ties planted when windows overlap; relu_zeros=True: see `relu_zero_windows`;
    grader.policy says which gradients are accepted where maxima are tied)."""
    def make(seed):
        r = np.random.default_rng(seed)
        if relu_zeros:
            x = relu_zero_windows(r, x_shape, ph, pw)
        elif ties and stride < max(ph, pw):
            x = planted_ties(r, x_shape, ph, pw, stride)
        elif ties:
            x = r.integers(0, 3, size=x_shape).astype(np.float64)
        elif negative:
            x = separated(r, x_shape, -3.0, -0.1)
        else:
            x = separated(r, x_shape)
        d = {"x": x}
        if dout:
            d["dout"] = r.standard_normal(pool_out_shape(x_shape, ph, pw, stride))
        return _cast(d, dtype)
    return make


def norm_inputs(x_shape, param_shape, dtype="float64", dout=False, running=False, unit=False):
    """x with a non-trivial mean and scale, gamma/beta (ones/zeros when unit), optional dout and
    running statistics (one per channel, axis 1)."""
    def make(seed):
        r = np.random.default_rng(seed)
        C = x_shape[1]
        d = {"x": 3.0 * r.standard_normal(x_shape) + 2.0}
        if unit:
            d["gamma"], d["beta"] = np.ones(param_shape), np.zeros(param_shape)
        else:
            d["gamma"] = 1.0 + 0.5 * r.standard_normal(param_shape)
            d["beta"] = r.standard_normal(param_shape)
        if running:
            d["running_mean"] = r.standard_normal(C)
            d["running_var"] = 1.0 + r.random(C) * 4.0
        if dout:
            d["dout"] = r.standard_normal(x_shape)
        return _cast(d, dtype)
    return make


def notebook_conv_forward(seed):
    """The notebook's conv_forward_naive cell: np.linspace inputs."""
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    return {"x": np.linspace(-0.1, 0.5, num=int(np.prod(x_shape))).reshape(x_shape),
            "w": np.linspace(-0.2, 0.3, num=int(np.prod(w_shape))).reshape(w_shape),
            "b": np.linspace(-0.1, 0.2, num=3)}


def notebook_pool_forward(seed):
    """The notebook's max_pool_forward_naive cell."""
    x_shape = (2, 3, 4, 4)
    return {"x": np.linspace(-0.3, 0.4, num=int(np.prod(x_shape))).reshape(x_shape)}


def notebook_sandwich(x_shape, dout_shape):
    """The notebook's sandwich cells: np.random.seed(260), then x, w, b, dout in that order."""
    def make(seed):
        r = np.random.RandomState(seed)
        return {"x": r.randn(*x_shape), "w": r.randn(3, 3, 3, 3), "b": r.randn(3),
                "dout": r.randn(*dout_shape)}
    return make


def notebook_sbn_train(unit):
    """The notebook's spatial batchnorm training-time cell (gamma/beta as the notebook sets
    them: ones/zeros, then the integer arrays [3, 4, 5] / [6, 7, 8])."""
    def make(seed):
        r = np.random.RandomState(seed)
        d = {"x": 4 * r.randn(2, 3, 4, 5) + 10}
        if unit:
            d["gamma"], d["beta"] = np.ones(3), np.zeros(3)
        else:
            d["gamma"], d["beta"] = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
        return d
    return make


def notebook_sbn_test(seed):
    """The notebook's test-time cell: 50 training batches to warm up the running averages,
    then one test batch, all from np.random.seed(260)."""
    r = np.random.RandomState(seed)
    shape = (10, 4, 11, 12)
    train = np.stack([2.3 * r.randn(*shape) + 13 for _ in range(50)])
    return {"x_train": train, "x": 2.3 * r.randn(*shape) + 13,
            "gamma": np.ones(4), "beta": np.zeros(4)}


def relu_inputs(shape, dout=False, zeros=False):
    def make(seed):
        r = np.random.default_rng(seed)
        x = r.standard_normal(shape)
        x = np.sign(x) * (0.05 + np.abs(x))   # away from the kink at 0
        if zeros:
            x.reshape(-1)[::5] = 0.0
        d = {"x": x}
        if dout:
            d["dout"] = r.standard_normal(shape)
        return d
    return make


def affine_inputs(x_shape, M, dout=False):
    def make(seed):
        r = np.random.default_rng(seed)
        D = int(np.prod(x_shape[1:]))
        d = {"x": r.standard_normal(x_shape), "w": r.standard_normal((D, M)) * 0.3,
             "b": r.standard_normal(M)}
        if dout:
            d["dout"] = r.standard_normal((x_shape[0], M))
        return d
    return make


def softmax_inputs(N, C, scale=1.0, offset=0.0):
    def make(seed):
        r = np.random.default_rng(seed)
        return {"x": scale * r.standard_normal((N, C)) + offset,
                "y": r.integers(0, C, size=N).astype(np.int64)}
    return make


# ----------------------------------------------------------------------------------------------
# ThreeLayerConvNet cases: parameters set by the grader, away from ReLU/max-pool kinks
# ----------------------------------------------------------------------------------------------

def net_kink_margin(X, P, filter_size):
    """Smallest distance of the net's ReLU inputs, and of the gaps between the two largest
    (positive) values of each pooling window, from a kink."""
    from grader import diagnoses
    pad = (filter_size - 1) // 2
    a1 = diagnoses.conv(X, P["W1"], P["b1"], 1, pad)
    windows = np.sort(diagnoses.pool_windows(np.maximum(a1, 0), 2, 2, 2), axis=-1)
    top, second = windows[..., -1], windows[..., -2]
    gaps = (top - second)[top > 0]
    pooled = windows[..., -1].reshape(len(X), -1)
    a2 = pooled @ P["W2"] + P["b2"]
    candidates = [np.abs(a1).min(), np.abs(a2).min()]
    if gaps.size:
        candidates.append(gaps.min())
    return float(min(candidates))


def net_inputs(model, N):
    """X, y and all six parameters of a small float64 net, redrawn until kink-free."""
    C, H, W = model["input_dim"]
    F, fs = model["num_filters"], model["filter_size"]
    hidden, classes = model["hidden_dim"], model["num_classes"]
    rows = F * (H // 2) * (W // 2)

    def make(seed):
        for attempt in range(1000):
            r = np.random.default_rng([seed, attempt])
            P = {"W1": r.standard_normal((F, C, fs, fs)) / np.sqrt(C * fs * fs),
                 "b1": 0.1 * r.standard_normal(F),
                 "W2": r.standard_normal((rows, hidden)) / np.sqrt(rows),
                 "b2": 0.1 * r.standard_normal(hidden),
                 "W3": r.standard_normal((hidden, classes)) / np.sqrt(hidden),
                 "b3": 0.1 * r.standard_normal(classes)}
            X = r.standard_normal((N, C, H, W))
            if net_kink_margin(X, P, fs) >= NET_KINK_MARGIN:
                y = r.integers(0, classes, size=N).astype(np.int64)
                return {"X": X, "y": y, **P}
        raise RuntimeError("no kink-free parameters found")  # never for the cases below
    return make


NET_PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


# ----------------------------------------------------------------------------------------------
# Case builders
# ----------------------------------------------------------------------------------------------

def conv_forward(id, check, x, w, stride, pad, dtype="float64", about=""):
    return Case(id=id, check=check, function=CONV_FORWARD, args=("x", "w", "b", "conv_param"),
                params={"conv_param": {"stride": stride, "pad": pad}},
                make=conv_inputs(x, w, stride, pad, dtype), dtype=dtype, about=about)


def conv_backward(id, check, x, w, stride, pad, dtype="float64", about=""):
    return Case(id=id, check=check, function=CONV_FORWARD, backward=CONV_BACKWARD,
                args=("x", "w", "b", "conv_param"), grads=("x", "w", "b"),
                params={"conv_param": {"stride": stride, "pad": pad}},
                make=conv_inputs(x, w, stride, pad, dtype, dout=True), dtype=dtype, about=about)


def pool_param(ph, pw, stride):
    return {"pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}


def pool_forward(id, check, x, ph, pw, stride, dtype="float64", about="", negative=False):
    return Case(id=id, check=check, function=POOL_FORWARD, args=("x", "pool_param"),
                params=pool_param(ph, pw, stride),
                make=pool_inputs(x, ph, pw, stride, dtype, negative=negative), dtype=dtype,
                about=about)


def pool_backward(id, check, x, ph, pw, stride, dtype="float64", about="", ties=False,
                  relu_zeros=False):
    # With tied maxima the centered differences are not a gradient: fixture only.
    return Case(id=id, check=check, function=POOL_FORWARD, backward=POOL_BACKWARD,
                args=("x", "pool_param"), grads=("x",), params=pool_param(ph, pw, stride),
                make=pool_inputs(x, ph, pw, stride, dtype, dout=True, ties=ties,
                                 relu_zeros=relu_zeros), dtype=dtype,
                about=about, numeric_ok=not (ties or relu_zeros))


BN_STATE = ("bn_param", ("running_mean", "running_var"))


def sbn_forward(id, check, x, bn_param, dtype="float64", about="", running=False):
    train = bn_param["mode"] == "train"
    return Case(id=id, check=check, function=SBN_FORWARD,
                args=("x", "gamma", "beta", "bn_param"), params={"bn_param": bn_param},
                make=norm_inputs(x, (x[1],), dtype, running=running), dtype=dtype,
                state=BN_STATE if train else (), about=about)


def sbn_backward(id, check, x, about=""):
    return Case(id=id, check=check, function=SBN_FORWARD, backward=SBN_BACKWARD,
                args=("x", "gamma", "beta", "bn_param"), grads=("x", "gamma", "beta"),
                params={"bn_param": {"mode": "train"}},
                make=norm_inputs(x, (x[1],), dout=True), about=about)


def sgn_forward(id, check, x, G, eps=None, dtype="float64", about=""):
    gn_param = {} if eps is None else {"eps": eps}
    return Case(id=id, check=check, function=SGN_FORWARD,
                args=("x", "gamma", "beta", "G", "gn_param"),
                params={"G": G, "gn_param": gn_param},
                make=norm_inputs(x, (1, x[1], 1, 1), dtype), dtype=dtype, about=about)


def sgn_backward(id, check, x, G, about=""):
    return Case(id=id, check=check, function=SGN_FORWARD, backward=SGN_BACKWARD,
                args=("x", "gamma", "beta", "G", "gn_param"), grads=("x", "gamma", "beta"),
                params={"G": G, "gn_param": {}},
                make=norm_inputs(x, (1, x[1], 1, 1), dout=True), about=about)


def convnet(id, check, model, N, about=""):
    return Case(id=id, check=check, function=CONVNET, kind="convnet",
                params={"model": dict(model, dtype="float64")}, make=net_inputs(model, N),
                grads=NET_PARAMS, about=about)


CASES = [
    # -- prerequisites ---------------------------------------------------------------------
    Case(id="prereq.affine_forward_4d", check="prereq.affine_forward",
         function="layers.affine_forward", args=("x", "w", "b"),
         make=affine_inputs((3, 2, 4, 5), 6), about="x of shape (N, d1, d2, d3)"),
    Case(id="prereq.affine_forward_2d", check="prereq.affine_forward",
         function="layers.affine_forward", args=("x", "w", "b"),
         make=affine_inputs((7, 5), 3), about="x of shape (N, D)"),
    Case(id="prereq.affine_forward_square", check="prereq.affine_forward",
         function="layers.affine_forward", args=("x", "w", "b"),
         make=affine_inputs((4, 4), 4), about="N == D == M (shape-branching code)"),
    Case(id="prereq.affine_forward_batch1", check="prereq.affine_forward",
         function="layers.affine_forward", args=("x", "w", "b"),
         make=affine_inputs((1, 3, 2), 5), about="a batch of one, x of shape (1, d1, d2)"),
    Case(id="prereq.affine_backward", check="prereq.affine_backward",
         function="layers.affine_forward", backward="layers.affine_backward",
         args=("x", "w", "b"), grads=("x", "w", "b"), make=affine_inputs((5, 2, 3), 4, dout=True),
         about="x of shape (N, d1, d2)"),
    Case(id="prereq.affine_backward_square", check="prereq.affine_backward",
         function="layers.affine_forward", backward="layers.affine_backward",
         args=("x", "w", "b"), grads=("x", "w", "b"), make=affine_inputs((3, 3), 3, dout=True),
         about="N == D == M (shape-branching code)"),
    Case(id="prereq.relu_forward", check="prereq.relu_forward", function="layers.relu_forward",
         args=("x",), make=relu_inputs((3, 4, 5), zeros=True), about="some inputs exactly 0"),
    Case(id="prereq.relu_forward_1d", check="prereq.relu_forward",
         function="layers.relu_forward", args=("x",), make=relu_inputs((13,), zeros=True),
         about="a 1-D x (the docstring: any shape)"),
    Case(id="prereq.relu_backward", check="prereq.relu_backward", function="layers.relu_forward",
         backward="layers.relu_backward", args=("x",), grads=("x",),
         make=relu_inputs((4, 3, 5), dout=True)),
    Case(id="prereq.relu_backward_1d", check="prereq.relu_backward",
         function="layers.relu_forward", backward="layers.relu_backward", args=("x",),
         grads=("x",), make=relu_inputs((11,), dout=True),
         about="a 1-D x (the docstring: any shape)"),
    Case(id="prereq.relu_backward_zeros", check="prereq.relu_backward",
         function="layers.relu_forward", backward="layers.relu_backward", args=("x",),
         grads=("x",), make=relu_inputs((3, 10), dout=True, zeros=True), numeric_ok=False,
         about="some inputs exactly 0, where the gradient is 0 (no numeric check at the kink)"),
    Case(id="prereq.softmax_loss", check="prereq.softmax_loss", function="layers.softmax_loss",
         kind="loss", args=("x", "y"), grads=("x",), make=softmax_inputs(20, 10)),
    Case(id="prereq.softmax_loss_large_scores", check="prereq.softmax_loss",
         function="layers.softmax_loss", kind="loss", args=("x", "y"), grads=("x",),
         make=softmax_inputs(8, 5, scale=20.0, offset=800.0), numeric_ok=False,
         about="scores around 800: exp overflows unless the largest score is subtracted"),
    Case(id="prereq.batchnorm_train", check="prereq.batchnorm_train",
         function="layers.batchnorm_forward", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train"}}, state=BN_STATE,
         make=norm_inputs((8, 5), (5,)), about="default momentum and eps"),
    Case(id="prereq.batchnorm_train_running", check="prereq.batchnorm_train",
         function="layers.batchnorm_forward", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train", "momentum": 0.5, "eps": 1e-3,
                              "running_mean": "@running_mean", "running_var": "@running_var"}},
         state=BN_STATE, make=norm_inputs((6, 4), (4,), running=True),
         about="momentum 0.5, eps 1e-3, running averages given"),
    Case(id="prereq.batchnorm_train_square", check="prereq.batchnorm_train",
         function="layers.batchnorm_forward", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train", "momentum": 0.7, "eps": 1e-4,
                              "running_mean": "@running_mean", "running_var": "@running_var"}},
         state=BN_STATE, make=norm_inputs((5, 5), (5,), running=True),
         about="N == D (shape-branching code), momentum 0.7, eps 1e-4, running averages given"),
    Case(id="prereq.batchnorm_test", check="prereq.batchnorm_test",
         function="layers.batchnorm_forward", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "test", "running_mean": "@running_mean",
                              "running_var": "@running_var"}},
         make=norm_inputs((7, 4), (4,), running=True), about="test mode, running averages given"),
    Case(id="prereq.batchnorm_test_square", check="prereq.batchnorm_test",
         function="layers.batchnorm_forward", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "test", "momentum": 0.5, "eps": 1e-3,
                              "running_mean": "@running_mean", "running_var": "@running_var"}},
         make=norm_inputs((4, 4), (4,), running=True),
         about="test mode, N == D, momentum 0.5, eps 1e-3, running averages given"),
    Case(id="prereq.batchnorm_backward", check="prereq.batchnorm_backward",
         function="layers.batchnorm_forward", backward="layers.batchnorm_backward",
         args=("x", "gamma", "beta", "bn_param"), grads=("x", "gamma", "beta"),
         params={"bn_param": {"mode": "train"}}, make=norm_inputs((6, 4), (4,), dout=True),
         about="train mode"),
    Case(id="prereq.batchnorm_backward_square", check="prereq.batchnorm_backward",
         function="layers.batchnorm_forward", backward="layers.batchnorm_backward",
         args=("x", "gamma", "beta", "bn_param"), grads=("x", "gamma", "beta"),
         params={"bn_param": {"mode": "train", "eps": 1e-3}},
         make=norm_inputs((5, 5), (5,), dout=True), about="train mode, N == D, eps 1e-3"),

    # -- convolution, forward --------------------------------------------------------------
    Case(id="conv_forward.notebook", check="conv_forward.notebook", function=CONV_FORWARD,
         args=("x", "w", "b", "conv_param"), params={"conv_param": {"stride": 2, "pad": 1}},
         make=notebook_conv_forward, seed=0, about="the notebook's cell"),
    conv_forward("conv_forward.odd_sizes", "conv_forward.extra", (2, 3, 7, 5), (4, 3, 3, 3), 1, 1,
                 about="odd, non-square input"),
    conv_forward("conv_forward.stride3_pad0", "conv_forward.extra", (2, 2, 8, 11), (3, 2, 2, 2),
                 3, 0, about="stride 3, no padding"),
    conv_forward("conv_forward.pad2", "conv_forward.extra", (2, 2, 5, 6), (3, 2, 3, 3), 1, 2,
                 about="padding 2"),
    conv_forward("conv_forward.nonsquare_kernel", "conv_forward.extra", (2, 3, 6, 7),
                 (2, 3, 3, 5), 1, 1, about="3x5 filters"),
    conv_forward("conv_forward.batch1", "conv_forward.extra", (1, 3, 7, 7), (2, 3, 3, 3), 2, 1,
                 about="a batch of one"),
    conv_forward("conv_forward.float32", "conv_forward.extra", (2, 3, 6, 6), (3, 3, 3, 3), 1, 1,
                 dtype="float32", about="float32 inputs"),
    conv_forward("conv_forward.square", "conv_forward.extra", (3, 3, 5, 5), (3, 3, 3, 3), 1, 1,
                 about="N == C == F and H == W (shape-branching code)"),
    conv_forward("conv_forward.c_equals_h", "conv_forward.extra", (2, 4, 4, 6), (4, 4, 3, 3), 1,
                 0, about="C == H == F, no padding (shape-branching code)"),

    # -- convolution, backward -------------------------------------------------------------
    conv_backward("conv_backward.basic", "conv_backward.basic", (4, 3, 5, 5), (2, 3, 3, 3), 1, 1,
                  about="stride 1, padding 1"),
    conv_backward("conv_backward.stride2", "conv_backward.extra", (2, 3, 7, 7), (3, 3, 3, 3), 2, 1,
                  about="stride 2"),
    conv_backward("conv_backward.stride3_pad0", "conv_backward.extra", (2, 2, 8, 11),
                  (3, 2, 2, 2), 3, 0, about="stride 3, no padding"),
    conv_backward("conv_backward.pad2_nonsquare", "conv_backward.extra", (2, 2, 5, 6),
                  (3, 2, 3, 5), 1, 2, about="padding 2, 3x5 filters"),
    conv_backward("conv_backward.batch1", "conv_backward.extra", (1, 3, 6, 6), (2, 3, 4, 4), 2, 1,
                  about="a batch of one"),
    conv_backward("conv_backward.float32", "conv_backward.extra", (2, 3, 5, 5), (2, 3, 3, 3), 1,
                  1, dtype="float32", about="float32 inputs"),
    conv_backward("conv_backward.square", "conv_backward.extra", (3, 3, 5, 5), (3, 3, 3, 3),
                  1, 1, about="N == C == F and H == W (shape-branching code)"),
    conv_backward("conv_backward.c_equals_h", "conv_backward.extra", (2, 4, 4, 6),
                  (4, 4, 3, 3), 1, 0, about="C == H == F, no padding (shape-branching code)"),
    conv_backward("conv_backward.odd_sizes", "conv_backward.extra", (2, 3, 7, 5), (4, 3, 3, 3),
                  1, 1, about="odd, non-square input"),

    # -- max pooling, forward --------------------------------------------------------------
    Case(id="pool_forward.notebook", check="pool_forward.notebook", function=POOL_FORWARD,
         args=("x", "pool_param"), params=pool_param(2, 2, 2), make=notebook_pool_forward,
         seed=0, about="the notebook's cell"),
    pool_forward("pool_forward.overlap", "pool_forward.extra", (2, 3, 7, 7), 3, 3, 2,
                 about="overlapping 3x3 windows, stride 2"),
    pool_forward("pool_forward.rect", "pool_forward.extra", (2, 2, 6, 7), 2, 3, 1,
                 about="2x3 windows, stride 1"),
    pool_forward("pool_forward.stride3", "pool_forward.extra", (2, 2, 8, 8), 2, 2, 3,
                 about="2x2 windows, stride 3 (gaps between windows)"),
    pool_forward("pool_forward.batch1", "pool_forward.extra", (1, 3, 6, 8), 2, 2, 2,
                 about="a batch of one"),
    pool_forward("pool_forward.float32", "pool_forward.extra", (2, 3, 6, 6), 2, 2, 2,
                 dtype="float32", about="float32 input"),

    # -- max pooling, backward -------------------------------------------------------------
    pool_backward("pool_backward.basic", "pool_backward.basic", (3, 2, 8, 8), 2, 2, 2,
                  about="2x2 windows, stride 2"),
    pool_backward("pool_backward.overlap", "pool_backward.extra", (2, 3, 7, 7), 3, 3, 2,
                  about="overlapping 3x3 windows: gradients must add up"),
    pool_backward("pool_backward.rect", "pool_backward.extra", (2, 2, 6, 7), 2, 3, 1,
                  about="2x3 windows, stride 1"),
    pool_backward("pool_backward.batch1", "pool_backward.extra", (1, 3, 6, 8), 2, 2, 2,
                  about="a batch of one"),
    pool_backward("pool_backward.float32", "pool_backward.extra", (2, 3, 6, 6), 2, 2, 2,
                  dtype="float32", about="float32 input"),
    pool_backward("pool_backward.ties", "pool_backward.extra", (2, 2, 6, 6), 2, 2, 2, ties=True,
                  about="tied maxima: any split of the gradient over the tied positions counts"),
    pool_backward("pool_backward.max_elsewhere", "pool_backward.extra", (2, 3, 6, 8), 2, 2, 2,
                  relu_zeros=True, about="after a ReLU: some windows all zero, zeros elsewhere "
                  "too (a window's maximum value also occurs outside the window)"),

    # -- sandwich layers (the notebook's cells) --------------------------------------------
    Case(id="sandwich.conv_relu_pool", check="sandwich.conv_relu_pool",
         function="layer_utils.conv_relu_pool_forward",
         backward="layer_utils.conv_relu_pool_backward",
         args=("x", "w", "b", "conv_param", "pool_param"), grads=("x", "w", "b"),
         params={"conv_param": {"stride": 1, "pad": 1}, **pool_param(2, 2, 2)},
         make=notebook_sandwich((2, 3, 16, 16), (2, 3, 8, 8)), seed=260,
         about="the notebook's cell"),
    Case(id="sandwich.conv_relu", check="sandwich.conv_relu",
         function="layer_utils.conv_relu_forward", backward="layer_utils.conv_relu_backward",
         args=("x", "w", "b", "conv_param"), grads=("x", "w", "b"),
         params={"conv_param": {"stride": 1, "pad": 1}},
         make=notebook_sandwich((2, 3, 8, 8), (2, 3, 8, 8)), seed=260,
         about="the notebook's cell"),

    # -- ThreeLayerConvNet (parameters set by the grader) ----------------------------------
    convnet("convnet.scores_small", "convnet.scores",
            {"input_dim": (3, 8, 8), "num_filters": 4, "filter_size": 3, "hidden_dim": 6,
             "num_classes": 5, "reg": 0.05}, N=3, about="a small float64 net, reg 0.05"),
    convnet("convnet.scores_one_channel", "convnet.scores",
            {"input_dim": (1, 8, 6), "num_filters": 3, "filter_size": 3, "hidden_dim": 5,
             "num_classes": 4, "reg": 0.05}, N=2,
            about="an input with 1 channel (input_dim[0] is not always 3)"),
    convnet("convnet.gradients_small", "convnet.gradients",
            {"input_dim": (3, 8, 8), "num_filters": 3, "filter_size": 3, "hidden_dim": 7,
             "num_classes": 4, "reg": 0.1}, N=2, about="a small float64 net, reg 0.1"),

    # -- spatial batchnorm -----------------------------------------------------------------
    Case(id="sbn_forward.notebook_train_unit", check="sbn_forward.notebook_train",
         function=SBN_FORWARD, args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train"}}, state=BN_STATE, make=notebook_sbn_train(True),
         seed=260, about="the notebook's cell, gamma = 1 and beta = 0"),
    Case(id="sbn_forward.notebook_train_scaled", check="sbn_forward.notebook_train",
         function=SBN_FORWARD, args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train"}}, make=notebook_sbn_train(False), seed=260,
         about="the notebook's cell, gamma = [3, 4, 5] and beta = [6, 7, 8] (integer arrays)"),
    Case(id="sbn_forward.notebook_test", check="sbn_forward.notebook_test",
         function=SBN_FORWARD, kind="bn_sequence", args=("x", "gamma", "beta", "bn_param"),
         params={"bn_param": {"mode": "train"}}, make=notebook_sbn_test, seed=260,
         about="the notebook's cell: 50 training batches, then a test-time batch"),
    sbn_forward("sbn_forward.momentum", "sbn_forward.extra", (2, 3, 3, 4),
                {"mode": "train", "momentum": 0.5, "eps": 1e-3,
                 "running_mean": "@running_mean", "running_var": "@running_var"},
                running=True, about="momentum 0.5, eps 1e-3, running averages given"),
    sbn_forward("sbn_forward.test_mode", "sbn_forward.extra", (3, 2, 4, 4),
                {"mode": "test", "running_mean": "@running_mean", "running_var": "@running_var"},
                running=True, about="test mode, running averages given"),
    sbn_forward("sbn_forward.batch1", "sbn_forward.extra", (1, 5, 3, 6), {"mode": "train"},
                about="a batch of one"),
    sbn_forward("sbn_forward.float32", "sbn_forward.extra", (3, 4, 5, 3), {"mode": "train"},
                dtype="float32", about="float32 inputs"),
    sbn_backward("sbn_backward.basic", "sbn_backward.basic", (2, 3, 4, 5)),
    sbn_backward("sbn_backward.odd", "sbn_backward.extra", (3, 4, 5, 3), about="odd sizes"),
    sbn_backward("sbn_backward.batch1", "sbn_backward.extra", (1, 3, 4, 6),
                 about="a batch of one"),
    sbn_backward("sbn_backward.square", "sbn_backward.extra", (3, 3, 3, 4),
                 about="N == C == H (shape-branching code)"),
    sbn_backward("sbn_backward.c_equals_w", "sbn_backward.extra", (2, 3, 5, 3),
                 about="C == W"),

    # -- spatial group norm ----------------------------------------------------------------
    sgn_forward("sgn_forward.basic", "sgn_forward.basic", (2, 6, 4, 5), 2, about="G = 2 of 6"),
    sgn_forward("sgn_forward.g1", "sgn_forward.extra", (2, 4, 3, 3), 1, eps=1e-3,
                about="G = 1, eps 1e-3"),
    sgn_forward("sgn_forward.gc", "sgn_forward.extra", (2, 4, 3, 3), 4, about="G = C = 4"),
    sgn_forward("sgn_forward.float32", "sgn_forward.extra", (2, 6, 3, 4), 3, dtype="float32",
                about="float32 inputs, G = 3 of 6"),
    sgn_forward("sgn_forward.square", "sgn_forward.extra", (2, 4, 4, 4), 2, eps=1e-4,
                about="C == H == W, G = 2, eps 1e-4 (shape-branching code)"),
    sgn_backward("sgn_backward.basic", "sgn_backward.basic", (2, 6, 4, 5), 2, about="G = 2 of 6"),
    sgn_backward("sgn_backward.g1", "sgn_backward.extra", (2, 4, 3, 3), 1, about="G = 1"),
    sgn_backward("sgn_backward.gc", "sgn_backward.extra", (2, 4, 3, 3), 4, about="G = C = 4"),
    sgn_backward("sgn_backward.square", "sgn_backward.extra", (2, 4, 4, 4), 2,
                 about="C == H == W, G = 2 (shape-branching code)"),
]


def _hidden_cases():
    """grader/cases_hidden.py's cases; [] where that file is absent (the student release)."""
    if not Path(__file__).with_name("cases_hidden.py").is_file():
        return []
    from grader.cases_hidden import hidden_cases
    return hidden_cases()


CASES += _hidden_cases()
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "case ids must be unique"


def cases_for(check_key, only_present=True):
    """The cases of a check, in list order; with only_present, those whose fixture exists."""
    return [c for c in CASES if c.check == check_key
            and (not only_present or c.fixture_path.exists())]


# ----------------------------------------------------------------------------------------------
# The decorator every check uses
# ----------------------------------------------------------------------------------------------

def check(key, graded, *also):
    """Gradescope fields of the check `key` (config.CHECKS) for a check function.

    graded: the graded function or class name (the first tag: results.json names the check
    "<graded>: <docstring title> [<case id>]"); also: further graded functions, added to the
    tags after the section key. A function with a `case` argument runs once per
    case of `key` whose fixture is present; a hidden check whose fixtures were left out (the
    student release) is not collected at all.
    """
    section, num, points = config.check_meta(key)
    hidden = key.endswith(".hidden")
    vis = config.VISIBILITY["hidden" if hidden else "public"]

    def decorate(fn):
        fn = weight(points)(fn)
        fn = number(num)(fn)
        fn = visibility(vis)(fn)
        fn = tags(graded, section, *also)(fn)
        fn.__check_key__ = key
        if "case" in inspect.signature(fn).parameters:   # follows functools.wraps
            # A missing public fixture is a grader bug and fails loudly when loaded.
            present = cases_for(key, only_present=hidden)
            if not present:
                fn.__test__ = False
                return fn
            fn = pytest.mark.parametrize("case", present, ids=[c.id for c in present])(fn)
        return fn
    return decorate


def hidden_case_count():
    """How many hidden cases (and their points) exist, for the README."""
    hidden = [c for c in CASES if c.visibility == "hidden"]
    points = sum(p for k, (_, p) in config.CHECKS.items() if k.endswith(".hidden"))
    return len(hidden), points
