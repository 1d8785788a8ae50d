"""The grading policy (grader/feedback/policy.py) on whole submissions: every convention the notebook
leaves open gets full marks, a broken function costs its own points only (its correct partner
keeps all of its), and a shape slip costs exactly config.SHAPE_SLIP_CREDIT of each case it
shows in, once. The variants are in tests/fair_variants.py; each is graded end to end.
"""
import concurrent.futures
import re

import pytest

from fair_variants import CONVENTIONS, KEEPDIMS, PARTNERS
from grader import config
from grader.report import INTERNAL_ERROR
from grading import OVERFIT_CHECK, grade, plain_text, skip_unaffected_training, split_by_visibility, validate_results
from mutants import SOLUTION, apply_patch, write_submission

# Every test here grades whole submissions (seconds each); they are the grader's proof.
PARALLEL = 2
ALL = CONVENTIONS + PARTNERS + [KEEPDIMS]


@pytest.fixture(scope="session")
def fair_graded(tmp_path_factory):
    """name -> results.json of every variant (and of the solution, for the points possible)."""
    folders = {"solution": SOLUTION.parent}
    for v in ALL:
        source = apply_patch((SOLUTION / "layers.py").read_text(), v.patch)
        folders[v.name] = write_submission(tmp_path_factory.mktemp(v.name),
                                           {"layers.py": source})

    changed = {v.name: re.findall(r"^def (\w+)", v.patch, re.M) for v in ALL}

    def run(name):
        skip = skip_unaffected_training(changed[name]) if name in changed else []
        return name, grade(folders[name], env={"CS260_DATA_DIR": None}, extra_args=skip)

    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        results = dict(pool.map(run, folders))
    for name, result in results.items():
        assert result.results is not None, f"{name}: no results.json\n{result.stdout[-3000:]}"
        validate_results(result.results)
        internal = [t["name"] for t in result.results["tests"]
                    if INTERNAL_ERROR in t.get("output", "")]
        assert not internal, f"{name}: grader errors: {internal}"
    return {name: r.results for name, r in results.items()}


def of(test, function):
    """True if the results.json entry `test` grades `function` (its name starts with it)."""
    return test["name"].startswith(function + ":")


def lost(test):
    return test.get("max_score", 0) > 0 and test["score"] < test["max_score"] - 1e-9


def solution_score(fair_graded, name):
    """The solution's score over the checks that ran for variant `name` (all of them, or all but
    the overfit check when the variant changes no function the net runs: tests/grading.py)."""
    ran = {t["name"] for t in fair_graded[name]["tests"]}
    solution = fair_graded["solution"]["tests"]
    left_out = [t["extra_data"]["nodeid"] for t in solution if t["name"] not in ran]
    assert left_out in ([], [OVERFIT_CHECK]), left_out
    return sum(t["score"] for t in solution if t["name"] in ran)


def show(tests):
    return "\n\n".join(f"{t['name']}: {t['score']}/{t['max_score']}\n{t.get('output', '')[:1200]}"
                       for t in tests)


@pytest.mark.parametrize("variant", CONVENTIONS, ids=lambda v: v.name)
def test_every_open_convention_gets_full_marks(fair_graded, variant):
    results = fair_graded[variant.name]
    losing = [t for t in results["tests"] if lost(t)]
    assert not losing, f"{variant.why}:\n{show(losing)}"
    assert results["score"] == pytest.approx(solution_score(fair_graded, variant.name))


@pytest.mark.parametrize("variant", PARTNERS, ids=lambda v: v.name)
def test_a_broken_function_costs_only_its_own_points(fair_graded, variant):
    tests = fair_graded[variant.name]["tests"]
    kept = [t for t in tests if of(t, variant.kept)]
    assert kept and not [t for t in kept if lost(t)], (
        f"{variant.why}: the correct {variant.kept} lost points:\n"
        f"{show([t for t in kept if lost(t)])}")
    broken = [t for t in tests if of(t, variant.broken) and lost(t)]
    assert broken, f"{variant.why}: {variant.broken} lost nothing"
    stray = [t for t in tests if lost(t) and not of(t, variant.broken)]
    assert not stray, f"{variant.why}: points lost elsewhere:\n{show(stray)}"
    for t in broken:   # the message names the broken function and says what is wrong
        assert variant.broken in t["name"] + t.get("output", "")
        assert len(t.get("output", "").strip()) > 20


@pytest.mark.parametrize("variant", [v for v in PARTNERS if v.name.endswith("_raises")
                                     and "forward" in v.broken], ids=lambda v: v.name)
def test_backward_of_a_raising_forward_is_graded_on_the_standard_cache(fair_graded, variant):
    kept, _ = split_by_visibility([t for t in fair_graded[variant.name]["tests"] if of(t, variant.kept)])
    note = f"your {variant.broken} raised"
    assert kept
    for t in kept:
        assert note in plain_text(t.get("output", "")).lower() and "standard cache" in t["output"], show([t])


def test_a_backward_needing_its_own_cache_is_told_so(tmp_path):
    """Forward raises, and the backward expects the cache of its own forward: the backward item
    fails saying that it ran on the standard cache and why it could not be graded."""
    source = apply_patch((SOLUTION / "layers.py").read_text(), '''
def max_pool_forward_naive(x, pool_param):
    raise ValueError("broken")


def max_pool_backward_naive(dout, cache):
    shape, first = cache["shape"], cache["first"]   # a cache of its own
    return np.zeros(shape)
''')
    results = grade(write_submission(tmp_path, {"layers.py": source}),
                    extra_args=["-k", "pool_backward"], env={"CS260_DATA_DIR": None}).results
    items = [t for t in results["tests"] if of(t, "max_pool_backward_naive")]
    assert items and all(lost(t) for t in items)
    shown, _ = split_by_visibility(items)
    assert shown
    for t in shown:
        out = plain_text(t["output"])
        assert "your max_pool_forward_naive raised" in out.lower() and "standard cache" in out, out
        assert "cannot be graded until max_pool_forward_naive works" in out, out


def test_a_shape_slip_costs_the_fixed_part_once_per_case(fair_graded):
    tests = fair_graded[KEEPDIMS.name]["tests"]
    credit = config.SHAPE_SLIP_CREDIT
    partial = [t for t in tests if lost(t)]
    shown, hidden = split_by_visibility(partial)
    assert shown and hidden
    for t in partial:
        assert t["score"] == pytest.approx(credit * t["max_score"], abs=1e-4), show([t])
        if t in shown:
            assert "expected (" in t["output"] and "Shape slip" in plain_text(t["output"]), show([t])
        else:
            assert t["output"].startswith("Partly earned (hidden case): ") and "shape slip" in t["output"]
        assert of(t, "batchnorm_forward") or of(t, "spatial_batchnorm_forward"), show([t])
    slipped = {t["name"].rsplit("[", 1)[-1].rstrip("]") for t in partial}
    # every train-mode case that reads the running averages back, and only those
    assert {"prereq.batchnorm_train", "prereq.batchnorm_train_running",
            "prereq.batchnorm_train_square", "sbn_forward.notebook_train_unit",
            "sbn_forward.notebook_test", "sbn_forward.momentum"} <= slipped
    assert not slipped & {"prereq.batchnorm_test", "prereq.batchnorm_test_square",
                          "sbn_forward.notebook_train_scaled", "sbn_forward.test_mode"}
    lost_points = sum(t["max_score"] - t["score"] for t in tests)
    assert lost_points == pytest.approx((1 - credit) * sum(t["max_score"] for t in partial),
                                        abs=1e-3)
    solution = solution_score(fair_graded, KEEPDIMS.name)
    assert fair_graded[KEEPDIMS.name]["score"] == pytest.approx(solution - lost_points, abs=1e-3)


def test_a_failing_net_names_the_failing_layer_it_uses(tmp_path):
    """ThreeLayerConvNet runs the student's affine_backward: with that one wrong, the net's
    gradient check fails and its message names affine_backward as the cause."""
    source = apply_patch((SOLUTION / "layers.py").read_text(), '''
def affine_backward(dout, cache):
    x, w, b = cache
    x_rows = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), 2 * (x_rows.T @ dout), dout.sum(axis=0)   # dw doubled
''')
    results = grade(write_submission(tmp_path, {"layers.py": source}),
                    extra_args=["-k", "test_convnet and gradients"],
                    env={"CS260_DATA_DIR": None}).results
    items = [t for t in results["tests"] if t["name"].startswith("ThreeLayerConvNet")]
    assert items and all(lost(t) for t in items), show(items)
    for t in items:
        assert "uses your affine_backward, which fails its own check" in plain_text(t["output"]), show([t])
