"""A three-layer convolutional network for image classification."""
import numpy as np

from ..layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from ..layers import affine_backward, affine_forward, softmax_loss


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    The network takes minibatches of shape (N, C, H, W). The convolution keeps
    the spatial size (stride 1, zero padding (filter_size - 1) // 2 on every
    side, for an odd filter_size) and the pooling halves it.

    Learnable parameters live in the dict self.params:
    - 'W1', 'b1': convolution filters (num_filters, C, filter_size, filter_size) and biases
    - 'W2', 'b2': hidden affine layer (num_filters * H_pool * W_pool, hidden_dim)
    - 'W3', 'b3': output affine layer (hidden_dim, num_classes)
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """Create the network with random weights and zero biases.

        Inputs:
        - input_dim: (C, H, W), the shape of one input example
        - num_filters: number of convolution filters
        - filter_size: height and width of the filters
        - hidden_dim: number of units of the hidden affine layer
        - num_classes: number of scores the network outputs
        - weight_scale: standard deviation of the normal distribution the
          weights are drawn from
        - reg: strength of the L2 regularization of the weights
        - dtype: numpy dtype of the parameters and of the computation
        """
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        self.filter_size = filter_size

        # TODO: Fill self.params with W1, b1, W2, b2, W3, b3 (see the class
        # docstring for their shapes). Draw the weights with np.random.randn,
        # in the order W1, W2, W3, scaled by weight_scale; the biases start at
        # zero. Work out the size of the pooled activations from input_dim.
        ### BEGIN SOLUTION
        C, H, W = input_dim
        pad = (filter_size - 1) // 2
        conv_h = H + 2 * pad - filter_size + 1
        conv_w = W + 2 * pad - filter_size + 1
        pool_h, pool_w = conv_h // 2, conv_w // 2
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * pool_h * pool_w, hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        ### END SOLUTION

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: input data (N, C, H, W)
        - y: labels (N,), or None

        Returns the class scores (N, num_classes) when y is None; otherwise
        (loss, grads) where grads maps every key of self.params to the gradient
        of the loss with respect to that parameter.
        """
        X = X.astype(self.dtype, copy=False)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]

        conv_param = {"stride": 1, "pad": (self.filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        scores = None
        # TODO: Forward pass: compute the class scores for X into `scores`.
        # The sandwich layers of cs260.layer_utils (imported above) do most of
        # the work; keep their caches for the backward pass.
        ### BEGIN SOLUTION
        pooled, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, cache2 = affine_relu_forward(pooled, W2, b2)
        scores, cache3 = affine_forward(hidden, W3, b3)
        ### END SOLUTION

        if y is None:
            return scores

        loss, grads = 0, {}
        # TODO: Backward pass: compute the softmax loss plus the L2
        # regularization 0.5 * self.reg * sum(W ** 2) of W1, W2 and W3, and
        # store the gradient of every parameter in grads (for example
        # grads['W1']), including the regularization's share. The first layer
        # needs no gradient of X: conv_relu_pool_backward(..., compute_dx=False)
        # skips it and saves time.
        ### BEGIN SOLUTION
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, cache2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, cache1, compute_dx=False)
        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[name] += self.reg * W
        ### END SOLUTION

        return loss, grads
