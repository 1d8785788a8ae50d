"""Section 9: spatial batch normalization, backward pass."""
from grader import diagnoses as bugs
from grader.cases import check
from grader.checking import run_backward_check


def sbn_grad_mistakes(case, fx, g):
    if g != "x":
        return []
    eps = case.params["bn_param"].get("eps", 1e-5)
    return [("dx treats the batch mean and variance as constants; they depend on every x",
             lambda: bugs.batchnorm_dx_constant_stats(fx.inputs["x"], fx.inputs["gamma"], fx.dout,
                                                      (0, 2, 3), eps))]


def _check(worker, submission, case, record_property):
    run_backward_check(worker, submission, case, record_property, diagnoses=sbn_grad_mistakes)


@check("sbn_backward.basic", "spatial_batchnorm_backward")
def test_basic(case, worker, submission, record_property):
    """dx, dgamma, dbeta match the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property)


@check("sbn_backward.extra", "spatial_batchnorm_backward")
def test_extra(case, worker, submission, record_property):
    """dx, dgamma, dbeta match the reference and the numeric gradient (odd sizes, batch of one)"""
    _check(worker, submission, case, record_property)


@check("sbn_backward.hidden", "spatial_batchnorm_backward")
def test_hidden(case, worker, submission, record_property):
    """dx, dgamma, dbeta match the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property)
