"""Section 8: spatial batch normalization, forward pass (training and test time)."""
import numpy as np

from grader.feedback import mistakes as bugs
from grader.cases import SBN_FORWARD, check, resolve
from grader.checks.checking import call_forward, case_inputs_text, check_state, check_twin, require_file, short
from grader.feedback.compare import CheckFailed, assert_close, floor_for, unpack
from grader.checks.fixtures import load_fixture


def sbn_mistakes(case, x, gamma, beta, bn_param):
    """Known spatial batchnorm mistakes; bn_param with its running averages as arrays."""
    eps = bn_param.get("eps", 1e-5)
    layouts = bugs.spatial_bn_layouts(x, gamma, beta, bn_param)
    if bn_param["mode"] == "test":
        return bugs.batchnorm_test_variants(x, gamma, beta, bn_param) + layouts
    return bugs.spatial_bn_variants(x, gamma, beta, eps) + layouts


def channel_stats(out):
    """The notebook's printout: per-channel means and stds of an output."""
    try:
        out = np.asarray(out, dtype=np.float64)
        return (f"\n  your output's per-channel means: {np.array2string(out.mean(axis=(0, 2, 3)), precision=6)}"
                f", stds: {np.array2string(out.std(axis=(0, 2, 3)), precision=6)}")
    except Exception:
        return ""


def check_sbn(worker, case, slips=None):
    """One spatial batchnorm forward case: output, running averages, and a transformed twin."""
    fx = load_fixture(case)
    text = case_inputs_text(case, fx.inputs)
    out, _, after = call_forward(worker, case, fx.inputs)
    expected = fx.expected["out"]
    bn_param = resolve(case.params["bn_param"], fx.inputs)
    try:
        assert_close(out, expected, what=f"{short(case.function)} output", inputs=text,
                     tol=case.tol, floor=floor_for(expected, case.floor_rel),
                     diagnoses=sbn_mistakes(case, fx.inputs["x"], fx.inputs["gamma"],
                                            fx.inputs["beta"], bn_param), slips=slips)
    except CheckFailed as e:
        if bn_param["mode"] == "train":
            raise CheckFailed(str(e) + channel_stats(out) + " (expected: beta and about gamma)",
                              diagnoses=e.diagnoses) from None
        raise
    if case.state:
        check_state(case, after, fx, text, slips=slips)
    check_twin(worker, case, fx.inputs, expected, text, slips=slips)


@check("sbn_forward.notebook_train", "spatial_batchnorm_forward")
def test_notebook_train(case, worker, submission, slips):
    """the notebook's training-time cell: output and running averages match the reference"""
    require_file(submission, "layers.py")
    check_sbn(worker, case, slips=slips)


@check("sbn_forward.notebook_test", "spatial_batchnorm_forward")
def test_notebook_test(case, worker, submission, slips):
    """the notebook's test-time cell: 50 training batches, then test mode uses the running averages"""
    require_file(submission, "layers.py")
    fx = load_fixture(case)
    gamma, beta = fx.inputs["gamma"], fx.inputs["beta"]
    text = case_inputs_text(case, {"x": fx.inputs["x"], "gamma": gamma, "beta": beta})
    bn_param = dict(case.params["bn_param"])
    for x in fx.inputs["x_train"]:
        result, after = worker.call(SBN_FORWARD, x, gamma, beta, bn_param, return_args=True)
        unpack(result, ("out", "cache"), "spatial_batchnorm_forward")
        bn_param = after[3]
        if not isinstance(bn_param, dict):
            raise CheckFailed("spatial_batchnorm_forward: bn_param is not a dict after the call.")
    for key in ("running_mean", "running_var"):
        if key not in bn_param:
            raise CheckFailed(f"spatial_batchnorm_forward did not store '{key}' in bn_param in "
                              f"training mode (the running averages must be kept there).")
        assert_close(bn_param[key], fx.expected[f"state.{key}"],
                     what=f"bn_param['{key}'] after the 50 training batches", inputs=text,
                     tol=case.tol,
                     diagnoses=bugs.running_average_layouts(
                         fx.inputs["x_train"], case.params["bn_param"].get("momentum", 0.9),
                         key), slips=slips)
    bn_param["mode"] = "test"
    out, _ = unpack(worker.call(SBN_FORWARD, fx.inputs["x"], gamma, beta, bn_param),
                    ("out", "cache"), "spatial_batchnorm_forward")
    assert_close(out, fx.expected["out"], what="spatial_batchnorm_forward output in test mode",
                 inputs=text, tol=case.tol,
                 diagnoses=sbn_mistakes(case, fx.inputs["x"], gamma, beta, bn_param), slips=slips)


@check("sbn_forward.extra", "spatial_batchnorm_forward")
def test_extra(case, worker, submission, slips):
    """output (and running averages) match the reference (momentum, eps, test mode, float32)"""
    require_file(submission, "layers.py")
    check_sbn(worker, case, slips=slips)


@check("sbn_forward.hidden", "spatial_batchnorm_forward")
def test_hidden(case, worker, submission, slips):
    """output (and running averages) match the reference (hidden cases)"""
    require_file(submission, "layers.py")
    check_sbn(worker, case, slips=slips)
