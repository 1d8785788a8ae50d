"""The class report: what a whole class got wrong (`python -m grader report RESULTS... --out DIR`).

Reads many results.json (a `grade-all` output folder, or any folder holding one results.json per
submission at any depth, as Gradescope's export gives them) and writes DIR/index.html, a static,
self-contained page (the pictures are embedded PNGs, no script, nothing fetched), plus the same
numbers as CSV files for spreadsheets:

1. the score distribution (histogram of totals) and the share of points earned per section;
2. the common mistakes: every diagnosis key (grader.feedback.causes.CAUSES) the checks gave, how many
   students hit it, in which functions, with one example message;
3. per check: pass rate, mean points, flags for checks that (almost) nobody or everybody passes,
   and the checks that time out, crash or raise;
4. the submissions that were not graded, or in which nothing usable was found (the loader's
   reason).

Students are anonymised (stable ids derived from the submission's folder name) unless
names=True. A results.json that cannot be read, comes from another grader or lacks fields is
listed as skipped with the reason; the report is written anyway. The plots need matplotlib, an
optional extra (`pip install -e ".[report]"`).
"""
import base64
import csv
import hashlib
import html
import io
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from grader import config
from grader.feedback.causes import CAUSES
from grader.tools.metadata import read_metadata

# The node ids of this grader's checks in results.json: grader/checks/ since the layout of
# rooms, grader/test_*.py in results written before it (still read).
CHECK_NODEID_PREFIXES = ("grader/checks/test_", "grader/test_")

RESULTS = "results.json"
GRADEBOOK = "gradebook.csv"
NOBODY, EVERYBODY = 0.05, 0.95     # pass-rate flags: (almost) nobody / everybody passes
TROUBLE = ("timeout", "crash", "memory", "exception", "internal")  # failure kinds listed in (3)
TROUBLE_TEXT = {"timeout": "did not finish within", "crash": "crashed the worker",
                "internal": "internal grader error"}
OUTPUT_HEADING = "--- printed by your code"  # report.OUTPUT_HEADING: the student's prints follow
EXAMPLE_CHARS = 2500
FUNCTIONS_SHOWN = 4   # functions listed per mistake on the page (all of them in the CSV)
MATPLOTLIB_HELP = ('the class report draws its pictures with matplotlib, which is not installed: '
                   'pip install -e ".[report]"  (or: pip install matplotlib)')


class MissingMatplotlib(RuntimeError):
    """matplotlib is not installed (the `report` extra)."""


@dataclass
class Student:
    """One submission's results.json, as the report needs it."""
    key: str                  # folder name of the submission (relative path when nested)
    path: Path
    score: float
    tests: list               # results.json tests that are cs260 checks
    sections: dict            # section key -> (earned, possible)
    status: str = "graded"    # graded | not graded: <why> | nothing usable: <loader summary>
    name: str = ""
    anon: str = ""

    @property
    def max_score(self):
        """The points this submission's checks were out of."""
        return sum(float(t.get("max_score", 0) or 0) for t in self.tests)

    @property
    def graded(self):
        """True if it was graded and counts in the statistics."""
        return self.status == "graded"


@dataclass
class Inputs:
    students: list = field(default_factory=list)
    skipped: list = field(default_factory=list)    # (key, path, reason)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def find_results(paths):
    """[(student key, path)] of every results.json under `paths` (files or folders)."""
    found = []
    for given in paths:
        given = Path(given)
        if given.is_file():
            found.append((given.parent.name or given.stem, given))
            continue
        files = sorted(p for p in given.rglob(RESULTS) if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(given).parts))
        tops = Counter(p.relative_to(given).parts[0] for p in files)
        for p in files:
            rel = p.relative_to(given)
            if len(rel.parts) == 1:
                key = given.resolve().name
            elif tops[rel.parts[0]] == 1:
                key = rel.parts[0]
            else:
                key = str(rel.parent)
            found.append((key, p))
    return found


def _is_ours(test):
    """True if a results.json test entry was written by this grader."""
    extra = test.get("extra_data")
    nodeid = extra.get("nodeid", "") if isinstance(extra, dict) else ""
    return isinstance(nodeid, str) and nodeid.startswith(CHECK_NODEID_PREFIXES)


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def load_student(key, path):
    """(Student, "") or (None, why it was skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot be read ({type(e).__name__}: {e})"
    try:
        data = json.loads(text)
    except ValueError as e:
        return None, f"not valid JSON, truncated? ({e})"
    if not isinstance(data, dict):
        return None, "not a results.json (the JSON is not an object)"
    tests = data.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        return None, "not a results.json (tests is not a list of objects)"
    score = data.get("score")
    extra = data.get("extra_data") if isinstance(data.get("extra_data"), dict) else {}
    if not tests:
        if not _number(score):
            return None, "missing field: score (and no tests)"
        why = " ".join(str(data.get("output", "")).split()) or "no checks ran"
        return Student(key, Path(path), float(score), [], {},
                       status=f"not graded: {why[:300]}"), ""
    ours = [t for t in tests if _is_ours(t)]
    if not ours:
        return None, "from another grader (none of its tests is a cs260 check)"
    for i, t in enumerate(ours):
        missing = [f for f in ("name", "score", "max_score") if f not in t]
        if missing:
            return None, f"missing field(s) {', '.join(missing)} in test {i + 1}"
        if not (_number(t["score"]) and _number(t["max_score"])):
            return None, f"test {i + 1}: score or max_score is not a number"
    if not _number(score):
        score = sum(float(t["score"]) for t in ours)
    sections = {}
    raw = extra.get("sections")
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(x) for x in v):
                sections[str(k)] = (float(v[0]), float(v[1]))
    if not sections:
        sections = _sections_from_tests(ours)
    student = Student(key, Path(path), float(score), ours, sections)
    loader = extra.get("loader")
    if isinstance(loader, dict) and loader.get("usable") == []:
        student.status = "nothing usable: " + " ".join(str(loader.get("summary", "")).split())
    return student, ""


def _sections_from_tests(tests):
    keys = {s.key for s in config.SECTIONS}
    sections = defaultdict(lambda: [0.0, 0.0])
    for t in tests:
        section = next((tag for tag in t.get("tags", []) if tag in keys), "other")
        sections[section][0] += float(t["score"])
        sections[section][1] += float(t["max_score"])
    return {k: tuple(v) for k, v in sections.items()}


def _read_names(paths):
    """{student key: name} from Gradescope's submission_metadata.yml and grade-all's
    gradebook.csv in the given folders."""
    names = {}
    for given in paths:
        if not Path(given).is_dir():
            continue
        names.update({k: v["name"] for k, v in read_metadata(given).items() if v.get("name")})
        book = Path(given) / GRADEBOOK
        if not book.is_file():
            continue
        with open(book, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("name"):
                    names[row.get("student", "")] = row["name"]
    return names


def _read_statuses(student):
    """A grade-all status.txt beside results.json that says the submission was not graded."""
    status = student.path.with_name("status.txt")
    try:
        line = status.read_text(encoding="utf-8").strip()
    except OSError:
        return
    if line.startswith("error:") and student.graded:
        student.status = "not graded: " + line.removeprefix("error:").strip()


def anonymous_ids(keys):
    """{key: stable anonymous id}: a hash of the key, lengthened on a collision."""
    for n in range(6, 65, 2):
        ids = {k: "student-" + hashlib.sha256(k.encode()).hexdigest()[:n] for k in keys}
        if len(set(ids.values())) == len(ids):
            return ids
    raise ValueError("duplicate student keys")


def read_inputs(paths):
    """Inputs (students and skipped files) from results.json files under `paths`."""
    inputs = Inputs()
    seen = set()
    for key, path in find_results(paths):
        student, why = load_student(key, path)
        if student is None:
            inputs.skipped.append((key, str(path), why))
            continue
        if key in seen:
            inputs.skipped.append((key, str(path), "a second results.json for this submission"))
            continue
        seen.add(key)
        _read_statuses(student)
        inputs.students.append(student)
    names = _read_names(paths)
    ids = anonymous_ids(sorted({s.key for s in inputs.students}
                               | {key for key, _, _ in inputs.skipped}))
    for s in inputs.students:
        s.anon, s.name = ids[s.key], names.get(s.key, "")
    inputs.skipped = [(ids[key], path, why) for key, path, why in inputs.skipped]
    inputs.students.sort(key=lambda s: s.anon)
    return inputs


# ----------------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------------

def check_of(test):
    """(check id, display name) of a results.json test: its check function, cases merged."""
    nodeid = test["extra_data"]["nodeid"]
    name = str(test["name"])
    case = nodeid[nodeid.index("["):] if "[" in nodeid else ""
    if case and name.endswith(" " + case):
        name = name[: -len(case) - 1]
    return nodeid.split("[", 1)[0], name.removesuffix(" (skipped)")


def function_of(test):
    """The graded function a results.json test belongs to (its first tag)."""
    tags = test.get("tags") or []
    return str(tags[0]) if tags else str(test["name"]).split(":", 1)[0]


def failure_kind(test):
    """The failure kind of a failed test (results.json extra_data.failure, or from its text)."""
    if test.get("status") != "failed":
        return ""
    kind = test["extra_data"].get("failure", "")
    if kind:
        return str(kind)
    text = str(test.get("output", ""))
    return next((k for k, marker in TROUBLE_TEXT.items() if marker in text), "value")


def example_text(output):
    """A failure message fit to show in section: without the student's prints, cut."""
    text = str(output).split(OUTPUT_HEADING, 1)[0].rstrip()
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "\n[...]"


@dataclass
class Summary:
    students: list
    skipped: list       # (anonymous id, path, why)
    graded: list
    sections: list      # (key, number, title, earned, possible)
    mistakes: list      # dicts: key, title, students, functions, example, example_of
    checks: list        # dicts: id, name, section, cases, items, passed, pass_rate, mean, max, flag
    trouble: list       # dicts: id, name, kind counts, total
    ungraded: list      # (student, status)


def summarize(inputs, names=False):
    """The report's numbers (Summary) from the students read."""
    students = inputs.students
    graded = [s for s in students if s.graded]
    checks, trouble = _check_rows(_tally_checks(graded))
    ungraded = [(s, s.status) for s in students if not s.graded]
    return Summary(students, inputs.skipped, graded, _section_shares(graded),
                   _common_mistakes(graded, names), checks, trouble, ungraded)


def _section_shares(graded):
    """(key, number, title, earned, possible) per notebook section with points, over the class."""
    sections = []
    for sec in config.SECTIONS:
        earned = sum(s.sections.get(sec.key, (0, 0))[0] for s in graded)
        possible = sum(s.sections.get(sec.key, (0, 0))[1] for s in graded)
        if possible > 0:
            sections.append((sec.key, sec.number, sec.title, earned, possible))
    return sections


def _common_mistakes(graded, names):
    """Every diagnosis key given, commonest first: how many students, where, one example."""
    hits = defaultdict(set)
    functions = defaultdict(Counter)
    examples = {}
    for s in graded:
        for t in s.tests:
            keys = t["extra_data"].get("diagnoses") or []
            for k in keys if isinstance(keys, list) else []:
                k = str(k)
                hits[k].add(s.key)
                functions[k][function_of(t)] += 1
                examples.setdefault(k, (s, t))
    mistakes = []
    for k in sorted(hits, key=lambda k: (-len(hits[k]), k)):
        s, t = examples[k]
        mistakes.append({"key": k, "title": CAUSES.get(k, "(not a known key of this grader)"),
                         "students": len(hits[k]),
                         "functions": [f for f, _ in functions[k].most_common()],
                         "example": example_text(t.get("output", "")),
                         "example_of": f"{s.name} ({s.anon})" if names and s.name else s.anon,
                         "example_check": str(t["name"])})
    return mistakes


def _tally_checks(graded):
    """{check id: counts} over the class: items run and passed, per case and per student."""
    per = {}
    for s in graded:
        for t in s.tests:
            cid, name = check_of(t)
            c = per.setdefault(cid, {"id": cid, "name": name, "section": _section(t),
                                     "number": str(t.get("number", "")), "cases": set(),
                                     "items": 0, "passed": 0, "points": defaultdict(float),
                                     "max": defaultdict(float), "kinds": Counter(),
                                     "case_pass": Counter(), "case_items": Counter(),
                                     "trouble_students": set()})
            case = t["extra_data"]["nodeid"]
            c["cases"].add(case)
            if t.get("status") not in ("passed", "failed"):
                continue            # skipped: not counted
            ok = t["status"] == "passed"
            c["items"] += 1
            c["passed"] += ok
            c["case_items"][case] += 1
            c["case_pass"][case] += ok
            c["points"][s.key] += float(t["score"])
            c["max"][s.key] += float(t["max_score"])
            kind = failure_kind(t)
            if kind in TROUBLE:
                c["kinds"][kind] += 1
                c["trouble_students"].add(s.key)
    return per


def _check_rows(per):
    """(checks, trouble): a row per check that ran, flagged when (almost) nobody or everybody
    passes; and the checks that timed out, crashed or raised, most often first."""
    checks, trouble = [], []
    for c in sorted(per.values(), key=lambda c: (_natural(c["number"]), c["name"])):
        if not c["items"]:
            continue
        rate = c["passed"] / c["items"]
        flag = ("almost nobody passes" if rate <= NOBODY else
                "(almost) everybody passes" if rate >= EVERYBODY else "")
        never = sorted(k.split("[", 1)[1].rstrip("]") for k, n in c["case_items"].items()
                       if "[" in k and n and c["case_pass"][k] / n <= NOBODY)
        entry = {"id": c["id"], "name": c["name"], "section": c["section"],
                 "cases": len(c["cases"]), "items": c["items"], "passed": c["passed"],
                 "pass_rate": rate, "students": len(c["points"]),
                 "mean": sum(c["points"].values()) / max(1, len(c["points"])),
                 "max": max(c["max"].values(), default=0.0), "flag": flag,
                 "hard_cases": never if rate > NOBODY else []}
        checks.append(entry)
        if c["kinds"]:
            trouble.append(dict(entry, kinds=dict(c["kinds"]), total=sum(c["kinds"].values()),
                                trouble_students=len(c["trouble_students"])))
    trouble.sort(key=lambda t: (-t["total"], t["name"]))
    return checks, trouble


def _section(test):
    keys = {s.key for s in config.SECTIONS}
    return next((tag for tag in test.get("tags", []) if tag in keys), "")


def _natural(text):
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


# ----------------------------------------------------------------------------------------------
# Pictures (matplotlib) and CSV
# ----------------------------------------------------------------------------------------------

def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlib(MATPLOTLIB_HELP) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def figures(summary):
    """{name: PNG bytes}: the score histogram, points per section, the commonest mistakes."""
    plt = _pyplot()
    blue, grey = "#3b6ea8", "#c9d3df"
    out = {}
    totals = [s.score for s in summary.graded]
    top = max([s.max_score for s in summary.graded] + [1.0])
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bins = [i * top / 20 for i in range(21)]
    ax.hist(totals, bins=bins, color=blue, edgecolor="white")
    ax.set_xlabel(f"total points (of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({len(totals)} graded)")
    ax.set_xlim(0, top)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    out["scores"] = _png(fig)
    plt.close(fig)

    if summary.sections:
        labels = [f"{n} {t}" for _, n, t, _, _ in summary.sections]
        shares = [100 * e / p for _, _, _, e, p in summary.sections]
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(labels) + 1.0))
        y = range(len(labels))
        ax.barh(y, [100] * len(labels), color=grey, height=0.6)
        ax.barh(y, shares, color=blue, height=0.6)
        for i, v in zip(y, shares):
            ax.text(min(v, 100) + 1, i, f"{v:.0f}%", va="center", fontsize=8)
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 108)
        ax.set_xlabel("share of the section's points earned (graded students)")
        ax.set_title("Points earned per notebook section")
        ax.spines[["top", "right"]].set_visible(False)
        out["sections"] = _png(fig)
        plt.close(fig)

    if summary.mistakes:
        shown = summary.mistakes[:12]
        fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(shown) + 1.0))
        y = range(len(shown))
        ax.barh(y, [m["students"] for m in shown], color="#b8573b", height=0.6)
        ax.set_yticks(list(y), [m["key"] for m in shown], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("students")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("Commonest mistakes (diagnosis keys)")
        ax.spines[["top", "right"]].set_visible(False)
        out["mistakes"] = _png(fig)
        plt.close(fig)
    return out


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _who(student, names):
    return f"{student.name} ({student.key})" if names and student.name else (
        student.key if names else student.anon)


def write_csvs(out, summary, names=False):
    """The page's numbers as CSV files in `out`; returns their names."""
    top = max([s.max_score for s in summary.graded] + [1.0])
    files = {
        "scores.csv": (["student", "total", "max_score", "status"],
                       [[_who(s, names), f"{s.score:g}", f"{s.max_score:g}", s.status]
                        for s in summary.students]),
        "score_histogram.csv": (["from", "to", "students"], _histogram(summary, top)),
        "sections.csv": (["section", "title", "earned", "possible", "share"],
                         [[n, t, f"{e:g}", f"{p:g}", f"{e / p:.4f}"]
                          for _, n, t, e, p in summary.sections]),
        "mistakes.csv": (["key", "title", "students", "functions"],
                         [[m["key"], m["title"], m["students"], "; ".join(m["functions"])]
                          for m in summary.mistakes]),
        "checks.csv": (["check", "section", "cases", "items", "passed", "pass_rate",
                        "mean_points", "max_points", "flag", "cases_almost_nobody_passes"],
                       [[c["name"], c["section"], c["cases"], c["items"], c["passed"],
                         f"{c['pass_rate']:.4f}", f"{c['mean']:.4f}", f"{c['max']:g}",
                         c["flag"], "; ".join(c["hard_cases"])] for c in summary.checks]),
        "trouble.csv": (["check", "students"] + list(TROUBLE) + ["total"],
                        [[t["name"], t["trouble_students"]]
                         + [t["kinds"].get(k, 0) for k in TROUBLE] + [t["total"]]
                         for t in summary.trouble]),
        "not_graded.csv": (["student", "why"],
                           [[_who(s, names), why] for s, why in summary.ungraded]),
        "skipped.csv": (["file", "why"], [[p if names else anon, why]
                                          for anon, p, why in summary.skipped]),
    }
    for name, (header, rows) in files.items():
        _write_csv(out / name, header, rows)
    return list(files)


def _histogram(summary, top):
    edges = [i * top / 20 for i in range(21)]
    counts = [0] * 20
    for s in summary.graded:
        i = min(19, int(s.score / top * 20)) if top else 0
        counts[max(0, i)] += 1
    return [[f"{edges[i]:g}", f"{edges[i + 1]:g}", counts[i]] for i in range(20)]


# ----------------------------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:#1d2733;background:#f4f6f9;margin:0}
main{max-width:1060px;margin:0 auto;padding:24px 28px 60px}
header{background:#1f3a5a;color:#fff;padding:22px 28px}
header h1{margin:0;font-size:24px;max-width:1060px;margin:0 auto}
header p{margin:6px auto 0;max-width:1060px;opacity:.85}
h2{margin:34px 0 10px;font-size:19px;border-bottom:2px solid #d5dde7;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border:1px solid #dbe2ea;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px;color:#1f3a5a}
.card span{font-size:12px;color:#5b6b7c;text-transform:uppercase;letter-spacing:.04em}
figure{background:#fff;border:1px solid #dbe2ea;border-radius:8px;margin:12px 0;padding:10px;
  text-align:center}
figure img{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13.5px;margin:8px 0}
th,td{border-bottom:1px solid #e3e8ee;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#e9eef4;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
code.key{color:#5b6b7c;font-size:11.5px}
.flag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
.flag.low{background:#fbe1dc;color:#8a2b14}.flag.high{background:#e2f0e1;color:#2d5e2a}
.bar{background:#e3e8ee;border-radius:3px;height:9px;width:90px;display:inline-block;
  vertical-align:middle;margin-right:6px}
.bar i{display:block;height:9px;border-radius:3px;background:#3b6ea8}
details{background:#fff;border:1px solid #dbe2ea;border-radius:6px;margin:8px 0;padding:6px 12px}
details:target{border-color:#b8573b;box-shadow:0 0 0 2px #f3c7b9}
summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f9fb;padding:10px;border-radius:4px;
  font-size:12.5px;margin:8px 0}
.muted{color:#5b6b7c;font-size:13px}
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _img(pngs, name, alt):
    if name not in pngs:
        return ""
    data = base64.b64encode(pngs[name]).decode("ascii")
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>'


def _anchor(key):
    return "ex-" + "".join(c if c.isalnum() else "-" for c in key)


def render(summary, pngs, names=False, title="cs260 class report"):
    """The page as one HTML string."""
    parts = (_head_html(summary, pngs, names, title) + _mistakes_html(summary, pngs)
             + _checks_html(summary) + _trouble_html(summary)
             + _ungraded_html(summary, names) + _examples_html(summary))
    return "\n".join(parts)


def _head_html(s, pngs, names, title):
    """The page's head, the summary cards and section 1 (scores, points per section)."""
    totals = [x.score for x in s.graded]
    mean = sum(totals) / len(totals) if totals else 0.0
    median = sorted(totals)[len(totals) // 2] if totals else 0.0
    full = sum(1 for x in s.graded if x.max_score and x.score >= x.max_score - 1e-9)
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head><body>
<header><h1>{_e(title)}</h1>
<p>{len(s.students)} submissions read: {len(s.graded)} graded, {len(s.ungraded)} not graded or
with nothing usable (section 4, left out of the statistics); {len(s.skipped)} result files
skipped. {'Names shown (--names).' if names else 'Anonymised: students appear as stable ids.'}
</p></header><main>
<div class="cards">
<div class="card"><span>graded</span><b>{len(s.graded)}</b></div>
<div class="card"><span>mean score</span><b>{mean:.1f}</b></div>
<div class="card"><span>median</span><b>{median:g}</b></div>
<div class="card"><span>full marks</span><b>{full}</b></div>
<div class="card"><span>distinct mistakes</span><b>{len(s.mistakes)}</b></div>
<div class="card"><span>not graded / nothing usable</span><b>{len(s.ungraded)}</b></div>
</div>
<h2 id="scores">1. Score distribution</h2>
{_img(pngs, "scores", "histogram of total scores")}
{_img(pngs, "sections", "share of points earned per notebook section")}
<table><tr><th>section</th><th>title</th><th>points earned</th><th>share</th></tr>
"""]
    for _, number, stitle, earned, possible in s.sections:
        share = earned / possible
        parts.append(f'<tr><td>{_e(number)}</td><td>{_e(stitle)}</td>'
                     f'<td class="n">{earned:g} / {possible:g}</td><td class="n">'
                     f'<span class="bar"><i style="width:{100 * share:.0f}%"></i></span>'
                     f'{100 * share:.0f}%</td></tr>')
    parts.append("</table>")
    return parts


def _mistakes_html(s, pngs):
    """Section 2: the common mistakes, commonest first, each linked to an example message."""
    parts = ['<h2 id="mistakes">2. Common mistakes</h2>'
             '<p class="muted">Every likely cause the checks diagnosed, by its stable key, '
             'with the number of students who hit it (at least once) and the functions '
             'where it showed up. The example is one student\'s message, anonymised.</p>',
             _img(pngs, "mistakes", "bar chart of the commonest mistakes")]
    if not s.mistakes:
        return parts + ["<p>No diagnosis in these results.</p>"]
    parts.append("<table><tr><th>students</th><th>mistake (diagnosis key)</th>"
                 "<th>functions</th><th>example</th></tr>")
    for m in s.mistakes:
        shown = m["functions"][:FUNCTIONS_SHOWN]
        more = len(m["functions"]) - len(shown)
        funcs = ", ".join(f"<code>{_e(f)}</code>" for f in shown) + (
            f' <span class="muted">+{more} more</span>' if more > 0 else "")
        parts.append(f'<tr><td class="n">{m["students"]}</td><td>{_e(m["title"])}<br>'
                     f'<code class="key">{_e(m["key"])}</code></td><td>{funcs}</td>'
                     f'<td><a href="#{_anchor(m["key"])}">example</a></td></tr>')
    parts.append("</table>")
    return parts


def _checks_html(s):
    """Section 3: pass rate and mean points per check, flagged at the extremes."""
    parts = ['<h2 id="checks">3. Per check</h2>'
             f'<p class="muted">Pass rate over the cases run (a check has one item per '
             f'case); mean points per graded student. Flags: pass rate at most '
             f'{NOBODY:.0%} (a broken check or an unclear TODO?) or at least '
             f'{EVERYBODY:.0%}.</p><table><tr><th>check</th><th>section</th>'
             '<th>cases</th><th>pass rate</th><th>mean points</th><th>flag</th></tr>']
    for c in s.checks:
        cls = "low" if c["pass_rate"] <= NOBODY else "high"
        flag = f'<span class="flag {cls}">{_e(c["flag"])}</span>' if c["flag"] else ""
        hard = (f'<br><span class="muted">cases almost nobody passes: '
                f'{_e(", ".join(c["hard_cases"]))}</span>' if c["hard_cases"] else "")
        parts.append(f'<tr><td>{_e(c["name"])}{hard}</td><td>{_e(c["section"])}</td>'
                     f'<td class="n">{c["cases"]}</td><td class="n"><span class="bar"><i '
                     f'style="width:{100 * c["pass_rate"]:.0f}%"></i></span>'
                     f'{100 * c["pass_rate"]:.0f}%</td>'
                     f'<td class="n">{c["mean"]:.2f} / {round(c["max"], 2):g}</td>'
                     f'<td>{flag}</td></tr>')
    parts.append("</table>")
    return parts


def _trouble_html(s):
    """The checks that time out, crash or raise, counted by kind."""
    parts = ['<h3>Checks that time out, crash or raise</h3>']
    if not s.trouble:
        return parts + ["<p>None.</p>"]
    parts.append('<p class="muted">Failed cases by kind (a student counts once per case); '
                 'students: how many hit any of them in this check.</p>'
                 "<table><tr><th>check</th><th>students</th>"
                 + "".join(f"<th>{k}</th>" for k in TROUBLE) + "<th>total</th></tr>")
    for t in s.trouble:
        parts.append(f"<tr><td>{_e(t['name'])}</td><td class=\"n\">{t['trouble_students']}</td>"
                     + "".join(f'<td class="n">{t["kinds"].get(k, 0)}</td>' for k in TROUBLE)
                     + f'<td class="n">{t["total"]}</td></tr>')
    parts.append("</table>")
    return parts


def _ungraded_html(s, names):
    """Section 4: submissions not graded or with nothing usable, and result files skipped."""
    parts = ['<h2 id="ungraded">4. Not graded, or nothing usable found</h2>']
    if s.ungraded:
        parts.append("<table><tr><th>student</th><th>why</th></tr>")
        for student, why in s.ungraded:
            parts.append(f"<tr><td>{_e(_who(student, names))}</td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Every submission was graded.</p>")
    if s.skipped:
        parts.append("<h3>Result files skipped</h3><table><tr><th>file</th><th>why</th></tr>")
        for anon, path, why in s.skipped:
            shown = path if names else f"{anon}/results.json"
            parts.append(f"<tr><td><code>{_e(shown)}</code></td><td>{_e(why)}</td></tr>")
        parts.append("</table>")
    return parts


def _examples_html(s):
    """One example message per mistake (the targets of section 2's links), and the page's end."""
    parts = ['<h2 id="examples">Example messages</h2>']
    for m in s.mistakes:
        parts.append(f'<details id="{_anchor(m["key"])}"><summary><code>{_e(m["key"])}</code>'
                     f' &mdash; {_e(m["title"])}</summary><p class="muted">{_e(m["example_check"])}'
                     f' (student {_e(m["example_of"])})</p><pre>{_e(m["example"])}</pre>'
                     f'</details>')
    parts.append('<p class="muted">The numbers are also in the CSV files beside this page.</p>'
                 "</main></body></html>\n")
    return parts


def write_report(paths, out_dir, names=False):
    """Read the results under `paths`, write out_dir/index.html and the CSVs; returns the
    page's path. Raises MissingMatplotlib before writing anything when matplotlib is absent."""
    _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(read_inputs(paths), names=names)
    pngs = figures(summary)
    write_csvs(out, summary, names)
    page = out / "index.html"
    tmp = page.with_name(".index.html.part")
    tmp.write_text(render(summary, pngs, names), encoding="utf-8")
    os.replace(tmp, page)
    return page


def add_arguments(parser):
    """The options of `python -m grader report`."""
    parser.add_argument("results", nargs="*", metavar="RESULTS", default=["."],
                        help="grade-all output folders, folders holding one results.json per "
                             "submission at any depth (a Gradescope export), or results.json "
                             "files (default: the current folder)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where index.html and the CSV files go")
    parser.add_argument("--names", action="store_true",
                        help="show students' names (from gradebook.csv) and folder names; "
                             "default: anonymous stable ids")


def run(args):
    """`python -m grader report`: write the page and CSVs; the exit status (2: no matplotlib)."""
    try:
        page = write_report(args.results, args.out, names=args.names)
    except MissingMatplotlib as e:
        print(f"error: {e}")
        return 2
    print(f"class report: {page}")
    return 0
