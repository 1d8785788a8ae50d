"""How fixture cases are made: the Case record, seeded input generators and the builders that
turn a few shapes and parameters into a Case.

Both case lists use these: grader/cases.py (the public cases, and the list the checks read) and
grader/cases_hidden.py (the hidden cases, data that grader/cases.py reads where the file exists).
Neither list is imported from here, so the hidden cases never import the module that reads them.
"""
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from grader import config, reference

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
    """One fixture case: the graded function, its seeded inputs and how it is judged."""
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
        """"hidden" for a case of a `.hidden` check, else "public": where its fixture lives."""
        return "hidden" if self.check.endswith(".hidden") else "public"

    @property
    def section(self):
        """The notebook section whose table row the case's points go to."""
        return config.CHECKS[self.check][0]

    @property
    def rng_seed(self):
        """The seed its inputs are drawn from: given, or derived from the id so it never drifts."""
        return self.seed if self.seed >= 0 else zlib.crc32(self.id.encode()) % (2 ** 31)

    @property
    def tol(self):
        """The relative-error tolerance of its dtype (grader/config.py)."""
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
        """Where its expected outputs are stored (fixtures/<visibility>/<id>.npz)."""
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
    """The output shape of a convolution, for drawing an upstream gradient of that shape."""
    N, _, H, W = x_shape
    F, _, HH, WW = w_shape
    return (N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)


def pool_out_shape(x_shape, ph, pw, stride):
    """The output shape of a max pooling, for drawing an upstream gradient of that shape."""
    N, C, H, W = x_shape
    return (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)


def conv_inputs(x_shape, w_shape, stride, pad, dtype="float64", dout=False):
    """A seeded maker of x, w, b (and dout) for a convolution case."""
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
    windows (grader.feedback.policy judges each tied window on its own)."""
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
        if reference.tied_sets_disjoint(x, ph, pw, stride):
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
    grader.feedback.policy says which gradients are accepted where maxima are tied)."""
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
    """A seeded maker of ReLU inputs kept off the kink at 0 (zeros=True plants exact zeros)."""
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
    """A seeded maker of x, w, b (and dout) for an affine case."""
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
    """A seeded maker of scores and labels for a softmax-loss case (scale/offset: large scores)."""
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
    pad = (filter_size - 1) // 2
    a1 = reference.conv(X, P["W1"], P["b1"], 1, pad)
    windows = np.sort(reference.pool_windows(np.maximum(a1, 0), 2, 2, 2), axis=-1)
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
    """A case of conv_forward_naive."""
    return Case(id=id, check=check, function=CONV_FORWARD, args=("x", "w", "b", "conv_param"),
                params={"conv_param": {"stride": stride, "pad": pad}},
                make=conv_inputs(x, w, stride, pad, dtype), dtype=dtype, about=about)


def conv_backward(id, check, x, w, stride, pad, dtype="float64", about=""):
    """A case of conv_backward_naive (forward and backward, gradients of x, w, b)."""
    return Case(id=id, check=check, function=CONV_FORWARD, backward=CONV_BACKWARD,
                args=("x", "w", "b", "conv_param"), grads=("x", "w", "b"),
                params={"conv_param": {"stride": stride, "pad": pad}},
                make=conv_inputs(x, w, stride, pad, dtype, dout=True), dtype=dtype, about=about)


def pool_param(ph, pw, stride):
    """The pool_param argument as the notebook writes it."""
    return {"pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}


def pool_forward(id, check, x, ph, pw, stride, dtype="float64", about="", negative=False):
    """A case of max_pool_forward_naive."""
    return Case(id=id, check=check, function=POOL_FORWARD, args=("x", "pool_param"),
                params=pool_param(ph, pw, stride),
                make=pool_inputs(x, ph, pw, stride, dtype, negative=negative), dtype=dtype,
                about=about)


def pool_backward(id, check, x, ph, pw, stride, dtype="float64", about="", ties=False,
                  relu_zeros=False):
    """A case of max_pool_backward_naive (tied maxima or ReLU zeros: checked on the fixture only)."""
    # With tied maxima the centered differences are not a gradient: fixture only.
    return Case(id=id, check=check, function=POOL_FORWARD, backward=POOL_BACKWARD,
                args=("x", "pool_param"), grads=("x",), params=pool_param(ph, pw, stride),
                make=pool_inputs(x, ph, pw, stride, dtype, dout=True, ties=ties,
                                 relu_zeros=relu_zeros), dtype=dtype,
                about=about, numeric_ok=not (ties or relu_zeros))


BN_STATE = ("bn_param", ("running_mean", "running_var"))


def sbn_forward(id, check, x, bn_param, dtype="float64", about="", running=False):
    """A case of spatial_batchnorm_forward (train mode also checks the running averages)."""
    train = bn_param["mode"] == "train"
    return Case(id=id, check=check, function=SBN_FORWARD,
                args=("x", "gamma", "beta", "bn_param"), params={"bn_param": bn_param},
                make=norm_inputs(x, (x[1],), dtype, running=running), dtype=dtype,
                state=BN_STATE if train else (), about=about)


def sbn_backward(id, check, x, about=""):
    """A case of spatial_batchnorm_backward in train mode."""
    return Case(id=id, check=check, function=SBN_FORWARD, backward=SBN_BACKWARD,
                args=("x", "gamma", "beta", "bn_param"), grads=("x", "gamma", "beta"),
                params={"bn_param": {"mode": "train"}},
                make=norm_inputs(x, (x[1],), dout=True), about=about)


def sgn_forward(id, check, x, G, eps=None, dtype="float64", about=""):
    """A case of spatial_groupnorm_forward with G groups."""
    gn_param = {} if eps is None else {"eps": eps}
    return Case(id=id, check=check, function=SGN_FORWARD,
                args=("x", "gamma", "beta", "G", "gn_param"),
                params={"G": G, "gn_param": gn_param},
                make=norm_inputs(x, (1, x[1], 1, 1), dtype), dtype=dtype, about=about)


def sgn_backward(id, check, x, G, about=""):
    """A case of spatial_groupnorm_backward with G groups."""
    return Case(id=id, check=check, function=SGN_FORWARD, backward=SGN_BACKWARD,
                args=("x", "gamma", "beta", "G", "gn_param"), grads=("x", "gamma", "beta"),
                params={"G": G, "gn_param": {}},
                make=norm_inputs(x, (1, x[1], 1, 1), dout=True), about=about)


def convnet(id, check, model, N, about=""):
    """A ThreeLayerConvNet case: the model's settings and a kink-free batch of N."""
    return Case(id=id, check=check, function=CONVNET, kind="convnet",
                params={"model": dict(model, dtype="float64")}, make=net_inputs(model, N),
                grads=NET_PARAMS, about=about)
