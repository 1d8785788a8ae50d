"""What to fix: pointers that need more than one case's result.

- `case_exception_causes`: the likely cause of an exception of student code that the case's
  own parameters explain (an empty crop at pad = 0 assigned into dx raises a broadcast error).
- `pattern_pointers` / `annotate`: for each graded function, what its failing cases have in
  common that none of its passing cases has (pad = 0, rectangular windows, G = 1, ...), a
  likely cause (key "pattern.<property>") for its failing items that have no other. Computed
  once, where the report is built (grader/report.py), from the recorded results, which stay as
  recorded. Only the visible cases' results and properties are compared, so no text reveals a
  hidden case.
- `fix_first_lines`: one line per failing function, in dependency order (forward before
  backward, layers before the net), each with its first pointer: the top of the output.

Plain data in and out (report.ItemResult, cases.Case): grader/plugin.py calls these.
"""
import re
from dataclasses import replace
from functools import lru_cache

import numpy as np

from grader.feedback.causes import CAUSES, PAD0_EMPTY_CROP, exception_causes

# The graded functions in the order to fix them (forward before backward, layers before the
# sandwich layers and the net); a function not listed comes last.
FIX_ORDER = ("affine_forward", "affine_backward", "relu_forward", "relu_backward",
             "softmax_loss", "batchnorm_forward", "batchnorm_backward", "conv_forward_naive",
             "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
             "conv_relu_forward", "conv_relu_pool_forward", "spatial_batchnorm_forward",
             "spatial_batchnorm_backward", "spatial_groupnorm_forward",
             "spatial_groupnorm_backward", "ThreeLayerConvNet")
MAX_PROPERTIES = 3   # properties named in one pointer
# Keys that say what else to fix, not what is wrong in the function itself: an item with only
# these still gets what its failing cases have in common. ("backward.forward_wrong" is not one:
# a backward fed by a wrong forward fails where the forward does, and the forward's own
# failing cases say more.)
GENERAL_KEYS = {"dependency.fix_first", "backward.own_bug"}


# ----------------------------------------------------------------------------------------------
# Exceptions explained by the case that raised them
# ----------------------------------------------------------------------------------------------

def exception_parts(error):
    """(type name, message) of the student's exception, from the last line of its traceback."""
    for line in reversed((getattr(error, "detail", "") or "").splitlines()):
        m = re.match(r"^([A-Za-z_][\w.]*): (.*)$", line.strip())
        if m:
            return m.group(1).rsplit(".", 1)[-1], m.group(2)
    m = re.search(r"raised (\w+): (.*)", getattr(error, "message", "") or "")
    return (m.group(1), m.group(2)) if m else ("", "")


def case_exception_causes(case, error):
    """Likely causes of a StudentError raised on `case` that the case's parameters explain."""
    etype, text = exception_parts(error)
    conv = case.params.get("conv_param")
    if (conv is not None and case.backward.endswith("conv_backward_naive") and conv["pad"] == 0
            and etype == "ValueError" and re.search(r"broadcast.*\([^)]*\b0\b[^)]*\)", text)):
        return [PAD0_EMPTY_CROP]
    return []


def error_causes(error, case=None):
    """Every likely cause of a StudentError, worked out once, when its result is recorded: what
    the exception says by itself (numpy 2 removals, float sizes), what `case` explains, then the
    causes the check added (a failing dependency), each key once."""
    found = []
    if error.kind in ("exception", "import_error"):
        found += exception_causes(error.error_type, error.error_message)
    if case is not None and error.kind == "exception":
        found += case_exception_causes(case, error)
    found += error.causes
    unique = {}
    for cause in found:
        unique.setdefault(getattr(cause, "key", None) or str(cause), cause)
    return list(unique.values())


# ----------------------------------------------------------------------------------------------
# Properties of a case
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _shapes(case_id):
    """{input name: shape} of a case, from its seeded inputs (cached)."""
    from grader.cases import BY_ID
    return {k: np.shape(v) for k, v in BY_ID[case_id].inputs().items()}


def _conv(case, s):
    p = case.params["conv_param"]
    N, C, H, W = s["x"]
    F, _, HH, WW = s["w"]
    pad, st = p["pad"], p["stride"]
    Ho, Wo = 1 + (H + 2 * pad - HH) // st, 1 + (W + 2 * pad - WW) // st
    return [
        ("pattern.pad_zero", pad == 0, "pad = 0",
         "look at how the padding is added and cut off (a slice pad:-pad is empty at pad = 0)"),
        ("pattern.pad_not_one", pad != 1, "a padding other than 1",
         "is a padding of 1 hard-coded somewhere? Use conv_param['pad']"),
        ("pattern.stride_gt_1", st > 1, "stride > 1",
         "look at where the windows start (i * stride) and at the output size"),
        ("pattern.nonsquare_kernel", HH != WW, "non-square filters (HH != WW)",
         "look for the filter height used where its width belongs, or the reverse"),
        ("pattern.nonsquare_output", Ho != Wo, "a non-square output (H' != W')",
         "look for H' used where W' belongs (loop bounds, np.zeros, reshape), or H for W"),
        ("pattern.nonsquare_input", H != W, "a non-square input (H != W)",
         "look for H used where W belongs, or the reverse"),
        ("pattern.untiled", (H + 2 * pad - HH) % st != 0 or (W + 2 * pad - WW) % st != 0,
         "windows that do not tile the padded input",
         "the output size rounds down: 1 + (H + 2 * pad - HH) // stride"),
    ]


def _pool(case, s):
    p = case.params["pool_param"]
    N, C, H, W = s["x"]
    ph, pw, st = p["pool_height"], p["pool_width"], p["stride"]
    return [
        ("pattern.max_elsewhere", "max_elsewhere" in case.id,
         "a window maximum whose value also occurs outside the window",
         "find each window's maximum inside the window (np.argmax of the window), not by its "
         "value in the whole channel or input"),
        ("pattern.rect_window", ph != pw, "rectangular windows (pool_height != pool_width)",
         "look for pool_height used where pool_width belongs (e.g. a flat index k of the "
         "window is row k // pool_width, column k % pool_width)"),
        ("pattern.overlapping", st < max(ph, pw), "overlapping windows (stride < window size)",
         "look for = instead of += into dx, windows stepped by the window size instead of the "
         "stride, or x changed through a slice of it (a slice is a view)" if case.backward else
         "look at where the windows start (i * stride, not i * pool_height) and at the loop "
         "bounds (H' = 1 + (H - pool_height) // stride windows, no more)"),
        ("pattern.untiled", (H - ph) % st != 0 or (W - pw) % st != 0,
         "windows that do not tile the input",
         "the output size rounds down: 1 + (H - pool_height) // stride"),
        ("pattern.nonsquare_input", H != W, "a non-square input (H != W)",
         "look for H used where W belongs, or the reverse"),
        ("pattern.nonsquare_output", 1 + (H - ph) // st != 1 + (W - pw) // st,
         "a non-square output (H' != W')",
         "look for H' used where W' belongs (loop bounds, np.zeros, reshape), or H for W"),
    ]


def _norm(case, s):
    bn = case.params.get("bn_param") or case.params.get("gn_param") or {}
    out = [("pattern.test_mode", bn.get("mode") == "test" or case.kind == "bn_sequence",
            "test mode", "look at the test-mode branch: the running averages, eps inside the "
            "square root, then gamma and beta"),
           ("pattern.custom_momentum", "momentum" in bn, "a momentum other than the default",
            "read the momentum from bn_param instead of assuming 0.9"),
           ("pattern.custom_eps", "eps" in bn, "an eps other than the default",
            "read eps from the parameters and add it to the variance (inside the square root)")]
    if "G" in case.params:
        G, C = case.params["G"], s["x"][1]
        out += [("pattern.g_one", G == 1, "G = 1", "look for squeeze() or a reshape that "
                 "drops the group axis when it has size 1"),
                ("pattern.g_equals_c", G == C, "G = C (one channel per group)",
                 "look for the group size C // G = 1 dropped by a reshape or squeeze")]
    return out


def _common(case, s):
    x = s.get("x") or s.get("X") or ()
    return [
        ("pattern.one_d", len(x) == 1, "a 1-D input",
         "the docstring allows any shape: do not index or reshape two axes"),
        ("pattern.large_scores", "large_scores" in case.id, "scores around 800",
         "subtract each row's maximum before exp, and add nothing inside the log"),
        ("pattern.channels_not_3", "model" in case.params
         and case.params["model"]["input_dim"][0] != 3, "an input with other than 3 channels",
         "take the number of channels from input_dim instead of writing 3"),
        ("pattern.equal_dims", "shape-branching" in case.about
         or (len(x) == 2 and x[0] == x[1]),
         "two equal dimensions (e.g. N == D, C == H)",
         "code that picks an axis by comparing sizes takes the wrong one when two are equal; "
         "use the axis the docstring names"),
        ("pattern.batch_one", len(x) > 1 and x[0] == 1, "a batch of one (N = 1)",
         "look for squeeze() or indexing that drops the batch axis when N = 1"),
        ("pattern.float32", case.dtype == "float32", "float32 inputs",
         "look at how arrays are created (their dtype) and at integer arithmetic"),
    ]


def properties(case):
    """[(key, holds, phrase, hint)] of a case: the properties failing cases are compared on."""
    s = _shapes(case.id)
    out = []
    if "conv_param" in case.params and "w" in s and "pool_param" not in case.params:
        out += _conv(case, s)
    if "pool_param" in case.params and "conv_param" not in case.params:
        out += _pool(case, s)
    if "bn_param" in case.params or "gn_param" in case.params:
        out += _norm(case, s)
    return out + _common(case, s)


def separating(failing, passing):
    """[(key, phrase, hint)] of the properties every failing case has and no passing one has."""
    if not failing or not passing:
        return []
    held = [{k: (h, phrase, hint) for k, h, phrase, hint in properties(c)} for c in failing]
    other = [{k: h for k, h, _, _ in properties(c)} for c in passing]
    found = []
    for key, (_, phrase, hint) in held[0].items():
        if key in CAUSES and all(p.get(key, (False,))[0] for p in held) and not any(
                o.get(key, False) for o in other):
            found.append((key, phrase, hint))
    return found[:MAX_PROPERTIES]


# ----------------------------------------------------------------------------------------------
# At the end of a run: what the failing cases have in common, what to fix first
# ----------------------------------------------------------------------------------------------

def lost(r):
    """True if a check item that ran lost points (failed, errored or partly earned)."""
    return r.outcome in ("failed", "error") or (r.outcome == "passed" and r.credit < 1)


def _by_function(results):
    """{graded function: [its items with a known case]}, in run order."""
    from grader.cases import BY_ID
    groups = {}
    for r in results:
        if r.case in BY_ID and r.tags and r.outcome in ("passed", "failed", "error"):
            groups.setdefault(r.tags[0], []).append(r)
    return groups


def pattern_text(found, failing_ids):
    """The likely-cause text of a property pointer (an observation; the hint is a guess). When
    the failing visible cases share several properties, it says it cannot tell them apart."""
    hints = "; ".join(h for _, _, h in found)
    if len(found) == 1:
        return (f"every visible case with {found[0][1]} fails ({', '.join(failing_ids)}) and "
                f"every other visible case passes, so the mistake may be there: {hints}")
    others = " and ".join(p for _, p, _ in found[1:])
    return (f"every visible case with {found[0][1]} fails ({', '.join(failing_ids)}) and every "
            f"other visible case passes; those are also the ones with {others}, so the visible "
            f"cases cannot tell which of these the mistake is about: {hints}")


def _with_cause(r, text, keys):
    """A copy of item `r` with a likely-cause line in its message, before any traceback, and
    `keys` added to its diagnoses (`r` itself, a recorded result, is left as it is)."""
    head, sep, rest = (r.message or r.reason).partition("\n\n")
    return replace(r, message=f"{head}\n  likely cause: {text}{sep}{rest}",
                   diagnoses=list(r.diagnoses) + list(keys))


def pattern_pointers(results):
    """{nodeid: (text, keys)}: for each failing item without a likely cause of its own
    (GENERAL_KEYS aside), what its function's failing visible cases have in common, if no
    passing visible case has it. Reads the recorded results; changes none of them."""
    from grader.cases import BY_ID
    found_for = {}
    for items in _by_function(results).values():
        visible = [r for r in items if r.visibility == "visible"]
        # Neither failing nor passing: shape slips (right values) and backwards fed by a wrong
        # forward (they fail where the forward does).
        failing = [r for r in visible if lost(r) and r.outcome != "passed"
                   and "backward.forward_wrong" not in r.diagnoses]
        passing = [r for r in visible if not lost(r)]
        found = separating([BY_ID[r.case] for r in failing], [BY_ID[r.case] for r in passing])
        if not found:
            continue
        text = pattern_text(found, [r.case for r in failing])
        for r in items:
            holds = {k for k, h, _, _ in properties(BY_ID[r.case]) if h}
            if (lost(r) and r.outcome != "passed" and set(r.diagnoses) <= GENERAL_KEYS
                    and all(k in holds for k, _, _ in found)):
                found_for[r.nodeid] = (text, [k for k, _, _ in found])
    return found_for


def annotate(results):
    """The results as the report shows them: copies of the items that get a pattern pointer
    (pattern_pointers) or a note on how much their pointer explains (coverage_notes); the others
    as they are. The recorded results are left as they are."""
    found = pattern_pointers(results)
    shown = [_with_cause(r, *found[r.nodeid]) if r.nodeid in found else r for r in results]
    notes = {}
    for fn, items in _by_function(shown).items():
        notes.update(coverage_notes(fn, items))
    return [_with_note(r, notes[r.nodeid]) if r.nodeid in notes else r for r in shown]


def _with_note(r, note):
    """A copy of item `r` with a note line in its message, before any traceback."""
    head, sep, rest = r.message.partition("\n\n")
    return replace(r, message=f"{head}\n  {note}{sep}{rest}")


def _failing_visible(items):
    """The visible items of one function that failed (shape slips, which pass, left out)."""
    return [r for r in items if r.visibility == "visible" and lost(r) and r.outcome != "passed"]


def _explains(r):
    """The keys of an item that say what is wrong (GENERAL_KEYS say only what else to fix)."""
    return [k for k in r.diagnoses if k not in GENERAL_KEYS]


def coverage_note(fn, key, failing, explained, passing):
    """The note on an item whose pointer `key` does not explain every failing visible case of
    `fn`: how many it explains, and what the cases no pointer explains have in common."""
    from grader.cases import BY_ID
    fits = [r for r in failing if key in r.diagnoses]
    rest = [r for r in failing if r not in explained]
    text = (f"note: this likely cause fits {len(fits)} of the {len(failing)} failing visible "
            f"cases of {fn}")
    if not rest:
        return text + "; the others have likely causes of their own."
    common = separating([BY_ID[r.case] for r in rest], [BY_ID[r.case] for r in passing])
    shared = (f", {'both' if len(rest) == 2 else 'all'} with {' and '.join(p for _, p, _ in common)}"
              if common and len(rest) > 1 else "")
    return (text + f"; it does not explain the other {len(rest)} ({', '.join(r.case for r in rest)})"
            f"{shared} (no likely cause here does): look at them too.")


def coverage_notes(fn, items):
    """{nodeid: note} for each failing visible item of `fn` whose first pointer does not explain
    all the function's failing visible cases: how many it explains and what is left."""
    failing = _failing_visible(items)
    explained = [r for r in failing if _explains(r)]
    passing = [r for r in items if r.visibility == "visible" and not lost(r)]
    return {r.nodeid: coverage_note(fn, _explains(r)[0], failing, explained, passing)
            for r in explained if not all(_explains(r)[0] in o.diagnoses for o in failing)}


def first_pointer(r):
    """The first pointer of a failing item's message (a likely cause or a note), or ''."""
    for line in (r.message or "").splitlines():
        line = line.strip()
        for lead in ("likely cause: ", "note: "):
            if line.startswith(lead):
                return line[len(lead):]
        if line.startswith("Shape slip: "):   # up to the shapes: "... (1, 5), expected (5,)"
            return re.sub(r" \(\d+ more array.*", "", line.split(". The values")[0])
    return ""


def fix_first(results, visible_only=True):
    """[(function, items that lost points, its first pointer)] of every function that lost
    points, in FIX_ORDER: what fix_first_lines says, as data (results.json, check())."""
    failing = {}
    for r in results:
        if (r.tags and lost(r) and not r.internal
                and (r.visibility == "visible" or not visible_only)):
            failing.setdefault(r.tags[0], []).append(r)
    rank = {f: i for i, f in enumerate(FIX_ORDER)}
    found = []
    for fn in sorted(failing, key=lambda f: rank.get(f, len(rank))):
        items = failing[fn]
        pointer = next((p for p in map(first_pointer, items) if p), "") or items[0].reason
        found.append((fn, items, pointer))
    return found


FIX_FIRST_HEADING = ("What to fix first (in this order: forward before backward, layers before "
                     "the net):")


def fix_first_lines(results, visible_only=True):
    """'What to fix first' lines: one per function that lost points, in FIX_ORDER."""
    found = fix_first(results, visible_only)
    if not found:
        return []
    lines = [FIX_FIRST_HEADING]
    for n, (fn, items, pointer) in enumerate(found, 1):
        lines.append(f"  {n}. {fn} ({len(items)} check(s) lost points): {pointer}")
    return lines
