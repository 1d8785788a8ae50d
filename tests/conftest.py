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
    """A class of submissions (tests/classbatch.py, `classbatch.class_size()`) graded once by grade-all: the
    realistic-bug corpus, some mutants, correct and broken submissions."""
    from classbatch import grade_class
    return grade_class(tmp_path_factory.mktemp("class"))


# ----------------------------------------------------------------------------------------------
# The e2e marker: every test that runs a whole program (above all: grades a whole submission),
# found by a rule, not by hand
# ----------------------------------------------------------------------------------------------

# A test is end to end when its code, a fixture it uses or a helper of tests/ that either calls
# runs a whole program of the project: a `pytest grader` run (a code object holding both
# strings), the grader's command line asked to grade ("grade", "grade-all"), run_autograder,
# grade_all, or any other program started with subprocess (an install, the notebook, a
# benchmark, a command's --help). Worker processes started through grader.sandbox.client are
# not programs of their own: those tests stay in the inner loop.
E2E_NAMES = {"grade", "grade_all", "grade_class", "run_autograder", "class_batch", "subprocess"}
E2E_STRINGS = ({"pytest", "grader"}, {"grade"}, {"grade-all"}, {"run_autograder"})
TESTS_DIR = Path(__file__).resolve().parent


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from _code_objects(const)


def _grades(fn, seen):
    """True if `fn` (a function of tests/) runs a whole program, by the rule above."""
    fn = getattr(fn, "__wrapped__", fn)
    code = getattr(fn, "__code__", None)
    if code is None or code in seen or not code.co_filename.startswith(str(TESTS_DIR)):
        return False
    seen.add(code)
    for c in _code_objects(code):
        strings = {k for k in c.co_consts if isinstance(k, str)}
        if any(s <= strings for s in E2E_STRINGS) or E2E_NAMES & set(c.co_names):
            return True
        for name in c.co_names:
            target = getattr(fn, "__globals__", {}).get(name)
            if callable(target) and _grades(target, seen):
                return True
    return False


def pytest_collection_modifyitems(config, items):
    """Mark e2e every test that runs a whole program (the rule above) and run them last, so
    `pytest tests -m "not e2e"` is the quick inner loop."""
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs.values() if fixtures is not None else ()
        seen = set()
        if (_grades(getattr(item, "function", None), seen)
                or E2E_NAMES & set(getattr(item, "fixturenames", ()))
                or any(_grades(d[-1].func, seen) for d in defs if d)):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
