"""The class report's numbers: reading results.json files and counting them (grader/tools/classreport/)."""
import csv
import hashlib
import json
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


def who(student, names):
    """How a student is shown: anonymous id, or with names=True the name and folder name."""
    return f"{student.name} ({student.key})" if names and student.name else (
        student.key if names else student.anon)
