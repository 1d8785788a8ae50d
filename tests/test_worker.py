"""The worker runs untrusted student code: failures stay in it and come back as StudentError."""
import os
import pwd
import time
from pathlib import Path

import numpy as np
import pytest

from grader import config
from grader.sandbox.client import StudentError, Worker, WorkerStartError
from grader.sandbox.protocol import Handle
from grading import run_as_user

HOSTILE = Path(__file__).parent / "hostile"
TIMEOUT = 2.0


def make_package(root, layers_source, cnn_source="from ..layers import *\n"):
    """A minimal cs260 package at root/cs260 with the given student files."""
    pkg = root / "cs260"
    (pkg / "classifiers").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""fake cs260"""\n')
    (pkg / "classifiers" / "__init__.py").write_text("")
    (pkg / "layers.py").write_text(layers_source)
    (pkg / "classifiers" / "cnn.py").write_text(cnn_source)
    return root


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    root = make_package(tmp_path_factory.mktemp("hostile"), (HOSTILE / "layers.py").read_text())
    with Worker(root, timeout=TIMEOUT) as w:
        yield w


def fails_with(worker, kinds, target, *args, **kwargs):
    with pytest.raises(StudentError) as info:
        worker.call(target, *args, **kwargs)
    assert info.value.kind in kinds, (info.value.kind, info.value.message)
    assert target in info.value.message
    return info.value


def still_works(worker):
    out, cache = worker.call("layers.add", np.arange(3), 1)
    np.testing.assert_array_equal(out, [1, 2, 3])
    worker.drain_output()


def test_normal_call_returns_plain_data(worker):
    out, cache = worker.call("layers.add", np.arange(3.0), np.float64(0.5))
    assert type(out) is np.ndarray and out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.5, 1.5, 2.5])
    assert isinstance(cache, dict) and type(cache["a"]) is np.ndarray
    assert worker.drain_output() == "add called\n"
    assert worker.drain_output() == ""
    assert worker.last_elapsed > 0


def test_return_args_shows_in_place_updates(worker):
    x = np.ones(3)
    total, (x_after, param_after) = worker.call("layers.scale_inplace", x, {}, return_args=True)
    assert total == 6.0
    np.testing.assert_array_equal(x_after, 2 * np.ones(3))
    assert param_after == {"count": 1}
    np.testing.assert_array_equal(x, np.ones(3))  # the grader's copy is untouched


def test_not_implemented(worker):
    err = fails_with(worker, ["not_implemented"], "layers.todo", 1)
    assert "todo: not implemented yet" in err.message


def test_exception_traceback_trimmed_to_student_frames(worker):
    err = fails_with(worker, ["exception"], "layers.fails", np.ones(3))
    assert "ValueError" in err.message and "cs260/layers.py" in err.message
    assert "\n" not in err.message
    lines = err.detail.splitlines()
    assert len(lines) <= 15
    assert any("in fails" in line for line in lines)
    assert any("in _inner" in line for line in lines)
    assert not any("numpy" in line or "worker.py" in line for line in lines if "File" in line)
    assert lines[-1].startswith("ValueError")


def test_infinite_loop_times_out_then_next_call_works(worker):
    err = fails_with(worker, ["timeout"], "layers.spin")
    assert "2 s" in err.message
    assert "spinning" in err.output
    still_works(worker)


def test_a_hanging_function_gets_a_short_retry_then_is_not_run_again(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RETRY_TIMEOUT_S", 0.5)
    root = make_package(tmp_path, (HOSTILE / "layers.py").read_text())
    with Worker(root, timeout=TIMEOUT) as w:
        first = fails_with(w, ["timeout"], "layers.spin")
        assert "2 s" in first.message
        second = fails_with(w, ["timeout"], "layers.spin", timeout=60)
        assert "0.5 s" in second.message  # capped, whatever the check asked for
        started = time.monotonic()
        third = fails_with(w, ["timeout"], "layers.spin", timeout=60)
        assert "not run again" in third.message
        assert time.monotonic() - started < 0.5
        still_works(w)  # other functions keep their full deadline


def test_stale_handle_after_restart_is_a_clear_error(worker):
    model = worker.new("layers.Model", 3)
    worker.restart()
    with pytest.raises(StudentError) as info:
        worker.getattr(model, "params")
    assert info.value.kind == "protocol" and "restarted" in info.value.message


def test_numpy_memory_bomb(worker):
    fails_with(worker, ["memory", "crash"], "layers.numpy_bomb")
    still_works(worker)


def test_list_memory_bomb(tmp_path):
    root = make_package(tmp_path, (HOSTILE / "layers.py").read_text())
    with Worker(root, timeout=10, memory_mb=300) as w:
        first_pid = w.ping()["pid"]
        fails_with(w, ["memory", "crash"], "layers.list_bomb")
        assert w.ping()["pid"] != first_pid  # restarted after the memory failure
        still_works(w)


@pytest.mark.parametrize("target, kind, text", [
    ("layers.exit_call", "exception", "SystemExit"),
    ("layers.interrupt", "exception", "KeyboardInterrupt"),
    ("layers.base_exception", "exception", "BaseException"),
    ("layers.hard_exit", "crash", "exit code 3"),
    ("layers.segfault", "crash", "SIGSEGV"),
])
def test_exits_and_signals_fail_only_that_call(worker, target, kind, text):
    err = fails_with(worker, [kind], target)
    assert text in err.message
    still_works(worker)


def test_segfault_report_carries_the_python_trace(worker):
    err = fails_with(worker, ["crash"], "layers.segfault")
    assert "Segmentation fault" in err.detail
    assert "segfault" in err.detail


def test_prints_are_captured_per_call(worker, capfd):
    worker.drain_output()
    assert worker.call("layers.shout") == 1
    first = worker.drain_output()
    for text in ("to stdout", "to stderr", "raw fd 1", "raw fd 2"):
        assert text in first
    worker.call("layers.add", 1, 2)
    assert worker.drain_output() == "add called\n"
    out, err = capfd.readouterr()
    assert "to stdout" not in out + err and "raw fd" not in out + err


def test_output_is_truncated(tmp_path):
    source = "def chatty():\n    print('x' * 100000)\n    return 0\n"
    with Worker(make_package(tmp_path, source), timeout=TIMEOUT) as w:
        w.call("layers.chatty")
        out = w.drain_output()
    assert config.OUTPUT_LIMIT_CHARS <= len(out) < config.OUTPUT_LIMIT_CHARS + 200
    assert out.rstrip().endswith("100001 bytes in total]")


def test_closing_stdout_does_not_break_the_worker(tmp_path):
    with Worker(make_package(tmp_path, (HOSTILE / "layers.py").read_text()),
                timeout=TIMEOUT) as w:
        assert w.call("layers.close_stdout") == 2
        still_works(w)


def test_monkeypatching_numpy_stays_in_the_worker(worker):
    assert worker.call("layers.patch_numpy") is True
    assert not np.allclose(1, 2)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(1, 2)
    worker.restart()


def test_ndarray_subclass_comes_back_plain(worker):
    value = worker.call("layers.return_subclass")
    assert type(value) is np.ndarray
    assert not hasattr(value, "flag")
    assert (value == np.zeros(4)).tolist() == [True, False, False, False]


@pytest.mark.parametrize("target", ["layers.return_liar", "layers.return_object_array"])
def test_non_data_comes_back_as_a_handle(worker, target):
    value = worker.call(target)
    assert type(value) is Handle
    assert not (value == 1.0)


def test_nested_non_data_becomes_handles(worker):
    arr, (liar, inner) = worker.call("layers.return_nested_liar")
    assert type(arr) is np.ndarray
    assert type(liar) is Handle and type(inner["k"]) is Handle


def test_junk_on_the_protocol_pipe_is_bad_return(worker):
    fails_with(worker, ["bad_return", "protocol"], "layers.junk_protocol")
    still_works(worker)


def test_handles_batch_and_setitem(worker):
    model = worker.new("layers.Model", 3, scale=2.0)
    assert isinstance(model, Handle) and model.type == "Model"
    X = np.array([1.0, 2.0, 3.0])
    loss, grads = worker.call((model, "loss"), X)
    assert loss == 12.0 and set(grads) == {"W"}
    values = [np.zeros(3), np.ones(3)]
    np.testing.assert_array_equal(
        worker.batch_item(model, "params", "W", values, "loss", [X]), [0.0, 6.0])
    np.testing.assert_array_equal(worker.getattr(model, "params")["W"], [2.0] * 3)  # restored
    worker.setitem(model, "params", "W", np.ones(3))
    assert worker.call((model, "loss"), X)[0] == 6.0
    stacked = worker.batch("layers.add", [np.zeros(2), 0], 1, [1, 2, 3])
    np.testing.assert_array_equal(stacked, [[1, 1], [2, 2], [3, 3]])
    worker.release(model)
    with pytest.raises(StudentError) as info:
        worker.getattr(model, "params")
    assert info.value.kind == "protocol"


def test_batch_error_names_the_item(worker):
    with pytest.raises(StudentError) as info:
        worker.batch("layers.fails", [np.ones(7)], 0, [np.ones(7), np.ones(3)], pick=None)
    assert info.value.kind == "exception" and "batch item 1 of 2" in info.value.message


def test_seed_makes_calls_repeatable(worker):
    a = worker.call("layers.random_draw", 4, seed=3)
    b = worker.call("layers.random_draw", 4, seed=3)
    c = worker.call("layers.random_draw", 4, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("source_file, text", [
    ("import_error.py", "ValueError: broken at import"),
    ("exit_at_import.py", "SystemExit: bye"),
])
def test_import_time_failure_is_import_error(tmp_path, source_file, text):
    root = make_package(tmp_path, (HOSTILE / source_file).read_text())
    with Worker(root, timeout=TIMEOUT) as w:
        with pytest.raises(StudentError) as info:
            w.import_module("layers")
        assert info.value.kind == "import_error"
        assert "cs260/layers.py" in info.value.message and text in info.value.message
        with pytest.raises(StudentError) as info:
            w.call("classifiers.cnn.ThreeLayerConvNet")
        assert info.value.kind == "import_error" and "cs260/layers.py" in info.value.message


def test_syntax_error_is_import_error_naming_file_and_line(tmp_path):
    root = make_package(tmp_path, "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    with Worker(root, timeout=TIMEOUT) as w:
        with pytest.raises(StudentError) as info:
            w.call("layers.ok")
    err = info.value
    assert err.kind == "import_error" and "cs260/layers.py" in err.message
    assert "line 4" in err.detail


def test_missing_function_is_import_error(worker):
    err = fails_with(worker, ["import_error"], "layers.no_such_function")
    assert "no_such_function" in err.message


@pytest.mark.run_as
def test_run_as_user_drops_root(tmp_path):
    user = pwd.getpwnam(run_as_user())
    root = make_package(tmp_path, (HOSTILE / "layers.py").read_text())
    os.chmod(tmp_path, 0o700)  # the worker gets its own readable copy
    target = root / "cs260" / "layers.py"
    before = target.read_text()
    with Worker(root, timeout=TIMEOUT, run_as_user=user.pw_name) as w:
        assert w.call("layers.whoami") == user.pw_uid
        assert w.ping()["uid"] == user.pw_uid
        fails_with(w, ["exception"], "layers.raise_limit")
        fails_with(w, ["exception"], "layers.write_into", str(target))
        still_works(w)
    assert target.read_text() == before


def test_timeout_kills_the_whole_process_group(tmp_path):
    source = (
        "import os, time\n"
        "def forked():\n"
        "    if os.fork() == 0:\n"
        "        while True: time.sleep(1)\n"
        "    while True: pass\n"
    )
    with Worker(make_package(tmp_path, source), timeout=TIMEOUT) as w:
        pgid = w.ping()["pid"]
        with pytest.raises(StudentError) as info:
            w.call("layers.forked")
        assert info.value.kind == "timeout"
    for _ in range(100):  # the orphaned child is reaped by init shortly after the kill
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("a process of the timed-out worker's group is still alive")


def test_start_failure_is_not_blamed_on_the_student(tmp_path):
    w = Worker(make_package(tmp_path, "x = 1\n"), python=str(tmp_path / "no-python"))
    with pytest.raises(WorkerStartError):
        w.ping()


def test_crash_is_seen_even_if_a_child_keeps_the_pipe_open(tmp_path):
    source = (
        "import os, time\n"
        "def fork_and_die():\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    os._exit(4)\n"
    )
    with Worker(make_package(tmp_path, source), timeout=30) as w:
        with pytest.raises(StudentError) as info:
            w.call("layers.fork_and_die")
    assert info.value.kind == "crash" and "exit code 4" in info.value.message


def test_worker_runs_one_thread_whatever_the_environment(tmp_path, monkeypatch):
    """CS260_THREADS from the grader's environment must not make the fast layers use threads in
    the worker (results and memory must not depend on the machine)."""
    monkeypatch.setenv("CS260_THREADS", "4")
    source = ("import os\nimport numpy as np\n\ndef env():\n"
              "    return np.array([int(os.environ[v]) for v in ('CS260_THREADS', 'OPENBLAS_NUM_THREADS')])\n")
    with Worker(make_package(tmp_path, source), timeout=10) as w:
        np.testing.assert_array_equal(w.call("layers.env"), [1, 1])


def _alive(pid):
    """True if pid runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_dies_when_the_grader_is_killed(tmp_path):
    """A grader killed outright (SIGKILL at a time limit, a crash) must not leave student code
    spinning: the worker is in its own session, so the kernel has to kill it (PDEATHSIG)."""
    import subprocess
    import sys
    root = make_package(tmp_path, "def ping():\n    return 1\n\ndef spin():\n    while True:\n        pass\n")
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from grader.sandbox.client import Worker\n"
        f"w = Worker({str(root)!r}, timeout=600)\n"
        "w.call('layers.ping')\n"
        "print(w.pid, flush=True)\n"
        "w.call('layers.spin')\n"
    )
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(grader.stdout.readline())
        time.sleep(0.5)  # let the worker start spinning
        assert _alive(pid)
    finally:
        grader.kill()
        grader.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(pid)
    if alive:
        os.kill(pid, 9)
    assert not alive, "the worker outlived the grader"
