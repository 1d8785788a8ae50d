"""Shared helpers of the project's own tests.

Both package trees, solution/cs260 and starter/cs260, are packages named `cs260`.
Tests of either tree get it through the `load_tree` fixture, e.g.

    @pytest.fixture(scope="module")
    def cs(load_tree):
        return load_tree("solution")

and then use cs.layers, cs.classifiers.cnn, ... ; never `import cs260` directly.
"""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# Every module of the package, imported eagerly so that a loaded tree stays complete
# even after another tree has taken the name `cs260` in sys.modules.
CS260_MODULES = (
    "layers",
    "fast_layers",
    "layer_utils",
    "classifiers.cnn",
    "optim",
    "solver",
    "gradient_check",
    "data_utils",
    "vis_utils",
)


def load_tree(tree):
    """Import <repo>/<tree>/cs260 afresh under the name `cs260`, with all its modules.

    Earlier `cs260` modules are dropped from sys.modules (objects already loaded
    keep working) and <repo>/<tree> replaces any other tree on sys.path.
    Returns the package; its modules are attributes (cs.layers, cs.classifiers.cnn).
    """
    for name in [n for n in sys.modules if n == "cs260" or n.startswith("cs260.")]:
        del sys.modules[name]
    trees = {str(REPO / t) for t in ("solution", "starter")}
    sys.path[:] = [p for p in sys.path if p not in trees]
    sys.path.insert(0, str(REPO / tree))
    importlib.invalidate_caches()
    package = importlib.import_module("cs260")
    assert Path(package.__file__).resolve().parent == REPO / tree / "cs260", package.__file__
    for module in CS260_MODULES:
        importlib.import_module("cs260." + module)
    return package


@pytest.fixture(name="load_tree", scope="session")
def load_tree_fixture():
    """The load_tree function, as a fixture."""
    return load_tree


def _rel_error(x, y):
    """The notebook's relative error: max over elements of |x - y| / (|x| + |y|)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


@pytest.fixture(name="rel_error", scope="session")
def rel_error_fixture():
    """The notebook's rel_error function, as a fixture."""
    return _rel_error


@pytest.fixture
def set_threads(monkeypatch):
    """set_threads(cs, n): the cs260 package `cs` splits its work over n threads for the rest of
    the test (CS260_THREADS, read when cs260.parallel next starts its threads); returns the count."""
    used = []

    def use(cs, n):
        monkeypatch.setenv("CS260_THREADS", str(n))
        cs.parallel._forget_threads()
        used.append(cs.parallel)
        return cs.parallel.thread_count()

    yield use
    monkeypatch.delenv("CS260_THREADS", raising=False)
    for parallel in used:
        parallel._forget_threads()


@pytest.fixture(scope="session")
def class_batch(tmp_path_factory):
    """A class of 43 submissions (tests/classbatch.py) graded once by grade-all: the
    realistic-bug corpus, some mutants, correct and broken submissions."""
    from classbatch import grade_class
    return grade_class(tmp_path_factory.mktemp("class"))
