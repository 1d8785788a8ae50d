"""A student layers.py that fails at import time (used by test_worker.py)."""
import numpy as np

SCALE = np.ones(3)


def conv_forward_naive(x, w, b, conv_param):
    return x


raise ValueError("broken at import")
