"""Numeric gradients by centered differences, to check analytic backward passes."""
from random import randrange

import numpy as np


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numeric gradient of a scalar function f at x (an array changed in place and restored).

    Each entry is (f(x + h) - f(x - h)) / (2h) with only that entry of x moved.
    Prints every entry when verbose is true.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) at x, for an array-valued f.

    df is the upstream gradient of f's output, so the result is what a backward
    pass given dout=df should return for x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """Compare analytic_grad with the numeric gradient of scalar f at a few random entries.

    Prints the numeric and analytic values and their relative error for each entry.
    """
    for _ in range(num_checks):
        ix = tuple(randrange(n) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = analytic_grad[ix]
        denom = abs(numeric) + abs(analytic)
        rel = abs(numeric - analytic) / denom if denom > 0 else 0.0
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {rel:e}")
