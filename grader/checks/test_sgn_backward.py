"""Section 11: spatial group normalization, backward pass."""
from grader.feedback import mistakes as bugs
from grader.cases import check
from grader.checks.checking import run_backward_check


def sgn_grad_mistakes(case, fx, g):
    """Known wrong spatial group norm dx, to name a likely cause."""
    if g != "x":
        return []
    return bugs.group_norm_backward_variants(fx.inputs["x"], fx.inputs["gamma"], fx.dout,
                                             case.params["G"],
                                             case.params["gn_param"].get("eps", 1e-5))


def _check(worker, submission, case, record_property, slips=None):
    run_backward_check(worker, submission, case, record_property, diagnoses=sgn_grad_mistakes, slips=slips)


@check("sgn_backward.basic", "spatial_groupnorm_backward")
def test_basic(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property, slips=slips)


@check("sgn_backward.extra", "spatial_groupnorm_backward")
def test_extra(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient (G = 1, G = C)"""
    _check(worker, submission, case, record_property, slips=slips)


@check("sgn_backward.hidden", "spatial_groupnorm_backward")
def test_hidden(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property, slips=slips)
