"""The class report (`python -m grader report`), built from the session's class of graded
submissions (tests/classbatch.py, its size derived from its parts) plus three result files that
must be skipped (truncated, from another grader, a missing field): its counts, its anonymity,
`grade-all --report`, and the page opened in a real headless Chromium (screenshot non-blank,
pictures drawn, no console error).
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from classbatch import CATALOGUE_PICK, CORRECT, NOT_USABLE
from realistic_bugs import CORPUS

BROKEN = 5   # nothing usable, an empty folder, a syntax error, a hang, a crash (classbatch.py)
CLASS_SIZE = len(CORPUS) + len(CATALOGUE_PICK) + len(CORRECT) + BROKEN

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
NEEDS_MATPLOTLIB = 'the class report needs the report extra: pip install -e ".[report]"'


def grader_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def graded(class_batch, tmp_path_factory):
    """A copy of the class's grade-all folder with three bad result files added."""
    folder = tmp_path_factory.mktemp("report-input") / "graded"
    shutil.copytree(class_batch.out, folder)
    good = (folder / "correct_solution" / "results.json").read_text()
    for name, text in {
        "bad_truncated": good[: len(good) // 2],
        "bad_other_grader": json.dumps({"score": 7, "tests": [
            {"name": "Q1 compiles", "score": 7, "max_score": 10}]}),
        "bad_missing_field": json.dumps(dict(json.loads(good), tests=[
            {k: v for k, v in t.items() if k != "max_score"} for t in json.loads(good)["tests"]])),
    }.items():
        (folder / name).mkdir()
        (folder / name / "results.json").write_text(text)
    return folder


@pytest.fixture(scope="module")
def report(graded, tmp_path_factory):
    pytest.importorskip("matplotlib", reason=NEEDS_MATPLOTLIB)
    out = tmp_path_factory.mktemp("report")
    proc = grader_cli("report", graded, "--out", out)
    assert f"class report: {out / 'index.html'}" in proc.stdout
    return out


def test_results_files_are_found_at_any_depth_and_keyed_by_submission(tmp_path):
    from grader.tools.classreport.summary import find_results
    for rel in ("submission_1/results/results.json", "submission_2/results.json",
                "deep/a/results.json", "deep/b/results.json", ".hidden/results.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    keys = [k for k, _ in find_results([tmp_path])]
    assert keys == ["deep/a", "deep/b", "submission_1", "submission_2"]
    assert find_results([tmp_path / "submission_2" / "results.json"])[0][0] == "submission_2"


@pytest.mark.parametrize("text, why", [
    ("[1, 2]", "the JSON is not an object"),
    ('{"score": 1, "tests": {"a": 1}}', "tests is not a list"),
    ('{"output": "x", "tests": []}', "missing field: score"),
    ('{"score": 3, "tests": [{"name": "t", "score": 1, "max_score": 1, "extra_data": {"nodeid": '
     '"grader/test_prereq.py::test_relu_forward[c]"}}, {"name": "u", "score": "1", "max_score": 1,'
     ' "extra_data": {"nodeid": "grader/test_prereq.py::test_relu_forward[d]"}}]}',
     "test 2: score or max_score is not a number"),
])
def test_bad_result_files_are_skipped_with_the_reason(tmp_path, text, why):
    from grader.tools.classreport.summary import load_student
    (tmp_path / "results.json").write_text(text)
    student, reason = load_student("s", tmp_path / "results.json")
    assert student is None and why in reason


def test_a_fallback_results_json_means_not_graded(tmp_path):
    from grader.tools.classreport.summary import load_student
    from grader.report import fallback_json
    (tmp_path / "results.json").write_text(json.dumps(fallback_json(
        0, "Not graded: grading did not finish within 520 s.")))
    student, reason = load_student("s", tmp_path / "results.json")
    assert reason == "" and student.status == "not graded: Not graded: grading did not finish " \
                                              "within 520 s."


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def class_results(graded):
    """{submission: results.json} of the class as grade-all wrote it (the bad files left out)."""
    return {p.parent.name: json.loads(p.read_text()) for p in graded.glob("*/results.json")
            if not p.parent.name.startswith("bad_")}


def test_the_class_has_at_least_40_submissions_of_every_kind(class_batch):
    kinds = Counter(class_batch.kinds.values())
    assert sum(kinds.values()) >= 40
    assert kinds["bug"] == len(CORPUS) and kinds["correct"] == 3 and kinds["broken"] == BROKEN
    assert all(status == "graded" for status in class_batch.statuses.values())


def test_mistake_counts_are_exact(report, graded):
    found = {r["key"]: r for r in rows(report / "mistakes.csv")}
    # counted here from the results.json files, students whose files were found
    expected = Counter()
    for data in class_results(graded).values():
        if data["extra_data"].get("loader", {}).get("usable") == []:
            continue
        expected.update({k for t in data["tests"] for k in t["extra_data"].get("diagnoses", [])})
    assert {k: int(r["students"]) for k, r in found.items()} == dict(expected)
    # and what the class was built to contain
    assert int(found["conv_backward.pad0_empty_crop"]["students"]) == 3   # two bugs + one real
    assert found["conv_backward.pad0_empty_crop"]["functions"] == "conv_backward_naive"
    assert int(found["softmax_loss.no_max_shift"]["students"]) == 3
    assert int(found["numpy2.removed_alias"]["students"]) == 2
    assert int(found["spatial_batchnorm.reshape_without_transpose"]["students"]) == 2
    assert int(found["pool_backward.overwrite"]["students"]) == 2
    assert int(found["group_norm_backward.per_channel"]["students"]) == 2
    counts = [int(r["students"]) for r in rows(report / "mistakes.csv")]
    assert counts == sorted(counts, reverse=True)


def test_scores_sections_and_checks_are_exact(report, graded):
    results = class_results(graded)
    usable = {k: d for k, d in results.items() if k not in NOT_USABLE}
    scores = rows(report / "scores.csv")
    assert len(scores) == len(results) == CLASS_SIZE
    assert sorted(float(r["total"]) for r in scores) == sorted(d["score"] for d in results.values())
    hist = rows(report / "score_histogram.csv")
    assert sum(int(r["students"]) for r in hist) == len(usable) == CLASS_SIZE - len(NOT_USABLE)
    sections = {r["section"]: r for r in rows(report / "sections.csv")}
    earned = sum(d["extra_data"]["sections"]["conv_backward"][0] for d in usable.values())
    assert float(sections["3"]["earned"]) == pytest.approx(earned)
    checks = {r["check"]: r for r in rows(report / "checks.csv")}
    name = "relu_backward: dx matches the reference and the numeric gradient"
    items = [t for d in usable.values() for t in d["tests"] if t["name"].startswith(name + " [")]
    passed = sum(t["status"] == "passed" for t in items)
    assert int(checks[name]["items"]) == len(items) and int(checks[name]["passed"]) == passed
    trouble = {r["check"]: r for r in rows(report / "trouble.csv")}
    crashes = sum(t["extra_data"].get("failure") == "crash" for t in items)
    crashing = [t for t in results["broken_crash"]["tests"] if t["name"].startswith(name + " [")]
    # the crashing submission (os._exit in relu_backward) crashes on every relu_backward case
    assert crashing and crashes == len(crashing) and int(trouble[name]["crash"]) == crashes
    assert int(trouble[name]["students"]) == 1
    hang = [t for t in results["broken_hang"]["tests"]
            if t["extra_data"].get("failure") == "timeout"]
    assert hang and sum(int(r["timeout"]) for r in trouble.values()) == len(hang)


def test_not_graded_and_skipped_are_listed_with_the_reason(report):
    ungraded = rows(report / "not_graded.csv")
    assert len(ungraded) == 2
    whys = " ".join(r["why"] for r in ungraded)
    assert "my_layers_final.py" in whys and "found: no files" in whys
    whys = sorted(r["why"] for r in rows(report / "skipped.csv"))
    assert len(whys) == 3
    assert "from another grader" in whys[0]
    assert "missing field(s) max_score in test 1" in whys[1]
    assert "not valid JSON, truncated?" in whys[2]


def test_the_page_is_self_contained_in_order_and_anonymised(report, graded):
    page = (report / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    # nothing is fetched: no script, stylesheet link, import or remote source (a message may
    # quote a URL as text)
    assert not re.search(r"<script|<link|@import|url\(|(src|href)=\"(?!data:|#)", page)
    order = [page.index(f'id="{a}"') for a in ("scores", "mistakes", "checks", "ungraded")]
    assert order == sorted(order)
    assert 'href="#ex-conv-backward-pad0-empty-crop"' in page
    assert 'id="ex-conv-backward-pad0-empty-crop"' in page
    every_text = page + "".join(p.read_text() for p in report.glob("*.csv"))
    for name in class_results(graded):
        assert name not in every_text, f"{name} appears in the anonymised report"
    assert "printed by your code" not in page


def test_ids_are_stable_and_names_appear_only_with_names(graded, report, tmp_path):
    again = tmp_path / "again"
    grader_cli("report", graded, "--out", again)
    assert rows(again / "scores.csv") == rows(report / "scores.csv")
    named = tmp_path / "named"
    grader_cli("report", graded, "--out", named, "--names")
    students = {r["student"] for r in rows(named / "scores.csv")}
    assert {"rb_conv_crop_minus_pad", "broken_misnamed", *CORRECT} <= students
    skipped = {Path(r["file"]).parent.name for r in rows(named / "skipped.csv")}
    assert skipped == {"bad_truncated", "bad_other_grader", "bad_missing_field"}


def test_grade_all_report_prints_the_report_path(class_batch, tmp_path):
    pytest.importorskip("matplotlib", reason=NEEDS_MATPLOTLIB)
    out = tmp_path / "graded"
    shutil.copytree(class_batch.out, out)   # already graded: grade-all only writes the books
    proc = grader_cli("grade-all", class_batch.export, "--out", out, "--report")
    page = out / "report" / "index.html"
    assert f"class report: {page}" in proc.stdout.splitlines()[-1]
    assert page.is_file()


def test_missing_matplotlib_gives_a_clear_message(graded, tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from grader.__main__ import main\n"
            f"sys.exit(main(['report', {str(graded)!r}, '--out', {str(tmp_path / 'r')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert 'pip install -e ".[report]"' in proc.stdout
    assert not (tmp_path / "r" / "index.html").exists()


# ----------------------------------------------------------------------------------------------
# In a real browser
# ----------------------------------------------------------------------------------------------

def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed but CI=true: run .ci/install-extras")
    pytest.skip("chromium is not installed (Debian: apt-get install chromium, or run "
                ".ci/install-extras); the report's browser test needs it")


def open_in_chromium(page, tmp_path, screenshot):
    """Load `page` headless: (stderr log, DOM as rendered). Console messages reach the log."""
    exe = chromium()
    common = [exe, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0"]
    shot = subprocess.run(common + [f"--user-data-dir={tmp_path / 'profile-shot'}",
                                    "--window-size=1200,3000", f"--screenshot={screenshot}",
                                    page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    dom = subprocess.run(common + [f"--user-data-dir={tmp_path / 'profile-dom'}",
                                   "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    return shot.stderr + dom.stderr, dom.stdout


def console_errors(log):
    return [line for line in log.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "Failed to load resource" in line]


def test_console_error_detection_catches_a_broken_page(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><p>x</p><script>notAFunction();</script>"
                      "<img src='missing.png'></body></html>")
    log, _ = open_in_chromium(broken, tmp_path, tmp_path / "broken.png")
    assert console_errors(log), log[-2000:]


def test_the_page_renders_in_chromium(report, tmp_path):
    from PIL import Image, ImageStat
    shot = tmp_path / "report.png"
    log, dom = open_in_chromium(report / "index.html", tmp_path, shot)
    assert not console_errors(log), console_errors(log)
    assert "1. Score distribution" in dom and "2. Common mistakes" in dom
    assert dom.count("<img") == 3
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 3000)
    assert max(ImageStat.Stat(image).stddev) > 20, "the screenshot is blank"
    pixels = np.asarray(image).astype(int)

    def near(colour, region=slice(None)):
        return int((np.abs(pixels[region] - colour).max(axis=-1) < 12).sum())
    # the pictures are drawn: the histogram's bars (in the first 900 px) and the mistakes
    # chart's (a colour nothing else on the page uses)
    histogram, bars = near((0x3b, 0x6e, 0xa8), slice(0, 900)), near((0xb8, 0x57, 0x3b))
    assert histogram > 2000 and bars > 2000, (histogram, bars)
