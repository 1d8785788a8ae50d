"""Section 8: spatial batch normalization, forward pass (training and test time)."""
import numpy as np

from grader.feedback import mistakes as bugs
from grader.cases import SBN_FORWARD, check, resolve
from grader.checks.checking import call_forward, case_inputs_text, check_state, check_twin, require_file, short
from grader.feedback.causes import Cause
from grader.feedback.compare import CheckFailed, assert_close, failed, floor_for, rel_error, unpack
from grader.checks.fixtures import load_fixture
from grader.sandbox.client import StudentError

BATCHNORM = "layers.batchnorm_forward"
HELPER = Cause("spatial_batchnorm.helper_wrong",
               "your spatial_batchnorm_forward gives exactly what your batchnorm_forward gives on "
               "x rearranged to (N*H*W, C) (tried on this input), and that is wrong: the mistake "
               "is in batchnorm_forward (see its own check); fix it there (if this function "
               "does not call it, it repeats the same mistake)")


def sbn_mistakes(case, x, gamma, beta, bn_param):
    """Known spatial batchnorm mistakes; bn_param with its running averages as arrays."""
    eps = bn_param.get("eps", 1e-5)
    layouts = bugs.spatial_bn_layouts(x, gamma, beta, bn_param)
    if bn_param["mode"] == "test":
        return bugs.batchnorm_test_variants(x, gamma, beta, bn_param) + layouts
    return bugs.spatial_bn_variants(x, gamma, beta, eps) + layouts + [
        (cause, bugs.scale_shift(bugs.normalize(x, (0, 2, 3), e), np.reshape(gamma, -1),
                                 np.reshape(beta, -1)))
        for cause, e in bugs.wrong_eps(bn_param)]


def channel_stats(out):
    """The notebook's printout: per-channel means and stds of an output."""
    try:
        out = np.asarray(out, dtype=np.float64)
        return (f"\n  your output's per-channel means: {np.array2string(out.mean(axis=(0, 2, 3)), precision=6)}"
                f", stds: {np.array2string(out.std(axis=(0, 2, 3)), precision=6)}")
    except Exception:
        return ""


def _same(a, b, tol):
    """True if two returned values are arrays of one shape within tol (rel_error)."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and np.isfinite(a).all() and rel_error(a, b) <= tol


def is_helper_output(worker, case, fx, out, after):
    """True if the student's spatial_batchnorm_forward gave, on this case, exactly what the
    student's batchnorm_forward gives on x rearranged to (N*H*W, C) (output and running
    averages): the experiment behind "the mistake is in batchnorm_forward"."""
    x = fx.inputs["x"]
    N, C, H, W = x.shape
    bn_param = resolve(case.params["bn_param"], fx.inputs)
    try:
        result, args = worker.call(BATCHNORM, x.transpose(0, 2, 3, 1).reshape(-1, C),
                                   fx.inputs["gamma"].reshape(-1), fx.inputs["beta"].reshape(-1),
                                   bn_param, return_args=True)
        flat = np.asarray(unpack(result, ("out", "cache"), "batchnorm_forward")[0])
        mine = flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    except (StudentError, CheckFailed, TypeError, ValueError):
        return False
    if not _same(mine, out, case.tol):
        return False
    held = after[case.args.index("bn_param")] if (case.state and after is not None) else {}
    return all(_same(args[3].get(k), held.get(k), case.tol) for k in (case.state or ("", ()))[1]
               if isinstance(args[3], dict) and isinstance(held, dict))


def check_sbn(worker, case, slips=None):
    """One spatial batchnorm forward case: output, running averages, and a transformed twin;
    a failure made by the student's batchnorm_forward says so."""
    fx = load_fixture(case)
    text = case_inputs_text(case, fx.inputs)
    out, _, after = call_forward(worker, case, fx.inputs)
    try:
        check_sbn_values(case, fx, text, out, after, slips=slips)
    except CheckFailed as e:
        if not is_helper_output(worker, case, fx, out, after):
            raise
        raise failed([str(e)], [HELPER]) if not e.diagnoses else CheckFailed(
            f"{e}\n  likely cause: {HELPER}", diagnoses=e.diagnoses + [HELPER.key]) from None
    check_twin(worker, case, fx.inputs, fx.expected["out"], text, slips=slips)


def check_sbn_values(case, fx, text, out, after, slips=None):
    """The output and the running averages of one spatial batchnorm forward case."""
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
    bn_param = train_batches(worker, SBN_FORWARD, fx, case.params["bn_param"])
    try:
        check_after_training(worker, case, fx, text, bn_param, slips=slips)
    except CheckFailed as e:
        if bn_param is None or not helper_replays(worker, case, fx, bn_param):
            raise
        raise failed([str(e)], [HELPER]) if not e.diagnoses else CheckFailed(
            f"{e}\n  likely cause: {HELPER}", diagnoses=e.diagnoses + [HELPER.key]) from None


def train_batches(worker, target, fx, bn_param, flat=False):
    """bn_param after the case's training batches through `target` (the spatial layer, or
    batchnorm_forward on each batch rearranged to (N*H*W, C) when flat)."""
    gamma, beta = fx.inputs["gamma"], fx.inputs["beta"]
    bn_param = dict(bn_param)
    for x in fx.inputs["x_train"]:
        if flat:
            x = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
        result, after = worker.call(target, x, gamma, beta, bn_param, return_args=True)
        unpack(result, ("out", "cache"), short(target))
        bn_param = after[3]
        if not isinstance(bn_param, dict):
            raise CheckFailed(f"{short(target)}: bn_param is not a dict after the call.")
    return bn_param


def helper_replays(worker, case, fx, held):
    """True if the student's batchnorm_forward, given the same training batches rearranged to
    (N*H*W, C), ends with the running averages the student's spatial layer kept (`held`), and
    then gives in test mode what the spatial layer gives."""
    x = fx.inputs["x"]
    N, C, H, W = x.shape
    try:
        mine = train_batches(worker, BATCHNORM, fx, case.params["bn_param"], flat=True)
        if not all(_same(mine.get(k), held.get(k), case.tol)
                   for k in ("running_mean", "running_var")):
            return False
        tested = [unpack(worker.call(target, data, fx.inputs["gamma"], fx.inputs["beta"],
                                     dict(state, mode="test")), ("out", "cache"), target)[0]
                  for target, data, state in ((SBN_FORWARD, x, held), (BATCHNORM, x.transpose(
                      0, 2, 3, 1).reshape(-1, C), mine))]
        ours = np.asarray(tested[1]).reshape(N, H, W, C).transpose(0, 3, 1, 2)
    except (StudentError, CheckFailed, TypeError, ValueError):
        return False
    return _same(tested[0], ours, case.tol)


def check_after_training(worker, case, fx, text, bn_param, slips=None):
    """The running averages after the training batches, then the test-mode output."""
    gamma, beta = fx.inputs["gamma"], fx.inputs["beta"]
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
