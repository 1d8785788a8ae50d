"""The last screen of `pytest grader`: the failures grouped by graded function, the score table,
the run notes and "what to fix first", in that order, so that what a student reads first when
the run ends is what to fix.

Per function that lost points: one heading line, its first failing case in full (with its
pointer), then one line per distinct reason of the others (their case ids together). Lines that
every comparison repeats (how the relative error is computed) are shown once. Plain data in,
lines out (report.ItemResult); grader/plugin.py prints them.
"""
import re
import textwrap

from grader import report
from grader.feedback import pointers

# A line a message repeats for every comparison: shown the first time only.
BOILERPLATE = re.compile(r"^\s*\(relative error as the notebook's rel_error")
FULL_LINES = 24      # lines of the first failing case's message shown in the terminal
LINE_CHARS = 150     # one-line case reasons are cut to this length
NOTE_WIDTH = 100     # run notes are wrapped to this width
SHOWN_IDS = 3        # case ids named on one line before "+N more"


def case_label(r):
    """How a case is named in one line: its case id, or the check's title for a check without cases."""
    return r.case or r.check.split(": ", 1)[-1]


def by_function(results):
    """{graded function: [its items that ran]}, in run order (the notebook's order)."""
    groups = {}
    for r in results:
        if r.ran and r.tags:
            groups.setdefault(r.tags[0], []).append(r)
    return groups


def _full(r, seen):
    """The message of a failing item as the terminal shows it in full: boilerplate seen before
    left out, cut to FULL_LINES lines."""
    lines = []
    for line in report.item_output(r, 4000).splitlines():
        if BOILERPLATE.match(line):
            if line.strip() in seen:
                continue
            seen.add(line.strip())
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > FULL_LINES:
        cut = len(lines) - FULL_LINES
        lines = lines[:FULL_LINES] + [f"[... {cut} more lines: pytest grader -k {r.tags[0]} -v "
                                      "shows every case in full]"]
    return lines


def not_implemented(items):
    """True if every item of a function that lost points raised NotImplementedError (the starter)."""
    lost = [r for r in items if pointers.lost(r)]
    return bool(lost) and all(r.failure == "not_implemented" for r in lost)


def function_lines(fn, items, seen):
    """The lines of one graded function that lost points (see the module docstring)."""
    lost = [r for r in items if pointers.lost(r)]
    earned = sum(r.earned for r in items)
    possible = sum(r.possible for r in items)
    first = lost[0]
    lines = [f"{fn}: {earned:.2f} / {possible:.2f} points, {len(lost)} of {len(items)} "
             f"check(s) lost points; the first in full [{case_label(first)}]:"]
    lines += ["    " + line for line in _full(first, seen)]
    same = {}   # the other cases, one line per distinct reason (their ids together)
    for r in lost[1:]:
        same.setdefault(report.one_line(pointers.first_pointer(r) or r.reason, LINE_CHARS),
                        []).append(case_label(r))
    for reason, ids in same.items():
        more = f", +{len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
        lines.append(f"  [{', '.join(ids[:SHOWN_IDS])}{more}] {reason}")
    return lines


def failure_lines(results):
    """The failures grouped by function, in run order (empty when nothing lost points); the
    functions that only raise NotImplementedError in one line."""
    seen = set()
    lines, todo = [], []
    for fn, items in by_function(results).items():
        if not_implemented(items):
            todo.append(fn)
        elif any(pointers.lost(r) for r in items):
            lines += function_lines(fn, items, seen) + [""]
    if todo:
        lines += textwrap.wrap(f"Not implemented yet ({len(todo)}): " + ", ".join(todo) + ".",
                               NOTE_WIDTH, subsequent_indent="  ") + [""]
    return lines


def wrap_notes(notes):
    """Run notes, each wrapped to NOTE_WIDTH columns (never cut: they say what to do)."""
    lines = []
    for note in notes:
        lines += textwrap.wrap(report.one_line(note, 1500), NOTE_WIDTH,
                               subsequent_indent="  ") or [""]
    return lines


def last_screen(results, sections, notes=(), details=True, partial=False):
    """Every line of the end-of-run summary: grouped failures (when `details`), the table, the
    notes, then what to fix first, last."""
    lines = failure_lines(results) if details else []
    lines += report.format_table(results, sections, failures=not details, partial=partial)
    if notes:
        lines += ([] if details else [""]) + wrap_notes(notes)
    fix = pointers.fix_first_lines(results, visible_only=False)
    if fix:
        lines += [""] + fix
    return lines
