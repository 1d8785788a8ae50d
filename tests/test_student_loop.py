"""The student's loop (issue 24): the names -k knows, the run order, the last screen, check()
from the notebook, the one-line ends of wrong starts, and results.json as Markdown."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from grader import config, markdown, notebook_check, report, selection, startup
from grading import REPO, grade, validate_results

# Prints "SELECTED <nodeid> <graded name>" for every item a run selects (a pytest plugin).
COLLECTOR = '''
def pytest_collection_finish(session):
    for item in session.items:
        fn = getattr(item, "function", None)
        tags = getattr(fn, "__tags__", ()) or ("?",)
        print("SELECTED", item.nodeid, tags[0])
'''


def selected(tmp_path, *args):
    """[(nodeid, graded name)] that `pytest grader --co *args` selects, and its stdout."""
    (tmp_path / "kcollect.py").write_text(COLLECTOR)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "grader", "--co", "-q", "-p",
                           "no:cacheprovider", "-p", "kcollect", "--submission", "starter", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    found = [tuple(line.split()[1:3]) for line in proc.stdout.splitlines()
             if line.startswith("SELECTED ")]
    return found, proc.stdout


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    found, _ = selected(tmp_path_factory.mktemp("all"))
    assert len(found) == selection.expected_items(config.CHECKS)
    return found


def test_k_with_each_graded_name_runs_exactly_its_checks(everything, tmp_path):
    names = list(dict.fromkeys(name for _, name in everything))
    assert len(names) == 18 and "ThreeLayerConvNet" in names
    for name in names:
        found, out = selected(tmp_path, "-k", name)
        want = sorted(nodeid for nodeid, graded in everything if graded == name)
        assert sorted(nodeid for nodeid, _ in found) == want, (name, out[-2000:])


def test_k_with_a_short_form_runs_the_functions_it_stands_for(everything, tmp_path):
    for short in ("max_pool", "spatial_groupnorm", "conv_backward", "relu"):
        found, _ = selected(tmp_path, "-k", short)
        want = set(config.SHORT_NAMES[short])
        assert found and {graded for _, graded in found} == want, short
        assert len(found) == sum(graded in want for _, graded in everything)


def test_checks_run_in_the_notebooks_order(everything):
    rank = {s.key: i for i, s in enumerate(config.SECTIONS)}
    visible = [nodeid for nodeid, _ in everything if "hidden" not in nodeid]
    sections = [next(c.check for c in __import__("grader.cases").cases.CASES
                     if c.id in nodeid).split(".")[0] if "[" in nodeid else None
                for nodeid in visible]
    order = [rank[s] for s in sections if s is not None]
    assert order == sorted(order)
    assert everything[0][1] == "affine_forward"


def test_a_selection_that_matches_nothing_names_the_names(tmp_path):
    found, out = selected(tmp_path, "-k", "spatial_batchnrom")
    assert found == []
    assert "No check matches -k 'spatial_batchnrom'" in out
    assert "spatial_batchnorm_forward" in out and "max_pool" in out


def test_selection_targets_are_whole_names():
    names = ["relu_forward", "conv_relu_forward", "ThreeLayerConvNet"]
    assert selection.targets("relu_forward", names) == {"relu_forward"}
    assert selection.targets("threelayerconvnet", names) == {"ThreeLayerConvNet"}
    assert selection.targets("conv and not relu", names) is None
    assert selection.targets("", names) is None


# ----------------------------------------------------------------------------------------------
# The last screen
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def starter_run():
    return grade(REPO / "starter", env={"CS260_DATA_DIR": None})


def test_the_starters_output_is_short_and_ends_with_the_table_and_what_to_fix(starter_run):
    lines = starter_run.stdout.splitlines()
    assert len(lines) <= 120, len(lines)
    last = "\n".join(lines[-40:])
    assert re.search(r"^Section\s+Points$", last, flags=re.M)
    assert re.search(r"^\s+Total\s+0\.00 /", last, flags=re.M)
    assert "What to fix first" in last and "1. affine_forward" in last
    assert "FAILED " not in starter_run.stdout   # no line per failed check
    assert "Not implemented yet (18)" in starter_run.stdout


def test_x_stops_at_the_first_function_to_fix():
    run = grade(REPO / "starter", extra_args=("-x",))
    assert [t["name"].split(":")[0] for t in run.results["tests"]] == ["affine_forward"]
    assert "Partial run" in run.stdout and "Total (partial run)" in run.stdout


def test_a_one_file_run_says_its_total_is_partial(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "grader/checks/test_sandwich.py",
                           "--submission=starter", f"--results-json={tmp_path / 'r.json'}",
                           "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    total = selection.expected_items(config.CHECKS)
    assert f"Partial run: only 2 of {total} checks" in proc.stdout
    output = json.loads((tmp_path / "r.json").read_text())["output"]
    assert "Partial run: only 2 of" in output and "Total (partial run)" in proc.stdout


def test_verbose_brings_back_pytests_own_failure_reports():
    run = grade(REPO / "starter", extra_args=("-vv", "-k", "relu_forward"))   # grade() adds -q
    assert "FAILED grader/checks/test_prereq.py::test_relu_forward" in run.stdout
    assert "What to fix first" in run.stdout


# ----------------------------------------------------------------------------------------------
# check() from the notebook
# ----------------------------------------------------------------------------------------------

def run_check(name, package, tmp_path):
    """check(name) in a fresh Python that imported `package` (a folder holding cs260/), as a
    notebook kernel does; (plain text, HTML, points) printed by it."""
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(package)!r})
        import cs260
        from grader import check
        r = check({name!r})
        print(json.dumps([str(r), r._repr_html_(), r.earned, r.possible, r.passed]))
        """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CS260_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_check_agrees_with_pytest_grader_on_points(tmp_path):
    text, html, earned, possible, passed = run_check("max_pool_forward_naive", REPO / "solution",
                                                     tmp_path)
    assert passed and "all" in text and "&#10004;" in html
    run = grade(REPO / "solution", extra_args=("-k", "max_pool_forward_naive"))
    visible = [t for t in run.results["tests"] if t["visibility"] == "visible"]
    assert earned == pytest.approx(sum(t["score"] for t in visible)) and possible > 0
    assert possible == pytest.approx(sum(t["max_score"] for t in visible))


def test_check_on_the_starter_says_what_is_not_implemented(tmp_path):
    text, html, earned, possible, passed = run_check("conv_forward_naive", REPO / "starter",
                                                     tmp_path)
    assert not passed and earned == 0 and possible > 0
    assert "not implemented yet" in text.splitlines()[0]
    assert "conv_forward_naive" in text and "cs260/layers.py" in text and "<b" in html


def test_check_of_a_name_that_does_not_exist_lists_the_names(tmp_path):
    text, *_ = run_check("conv_fwd", REPO / "starter", tmp_path)
    assert "could not grade it" in text and "No check matches -k 'conv_fwd'" in text
    assert "conv_forward_naive" in text


def test_check_reads_results_json_of_visible_checks_only():
    data = {"output": "", "extra_data": {"fix_first": [{"function": "f", "pointer": "use +="}]},
            "tests": [
                {"name": "f: a [c.one]", "score": 1, "max_score": 1, "status": "passed",
                 "visibility": "visible", "extra_data": {"outcome": "passed"}},
                {"name": "f: a [c.two]", "score": 0, "max_score": 1, "status": "failed",
                 "visibility": "visible", "output": "`f`: wrong\n\n```\ndetail\n```",
                 "extra_data": {"outcome": "failed", "failure": "value"}},
                {"name": "f: hidden [c.h]", "score": 0, "max_score": 2, "status": "failed",
                 "visibility": "after_published", "output": "secret",
                 "extra_data": {"outcome": "failed"}}]}
    r = notebook_check.read_results("f", data)
    assert (r.earned, r.possible, r.checks) == (1, 2, 2)
    assert [(f.case, f.line) for f in r.failing] == [("c.two", "f: wrong")]
    assert r.pointer == "use +=" and "secret" not in str(r) + r._repr_html_()
    assert "detail" in str(r)


def test_check_command_has_no_shell_and_takes_paths_with_spaces(tmp_path):
    where = tmp_path / "My Drive" / "cs260"
    where.mkdir(parents=True)
    cmd = notebook_check.command("relu_forward", tmp_path / "r.json", submission=where)
    assert cmd[:3] == [sys.executable, "-m", "pytest"] and str(where) in cmd


def test_python_m_grader_check(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader", "check", "relu_forward",
                           "--submission", str(REPO / "solution")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "all 2 check(s) pass" in proc.stdout, proc.stdout


# ----------------------------------------------------------------------------------------------
# Wrong starts: one line each, results.json still written
# ----------------------------------------------------------------------------------------------

def test_a_missing_submission_is_one_line_and_results_json_is_written(tmp_path):
    run = grade(tmp_path / "nothing here", results_path=tmp_path / "r.json")
    assert run.returncode == 4
    assert run.stderr.strip().splitlines() == [
        f"ERROR: --submission {tmp_path / 'nothing here'}: no such file or folder."]
    assert "no such file or folder" in run.results["output"]
    validate_results(run.results)


def test_unbuilt_fast_layers_are_one_line(tmp_path):
    trusted = tmp_path / "cs260"
    subprocess.run(["cp", "-r", str(REPO / "starter" / "cs260"), str(trusted)], check=True)
    for built in trusted.glob("im2col_cython*.so"):
        built.unlink()
    run = grade(REPO / "solution", env={"CS260_TRUSTED_STARTER": trusted},
                results_path=tmp_path / "r.json")
    assert run.returncode == 4 and len(run.stderr.strip().splitlines()) == 1
    assert "python setup.py build_ext --inplace" in run.stderr
    assert run.results["tests"] == [] and "not built" in run.results["output"]


def test_a_python_without_the_graders_packages_is_named():
    assert startup.missing_packages(("numpy", "surely-not-a-package-24")) == [
        "surely-not-a-package-24"]
    assert startup.missing_packages() == []


# ----------------------------------------------------------------------------------------------
# results.json in Markdown
# ----------------------------------------------------------------------------------------------

def md_html(text):
    """Gradescope-like rendering: CommonMark (markdown-it-py), raw HTML left escaped."""
    markdown_it = pytest.importorskip("markdown_it", reason='pip install -e ".[test]"')
    return markdown_it.MarkdownIt("commonmark", {"html": False}).render(text)


def broken_results():
    make = report.ItemResult
    return [
        make(nodeid="a", check="conv_forward_naive: matches", case="conv_forward.pad2",
             section="conv_forward", weight=1.0, tags=["conv_forward_naive"], outcome="failed",
             reason="conv_forward_naive: out does not match",
             message="conv_forward_naive: out does not match\n  input: x (2, 3) <b>\n"
                     "  likely cause: the stride is not used in dx_pad[i * stride]",
             student_output="print from student <script>alert(1)</script>", failure="value"),
        make(nodeid="b", check="relu_forward: matches", case="prereq.relu_forward",
             section="prereq", weight=1.0, tags=["relu_forward"], outcome="passed"),
    ]


def test_results_json_is_markdown_with_the_fix_first_list_on_top_and_code_spans():
    results = broken_results()
    data = report.results_json(results, output=report.summary_output(results, "a summary"),
                               execution_time=1.0, output_limit=4000)
    validate_results(data)
    assert data["output_format"] == "md"
    assert data["output"].startswith("**What to fix first**")
    top = md_html(data["output"])
    assert top.startswith("<p><strong>What to fix first</strong>")
    assert "<ol>" in top and "<li><code>conv_forward_naive</code>" in top
    test = data["tests"][0]
    assert test["output_format"] == "md"
    html = md_html(test["output"])
    assert "<strong>likely cause:</strong>" in html and "<code>dx_pad</code>" in html
    assert "<pre><code>" in html and "&lt;b&gt;" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_markdown_keeps_every_word_of_the_text():
    text = "f_x: bad *value* [1] <i>\n  likely cause: use `+=` not =\n\nTraceback:\n  x"
    rendered = md_html(markdown.item(text, report.OUTPUT_HEADING))
    plain = re.sub(r"<[^>]+>", "", rendered).replace("&lt;", "<").replace("&gt;", ">")
    for word in ("f_x", "*value*", "[1]", "<i>", "+=", "Traceback:"):
        assert word in plain, word
