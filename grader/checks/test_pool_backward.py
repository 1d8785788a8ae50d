"""Section 3b: the naive max-pooling backward pass, max_pool_backward_naive."""
from grader.feedback.catalogue import pool_grad_candidates
from grader.cases import check
from grader.checks.checking import run_backward_check


def pool_grad_mistakes(case, fx, g):
    """Known wrong gradients of this case's max-pool backward, to name a likely cause."""
    p = case.params["pool_param"]
    return pool_grad_candidates(fx.inputs["x"], fx.dout, p["pool_height"], p["pool_width"],
                                p["stride"])


def _check(worker, submission, case, record_property, slips=None):
    run_backward_check(worker, submission, case, record_property, diagnoses=pool_grad_mistakes, slips=slips)


@check("pool_backward.basic", "max_pool_backward_naive")
def test_basic(case, worker, submission, record_property, slips):
    """dx matches the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property, slips=slips)


@check("pool_backward.extra", "max_pool_backward_naive")
def test_extra(case, worker, submission, record_property, slips):
    """dx matches the reference and the numeric gradient (overlapping, rectangular, float32)"""
    _check(worker, submission, case, record_property, slips=slips)


@check("pool_backward.hidden", "max_pool_backward_naive")
def test_hidden(case, worker, submission, record_property, slips):
    """dx matches the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property, slips=slips)
