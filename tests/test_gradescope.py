"""The Gradescope autograder end to end: build autograder.zip, unpack it into a temporary root laid
out like /autograder (source/, submission/, results/), run setup.sh's steps that can run here
(no apt, no pip: the current interpreter's packages; the Cython build does run), then
run_autograder on the solution, a wrong, an empty and hostile submissions, and check every
results.json against Gradescope's format.
"""
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.sandbox import walls
from grader.tools import release
from grader.tools.gradescope import build
from grading import distinctive_solution_lines, run_as_user, validate_results

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"
# Wrong and hostile runs only need the quick checks to show the behaviour.
QUICK = "-k 'prereq or conv_forward or pool_forward'"


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory):
    return build.build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def root(zip_path, tmp_path_factory):
    """A set-up /autograder: the zip unpacked in source/ and setup.sh run (SKIP_APT/PIP/USER)."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops permissions; Gradescope keeps them
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, stat.S_IMODE(mode))
    (root / "submission").mkdir()
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               SKIP_APT="1", SKIP_PIP="1", SKIP_USER="1")
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


def run_autograder(root, files, pytest_args="", run_as="", timeout=900):
    """Put `files` ({relative path: text}) in submission/, run run_autograder; results.json.
    run_as: the student user ("" for none; None: gradescope.env's, as on Gradescope)."""
    sub = root / "submission"
    for p in sorted(sub.rglob("*"), reverse=True):
        p.unlink() if p.is_file() or p.is_symlink() else p.rmdir()
    for rel, text in files.items():
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (sub / rel).write_bytes(text)
        else:
            (sub / rel).write_text(text)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               AUTOGRADER_RUN_AS=run_as, AUTOGRADER_PYTEST_ARGS=pytest_args)
    if run_as is None:  # as on Gradescope: gradescope.env's STUDENT_USER
        del env["AUTOGRADER_RUN_AS"]
    # Gradescope copies run_autograder to the root and runs it from there.
    script = root / "run_autograder"
    script.write_bytes((root / "source" / "run_autograder").read_bytes())
    script.chmod(0o755)
    proc = subprocess.run([str(script)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    return results, proc.stdout + proc.stderr


def solution_files():
    return {"layers.py": (SOLUTION / "layers.py").read_text(),
            "cnn.py": (SOLUTION / "classifiers" / "cnn.py").read_text()}


def max_score(results):
    return sum(t["max_score"] for t in results["tests"])


# ---------------------------------------------------------------------------
# The zip
# ---------------------------------------------------------------------------

def test_zip_layout(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        env = zf.read("gradescope.env").decode()
    for need in ("setup.sh", "run_autograder", "setup.py", "pyproject.toml", "gradescope.env",
                 "starter/cs260/im2col_cython.pyx", "starter/cs260/layers.py",
                 "starter/cs260/datasets/get_datasets.sh", "grader/conftest.py",
                 "grader/tools/gradescope/run.py", "grader/pins.txt"):
        assert need in names, need
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    for rel in release.tree_files(REPO / "fixtures"):
        assert f"fixtures/{rel}" in names, rel  # public and hidden
    assert any(n.startswith("fixtures/hidden/") for n in names)
    assert not any(n.startswith(("solution/", "tests/", "notebook/")) for n in names)
    assert not any(n.endswith((".so", ".pyc")) or "__pycache__" in n for n in names)
    assert "WITH_CIFAR=0" in env


def test_zip_has_no_solution_code(zip_path):
    """No solution block's distinctive lines anywhere in the zip (independent of build's check)."""
    distinctive = distinctive_solution_lines()
    assert len(distinctive) > 20
    with zipfile.ZipFile(zip_path) as zf:
        texts = {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()}
    for name, text in texts.items():
        assert "### BEGIN SOLUTION\n" not in text, name
        lines = {line.strip() for line in text.splitlines()}
        leaked = distinctive & lines
        assert not leaked, f"{name}: {sorted(leaked)[:3]}"


def test_build_refuses_solution_code():
    files = {"grader/x.py": (SOLUTION / "layers.py").read_bytes()}
    problems = build.check_zip(files)
    assert any("solution marker" in p for p in problems)
    stripped = (SOLUTION / "layers.py").read_text().replace("### BEGIN SOLUTION", "")
    stripped = stripped.replace("### END SOLUTION", "")
    assert any("holds solution code" in p for p in build.check_zip({"a.py": stripped.encode()}))


def test_with_cifar_flag(tmp_path):
    out = build.build_zip(tmp_path / "ag.zip", with_cifar=True, timeout=1200)
    with zipfile.ZipFile(out) as zf:
        env = zf.read("gradescope.env").decode()
    assert "WITH_CIFAR=1" in env and "GRADING_TIMEOUT_S=1200" in env


# ---------------------------------------------------------------------------
# setup.sh and run_autograder
# ---------------------------------------------------------------------------

def test_setup_built_extension_and_locked_down(root):
    assert list((root / "source" / "starter" / "cs260").glob("im2col_cython*.so"))
    for part in ("grader", "fixtures", "fixtures/hidden"):
        mode = (root / "source" / part).stat().st_mode
        assert not mode & 0o077, part
    assert not (root / "results").stat().st_mode & 0o077


def test_setup_fails_loudly_when_a_step_fails(zip_path, tmp_path):
    """A step that fails (here: the extension's source is missing, so nothing is compiled)
    stops setup.sh with a non-zero status, naming the failing command; it never reaches the
    end ("set up") as if the autograder were ready."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "source")
    (tmp_path / "source" / "starter" / "cs260" / "im2col_cython.pyx").unlink()
    env = dict(os.environ, AUTOGRADER_ROOT=str(tmp_path), AUTOGRADER_PYTHON=sys.executable,
               SKIP_APT="1", SKIP_PIP="1", SKIP_USER="1")
    proc = subprocess.run(["bash", str(tmp_path / "source" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "setup.sh FAILED" in proc.stderr and "NOT set up" in proc.stderr, proc.stderr[-2000:]
    assert "im2col_cython was not built" in proc.stderr
    assert "cs260 autograder set up" not in proc.stdout
    assert not (tmp_path / "results").exists()  # stopped before the lock-down step


def test_solution_scores_everything_that_ran(root):
    results, log = run_autograder(root, solution_files())
    failed = [t["name"] for t in results["tests"] if t.get("status") == "failed"]
    assert not failed, failed
    assert results["score"] == pytest.approx(max_score(results))
    assert results["score"] > 0
    assert "cnn.py" in results["output"]
    # the results folder and the grader stay private after a run too
    assert not (root / "source" / "grader").stat().st_mode & 0o077
    assert not (root / "results").stat().st_mode & 0o077


def test_wrong_submission_loses_only_what_is_wrong(root):
    files = solution_files()
    # A ReLU that forgets to clip (defined last, so it replaces the right one).
    files["layers.py"] += ("\n\ndef relu_forward(x):\n"
                           "    return x.copy(), x\n")
    results, _ = run_autograder(root, {f"my_hw/cs260/{k}": v for k, v in files.items()}, QUICK)
    by_status = {}
    for t in results["tests"]:
        by_status.setdefault(t.get("status"), []).append(t["name"])
    assert any(n.startswith("relu_forward") for n in by_status.get("failed", []))
    assert all("relu" in n for n in by_status.get("failed", [])), by_status["failed"]
    assert any(n.startswith("affine_forward") for n in by_status.get("passed", []))
    assert 0 < results["score"] < max_score(results)


def test_empty_submission_says_what_was_expected(root):
    results, _ = run_autograder(root, {}, QUICK)
    assert results["score"] == 0
    assert results["tests"] and all(t["score"] == 0 for t in results["tests"])
    out = results["output"]
    assert "layers.py" in out and "cnn.py" in out and "no files" in out


def test_misnamed_submission(root):
    results, _ = run_autograder(root, {"my_layers.py": solution_files()["layers.py"]}, QUICK)
    assert results["score"] == 0
    assert "my_layers.py" in results["output"]


def test_zip_submission(root, tmp_path):
    archive = tmp_path / "hw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in solution_files().items():
            place = "cs260/classifiers/cnn.py" if name == "cnn.py" else f"cs260/{name}"
            zf.writestr(f"homework/{place}", text)
    results, _ = run_autograder(root, {"hw.zip": archive.read_bytes()}, "-k prereq")
    assert results["score"] == pytest.approx(max_score(results)) and results["score"] > 0


def test_hostile_exit_at_import(root):
    files = solution_files()
    files["layers.py"] = "import os\nos._exit(0)\n" + files["layers.py"]
    results, _ = run_autograder(root, files, "-k prereq")
    assert results["score"] == 0
    assert results["tests"]


def test_hostile_kills_grader_and_forges_results(root):
    """Student code that kills the grading process after writing a perfect results.json gets the
    fallback (score 0), not its forgery; where the kernel scopes signals, it cannot even kill it."""
    forged = json.dumps({"score": 100.0, "tests": [{"name": "x", "score": 100.0}]})
    target = root / "results" / "results.json"
    files = solution_files()
    files["layers.py"] = (
        "import os, signal\n"
        "try:\n"
        f"    open({str(target)!r}, 'w').write({forged!r})\n"
        "except OSError:\n"
        "    pass\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n" + files["layers.py"])
    results, _ = run_autograder(root, files, "-k prereq")
    assert results["score"] == 0
    if walls.probe()["LANDLOCK_SCOPE"]:
        # The signal is refused (docs/SECURITY.md): the import fails, the run is graded.
        assert results["tests"] and "PermissionError" in json.dumps(results["tests"])
    else:
        assert "killed (signal 9)" in results["output"] and not results["tests"]


@pytest.mark.run_as
def test_student_user_cannot_read_grader_or_write_results(root):
    user = run_as_user()
    # What the code saw comes back through a visible check's output (relu_forward prints it and
    # fails): no folder outside its scratch space is writable for it (docs/SECURITY.md).
    hidden = next((root / "source" / "fixtures" / "hidden").iterdir())
    files = solution_files()
    files["layers.py"] += (
        "\n\nimport os as _os\n_SEEN = ['ran']\n"
        f"for _path in [{str(hidden)!r}, {str(root / 'source' / 'grader' / 'config.py')!r}]:\n"
        "    try:\n"
        "        open(_path, 'rb').read(1)\n"
        "        _SEEN.append('leaked ' + _path)\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        f"    open({str(root / 'results' / 'pwned')!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n\n\n"
        "def relu_forward(x):\n"
        "    print(' '.join(_SEEN))\n"
        "    return x * 0 - 1, x\n")
    results, log = run_autograder(root, files, "-k prereq", run_as=user)
    assert f"runs as {user}" in log
    relu = [t for t in results["tests"] if t["name"].startswith("relu_forward:")]
    assert relu and all("ran" in t["output"] for t in relu), "the student code never ran"
    assert not any("leaked" in t["output"] for t in relu), [t["output"] for t in relu]
    assert not (root / "results" / "pwned").exists()
    others = [t for t in results["tests"] if not t["name"].startswith(("relu_forward", "affine_relu"))]
    assert others and all(t["score"] == t["max_score"] for t in others)


def test_time_limit_keeps_the_checks_that_ran(root):
    """At gradescope.env's GRADING_TIMEOUT_S pytest is stopped; the checks that ran count, and
    results.json says why the rest score 0."""
    env_file = root / "source" / "gradescope.env"
    original = env_file.read_text()
    env_file.write_text(original.replace("GRADING_TIMEOUT_S=", "GRADING_TIMEOUT_S=12\n#"))
    try:
        files = solution_files()
        files["layers.py"] += "\n\ndef batchnorm_backward(dout, cache):\n    while True:\n        pass\n"
        results, log = run_autograder(root, files, "-k prereq --worker-timeout 600")
    finally:
        env_file.write_text(original)
    assert results["output"].startswith("Grading was stopped at the time limit (12 s)")
    assert results["score"] > 0
    assert "batchnorm_backward" not in " ".join(
        t["name"] for t in results["tests"] if t.get("status") == "passed")
