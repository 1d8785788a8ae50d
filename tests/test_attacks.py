"""Attacks on the process boundary, one or more per class of docs/SECURITY.md, each through a
real path: `pytest grader` (a student's own run), run_autograder as root with the student user
(Gradescope), `grade-all --run-as`, `student-release` / `gradescope-zip`. Each attack is built
so that it shows it ran (what it saw or tried reaches a visible check's output, or the test
checks the same channel on a visible case), so none of these tests can pass by the attack simply
not running. Every one failed on the code before docs/SECURITY.md's walls (see that page).
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import config
from grader.sandbox import walls
from grading import grade, run_as_user, validate_results
from mutants import SOLUTION, write_submission
from test_gradescope import root, run_autograder, solution_files, zip_path  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile_subs"
QUICK = "-k 'prereq or conv_forward'"


def need_walls(*names):
    """Skip where this kernel cannot build the walls an attack is meant to meet."""
    missing = [n for n in names if not walls.probe()[n]]
    if missing:
        pytest.skip(f"this kernel cannot build {', '.join(missing)}")


class Listener:
    """A TCP listener on 127.0.0.1 that keeps whatever anyone sends it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received, self.done = b"", False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(4096) or b"(connected)"
                except OSError:
                    self.received += b"(connected)"

    def close(self):
        """Stop listening; what was received stays."""
        self.done = True
        self.thread.join(5)
        self.sock.close()


def escape_submission(folder, token, port, secrets):
    """The solution with tests/hostile_subs/escape.py appended to its layers.py."""
    text = ((HOSTILE / "escape.py").read_text().replace("__TOKEN__", token)
            .replace("__PORT__", str(port)).replace("__SECRETS__", repr([str(s) for s in secrets])))
    layers = (SOLUTION / "layers.py").read_text() + "\n\n" + text
    return write_submission(folder, {"layers.py": layers}).parent


def survivors(token):
    """Pids of live processes whose command line holds `token`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if token.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def assert_contained(results, token, listener):
    """Every escape was refused, the attack demonstrably ran, nothing reached the listener and
    no process of the submission outlived its grading."""
    listener.close()
    reports = "\n".join(t.get("output", "") for t in results["tests"]
                        if t["name"].startswith(("relu_forward", "conv_forward_naive")))
    assert "TCP to 127.0.0.1" in reports, "the attack never ran: " + reports[:2000]
    escaped = [line for line in reports.splitlines() if "ESCAPED" in line]
    assert not escaped, escaped
    assert listener.received == b"", listener.received
    left = survivors(token)
    for pid in left:
        os.kill(pid, 9)
    assert not left, f"processes of the submission outlived it: {left}"


# ---------------------------------------------------------------------------------------------
# Classes 2-5: network, scratch space, process lifetime, reads (a student's own run, Gradescope,
# grade-all)
# ---------------------------------------------------------------------------------------------

def test_escape_on_a_students_own_run(tmp_path):
    """Unprivileged, as a student runs `pytest grader`: the same walls (Landlock, seccomp)."""
    need_walls("NO_NEW_PRIVS", "SECCOMP_NET", "LANDLOCK_FS", "LANDLOCK_SCOPE")
    token, listener = uuid.uuid4().hex, Listener()
    secrets = [REPO / "grader" / "cases_hidden.py", REPO / "solution" / "cs260" / "layers.py",
               REPO / "fixtures" / "hidden", tmp_path / "data"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test_batch").write_bytes(b"labels")
    sub = escape_submission(tmp_path / "sub", token, listener.port, secrets)
    result = grade(sub, extra_args=["-v", "-k", "prereq or conv_forward"],
                   env={"CS260_DATA_DIR": tmp_path / "data"})
    assert result.results is not None, result.stdout[-3000:]
    assert "walls around student code: NO_NEW_PRIVS" in result.stdout
    assert all(result.results["extra_data"]["walls"].values())
    assert_contained(result.results, token, listener)


@pytest.mark.run_as
def test_escape_on_gradescope(root, tmp_path):  # noqa: F811 (the fixture)
    """run_autograder as root, student code as the student user; the data and Gradescope's
    metadata present as on Gradescope."""
    user = run_as_user()
    data = root / config.DATA_SUBDIR / "cifar-10-batches-py"
    data.mkdir(parents=True, exist_ok=True)
    (data / "test_batch").write_bytes(b"labels")
    os.chmod(data.parent, 0o755)
    os.chmod(data / "test_batch", 0o644)
    metadata = root / config.METADATA_JSON
    metadata.write_text('{"previous_submissions": [{"results": {"score": 100}}]}')
    metadata.chmod(0o644)
    token, listener = uuid.uuid4().hex, Listener()
    secrets = [root / "source" / "grader" / "cases_hidden.py", root / "source" / "fixtures",
               data / "test_batch", metadata]
    sub = escape_submission(tmp_path / "sub", token, listener.port, secrets)
    files = {f"cs260/{p.relative_to(sub / 'cs260')}": p.read_text()
             for p in (sub / "cs260").rglob("*.py")}
    try:
        results, log = run_autograder(root, files, QUICK, run_as=user)
    finally:
        metadata.unlink()
    assert f"runs as {user}" in log
    assert_contained(results, token, listener)


@pytest.mark.run_as
def test_escape_and_attack_a_neighbour_under_grade_all(tmp_path):
    """grade-all --run-as, two at a time: the attacker cannot read the instructors' tree, reach
    the network, or signal, outlive into or write to its neighbour, which keeps full marks."""
    user = run_as_user()
    token, listener = uuid.uuid4().hex, Listener()
    secrets = [REPO / "grader" / "cases_hidden.py", REPO / "solution" / "cs260" / "layers.py",
               REPO / "fixtures" / "hidden"]
    folder = tmp_path / "export"
    escape_submission(folder / "attacker", token, listener.port, secrets)
    write_submission(folder / "victim")
    out = tmp_path / "graded"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade-all", str(folder), "--out",
                           str(out), "--jobs", "2", "--run-as", user,
                           "--pytest-arg=-k", "--pytest-arg=prereq or conv_forward"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    attacker = json.loads((out / "attacker" / "results.json").read_text())
    victim = json.loads((out / "victim" / "results.json").read_text())
    validate_results(attacker)
    assert_contained(attacker, token, listener)
    assert victim["score"] == pytest.approx(sum(t["max_score"] for t in victim["tests"]))
    assert victim["score"] > 0


# ---------------------------------------------------------------------------------------------
# Class 1: nothing student code wrote while a hidden case ran reaches student-visible text
# ---------------------------------------------------------------------------------------------

LEAK = '''

import hashlib as _hashlib
import warnings as _warnings
_solution_conv = conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    tag = _hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    _warnings.warn("input digest WARN" + tag, DeprecationWarning)
    print("input digest PRINT" + tag)
    if w.shape[2:] == (1, 1):
        raise ValueError("input digest RAISE" + tag)
    return _solution_conv(x, w, b, conv_param)
'''


def digests(visibility):
    """The digests the attack computes, for the conv_forward cases of one visibility."""
    from grader import cases
    from grader.checks.fixtures import load_fixture
    found = set()
    for case in cases.CASES:
        if case.function == "layers.conv_forward_naive" and case.visibility == visibility:
            x = np.ascontiguousarray(load_fixture(case).inputs["x"])
            found.add(hashlib.sha1(x.tobytes()).hexdigest()[:16])
    return found


def assert_no_hidden_text(results):
    """No digest of a hidden case's inputs anywhere in results.json; a visible one shows
    (the channel works, so the attack ran)."""
    text = json.dumps(results)
    assert any(d in results["output"] for d in digests("public")), results["output"][:3000]
    leaked = [d for d in digests("hidden") if d in text]
    assert not leaked, f"hidden inputs in results.json: {leaked}"


def test_hidden_inputs_reach_no_student_visible_text(tmp_path):
    """A student's own run of the instructors' grader (hidden checks present)."""
    layers = (SOLUTION / "layers.py").read_text() + LEAK
    sub = write_submission(tmp_path, {"layers.py": layers})
    result = grade(sub, extra_args=["-k", "conv_forward"], env={"CS260_DATA_DIR": None})
    assert result.results is not None, result.stdout[-3000:]
    assert_no_hidden_text(result.results)


@pytest.mark.run_as
def test_hidden_inputs_reach_no_student_visible_text_on_gradescope(root):  # noqa: F811
    user = run_as_user()
    files = solution_files()
    files["layers.py"] += LEAK
    results, log = run_autograder(root, files, "-k conv_forward", run_as=user)
    assert_no_hidden_text(results)


# ---------------------------------------------------------------------------------------------
# Classes 5 and 6: checks that trusted what student code said about itself
# ---------------------------------------------------------------------------------------------

MEMORISES = '''

_SolutionNet = ThreeLayerConvNet


class ThreeLayerConvNet(_SolutionNet):
    """Learns nothing (zero gradients) but remembers every label it is trained on."""

    def loss(self, X, y=None):
        memo = self.__dict__.setdefault("_memo", {})
        if y is not None:
            for xi, yi in zip(X, y):
                memo[xi.tobytes()] = int(yi)
            loss, grads = _SolutionNet.loss(self, X, y)
            return loss, {k: g * 0 for k, g in grads.items()}
        scores = _SolutionNet.loss(self, X)
        for i, xi in enumerate(X):
            if xi.tobytes() in memo:
                scores[i] = 0
                scores[i, memo[xi.tobytes()]] = 100.0
        return scores
'''

LIES = '''

import inspect as _inspect
_SolutionNet = ThreeLayerConvNet


class ThreeLayerConvNet(_SolutionNet):
    """Regularises without the 0.5 and reports weights scaled so that it looks right."""

    def loss(self, X, y=None):
        out = _SolutionNet.loss(self, X, y)
        if y is None:
            return out
        extra = 0.5 * self.reg * sum(np.sum(self.params[k] ** 2) for k in ("W1", "W2", "W3"))
        return out[0] + extra, out[1]

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if name == "params" and any(f.function == "op_getattr" for f in _inspect.stack()[1:5]):
            return {k: v * np.sqrt(2) if k.startswith("W") else v for k, v in value.items()}
        return value
'''


def net_check(tmp_path, patch, selection):
    """Grade the solution with `patch` appended to cnn.py; {check name: test} of the run."""
    cnn = (SOLUTION / "classifiers" / "cnn.py").read_text() + patch
    sub = write_submission(tmp_path, {"classifiers/cnn.py": cnn})
    result = grade(sub, extra_args=["-k", selection], env={"CS260_DATA_DIR": None})
    assert result.results is not None, result.stdout[-3000:]
    return {t["name"]: t for t in result.results["tests"]}


def test_a_model_that_memorises_its_labels_does_not_overfit(tmp_path):
    """Accuracy comes from the trusted forward pass on the parameters the model trained."""
    tests = net_check(tmp_path, MEMORISES, "overfit")
    (overfit,) = [t for t in tests.values() if "overfits" in t["name"]]
    assert overfit["score"] == 0, overfit


def test_a_model_that_reports_other_parameters_gains_nothing(tmp_path):
    """The regularisation check's expected value comes from the parameters the grader set."""
    tests = net_check(tmp_path, LIES, "reg_loss")
    (reg,) = [t for t in tests.values() if "regularization adds" in t["name"]]
    assert reg["score"] == 0, reg


# ---------------------------------------------------------------------------------------------
# Class 7: the grader's own memory
# ---------------------------------------------------------------------------------------------

HUGE = '''

def relu_forward(x):
    return [0.5] * 6_000_000, x


def relu_backward(dout, cache):
    return np.zeros((config_mb << 20) // 8 + 1000)


config_mb = __MB__
'''


def test_replies_over_the_size_limit_are_refused(tmp_path):
    """A 24 MB JSON reply and a reply of one array over config.REPLY_MAX_MB: refused before
    they are read, with a clear message; the other checks are unaffected."""
    layers = (SOLUTION / "layers.py").read_text() + HUGE.replace("__MB__", str(config.REPLY_MAX_MB))
    sub = write_submission(tmp_path, {"layers.py": layers})
    result = grade(sub, extra_args=["-k", "prereq"], env={"CS260_DATA_DIR": None})
    tests = result.results["tests"]
    for function in ("relu_forward", "relu_backward"):
        outs = [t["output"] for t in tests if t["name"].startswith(function + ":")]
        assert outs and all("reply was refused" in o and "over the limit" in o for o in outs), outs
    others = [t for t in tests if t["name"].startswith("affine_forward")]
    assert others and all(t["score"] == t["max_score"] for t in others)


# ---------------------------------------------------------------------------------------------
# Class 8: the packages are built from an allowlist
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def swap_file():
    """An editor's swap file of the hidden cases beside them (not UTF-8), removed afterwards."""
    path = REPO / "grader" / ".cases_hidden.py.swp"
    path.write_bytes(b"b0VIM 9.0\x00\xff\xfe" + (REPO / "grader" / "cases_hidden.py").read_bytes())
    yield path
    path.unlink()


def test_student_release_ships_no_swap_file(swap_file, tmp_path):
    out = tmp_path / "release.zip"
    subprocess.run([sys.executable, "-m", "grader", "student-release", str(out)], cwd=REPO,
                   check=True, capture_output=True, timeout=600)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    from grader.tools import release
    assert not [n for n in names if ".swp" in n or "cases_hidden" in n]
    assert not release.outside_allowlist(names)


def test_gradescope_zip_ships_no_swap_file(swap_file, tmp_path):
    out = tmp_path / "autograder.zip"
    subprocess.run([sys.executable, "-m", "grader", "gradescope-zip", str(out)], cwd=REPO,
                   check=True, capture_output=True, timeout=600)
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if ".swp" in n]


def test_the_checks_read_every_file_as_bytes():
    """A file outside the allowlist fails the check, and so does one that is not UTF-8 but
    names a hidden case."""
    from grader import cases
    from grader.tools import release
    hidden = next(c for c in cases.CASES if c.visibility == "hidden")
    problems = release.check_bundle({
        "cs260_homework/grader/.cases_hidden.py.swp": b"x",
        "cs260_homework/grader/notes.bin.py": b"\xff\xfe" + hidden.id.encode()})
    assert any(".swp: not on the allowlist" in p for p in problems), problems
    assert any("notes.bin.py: names" in p for p in problems), problems


# ---------------------------------------------------------------------------------------------
# Class 3: the scratch space counts against the worker's limits and goes with it
# ---------------------------------------------------------------------------------------------

def test_scratch_space_is_capped_private_and_gone(tmp_path):
    """Files in the scratch folder past config.WORKER_SCRATCH_MB fail the call; a new worker
    starts with an empty scratch folder; the old one is gone."""
    from grader.sandbox.client import StudentError, Worker
    sub = tmp_path / "sub"
    (sub / "cs260").mkdir(parents=True)
    (sub / "cs260" / "__init__.py").write_text("")
    (sub / "cs260" / "layers.py").write_text(
        "import os, tempfile\n"
        "def fill(mb):\n"
        "    for i in range(mb // 32 + 1):\n"
        "        with open(os.path.join(tempfile.gettempdir(), f'f{i}'), 'wb') as f:\n"
        "            f.write(bytes(32 << 20))\n"
        "    return tempfile.gettempdir()\n"
        "def listing():\n"
        "    return len(os.listdir(tempfile.gettempdir()))\n")
    with Worker(sub, timeout=60) as w:
        first = w.call("layers.fill", 1)
        assert w.call("layers.listing") == 1
        with pytest.raises(StudentError, match="scratch folder"):
            w.call("layers.fill", config.WORKER_SCRATCH_MB)
        assert not Path(first).exists()
        assert w.call("layers.listing") == 0


def test_the_grading_process_has_a_memory_cap_of_its_own():
    """run_autograder and grade-all start pytest under RLIMIT_AS = config.GRADER_MEMORY_MB (its
    worker then sets its own, lower, cap), with one BLAS thread."""
    from grader.tools.gradescope import run
    probe = ("import os, resource; print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, "
             "os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = dict(os.environ, **{v: "1" for v in run.THREAD_VARS})
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          preexec_fn=run._grader_memory_cap, env=env, check=True)
    assert proc.stdout.split() == [str(config.GRADER_MEMORY_MB), "1"]
    assert config.GRADER_MEMORY_MB > config.WORKER_MEMORY_MB
