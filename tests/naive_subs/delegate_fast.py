"""All four naive layers hand the work to the package's fast layers (imported when called)."""


def conv_forward_naive(x, w, b, conv_param):
    from cs260.fast_layers import conv_forward_fast
    return conv_forward_fast(x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    from grader.fast_layers import conv_backward_fast
    return conv_backward_fast(dout, cache)


def max_pool_forward_naive(x, pool_param):
    from cs260 import fast_layers
    return fast_layers.max_pool_forward_fast(x, pool_param)


def max_pool_backward_naive(dout, cache):
    import importlib
    return importlib.import_module("cs260.fast_layers").max_pool_backward_fast(dout, cache)
