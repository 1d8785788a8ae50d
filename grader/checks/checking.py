"""The two checks most items run: a forward pass against its fixture, and a backward pass
against its fixture and against centered differences of the student's own forward.

Student code runs only in the worker; StudentError (not implemented, exception, timeout, ...)
propagates to the plugin, which shows its message as it is.
"""
from contextlib import contextmanager

import numpy as np
import pytest

from grader import config
from grader.feedback import policy
from grader.sandbox.client import StudentError
from grader.cases import resolve as cases_resolve
from grader.feedback.compare import (
    CheckFailed, as_array, assert_close, assert_scalar_close, describe, floor_for, fmt, rel_error,
    unpack)
from grader.feedback.causes import Cause, exception_causes
from grader.checks.fixtures import load_fixture
from grader.checks.numgrad import numeric_gradient, numeric_gradient_local, sample_indices


def require_file(submission, name):
    """Fail the calling check with the loader's message if the student's `name` (e.g. "layers.py")
    is missing or broken, so the check does not report a confusing worker error instead."""
    message = submission.problems.get(name)
    if message:
        pytest.fail(message, pytrace=False)


def short(target):
    """'layers.conv_forward_naive' -> 'conv_forward_naive'."""
    return target.rsplit(".", 1)[-1]


def case_inputs_text(case, inputs):
    """The input of a case for messages: shapes/dtypes of the arrays, the params, the case."""
    arrays = {k: inputs[k] for k in case.args if k in inputs}
    params = {k: case.params[k] for k in case.args if k in case.params}
    text = describe(arrays, params)
    if case.about:
        text += f"  [case {case.id}: {case.about}]"
    else:
        text += f"  [case {case.id}]"
    return text


def call_forward(worker, case, inputs):
    """Run the case's forward in the worker: (out, cache, args after the call or None)."""
    args = case.call_args(inputs)
    result = worker.call(case.function, *args, return_args=bool(case.state))
    after = None
    if case.state:
        result, after = result
    out, cache = unpack(result, ("out", "cache"), short(case.function))
    return out, cache, after


def check_state(case, after, fx, inputs_text, slips=None):
    """Compare the dict argument named by case.state after the call with the fixture."""
    name, keys = case.state
    held = after[case.args.index(name)] if after is not None else None
    fname = short(case.function)
    if not isinstance(held, dict):
        raise CheckFailed(f"{fname}: {name} is not a dict after the call.")
    for key in keys:
        if key not in held:
            raise CheckFailed(f"{fname} did not store '{key}' in {name} in training mode "
                              f"(the running averages must be kept in the {name} dict).\n"
                              f"  input: {inputs_text}")
        assert_close(held[key], fx.expected[f"state.{key}"], what=f"{fname}: {name}['{key}'] "
                     f"after the call", inputs=inputs_text, tol=case.tol,
                     floor=floor_for(fx.expected[f"state.{key}"], case.floor_rel),
                     diagnoses=state_diagnoses(case, fx, key), slips=slips)


def state_diagnoses(case, fx, key):
    """Known mistakes in the running-average update."""
    bn = case.params.get("bn_param", {})
    m = bn.get("momentum", 0.9)
    old = fx.inputs.get(key, np.zeros_like(fx.expected[f"state.{key}"]))
    new = (fx.expected[f"state.{key}"] - m * old) / (1 - m)   # the batch statistic
    eps = bn.get("eps", 1e-5)
    with_eps = [(Cause("batchnorm.running_var_eps", "the running variance is updated with "
                       "var + eps: eps belongs only in the normalization, keep the plain batch "
                       "variance in running_var"), m * old + (1 - m) * (new + eps))]
    if key == "running_var":
        with_eps += [(Cause("batchnorm.running_var_std", "the running variance is updated with "
                            "the standard deviation: keep the batch variance (no square root) in "
                            "running_var"), m * old + (1 - m) * np.sqrt(np.maximum(new, 0)))]
        if key not in fx.inputs:
            with_eps += [(Cause("batchnorm.running_var_ones", "running_var starts at ones when "
                                "bn_param has none: it starts at zeros, like running_mean"),
                          m * np.ones_like(old) + (1 - m) * new)]
    return (with_eps if key == "running_var" else []) + [
        (Cause("batchnorm.running_momentum_reversed", "momentum applied the other way round: "
               "running = (1 - momentum) * running + momentum * batch"), (1 - m) * old + m * new),
        (Cause("batchnorm.running_not_updated",
               "the running average is not updated (or replaced by the batch statistic)"), old),
        (Cause("batchnorm.running_replaced",
               "the running average is replaced by the batch statistic"), new),
    ]


def check_forward(worker, case, diagnoses=(), shape_hints=(), slips=None):
    """The forward output (and state) of `case` against its fixture; returns (out, fixture)."""
    fx = load_fixture(case)
    text = case_inputs_text(case, fx.inputs)
    out, _, after = call_forward(worker, case, fx.inputs)
    expected = fx.expected["out"]
    if callable(diagnoses):
        diagnoses = diagnoses(case, fx)
    assert_close(out, expected, what=f"{short(case.function)} output", inputs=text,
                 tol=case.tol, floor=floor_for(expected, case.floor_rel), diagnoses=diagnoses,
                 shape_hints=shape_hints, slips=slips)
    if case.state:
        check_state(case, after, fx, text, slips=slips)
    check_twin(worker, case, fx.inputs, expected, text, slips=slips)
    return out, fx


# A second call per forward case, on transformed inputs whose exact output follows from the
# reference output by an identity every correct layer satisfies (scaling by 2 and shifting are
# exact in floating point). It gives no points of its own: an implementation that matches the
# fixture must also pass it, so only answers looked up from the public fixtures fail.
SCALE_EQUIVARIANT = {"affine_forward": ("x", "b"), "relu_forward": ("x",),
                     "conv_forward_naive": ("x", "b"), "max_pool_forward_naive": ("x",)}
NORMALIZATIONS = {"batchnorm_forward": "bn_param", "spatial_batchnorm_forward": "bn_param",
                  "spatial_groupnorm_forward": "gn_param"}


def twin(case, inputs):
    """(inputs', params', how expected' follows from expected, description) or None."""
    fname = short(case.function)
    if fname in SCALE_EQUIVARIANT:
        scaled = dict(inputs)
        for name in SCALE_EQUIVARIANT[fname]:
            scaled[name] = inputs[name] * 2
        names = " and ".join(SCALE_EQUIVARIANT[fname])
        return scaled, case.params, (lambda e: 2 * e), (
            f"{names} doubled must give twice the output")
    if fname in NORMALIZATIONS:
        key = NORMALIZATIONS[fname]
        params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in case.params.items()}
        p = params[key]
        p["eps"] = 4 * p.get("eps", 1e-5)
        shifted = dict(inputs)
        shifted["x"] = 2 * inputs["x"] + 3
        if p.get("mode") == "test":
            shifted["running_mean"] = 2 * inputs["running_mean"] + 3
            shifted["running_var"] = 4 * inputs["running_var"]
        elif "running_mean" in p:   # train mode: the running averages are not compared here
            p.pop("running_mean")
            p.pop("running_var")
        return shifted, params, (lambda e: e), (
            "x -> 2 x + 3 (with the running averages to match) and eps -> 4 eps must give the "
            "same output")
    return None


def check_twin(worker, case, inputs, expected, text, slips=None):
    """Check the forward on a transformed twin of the inputs, which a fixture lookup fails."""
    made = twin(case, inputs)
    if made is None:
        return
    new_inputs, params, transform, rule = made
    args = [new_inputs[a] if a in new_inputs else cases_resolve(params[a], new_inputs)
            for a in case.args]
    out, _ = unpack(worker.call(case.function, *args), ("out", "cache"), short(case.function))
    want = transform(expected)
    assert_close(out, want, what=f"{short(case.function)} output on transformed inputs ({rule})",
                 inputs=text, tol=case.tol, floor=floor_for(want, case.floor_rel),
                 reference="the reference output transformed the same way", slips=slips)


def forward_matches(out, expected, case):
    """True if the forward matches its fixture; if not, a backward failure points there first."""
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if policy.squeezed_equal(out.shape, expected.shape):
        out = out.reshape(expected.shape)   # a shape slip, charged in the forward's own check
    return (out.shape == expected.shape and np.isfinite(out).all()
            and rel_error(out, expected, floor_for(expected, case.floor_rel)) <= case.tol)


def forward_for_backward(worker, case, inputs):
    """(out, cache, note) for a backward item: the student's own forward when it runs and
    returns (out, cache); otherwise the standard cache of grader.feedback.policy (out None) with a note
    saying why ("" when the student's cache is used)."""
    return cache_for_backward(worker, case.function, case.backward, case.call_args(inputs),
                              return_args=bool(case.state))


def cache_for_backward(worker, forward, backward, args, timeout=None, return_args=False):
    """The (out, cache, note) of forward_for_backward for a forward target and its arguments."""
    fname, bname = short(forward), short(backward)
    try:
        result = worker.call(forward, *args, timeout=timeout, return_args=return_args)
        if return_args:
            result = result[0]
        out, cache = unpack(result, ("out", "cache"), fname)
        if cache is not None:
            return out, cache, ""
        why, detail = "returned None as its cache", ""
    except (StudentError, CheckFailed) as e:
        if fname not in policy.STANDARD_CACHES:
            raise
        why = "raised" if isinstance(e, StudentError) and e.kind in ("exception",
                                                                      "not_implemented") else "failed"
        detail = report_line(e)
    if fname not in policy.STANDARD_CACHES:
        raise CheckFailed(f"your {fname} {why}; {bname} works from that cache, so it cannot be "
                          f"graded until {fname} works: fix {fname} first.",
                          diagnoses=["dependency.fix_first"])
    described, build = policy.STANDARD_CACHES[fname]
    note = f"your {fname} {why}; {bname} graded on the standard cache {described}"
    return None, build(*args), note + (f" [{fname}: {detail}]" if detail else "")


def standard_cache_failed(e, standard, fname, bname):
    """The StudentError of a backward run on the standard cache, saying what that means (a
    backward that is not implemented yet just says so, with the note on a second line)."""
    if e.kind == "not_implemented":
        e.message = f"{e.message}\n  ({standard})"
    else:
        e.message = (f"{standard}, and it failed there: {e.message}\n  If {bname} expects a "
                     f"cache of your own, it cannot be graded until {fname} works.")
        if not e.causes and not exception_causes(e.error_type, e.error_message):
            e.causes.append(standard_cache_cause(e, fname, bname))
    return e


def failing_line(e):
    """The source line of the student's frame an exception was raised in ('' if unknown)."""
    lines = (getattr(e, "detail", "") or "").splitlines()
    frames = [i for i, line in enumerate(lines) if line.strip().startswith("File ")]
    return lines[frames[-1] + 1].strip() if frames and frames[-1] + 1 < len(lines) else ""


def standard_cache_cause(e, fname, bname):
    """The likely cause of a backward that raised on the standard cache: the cache itself when
    the failing line reads it, otherwise a bug in the backward's own code."""
    if "cache" in failing_line(e) or not failing_line(e):
        return Cause("dependency.fix_first", f"your {fname} fails on this input, so {bname} "
                     f"could not use its cache (it raised reading the standard one): fix {fname} "
                     f"first, then see whether {bname} works from it")
    return Cause("backward.own_bug", f"{bname} raised in its own code ({failing_line(e)}) on the "
                 f"standard cache of this input, which holds what the docstring names: that line "
                 f"has a bug of its own, besides {fname}'s")


def report_line(e):
    """The first non-empty line of an error's message, for a one-line summary."""
    text = getattr(e, "message", "") or str(e)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)


def _call_backward(worker, case, fx, fname, bname):
    """(forward output, {grad name: array}, standard-cache note) of the student's backward on
    its own forward's cache, or on the standard cache when that forward does not work."""
    out, cache, standard = forward_for_backward(worker, case, fx.inputs)
    try:
        result = worker.call(case.backward, fx.dout, cache)
    except StudentError as e:
        if not standard:
            raise
        raise standard_cache_failed(e, standard, fname, bname)
    names = tuple("d" + g for g in case.grads)
    try:
        grads = unpack(result, names, bname) if len(names) > 1 else (result,)
    except CheckFailed as e:
        if standard:
            raise CheckFailed(f"{standard}, and it failed there: {e}",
                              diagnoses=e.diagnoses) from None
        raise
    return out, dict(zip(case.grads, grads)), standard


def check_backward(worker, case, diagnoses=None, shape_hints=None, slips=None):
    """Gradients of `case` against the fixture (with the alternatives grader.feedback.policy accepts at
    kinks and ties), then against centered differences of the student's own forward (float64
    cases; skipped with a note when that forward is wrong for this input, since then it says
    nothing about the backward). When the forward does not work, the backward is graded on the
    standard cache, numerically against the trusted reference forward.

    diagnoses: optional callable (case, fixture, grad name) -> [(cause, candidate)].
    shape_hints: optional callable (case, fixture, grad name) -> [(cause, wrong shape)].
    Returns the note for the check's output ("" when everything was checked).
    """
    fx = load_fixture(case)
    text = case_inputs_text(case, fx.inputs)
    fname, bname = short(case.function), short(case.backward)
    out, grads, standard = _call_backward(worker, case, fx, fname, bname)
    forward_ok = standard or forward_matches(out, fx.expected["out"], case)
    prefix = f"{standard}.\n" if standard else ""
    try:
        for g in case.grads:
            reference = fx.expected[f"d{g}"]
            expected = policy.accepted_gradient(fname, g, fx.inputs, case.params, fx.dout,
                                                grads[g], reference, case.tol)
            assert_close(grads[g], expected, what=f"{bname}: d{g}", inputs=text + f", dout "
                         f"{tuple(fx.dout.shape)}", tol=case.tol,
                         floor=floor_for(reference, case.floor_rel),
                         diagnoses=diagnoses(case, fx, g) if diagnoses else (),
                         shape_hints=shape_hints(case, fx, g) if shape_hints else (), slips=slips)
    except CheckFailed as e:
        if standard:
            raise CheckFailed(f"{prefix}{e}", diagnoses=e.diagnoses) from None
        if forward_ok:
            raise
        raise backward_verdict(worker, case, fx, grads, text, e, diagnoses) from None
    note = f"{standard[:1].upper()}{standard[1:]}: the gradients matched." if standard else ""
    if not case.numeric:
        return note
    if not forward_ok:
        return (f"Your {fname} output differs from the reference on this input, so the "
                f"numeric-gradient check of {bname} was skipped; the gradients matched the "
                f"reference.")
    try:
        check_numeric(worker, case, fx, grads, text,
                      reference=policy.reference_forward(fname) if standard else None, slips=slips)
    except CheckFailed as e:
        raise CheckFailed(f"{prefix}{e}", diagnoses=e.diagnoses) from None
    return note


def _without_generic(e):
    """(message, keys) of a CheckFailed with its generic likely causes left out: they describe
    the gradient of a wrong forward, not a mistake of the backward."""
    keys = [k for k in e.diagnoses if not k.startswith("generic.")]
    lines = str(e).splitlines()
    if len(keys) < len(e.diagnoses) and not keys:
        lines = [line for line in lines if not line.startswith("  likely cause: ")]
    return "\n".join(lines), keys


CONSISTENT_TOL = 1e-4   # |analytic - numeric| of a backward against its own forward, as a share of
                        # the reference gradient's scale (a degenerate wrong forward, normalizing
                        # two values, has gradients near 0 that centered differences resolve badly)


def own_forward_consistent(worker, case, fx, grads):
    """True if the student's gradients match centered differences of the student's own forward
    (on the scale of the reference gradients), False if not, None if that cannot be told (no
    numeric check for the case, or the forward raised)."""
    if not case.numeric:
        return None
    args = case.call_args(fx.inputs)
    try:
        for k, g in enumerate(case.grads):
            vary = case.args.index(g)
            analytic = np.asarray(grads[g], dtype=np.float64)
            if analytic.size != np.size(args[vary]):
                return False
            analytic = analytic.reshape(np.shape(args[vary])).reshape(-1)
            idx = sample_indices(np.shape(args[vary]), config.NUMERIC_MAX_ENTRIES,
                                 case.rng_seed + k)
            num = numeric_gradient(worker, case.function, args, vary, fx.dout,
                                   h=config.NUMERIC_H, indices=idx)
            scale = max(float(np.max(np.abs(fx.expected[f"d{g}"]), initial=0.0)),
                        float(np.max(np.abs(num), initial=0.0)), 1e-12)
            if not np.max(np.abs(analytic[idx] - num), initial=0.0) <= CONSISTENT_TOL * scale:
                return False
    except (StudentError, TypeError, ValueError):
        return None
    return True


def on_standard_cache(worker, case, fx, text, diagnoses=None):
    """The backward run on the standard cache of the case's input and compared with the
    reference: None if it passes there, the CheckFailed if it fails, "raised" if it raises,
    "none" if the forward has no standard cache."""
    fname = short(case.function)
    if fname not in policy.STANDARD_CACHES:
        return "none"
    cache = policy.STANDARD_CACHES[fname][1](*case.call_args(fx.inputs))
    try:
        result = worker.call(case.backward, fx.dout, cache)
        names = tuple("d" + g for g in case.grads)
        got = unpack(result, names, short(case.backward)) if len(names) > 1 else (result,)
        for g, value in zip(case.grads, got):
            reference = fx.expected[f"d{g}"]
            expected = policy.accepted_gradient(fname, g, fx.inputs, case.params, fx.dout, value,
                                                reference, case.tol)
            assert_close(value, expected, what=f"{short(case.backward)}: d{g}", inputs=text,
                         tol=case.tol, floor=floor_for(reference, case.floor_rel),
                         diagnoses=diagnoses(case, fx, g) if diagnoses else (),
                         slips=policy.Ledger())   # an experiment: a slip here is charged nowhere
    except CheckFailed as e:
        return e
    except StudentError:
        return "raised"
    return None


def backward_verdict(worker, case, fx, grads, text, e, diagnoses=None):
    """The CheckFailed of a backward that failed on an input where its forward is wrong too,
    decided by experiment. With a standard cache: the backward run on it either works (fix the
    forward first) or fails (a bug of its own, diagnosed there). Without: a wrongly shaped
    gradient is the backward's own; a backward that is the gradient of its own forward follows
    the forward; otherwise the forward comes first and the backward may have a bug too."""
    fname, bname = short(case.function), short(case.backward)
    message, keys = _without_generic(e)
    standard = on_standard_cache(worker, case, fx, text, diagnoses)
    if standard is None:
        return CheckFailed(f"{message}\n  note: on the standard cache "
                           f"{policy.STANDARD_CACHES[fname][0]} of this input your {bname} gives "
                           f"the right gradients: your {fname} (its output or its cache) is what "
                           f"is wrong: fix {fname} first.",
                           diagnoses=keys + ["backward.forward_wrong"])
    if isinstance(standard, CheckFailed):
        there = report_line(standard)
        extra = [line for line in str(standard).splitlines()
                 if line.startswith("  likely cause: ") and line not in str(e)]
        return CheckFailed("\n".join([f"{e}", f"  note: your {bname} fails on the standard cache "
                           f"{policy.STANDARD_CACHES[fname][0]} of this input too, so it has a bug "
                           f"of its own (your {fname} is wrong here as well: fix both)"
                           + ("." if there in str(e) else f". There: {there}")] + extra),
                           diagnoses=list(dict.fromkeys(e.diagnoses + standard.diagnoses
                                                        + ["backward.own_bug"])))
    if any(np.shape(grads[g]) != np.shape(fx.expected[f"d{g}"])
           and not policy.squeezed_equal(np.shape(grads[g]), np.shape(fx.expected[f"d{g}"]))
           for g in case.grads):
        return CheckFailed(f"{e}\n  note: a gradient of the wrong shape is {bname}'s own bug "
                           f"(your {fname} is wrong for this input as well: fix both).",
                           diagnoses=e.diagnoses + ["backward.own_bug"])
    if own_forward_consistent(worker, case, fx, grads):
        return CheckFailed(f"{message}\n  note: your {bname} is the gradient of your own {fname} "
                           f"here (it matches its centered differences), and your {fname} output "
                           f"is wrong for this input: fix {fname} first, then check {bname} again "
                           f"(a mistake the two share, such as the same loop bounds, is in both).",
                           diagnoses=keys + ["backward.forward_wrong"])
    return CheckFailed(f"{e}\n  note: your {fname} output is wrong for this input too, and "
                       f"{bname} works from its cache: fix {fname} first, then look at {bname} "
                       f"again (it is not the gradient of your {fname} as it is, so it may have a "
                       f"bug of its own).", diagnoses=e.diagnoses + ["backward.forward_wrong"])


def check_numeric(worker, case, fx, grads, text, reference=None, slips=None):
    """Each analytic gradient vs centered differences of the student's forward (one batched
    worker request per input), or of the trusted `reference` forward (run here) if given."""
    args = case.call_args(fx.inputs)
    fname, bname = short(case.function), short(case.backward)
    whose = f"the reference {fname}" if reference else f"your own {fname}"
    for k, g in enumerate(case.grads):
        vary = case.args.index(g)
        analytic = as_array(grads[g], f"{bname}: d{g}").astype(np.float64)
        if analytic.size != np.size(args[vary]):
            analytic = as_array(grads[g], f"{bname}: d{g}", shape=np.shape(args[vary]))
        analytic = analytic.reshape(np.shape(args[vary]))   # a shape slip was charged above
        idx = sample_indices(analytic.shape, config.NUMERIC_MAX_ENTRIES, case.rng_seed + k)
        if reference is None:
            num = numeric_gradient(worker, case.function, args, vary, fx.dout,
                                   h=config.NUMERIC_H, indices=idx)
        else:
            num = numeric_gradient_local(
                lambda v: reference(*[v if i == vary else a for i, a in enumerate(args)]),
                args[vary], fx.dout, h=config.NUMERIC_H, indices=idx)
        compare_numeric(analytic, idx, num, what=f"{bname}: d{g} vs the numeric gradient of "
                        f"{whose}", inputs=text, tol=config.TOL_NUMERIC, slips=slips)


def compare_numeric(analytic, idx, num, *, what, inputs, tol, slips=None):
    """assert_close of analytic gradient entries `idx` against their numeric values, reporting
    indices in the gradient's own shape. The floor of rel_error is config.NUMERIC_FLOOR_REL of
    the largest numeric entry: centered differences cannot resolve much smaller entries."""
    floor = max(1e-8, config.NUMERIC_FLOOR_REL * float(np.max(np.abs(num), initial=0.0)))
    expected = analytic.copy()
    expected.reshape(-1)[idx] = num
    sampled = "" if len(idx) == analytic.size else (
        f" ({len(idx)} of its {analytic.size} entries, a seeded sample)")
    assert_close(analytic, expected, what=what + sampled, inputs=inputs, tol=tol, floor=floor,
                 reference=f"centered differences (h={fmt(config.NUMERIC_H)})", slips=slips)


def check_loss_case(worker, case, diagnoses=(), slips=None):
    """A (loss, dx) function (softmax_loss): both against the fixture, dx numerically too."""
    fx = load_fixture(case)
    text = case_inputs_text(case, fx.inputs)
    fname = short(case.function)
    args = case.call_args(fx.inputs)
    loss, dx = unpack(worker.call(case.function, *args), ("loss", "dx"), fname)
    if callable(diagnoses):
        diagnoses = diagnoses(case, fx)
    assert_scalar_close(loss, fx.expected["loss"], what=f"{fname}: loss", inputs=text,
                        tol=case.tol, diagnoses=diagnoses)
    assert_close(dx, fx.expected["dx"], what=f"{fname}: dx", inputs=text, tol=case.tol, slips=slips)
    if not case.numeric:
        return
    analytic = as_array(dx, f"{fname}: dx").astype(np.float64)
    idx = sample_indices(analytic.shape, config.NUMERIC_MAX_ENTRIES, case.rng_seed)
    num = numeric_gradient(worker, case.function, args, 0, None, h=config.NUMERIC_H,
                           indices=idx, pick=0)
    compare_numeric(analytic, idx, num, what=f"{fname}: dx vs the numeric gradient of your "
                    f"own loss", inputs=text, tol=config.TOL_NUMERIC, slips=slips)


def run_backward_check(worker, submission, case, record_property, slips=None, **kwargs):
    """A backward check item: the student's layers.py must have loaded, then check_backward;
    its note (e.g. why the numeric part was skipped) goes to the check's output."""
    require_file(submission, "layers.py")
    note = check_backward(worker, case, **kwargs, slips=slips)
    if note:
        record_property("output", note)


def failing_dependencies(worker, case_ids):
    """[(function, one-line reason)] of the graded functions whose first case (`case_ids`, one
    per function) fails: what a check that runs them should name when it fails itself."""
    from grader.cases import BY_ID
    slips = policy.Ledger()   # a dependency's shape slip is charged in its own check, not here
    failing = []
    for case_id in case_ids:
        case = BY_ID[case_id]
        name = short(case.backward or case.function)
        try:
            if case.kind == "loss":
                check_loss_case(worker, case, slips=slips)
            elif case.backward:
                check_backward(worker, case, slips=slips)
            else:
                check_forward(worker, case, slips=slips)
        except (CheckFailed, StudentError) as e:
            failing.append((name, report_line(e)))
    return failing


@contextmanager
def depends_on(worker, case_ids, user):
    """Around a check of `user` that runs other graded functions: when it fails, its message
    names those that fail their own first case (they are charged in their own checks)."""
    try:
        yield
    except (CheckFailed, StudentError) as e:
        failing = failing_dependencies(worker, case_ids)
        if not failing:
            raise
        note = "".join(f"\n  note: {user} uses your {name}, which fails its own check ({why}); "
                       f"fix it first" for name, why in failing)
        first = Cause("dependency.fix_first", f"your {', '.join(n for n, _ in failing)} "
                      f"fails its own check; {user} uses it: fix that first")
        if isinstance(e, StudentError):
            e.message += note
            e.causes.append(first)
            raise
        raise CheckFailed(f"{e}{note}", diagnoses=e.diagnoses + [first.key]) from None
