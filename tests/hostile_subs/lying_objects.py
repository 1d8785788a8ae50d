"""Returns objects that claim to be right: an ndarray subclass whose comparisons and
arithmetic lie, an object equal to everything, and an object whose __array__ changes its
answer. The returned numbers themselves are wrong (zeros or garbage)."""


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)

    def __sub__(self, other):
        return np.zeros(np.shape(self))

    __rsub__ = __sub__

    def __abs__(self):
        return np.zeros(np.shape(self))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(self))

    def __reduce__(self):
        return (np.zeros, (np.shape(self),))


class EqualToEverything:
    shape = property(lambda self: self._shape)
    dtype = np.dtype(np.float64)
    ndim = 4

    def __init__(self, shape):
        self._shape = shape

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__
    __hash__ = object.__hash__

    def __float__(self):
        return 0.0

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self._shape)


class ShiftyArray:
    """__array__ gives a different answer every time it is asked."""

    def __init__(self, shape):
        self._shape = shape
        self.calls = 0

    def __array__(self, dtype=None, copy=None):
        self.calls += 1
        return np.full(self._shape, float(self.calls))

    def __len__(self):
        return self._shape[0]


def _conv_shape(x, w, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    return N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def conv_forward_naive(x, w, b, conv_param):
    out = np.zeros(_conv_shape(x, w, conv_param)).view(LyingArray)
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, _ = cache
    return (np.zeros_like(x).view(LyingArray), EqualToEverything(w.shape),
            ShiftyArray(b.shape))


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    return EqualToEverything((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s)), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, _ = cache
    return ShiftyArray(x.shape)
