"""A correct ThreeLayerConvNet built from the sandwich layers, with a table of layer specs.

Alternative correct submission for the grader's own tests.
"""
import numpy as np

from ..layer_utils import *  # noqa: F401,F403  (conv_relu_pool_*, affine_relu_*)
from ..layers import *  # noqa: F401,F403  (affine_*, softmax_loss)


class ThreeLayerConvNet(object):
    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        self.filter_size = filter_size
        C, H, W = input_dim
        pad = (filter_size - 1) // 2
        Hc = (H + 2 * pad - filter_size) + 1
        Wc = (W + 2 * pad - filter_size) + 1
        Hp = (Hc - 2) // 2 + 1
        Wp = (Wc - 2) // 2 + 1
        specs = [
            ("1", (num_filters, C, filter_size, filter_size), num_filters),
            ("2", (num_filters * Hp * Wp, hidden_dim), hidden_dim),
            ("3", (hidden_dim, num_classes), num_classes),
        ]
        for idx, w_shape, n_out in specs:
            w = np.random.randn(*w_shape) * weight_scale
            self.params["W" + idx] = w.astype(dtype)
            self.params["b" + idx] = np.zeros((n_out,), dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        P = self.params
        fs = P["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (fs - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        h1, c1 = conv_relu_pool_forward(X, P["W1"], P["b1"], conv_param, pool_param)
        h2, c2 = affine_relu_forward(h1, P["W2"], P["b2"])
        scores, c3 = affine_forward(h2, P["W3"], P["b3"])
        if y is None:
            return scores

        loss, d = softmax_loss(scores, y)
        grads = {}
        d, grads["W3"], grads["b3"] = affine_backward(d, c3)
        d, grads["W2"], grads["b2"] = affine_relu_backward(d, c2)
        d, grads["W1"], grads["b1"] = conv_relu_pool_backward(d, c1)
        for i in "123":
            W = P["W" + i]
            loss += self.reg * 0.5 * np.sum(np.square(W))
            grads["W" + i] += self.reg * W
        return loss, grads
