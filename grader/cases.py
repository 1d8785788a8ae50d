"""THE list of fixture cases: what each graded function is called with, and how it is judged.

A case names the graded function (a worker target inside cs260), how its inputs are made
(seeded), the non-array parameters, its tolerance and whether it is public or hidden. Its
expected outputs are produced by running solution/ on it (`python -m grader.checks.fixtures regen`)
and stored in fixtures/<visibility>/<case id>.npz; the checks (grader/checks/test_*.py) run the
student's code on the same inputs and compare.

Notebook cases rebuild the notebook's own inputs (np.random.seed(260) / np.linspace). The
other cases probe what the notebook cases miss (odd sizes, strides, padding, non-square
kernels, overlapping and rectangular pools, a batch of one, float32, G = 1 and G = C).
Hidden cases (checks ending in ".hidden") are defined in grader/cases_hidden.py, which the
student release leaves out (as it leaves out their fixtures); this file defines public cases only
and appends the hidden ones where that file exists. How a case is made (the Case record, the
input generators, the builders) is grader/casebuild.py, which both lists import.
"""
import inspect
from pathlib import Path

import pytest
from gradescope_utils.autograder_utils.decorators import number, tags, visibility, weight

from grader import config
from grader.casebuild import (BN_STATE, Case, affine_inputs, conv_backward, conv_forward, convnet,
                              norm_inputs, notebook_conv_forward, notebook_pool_forward,
                              notebook_sandwich, notebook_sbn_test, notebook_sbn_train,
                              pool_backward, pool_forward, pool_param, relu_inputs, sbn_backward,
                              sbn_forward, sgn_backward, sgn_forward, softmax_inputs)
# The checks (grader/checks/test_*.py) and grader/checks/checking.py read these through this module.
from grader.casebuild import (  # noqa: F401
    CONV_BACKWARD, CONV_FORWARD, CONVNET, NET_PARAMS, POOL_BACKWARD, POOL_FORWARD, SBN_FORWARD,
    net_inputs, resolve)


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
    pool_forward("pool_forward.nonsquare", "pool_forward.extra", (2, 2, 6, 8), 2, 2, 2,
                 about="a non-square input and output with a batch of two (told apart from "
                 "the batch of one)"),

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
    pool_backward("pool_backward.nonsquare", "pool_backward.extra", (2, 2, 6, 8), 2, 2, 2,
                  about="a non-square input and output with a batch of two (told apart from "
                  "the batch of one)"),
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
    """How many hidden cases (and their points) exist, for the docs and tests."""
    hidden = [c for c in CASES if c.visibility == "hidden"]
    points = sum(p for k, (_, p) in config.CHECKS.items() if k.endswith(".hidden"))
    return len(hidden), points
