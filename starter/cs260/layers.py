"""Layers of a convolutional network, each as a forward and a backward function.

Every forward function returns (out, cache); the matching backward function takes
(dout, cache), where dout is the upstream gradient of the loss with respect to out,
and returns the gradients with respect to the forward function's inputs.

Prerequisites: affine_forward, affine_backward, relu_forward, relu_backward, softmax_loss,
batchnorm_forward and batchnorm_backward are the layers you wrote in the earlier homework
(fully-connected networks and batch normalization). Bring your implementations from there:
they are graded here too (section 0 of the score, 10 points), and the sandwich layers and
ThreeLayerConvNet use them.
"""
import numpy as np


def affine_forward(x, w, b):
    """Fully connected layer: out = x @ w + b, with each example flattened first.

    Inputs:
    - x: array (N, d_1, ..., d_k); each example has D = d_1 * ... * d_k values
    - w: weights (D, M)
    - b: biases (M,)

    Returns (out, cache): out has shape (N, M).
    """
    out = None
    # TODO (from the earlier homework): Reshape x into a matrix of N rows (one flattened example per row),
    # compute the affine output `out` and keep in `cache` what the backward
    # pass needs.
    raise NotImplementedError("affine_forward: not implemented yet (see the TODO above)")
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs:
    - dout: upstream gradient (N, M)
    - cache: what affine_forward returned as its cache (the standard one is the
      tuple (x, w, b); if your affine_forward fails, the grader tries that one)

    Returns (dx, dw, db) with the shapes of x, w and b.
    """
    dx, dw, db = None, None, None
    # TODO (from the earlier homework): Compute the gradients of x, w and b. dx must have the original
    # (unflattened) shape of x.
    raise NotImplementedError("affine_backward: not implemented yet (see the TODO above)")
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: out = max(0, x), elementwise; x of any shape.

    Returns (out, cache).
    """
    out = None
    # TODO (from the earlier homework): Compute the ReLU of x and keep what the backward pass needs in cache.
    raise NotImplementedError("relu_forward: not implemented yet (see the TODO above)")
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of relu_forward; returns dx with the shape of x.

    cache: what relu_forward returned (the standard one is x itself). At x == 0
    ReLU has no derivative: any value between 0 and dout is accepted there.
    """
    dx = None
    # TODO (from the earlier homework): The gradient flows through where the input was positive and is
    # zero elsewhere.
    raise NotImplementedError("relu_backward: not implemented yet (see the TODO above)")
    return dx


def softmax_loss(x, y):
    """Softmax classifier loss, averaged over the N examples.

    Inputs:
    - x: class scores (N, C)
    - y: labels (N,), integers with 0 <= y[i] < C

    Returns (loss, dx): the scalar loss and its gradient with respect to x.
    """
    loss, dx = None, None
    # TODO (from the earlier homework): Compute the mean cross-entropy loss of the softmax probabilities
    # and its gradient. Subtract each row's maximum score before exponentiating
    # so that large scores cannot overflow.
    raise NotImplementedError("softmax_loss: not implemented yet (see the TODO above)")
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x (N, D): normalize each feature, then scale and shift.

    In 'train' mode the statistics come from the minibatch (biased variance) and
    running averages are updated; in 'test' mode the running averages are used.

    Inputs:
    - x: data (N, D)
    - gamma, beta: scale and shift (D,)
    - bn_param: dict with
      - 'mode': 'train' or 'test' (required)
      - 'eps': added to the variance for numeric stability (default 1e-5)
      - 'momentum': weight of the old value in the running averages (default 0.9)
      - 'running_mean', 'running_var': arrays (D,), created as zeros of x's
        dtype when missing and updated in place in the dict during training:
        running = momentum * running + (1 - momentum) * batch statistic

    Returns (out, cache): out has shape (N, D).
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # TODO (from the earlier homework): Normalize x with the mean and (biased) variance of the batch,
        # scale by gamma and shift by beta. Update running_mean and running_var
        # as described above and keep in cache what the backward pass needs.
        raise NotImplementedError("batchnorm_forward: not implemented yet (see the TODO above)")
    elif mode == "test":
        # TODO: Normalize x with the running averages instead of the batch
        # statistics, then scale and shift.
        raise NotImplementedError("batchnorm_forward: not implemented yet (see the TODO above)")
    else:
        raise ValueError(f"Invalid forward batchnorm mode {mode!r} (expected 'train' or 'test')")

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batchnorm_forward.

    Inputs:
    - dout: upstream gradient (N, D)
    - cache: what batchnorm_forward returned as its cache

    Returns (dx, dgamma, dbeta) with the shapes of x, gamma and beta.
    """
    dx, dgamma, dbeta = None, None, None
    # TODO (from the earlier homework): Compute the gradients. In train mode remember that the batch mean
    # and variance depend on every element of x; simplify the result on paper
    # first to get a short, fast expression.
    raise NotImplementedError("batchnorm_backward: not implemented yet (see the TODO above)")
    return dx, dgamma, dbeta


def conv_forward_naive(x, w, b, conv_param):
    """Naive forward pass of a convolutional layer (cross-correlation, as in CNNs).

    Inputs:
    - x: input (N, C, H, W)
    - w: filters (F, C, HH, WW)
    - b: biases (F,)
    - conv_param: dict with
      - 'stride': step between neighbouring receptive fields, both directions
      - 'pad': number of zeros added on every side of the height and width axes

    The output size is H' = 1 + (H + 2 * pad - HH) / stride and
    W' = 1 + (W + 2 * pad - WW) / stride; raise a ValueError when the filter
    positions do not fit the padded input exactly.

    Returns (out, cache): out has shape (N, F, H', W').
    """
    out = None
    # TODO: Zero-pad x (np.pad helps), then for every output position take the
    # receptive field of all N inputs at once and combine it with all F filters
    # (np.tensordot or einsum), adding the biases. Looping over the output
    # positions is fine; looping over every single number is too slow.
    raise NotImplementedError("conv_forward_naive: not implemented yet (see the TODO above)")
    return out, cache


def conv_backward_naive(dout, cache):
    """Naive backward pass of conv_forward_naive.

    Inputs:
    - dout: upstream gradient (N, F, H', W')
    - cache: what conv_forward_naive returned as its cache (the standard one is
      the tuple (x, w, b, conv_param); if your conv_forward_naive fails, the
      grader tries that one)

    Returns (dx, dw, db) with the shapes of x, w and b.
    """
    dx, dw, db = None, None, None
    # TODO: Walk over the output positions as in the forward pass. Each output
    # position sends gradient back to its receptive field (for dx) and to the
    # filters (for dw). Accumulate into a padded dx and cut the padding off at
    # the end.
    raise NotImplementedError("conv_backward_naive: not implemented yet (see the TODO above)")
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Naive forward pass of a max-pooling layer.

    Inputs:
    - x: input (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'; windows
      may overlap (stride smaller than the window)

    The output size is H' = 1 + (H - pool_height) / stride and
    W' = 1 + (W - pool_width) / stride; raise a ValueError when the windows do
    not fit the input exactly. No padding.

    Returns (out, cache): out has shape (N, C, H', W').
    """
    out = None
    # TODO: For every output position, take the window of all N inputs and C
    # channels at once and keep its maximum.
    raise NotImplementedError("max_pool_forward_naive: not implemented yet (see the TODO above)")
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Naive backward pass of max_pool_forward_naive.

    Each window's gradient goes to the position of its maximum; when several
    positions tie, any split of it over them is accepted (np.argmax picks the
    first one in row-major order). Where windows overlap, the gradients they
    send to the same input add up.

    cache: what max_pool_forward_naive returned (the standard one is the tuple
    (x, pool_param); if your max_pool_forward_naive fails, the grader tries it).

    Returns dx with the shape of x.
    """
    dx = None
    # TODO: For every output position, find where the window's maximum sits
    # (np.argmax of the flattened window gives the first one) and add the
    # upstream gradient there.
    raise NotImplementedError("max_pool_backward_naive: not implemented yet (see the TODO above)")
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization: batchnorm of every channel over N, H and W.

    Inputs:
    - x: input (N, C, H, W)
    - gamma, beta: scale and shift (C,)
    - bn_param: as for batchnorm_forward (its running averages have shape (C,))

    Returns (out, cache): out has shape (N, C, H, W).
    """
    out, cache = None, None
    # TODO: Reuse batchnorm_forward: rearrange x so that every channel is a
    # column and every (n, h, w) position a row, normalize, and rearrange the
    # result back. Keep it short (a few lines).
    raise NotImplementedError("spatial_batchnorm_forward: not implemented yet (see the TODO above)")
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial_batchnorm_forward.

    Returns (dx, dgamma, dbeta): dx (N, C, H, W), dgamma and dbeta (C,).
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: Reuse batchnorm_backward with the same rearrangement as in the
    # forward pass.
    raise NotImplementedError("spatial_batchnorm_backward: not implemented yet (see the TODO above)")
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Spatial group normalization.

    The C channels are split into G groups of C // G consecutive channels; each
    (example, group) pair is normalized with its own mean and (biased) variance
    over its channels and all spatial positions. Then every channel is scaled
    and shifted. The same computation runs at training and at test time.

    Inputs:
    - x: input (N, C, H, W)
    - gamma, beta: scale and shift (1, C, 1, 1)
    - G: number of groups; must divide C
    - gn_param: dict; 'eps' (default 1e-5) is added to the variance, other keys
      are ignored

    Returns (out, cache): out has shape (N, C, H, W).
    """
    out, cache = None, None
    eps = gn_param.get("eps", 1e-5)
    # TODO: Reshape x so that each (example, group) pair owns one row, compute
    # the statistics per row, normalize, reshape back, then scale and shift.
    raise NotImplementedError("spatial_groupnorm_forward: not implemented yet (see the TODO above)")
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of spatial_groupnorm_forward.

    Returns (dx, dgamma, dbeta): dx (N, C, H, W), dgamma and dbeta (1, C, 1, 1).
    """
    dx, dgamma, dbeta = None, None, None
    # TODO: Compute dgamma and dbeta per channel, then dx with the batchnorm
    # formula applied to every (example, group) row instead of every column.
    raise NotImplementedError("spatial_groupnorm_backward: not implemented yet (see the TODO above)")
    return dx, dgamma, dbeta
