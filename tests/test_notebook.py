"""Runs the student notebook's code cells against solution/cs260 and checks what they print.

nbformat/nbclient are not installed, so the .ipynb JSON is read directly and every code cell
is exec'd in one namespace, in a subprocess whose working directory is solution/ (so `cs260`
is the reference package). IPython magics (`%...`, `!...`) are dropped. Cells tagged
`requires_cifar` run only when CIFAR-10 is on disk; cells tagged `slow` (full training) only in
the slow test.
"""
import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebook" / "ConvolutionalNetworks.ipynb"
SOLUTION = REPO / "solution"
CIFAR_TAG = "requires_cifar"
SLOW_TAG = "slow"
# check("NAME") cells run pytest grader in a subprocess: tests/test_release.py runs them in a
# real Jupyter kernel on the starter, the solution and a planted bug; the in-process run skips them.
CHECK_TAG = "check"
# Printed "... error: X" / "difference: X" lines must be below this; the notebook's comments
# promise about 1e-8 (1e-6 for the normalization layers).
MAX_PRINTED_ERROR = 1e-5


def code_cells(path):
    """(tags, source) of every code cell of the notebook, in order."""
    nb = json.loads(Path(path).read_text())
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = cell["source"]
        if isinstance(source, list):
            source = "".join(source)
        cells.append((set(cell.get("metadata", {}).get("tags", [])), source))
    return cells


def strip_magics(source):
    """The cell without IPython magic and shell lines (they have no meaning outside Jupyter)."""
    kept = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(kept)


def cifar_available():
    """True when get_CIFAR10_data would find the data (same lookup as cs260/data_utils.py)."""
    base = os.environ.get("CS260_DATA_DIR") or str(SOLUTION / "cs260" / "datasets")
    return (Path(base) / "cifar-10-batches-py" / "data_batch_1").is_file()


class _Dummy:
    """Stands in for matplotlib when it is not installed: accepts any call, attribute or item."""

    def __call__(self, *args, **kwargs):
        return _Dummy()

    def __getattr__(self, name):
        return _Dummy()

    def __setitem__(self, key, value):
        pass

    def __getitem__(self, key):
        return _Dummy()


def _install_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.show = lambda *a, **k: None
    except ImportError:
        mpl = types.ModuleType("matplotlib")
        pyplot = types.ModuleType("matplotlib.pyplot")
        pyplot.__getattr__ = lambda name: _Dummy()
        mpl.pyplot = pyplot
        mpl.use = lambda *a, **k: None
        sys.modules["matplotlib"] = mpl
        sys.modules["matplotlib.pyplot"] = pyplot


def run_notebook(path, skip_tags):
    """Exec the code cells of path in one namespace (cwd must be the folder holding cs260)."""
    _install_matplotlib()
    sys.path.insert(0, os.getcwd())
    namespace = {"__name__": "__main__"}
    skip_tags = set(skip_tags) | {CHECK_TAG}
    for index, (tags, source) in enumerate(code_cells(path)):
        if tags & skip_tags:
            print(f"### cell {index}: skipped ({', '.join(sorted(tags & skip_tags))})", flush=True)
            continue
        print(f"### cell {index}", flush=True)
        exec(compile(strip_magics(source), f"<cell {index}>", "exec"), namespace)


def execute(skip_tags, timeout, cwd=SOLUTION):
    """Run the notebook in a fresh interpreter in cwd (default solution/, which holds cs260);
    returns its stdout (asserts it ran without error)."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, __file__, str(NOTEBOOK), *sorted(skip_tags)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, f"notebook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def _floats(printed):
    """The numbers of a printed numpy array, flattened."""
    return np.array(printed.replace("[", " ").replace("]", " ").split(), dtype=float)


def check_printed_numbers(out):
    """The notebook's own checks, read from its output: small errors, a sensible initial loss."""
    errors = re.findall(r"^\s*(.*?(?:error|difference)):\s+(\S+)\s*$", out, flags=re.M)
    checked = [(label, float(v)) for label, v in errors if "max relative" not in label]
    assert len(checked) >= 20, out
    for label, value in checked:
        assert value < MAX_PRINTED_ERROR, f"{label}: {value}"
    grad = re.findall(r"^(\w+) max relative error: (\S+)$", out, flags=re.M)
    assert sorted(name for name, _ in grad) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert all(float(v) < 0.5 for _, v in grad), grad
    loss = float(re.search(r"Initial loss \(no regularization\):\s+(\S+)", out).group(1))
    assert abs(loss - math.log(10)) < 0.01
    reg_loss = float(re.search(r"Initial loss \(with regularization\):\s+(\S+)", out).group(1))
    assert reg_loss > loss
    # Spatial batchnorm statistics as printed in the assignment's notebook (same seeds).
    means = [_floats(m) for m in re.findall(r"means:\s+(\[.*?\])\n(?!\s*\[)", out, flags=re.S)]
    stds = [_floats(m) for m in re.findall(r"stds:\s+(\[.*?\])\n(?!\s*\[)", out, flags=re.S)]
    np.testing.assert_allclose(means[0], [10.1270009, 10.34995476, 10.22876718], rtol=1e-6)
    np.testing.assert_allclose(stds[0], [4.34690483, 3.86000959, 3.80904389], rtol=1e-6)
    np.testing.assert_allclose(stds[2], [2.99999921, 3.99999866, 4.99999828], rtol=1e-6)
    np.testing.assert_allclose(means[3], [0.04302458, 0.08924234, 0.05991434, 0.03833107], rtol=1e-5)
    np.testing.assert_allclose(stds[3], [1.01576135, 0.99228064, 0.98902125, 0.9988344], rtol=1e-6)
    # Group norm: every (example, group) normalized.
    assert means[5].size == 4
    np.testing.assert_allclose(means[5], 0, atol=1e-8)
    np.testing.assert_allclose(stds[5], 1, atol=1e-5)


def test_notebook_structure():
    """Every code cell parses; tags are the known ones; the training cell is slow and CIFAR-only."""
    cells = code_cells(NOTEBOOK)
    assert len(cells) > 20
    for tags, source in cells:
        compile(strip_magics(source), "<cell>", "exec")
        assert tags <= {CIFAR_TAG, SLOW_TAG, CHECK_TAG}
        if SLOW_TAG in tags:
            assert CIFAR_TAG in tags
    text = NOTEBOOK.read_text()
    # Colab only in the first code cell, and only under its guard (a no-op anywhere else;
    # tests/test_release.py runs it both ways).
    colab = [source for _, source in cells if "google.colab" in source or "drive.mount" in source]
    assert colab == [cells[0][1]] and 'if "google.colab" in sys.modules:' in colab[0]
    assert "cs260/datasets/get_datasets.sh" in text
    assert "notebook_images" in text
    assert "solver.train()" in "".join(s for t, s in cells if SLOW_TAG in t)
    for name in ("spatial_groupnorm_forward", "spatial_groupnorm_backward",
                 "spatial_batchnorm_backward", "conv_backward_naive", "max_pool_backward_naive"):
        assert name in text, name


def test_notebook_runs_on_solution():
    skip = {SLOW_TAG} if cifar_available() else {SLOW_TAG, CIFAR_TAG}
    out = execute(skip, timeout=900)
    check_printed_numbers(out)
    # Course staff add the photos; the repo never ships them, so the aside says so.
    if not (SOLUTION / "cs260" / "notebook_images" / "kitten.jpg").exists():
        assert "using a generated image instead" in out
    if CIFAR_TAG not in skip:
        accs = re.findall(r"\(Epoch 15 / 15\) train acc: (\S+);", out)
        assert accs and float(accs[-1]) > 0.5, "the small-data model should overfit"


def test_image_aside_with_the_photos(tmp_path):
    """With kitten.jpg and puppy.jpg in cs260/notebook_images (the course staff's copy, never in
    the repo), the aside uses them: cs260 here is solution/cs260 plus the photos, by symlinks."""
    images = os.environ.get("CS260_NOTEBOOK_IMAGES")
    if not images or not all((Path(images) / n).is_file() for n in ("kitten.jpg", "puppy.jpg")):
        pytest.skip("set CS260_NOTEBOOK_IMAGES to the folder holding kitten.jpg and puppy.jpg")
    package = tmp_path / "cs260"
    package.mkdir()
    for entry in (SOLUTION / "cs260").iterdir():
        if entry.name != "notebook_images":
            (package / entry.name).symlink_to(entry)
    (package / "notebook_images").symlink_to(Path(images).resolve())
    out = execute({SLOW_TAG, CIFAR_TAG}, timeout=900, cwd=tmp_path)
    assert "not found" not in out and "generated image" not in out
    assert "output shape: (2, 2, 200, 200)" in out
    check_printed_numbers(out)


@pytest.mark.slow
@pytest.mark.cifar
def test_notebook_full_training():
    if not cifar_available():
        pytest.skip("CIFAR-10 is not on disk (set CS260_DATA_DIR)")
    out = execute(set(), timeout=3600)
    accs = re.findall(r"\(Epoch 1 / 1\) train acc: (\S+);", out)
    assert accs and float(accs[-1]) > 0.4


if __name__ == "__main__":
    run_notebook(sys.argv[1], set(sys.argv[2:]))


def test_every_cell_has_an_nbformat_id():
    """nbformat 4.5 cell ids: every cell has one, unique, 1-64 of [a-zA-Z0-9-_] (nbformat warns
    that a missing id will become an error)."""
    nb = json.loads(NOTEBOOK.read_text())
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5)
    ids = [cell.get("id") for cell in nb["cells"]]
    assert all(isinstance(i, str) and re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
