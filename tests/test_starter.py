"""The starter package: generated from the solution, equal to the committed starter/,
identical to the solution outside the exercise regions, and every exercise raises
NotImplementedError naming itself.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution" / "cs260"
STARTER = REPO / "starter" / "cs260"

# Every exercise of the homework: the functions whose bodies students write.
EXERCISES = {
    "layers.py": [
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
        "batchnorm_forward", "batchnorm_backward",
        "conv_forward_naive", "conv_backward_naive",
        "max_pool_forward_naive", "max_pool_backward_naive",
        "spatial_batchnorm_forward", "spatial_batchnorm_backward",
        "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    ],
    "classifiers/cnn.py": ["ThreeLayerConvNet.__init__", "ThreeLayerConvNet.loss"],
}

STUB_LINE = re.compile(r'^(\s*)raise NotImplementedError\("([\w.]+): not implemented yet \(see the TODO above\)"\)$')
MARKER_LINE = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION$")


def _load_make_starter():
    """grader/tools/make_starter.py under a private name (the test must not depend on how grader is installed)."""
    path = REPO / "grader" / "tools" / "make_starter.py"
    spec = importlib.util.spec_from_file_location("_make_starter_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_starter = _load_make_starter()


def python_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts)


# ---------------------------------------------------------------- generator output

def test_committed_starter_is_up_to_date():
    assert make_starter.check(str(SOLUTION), str(STARTER)) == []


def test_regenerating_gives_the_committed_files(tmp_path):
    written = make_starter.generate(str(SOLUTION), str(tmp_path))
    committed = sorted(
        p.relative_to(STARTER).as_posix()
        for p in STARTER.rglob("*")
        if p.is_file() and p.suffix in (".py", ".pyx", ".sh", ".md") and "__pycache__" not in p.parts
    )
    assert written == committed
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (STARTER / rel).read_bytes(), rel
        assert os.access(tmp_path / rel, os.X_OK) == os.access(SOLUTION / rel, os.X_OK), rel
    # Only sources are copied: no build products, no caches.
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".so", ".c", ".pyc")]


def test_generate_removes_stale_sources_but_keeps_build_products(tmp_path):
    make_starter.generate(str(SOLUTION), str(tmp_path))
    (tmp_path / "old_module.py").write_text("x = 1\n")
    (tmp_path / "im2col_cython.so").write_bytes(b"binary")
    assert "not in the solution: old_module.py" in make_starter.check(str(SOLUTION), str(tmp_path))
    make_starter.generate(str(SOLUTION), str(tmp_path))
    assert not (tmp_path / "old_module.py").exists()
    assert (tmp_path / "im2col_cython.so").exists()
    assert make_starter.check(str(SOLUTION), str(tmp_path)) == []


def test_check_reports_an_edited_file(tmp_path):
    make_starter.generate(str(SOLUTION), str(tmp_path))
    layers = tmp_path / "layers.py"
    layers.write_text(layers.read_text().replace("import numpy as np", "import numpy"))
    assert [p for p in make_starter.check(str(SOLUTION), str(tmp_path)) if "layers.py" in p]


def test_check_command_line_exit_status(tmp_path):
    make_starter.generate(str(SOLUTION), str(tmp_path))
    assert make_starter.main(["--check", "--src", str(SOLUTION), "--dst", str(tmp_path)]) == 0
    (tmp_path / "optim.py").unlink()
    assert make_starter.main(["--check", "--src", str(SOLUTION), "--dst", str(tmp_path)]) == 1


def test_module_entry_point_checks_the_repo():
    done = subprocess.run([sys.executable, "-m", "grader.tools.make_starter", "--check"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- regions and stubs

def _skeleton(lines, is_solution):
    """Lines with each exercise region (solution) or stub line (starter) replaced by one token."""
    out, inside = [], False
    for line in lines:
        marker = MARKER_LINE.match(line)
        stub = STUB_LINE.match(line)
        if is_solution and marker:
            if marker.group(2) == "BEGIN":
                assert not inside, "nested BEGIN"
                out.append(marker.group(1) + "<exercise>")
            else:
                assert inside, "END without BEGIN"
            inside = marker.group(2) == "BEGIN"
        elif not is_solution and stub:
            out.append(stub.group(1) + "<exercise>")
        elif not inside:
            out.append(line)
    assert not inside, "BEGIN without END"
    return out


@pytest.mark.parametrize("rel", python_files(SOLUTION))
def test_nothing_differs_outside_the_exercise_regions(rel):
    solution = (SOLUTION / rel).read_text().splitlines()
    starter = (STARTER / rel).read_text().splitlines()
    assert _skeleton(solution, True) == _skeleton(starter, False)
    assert not any(MARKER_LINE.match(line) for line in starter), "solution markers left in the starter"


def test_the_exercises_are_exactly_the_expected_functions():
    found = {}
    for rel in python_files(STARTER):
        names = [m.group(2) for m in map(STUB_LINE.match, (STARTER / rel).read_text().splitlines()) if m]
        if names:
            found[rel] = list(dict.fromkeys(names))
    assert found == EXERCISES


# ---------------------------------------------------------------- the generator rejects bad markers

BAD_SOURCES = {
    "never closed": "def f():\n    ### BEGIN SOLUTION\n    return 1\n",
    "end without begin": "def f():\n    return 1\n    ### END SOLUTION\n",
    "nested": "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n",
    "indentation differs": "def f():\n    if True:\n        ### BEGIN SOLUTION\n        x = 1\n    ### END SOLUTION\n",
    "outside a function": "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
}


@pytest.mark.parametrize("problem", sorted(BAD_SOURCES))
def test_unbalanced_or_misplaced_markers_fail_loudly(problem):
    with pytest.raises(make_starter.MarkerError):
        make_starter.strip_solutions(BAD_SOURCES[problem], filename="bad.py")


def test_markers_in_other_files_and_bad_markers_stop_the_command(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "kernels.pyx").write_text("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n")
    with pytest.raises(make_starter.MarkerError):
        make_starter.generate(str(src), str(tmp_path / "dst"))
    (src / "kernels.pyx").unlink()
    (src / "mod.py").write_text(BAD_SOURCES["never closed"])
    assert make_starter.main(["--src", str(src), "--dst", str(tmp_path / "dst")]) == 2
    assert "never closed" in capsys.readouterr().err


def test_stub_takes_the_qualified_name_and_the_indentation():
    source = (
        "class Net:\n"
        "    def loss(self):\n"
        "        # TODO: explain\n"
        "        if True:\n"
        "            ### BEGIN SOLUTION\n"
        "            x = 1\n"
        "            ### END SOLUTION\n"
        "        return x\n"
    )
    stripped = make_starter.strip_solutions(source)
    assert stripped.splitlines()[4] == (
        '            raise NotImplementedError("Net.loss: not implemented yet (see the TODO above)")'
    )
    assert "x = 1" not in stripped and "# TODO: explain" in stripped


# ---------------------------------------------------------------- the starter itself

@pytest.fixture(scope="module")
def starter(load_tree):
    """The starter package; load_tree imports every module, so this also checks they import."""
    return load_tree("starter")


def _calls(cs):
    """One call per exercise region, with valid arguments: (name, thunk)."""
    L = cs.layers
    x4 = np.ones((2, 3, 4, 4))
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    Net = cs.classifiers.cnn.ThreeLayerConvNet

    def net_loss():
        net = object.__new__(Net)  # skips the unimplemented __init__
        net.reg, net.dtype, net.filter_size = 0.0, np.float64, 3
        net.params = {k: np.zeros(1) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
        return net.loss(np.zeros((2, 3, 8, 8)), np.zeros(2, dtype=int))

    return [
        ("affine_forward", lambda: L.affine_forward(x4, np.ones((48, 2)), np.ones(2))),
        ("affine_backward", lambda: L.affine_backward(np.ones((2, 2)), None)),
        ("relu_forward", lambda: L.relu_forward(x4)),
        ("relu_backward", lambda: L.relu_backward(x4, None)),
        ("softmax_loss", lambda: L.softmax_loss(np.ones((2, 3)), np.array([0, 1]))),
        ("batchnorm_forward", lambda: L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "train"})),
        ("batchnorm_forward", lambda: L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "test"})),
        ("batchnorm_backward", lambda: L.batchnorm_backward(np.ones((2, 3)), None)),
        ("conv_forward_naive", lambda: L.conv_forward_naive(x4, np.ones((2, 3, 3, 3)), np.ones(2), conv_param)),
        ("conv_backward_naive", lambda: L.conv_backward_naive(x4, None)),
        ("max_pool_forward_naive", lambda: L.max_pool_forward_naive(x4, pool_param)),
        ("max_pool_backward_naive", lambda: L.max_pool_backward_naive(x4, None)),
        ("spatial_batchnorm_forward",
         lambda: L.spatial_batchnorm_forward(x4, np.ones(3), np.zeros(3), {"mode": "train"})),
        ("spatial_batchnorm_backward", lambda: L.spatial_batchnorm_backward(x4, None)),
        ("spatial_groupnorm_forward",
         lambda: L.spatial_groupnorm_forward(x4, np.ones((1, 3, 1, 1)), np.zeros((1, 3, 1, 1)), 3, {})),
        ("spatial_groupnorm_backward", lambda: L.spatial_groupnorm_backward(x4, None)),
        ("ThreeLayerConvNet.__init__", lambda: Net()),
        ("ThreeLayerConvNet.loss", net_loss),
    ]


def test_every_exercise_raises_not_implemented_naming_itself(starter):
    calls = _calls(starter)
    assert {name for name, _ in calls} == {n for names in EXERCISES.values() for n in names}
    for name, call in calls:
        with pytest.raises(NotImplementedError) as info:
            call()
        assert str(info.value).startswith(name + ": not implemented yet"), (name, str(info.value))


def test_the_solution_runs_the_same_calls(load_tree):
    """The calls above are valid: the solution completes them (so the starter fails only in the stubs)."""
    solution = load_tree("solution")
    for name, call in _calls(solution):
        if "backward" in name:
            continue  # the calls pass no real cache
        if name == "ThreeLayerConvNet.loss":
            continue  # zero-size parameters; the solution's loss is tested elsewhere
        call()
