"""results.json's text as Markdown (`output_format: "md"`), which Gradescope renders.

The report builds plain text (grader/report.py); these functions give it Markdown's shape
without changing what it says: "what to fix first" as a numbered list on top, names of code
(`conv_forward_naive`, `layers.py`, `dx_pad`) as code spans, a failing check's first line and
its pointers (likely cause, note, shape slip) as short paragraphs, and the rest of its message
(inputs, numbers, tracebacks) and the student's prints in fenced code blocks, so that nothing a
student wrote is rendered as Markdown or HTML.
"""
import re

from grader.feedback.pointers import FIX_FIRST_HEADING

POINTER_LEADS = {"likely cause: ": "likely cause:", "note: ": "note:",
                 "Shape slip: ": "Shape slip:"}
LEADS = {"Score: ": "Score:", "Visible checks: ": "Visible checks:"}
# A name of code in prose: an existing code span, a file name, a dotted or snake_case name.
CODE = re.compile(r"`[^`\n]+`|\b[\w./-]*\w\.(?:py|pyx|json|ipynb)\b"
                  r"|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b(?:\(\))?|\b[A-Za-z]\w*_\w*\b(?:\(\))?")
SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
FIX_ITEM = re.compile(r"^\s*(\d+)\. (\S+) (\(.*?\)): (.*)$")


def code_span(text):
    """`text` as one code span, whatever backticks it holds."""
    text = str(text).replace("\n", " ")
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text):
    """`text` verbatim in a fenced code block (a fence longer than any backtick run in it)."""
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def prose(text):
    """One line of prose: names of code as code spans, the other Markdown characters escaped."""
    out, at = [], 0
    for m in CODE.finditer(str(text)):
        out.append(SPECIAL.sub(r"\\\1", text[at:m.start()]))
        token = m.group(0)
        out.append(token if token.startswith("`") else code_span(token))
        at = m.end()
    out.append(SPECIAL.sub(r"\\\1", text[at:]))
    return "".join(out)


def _lead(line, leads):
    """(bold lead, rest) when `line` starts with one of `leads`, else None."""
    for start, bold in leads.items():
        if line.startswith(start):
            return bold, line[len(start):]
    return None


def item(text, printed_heading):
    """One check's results.json output (report.item_output's text, where `printed_heading`
    starts the student's prints) as Markdown."""
    message, _, printed = str(text).partition(printed_heading)
    lines = message.strip("\n").splitlines()
    if not lines:
        return ""
    parts = [prose(lines[0].strip())]
    details = []
    for line in lines[1:]:
        found = _lead(line.strip(), POINTER_LEADS)
        if found:
            parts.append(f"**{found[0]}** {prose(found[1])}")
        else:
            details.append(line)
    while details and not details[-1].strip():
        details.pop()
    while details and not details[0].strip():
        details.pop(0)
    if details:
        parts.append(fenced("\n".join(details)))
    if printed.strip():
        parts += [prose(printed_heading), fenced(printed.strip("\n"))]
    return "\n\n".join(parts)


def _fix_first(paragraph):
    """The "what to fix first" lines as a heading and a numbered list."""
    lines = paragraph.splitlines()
    out = [f"**What to fix first**{prose(lines[0][len('What to fix first'):])}"]   # a list follows
    for line in lines[1:]:
        m = FIX_ITEM.match(line)
        if m:
            n, fn, count, pointer = m.groups()
            out.append(f"{n}. {code_span(fn)} {prose(count)}: {prose(pointer)}")
        else:
            out.append(prose(line.strip()))
    return "\n".join(out)


def summary(text):
    """The top-level results.json output (report.summary_output's text) as Markdown."""
    parts = []
    for paragraph in str(text).strip().split("\n\n"):
        if not paragraph.strip():
            continue
        lines = paragraph.splitlines()
        if paragraph.startswith(FIX_FIRST_HEADING[:len("What to fix first")]):
            parts.append(_fix_first(paragraph))
        elif "Traceback" in paragraph or any(x.startswith("  ") for x in lines[1:]):
            head = _lead(lines[0], LEADS)
            parts.append(prose(lines[0]) if head is None else f"**{head[0]}** {prose(head[1])}")
            if lines[1:]:
                parts.append(fenced("\n".join(lines[1:])))
        else:
            found = _lead(paragraph, LEADS)
            body = " ".join(x.strip() for x in (found[1] if found else paragraph).splitlines())
            parts.append((f"**{found[0]}** " if found else "") + prose(body))
    return "\n\n".join(parts)
