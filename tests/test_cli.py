"""`python -m grader`: every subcommand is there with --help, delegates to the module that owns
the job with the right arguments, and `grade` really grades."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader import __main__ as cli
from grading import validate_results

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["fixtures", "make-starter", "gradescope-zip", "student-release", "grade", "grade-all",
            "report"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_help_lists_every_command():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m grader " + command in proc.stdout


def test_unknown_command_and_options_are_errors(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["nonsense"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["student-release", "out.zip", "--bogus"])
    assert e.value.code == 2
    assert "--bogus" in capsys.readouterr().err


def test_delegation(monkeypatch):
    calls = []
    from grader.tools import batch, make_starter, release
    from grader.checks import fixtures
    from grader.tools.gradescope import build
    monkeypatch.setattr(fixtures, "main", lambda argv: calls.append(("fixtures", argv)) or 0)
    monkeypatch.setattr(make_starter, "run",
                        lambda a: calls.append(("starter", a.check, a.src, a.dst)) or 3)
    monkeypatch.setattr(build, "run", lambda a: calls.append(("zip", a.out, a.with_cifar)) or 0)
    monkeypatch.setattr(release, "run", lambda a: calls.append(("release", a.out, a.images)) or 0)
    monkeypatch.setattr(batch, "run", lambda a: calls.append(
        ("all", a.folder, a.out, a.jobs, a.force, a.pytest_arg)) or 0)
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd: calls.append(("grade", cmd, cwd)) or 1)

    assert cli.main(["fixtures", "regen", "--dest", "x"]) == 0
    assert cli.main(["fixtures", "check"]) == 0
    assert cli.main(["make-starter", "--check"]) == 3
    assert cli.main(["make-starter", "--src", "a", "--dst", "b"]) == 3
    assert cli.main(["gradescope-zip", "ag.zip", "--with-cifar"]) == 0
    assert cli.main(["student-release", "rel", "--images", "imgs"]) == 0
    assert cli.main(["grade-all", "subs", "--out", "o", "-j", "3", "--force",
                     "--pytest-arg=-k", "--pytest-arg=conv"]) == 0
    assert cli.main(["grade", "sub", "--results-json", "r.json", "-k", "conv"]) == 1
    assert calls[:7] == [
        ("fixtures", ["regen", "--dest", "x"]),
        ("fixtures", ["check"]),
        ("starter", True, make_starter.SOLUTION_DIR, make_starter.STARTER_DIR),
        ("starter", False, "a", "b"),
        ("zip", "ag.zip", True),
        ("release", "rel", "imgs"),
        ("all", "subs", "o", 3, True, ["-k", "conv"]),
    ]
    _, cmd, cwd = calls[7]
    assert cwd == REPO
    assert cmd[:4] == [sys.executable, "-m", "pytest", "grader"]
    assert cmd[cmd.index("--submission") + 1] == str(Path("sub").resolve())
    assert cmd[cmd.index("--results-json") + 1] == str(Path("r.json").resolve())
    assert cmd[-2:] == ["-k", "conv"]


def test_report_delegation(monkeypatch):
    from grader.tools import batch, classreport
    calls = []
    monkeypatch.setattr(classreport, "run", lambda a: calls.append((a.results, a.out, a.names)) or 0)
    monkeypatch.setattr(batch, "run", lambda a: calls.append(("all", a.report)) or 0)
    assert cli.main(["report", "g1", "g2", "--out", "r", "--names"]) == 0
    assert cli.main(["report", "--out", "r"]) == 0
    assert cli.main(["grade-all", "subs", "--out", "o", "--report"]) == 0
    assert calls == [(["g1", "g2"], "r", True), (["."], "r", False), ("all", True)]


def test_grade_runs_pytest_grader(tmp_path):
    out = tmp_path / "results.json"
    proc = run_cli("grade", str(REPO / "solution"), "--results-json", str(out), "-k", "prereq")
    assert proc.returncode == 0, proc.stdout[-3000:]
    results = json.loads(out.read_text())
    validate_results(results)
    # the total is kept to 4 places, each test's score to 9 (a case may be worth 1/3 point)
    assert results["tests"] and results["score"] == pytest.approx(
        sum(t["max_score"] for t in results["tests"]), abs=1e-4)
    proc = run_cli("grade", str(REPO / "starter"), "-k", "prereq")
    assert proc.returncode == 1
    assert "not implemented" in proc.stdout
