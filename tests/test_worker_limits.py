"""Where students run the grader: the worker's Linux-only limits degrade instead of crashing
(macOS may refuse RLIMIT_AS and has no prctl), the grader says once which ones it could not
apply, and on Windows `pytest grader` stops at once with one line.

Each limit is made to fail in turn (resource.setrlimit raising ValueError or OSError, no
libc.prctl), first in grader/sandbox/worker.py's own functions, then in a real worker started through a
wrapper interpreter that makes them fail, and through a whole `pytest grader` run.
"""
import argparse
import os
import resource
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import client, worker
from grader.sandbox.walls import WALLS
from grader.sandbox.client import Worker

REPO = Path(__file__).resolve().parents[1]
RLIMITS = ("RLIMIT_CORE", "RLIMIT_AS", "RLIMIT_FSIZE")


def limit_args(memory_mb=512, fsize_mb=64):
    return argparse.Namespace(memory_mb=memory_mb, fsize_mb=fsize_mb)


@pytest.fixture
def setrlimit_calls(monkeypatch):
    """resource.setrlimit/getrlimit recorded instead of applied: {limit name: value}; the test
    sets `fail` = {name: exception} for the limits that must fail."""
    calls, fail, kept = {}, {}, {}
    names = {getattr(resource, n): n for n in (*RLIMITS, "RLIMIT_NPROC")}

    def fake_set(what, limits):
        name = names[what]
        if name in fail:
            raise fail[name]
        calls[name] = kept[what] = limits

    monkeypatch.setattr(resource, "setrlimit", fake_set)
    monkeypatch.setattr(resource, "getrlimit", lambda what: kept.get(what, (-1, -1)))
    return calls, fail


@pytest.mark.parametrize("error", [ValueError("not allowed"), OSError(22, "Invalid argument")],
                         ids=["ValueError", "OSError"])
@pytest.mark.parametrize("name", RLIMITS)
def test_each_rlimit_that_fails_is_reported_and_the_others_applied(setrlimit_calls, name, error):
    calls, fail = setrlimit_calls
    fail[name] = error
    unapplied = []
    worker.set_limits(limit_args(), unapplied)
    assert unapplied == [name]
    assert set(calls) == set(RLIMITS) - {name}
    assert calls.get("RLIMIT_AS", (512 << 20,) * 2) == (512 << 20, 512 << 20)


def test_all_rlimits_applied_nothing_reported(setrlimit_calls):
    calls, _ = setrlimit_calls
    unapplied = []
    worker.set_limits(limit_args(), unapplied)
    assert unapplied == [] and calls == {"RLIMIT_CORE": (0, 0), "RLIMIT_AS": (512 << 20,) * 2,
                                         "RLIMIT_FSIZE": (64 << 20,) * 2}


def test_a_limit_accepted_but_not_kept_is_reported(monkeypatch):
    """macOS may accept setrlimit(RLIMIT_AS) and ignore it: the read-back tells."""
    monkeypatch.setattr(resource, "setrlimit", lambda what, limits: None)
    monkeypatch.setattr(resource, "getrlimit", lambda what: (-1, -1))
    unapplied = []
    worker.set_limits(limit_args(), unapplied)
    assert sorted(unapplied) == sorted(RLIMITS)


def test_a_limit_this_os_does_not_define_is_reported(monkeypatch, setrlimit_calls):
    monkeypatch.delattr(resource, "RLIMIT_AS")
    unapplied = []
    worker.set_limits(limit_args(), unapplied)
    assert unapplied == ["RLIMIT_AS"]


def test_nproc_failure_is_reported_and_the_drop_still_happens(monkeypatch, setrlimit_calls):
    calls, fail = setrlimit_calls
    fail["RLIMIT_NPROC"] = ValueError("not supported")
    uid = os.getuid()
    done = []
    monkeypatch.setattr(os, "setgroups", lambda groups: done.append("setgroups"))
    monkeypatch.setattr(os, "setgid", lambda gid: done.append("setgid"))
    monkeypatch.setattr(os, "setuid", lambda uid: done.append("setuid"))
    monkeypatch.setattr(os, "getuid", lambda: uid or 1000)
    monkeypatch.setattr(os, "geteuid", lambda: uid or 1000)
    unapplied = []
    worker.drop_privileges("nobody", 64, unapplied)
    assert unapplied == ["RLIMIT_NPROC"]
    assert done == ["setgroups", "setgid", "setuid"]


class _NoPrctl:
    """A C library without prctl (macOS's)."""

    def __getattr__(self, name):
        raise AttributeError(name)


class _FailingPrctl:
    @staticmethod
    def prctl(*args):
        return -1


@pytest.mark.parametrize("libc", [_NoPrctl(), _FailingPrctl(), OSError("no libc")],
                         ids=["no prctl", "prctl fails", "no libc"])
def test_no_prctl_is_reported_not_fatal(monkeypatch, libc):
    import ctypes

    def cdll(*args, **kwargs):
        if isinstance(libc, Exception):
            raise libc
        return libc

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    unapplied = []
    worker.die_with_parent(os.getppid(), unapplied)  # returns; does not exit
    assert unapplied == ["PR_SET_PDEATHSIG"]


def test_note_names_each_limit_once_and_nothing_when_all_applied():
    assert client.unapplied_note(set()) == ""
    note = client.unapplied_note({"RLIMIT_AS", "PR_SET_PDEATHSIG"})
    assert "\n" not in note
    assert note.count("RLIMIT_AS") == 1 and note.count("PR_SET_PDEATHSIG") == 1
    assert "memory cap" in note


# ---------------------------------------------------------------------------------------------
# A real worker whose OS refuses limits: a wrapper interpreter that makes them fail
# ---------------------------------------------------------------------------------------------

def failing_python(tmp_path, refuse_rlimits=("RLIMIT_AS",), no_prctl=True):
    """An executable that runs grader/sandbox/worker.py as the client starts it, with the given rlimits
    raising ValueError and (no_prctl) a C library without prctl, as on macOS."""
    script = tmp_path / "macos-like-python"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import ctypes, resource, runpy, sys
        refuse = {{getattr(resource, n) for n in {list(refuse_rlimits)!r}}}
        real = resource.setrlimit
        def setrlimit(what, limits):
            if what in refuse:
                raise ValueError("setrlimit: not supported on this OS")
            return real(what, limits)
        resource.setrlimit = setrlimit
        if {no_prctl!r}:
            class NoPrctl:
                def __getattr__(self, name):
                    raise AttributeError(name)
            ctypes.CDLL = lambda *a, **k: NoPrctl()
        args = [a for a in sys.argv[1:] if a not in ("-s", "-P")]  # the client's flags
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
        """))
    script.chmod(0o755)
    return script


def make_package(tmp_path, source):
    root = tmp_path / "sub"
    (root / "cs260").mkdir(parents=True)
    (root / "cs260" / "__init__.py").write_text("")
    (root / "cs260" / "layers.py").write_text(source)
    return root


def test_worker_on_an_os_without_the_limits_still_runs_code(tmp_path):
    root = make_package(tmp_path, "def add(a, b):\n    return a + b\n")
    python = failing_python(tmp_path, refuse_rlimits=("RLIMIT_AS", "RLIMIT_FSIZE"))
    with Worker(root, timeout=30, python=str(python)) as w:
        assert w.call("layers.add", 2, 3) == 5
        # No prctl: no walls either (grader/sandbox/walls.py); the code still runs.
        assert w.unapplied_limits == {"RLIMIT_AS", "RLIMIT_FSIZE", "PR_SET_PDEATHSIG", *WALLS}
    with Worker(root, timeout=30) as w:  # this Linux machine applies them all
        assert w.call("layers.add", 2, 3) == 5
        assert w.unapplied_limits == set()


GRADE_WITH_WRAPPER = """\
import sys
import grader.sandbox.client as client

class MacLikeWorker(client.Worker):
    def __init__(self, *args, **kwargs):
        kwargs["python"] = {python!r}
        super().__init__(*args, **kwargs)

client.Worker = MacLikeWorker
import pytest
sys.exit(pytest.main(["grader", "--submission", "solution", "-k", "prereq or max_pool_forward_naive",
                      "-p", "no:cacheprovider", "--results-json", {results!r}]))
"""


def test_grading_run_says_once_which_limits_it_could_not_apply(tmp_path):
    """A whole `pytest grader` run on a macOS-like worker: full marks for what ran, and the
    note, once, in the terminal and in results.json."""
    python = failing_python(tmp_path)
    results = tmp_path / "results.json"
    code = GRADE_WITH_WRAPPER.format(python=str(python), results=str(results))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, CS260_DATA_DIR=""))
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert out.count("did not apply some limits") == 1, out[-3000:]
    assert "RLIMIT_AS (memory cap)" in out and "PR_SET_PDEATHSIG" in out
    import json
    data = json.loads(results.read_text())
    from grading import plain_text   # results.json's output is Markdown
    assert plain_text(data["output"]).count("did not apply some limits") == 1
    assert data["score"] == pytest.approx(sum(t["max_score"] for t in data["tests"]))
    # No prctl, so no walls either (grader/sandbox/walls.py): graded all the same, and said so.
    assert "SECCOMP_NET (no network" in plain_text(data["output"])
    assert data["extra_data"]["walls"] == {name: False for name in WALLS}


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------

def test_windows_stops_at_once_with_one_line(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO / "grader" / "conftest.py"))
    message = str(info.value.code)
    assert "\n" not in message and "WSL" in message and "Colab" in message


def test_windows_pytest_grader_prints_one_line_no_traceback():
    """`pytest grader` with sys.platform set to win32 before the grader's conftest loads."""
    code = ("import sys, pytest\n"
            "sys.platform = 'win32'\n"
            "sys.exit(pytest.main(['grader', '--capture=sys', '-p', 'no:cacheprovider']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    text = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0
    assert "Traceback" not in text and "ImportError" not in text, text
    assert text.splitlines()[-1].startswith("cs260 grader:") and "WSL" in text, text
