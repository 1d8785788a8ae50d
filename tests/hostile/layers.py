"""A hostile student layers.py: each function misbehaves in one way (used by test_worker.py)."""
import os
import signal
import sys

import numpy as np


def add(a, b):
    """Well-behaved: prints, then returns a sum and a cache dict."""
    print("add called")
    return a + b, {"a": a}


def scale_inplace(x, param):
    """Changes its arguments in place (like batchnorm's running averages)."""
    x *= 2
    param["count"] = param.get("count", 0) + 1
    return x.sum()


def todo(x):
    raise NotImplementedError("todo: not implemented yet")


def fails(x):
    return _inner(x)


def _inner(x):
    return np.dot(x, np.ones((7, 7)))  # shapes do not match


def spin():
    print("spinning")
    while True:
        pass


def numpy_bomb():
    return np.ones(10**11)


def list_bomb():
    grow = []
    while True:
        grow.append([0] * 10000)


def exit_call():
    sys.exit(5)


def hard_exit():
    os._exit(3)


def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


def interrupt():
    raise KeyboardInterrupt


def base_exception():
    raise BaseException("not an Exception")


def shout():
    print("to stdout")
    print("to stderr", file=sys.stderr)
    os.write(1, b"raw fd 1\n")
    os.write(2, b"raw fd 2\n")
    return 1


def patch_numpy():
    np.allclose = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    return bool(np.allclose(1, 2))


class Sneaky(np.ndarray):
    """An ndarray subclass that claims to equal everything."""

    def __eq__(self, other):
        return True

    def __array_finalize__(self, obj):
        self.flag = "sneaky"


def return_subclass():
    return np.arange(4.0).view(Sneaky)


class Liar:
    """Not data: claims to equal anything and to be close to anything."""

    def __eq__(self, other):
        return True

    def __float__(self):
        return 1.0

    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


def return_liar():
    return Liar()


def return_nested_liar():
    return (np.ones(2), [Liar(), {"k": Liar()}])


def return_object_array():
    return np.array([None, 1], dtype=object)


def junk_protocol():
    """Writes garbage to every open descriptor above 2 (the reply pipe among them)."""
    for fd in range(3, 256):
        try:
            os.write(fd, b"this is not a frame" * 10)
        except OSError:
            pass
    return 1


def close_stdout():
    os.close(1)
    os.close(2)
    return 2


def whoami():
    return os.getuid()


def write_into(path):
    with open(path, "w") as f:
        f.write("overwritten")
    return True


def raise_limit():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    return True


def random_draw(n):
    return np.random.randn(n)


class Model:
    """A tiny 'classifier' with a params dict, like ThreeLayerConvNet."""

    def __init__(self, n, scale=1.0):
        self.params = {"W": np.full(n, scale)}

    def loss(self, X):
        W = self.params["W"]
        return float(W @ X), {"W": X.copy()}
