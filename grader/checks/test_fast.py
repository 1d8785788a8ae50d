"""Section 4: the naive layers against the trusted fast layers, on the notebook's timing cells.

The naive layers run in the worker (their time is the worker call's wall time); the fast layers
run here in the grader process from the trusted package. Times are reported, never graded.
Forward and backward agreement are separate items: a backward item runs on the student's own
forward cache, or on the standard cache when that forward does not work (grader/feedback/policy.py).
"""
import time

import numpy as np

from grader import config
from grader.cases import CONV_BACKWARD, CONV_FORWARD, POOL_BACKWARD, POOL_FORWARD, check
from grader.checks.checking import cache_for_backward, require_file, short, standard_cache_failed
from grader.feedback import policy
from grader.sandbox.client import StudentError
from grader.feedback.compare import CheckFailed, assert_close, describe, unpack
from grader.feedback.catalogue import conv_candidates, conv_grad_candidates, pool_candidates, pool_grad_candidates


def timed(fn, *args):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def timing_line(what, naive, fast):
    """The notebook-style line comparing naive and fast times."""
    speedup = f"{naive / fast:.1f}x" if fast > 0 else "n/a"
    return f"{what}: naive {naive:.4f} s, fast {fast:.4f} s, speedup {speedup}"


def conv_cell():
    """The notebook's fast-vs-naive convolution cell: its inputs and their description."""
    r = np.random.RandomState(260)   # the notebook's cell
    x, w, b = r.randn(100, 3, 31, 31), r.randn(25, 3, 3, 3), r.randn(25)
    dout = r.randn(100, 25, 16, 16)
    conv_param = {"stride": 2, "pad": 1}
    inputs = describe({"x": x, "w": w, "b": b}, {"conv_param": conv_param}) + \
        "  [the notebook's cell, np.random.seed(260)]"
    return x, w, b, conv_param, dout, inputs


def pool_cell():
    """The notebook's fast-vs-naive pooling cell: its inputs and their description."""
    r = np.random.RandomState(260)
    x, dout = r.randn(100, 3, 32, 32), r.randn(100, 3, 16, 16)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    inputs = describe({"x": x}, {"pool_param": pool_param}) + \
        "  [the notebook's cell, np.random.seed(260)]"
    return x, pool_param, dout, inputs


NAIVE_NOTE = "(naive times include sending the arrays to and from the worker)"


def backward_on_cache(worker, forward, backward, args, dout):
    """(the student's backward result, its time, note) on the student's or the standard cache."""
    budget = config.FAST_NAIVE_TIMEOUT_S
    _, cache, standard = cache_for_backward(worker, forward, backward, args, timeout=budget)
    try:
        result = worker.call(backward, dout, cache, timeout=budget)
    except StudentError as e:
        if standard:
            raise standard_cache_failed(e, standard, short(forward), short(backward))
        raise
    return result, worker.last_elapsed, standard


@check("fast.conv_forward", "conv_forward_naive")
def test_conv_forward_vs_fast(worker, fast, submission, record_property, slips):
    """naive conv forward agrees with conv_forward_fast (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    x, w, b, conv_param, _, inputs = conv_cell()
    out, _ = unpack(worker.call(CONV_FORWARD, x, w, b, conv_param,
                                timeout=config.FAST_NAIVE_TIMEOUT_S),
                    ("out", "cache"), short(CONV_FORWARD))
    t_naive = worker.last_elapsed
    (out_fast, _), t_fast = timed(fast.conv_forward_fast, x, w, b, conv_param)
    assert_close(out, out_fast, what="conv_forward_naive output", inputs=inputs,
                 tol=config.TOL_FLOAT64, reference="conv_forward_fast",
                 diagnoses=conv_candidates(x, w, b, 2, 1, out_fast), slips=slips)
    record_property("output", timing_line("conv forward", t_naive, t_fast) + "\n" + NAIVE_NOTE)


@check("fast.conv_backward", "conv_backward_naive")
def test_conv_backward_vs_fast(worker, fast, submission, record_property, slips):
    """naive conv backward agrees with conv_backward_fast (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    x, w, b, conv_param, dout, inputs = conv_cell()
    result, t_naive, standard = backward_on_cache(worker, CONV_FORWARD, CONV_BACKWARD,
                                                  [x, w, b, conv_param], dout)
    (_, cache_fast) = fast.conv_forward_fast(x, w, b, conv_param)
    fast_grads, t_fast = timed(fast.conv_backward_fast, dout, cache_fast)
    try:
        grads = unpack(result, ("dx", "dw", "db"), short(CONV_BACKWARD))
        for g, mine, ref in zip("xwb", grads, fast_grads):
            assert_close(mine, ref, what=f"conv_backward_naive: d{g}", inputs=inputs,
                         tol=config.TOL_FLOAT64, reference="conv_backward_fast",
                         diagnoses=conv_grad_candidates(x, w, dout, 2, 1, g, ref), slips=slips)
    except CheckFailed as e:
        raise CheckFailed(f"{standard}.\n{e}" if standard else str(e)) from None
    record_property("output", "\n".join(
        ([standard + "."] if standard else [])
        + [timing_line("conv backward", t_naive, t_fast), NAIVE_NOTE]))


@check("fast.pool_forward", "max_pool_forward_naive")
def test_pool_forward_vs_fast(worker, fast, submission, record_property, slips):
    """naive max pool forward agrees with max_pool_forward_fast (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    x, pool_param, _, inputs = pool_cell()
    out, _ = unpack(worker.call(POOL_FORWARD, x, pool_param, timeout=config.FAST_NAIVE_TIMEOUT_S),
                    ("out", "cache"), short(POOL_FORWARD))
    t_naive = worker.last_elapsed
    (out_fast, _), t_fast = timed(fast.max_pool_forward_fast, x, pool_param)
    assert_close(out, out_fast, what="max_pool_forward_naive output", inputs=inputs,
                 tol=config.TOL_FLOAT64, reference="max_pool_forward_fast",
                 diagnoses=pool_candidates(x, 2, 2, 2, out_fast), slips=slips)
    record_property("output", timing_line("max pool forward", t_naive, t_fast) + "\n" + NAIVE_NOTE)


@check("fast.pool_backward", "max_pool_backward_naive")
def test_pool_backward_vs_fast(worker, fast, submission, record_property, slips):
    """naive max pool backward agrees with max_pool_backward_fast (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    x, pool_param, dout, inputs = pool_cell()
    dx, t_naive, standard = backward_on_cache(worker, POOL_FORWARD, POOL_BACKWARD,
                                              [x, pool_param], dout)
    (_, cache_fast) = fast.max_pool_forward_fast(x, pool_param)
    dx_fast, t_fast = timed(fast.max_pool_backward_fast, dout, cache_fast)
    try:
        expected = policy.accepted_gradient("max_pool_forward_naive", "x", {"x": x},
                                            {"pool_param": pool_param}, dout, dx, dx_fast,
                                            config.TOL_FLOAT64)
        assert_close(dx, expected, what="max_pool_backward_naive: dx", inputs=inputs,
                     tol=config.TOL_FLOAT64, reference="max_pool_backward_fast",
                     diagnoses=pool_grad_candidates(x, dout, 2, 2, 2), slips=slips)
    except CheckFailed as e:
        raise CheckFailed(f"{standard}.\n{e}" if standard else str(e)) from None
    record_property("output", "\n".join(
        ([standard + "."] if standard else [])
        + [timing_line("max pool backward", t_naive, t_fast), NAIVE_NOTE]))
