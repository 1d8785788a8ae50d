"""Prerequisites: affine, ReLU, softmax loss and batchnorm layers from earlier assignments."""

from grader.feedback import mistakes as bugs
from grader.cases import check
from grader.checks.checking import check_backward, check_forward, check_loss_case, require_file
from grader.feedback.causes import Cause


def batchnorm_mistakes(case, fx):
    """Batchnorm (N, D) with the statistics, eps or gamma/beta handled wrongly."""
    x, gamma, beta = fx.inputs["x"], fx.inputs["gamma"], fx.inputs["beta"]
    bn = resolved_bn_param(case, fx)
    eps = bn.get("eps", 1e-5)
    if bn["mode"] == "test":
        return bugs.batchnorm_test_variants(x, gamma, beta, bn)
    return [
        (Cause("batchnorm.stats_axis1", "statistics over the features of each example (axis "
               "1): batchnorm uses axis 0"),
         bugs.scale_shift(bugs.normalize(x, (1,), eps), gamma, beta)),
        (Cause("batchnorm.unbiased_var", "the variance is the unbiased one (ddof=1): batchnorm "
               "uses the biased variance"),
         bugs.scale_shift(bugs.normalize(x, (0,), eps, ddof=1), gamma, beta)),
        (Cause("batchnorm.eps_outside", "eps is added to the standard deviation instead of the "
               "variance"), bugs.scale_shift(bugs.normalize(x, (0,), eps, eps_outside=True),
                                            gamma, beta)),
        (Cause("batchnorm.gamma_beta_swapped", "gamma and beta are swapped"),
         bugs.scale_shift(bugs.normalize(x, (0,), eps), beta, gamma)),
        (Cause("batchnorm.no_scale_shift", "gamma and beta are not applied: the output is "
               "gamma * x_hat + beta"), bugs.normalize(x, (0,), eps)),
    ] + [(cause, bugs.scale_shift(bugs.normalize(x, (0,), e), gamma, beta))
         for cause, e in bugs.wrong_eps(bn)]


def resolved_bn_param(case, fx):
    """The case's bn_param with its '@input' references resolved (running averages)."""
    from grader.cases import resolve
    return resolve(case.params["bn_param"], fx.inputs)


def affine_mistakes(case, fx):
    """Known wrong affine outputs (bias missing), to name a likely cause."""
    return [(Cause("affine_forward.no_bias", "the bias b is not added"),
             fx.expected["out"] - fx.inputs["b"])]


def relu_grad_mistakes(case, fx, g):
    """Known wrong ReLU gradients (passes at 0, mask only), to name a likely cause."""
    x = fx.inputs["x"]
    return [(Cause("relu_backward.passes_at_zero",
                   "the gradient passes where x == 0 (x >= 0): ReLU's gradient there is 0 "
                   "(use x > 0)"), fx.dout * (x >= 0)),
            (Cause("relu_backward.mask_only",
                   "dx is the mask x > 0 itself; multiply it by the upstream gradient dout"),
             (x > 0).astype(float))]


def batchnorm_grad_mistakes(case, fx, g):
    """Known wrong batchnorm dx (statistics treated as constants), to name a likely cause."""
    if g != "x":
        return []
    return [(Cause("batchnorm_backward.constant_stats",
                   "dx treats the batch mean and variance as constants; they depend on every x"),
             bugs.batchnorm_dx_constant_stats(fx.inputs["x"], fx.inputs["gamma"], fx.dout, (0,),
                                              case.params["bn_param"].get("eps", 1e-5)))]


def softmax_mistakes(case, fx):
    """Known wrong softmax losses (summed, unshifted), to name a likely cause."""
    n = len(fx.inputs["y"])
    return [(Cause("softmax_loss.summed",
                   f"the loss is summed over the {n} examples instead of averaged"),
             n * fx.expected["loss"])] + bugs.softmax_unshifted(fx.inputs["x"], fx.inputs["y"]) \
        + bugs.softmax_log_epsilon(fx.inputs["x"], fx.inputs["y"]) \
        + bugs.softmax_as_hinge(fx.inputs["x"], fx.inputs["y"])


@check("prereq.affine_forward", "affine_forward")
def test_affine_forward(case, worker, submission, slips):
    """output matches the reference"""
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=affine_mistakes, slips=slips)


@check("prereq.affine_backward", "affine_backward")
def test_affine_backward(case, worker, submission, record_property, slips):
    """dx, dw, db match the reference and the numeric gradient"""
    require_file(submission, "layers.py")
    note = check_backward(worker, case, slips=slips)
    if note:
        record_property("output", note)


@check("prereq.relu_forward", "relu_forward")
def test_relu_forward(case, worker, submission, slips):
    """output matches the reference"""
    require_file(submission, "layers.py")
    check_forward(worker, case, slips=slips)


@check("prereq.relu_backward", "relu_backward")
def test_relu_backward(case, worker, submission, record_property, slips):
    """dx matches the reference and the numeric gradient"""
    require_file(submission, "layers.py")
    note = check_backward(worker, case, diagnoses=relu_grad_mistakes, slips=slips)
    if note:
        record_property("output", note)


@check("prereq.softmax_loss", "softmax_loss")
def test_softmax_loss(case, worker, submission, slips):
    """loss and dx match the reference; dx matches the numeric gradient"""
    require_file(submission, "layers.py")
    check_loss_case(worker, case, diagnoses=softmax_mistakes, slips=slips)


@check("prereq.batchnorm_train", "batchnorm_forward")
def test_batchnorm_train(case, worker, submission, slips):
    """training mode: output and running averages match the reference"""
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=batchnorm_mistakes, slips=slips)


@check("prereq.batchnorm_test", "batchnorm_forward")
def test_batchnorm_test(case, worker, submission, slips):
    """test mode: output (from the running averages) matches the reference"""
    require_file(submission, "layers.py")
    check_forward(worker, case, diagnoses=batchnorm_mistakes, slips=slips)


@check("prereq.batchnorm_backward", "batchnorm_backward")
def test_batchnorm_backward(case, worker, submission, record_property, slips):
    """dx, dgamma, dbeta match the reference and the numeric gradient"""
    require_file(submission, "layers.py")
    note = check_backward(worker, case, diagnoses=batchnorm_grad_mistakes, slips=slips)
    if note:
        record_property("output", note)

