"""Numeric gradients by centered differences, from forward values computed in the worker.

The grader perturbs one entry of an input at a time (x + h e_i and x - h e_i), asks the worker
for all the forward values in one `batch` request, and projects each difference on the upstream
gradient: d/dx_i sum(f(x) * dout) ~= sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2h). Large
inputs are checked on a seeded sample of entries.
"""
import numpy as np


def sample_indices(shape, limit, seed):
    """Flat indices to check: all of them if there are at most `limit`, else a seeded sample."""
    size = int(np.prod(shape))
    if size <= limit:
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(size, size=limit, replace=False))


def perturbed(x, indices, h):
    """[x + h e_i, x - h e_i for i in indices] (copies; x is not changed)."""
    values = []
    for i in indices:
        for sign in (1.0, -1.0):
            v = np.array(x, dtype=np.float64, copy=True)
            v.reshape(-1)[i] += sign * h
            values.append(v)
    return values


def centered(outs, dout, h):
    """Gradient entries from stacked forward values outs[2k] (at +h) and outs[2k+1] (at -h).

    dout=None means a scalar function (a loss): its difference is taken as it is.
    """
    outs = np.asarray(outs, dtype=np.float64)
    diff = outs[0::2] - outs[1::2]
    if dout is None:
        return diff.reshape(len(diff), -1).sum(axis=1) / (2 * h)
    dout = np.asarray(dout, dtype=np.float64)
    return (diff * dout[None]).reshape(len(diff), -1).sum(axis=1) / (2 * h)


def numeric_gradient(worker, target, args, vary, dout, *, h, indices, pick=0, timeout=None):
    """Numeric gradient entries of sum(target(*args)[pick] * dout) wrt args[vary] at `indices`."""
    values = perturbed(args[vary], indices, h)
    outs = worker.batch(target, list(args), vary, values, pick=pick, timeout=timeout)
    return centered(outs, dout, h)


def numeric_gradient_item(worker, handle, attr, key, base, method, args, *, h, indices, pick=0,
                          dout=None, timeout=None):
    """Numeric gradient entries wrt handle.<attr>[key] (current value `base`) of
    handle.<method>(*args)[pick]; the worker puts the original value back afterwards."""
    values = perturbed(base, indices, h)
    outs = worker.batch_item(handle, attr, key, values, method, list(args), pick=pick,
                             timeout=timeout)
    return centered(outs, dout, h)


def numeric_gradient_local(f, x, dout, *, h, indices):
    """The same centered differences for a function f evaluated in this process (tests, checks
    of trusted code)."""
    return centered(np.stack([np.asarray(f(v)) for v in perturbed(x, indices, h)]), dout, h)
