"""Returns arrays far too big: an 8-terabyte broadcast view, a 200 MB array of the wrong
shape, and a 3-dimensional array with a billion elements of a zero-strided view."""


def conv_forward_naive(x, w, b, conv_param):
    return np.broadcast_to(np.float64(1.0), (10**6, 10**6)), (x, w, b, conv_param)


def max_pool_forward_naive(x, pool_param):
    return np.ones((1, 1, 5000, 5000)), (x, pool_param)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    big = np.broadcast_to(np.float32(0.0), (N, C, 10**5, 10**5))
    return big, None
