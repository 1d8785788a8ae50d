"""`check(NAME)`: grade one function from the notebook cell after the exercise.

    from grader import check
    check("conv_forward_naive")

It runs `python -m pytest grader -k NAME` (the same plugin, worker, cases and scoring as a whole
run, so the points agree with `pytest grader` and Gradescope) in a subprocess with the kernel's
own Python, on the `cs260` package the notebook imports (the saved files), and reads the
results.json that run writes. No shell is involved, so a path with spaces (Google Drive's "My
Drive") is fine. The result shows compactly: in Jupyter as HTML (`_repr_html_`), elsewhere as
plain text: the points, each failing case in one line, what to fix first, and the first failure
in full. `python -m grader check NAME` prints the same in a terminal.
"""
import html
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import config

FULL_LINES = 30   # lines of the first failure shown in full


@dataclass
class Failing:
    """One failing (or partly earned) case of the function: its id and its first line."""
    case: str
    line: str


@dataclass
class CheckResult:
    """What check(NAME) found: points, the failing cases, the pointer and the first failure."""
    name: str
    earned: float = 0.0
    possible: float = 0.0
    checks: int = 0
    failing: list = field(default_factory=list)     # [Failing]
    pointer: str = ""          # what to fix first (the report's pointer for this function)
    first_failure: str = ""    # the first failing case's whole message
    not_implemented: bool = False
    skipped: list = field(default_factory=list)     # reasons of skipped checks
    problem: str = ""          # the run itself went wrong (no results): what it said
    seconds: float = 0.0

    @property
    def passed(self):
        """True if every check of the function that ran earned all its points."""
        return not self.problem and self.checks > 0 and not self.failing

    def headline(self):
        """One line: the function, its points, and whether it passes."""
        took = f" ({self.seconds:.1f} s)"
        if self.problem:
            return f"check({self.name!r}): could not grade it{took}"
        if not self.checks:
            return f"check({self.name!r}): no check ran{took}"
        points = f"{self.earned:.2f} / {self.possible:.2f} points"
        if self.passed:
            return f"check({self.name!r}): {points}, all {self.checks} check(s) pass{took}"
        if self.not_implemented:
            return f"check({self.name!r}): {points}, not implemented yet{took}"
        return (f"check({self.name!r}): {points}, {len(self.failing)} of {self.checks} "
                f"check(s) lose points{took}")

    def __str__(self):
        """The plain-text view (terminals, and wherever HTML is not shown)."""
        lines = [self.headline()]
        if self.problem:
            return "\n".join(lines + ["  " + x for x in self.problem.splitlines()])
        if self.pointer:
            lines.append(f"  fix first: {self.pointer}")
        if not self.not_implemented:   # then every case says the same: the pointer says it
            lines += [f"  [{f.case}] {f.line}" for f in self.failing]
        lines += [f"  skipped: {reason}" for reason in self.skipped]
        if self.first_failure and not self.not_implemented:
            lines += ["", "The first failure in full:"]
            lines += ["  " + x for x in self.first_failure.splitlines()]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        """The Jupyter view: the headline in colour, the failing cases, the first failure."""
        ok = self.passed
        colour = "#1a7f37" if ok else "#b42318"
        parts = [f'<div style="font-family:sans-serif"><b style="color:{colour}">'
                 f"{'&#10004;' if ok else '&#10008;'} {html.escape(self.headline())}</b>"]
        if self.problem:
            parts.append(f"<pre>{html.escape(self.problem)}</pre>")
        if self.pointer:
            parts.append(f"<p><b>Fix first:</b> {html.escape(self.pointer)}</p>")
        if self.failing and not self.not_implemented:
            parts.append("<ul>" + "".join(f"<li><code>{html.escape(f.case)}</code> "
                                          f"{html.escape(f.line)}</li>" for f in self.failing)
                         + "</ul>")
        parts += [f"<p>Skipped: {html.escape(r)}</p>" for r in self.skipped]
        if self.first_failure and not self.not_implemented:
            parts.append("<details open><summary>The first failure in full</summary><pre>"
                         f"{html.escape(self.first_failure)}</pre></details>")
        return "\n".join(parts) + "</div>"


def student_package(submission=None):
    """The cs260 folder to grade: `submission`, else the `cs260` package this Python has
    imported (the notebook's), else ./cs260, else the one next to the grader (the bundle), else
    None (the plugin's default)."""
    if submission:
        return Path(submission).resolve()
    module = sys.modules.get("cs260")
    where = getattr(module, "__file__", None)
    if where:
        return Path(where).resolve().parent
    for beside in (Path.cwd() / "cs260", config.REPO / "cs260"):
        if beside.is_dir():
            return beside.resolve()
    return None


def command(name, results, submission=None):
    """The pytest command check(name) runs (a list: no shell, so spaces in paths are fine)."""
    cmd = [sys.executable, "-m", "pytest", str(config.GRADER_DIR), "-k", name, "-q",
           "-p", "no:cacheprovider", "--results-json", str(results)]
    package = student_package(submission)
    return cmd + (["--submission", str(package)] if package else [])


def _case(test):
    """The case id of a results.json test (its name's [...] part), or its title."""
    name = test.get("name", "")
    if name.endswith("]") and " [" in name:
        return name.rsplit(" [", 1)[1][:-1]
    return name.split(": ", 1)[-1]


def _first_line(text):
    return next((x.strip() for x in str(text).splitlines() if x.strip()), "")


def _plain(text):
    """A results.json output as plain text (it is Markdown: fences and code spans removed)."""
    lines = [x for x in str(text).splitlines() if not x.startswith("```")]
    return "\n".join(lines).replace("`", "")


def read_results(name, data, seconds=0.0):
    """CheckResult of `name` from a results.json (dict) of a `-k name` run: its visible checks."""
    result = CheckResult(name, seconds=seconds)
    tests = [t for t in data.get("tests", []) if t.get("visibility", "visible") == "visible"]
    for t in tests:
        outcome = t.get("extra_data", {}).get("outcome")
        if outcome == "skipped":
            result.skipped.append(_first_line(_plain(t.get("output", ""))).removeprefix(
                "Skipped, not counted: "))
            continue
        result.checks += 1
        result.earned += float(t.get("score", 0))
        result.possible += float(t.get("max_score", 0))
        if t.get("status") == "failed":
            text = _plain(t.get("output", ""))
            result.failing.append(Failing(_case(t), _first_line(text)))
            result.first_failure = result.first_failure or "\n".join(
                text.splitlines()[:FULL_LINES])
    kinds = {t.get("extra_data", {}).get("failure") for t in tests if t.get("status") == "failed"}
    result.not_implemented = bool(result.failing) and kinds == {"not_implemented"}
    fix = data.get("extra_data", {}).get("fix_first") or []
    result.pointer = fix[0]["pointer"] if fix else ""
    if not tests:
        output = _plain(data.get("output", "")).strip()
        said = [p for p in output.split("\n\n") if "No check matches" in p]
        result.problem = said[0] if said else output
    return result


def check(name, submission=None):
    """Grade the function (or class) `name` as `pytest grader -k name` does; a CheckResult that
    Jupyter shows as HTML and print() as text."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cs260-check-") as tmp:
        results = Path(tmp, "results.json")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run(command(name, results, submission), cwd=config.REPO, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        seconds = time.monotonic() - start
        try:
            data = json.loads(results.read_text())
        except (OSError, ValueError):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            return CheckResult(name, seconds=seconds,
                               problem=tail or f"pytest exited with status {proc.returncode}")
    return read_results(name, data, seconds)


def main(name, submission=None):
    """`python -m grader check NAME`: print the result; 0 if every check passed, else 1."""
    result = check(name, submission)
    print(result)
    return 0 if result.passed else 1
