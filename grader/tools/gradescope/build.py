"""Build Gradescope's autograder.zip (`python -m grader gradescope-zip OUT.zip [--with-cifar]`).

The zip's root: setup.sh and run_autograder (from this folder), gradescope.env (settings for
both), setup.py and pyproject.toml (to compile the Cython extension), the trusted starter
package (starter/cs260, sources), the grader package with the hidden cases
(grader/cases_hidden.py) and all fixtures (public and hidden).
There is no solution/: the zip is checked for solution code after it is built.
"""
from pathlib import Path

from grader import options
from grader.tools import release
from grader.config import (DATA_SUBDIR, ENV_FILE, GRADING_TIMEOUT_S, STUDENT_USER)

HERE = Path(__file__).resolve().parent
REPO = release.REPO
ROOT_SCRIPTS = ("setup.sh", "run_autograder")


def env_file(with_cifar, timeout):
    """gradescope.env: KEY=VALUE lines that setup.sh sources and run.py reads."""
    return (f"# Written by `python -m grader gradescope-zip`; read by setup.sh and run_autograder.\n"
            f"STUDENT_USER={STUDENT_USER}\n"
            f"WITH_CIFAR={1 if with_cifar else 0}\n"
            f"DATA_SUBDIR={DATA_SUBDIR}\n"
            f"GRADING_TIMEOUT_S={int(timeout)}\n")


def zip_entries(with_cifar=False, timeout=GRADING_TIMEOUT_S):
    """{path in the zip: Path or bytes}."""
    starter = release.tree_files(release.STARTER)
    if "layers.py" not in starter or "im2col_cython.pyx" not in starter:
        raise FileNotFoundError(f"{release.STARTER} is incomplete; run "
                                "`python -m grader make-starter`")
    entries = {name: HERE / name for name in ROOT_SCRIPTS}
    entries[ENV_FILE] = env_file(with_cifar, timeout).encode()
    entries["setup.py"] = REPO / "setup.py"
    entries["pyproject.toml"] = REPO / "pyproject.toml"
    for rel, path in starter.items():
        entries[f"starter/cs260/{rel}"] = path
    for rel, path in release.tree_files(REPO / "grader", skip=release.GRADER_SKIP).items():
        entries[f"grader/{rel}"] = path
    for rel, path in release.tree_files(REPO / "fixtures").items():
        entries[f"fixtures/{rel}"] = path
    return entries


def check_zip(files):
    """Problems of a built autograder.zip ({path: bytes}): solution code, missing parts."""
    problems = release.find_solution_leaks(files)
    problems += release.outside_allowlist(files)
    problems += [f"{rel}: solution/ must not be shipped" for rel in files
                 if rel.startswith("solution/")]
    hidden = release.tree_files(REPO / "fixtures" / "hidden")
    for need in [*ROOT_SCRIPTS, ENV_FILE, "setup.py", "starter/cs260/im2col_cython.pyx",
                 "grader/conftest.py", "grader/tools/gradescope/run.py",
                 f"grader/{release.HIDDEN_CASES_FILE}",
                 *(f"fixtures/hidden/{rel}" for rel in hidden)]:
        if need not in files:
            problems.append(f"{need}: missing")
    return problems


def build_zip(out, with_cifar=False, timeout=GRADING_TIMEOUT_S):
    """Write autograder.zip to out; raises RuntimeError (and removes it) if it is unsafe."""
    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"{out}: the Gradescope autograder must be a .zip")
    release.write_bundle(zip_entries(with_cifar, timeout), out)
    problems = check_zip(release.read_bundle(out))
    if problems:
        out.unlink()
        raise RuntimeError("autograder.zip is unsafe or incomplete, not written:\n  "
                           + "\n  ".join(problems))
    return out


def add_arguments(parser):
    """The options of gradescope-zip (shared ones from grader/options.py)."""
    parser.add_argument("out", help="where to write the zip, e.g. autograder.zip")
    parser.add_argument("--with-cifar", action="store_true",
                        help="setup.sh downloads CIFAR-10 (about 170 MB) so the training checks "
                             "run; without it they are skipped (and their points not counted)")
    options.add(parser, options.GRADING_TIMEOUT)


def run(args):
    """`python -m grader gradescope-zip`: build and check the zip; the exit status."""
    out = build_zip(args.out, args.with_cifar, args.timeout)
    files = release.read_bundle(out)
    print(f"Gradescope autograder: {out} ({len(files)} files, CIFAR-10 download "
          f"{'on' if args.with_cifar else 'off'}; no solution code)")
    return 0
