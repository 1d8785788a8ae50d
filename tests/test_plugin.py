"""The grading plugin (grader/plugin.py) and its reports (grader/report.py).

Three layers: the scoring and report functions on synthetic results; the plugin on a tiny fake
check module run in a subprocess (fast, no student code); and `pytest grader` end to end on the
starter code.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from grader import config, report
from grader.report import ERROR, FAILED, PASSED, SKIPPED, ItemResult
from grading import REPO, grade, validate_results

# ----------------------------------------------------------------------------------------------
# Scoring and reports on synthetic results
# ----------------------------------------------------------------------------------------------


def _item(outcome, weight=2.0, section="conv_forward", check="conv_forward_naive: matches", case="",
          **kw):
    return ItemResult(nodeid=f"grader/test_x.py::t[{case}]", check=check, case=case,
                      section=section, weight=weight, outcome=outcome, **kw)


def test_weight_is_split_over_cases():
    assert report.split_weight(6, 3) == 2.0
    assert report.split_weight(5, 1) == 5.0
    assert sum(report.split_weight(14, 3) for _ in range(3)) == pytest.approx(14)


def test_case_numbers_follow_the_check_number():
    assert report.case_number("2.1") == "2.1"
    assert [report.case_number("2.1", k) for k in range(3)] == ["2.1.1", "2.1.2", "2.1.3"]
    assert report.case_number("", 0) == ""


def test_earned_and_possible_points():
    passed, failed, error, skipped = (_item(o) for o in (PASSED, FAILED, ERROR, SKIPPED))
    not_run = _item("")
    assert [r.earned for r in (passed, failed, error, skipped)] == [2.0, 0.0, 0.0, 0.0]
    assert [r.possible for r in (passed, failed, error, skipped, not_run)] == [2.0, 2.0, 2.0, 0, 0]
    assert report.totals([passed, failed, skipped, not_run]) == (2.0, 4.0, 2.0)


def test_section_rows_follow_config_order_and_skip_empty_sections():
    results = [_item(PASSED, section="pool_forward"), _item(FAILED, section="prereq"),
               _item(SKIPPED, weight=3, section="convnet"), _item(PASSED, section="nonsense")]
    rows = report.section_rows(results, config.SECTIONS)
    assert [r[0] for r in rows] == ["prereq", "pool_forward", "convnet", "other"]
    assert rows[2][2:] == (0.0, 0.0, 3.0)  # convnet: nothing possible, 3 points skipped


def test_table_shows_sections_total_failures_and_skipped_points():
    results = [
        _item(PASSED, case="a"),
        _item(FAILED, case="b", reason="conv_forward_naive is not implemented"),
        _item(FAILED, case="c", reason="conv_forward_naive is not implemented"),
        _item(SKIPPED, weight=2.5, section="convnet", check="ThreeLayerConvNet: trains",
              reason="CIFAR-10 not found"),
    ]
    text = "\n".join(report.format_table(results, config.SECTIONS))
    assert re.search(r"Convolution: naive forward pass\s+2\.00 /\s+6\.00", text)
    assert re.search(r"Total\s+2\.00 /\s+6\.00", text)
    # Cases failing for the same reason are listed together with their ids.
    assert "conv_forward_naive: matches [b, c]" in text
    assert "conv_forward_naive is not implemented" in text
    assert "2.50 points skipped" in text and "CIFAR-10 not found" in text


@pytest.mark.parametrize("kw, says", [
    (dict(outcome=PASSED), "Passed."),
    (dict(outcome=PASSED, credit=0.5), "Partly earned (hidden case): 50% of its points"),
    (dict(outcome=FAILED, failure="value"), "the values differ from the reference"),
    (dict(outcome=FAILED, failure="naive_rule"), config.NAIVE_RULE),
    (dict(outcome=FAILED, failure="exception"), "raised an exception"),
])
def test_a_hidden_check_says_what_went_wrong_in_the_graders_words(kw, says):
    item = _item(visibility="after_published", message="student text [[1.5, 2.5]]",
                 student_output="printed 1.5", **kw)
    text = report.hidden_output(item)
    assert says in text
    assert "1.5" not in text and "student text" not in text


def test_a_refused_call_to_the_fast_layers_is_a_naive_rule_failure():
    from grader.plugin import failure_data
    from grader.sandbox import naive
    from grader.sandbox.client import StudentError
    refused = StudentError("exception", "m", error_type=naive.REFUSAL, error_message="x")
    other = StudentError("exception", "m", error_type="ValueError", error_message="x")
    assert failure_data(refused)[0] == "naive_rule"
    assert failure_data(other)[0] == "exception"
    assert f"class {naive.REFUSAL}(" in naive.stub_source("fast_layers", ["conv_forward_fast"])


def test_truncate_keeps_start_and_end():
    text = "start" + "x" * 10_000 + "end"
    cut = report.truncate(text, 300)
    assert cut.startswith("start") and cut.endswith("end") and len(cut) < 400
    assert report.truncate("short", 300) == "short"


def test_one_line_takes_the_first_nonblank_line():
    assert report.one_line("\n  first line  \nsecond") == "first line"
    assert len(report.one_line("y" * 500)) == report.REASON_CHARS


def test_results_json_is_valid_and_scores_what_was_earned():
    results = [
        _item(PASSED, case="a", number="2.1.1", tags=["conv_forward_naive", "conv_forward"]),
        _item(FAILED, case="b", number="2.1.2", reason="wrong", message="wrong\nmax error 1.0",
              student_output="debug print"),
        _item(ERROR, case="c", internal=True, reason="internal grader error: KeyError",
              message="internal grader error: ...\nTraceback"),
        _item(SKIPPED, weight=3, reason="no data"),
        _item("", weight=5),  # did not run: left out
    ]
    d = report.results_json(results, output="summary", execution_time=1.234, output_limit=1000)
    validate_results(d)
    assert d["score"] == 2.0 and d["execution_time"] == 1.23 and d["output"] == "summary"
    tests = d["tests"]
    assert len(tests) == 4
    assert [t.get("status") for t in tests] == ["passed", "failed", "failed", None]
    assert [t["max_score"] for t in tests] == [2.0, 2.0, 2.0, 0.0]
    assert tests[0]["name"] == "conv_forward_naive: matches [a]" and "output" not in tests[0]
    assert tests[0]["number"] == "2.1.1"
    # Markdown: the first line, the details and the student's prints fenced.
    assert tests[1]["output"].startswith("wrong\n\n```\nmax error 1.0\n```")
    assert tests[1]["output_format"] == d["output_format"] == "md"
    assert report.OUTPUT_HEADING + "\n\n```\ndebug print\n```" in tests[1]["output"]
    assert tests[3]["name"].endswith("(skipped)") and "no data" in tests[3]["output"]


def test_summary_output_mentions_skips_internal_errors_and_the_submission():
    results = [_item(PASSED), _item(SKIPPED), _item(ERROR, internal=True)]
    text = report.summary_output(results, "Expected layers.py and cnn.py.", ["Stopped early."])
    assert "2.00 / 4.00" in text and "skipped" in text and report.INTERNAL_ERROR in text
    assert "Expected layers.py" in text and text.endswith("Stopped early.")


def _hidden(outcome, case="conv_forward.h_secret", **kw):
    return _item(outcome, case=case, check="conv_forward_naive: hidden cases",
                 visibility="after_published", **kw)


@pytest.mark.parametrize("failing", ["hidden", "visible", "both"])
def test_visible_summary_states_only_visible_points_when_hidden_checks_ran(failing):
    visible = [_item(PASSED, case="a"), _item(FAILED if failing != "hidden" else PASSED, case="b")]
    hidden = [_hidden(FAILED if failing != "visible" else PASSED),
              _hidden(PASSED, case="conv_forward.h_other")]
    results = visible + hidden
    notes = [f"{report.INTERNAL_ERROR} while recording {hidden[0].nodeid}: boom",
             f"Cleaning up after {hidden[1].name} failed"]
    text = report.visible_summary_output(results, "layers.py: using cs260/layers.py.", notes)
    earned = 4.0 if failing == "hidden" else 2.0
    fix = text.split("\n\n", 1)[0] if text.startswith("What to fix first") else ""
    assert "h_secret" not in fix
    text = text[len(fix):].lstrip("\n")
    assert text.startswith(f"Visible checks: {earned:.2f} / 4.00 points. {report.HIDDEN_RAN_NOTE}")
    assert "h_secret" not in text and "h_other" not in text and "hidden cases" not in text
    assert "a hidden check" in text and "layers.py: using" in text
    total_earned = sum(r.earned for r in results)
    assert "8.00" not in text and f"{total_earned:.2f} /" not in text   # the full total: 8
    # The full score stays in results.json's score; the terminal table shows every check.
    assert report.results_json(results, output=text, execution_time=0,
                               output_limit=100)["score"] == total_earned
    table = "\n".join(report.format_table(results, config.SECTIONS))
    assert f"{total_earned:.2f} /    8.00" in table
    assert ("h_secret" in table) == (failing != "visible")   # failed checks are listed


def test_visible_summary_is_the_full_summary_without_hidden_checks():
    results = [_item(PASSED), _item(FAILED), _hidden("")]   # the hidden one did not run
    assert report.visible_summary_output(results, "s", ["n"]) == \
        report.summary_output(results, "s", ["n"])


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"score": 100}')
    report.write_json_atomic(path, {"score": 1.5})
    assert json.loads(path.read_text()) == {"score": 1.5}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


@pytest.mark.parametrize("bad", [{"score": object()}, {"score": float("nan")}], ids=["object", "nan"])
def test_atomic_write_keeps_the_old_file_if_serialising_fails(tmp_path, bad):
    path = tmp_path / "results.json"
    path.write_text('{"score": 7}')
    with pytest.raises((TypeError, ValueError)):
        report.write_json_atomic(path, bad)
    assert path.read_text() == '{"score": 7}'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_atomic_write_replaces_a_symlink_without_following_it(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    path = tmp_path / "results.json"
    path.symlink_to(target)
    report.write_json_atomic(path, {"score": 0})
    assert not path.is_symlink() and target.read_text() == "keep me"


# ----------------------------------------------------------------------------------------------
# The plugin on fake checks (a subprocess with grader/conftest.py's hooks)
# ----------------------------------------------------------------------------------------------

FAKE_CHECKS = '''
import pytest
from types import SimpleNamespace
from gradescope_utils.autograder_utils.decorators import number, tags, visibility, weight
from grader.checks.checking import require_file
from grader.sandbox.client import StudentError


@weight(6)
@number("2.1")
@visibility("after_published")
@tags("conv_forward_naive", "conv_forward")
@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_conv(case):
    """conv_forward_naive matches the notebook

    More words that are not the title.
    """
    if case == "b":
        raise StudentError("exception", "conv_forward_naive raised ValueError: bad shape",
                           "Traceback (student frames)\\n  File layers.py, line 3", "hello from student")
    if case == "c":  # as grader/feedback/compare.py reports a wrong result
        raise AssertionError("conv_forward_naive: out differs from the expected output\\nmax error 1.0")


@weight(2)
@number("0.1")
@tags("affine_forward", "prereq")
def test_internal():
    """affine_forward matches"""
    {}["grader bug"]


@weight(3)
@number("6.1")
@tags("ThreeLayerConvNet", "convnet")
def test_skipped():
    """ThreeLayerConvNet trains"""
    pytest.skip("CIFAR-10 not found")


@weight(1)
@number("0.2")
@tags("relu_forward", "prereq")
def test_missing_file():
    """relu_forward matches"""
    require_file(SimpleNamespace(problems={"layers.py": "layers.py not found in the submission"}),
                 "layers.py")
'''


def run_fake(tmp_path, *args, prewritten=None, extra_files=None):
    """Run the fake checks with the grading plugin; (parsed results.json, completed process)."""
    (tmp_path / "conftest.py").write_text((REPO / "grader" / "conftest.py").read_text())
    (tmp_path / "test_fake.py").write_text(FAKE_CHECKS)
    for name, text in (extra_files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    results = tmp_path / "results.json"
    if prewritten is not None:
        results.write_text(prewritten)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]))
    proc = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "--rootdir", str(tmp_path),
                           "--results-json", str(results), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return json.loads(results.read_text()), proc


def test_a_check_that_hangs_in_grader_code_is_stopped_by_pytest_timeout(tmp_path, monkeypatch):
    hang = """
        import time
        from gradescope_utils.autograder_utils.decorators import number, tags, weight
        from grader import config

        config.CHECK_TIMEOUT_S = 1.0  # the plugin reads it when it marks the items

        @weight(1)
        @number("0.3")
        @tags("relu_backward", "prereq")
        def test_hang():
            \"\"\"relu_backward hangs (a grader bug)\"\"\"
            time.sleep(60)
        """
    d, proc = run_fake(tmp_path, "-p", "no:cacheprovider", "-k", "hang",
                       extra_files={"test_hang.py": hang})
    validate_results(d)
    (t,) = [t for t in d["tests"] if t["name"].startswith("relu_backward")]
    assert t["score"] == 0 and "Timeout" in t["output"], t["output"]


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    return run_fake(tmp_path_factory.mktemp("fake"), "-p", "no:cacheprovider",
                    prewritten='{"score": 100, "output": "written by the submission"}')


def test_fake_run_scores_each_case(fake_run):
    d, proc = fake_run
    validate_results(d)
    tests = {t["name"]: t for t in d["tests"]}
    conv = [tests[f"conv_forward_naive: conv_forward_naive matches the notebook [{c}]"] for c in "abc"]
    assert [t["max_score"] for t in conv] == [2.0, 2.0, 2.0]
    assert [t["score"] for t in conv] == [2.0, 0.0, 0.0]
    assert [t["number"] for t in conv] == ["2.1.1", "2.1.2", "2.1.3"]
    assert all(t["visibility"] == "after_published" for t in conv)
    assert conv[0]["tags"] == ["conv_forward_naive", "conv_forward"]
    # The pre-written file is gone; the score is what was earned.
    assert d["score"] == 2.0 and "written by the submission" not in d["output"]


def test_fake_run_reports_student_failures_without_grader_tracebacks(fake_run):
    d, proc = fake_run
    tests = {t["name"]: t for t in d["tests"]}
    # These checks are hidden: results.json has grader text only, nothing the student's code
    # raised or printed (docs/SECURITY.md, class 1); pytest's report (the log) has it all.
    b = tests["conv_forward_naive: conv_forward_naive matches the notebook [b]"]["output"]
    assert b.startswith("Failed (hidden case)") and "bad shape" not in b and "hello" not in b
    c = tests["conv_forward_naive: conv_forward_naive matches the notebook [c]"]["output"]
    assert c.startswith("Failed (hidden case): the values differ")
    assert "conv_forward_naive raised ValueError: bad shape" in proc.stdout
    missing = tests["relu_forward: relu_forward matches"]
    assert missing["output"] == "`layers.py` not found in the submission"
    assert missing["max_score"] == 1.0
    # The terminal shows the same message (grouped by function, grader/summary.py), never the
    # check's traceback; pytest's own report of every failure is left out.
    for text in (b, c, missing["output"], proc.stdout):
        assert "test_fake.py:" not in text.replace("test_fake.py::", "")
    assert "out differs from the expected output" in proc.stdout
    assert "= FAILURES =" not in proc.stdout


def test_fake_run_flags_internal_errors_with_the_traceback(fake_run):
    d, proc = fake_run
    out = {t["name"]: t for t in d["tests"]}["affine_forward: affine_forward matches"]["output"]
    assert out.startswith(report.INTERNAL_ERROR) and "KeyError" in out and "test_fake.py" in out
    assert report.INTERNAL_ERROR in d["output"]


def test_fake_run_does_not_count_skipped_points(fake_run):
    d, proc = fake_run
    skipped = {t["name"]: t for t in d["tests"]}["ThreeLayerConvNet: ThreeLayerConvNet trains (skipped)"]
    assert skipped["max_score"] == 0 and "status" not in skipped
    assert "CIFAR-10 not found" in skipped["output"]
    assert re.search(r"Total\s+2\.00 /\s+9\.00", proc.stdout)
    assert "3.00 points skipped" in proc.stdout
    assert "conv_forward_naive: conv_forward_naive matches the notebook [b, c]" not in proc.stdout


def test_selecting_cases_does_not_change_their_points(tmp_path):
    d, proc = run_fake(tmp_path, "-p", "no:cacheprovider", "-k", "conv and b")
    validate_results(d)
    assert [(t["name"], t["max_score"]) for t in d["tests"]] == [
        ("conv_forward_naive: conv_forward_naive matches the notebook [b]", 2.0)]
    # test_conv is after_published: students are told about visible checks only, the table all.
    assert "only 0 of 3 visible checks were selected" in d["output"]
    assert "only 1 of 6 checks were selected" in proc.stdout


def test_last_failed_rerun_keeps_case_points(tmp_path):
    run_fake(tmp_path)
    d, proc = run_fake(tmp_path, "--lf")
    assert "run-last-failure" in proc.stdout or "rerun previous" in proc.stdout
    by_name = {t["name"]: t["max_score"] for t in d["tests"]}
    assert by_name["conv_forward_naive: conv_forward_naive matches the notebook [c]"] == 2.0
    assert not any(name.endswith("[a]") for name in by_name)


def test_stop_after_first_failure_says_what_did_not_run(tmp_path):
    d, proc = run_fake(tmp_path, "-p", "no:cacheprovider", "-x")
    validate_results(d)
    # The after_published test_conv runs last: the visible test_internal fails first.
    assert [t["name"] for t in d["tests"]] == ["affine_forward: affine_forward matches"]
    assert "stopped early" in d["output"] and "2 selected visible check(s) did not run" in d["output"]
    assert "5 selected check(s) did not run" in proc.stdout


def test_internal_pytest_error_still_writes_results(tmp_path):
    boom = {"boom.py": """
        def pytest_collection_finish(session):
            raise RuntimeError("boom in a plugin")
    """}
    d, proc = run_fake(tmp_path, "-p", "no:cacheprovider", "-p", "boom", extra_files=boom,
                       prewritten='{"score": 100}')
    validate_results(d)
    assert proc.returncode == 3  # pytest's INTERNAL_ERROR
    assert d["score"] == 0 and "boom in a plugin" in d["output"]


def test_verbose_and_quiet_runs_still_print_the_table(tmp_path):
    for flag in ("-v", "-q"):
        d, proc = run_fake(tmp_path, "-p", "no:cacheprovider", flag)
        validate_results(d)
        assert "cs260 grade" in proc.stdout and re.search(r"Total\s+2\.00 /\s+9\.00", proc.stdout)


# ----------------------------------------------------------------------------------------------
# `pytest grader` end to end on the starter code
# ----------------------------------------------------------------------------------------------

def test_default_submission_is_the_release_folder_else_the_starter(tmp_path):
    from grader.plugin import default_submission
    assert default_submission(tmp_path)[0] == REPO / "starter"
    (tmp_path / "cs260").mkdir()
    assert default_submission(tmp_path)[0] == (tmp_path / "cs260").resolve()


def test_plain_pytest_grader_collects_every_check_and_names_the_submission():
    proc = subprocess.run([sys.executable, "-m", "pytest", "grader", "--collect-only", "-p",
                           "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"cs260 grading: submission {REPO / 'starter'} (default: no ./cs260 here" in proc.stdout
    assert re.search(r"collected \d+ items", proc.stdout)


def _graded_names():
    """Functions and classes a check may grade: public names of the student's modules."""
    from conftest import load_tree
    cs = load_tree("solution")
    names = set()
    for module in (cs.layers, cs.layer_utils, cs.fast_layers, cs.classifiers.cnn):
        names |= {n for n in dir(module) if not n.startswith("_")}
    return names


@pytest.fixture(scope="module")
def starter_run():
    return grade(REPO / "starter")


def test_starter_gets_a_valid_zero(starter_run):
    assert starter_run.results is not None, starter_run.stdout + starter_run.stderr
    d = starter_run.results
    validate_results(d)
    assert d["score"] == 0
    assert d["tests"] and all(t["score"] == 0 for t in d["tests"])
    assert sum(t["max_score"] for t in d["tests"]) > 0
    assert report.INTERNAL_ERROR not in json.dumps(d)
    assert "cs260 grade" in starter_run.stdout


def test_every_check_name_begins_with_the_graded_name(starter_run):
    graded = _graded_names()
    for t in starter_run.results["tests"]:
        first = t["name"].split(":", 1)[0]
        assert first in graded, t["name"]
        assert t["tags"][0] == first


def test_a_subset_run_overwrites_a_prewritten_file(tmp_path, starter_run):
    path = tmp_path / "results.json"
    path.write_text('{"score": 100, "output": "pre-written"}')
    sub = grade(REPO / "starter", extra_args=["-k", "conv_forward"], results_path=path)
    d = json.loads(path.read_text())
    validate_results(d)
    assert d == sub.results and d["score"] == 0 and "pre-written" not in d["output"]
    full = {t["name"]: t["max_score"] for t in starter_run.results["tests"]}
    assert 0 < len(d["tests"]) < len(full)
    for t in d["tests"]:
        assert "conv_forward" in t["extra_data"]["nodeid"]
        assert t["max_score"] == full[t["name"]]
