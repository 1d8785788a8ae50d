"""Section 4: the naive layers against the trusted fast layers, on the notebook's timing cells.

The naive layers run in the worker (their time is the worker call's wall time); the fast layers
run here in the grader process from the trusted package. Times are reported, never graded.
"""
import time

import numpy as np

from grader import config
from grader.cases import CONV_BACKWARD, CONV_FORWARD, POOL_BACKWARD, POOL_FORWARD, check
from grader.checking import short
from grader.compare import assert_close, describe, unpack
from grader.plugin import require_file
from grader.test_conv_backward import conv_grad_candidates
from grader.test_conv_forward import conv_candidates
from grader.test_pool_backward import pool_grad_candidates
from grader.test_pool_forward import pool_candidates


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def timing_line(what, naive, fast):
    speedup = f"{naive / fast:.1f}x" if fast > 0 else "n/a"
    return f"{what}: naive {naive:.4f} s, fast {fast:.4f} s, speedup {speedup}"


@check("fast.conv", "conv_forward_naive", "conv_backward_naive")
def test_conv_vs_fast(worker, fast, submission, record_property):
    """naive conv forward and backward agree with the fast layers (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    r = np.random.RandomState(260)   # the notebook's cell
    x, w, b = r.randn(100, 3, 31, 31), r.randn(25, 3, 3, 3), r.randn(25)
    dout = r.randn(100, 25, 16, 16)
    conv_param = {"stride": 2, "pad": 1}
    inputs = describe({"x": x, "w": w, "b": b}, {"conv_param": conv_param}) + \
        "  [the notebook's cell, np.random.seed(260)]"
    budget = config.FAST_NAIVE_TIMEOUT_S
    out, cache = unpack(worker.call(CONV_FORWARD, x, w, b, conv_param, timeout=budget),
                        ("out", "cache"), short(CONV_FORWARD))
    t_naive_fwd = worker.last_elapsed
    (out_fast, cache_fast), t_fast_fwd = timed(fast.conv_forward_fast, x, w, b, conv_param)
    assert_close(out, out_fast, what="conv_forward_naive output", inputs=inputs,
                 tol=config.TOL_FLOAT64, reference="conv_forward_fast",
                 diagnoses=conv_candidates(x, w, b, 2, 1, out_fast))
    grads = unpack(worker.call(CONV_BACKWARD, dout, cache, timeout=budget), ("dx", "dw", "db"),
                   short(CONV_BACKWARD))
    t_naive_bwd = worker.last_elapsed
    fast_grads, t_fast_bwd = timed(fast.conv_backward_fast, dout, cache_fast)
    for g, mine, ref in zip("xwb", grads, fast_grads):
        assert_close(mine, ref, what=f"conv_backward_naive: d{g}", inputs=inputs,
                     tol=config.TOL_FLOAT64, reference="conv_backward_fast",
                     diagnoses=conv_grad_candidates(x, w, dout, 2, 1, g, ref))
    record_property("output", "\n".join([
        timing_line("conv forward", t_naive_fwd, t_fast_fwd),
        timing_line("conv backward", t_naive_bwd, t_fast_bwd),
        "(naive times include sending the arrays to and from the worker)"]))


@check("fast.pool", "max_pool_forward_naive", "max_pool_backward_naive")
def test_pool_vs_fast(worker, fast, submission, record_property):
    """naive max pool forward and backward agree with the fast layers (the notebook's timing cell)"""
    require_file(submission, "layers.py")
    r = np.random.RandomState(260)
    x, dout = r.randn(100, 3, 32, 32), r.randn(100, 3, 16, 16)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    inputs = describe({"x": x}, {"pool_param": pool_param}) + \
        "  [the notebook's cell, np.random.seed(260)]"
    budget = config.FAST_NAIVE_TIMEOUT_S
    out, cache = unpack(worker.call(POOL_FORWARD, x, pool_param, timeout=budget),
                        ("out", "cache"), short(POOL_FORWARD))
    t_naive_fwd = worker.last_elapsed
    (out_fast, cache_fast), t_fast_fwd = timed(fast.max_pool_forward_fast, x, pool_param)
    assert_close(out, out_fast, what="max_pool_forward_naive output", inputs=inputs,
                 tol=config.TOL_FLOAT64, reference="max_pool_forward_fast",
                 diagnoses=pool_candidates(x, 2, 2, 2, out_fast))
    dx = worker.call(POOL_BACKWARD, dout, cache, timeout=budget)
    t_naive_bwd = worker.last_elapsed
    dx_fast, t_fast_bwd = timed(fast.max_pool_backward_fast, dout, cache_fast)
    assert_close(dx, dx_fast, what="max_pool_backward_naive: dx", inputs=inputs,
                 tol=config.TOL_FLOAT64, reference="max_pool_backward_fast",
                 diagnoses=pool_grad_candidates(x, dout, 2, 2, 2))
    record_property("output", "\n".join([
        timing_line("max pool forward", t_naive_fwd, t_fast_fwd),
        timing_line("max pool backward", t_naive_bwd, t_fast_bwd),
        "(naive times include sending the arrays to and from the worker)"]))
