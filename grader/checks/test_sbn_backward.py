"""Section 9: spatial batch normalization, backward pass."""
import numpy as np

from grader.feedback import mistakes as bugs
from grader.cases import check
from grader.checks.checking import run_backward_check
from grader.feedback.causes import Cause


def sbn_grad_mistakes(case, fx, g):
    """Known wrong spatial batchnorm dx, to name a likely cause."""
    if g != "x":
        return []
    eps = case.params["bn_param"].get("eps", 1e-5)
    x, gamma = fx.inputs["x"], fx.inputs["gamma"]
    return [(Cause("batchnorm_backward.constant_stats",
                   "dx treats the batch mean and variance as constants; they depend on every x"),
             lambda: bugs.batchnorm_dx_constant_stats(x, gamma, fx.dout, (0, 2, 3), eps)),
            (Cause("batchnorm_backward.no_mean_term",
                   "dx misses the term from the batch mean (- sum of dx_hat over N, H, W)"),
             lambda: sbn_dx_without_mean_term(x, gamma, fx.dout, eps))
            ] + bugs.spatial_bn_backward_layouts(x, gamma, fx.dout, eps, fx.expected["dx"])


def sbn_dx_without_mean_term(x, gamma, dout, eps):
    """dx of spatial batchnorm without the gradient through the mean (per-channel columns)."""
    cols = bugs.to_columns(x)
    x_hat = bugs.normalize(cols, (0,), eps)
    inv_std = 1.0 / np.sqrt(cols.var(axis=0) + eps)
    d_hat = bugs.to_columns(dout) * np.reshape(gamma, -1)
    m = cols.shape[0]
    return bugs.from_columns((inv_std / m) * (m * d_hat - x_hat * (d_hat * x_hat).sum(axis=0)),
                             x.shape)


def _check(worker, submission, case, record_property, slips=None):
    run_backward_check(worker, submission, case, record_property, diagnoses=sbn_grad_mistakes, slips=slips)


@check("sbn_backward.basic", "spatial_batchnorm_backward")
def test_basic(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property, slips=slips)


@check("sbn_backward.extra", "spatial_batchnorm_backward")
def test_extra(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient (odd sizes, batch of one)"""
    _check(worker, submission, case, record_property, slips=slips)


@check("sbn_backward.hidden", "spatial_batchnorm_backward")
def test_hidden(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property, slips=slips)
