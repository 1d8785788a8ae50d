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
        raise NotImplementedError("ThreeLayerConvNet.__init__: not implemented yet (see the TODO above)")

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
        raise NotImplementedError("ThreeLayerConvNet.loss: not implemented yet (see the TODO above)")

        if y is None:
            return scores

        loss, grads = 0, {}
        # TODO: Backward pass: compute the softmax loss plus the L2
        # regularization 0.5 * self.reg * sum(W ** 2) of W1, W2 and W3, and
        # store the gradient of every parameter in grads (for example
        # grads['W1']), including the regularization's share. The first layer
        # needs no gradient of X: conv_relu_pool_backward(..., compute_dx=False)
        # skips it and saves time.
        raise NotImplementedError("ThreeLayerConvNet.loss: not implemented yet (see the TODO above)")

        return loss, grads
