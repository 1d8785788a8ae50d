"""grader/feedback/pointers.py: what the failing cases have in common, exceptions explained by their case,
and the "what to fix first" lines, on results made here (no grading run)."""
from types import SimpleNamespace

import pytest

from grader.feedback import pointers
from grader.cases import BY_ID, CASES
from grader.feedback.causes import CAUSES
from grader.report import ItemResult, summary_output, visible_summary_output


def item(case_id, outcome="passed", function=None, visibility="visible", message="", keys=()):
    case = BY_ID[case_id]
    fn = function or (case.backward or case.function).rsplit(".", 1)[-1]
    return ItemResult(nodeid=f"grader/x.py::t[{case_id}]", check=f"{fn}: a check",
                      case=case_id, weight=1.0, visibility=visibility, tags=[fn],
                      outcome=outcome, reason=message.splitlines()[0] if message else "",
                      message=message, diagnoses=list(keys),
                      failure="value" if outcome == "failed" else "")


def conv_backward_items(failing):
    visible = [c.id for c in CASES if c.check in ("conv_backward.basic", "conv_backward.extra")]
    return [item(c, "failed" if c in failing else "passed", message=f"{c}: wrong")
            for c in visible]


def test_the_property_every_failing_case_has_and_no_passing_one_is_named():
    recorded = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    results = pointers.annotate(recorded)
    assert all(not r.diagnoses and "likely cause" not in r.message for r in recorded)
    failed = [r for r in results if r.outcome == "failed"]
    for r in failed:
        assert r.diagnoses == ["pattern.pad_zero"]
        assert "likely cause: every visible case with pad = 0 fails" in r.message
    assert all(not r.diagnoses for r in results if r.outcome == "passed")


def test_no_pointer_when_no_property_separates_or_nothing_passes():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.basic"})
    results = pointers.annotate(results)   # pad 0 and pad 1 fail, pad 1 passes elsewhere too
    assert all(not r.diagnoses for r in results)
    everything = conv_backward_items({c.id for c in CASES if c.check.startswith("conv_backward")})
    everything = pointers.annotate(everything)
    assert all(not r.diagnoses for r in everything)


def test_an_item_with_a_likely_cause_keeps_it():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    results[2].diagnoses = ["conv_backward.pad0_empty_crop"]
    results = pointers.annotate(results)
    assert results[2].diagnoses == ["conv_backward.pad0_empty_crop"]


def test_hidden_results_and_properties_are_never_compared():
    hidden = [c.id for c in CASES if c.check == "conv_backward.hidden"]
    if not hidden:
        pytest.skip("no hidden cases in this copy")
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    # A failing hidden case without pad = 0 changes nothing, and gets no pointer itself.
    no_pad0 = next(c for c in hidden if BY_ID[c].params["conv_param"]["pad"] != 0)
    results.append(item(no_pad0, "failed", visibility="after_published", message="x"))
    results = pointers.annotate(results)
    assert results[-1].diagnoses == []
    assert all(no_pad0 not in r.message for r in results)
    assert [r.diagnoses for r in results if r.outcome == "failed"][:2] == [["pattern.pad_zero"]] * 2


def test_the_pointer_comes_before_the_traceback():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    r = next(r for r in results if r.outcome == "failed")
    r.message = "raised ValueError: x\n\nTraceback (student code):\n  ..."
    r = pointers.annotate(results)[results.index(r)]
    assert r.message.index("likely cause") < r.message.index("Traceback")


def test_every_pattern_key_is_a_known_key_and_every_case_has_properties():
    for case in CASES:
        for key, holds, phrase, hint in pointers.properties(case):
            assert key in CAUSES and key.startswith("pattern.") and phrase and hint
            assert isinstance(holds, bool)


def test_a_broadcast_of_the_empty_crop_at_pad_0_is_explained_by_the_case():
    error = SimpleNamespace(message="layers.conv_backward_naive raised ValueError: ...",
                            detail="Traceback ...\nValueError: could not broadcast input array "
                                   "from shape (2,0,0) into shape (2,8,11)")
    pad0, pad1 = BY_ID["conv_backward.stride3_pad0"], BY_ID["conv_backward.basic"]
    assert [c.key for c in pointers.case_exception_causes(pad0, error)] == [
        "conv_backward.pad0_empty_crop"]
    assert pointers.case_exception_causes(pad1, error) == []
    error.detail = "ValueError: could not broadcast input array from shape (2,10) into (2,11)"
    assert pointers.case_exception_causes(pad0, error) == []


def test_what_to_fix_first_is_in_dependency_order_with_each_pointer():
    results = [
        item("conv_backward.basic", "failed", message="dx wrong\n  likely cause: B"),
        item("conv_forward.odd_sizes", "failed", message="out wrong\n  likely cause: A"),
        item("prereq.relu_forward", "failed", message="relu wrong"),
        item("sgn_forward.basic", "passed"),
    ]
    lines = pointers.fix_first_lines(results)
    assert lines[0].startswith("What to fix first")
    assert [line.split(". ", 1)[1].split(" ")[0] for line in lines[1:]] == [
        "relu_forward", "conv_forward_naive", "conv_backward_naive"]
    assert lines[2].endswith(": A") and lines[3].endswith(": B") and lines[1].endswith("relu wrong")
    text = summary_output(results, "summary")
    assert text.startswith("What to fix first") and "Score: " in text


def test_what_to_fix_first_shows_no_hidden_check():
    hidden = next((c.id for c in CASES if c.visibility == "hidden"), None)
    if hidden is None:
        pytest.skip("no hidden cases in this copy")
    results = [item("conv_forward.odd_sizes", "failed", message="out wrong"),
               item(hidden, "failed", visibility="after_published",
                    message="secret " + hidden)]
    text = visible_summary_output(results, "summary")
    assert hidden not in text and "secret" not in text
    assert "Visible checks:" in text and text.startswith("What to fix first")
    assert pointers.fix_first_lines([item("conv_forward.odd_sizes")]) == []


def test_a_dependency_note_still_gets_the_pattern_and_a_shape_slip_is_left_out():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    failed = [r for r in results if r.outcome == "failed"]
    failed[0].diagnoses = ["dependency.fix_first"]
    fed_wrong = next(r for r in results if r.case == "conv_backward.stride2")
    fed_wrong.outcome, fed_wrong.diagnoses = "failed", ["backward.forward_wrong"]
    slip = next(r for r in results if r.case == "conv_backward.basic")   # pad 1, values right
    slip.credit, slip.diagnoses = 0.5, ["shape.slip"]
    shown = {r.nodeid: r for r in pointers.annotate(results)}
    failed, fed_wrong, slip = ([shown[r.nodeid] for r in failed], shown[fed_wrong.nodeid],
                               shown[slip.nodeid])
    assert failed[0].diagnoses == ["dependency.fix_first", "pattern.pad_zero"]
    assert failed[1].diagnoses == ["pattern.pad_zero"] or not failed[1:]
    assert fed_wrong.diagnoses == ["backward.forward_wrong"]
    assert slip.diagnoses == ["shape.slip"] and "likely cause" not in slip.message


def test_a_pointer_says_how_many_failing_cases_it_explains_and_what_the_rest_share():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h",
                                   "conv_backward.basic"})
    flipped = next(r for r in results if r.case == "conv_backward.basic")
    flipped.diagnoses = ["conv_backward.dx_flipped_filters"]
    flipped.message += "\n  likely cause: dx uses flipped filters"
    shown = {r.nodeid: r for r in pointers.annotate(results)}
    assert "fits" not in flipped.message   # the recorded result is left as it is
    flipped = shown[flipped.nodeid]
    assert ("this likely cause fits 1 of the 3 failing visible cases of conv_backward_naive; "
            "it does not explain the other 2 (conv_backward.stride3_pad0, "
            "conv_backward.c_equals_h), both with pad = 0 (no likely cause here does)") in flipped.message
    others = [r for r in shown.values() if r.outcome == "failed" and r is not flipped]
    assert all("fits" not in r.message and not r.diagnoses for r in others)


def test_a_pointer_that_explains_every_failing_case_gets_no_count():
    results = conv_backward_items({"conv_backward.stride3_pad0", "conv_backward.c_equals_h"})
    for r in results:
        if r.outcome == "failed":
            r.diagnoses = ["conv_backward.pad0_empty_crop"]
    assert all("note: this likely cause fits" not in r.message for r in pointers.annotate(results))


def test_properties_the_visible_cases_confound_are_named_together_and_said_so():
    public = [c.id for c in CASES if c.check in ("pool_forward.notebook", "pool_forward.extra")]
    batch1 = next(c for c in public if BY_ID[c].inputs()["x"].shape[0] == 1)
    results = [item(c, "failed" if c == batch1 else "passed", message=f"{c}: wrong")
               for c in public]
    pointers.annotate(results)
    failed = next(r for r in results if r.outcome == "failed")
    if len(failed.diagnoses) > 1:
        assert "cannot tell which of these the mistake is about" in failed.message


def unseparated(function):
    """The properties of `function`'s public cases that no public case shows alone: no two of
    its public cases differ in that property and in no other."""
    cases = [c for c in CASES if c.visibility == "public"
             and (c.backward or c.function).rsplit(".", 1)[-1] == function]
    held = [{k: h for k, h, _, _ in pointers.properties(c)} for c in cases]
    keys = {k for v in held for k, h in v.items() if h}
    return {k for k in keys if not any(
        a[k] and not b[k] and all(a[o] == b[o] for o in a if o != k) for a in held for b in held)}


@pytest.mark.parametrize("function", ["max_pool_forward_naive", "max_pool_backward_naive"])
def test_a_batch_of_one_is_told_apart_from_non_square_sizes(function):
    # A pool case with N = 1 was the only one with a non-square output: a pool that hard-codes
    # square outputs was told that "every case with a batch of one fails".
    assert "pattern.batch_one" not in unseparated(function)
