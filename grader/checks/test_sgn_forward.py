"""Section 10: spatial group normalization, forward pass."""
from grader.feedback import mistakes as bugs
from grader.cases import check
from grader.checks.checking import check_forward, require_file


def sgn_mistakes(case, fx):
    """Known wrong spatial group norm outputs, to name a likely cause."""
    eps = case.params["gn_param"].get("eps", 1e-5)
    return bugs.group_norm_variants(fx.inputs["x"], fx.inputs["gamma"], fx.inputs["beta"],
                                    case.params["G"], eps)


def _check(worker, submission, case, slips=None):
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=sgn_mistakes, slips=slips)


@check("sgn_forward.basic", "spatial_groupnorm_forward")
def test_basic(case, worker, submission, slips):
    """output matches the reference (G = 2 groups of 6 channels)"""
    _check(worker, submission, case, slips=slips)


@check("sgn_forward.extra", "spatial_groupnorm_forward")
def test_extra(case, worker, submission, slips):
    """output matches the reference (G = 1, G = C, float32)"""
    _check(worker, submission, case, slips=slips)


@check("sgn_forward.hidden", "spatial_groupnorm_forward")
def test_hidden(case, worker, submission, slips):
    """output matches the reference (hidden cases)"""
    _check(worker, submission, case, slips=slips)
