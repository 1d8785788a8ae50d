"""The hidden fixture cases. Only the instructors' tree and the Gradescope zip carry this file.

The student release leaves it out, and refuses to build if any of its files names one of these
case ids or seeds (grader/tools/release.py): students see the hidden checks' points in the weights
table (grader/config.py), never what they probe. This file is data: grader/cases.py reads it
(appends hidden_cases() to its CASES), and it imports only the builders of grader/casebuild.py,
never the list that reads it. Their fixtures are in fixtures/hidden/.
"""
from grader.casebuild import (conv_backward, conv_forward, convnet, pool_backward, pool_forward,
                              sbn_backward, sbn_forward, sgn_backward, sgn_forward)


def hidden_cases():
    """The hidden cases (checks ending in ".hidden"), in the order their checks run them."""
    return conv_cases() + pool_cases() + convnet_cases() + norm_cases()


def conv_cases():
    """Hidden cases of the naive convolution, forward then backward."""
    return [
        conv_forward("conv_forward.h_stride2_odd", "conv_forward.hidden", (3, 2, 9, 7),
                     (5, 2, 3, 3), 2, 1, about="stride 2, odd sizes"),
        conv_forward("conv_forward.h_stride3", "conv_forward.hidden", (2, 3, 10, 13), (2, 3, 4, 4),
                     3, 0, about="stride 3, 4x4 filters"),
        conv_forward("conv_forward.h_pad2_nonsquare", "conv_forward.hidden", (2, 3, 5, 6),
                     (3, 3, 5, 3), 1, 2, about="padding 2, 5x3 filters"),
        conv_forward("conv_forward.h_1x1", "conv_forward.hidden", (2, 4, 3, 5), (3, 4, 1, 1), 1, 0,
                     about="1x1 filters"),
        conv_forward("conv_forward.h_stride2_pad2", "conv_forward.hidden", (2, 2, 7, 7),
                     (2, 2, 3, 3), 2, 2, about="stride 2, padding 2"),
        conv_forward("conv_forward.h_batch1_float32", "conv_forward.hidden", (1, 3, 8, 8),
                     (4, 3, 3, 3), 1, 1, dtype="float32", about="float32, a batch of one"),

        # -- convolution, backward -------------------------------------------------------------
        conv_backward("conv_backward.h_stride2_odd", "conv_backward.hidden", (3, 2, 9, 7),
                      (4, 2, 3, 3), 2, 1, about="stride 2, odd sizes"),
        conv_backward("conv_backward.h_stride3", "conv_backward.hidden", (2, 3, 10, 13),
                      (2, 3, 4, 4), 3, 0, about="stride 3, 4x4 filters"),
        conv_backward("conv_backward.h_pad2_nonsquare", "conv_backward.hidden", (2, 3, 5, 6),
                      (3, 3, 5, 3), 1, 2, about="padding 2, 5x3 filters"),
        conv_backward("conv_backward.h_1x1", "conv_backward.hidden", (2, 4, 3, 5), (3, 4, 1, 1),
                      1, 0, about="1x1 filters"),
        conv_backward("conv_backward.h_batch1", "conv_backward.hidden", (1, 2, 5, 5), (3, 2, 3, 3),
                      2, 1, about="a batch of one, stride 2"),
    ]


def pool_cases():
    """Hidden cases of the naive max pooling, forward then backward."""
    return [
        pool_forward("pool_forward.h_overlap", "pool_forward.hidden", (3, 2, 9, 9), 3, 3, 2,
                     about="overlapping 3x3 windows"),
        pool_forward("pool_forward.h_rect", "pool_forward.hidden", (2, 3, 7, 8), 3, 2, 2,
                     about="3x2 windows, stride 2"),
        pool_forward("pool_forward.h_stride1", "pool_forward.hidden", (2, 2, 5, 6), 2, 2, 1,
                     about="stride 1"),
        pool_forward("pool_forward.h_negative", "pool_forward.hidden", (1, 4, 4, 6), 2, 2, 2,
                     negative=True, about="all inputs negative, a batch of one"),

        # -- max pooling, backward -------------------------------------------------------------
        pool_backward("pool_backward.h_overlap", "pool_backward.hidden", (3, 2, 9, 9), 3, 3, 2,
                      about="overlapping 3x3 windows"),
        pool_backward("pool_backward.h_rect", "pool_backward.hidden", (2, 3, 7, 8), 3, 2, 2,
                      about="3x2 windows, stride 2"),
        pool_backward("pool_backward.h_stride1", "pool_backward.hidden", (2, 2, 5, 6), 2, 2, 1,
                      about="stride 1"),
        pool_backward("pool_backward.h_ties_overlap", "pool_backward.hidden", (2, 2, 7, 7), 3, 3, 2,
                      ties=True, about="tied maxima, overlapping 3x3 windows"),
    ]


def convnet_cases():
    """Hidden cases of ThreeLayerConvNet (parameters set by the grader)."""
    return [
        convnet("convnet.h_rect", "convnet.hidden",
                {"input_dim": (3, 10, 6), "num_filters": 3, "filter_size": 5, "hidden_dim": 7,
                 "num_classes": 4, "reg": 0.2}, N=3, about="10x6 input, 5x5 filters, reg 0.2"),
    ]


def norm_cases():
    """Hidden cases of spatial batchnorm and spatial group norm, forward then backward."""
    return [
        # -- spatial batchnorm, forward --------------------------------------------------------
        sbn_forward("sbn_forward.h_odd", "sbn_forward.hidden", (3, 4, 7, 5), {"mode": "train"},
                    about="odd sizes"),
        sbn_forward("sbn_forward.h_test", "sbn_forward.hidden", (2, 3, 5, 4),
                    {"mode": "test", "eps": 1e-4, "running_mean": "@running_mean",
                     "running_var": "@running_var"}, running=True, about="test mode, eps 1e-4"),
        sbn_forward("sbn_forward.h_momentum", "sbn_forward.hidden", (4, 2, 3, 3),
                    {"mode": "train", "momentum": 0.7, "running_mean": "@running_mean",
                     "running_var": "@running_var"}, running=True, about="momentum 0.7"),

        # -- spatial batchnorm, backward -------------------------------------------------------
        sbn_backward("sbn_backward.h_odd", "sbn_backward.hidden", (4, 2, 3, 7), about="odd sizes"),
        sbn_backward("sbn_backward.h_wide", "sbn_backward.hidden", (2, 6, 2, 3),
                     about="6 channels, 2x3"),

        # -- spatial group norm, forward -------------------------------------------------------
        sgn_forward("sgn_forward.h_g3", "sgn_forward.hidden", (3, 9, 3, 4), 3, about="G = 3 of 9"),
        sgn_forward("sgn_forward.h_g1", "sgn_forward.hidden", (1, 5, 4, 4), 1,
                    about="G = 1, a batch of one"),
        sgn_forward("sgn_forward.h_gc", "sgn_forward.hidden", (2, 3, 5, 2), 3, about="G = C = 3"),

        # -- spatial group norm, backward ------------------------------------------------------
        sgn_backward("sgn_backward.h_g3", "sgn_backward.hidden", (3, 9, 3, 4), 3,
                     about="G = 3 of 9"),
        sgn_backward("sgn_backward.h_g1", "sgn_backward.hidden", (1, 5, 4, 4), 1,
                     about="G = 1, a batch of one"),
        sgn_backward("sgn_backward.h_gc", "sgn_backward.hidden", (2, 3, 5, 2), 3,
                     about="G = C = 3"),
    ]
