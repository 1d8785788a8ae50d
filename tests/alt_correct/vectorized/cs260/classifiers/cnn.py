"""A correct ThreeLayerConvNet that calls the layers directly instead of the sandwich layers.

Alternative correct submission for the grader's own tests: the weights come from
np.random.normal (the same random stream as scaled randn), the layers are chained by hand.
"""
import numpy as np

from ..fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from ..layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class ThreeLayerConvNet:
    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        channels, height, width = input_dim
        self.reg = reg
        self.dtype = dtype
        self.conv_param = {"stride": 1, "pad": filter_size // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        flat = num_filters * (height // 2) * (width // 2)
        shapes = {
            "W1": (num_filters, channels, filter_size, filter_size),
            "W2": (flat, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for layer in ("1", "2", "3"):
            w_shape = shapes["W" + layer]
            self.params["W" + layer] = np.random.normal(0.0, weight_scale, w_shape).astype(dtype)
            self.params["b" + layer] = np.zeros(w_shape[0] if layer == "1" else w_shape[1],
                                                dtype=dtype)

    def loss(self, X, y=None):
        p = self.params
        X = np.asarray(X, dtype=self.dtype)
        conv, conv_cache = conv_forward_fast(X, p["W1"], p["b1"], self.conv_param)
        act, act_cache = relu_forward(conv)
        pooled, pool_cache = max_pool_forward_fast(act, self.pool_param)
        hid_in, hid_cache = affine_forward(pooled, p["W2"], p["b2"])
        hidden, hidden_relu = relu_forward(hid_in)
        scores, out_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        weights = [p["W1"], p["W2"], p["W3"]]
        reg_loss = 0.5 * self.reg * sum(float(np.vdot(w, w)) for w in weights)
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, out_cache)
        dhid_in = relu_backward(dhidden, hidden_relu)
        dpooled, grads["W2"], grads["b2"] = affine_backward(dhid_in, hid_cache)
        dact = max_pool_backward_fast(dpooled, pool_cache)
        dconv = relu_backward(dact, act_cache)
        _, grads["W1"], grads["b1"] = conv_backward_fast(dconv, conv_cache)
        for name in ("W1", "W2", "W3"):
            grads[name] = grads[name] + self.reg * p[name]
        return data_loss + reg_loss, grads
