"""The student release: the homework bundle students download, and the packaging helpers it
shares with the Gradescope zip (grader/tools/gradescope/build.py).

    python -m grader student-release OUT.zip|DIR [--images DIR]

The bundle holds cs260/ (the starter, as sources: the student compiles it), the grader package
with a pristine copy of the starter in grader/_trusted/cs260 (the loader takes everything but
the student's files from there), the public fixtures and cases only (no grader/cases_hidden.py;
the manifest lists the public cases), the notebook, a README, a requirements.txt and a setup.py
that compiles the Cython extension of both cs260 copies in place. It never contains solution
code, hidden fixtures or anything that names a hidden case (id, name or seed): all are checked
after building.
"""
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

from grader import config  # noqa: E402

REPO = config.REPO
SOLUTION = REPO / "solution" / "cs260"
STARTER = REPO / "starter" / "cs260"
NOTEBOOK = REPO / "notebook" / "ConvolutionalNetworks.ipynb"
TRUSTED_IN_BUNDLE = "grader/_trusted/cs260"   # grader/sandbox/trusted.py looks here in a release
BUNDLE_FOLDER = "cs260_homework"              # top folder inside the release zip
IMAGES = ("kitten.jpg", "puppy.jpg")          # the notebook's photos (course staff add them)
IMAGES_ENV = "CS260_NOTEBOOK_IMAGES"

# Never packaged: caches, build products (each machine compiles its own), downloaded data.
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", "build", "cifar-10-batches-py"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".o", ".c", ".tar.gz", ".egg-info")
# Left out of the grader package: a stale trusted copy, and the starter generator (it only
# makes sense next to solution/).
GRADER_SKIP = ("_trusted/", "make_starter.py")
# Left out of the student release only (the Gradescope zip needs it): the hidden cases.
HIDDEN_CASES_FILE = "cases_hidden.py"
RELEASE_GRADER_SKIP = GRADER_SKIP + (HIDDEN_CASES_FILE,)

# The allowlist: the only files either package ships (checked again on the built archive).
# No dotfile or dot-folder (editor swap files such as .cases_hidden.py.swp), no backup or merge
# leftover (~, .orig, .rej, .bak): only these kinds of file, by name.
ALLOWED_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
                          r"\.(py|pyx|npz|sh|txt|json|ipynb|toml|md|env|jpg)|run_autograder")


def allowed(rel):
    """True if the relative path `rel` is on the packages' allowlist (ALLOWED_NAME, no dot
    component)."""
    parts = rel.split("/")
    return (all(p and not p.startswith(".") for p in parts)
            and ALLOWED_NAME.fullmatch(parts[-1]) is not None)


def outside_allowlist(files):
    """Problems (one line each) for the entries of a built package that are not `allowed`."""
    return [f"{rel}: not on the allowlist of files a package may hold" for rel in sorted(files)
            if not allowed(rel.split("/", 1)[1] if rel.startswith(BUNDLE_FOLDER + "/") else rel)]


BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
WINDOW = 3   # solution lines matched together when looking for leaked solution code


# ---------------------------------------------------------------------------
# Packaging helpers (also used by grader/tools/gradescope/build.py)
# ---------------------------------------------------------------------------

def tree_files(src, skip=()):
    """{relative POSIX path: Path} of the files under src, without caches, build products,
    data and any relative path starting with one of `skip`."""
    src = Path(src)
    files = {}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(src).as_posix()
            if (name.endswith(SKIP_SUFFIXES) or rel.startswith(tuple(skip))
                    or path.is_symlink() or not allowed(rel)):
                continue
            files[rel] = path
    return files


def write_bundle(entries, out, folder=""):
    """Write entries {relative path: Path or bytes} to out: a .zip (under `folder`) or a folder.

    Shell scripts and files that were executable keep their executable bit.
    """
    out = Path(out)
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in sorted(entries):
                data = _content(entries[rel])
                info = zipfile.ZipInfo(f"{folder}/{rel}" if folder else rel,
                                       date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | _mode(rel, entries[rel])) << 16
                zf.writestr(info, data)
        os.replace(tmp, out)
    else:
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not empty")
        for rel, value in entries.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_content(value))
            os.chmod(target, _mode(rel, value))
    return out


def _content(value):
    return value if isinstance(value, bytes) else Path(value).read_bytes()


def _mode(rel, value):
    executable = rel.endswith(".sh") or (isinstance(value, Path) and os.access(value, os.X_OK))
    return 0o755 if executable else 0o644


def read_bundle(path):
    """{relative path: bytes} of a built bundle (a .zip, top folder stripped, or a folder)."""
    path = Path(path)
    files = {}
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    files[info.filename] = zf.read(info)
        tops = {name.split("/", 1)[0] for name in files}
        if len(tops) == 1 and all("/" in n for n in files):
            files = {n.split("/", 1)[1]: data for n, data in files.items()}
    else:
        for rel, p in tree_files(path).items():
            files[rel] = p.read_bytes()
    return files


def solution_blocks(solution_root=SOLUTION):
    """{file: [block lines]} of the code between the solution markers in solution/cs260."""
    blocks = {}
    for rel, path in tree_files(solution_root).items():
        if not rel.endswith(".py"):
            continue
        inside, current = False, []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() == BEGIN:
                inside, current = True, []
            elif line.strip() == END:
                inside = False
                blocks.setdefault(rel, []).append(current)
            elif inside:
                current.append(line)
    return blocks


def _code_lines(text):
    """Stripped lines of source text, without blanks and comments: what code matching uses."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def solution_fingerprints(solution_root=SOLUTION):
    """Every run of WINDOW consecutive code lines inside a solution block (or a whole block
    if it is shorter), as one string: a file containing any of them leaks the solution."""
    prints = set()
    for blocks in solution_blocks(solution_root).values():
        for block in blocks:
            code = _code_lines("\n".join(block))
            if len(code) < WINDOW:
                if code:
                    prints.add("\n".join(code))
                continue
            for i in range(len(code) - WINDOW + 1):
                prints.add("\n".join(code[i:i + WINDOW]))
    return prints


def _texts(files):
    """(path, text) of every file of `files` ({path: bytes}), in path order: UTF-8, or byte for
    byte (latin-1) when it is not, so no file escapes the checks by its encoding."""
    for rel, data in sorted(files.items()):
        try:
            yield rel, data.decode("utf-8")
        except UnicodeDecodeError:
            yield rel, data.decode("latin-1")


def find_solution_leaks(files, solution_root=SOLUTION):
    """Problems (one line each) if any of `files` ({path: bytes}) holds solution code: a solution
    marker line, or a run of lines of a solution block. [] if clean."""
    marker = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.M)
    prints = solution_fingerprints(solution_root) if Path(solution_root).is_dir() else set()
    problems = []
    for rel, text in _texts(files):
        if marker.search(text):
            problems.append(f"{rel}: has a solution marker line")
        if rel.endswith(".ipynb"):
            text = _notebook_code(text)
        code = "\n".join(_code_lines(text))
        hits = [p for p in prints if p in code]
        if hits:
            first = hits[0].splitlines()[0]
            problems.append(f"{rel}: holds solution code ({len(hits)} matching runs, e.g. {first!r})")
    return problems


def _notebook_code(text):
    """The code cells of a notebook's JSON text, joined (for leak matching)."""
    import json
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return text
    return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


# ---------------------------------------------------------------------------
# The student bundle
# ---------------------------------------------------------------------------

REQUIREMENTS = """\
# What the homework needs; install with: python -m pip install -r requirements.txt
# The grading environment's pins (numpy above all: the version Gradescope grades with):
-r grader/pins.txt
pillow>=10
"""

SETUP_PY = '''\
"""Compiles the fast layers' Cython extension in place, for your cs260/ and for the grader's
pristine copy of it:

    python setup.py build_ext --inplace
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

PACKAGES = ["cs260", "{trusted}"]

extensions = [
    Extension(
        package.replace("/", ".") + ".im2col_cython",
        [package + "/im2col_cython.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for package in PACKAGES
]

setup(
    name="cs260-homework",
    version="1.0",
    py_modules=[],
    ext_modules=cythonize(extensions, language_level=3),
    zip_safe=False,
)
'''.replace("{trusted}", TRUSTED_IN_BUNDLE)

# The bundle's own pyproject.toml: only what `pytest grader` needs here (the repo's names the
# project's tests, its build and its lint, none of which the bundle has).
PYPROJECT_TOML = """\
# pytest's settings for `pytest grader`, run in this folder (README.md).
[tool.pytest.ini_options]
pythonpath = ["."]
"""

README = """\
# cs260 homework: Convolutional Networks

You implement the layers of a convolutional network in numpy and train a small one on CIFAR-10.
The notebook `ConvolutionalNetworks.ipynb` walks you through it.

| What | Where |
| --- | --- |
| your code (edit these two files) | `cs260/layers.py`, `cs260/classifiers/cnn.py` |
| the rest of the package (given) | `cs260/` |
| the notebook | `ConvolutionalNetworks.ipynb` |
| the autograder (public checks) | `grader/`, `fixtures/public/` |

## 1. Install (once)

You need Python 3.10 or newer and a C compiler (Linux: `gcc`; macOS: `xcode-select --install`),
on Linux, macOS or Google Colab. On Windows, work in WSL (Ubuntu) or on Colab: the grader does
not run on Windows itself. Using a virtual environment is a good idea (`python -m venv .venv`
and activate it). Then, in this folder:

```
python -m pip install -r requirements.txt
python setup.py build_ext --inplace
```

The second command compiles the Cython extension that makes the fast convolution layers fast.
Run it again if you update numpy. For the notebook you also need Jupyter and matplotlib:
`python -m pip install jupyter matplotlib`.

`requirements.txt` installs numpy 2.2.6, the version Gradescope grades with (it has wheels for
Python 3.10 to 3.13). Do not upgrade it: newer numpy turns some deprecated uses into errors (for
example `int(a)` of a one-element array; write `a.item()`), and the grade here would differ from
Gradescope's. On a Python that cannot get numpy 2.2.6, `pytest grader` still runs and says at the
top of its output which numpy it has and that results may differ.

**On Google Colab:** upload this folder to your Google Drive (for example as
`My Drive/cs260_homework`) and open `ConvolutionalNetworks.ipynb` from there. Its first code cell
runs only on Colab: set `FOLDERNAME` in it to the folder's name and run it; it mounts your Drive,
goes into the folder and runs the two commands above, and the notebook goes on without a
runtime restart.

CIFAR-10 (about 170 MB) is downloaded by the notebook (`bash cs260/datasets/get_datasets.sh`);
only the training sections need it.

## 2. Work

Start Jupyter in this folder (`jupyter notebook ConvolutionalNetworks.ipynb`) and follow the
notebook. Write your code in `cs260/layers.py` and `cs260/classifiers/cnn.py` only: the grader
takes these two files from your `cs260/` and everything else from its own copy of the package.

**Prerequisites from the earlier homework.** The first seven layers of `cs260/layers.py`
(`affine_forward`, `affine_backward`, `relu_forward`, `relu_backward`, `softmax_loss`,
`batchnorm_forward`, `batchnorm_backward`) are TODOs: bring your implementations from the
earlier homework (fully-connected networks and batch normalization). They are graded here
(section 0, 10 points), and the sandwich layers and `ThreeLayerConvNet` use them.

After each exercise the notebook has a check cell, `from grader import check` and then
`check("conv_forward_naive")`: it grades that one function as the autograder does (the same
checks and points), in a few seconds, and shows its points, each failing case in one line,
what to fix first and the first failure in full. In a terminal: `python -m grader check
conv_forward_naive`.

## 3. Check your score

```
pytest grader
```

On Colab, run `!pytest grader` in a notebook cell after the first cell (which went into this
folder), or in a new cell `%cd "/content/drive/My Drive/cs260_homework"` first (the quotes matter:
the path has a space).

This grades your `cs260/` with the public checks. Its last screen is the score table (one row
per section of the notebook) and what to fix first; above them, each function that loses
points with its first failing case in full. `pytest grader -k NAME` runs one graded function's
checks (`-k conv_backward_naive`, `-k max_pool`, `-k ThreeLayerConvNet`, ...), `-x` stops at
the first function to fix, and `-v` shows every failing case in full. Gradescope runs the same checks plus hidden cases,
so a full score here is a good sign but not a guarantee. Before you start it prints 0 points with
"not implemented" messages; that is expected. The check that trains on CIFAR-10 is skipped, with
a message saying where it looked, when it does not find the data; it finds the copy the notebook
downloads into `cs260/datasets/`.

## 4. Submit

Upload `cs260/layers.py` and `cs260/classifiers/cnn.py` to Gradescope (or a zip of your `cs260/`
folder).
"""


def bundle_entries(images_dir=None):
    """{relative path: Path or bytes} of the student bundle."""
    starter = tree_files(STARTER)
    if "layers.py" not in starter or "im2col_cython.pyx" not in starter:
        raise FileNotFoundError(f"{STARTER} is incomplete; run `python -m grader make-starter`")
    entries = {}
    for rel, path in starter.items():
        entries[f"cs260/{rel}"] = path
        entries[f"{TRUSTED_IN_BUNDLE}/{rel}"] = path
    for rel, path in tree_files(REPO / "grader", skip=RELEASE_GRADER_SKIP).items():
        entries[f"grader/{rel}"] = path
    for rel, path in tree_files(REPO / "fixtures" / "public").items():
        entries[f"fixtures/public/{rel}"] = path
    from grader.checks.fixtures import MANIFEST, public_manifest_text
    entries[f"fixtures/{MANIFEST}"] = public_manifest_text().encode()
    entries["ConvolutionalNetworks.ipynb"] = NOTEBOOK
    entries["pyproject.toml"] = PYPROJECT_TOML.encode()
    entries["setup.py"] = SETUP_PY.encode()
    entries["requirements.txt"] = REQUIREMENTS.encode()
    entries["README.md"] = README.encode()
    images_dir = images_dir or os.environ.get(IMAGES_ENV)
    if images_dir:
        for name in IMAGES:
            if (Path(images_dir) / name).is_file():
                entries[f"cs260/notebook_images/{name}"] = Path(images_dir) / name
    return entries


def hidden_case_marks():
    """(what, regex) for everything that names a hidden case: its id, its name inside its
    section and its seed. From grader/cases.py, hidden cases included."""
    from grader import cases
    marks = []
    for case in cases.CASES:
        if case.visibility == "hidden":
            short = case.id.split(".", 1)[1]
            marks += [(f"the hidden case id {case.id}", re.escape(case.id)),
                      (f"the hidden case name {short}", rf"(?<![\w]){re.escape(short)}(?!\w)"),
                      (f"the seed of {case.id}", rf"(?<!\d){case.rng_seed}(?!\d)")]
    return [(what, re.compile(pattern)) for what, pattern in marks]


def find_hidden_case_mentions(files, marks=None):
    """Problems (one line each) if any text file of `files` ({path: bytes}) names a hidden case
    (hidden_case_marks). [] if clean."""
    marks = hidden_case_marks() if marks is None else marks
    problems = []
    for rel, text in _texts(files):
        found = [what for what, pattern in marks if pattern.search(text)]
        if found:
            more = f" and {len(found) - 1} more" if len(found) > 1 else ""
            problems.append(f"{rel}: names {found[0]}{more}")
    return problems


def check_bundle(files):
    """Problems of a built bundle ({path: bytes}): solution code, hidden fixtures or hidden
    cases, missing parts."""
    problems = find_solution_leaks(files)
    problems += find_hidden_case_mentions(files)
    problems += outside_allowlist(files)
    hidden = {p.read_bytes() for p in tree_files(REPO / "fixtures" / "hidden").values()}
    for rel, data in files.items():
        if "fixtures/hidden" in rel or data in hidden:
            problems.append(f"{rel}: is a hidden fixture")
    for need in ("cs260/layers.py", "cs260/classifiers/cnn.py", f"{TRUSTED_IN_BUNDLE}/layers.py",
                 "grader/conftest.py", "README.md", "setup.py", "ConvolutionalNetworks.ipynb"):
        if need not in files:
            problems.append(f"{need}: missing")
    return problems


def build_release(out, images_dir=None):
    """Build the student bundle at out (.zip or an empty/new folder); returns out.

    Raises RuntimeError (and removes the output) if the result holds solution code, a hidden
    fixture or names a hidden case.
    """
    out = Path(out)
    write_bundle(bundle_entries(images_dir), out, folder=BUNDLE_FOLDER)
    problems = check_bundle(read_bundle(out))
    if problems:
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
        raise RuntimeError("the student release is unsafe, not written:\n  " + "\n  ".join(problems))
    return out


def main(argv=None):
    """`python -m grader.tools.release`: build the student bundle; the exit status."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m grader student-release",
                                     description="Build the student bundle (.zip or folder).")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser):
    """The options of student-release."""
    parser.add_argument("out", help="OUT.zip, or a new (or empty) folder")
    parser.add_argument("--images", metavar="DIR", default=None,
                        help=f"folder with {' and '.join(IMAGES)} for the notebook's image aside "
                             f"(default ${IMAGES_ENV}; without them the notebook uses a "
                             "generated image)")


def run(args):
    """Build and check the student bundle; the exit status."""
    out = build_release(args.out, args.images)
    n = len(read_bundle(out))
    print(f"student release: {out} ({n} files; no solution code, no hidden cases or fixtures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
