"""max_pool_forward_naive hoards memory until it runs out; conv_backward_naive asks for 80 GB."""


def max_pool_forward_naive(x, pool_param):
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))


def conv_backward_naive(dout, cache):
    return np.ones((10**5, 10**5)), None, None
