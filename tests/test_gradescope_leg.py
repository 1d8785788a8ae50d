"""The Gradescope leg of .ci/run: checks on an autograder that was really set up.

`.ci/run gradescope` builds autograder.zip, unpacks it into a temporary /autograder-like root
and runs its setup.sh there for real (all but the apt step: the pinned requirements pip-installed
into a fresh Python 3.10 venv, the extension compiled, the `cs260student` user created, the
grader locked away), then runs these tests with CS260_GRADESCOPE_ROOT set to that root and that
venv's Python. Each test puts a submission in submission/ and runs run_autograder as Gradescope
does: as root, student code dropped to gradescope.env's STUDENT_USER, CIFAR-10 from <root>/data
when the leg linked it there. Without CS260_GRADESCOPE_ROOT these tests skip (fail in CI).
"""
import os
import pkgutil
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import grader
from grader import config
from grader.config import STUDENT_USER
from grading import in_ci, run_as_user
from test_gradescope import max_score, run_autograder, solution_files

ROOT_ENV = "CS260_GRADESCOPE_ROOT"
HOW = "`.ci/run gradescope` sets up an autograder with setup.sh and runs these tests on it"

pytestmark = pytest.mark.run_as


@pytest.fixture(scope="module")
def root():
    given = os.environ.get(ROOT_ENV)
    if not given:
        if in_ci():
            pytest.fail(f"CI=true: {ROOT_ENV} is not set; {HOW}", pytrace=False)
        pytest.skip(f"{ROOT_ENV} is not set; {HOW}")
    run_as_user()  # root, and a student user who can run this Python (else skip, or fail in CI)
    return Path(given)


@pytest.fixture(autouse=True)
def data_as_on_gradescope(monkeypatch):
    """Data only where Gradescope has it: CIFAR-10 in <root>/data, no notebook photos."""
    monkeypatch.delenv("CS260_DATA_DIR", raising=False)
    monkeypatch.delenv("CS260_NOTEBOOK_IMAGES", raising=False)


def cifar_points():
    return sum(points for key, (_, points) in config.CHECKS.items() if key == "convnet.train")


def test_set_up_by_setup_sh(root):
    """What setup.sh left: the extension built for this Python, the student user, the lock-down."""
    import sysconfig
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert (root / "source" / "starter" / "cs260" / f"im2col_cython{suffix}").is_file()
    import pwd
    assert pwd.getpwnam(STUDENT_USER).pw_uid != 0
    for part in ("grader", "fixtures"):
        assert not (root / "source" / part).stat().st_mode & 0o077, part
    assert not (root / "results").stat().st_mode & 0o077


def test_pinned_requirements_are_what_runs(root):
    """The venv holds exactly the pins of grader/pins.txt (numpy, Cython, pytest...)."""
    from importlib import metadata
    from packaging.requirements import Requirement
    from grader import environment
    pins_file = root / "source" / "grader" / "pins.txt"
    names = {Requirement(line).name for line in environment.pin_lines(pins_file)}
    assert "numpy" in names
    for name in names:
        assert metadata.version(name) == environment.pinned_version(name, path=pins_file), name


def test_solution_full_marks_as_the_student_user(root):
    results, log = run_autograder(root, solution_files(), run_as=None)
    assert f"student code runs as {STUDENT_USER}" in log
    failed = [t["name"] for t in results["tests"] if t.get("status") == "failed"]
    assert not failed, failed
    assert results["score"] == pytest.approx(max_score(results))
    hidden = [t for t in results["tests"] if t.get("visibility") == "after_published"]
    assert hidden, "the hidden checks did not run"
    expected = 100 if (root / "data" / "cifar-10-batches-py").is_dir() else 100 - cifar_points()
    assert results["score"] == pytest.approx(expected)


def test_wrong_submission_loses_the_wrong_function_only(root):
    files = solution_files()
    files["layers.py"] += "\n\ndef relu_forward(x):\n    return x.copy(), x\n"
    results, _ = run_autograder(root, files, "-k 'prereq or conv_forward'", run_as=None)
    failed = [t["name"] for t in results["tests"] if t.get("status") == "failed"]
    assert failed and all(name.startswith("relu_forward") for name in failed), failed
    assert 0 < results["score"] < max_score(results)


def test_empty_submission_scores_zero_and_says_what_was_expected(root):
    results, _ = run_autograder(root, {}, "-k prereq", run_as=None)
    assert results["score"] == 0 and results["tests"]
    assert "layers.py" in results["output"] and "cnn.py" in results["output"]


def test_hostile_submission_reads_nothing_and_forges_nothing(root):
    """Student code that tries to read a hidden fixture and the grader, to write into results/
    and to forge results.json gets none of it; the rest of its (correct) code scores. What it
    saw comes back through relu_forward's output (it prints it and fails): no folder outside
    its scratch space is writable for it (docs/SECURITY.md)."""
    hidden = next((root / "source" / "fixtures" / "hidden").iterdir())
    targets = [str(hidden), str(root / "source" / "grader" / "config.py")]
    files = solution_files()
    files["layers.py"] += (
        "\n\nimport os as _os\n_SEEN = ['ran as uid %d' % _os.getuid()]\n"
        f"for _path in {targets!r}:\n"
        "    try:\n"
        "        open(_path, 'rb').read(1)\n"
        "        _SEEN.append('leaked ' + _path)\n"
        "    except OSError:\n"
        "        pass\n"
        f"for _path in [{str(root / 'results' / 'results.json')!r}, {str(root / 'results' / 'x')!r}]:\n"
        "    try:\n"
        "        open(_path, 'w').write('{\"score\": 100}')\n"
        "        _SEEN.append('wrote ' + _path)\n"
        "    except OSError:\n"
        "        pass\n\n\n"
        "def relu_forward(x):\n"
        "    print(' '.join(_SEEN))\n"
        "    return x * 0 - 1, x\n")
    results, log = run_autograder(root, files, "-k prereq", run_as=None)
    relu = " ".join(t.get("output", "") for t in results["tests"]
                    if t["name"].startswith("relu_forward:"))
    assert "ran as uid" in relu, "the student code never ran, so this test proves nothing"
    assert "ran as uid 0 " not in relu + " ", "student code ran as root"
    assert "leaked" not in relu and "wrote" not in relu, relu
    others = [t for t in results["tests"]
              if not t["name"].startswith(("relu_forward", "affine_relu"))]
    assert others and all(t["score"] == t["max_score"] for t in others)


def test_every_grader_module_imports_on_this_python(root):
    """Gradescope's Python (3.10): no module of the grader uses anything newer."""
    names = [m.name for m in pkgutil.walk_packages(grader.__path__, "grader.")
             if not m.name.rsplit(".", 1)[-1].startswith(("test_", "conftest"))]
    assert "grader.sandbox.worker" in names and "grader.tools.gradescope.run" in names
    for name in names:
        importlib.import_module(name)
    source = Path(grader.__file__).parent
    proc = subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
