"""The grader's fixtures and case list: committed fixtures equal a fresh regeneration from
solution/, the case list is well formed, and every CHECKS entry has exactly one check."""
import importlib
import json
import pkgutil

import numpy as np

from grader import casebuild, cases, config
from grader.checks import fixtures


def test_committed_fixtures_equal_a_fresh_regeneration():
    problems = fixtures.check(log=lambda *_: None)
    assert not problems, "\n".join(problems) + "\n(run `python -m grader.checks.fixtures regen`)"


def test_case_ids_are_unique_and_well_formed():
    ids = [c.id for c in cases.CASES]
    assert len(ids) == len(set(ids))
    for c in cases.CASES:
        assert c.check in config.CHECKS, c.id
        assert c.id.split(".")[0] == c.section, c.id
        assert c.tol > 0 and c.visibility in config.VISIBILITY, c.id
        assert c.dtype in ("float64", "float32"), c.id
        assert all(a in c.params or a in c.inputs() for a in c.args), c.id
        assert not c.backward or c.grads, c.id


def test_manifest_lists_every_case_with_its_tolerance_and_hash():
    manifest = json.loads((casebuild.FIXTURES / fixtures.MANIFEST).read_text())
    assert set(manifest["cases"]) == {c.id for c in cases.CASES}
    for c in cases.CASES:
        entry = manifest["cases"][c.id]
        assert entry["tolerance"] == c.tol and entry["seed"] == c.rng_seed
        assert entry["visibility"] == c.visibility and entry["function"] == c.function
        assert len(entry["sha256"]) == 64 and entry["numpy"]


def test_inputs_are_deterministic():
    for c in cases.CASES:
        a, b = c.inputs(), c.inputs()
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a), c.id


def test_fixtures_load_without_pickles_and_hold_what_the_checks_read():
    for c in cases.CASES:
        fx = fixtures.load_fixture(c)
        assert fx.inputs, c.id
        if c.kind == "convnet":
            assert {"scores", "loss"} <= set(fx.expected), c.id
        elif c.kind == "loss":
            assert {"loss", "dx"} <= set(fx.expected), c.id
        else:
            assert "out" in fx.expected, c.id
        if c.backward:
            assert fx.dout is not None and all(f"d{g}" in fx.expected for g in c.grads), c.id


def test_notebook_inputs_reproduce_the_notebooks_printout():
    """Transcribed from the notebook: the input statistics of the spatial batchnorm cell."""
    x = cases.BY_ID["sbn_forward.notebook_train_unit"].inputs()["x"]
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), [10.1270009, 10.34995476, 10.22876718],
                               rtol=1e-7)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), [4.34690483, 3.86000959, 3.80904389],
                               rtol=1e-7)
    conv = cases.BY_ID["conv_forward.notebook"].inputs()
    assert conv["x"].shape == (2, 3, 4, 4) and conv["x"][0, 0, 0, 0] == -0.1


def test_convnet_cases_are_away_from_kinks():
    for c in cases.CASES:
        if c.kind == "convnet":
            v = c.inputs()
            margin = casebuild.net_kink_margin(v["X"], v, c.params["model"]["filter_size"])
            assert margin >= casebuild.NET_KINK_MARGIN, c.id


def check_functions():
    found = {}
    import grader.checks
    for info in pkgutil.iter_modules(grader.checks.__path__):
        if info.name.startswith("test_"):
            module = importlib.import_module(f"grader.checks.{info.name}")
            for name, obj in vars(module).items():
                key = getattr(obj, "__check_key__", None)
                if name.startswith("test_") and key:
                    assert key not in found, f"{key} is checked twice"
                    found[key] = obj
    return found


def test_every_check_has_one_function_and_the_points_add_up():
    found = check_functions()
    assert set(found) == set(config.CHECKS)
    for key, fn in found.items():
        section, number, points = config.check_meta(key)
        assert fn.__weight__ == points and fn.__number__ == number
        assert fn.__tags__[1] == section and fn.__doc__.strip()
        vis = "hidden" if key.endswith(".hidden") else "public"
        assert fn.__visibility__ == config.VISIBILITY[vis]
    for key in config.SECTION_POINTS:
        assert sum(p for s, p in config.CHECKS.values() if s == key) == config.SECTION_POINTS[key]
    assert sum(p for _, p in config.CHECKS.values()) == 100


def test_hidden_checks_are_not_collected_without_their_fixtures(tmp_path, monkeypatch):
    """The student release leaves fixtures/hidden out: no hidden item, no crash, no penalty."""
    (tmp_path / "public").mkdir()
    for c in cases.CASES:
        if c.visibility == "public":
            (tmp_path / "public" / f"{c.id}.npz").write_bytes(c.fixture_path.read_bytes())
    monkeypatch.setattr(casebuild, "FIXTURES", tmp_path)

    def hidden(case):
        """t"""

    def public(case):
        """t"""
    assert cases.check("conv_forward.hidden", "conv_forward_naive")(hidden).__test__ is False
    marked = cases.check("conv_forward.extra", "conv_forward_naive")(public)
    assert getattr(marked, "__test__", True)
    (param,) = [m for m in marked.pytestmark if m.name == "parametrize"]
    assert [c.id for c in param.args[1]] == [c.id for c in cases.cases_for("conv_forward.extra", False)]
    assert cases.hidden_case_count()[0] == sum(c.visibility == "hidden" for c in cases.CASES)
