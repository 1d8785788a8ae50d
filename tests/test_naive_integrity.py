"""Naive means written by the student: naive conv/pool layers that hand the work to the package's
fast code earn nothing, with a message that says why, and everything else keeps its points.

Each submission is the solution with one file of tests/naive_subs/ patched into its layers.py
(tests/mutants.apply_patch). The naive sections run in a worker whose cs260 has stubs in place
of the fast layers, im2col and the sandwich layers (grader/sandbox/naive.py); the other sections keep
the real fast layers. An honest vectorised submission (tests/alt_correct/vectorized: stride
tricks + einsum) keeps every point: tests/test_alt_correct.py. The worker-level parts (the stub
modules import, every name raises, blocked convolution libraries) are tested here directly.
"""
import concurrent.futures
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from grader import config
from grader.sandbox import naive
from grader.sandbox.client import StudentError, Worker, WorkerGroup
from grader.sandbox.loader import load_submission
from grader.sandbox.trusted import trusted_starter_root
from grading import grade, plain_text, split_by_visibility, validate_results
from mutants import SOLUTION, apply_patch, write_submission

SUBS = Path(__file__).parent / "naive_subs"
RULE = config.NAIVE_RULE   # every refusal says this
# submission -> {graded function whose checks must all score 0: what their message says}. A
# backward check calls the forward first, so a delegating forward fails its backward's checks.
CONV_FWD = "conv_forward_naive called conv_forward_fast"
POOL_FWD = "max_pool_forward_naive called max_pool_forward_fast"
CONV_IM2COL = "conv_forward_naive called im2col"
POOL_IM2COL = "max_pool_forward_naive called maxpool_forward"
DELEGATES = {
    "delegate_fast": {"conv_forward_naive": CONV_FWD, "conv_backward_naive": CONV_FWD,
                      "max_pool_forward_naive": POOL_FWD, "max_pool_backward_naive": POOL_FWD},
    "delegate_saved": {"conv_backward_naive": "conv_backward_naive called conv_forward_fast",
                       "max_pool_backward_naive":
                           "max_pool_backward_naive called max_pool_forward_fast"},
    # Its backward passes are honest: graded on the standard cache (grader/feedback/policy.py), they keep
    # their points; only the forwards that call im2col lose theirs.
    "delegate_im2col": {"conv_forward_naive": CONV_IM2COL, "max_pool_forward_naive": POOL_IM2COL},
}


def section_of(test):
    return next((t for t in test.get("tags", ()) if t in {s.key for s in config.SECTIONS}), "")


def graded_function(test):
    return test["name"].split(":", 1)[0]


def build(name, dest):
    layers = apply_patch((SOLUTION / "layers.py").read_text(), (SUBS / f"{name}.py").read_text())
    return write_submission(dest, {"layers.py": layers})


@pytest.fixture(scope="module")
def delegate_results(tmp_path_factory):
    folders = {name: build(name, tmp_path_factory.mktemp(name)) for name in DELEGATES}

    def run(name):
        return name, grade(folders[name], env={"CS260_DATA_DIR": None})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, DELEGATES))


@pytest.mark.parametrize("name", list(DELEGATES))
def test_naive_layers_calling_the_fast_code_earn_nothing(delegate_results, name):
    result = delegate_results[name]
    assert result.results is not None, result.stdout[-3000:] + result.stderr[-2000:]
    validate_results(result.results)
    tests = result.results["tests"]
    delegated = DELEGATES[name]
    # The checks of the delegating functions, and section 4 (fast vs naive) that runs them all.
    caught = [t for t in tests if t["max_score"] > 0 and section_of(t) in config.NAIVE_SECTIONS
              and graded_function(t) in delegated]
    for function in delegated:
        assert any(graded_function(t) == function for t in caught), f"no check of {function} ran"
    scored = [f"{t['name']}: {t['score']}" for t in caught if t["score"] > 0]
    assert not scored, "delegating naive layers scored:\n" + "\n".join(scored)
    shown, _ = split_by_visibility(caught)   # a hidden check's text is the grader's own
    assert shown
    for t in shown:
        assert RULE in plain_text(t.get("output", "")), (t["name"], t.get("output", "")[:800])
        expected = delegated.get(graded_function(t))
        if expected:
            assert expected in plain_text(t["output"]), (t["name"], t["output"][:800])
    # Everything else keeps its points: the sandwich layers and the network still get the real
    # fast layers, and the naive functions written honestly still pass.
    lost = [f"{t['name']}: {t['score']}/{t['max_score']}\n{t.get('output', '')[:400]}"
            for t in tests if t not in caught and t["score"] < t["max_score"]]
    assert not lost, "checks outside the delegated functions lost points:\n" + "\n".join(lost)
    assert any(section_of(t) == "sandwich" and t["score"] > 0 for t in tests)


# ------------------------------------------------------------------------------------------
# The naive worker itself
# ------------------------------------------------------------------------------------------

PROBES = """

def import_named(name):
    import importlib
    importlib.import_module(name)
    return 1


def windows(x, k):
    from numpy.lib.stride_tricks import sliding_window_view
    return sliding_window_view(x, k)
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """The solution, plus helpers that import a named module and use sliding_window_view."""
    layers = (SOLUTION / "layers.py").read_text() + PROBES
    folder = write_submission(tmp_path_factory.mktemp("probe"), {"layers.py": layers})
    return load_submission(folder, tmp_path_factory.mktemp("probe-overlay"))


@pytest.fixture(scope="module")
def naive_worker(probe):
    with Worker(probe.naive_root, timeout=60, **naive.worker_options()) as w:
        yield w


def test_the_naive_overlay_has_no_fast_code(probe):
    package = probe.naive_root / "cs260"
    leftovers = sorted(p.name for p in package.iterdir()
                       if p.name.startswith("im2col_cython.") and p.suffix != ".py")
    assert not leftovers, f"compiled or source kernels left in the naive overlay: {leftovers}"
    for module in config.NAIVE_STUBBED:
        assert "FastLayersNotAllowed" in (package / f"{module}.py").read_text()
    # The normal overlay keeps them, and the student's files are the same in both.
    assert any(p.name.startswith("im2col_cython.") and p.suffix in (".so", ".pyd")
               for p in (probe.root / "cs260").iterdir())
    assert (package / "layers.py").read_bytes() == (probe.root / "cs260" / "layers.py").read_bytes()


@pytest.mark.parametrize("module", config.NAIVE_STUBBED)
def test_every_name_of_a_stubbed_module_imports_and_raises(naive_worker, module):
    names = naive.module_names(trusted_starter_root(), module)
    assert names, f"no names read from {module}"
    naive_worker.import_module(module)
    for name in names:
        with pytest.raises(StudentError) as e:
            naive_worker.call(f"{module}.{name}", np.zeros(3))
        assert e.value.kind == "exception"
        assert f"called {name}: {RULE}" in e.value.message, e.value.message
        assert "FastLayersNotAllowed" in e.value.message


def test_the_real_fast_layers_still_work_in_the_normal_worker(probe):
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    with Worker(probe.root, timeout=60) as w:
        out, _ = w.call("fast_layers.max_pool_forward_fast", x,
                        {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.shape == (2, 3, 3, 3)


def test_convolution_libraries_cannot_be_imported_in_the_naive_worker(naive_worker):
    assert {"scipy.signal", "scipy.ndimage", "torch", "cv2", "skimage"} <= set(
        config.NAIVE_BLOCKED_IMPORTS)
    for name in config.NAIVE_BLOCKED_IMPORTS:
        with pytest.raises(StudentError) as e:
            naive_worker.call("layers.import_named", name)
        parent = name.rpartition(".")[0]
        if parent and importlib.util.find_spec(parent) is None:
            # e.g. scipy.signal without scipy: Python stops at the missing parent package.
            assert f"No module named '{parent}'" in e.value.message, e.value.message
            continue
        assert "raised ImportError" in e.value.message, e.value.message
        assert f"{name} cannot be imported" in e.value.message and RULE in e.value.message
    # numpy, all of it, stays available.
    assert naive_worker.call("layers.import_named", "numpy.lib.stride_tricks") == 1
    assert naive_worker.call("layers.windows", np.arange(5.0), 3).shape == (3, 3)


def test_blocking_an_installed_module_and_its_submodules(probe):
    """The mechanism on a module that is surely installed (the convolution libraries may not
    be): the module and its submodules fail to import, its siblings do not."""
    with Worker(probe.root, timeout=60, block_imports=("xml.dom",), block_reason="why") as w:
        for name in ("xml.dom", "xml.dom.minidom"):
            with pytest.raises(StudentError) as e:
                w.call("layers.import_named", name)
            # (importing xml.dom.minidom stops at its parent package xml.dom)
            assert "xml.dom cannot be imported in this grading worker: why" in e.value.message
        assert w.call("layers.import_named", "xml.etree.ElementTree") == 1


def test_only_one_worker_of_a_group_runs_at_a_time(probe):
    group = WorkerGroup()
    with Worker(probe.root, group=group) as a, Worker(probe.naive_root, group=group) as b:
        first = a.ping()["pid"]
        assert a.pid == first
        b.ping()
        assert a.pid is None and b.pid is not None
        a.ping()
        assert b.pid is None and a.pid not in (None, first)
