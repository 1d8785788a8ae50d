"""Likely causes ("diagnoses") and their stable keys.

Unit tests of the keys and of the new diagnoses, then the realistic-bug corpus
(tests/realistic_bugs.py) graded end to end (the session's `class_batch`): every bug gets the
diagnosis it must get, at least 80 % of the corpus's wrong values and shapes get a likely cause,
and correct submissions never get one.
"""
import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grader.feedback import mistakes
from grader.feedback.compare import CheckFailed, assert_close, assert_scalar_close
from grader.feedback.causes import CAUSES, Cause, exception_causes
from grader.report import OUTPUT_HEADING
from classbatch import CATALOGUE_PICK, CORRECT
from grading import plain_text, split_by_visibility, validate_results
from realistic_bugs import CORPUS

GRADER = Path(__file__).resolve().parents[1] / "grader"


def failure(fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return info.value


# ----------------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------------

def cause_keys_in_source():
    """(keys written as Cause("key", ...), every string constant) of grader/*.py, the CAUSES
    table itself left out."""
    literal, constants = set(), set()
    for path in GRADER.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CAUSES"
                                                    for t in node.targets):
                node.value = ast.Constant(None)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Cause"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                literal.add(node.args[0].value)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
    return literal, constants


def test_every_cause_in_the_checks_has_a_registered_key_and_every_key_is_used():
    literal, constants = cause_keys_in_source()
    assert literal and literal - set(CAUSES) == set()
    assert set(CAUSES) - constants == set(), "keys in CAUSES that no check gives"


def test_a_cause_is_its_text_with_a_key():
    c = Cause("conv_forward.no_bias", "the bias b is not added")
    assert c == "the bias b is not added" and c.key == "conv_forward.no_bias"
    with pytest.raises(KeyError, match="unknown diagnosis key"):
        Cause("conv_forward.no_such_mistake", "x")


def test_check_failed_carries_the_keys_of_the_causes_it_shows():
    e = np.arange(1.0, 7.0)
    err = failure(assert_close, e + 1, e, what="o", tol=1e-7,
                  diagnoses=[(Cause("conv_forward.no_bias", "off by one"), e + 1),
                             (Cause("conv_forward.no_bias", "off by one, again"), e + 1),
                             (Cause("conv_forward.pad_one_side", "off by two"), e + 2)])
    assert err.diagnoses == ["conv_forward.no_bias"]
    assert "likely cause: off by one" in str(err) and "off by two" not in str(err)
    err = failure(assert_close, np.zeros(6), e, what="o", tol=1e-7)
    assert err.diagnoses == ["generic.all_zeros"]
    err = failure(assert_close, np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]), what="o",
                  tol=1e-7)
    assert err.diagnoses == [] and "likely cause" not in str(err)


def test_a_candidate_that_is_right_for_the_input_explains_nothing():
    e = np.linspace(1, 2, 5)
    wrong = e * (1 + 5e-7)       # off by more than tol, within the diagnosis tolerance
    err = failure(assert_close, wrong, e, what="o", tol=1e-7,
                  diagnoses=[(Cause("batchnorm.test_no_scale_shift", "gamma dropped"), e)])
    assert err.diagnoses == [] and "gamma dropped" not in str(err)


# ----------------------------------------------------------------------------------------------
# The new diagnoses, on inputs made here
# ----------------------------------------------------------------------------------------------

def test_pad0_empty_crop_is_named_for_the_empty_shapes():
    from grader.checks.test_conv_backward import conv_grad_shapes
    case = SimpleNamespace(params={"conv_param": {"stride": 1, "pad": 0}})
    fx = SimpleNamespace(inputs={"x": np.zeros((2, 3, 5, 6))})
    hints = conv_grad_shapes(case, fx, "x")
    for empty in ((2, 3, 0, 0), (2, 3, 0, 6), (2, 3, 5, 0)):
        err = failure(assert_close, np.zeros(empty), np.ones((2, 3, 5, 6)),
                      what="conv_backward_naive: dx", tol=1e-7, shape_hints=hints)
        assert err.diagnoses == ["conv_backward.pad0_empty_crop"]
        assert "pad:-pad" in str(err) and "-0 is 0" in str(err)
    case.params["conv_param"]["pad"] = 1   # with padding the crop is not empty: other hint
    assert [h.key for h, _ in conv_grad_shapes(case, fx, "x")] == ["conv_backward.dx_keeps_padding"]


def loop_softmax_unshifted(x, y):
    """The loss computed element by element with math.exp, no max shift."""
    import math
    total = 0.0
    for row, label in zip(x, y):
        try:
            denominator = sum(math.exp(v) for v in row)
            total += -math.log(math.exp(row[label]) / denominator)
        except OverflowError:
            return float("nan")
    return total / len(y)


def test_softmax_without_the_max_shift_is_named_on_large_scores():
    r = np.random.default_rng(3)
    x, y = 20 * r.standard_normal((6, 4)) + 800, r.integers(0, 4, 6)
    shifted = x - x.max(axis=1, keepdims=True)
    expected = float(np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(6), y]))
    actual = loop_softmax_unshifted(x, y)
    assert np.isnan(actual)
    err = failure(assert_scalar_close, actual, expected, what="softmax_loss: loss", tol=1e-7,
                  diagnoses=mistakes.softmax_unshifted(x, y))
    assert err.diagnoses == ["softmax_loss.no_max_shift"] and "maximum" in str(err)
    # NaN for another reason (not the scores): the generic cause, not this one
    err = failure(assert_scalar_close, float("nan"), 1.0, what="softmax_loss: loss", tol=1e-7,
                  diagnoses=mistakes.softmax_unshifted(x - 800, y))
    assert err.diagnoses == ["generic.not_finite"]


def loop_groupnorm(x, gamma, beta, groups_of, eps=1e-5):
    """Group norm by loops; groups_of(n, c) -> the (n', c') elements normalized with (n, c)."""
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            members = np.stack([x[m, k] for m, k in groups_of(n, c)])
            out[n, c] = (x[n, c] - members.mean()) / np.sqrt(members.var() + eps)
            out[n, c] = gamma[c] * out[n, c] + beta[c]
    return out


@pytest.mark.parametrize("key, groups_of", [
    ("group_norm.per_channel", lambda n, c: [(n, c)]),
    ("group_norm.ignores_G", lambda n, c: [(n, k) for k in range(6)]),
])
def test_group_norm_axis_mistakes_are_named(key, groups_of):
    r = np.random.default_rng(5)
    x, gamma, beta = r.standard_normal((3, 6, 3, 4)), r.standard_normal(6), r.standard_normal(6)
    expected = loop_groupnorm(x, gamma, beta, lambda n, c: [(n, k) for k in range(6)
                                                            if k // 3 == c // 3])
    wrong = loop_groupnorm(x, gamma, beta, groups_of)
    err = failure(assert_close, wrong, expected, what="o", tol=1e-7,
                  diagnoses=mistakes.group_norm_variants(x, gamma, beta, 2, 1e-5))
    assert err.diagnoses == [key]


def test_spatial_batchnorm_reshape_without_transpose_is_named():
    r = np.random.default_rng(6)
    x = r.standard_normal((2, 3, 4, 5))
    gamma, beta = r.standard_normal(3), r.standard_normal(3)
    bn = {"mode": "train"}
    flat = x.reshape(-1, 3)    # the mistake, made directly
    wrong = ((flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5) * gamma + beta).reshape(x.shape)
    cols = np.moveaxis(x, 1, -1).reshape(-1, 3)
    right = np.moveaxis(((cols - cols.mean(0)) / np.sqrt(cols.var(0) + 1e-5) * gamma + beta)
                        .reshape(2, 4, 5, 3), -1, 1)
    err = failure(assert_close, wrong, right, what="o", tol=1e-7,
                  diagnoses=mistakes.spatial_bn_layouts(x, gamma, beta, bn))
    assert err.diagnoses == ["spatial_batchnorm.reshape_without_transpose"]


@pytest.mark.parametrize("etype, message, key, says", [
    ("AttributeError", "module 'numpy' has no attribute 'float'.\n`np.float` was a deprecated "
     "alias for the builtin `float`.", "numpy2.removed_alias", "use float"),
    ("AttributeError", "module 'numpy' has no attribute 'int'.", "numpy2.removed_alias",
     "use int"),
    ("AttributeError", "`np.float_` was removed in the NumPy 2.0 release. Use `np.float64` "
     "instead.", "numpy2.removed_name", "np.float64"),
    ("AttributeError", "module 'numpy' has no attribute 'product'", "numpy2.removed_name",
     "np.prod"),
    ("AttributeError", "'numpy.ndarray' object has no attribute 'ptp'", "numpy2.removed_method",
     "np.ptp(a)"),
    ("TypeError", "reshape() got an unexpected keyword argument 'newshape'",
     "numpy2.reshape_newshape", "positionally"),
    ("ValueError", "Unable to avoid copy while creating an array as requested.",
     "numpy2.copy_false", "np.asarray"),
    ("AttributeError", "module 'numpy.lib' has no attribute 'pad'", "numpy2.lib_namespace",
     "use np.pad"),
    ("TypeError", "only 0-dimensional arrays can be converted to Python scalars",
     "numpy.array_to_scalar", "a.item()"),
    ("ValueError", "setting an array element with a sequence.", "numpy.sequence_into_element",
     "NumPy 2.4 raises"),
    ("AttributeError", "module 'numpy' has no attribute 'in1d'", "numpy2.removed_name",
     "removed in NumPy 2.4"),
])
def test_numpy2_removals_are_named_with_their_replacement(etype, message, key, says):
    causes = exception_causes(etype, message)
    assert [c.key for c in causes] == [key]
    assert "NumPy" in causes[0] and says in causes[0]


@pytest.mark.parametrize("etype, message", [
    ("AttributeError", "module 'numpy' has no attribute 'flaot'"),
    ("AttributeError", "'list' object has no attribute 'reshape'"),
    ("TypeError", "conv_forward_naive() got an unexpected keyword argument 'stride'"),
    ("ValueError", "operands could not be broadcast together"),
])
def test_other_exceptions_get_no_numpy2_cause(etype, message):
    assert exception_causes(etype, message) == []


@pytest.mark.parametrize("etype, message", [
    ("TypeError", "'float' object cannot be interpreted as an integer"),
    ("TypeError", "slice indices must be integers or None or have an __index__ method"),
    ("IndexError", "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
     "integer or boolean arrays are valid indices"),
])
def test_float_sizes_are_named(etype, message):
    causes = exception_causes(etype, message)
    assert [c.key for c in causes] == ["exception.float_size"] and "//" in causes[0]


def test_a_constant_inside_the_log_of_softmax_is_named():
    r = np.random.default_rng(8)
    x, y = 20 * r.standard_normal((6, 4)) + 800, r.integers(0, 4, 6)
    s = x - x.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    right = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(6), y]))
    mine = float(-np.mean(np.log(p[np.arange(6), y] + 1e-10)))   # written here, not simulated
    err = failure(assert_scalar_close, mine, right, what="softmax_loss: loss", tol=1e-7,
                  diagnoses=mistakes.softmax_log_epsilon(x, y))
    assert err.diagnoses == ["softmax_loss.log_epsilon"]


def test_a_maximum_looked_up_in_the_whole_channel_is_named():
    from grader.feedback.catalogue import pool_grad_candidates
    r = np.random.default_rng(9)
    x = np.maximum(r.standard_normal((1, 2, 4, 4)), 0)
    x[0, 0, :2, :2] = 0   # a window of zeros: its maximum, 0, occurs elsewhere too
    dout = r.standard_normal((1, 2, 2, 2))
    mine = np.zeros_like(x)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                top = x[0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max()
                mine[0, c][x[0, c] == top] += dout[0, c, i, j]
    right = mistakes.max_pool_backward(x, dout, 2, 2, 2)
    assert not np.allclose(mine, right)
    err = failure(assert_close, mine, right, what="dx", tol=1e-7,
                  diagnoses=pool_grad_candidates(x, dout, 2, 2, 2))
    assert "pool_backward.max_lookup_outside" in err.diagnoses


def test_extra_leading_axes_are_named():
    err = failure(assert_close, np.ones((1, 1, 3, 2, 3, 4, 5)), np.ones((2, 3, 4, 5)),
                  what="out", tol=1e-7)
    assert err.diagnoses == ["shape.extra_axes"] and "(1, 1, 3)" in str(err)


def test_a_padding_of_one_hard_coded_in_conv_backward_is_named():
    from grader.checks.test_conv_backward import conv_grad_shapes
    fx = SimpleNamespace(inputs={"x": np.zeros((2, 3, 5, 6))})
    for pad, got in ((0, (2, 3, 3, 4)), (0, (2, 3, 7, 8)), (2, (2, 3, 7, 8)), (2, (2, 3, 3, 4))):
        case = SimpleNamespace(params={"conv_param": {"stride": 1, "pad": pad}})
        err = failure(assert_close, np.zeros(got), np.ones((2, 3, 5, 6)), what="dx", tol=1e-7,
                      shape_hints=conv_grad_shapes(case, fx, "x"))
        assert err.diagnoses == ["conv_backward.pad_fixed_one"], (pad, got)


def test_running_variance_with_eps_and_test_mode_eps_outside_are_named():
    from grader.checks.checking import state_diagnoses
    old, batch_var, m, eps = np.array([1.0, 2.0]), np.array([0.5, 3.0]), 0.9, 1e-3
    case = SimpleNamespace(params={"bn_param": {"momentum": m, "eps": eps}})
    fx = SimpleNamespace(inputs={"running_var": old},
                         expected={"state.running_var": m * old + (1 - m) * batch_var})
    mine = m * old + (1 - m) * (batch_var + eps)
    err = failure(assert_close, mine, fx.expected["state.running_var"], what="running_var",
                  tol=1e-7, diagnoses=state_diagnoses(case, fx, "running_var"))
    assert err.diagnoses == ["batchnorm.running_var_eps"]
    r = np.random.default_rng(10)
    x, g, b = r.standard_normal((4, 3)), r.standard_normal(3), r.standard_normal(3)
    bn = {"mode": "test", "eps": 1e-2, "running_mean": r.standard_normal(3),
          "running_var": 1 + r.random(3)}
    right = g * (x - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-2) + b
    mine = g * (x - bn["running_mean"]) / (np.sqrt(bn["running_var"]) + 1e-2) + b
    err = failure(assert_close, mine, right, what="out", tol=1e-7,
                  diagnoses=mistakes.batchnorm_test_variants(x, g, b, bn))
    assert err.diagnoses == ["batchnorm.test_eps_outside"]


# ----------------------------------------------------------------------------------------------
# The corpus, graded (tests/classbatch.py)
# ----------------------------------------------------------------------------------------------

def results_of(batch, name):
    import json
    data = json.loads((batch.out / name / "results.json").read_text())
    validate_results(data)
    return data


def failing(tests):
    return [t for t in tests if t.get("status") == "failed"]


def about(test, function):
    return function in test.get("tags", [])


# Realistic bugs only on a numpy that removed the use (grader/pins.txt pins one that warns).
# Bugs that raise only from numpy 2.4: on an older numpy (the pin, 2.2.6) they warn instead
# (a numpy note, grader/feedback/numpy_notes.py) and either pass (None) or fail another way (the key).
BEFORE_NUMPY_2_4 = {"rb_np_reshape_newshape": None, "rb_conv_dot_into_element": None,
                    "rb_pool_back_int_of_where": "exception.array_to_scalar_many"}


def _numpy_before_2_4():
    return tuple(int(p) for p in np.__version__.split(".")[:2]) < (2, 4)


@pytest.mark.parametrize("bug", CORPUS, ids=lambda b: b.name)
def test_each_realistic_bug_gets_its_diagnosis(class_batch, bug):
    diagnosis = bug.diagnosis
    if bug.name in BEFORE_NUMPY_2_4 and _numpy_before_2_4():
        diagnosis = BEFORE_NUMPY_2_4[bug.name]
        if diagnosis is None:
            pytest.skip(f"{bug.name}: numpy {np.__version__} accepts it with a "
                        "DeprecationWarning (a numpy note); it raises from numpy 2.4")
    tests = results_of(class_batch, bug.name)["tests"]
    mine = [t for t in failing(tests) if about(t, bug.mutant.function)]
    assert mine, f"{bug.name}: no check of {bug.mutant.function} failed"
    with_key = [t for t in mine if diagnosis in t["extra_data"].get("diagnoses", [])]
    assert with_key, (f"{bug.name} ({bug.mutant.why}): no failing check of "
                      f"{bug.mutant.function} carries {diagnosis}:\n"
                      + "\n---\n".join(t.get("output", "")[:600] for t in mine[:3]))
    shown, _ = split_by_visibility(with_key)   # a hidden check's pointer is on a visible one
    assert shown, f"{bug.name}: {diagnosis} is on hidden checks only, whose text students cannot read"
    for t in shown:
        message = plain_text(t["output"]).split(OUTPUT_HEADING)[0]
        assert "likely cause: " in message, message
    if bug.mutant.hint and diagnosis == bug.diagnosis:
        assert any(bug.mutant.hint.lower() in plain_text(t["output"]).lower() for t in with_key)


@pytest.mark.parametrize("name, key", [
    ("conv_dw_stride_bug", "conv_backward.dw_no_stride"),
    ("pool_backward_overwrites", "pool_backward.overwrite"),
    ("sbn_reshape_without_transpose", "spatial_batchnorm.reshape_without_transpose"),
    ("gn_backward_per_channel", "group_norm_backward.per_channel"),
    ("conv_no_bias", "conv_forward.no_bias"),
    ("softmax_unstable", "softmax_loss.no_max_shift"),
])
def test_catalogue_mutants_get_theirs(class_batch, name, key):
    assert name in CATALOGUE_PICK
    tests = results_of(class_batch, name)["tests"]
    assert any(key in t["extra_data"].get("diagnoses", []) for t in failing(tests))


def coverage(batch):
    """(diagnosed, all) wrong values/shapes over the corpus: per failing check item, and per
    broken function (at least one of its value failures diagnosed)."""
    items = diagnosed_items = functions = diagnosed_functions = 0
    for bug in CORPUS:
        values = [t for t in failing(results_of(batch, bug.name)["tests"])
                  if t["extra_data"].get("failure") == "value"]
        items += len(values)
        diagnosed_items += sum(bool(t["extra_data"].get("diagnoses")) for t in values)
        own = [t for t in values if about(t, bug.mutant.function)]
        if own:
            functions += 1
            diagnosed_functions += any(t["extra_data"].get("diagnoses") for t in own)
    return diagnosed_items, items, diagnosed_functions, functions


def test_most_wrong_values_and_shapes_of_the_corpus_get_a_likely_cause(class_batch):
    d_items, items, d_functions, functions = coverage(class_batch)
    print(f"\ncorpus coverage: {d_items}/{items} failing value/shape checks "
          f"({d_items / items:.1%}), {d_functions}/{functions} broken functions "
          f"({d_functions / functions:.1%}) have a likely cause")
    assert items >= 100 and functions >= 20
    assert d_items / items >= 0.8
    assert d_functions / functions >= 0.8


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_no_diagnosis_is_ever_shown_for_a_correct_submission(class_batch, name):
    data = results_of(class_batch, name)
    assert not failing(data["tests"])
    for t in data["tests"]:
        assert "diagnoses" not in t["extra_data"], t["name"]
        assert "likely cause" not in t.get("output", ""), t["name"]
    assert "likely cause" not in data["output"]


def test_int_of_an_array_of_several_elements_points_to_ties():
    """numpy < 2.4 raises for int() of an array of more than one element (np.where on a window
    with tied maxima): the cause says to pick one position, not that numpy changed."""
    causes = exception_causes("TypeError", "only length-1 arrays can be converted to Python "
                              "scalars")
    assert [c.key for c in causes] == ["exception.array_to_scalar_many"]
    assert "tied" in causes[0] and "np.argmax" in causes[0]
