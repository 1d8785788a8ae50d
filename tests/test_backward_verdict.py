"""grader/checks/checking.py `backward_verdict`: when a backward fails on an input where its
forward is wrong too, "fix the forward first" is said only when an experiment shows it.

The student's functions run here, in a stand-in for the worker (no grading run): a forward that
doubles its output, with a backward that is its exact gradient, one that is the gradient of the
right forward, and ones with a bug of their own.
"""
import copy

import numpy as np

from grader.cases import BY_ID
from grader.checks import checking
from grader.checks.fixtures import load_fixture
from grader.feedback.compare import CheckFailed


class LocalWorker:
    """Runs `funcs[target]` in this process, with the client's call and batch signatures."""

    def __init__(self, funcs):
        self.funcs = funcs

    def call(self, target, *args, **kwargs):
        return self.funcs[target](*copy.deepcopy(args))

    def batch(self, target, args, vary, values, pick=0, **kwargs):
        outs = []
        for v in values:
            call = copy.deepcopy(list(args))
            call[vary] = v
            out = self.funcs[target](*call)
            outs.append(out if pick is None else out[pick])
        return np.stack(outs)


def bn_forward(x, gamma, beta, bn_param, factor=1.0):
    eps = bn_param.get("eps", 1e-5)
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return factor * (gamma * x_hat + beta), (x_hat, gamma, var, eps)


def bn_backward(dout, cache, factor=1.0):
    x_hat, gamma, var, eps = cache
    dout = factor * dout
    n = len(dout)
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - x_hat * (dxhat * x_hat).sum(axis=0)) / (
        n * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def verdict(case_id, forward, backward):
    """backward_verdict of the student's (forward, backward) on a case, as a CheckFailed."""
    case = BY_ID[case_id]
    fx = load_fixture(case)
    worker = LocalWorker({case.function: forward, case.backward: backward})
    _, cache = forward(*case.call_args(fx.inputs))
    got = backward(fx.dout, cache)
    got = got if isinstance(got, tuple) else (got,)
    grads = dict(zip(case.grads, got))
    e = CheckFailed("dx does not match\n  likely cause: your result is all zeros",
                    diagnoses=["generic.all_zeros"])
    return checking.backward_verdict(worker, case, fx, grads, "text", e)


def test_a_backward_that_is_the_gradient_of_its_own_wrong_forward_is_told_to_fix_the_forward():
    e = verdict("prereq.batchnorm_backward", lambda *a: bn_forward(*a, factor=2.0),
                lambda d, c: bn_backward(d, c, factor=2.0))
    assert e.diagnoses == ["backward.forward_wrong"]      # the generic guess is dropped
    assert "matches its centered differences" in str(e) and "all zeros" not in str(e)


def test_a_backward_that_is_not_the_gradient_of_its_forward_may_have_a_bug_of_its_own():
    e = verdict("prereq.batchnorm_backward", lambda *a: bn_forward(*a, factor=2.0), bn_backward)
    assert "backward.forward_wrong" in e.diagnoses
    assert "may have a bug of its own" in str(e)


def test_a_gradient_of_the_wrong_shape_is_the_backwards_own_bug():
    e = verdict("prereq.batchnorm_backward", lambda *a: bn_forward(*a, factor=2.0),
                lambda d, c: (np.float64(0.0),) + bn_backward(d, c)[1:])
    assert e.diagnoses[-1] == "backward.own_bug" and "backward.forward_wrong" not in e.diagnoses


def test_with_a_standard_cache_the_backward_is_run_on_it():
    wrong_forward = lambda x: (2 * np.maximum(x, 0), x)   # noqa: E731
    right = verdict("prereq.relu_backward", wrong_forward, lambda d, x: d * (x > 0))
    assert right.diagnoses == ["backward.forward_wrong"] and "standard cache" in str(right)
    own = verdict("prereq.relu_backward", wrong_forward, lambda d, x: 3 * d * (x > 0))
    assert own.diagnoses[-1] == "backward.own_bug"
    assert "fails on the standard cache" in str(own)


def test_a_raise_on_the_standard_cache_blames_the_cache_only_where_the_line_reads_it():
    from types import SimpleNamespace
    reads = SimpleNamespace(detail='Traceback:\n  File "cs260/layers.py", line 9, in f\n'
                                   '    x, mask, p = cache\nValueError: not enough values')
    own = SimpleNamespace(detail='Traceback:\n  File "cs260/layers.py", line 12, in f\n'
                                 '    db[f] += dout[n, f, i, j]\nIndexError: index 5')
    assert checking.standard_cache_cause(reads, "f", "b").key == "dependency.fix_first"
    mine = checking.standard_cache_cause(own, "f", "b")
    assert mine.key == "backward.own_bug" and "db[f] += dout[n, f, i, j]" in mine
