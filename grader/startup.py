"""Wrong starts of a grading run, each said in one line with what to do: no submission where it
was looked for (run from the wrong folder), a pytest from a Python that lacks the grader's
packages, the fast layers' extension not built. grader/plugin.py stops the run with that line
(pytest's usage error) and still writes results.json where one was asked for.
"""
import shlex
import sys
from pathlib import Path

from grader import config

# The distributions a grading run imports (grader/pins.txt pins their versions).
RUN_NEEDS = ("numpy", "gradescope-utils", "pytest-timeout")


def missing_packages(needs=RUN_NEEDS):
    """The distributions of `needs` this Python does not have."""
    from importlib.metadata import PackageNotFoundError, version
    missing = []
    for name in needs:
        try:
            version(name)
        except PackageNotFoundError:
            missing.append(name)
    return missing


def unbuilt(package):
    """True if the cs260 folder `package` has the Cython source but no compiled extension."""
    package = Path(package)
    if not (package / "im2col_cython.pyx").is_file():
        return False
    built = [p for p in package.glob("im2col_cython*") if p.suffix in (".so", ".pyd")]
    return not built


def problem(submission, given, trusted_root):
    """The one line that stops a run before it starts, or "" when it can start."""
    missing = missing_packages()
    if missing:
        python = shlex.quote(sys.executable)
        return (f"This pytest runs on {sys.executable}, which lacks {', '.join(missing)}: the "
                "homework is installed in another Python. Run `python -m pytest grader` with "
                "the Python you installed it into (on Colab: `!python -m pytest grader`), or "
                f"install here: `{python} -m pip install -r requirements.txt`.")
    if not Path(submission).exists():
        if given:
            return f"--submission {submission}: no such file or folder."
        return ("No cs260/ folder here or next to the grader: run `pytest grader` in the homework "
                "folder (the one that holds cs260/ and ConvolutionalNetworks.ipynb), or pass "
                "--submission PATH.")
    if unbuilt(trusted_root):
        folder = shlex.quote(str(config.REPO))
        return (f"The fast layers are not built ({trusted_root} has no compiled im2col_cython): "
                f"run `python setup.py build_ext --inplace` in {folder} (the README's second "
                "install command), then grade again.")
    return ""
