"""Scores the checks that ran and reports them: the terminal table and Gradescope's results.json.

Everything here is plain data in, text or dicts out, so it can be tested without running pytest;
grader/plugin.py fills `ItemResult`s from pytest's reports and calls these functions.
"""
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import config, markdown

# Outcomes of one check item. "" = collected but never finished (deselected, -x, interrupted).
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"

INTERNAL_ERROR = "internal grader error"
OUTPUT_HEADING = "--- printed by your code (may be truncated) ---"
REASON_CHARS = 160  # one-line reasons in the table are cut to this length


@dataclass
class ItemResult:
    """One check item (one case of a check function): what it is worth and how it went."""
    nodeid: str
    check: str            # "<first tag>: <title>", the same for every case of a function
    case: str = ""        # case id of a parametrized check, "" otherwise
    section: str = ""     # config.SECTIONS key, "" when the check names none
    weight: float = 0.0   # points of this item (function weight / number of cases)
    number: str = ""      # Gradescope sort key, "" = none
    visibility: str = "visible"
    tags: list = field(default_factory=list)
    outcome: str = ""     # PASSED | FAILED | ERROR | SKIPPED | "" (did not run)
    reason: str = ""      # one line, for the table
    message: str = ""     # full text, for results.json
    student_output: str = ""
    internal: bool = False  # failed because of a bug in grader code, not the student's
    credit: float = 1.0     # part of the weight a passed item earns (grader/feedback/policy.py: shape slips)
    failure: str = ""     # why it failed: value | fail | internal | a StudentError kind
    diagnoses: list = field(default_factory=list)  # keys of the likely causes (grader.feedback.causes)

    @property
    def name(self):
        """The check's name in results.json and the table, with its case id."""
        return f"{self.check} [{self.case}]" if self.case else self.check

    @property
    def ran(self):
        """True once the item has an outcome."""
        return self.outcome != ""

    @property
    def earned(self):
        """The points it earned: its weight times its credit when it passed."""
        return self.weight * self.credit if self.outcome == PASSED else 0.0

    @property
    def partial(self):
        """True if it passed with part of its points (a shape slip)."""
        return self.outcome == PASSED and self.credit < 1

    @property
    def possible(self):
        """Points at stake: skipped items are not counted."""
        return 0.0 if self.outcome in ("", SKIPPED) else self.weight


def as_shown(results):
    """The recorded results as the report shows them: with the pointers that need several
    results (grader/feedback/pointers.py), on copies; the recorded ones are left as they are."""
    from grader.feedback import pointers
    return pointers.annotate(list(results))


def split_weight(function_weight, n_cases):
    """Points of one case when a check function's weight is shared by its `n_cases` cases."""
    return float(function_weight) / max(1, int(n_cases))


def case_number(base, index=None):
    """Gradescope number of a check's `index`-th case (0-based; None if not parametrized): "<base>.<k>"."""
    if not base:
        return ""
    return str(base) if index is None else f"{base}.{index + 1}"


def one_line(text, limit=REASON_CHARS):
    """First non-empty line of `text`, cut to `limit` characters."""
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def truncate(text, limit):
    """`text` cut to about `limit` characters, keeping the start and the end (errors come last)."""
    text = str(text)
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


def item_output(item, output_limit):
    """results.json `output` of one item: the full message, then the student's prints."""
    if item.outcome == SKIPPED:
        return f"Skipped, not counted: {item.reason}"
    if item.outcome == PASSED:
        return item.message  # what a passing check chose to report (timings, accuracies), or ""
    parts = [item.message or item.reason or "failed"]
    if item.student_output.strip():
        parts.append(OUTPUT_HEADING + "\n" + truncate(item.student_output, output_limit))
    return "\n\n".join(parts)


HIDDEN_FAILURES = {"value": "the values differ from the reference",
                   "naive_rule": "it called the package's fast code or im2col, and "
                                 f"{config.NAIVE_RULE}",
                   "fail": "the values differ from the reference",
                   "not_implemented": "not implemented", "timeout": "did not finish in time",
                   "crash": "crashed", "memory": "ran out of memory",
                   "internal": "a grader error, not yours; course staff will look into it"}


def hidden_output(item):
    """A hidden check's results.json `output`: grader text only, nothing that student code wrote,
    printed, raised or returned while a hidden case ran (the message and the prints stay in
    the instructors' log)."""
    if item.outcome == SKIPPED:
        return "Skipped, not counted."
    if item.outcome == PASSED and not item.partial:
        return "Passed."
    if item.partial:
        return (f"Partly earned (hidden case): {item.credit:.0%} of its points. The values are right "
                "but the array's shape is not (a shape slip); the visible checks of the same "
                "function show the shapes.")
    why = HIDDEN_FAILURES.get(item.failure, "raised an exception or returned something unusable")
    return (f"Failed (hidden case): {why}. The visible checks of the same function show "
            "details of failures like this one.")


def _pts(x):
    return f"{x:.2f}"


def section_rows(results, sections):
    """(key, label, earned, possible, skipped) per section with a check that ran, in `sections` order.

    Checks whose section is not in `sections` go to a final "other" row.
    """
    known = {s.key for s in sections}
    groups = [(s.key, f"{s.number:<4} {s.title}", [r for r in results if r.section == s.key])
              for s in sections]
    groups.append(("other", "     Other", [r for r in results if r.section not in known]))
    rows = []
    for key, label, items in groups:
        items = [r for r in items if r.ran]
        if items:
            skipped = sum(r.weight for r in items if r.outcome == SKIPPED)
            rows.append((key, label, sum(r.earned for r in items), sum(r.possible for r in items),
                         skipped))
    return rows


def totals(results):
    """(earned, possible, skipped) points over the items that ran."""
    ran = [r for r in results if r.ran]
    return (sum(r.earned for r in ran), sum(r.possible for r in ran),
            sum(r.weight for r in ran if r.outcome == SKIPPED))


def _grouped(results, outcomes):
    """Items with an outcome in `outcomes`, grouped by (check, reason) in run order: {key: [case ids]}."""
    groups = {}
    for r in results:
        if r.outcome in outcomes:
            groups.setdefault((r.check, r.reason), []).append(r)
    return groups


def _cases(items, shown=4):
    ids = [r.case for r in items if r.case]
    if not ids:
        return ""
    more = f", +{len(ids) - shown} more" if len(ids) > shown else ""
    return " [" + ", ".join(ids[:shown]) + more + "]"


def format_table(results, sections, notes=(), failures=True, partial=False):
    """The end-of-run summary as lines of text: points per section, total, failures (unless
    `failures` is False: grader/summary.py lists them by function), skipped points; `partial`
    labels the total as a partial run's."""
    rows = section_rows(results, sections)
    width = max([len(row[1]) for row in rows] + [30])
    lines = [f"{'Section':<{width}}  {'Points':>17}"]
    for _, label, earned, possible, skipped in rows:
        extra = f"  ({_pts(skipped)} skipped)" if skipped else ""
        lines.append(f"{label:<{width}}  {_pts(earned):>7} / {_pts(possible):>7}{extra}")
    earned, possible, skipped = totals(results)
    total = "     Total (partial run)" if partial else "     Total"
    lines.append(f"{total:<{width}}  {_pts(earned):>7} / {_pts(possible):>7}")
    if not rows:
        lines.append("(no checks ran)")

    order = {s.key: i for i, s in enumerate(sections)}
    by_section = sorted(results, key=lambda r: order.get(r.section, len(order)))  # stable: run order
    failed = _grouped(by_section, (FAILED, ERROR)) if failures else {}
    if failed:
        n = sum(len(v) for v in failed.values())
        lines += ["", f"Failed checks ({n}):"]
        for (check, reason), items in failed.items():
            lines.append(f"  {check}{_cases(items)}")
            lines.append(f"      {reason}")
    partial = _grouped([r for r in by_section if r.partial], (PASSED,))
    if partial:
        lines += ["", f"Partly earned checks ({sum(len(v) for v in partial.values())}):"]
        for (check, reason), items in partial.items():
            lines.append(f"  {check}{_cases(items)}")
            lines.append(f"      {reason}")
    if skipped:
        by_reason = {}
        for r in results:
            if r.outcome == SKIPPED:
                by_reason.setdefault(r.reason, []).append(r)
        each = [f"{_pts(sum(r.weight for r in items))} points, {len(items)} check(s): {reason}"
                for reason, items in by_reason.items()]
        if len(each) == 1:   # one line: the last screen is short
            lines += ["", f"{_pts(skipped)} points skipped (not counted): {each[0].split(': ', 1)[1]}"]
        else:
            lines += ["", f"{_pts(skipped)} points skipped (not counted):"] + [f"  {e}" for e in each]
    if notes:
        lines.append("")
        lines += [one_line(n, 400) for n in notes]
    return lines


def summary_output(results, submission_summary, notes=()):
    """Top-level results.json `output`: score, the submission summary, and any run-level notes."""
    from grader.feedback.pointers import fix_first_lines
    earned, possible, skipped = totals(results)
    fix = "\n".join(fix_first_lines(results, visible_only=True))
    parts = ([fix] if fix else []) + [
        f"Score: {_pts(earned)} / {_pts(possible)} points from the checks that ran."]
    if skipped:
        parts.append(f"{_pts(skipped)} points were skipped and not counted (see the skipped checks).")
    internal = sum(1 for r in results if r.internal)
    if internal:
        parts.append(f"{internal} check(s) hit an {INTERNAL_ERROR}; this is not your fault, "
                     "course staff have the details.")
    if submission_summary:
        parts.append(str(submission_summary).rstrip())
    parts += [str(n).rstrip() for n in notes]
    return "\n\n".join(parts)


HIDDEN_RAN_NOTE = ("Hidden checks were also run: their results, and your total score, show "
                   "when grades are published.")


def visible_summary_output(results, submission_summary, notes=(), collected=()):
    """Top-level results.json `output`, which students always see (summary_output's text).

    Where a hidden check (visibility other than "visible") ran, it states only the visible
    checks' points and says that hidden checks were run and show when grades are published;
    the notes are scrubbed of hidden checks' names (from `results` and `collected`, every item
    of the run). No hidden check's name, count or result is left in it. The top-level `score`
    is results_json's business and stays the full one; the terminal table shows everything.
    """
    hidden = [r for r in [*results, *collected] if r.visibility != "visible"]
    if not any(r.ran for r in hidden):
        return summary_output(results, submission_summary, notes)
    # Longest first (a node id contains its case id); a case id alone ("<section>.<name>") as
    # a whole word only.
    names = sorted({n for r in hidden for n in (r.nodeid, r.name) if n}, key=len, reverse=True)
    names = [re.escape(n) for n in names] + [rf"(?<![\w.]){re.escape(r.case)}(?![\w.])"
                                             for r in hidden if "." in r.case]
    pattern = re.compile("|".join(names)) if names else None
    scrubbed = [pattern.sub("a hidden check", str(n)) if pattern else str(n) for n in notes]
    visible = [r for r in results if r.visibility == "visible"]
    earned, possible, _ = totals(visible)
    parts = summary_output(visible, submission_summary, scrubbed).split("\n\n")
    at = next(i for i, p in enumerate(parts) if p.startswith("Score: "))
    parts[at] = f"Visible checks: {_pts(earned)} / {_pts(possible)} points. {HIDDEN_RAN_NOTE}"
    return "\n\n".join(parts)


def results_json(results, *, output, execution_time, output_limit, extra_data=None,
                 stdout_visibility="hidden"):
    """Gradescope results.json content for the items that ran.

    Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (checked by
    tests/grading.py's validate_results). `output` (plain text, as the terminal shows it) and
    every test's output are written as Markdown (grader/markdown.py), which Gradescope renders.
    """
    tests = []
    for r in results:
        if not r.ran:
            continue
        name = r.name + (" (skipped)" if r.outcome == SKIPPED else "")
        test = {
            "name": name,
            "name_format": "text",
            "score": round(r.earned, 9),      # case points such as 4/7 do not round to 4 places
            "max_score": round(r.possible, 9),
            "visibility": r.visibility,
            "tags": [str(t) for t in r.tags],
            "extra_data": {"nodeid": r.nodeid, "outcome": r.outcome},
        }
        if r.failure:
            test["extra_data"]["failure"] = r.failure
        if r.diagnoses:
            test["extra_data"]["diagnoses"] = [str(k) for k in r.diagnoses]
        if r.outcome in (PASSED, FAILED, ERROR):
            test["status"] = "passed" if r.outcome == PASSED and not r.partial else "failed"
        if r.number:
            test["number"] = r.number
        text = item_output(r, output_limit) if r.visibility == "visible" else hidden_output(r)
        if text:
            test["output"] = markdown.item(text, OUTPUT_HEADING)
            test["output_format"] = "md"
        tests.append(test)
    # The total is the sum of the scores shown (kept to 9 places, so they add up to it).
    earned = sum(t["score"] for t in tests)
    return {
        "score": round(earned, 4),
        "execution_time": round(float(execution_time), 2),
        "output": markdown.summary(output),
        "output_format": "md",
        "stdout_visibility": stdout_visibility,
        "extra_data": dict(extra_data or {}),
        "tests": tests,
    }


def fallback_json(score, output, execution_time=0.0):
    """Minimal results.json for when the full one could not be built."""
    return {"score": round(float(score), 4), "execution_time": round(float(execution_time), 2),
            "output": str(output), "output_format": "text", "tests": []}


def write_json_atomic(path, data):
    """Write `data` as JSON to `path` atomically: serialise first, then temp file + os.replace.

    If serialising or writing fails, whatever was at `path` before is left as it was. Replacing also
    overwrites a file (or a symlink, not its target) that a submission may have put there.
    """
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def weights_markdown():
    """The weights table of docs/GRADING.md, from grader/config.py (the one place weights live)."""
    from grader import config
    lines = ["| section | check | points | visibility |", "| --- | --- | ---: | --- |"]
    for section in config.SECTIONS:
        checks = [(key, pts) for key, (sec, pts) in config.CHECKS.items() if sec == section.key]
        for i, (key, pts) in enumerate(checks):
            label = f"{section.number} {section.title}" if i == 0 else ""
            hidden = key.endswith(".hidden")
            shown = config.VISIBILITY["hidden" if hidden else "public"]
            lines.append(f"| {label} | `{key}` | {pts:g} | {shown} |")
        lines.append(f"| | **section total** | **{config.SECTION_POINTS[section.key]:g}** | |")
    lines.append(f"| | **total** | **{sum(config.SECTION_POINTS.values()):g}** | |")
    return "\n".join(lines)
