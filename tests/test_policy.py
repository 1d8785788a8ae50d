"""Unit tests of the grading policy (grader/feedback/policy.py) and of its scoring (partial credit in
grader/report.py). Expected gradients here are written out by hand or by small loops in this
file, not taken from the policy itself."""
import numpy as np
import pytest

from grader import config, report
from grader.feedback import policy
from grader.cases import BY_ID
from grader.feedback.compare import CheckFailed, assert_close

TOL = config.TOL_FLOAT64


def first_max_dx(x, dout, ph, pw, s):
    """Reference max-pool backward by loops: each window's dout to its first maximum."""
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    r, q = np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx


def accepted(x, dout, dx, ph=2, pw=2, s=2):
    ref = first_max_dx(x, dout, ph, pw, s)
    expected = policy.pool_accepted(x, dout, ph, pw, s, dx, ref, TOL)
    return bool(np.array_equal(expected, dx))


# one 2x4 input, two 2x2 windows: the left one has its maximum 5 at three positions, the right
# one a unique maximum 7
X = np.array([[[[5.0, 5.0, 1.0, 7.0],
                [0.0, 5.0, 2.0, 3.0]]]])
DOUT = np.array([[[[2.0, -3.0]]]])


def dx_with(left):
    """dx with the tied window's three maxima given `left` and the right window exact."""
    dx = np.zeros(X.shape)
    dx[0, 0, 0, 0], dx[0, 0, 0, 1], dx[0, 0, 1, 1] = left
    dx[0, 0, 0, 3] = -3.0
    return dx


@pytest.mark.parametrize("left", [(2, 0, 0), (0, 0, 2), (2 / 3, 2 / 3, 2 / 3), (2, 2, 2),
                                  (1, 1, 0), (2, 1, 0.5)],
                         ids=["first", "last", "split", "every", "half-half", "uneven"])
def test_any_split_over_tied_maxima_is_accepted(left):
    assert accepted(X, DOUT, dx_with(left))


@pytest.mark.parametrize("left,why", [((1, 0, 0), "half of dout lost"),
                                      ((0, 0, 0), "all of it lost"),
                                      ((3, 0, 0), "more than dout at one position"),
                                      ((-2, 4, 0), "a negative share"),
                                      ((2, 2, 2.5), "more than k * dout")])
def test_a_lost_or_doubled_gradient_at_ties_is_still_wrong(left, why):
    assert not accepted(X, DOUT, dx_with(left)), why


def test_a_non_maximum_gets_nothing_and_untied_windows_stay_exact():
    dx = dx_with((2, 0, 0))
    dx[0, 0, 1, 0] = 0.5           # the 0 is not a maximum
    assert not accepted(X, DOUT, dx)
    dx = dx_with((2, 0, 0))
    dx[0, 0, 0, 3] = -6.0          # the untied window's gradient doubled
    assert not accepted(X, DOUT, dx)
    mean = np.repeat(np.repeat(DOUT / 4, 2, axis=2)[:, :, :2], 2, axis=3)   # average pooling
    assert not accepted(X, DOUT, mean)


def test_overwriting_where_windows_overlap_is_still_caught():
    x = np.array([[[[0.0, 1.0, 9.0, 2.0, 3.0]]]])     # 9: maximum of both 1x3 windows
    dout = np.array([[[[1.0, 2.0]]]])
    right = np.array([[[[0.0, 0.0, 3.0, 0.0, 0.0]]]])
    overwritten = np.array([[[[0.0, 0.0, 2.0, 0.0, 0.0]]]])
    ref = first_max_dx(x, dout, 1, 3, 2)
    assert np.array_equal(ref, right)
    assert np.array_equal(policy.pool_accepted(x, dout, 1, 3, 2, right, ref, TOL), right)
    with pytest.raises(CheckFailed):
        assert_close(overwritten, policy.pool_accepted(x, dout, 1, 3, 2, overwritten, ref, TOL),
                     what="dx", tol=TOL)


def test_tie_cases_keep_tied_windows_apart():
    for case_id in ("pool_backward.ties", "pool_backward.h_ties_overlap"):
        case = BY_ID[case_id]
        p = case.params["pool_param"]
        x = case.inputs()["x"]
        _, count = policy.pool_windows_max(x, p["pool_height"], p["pool_width"], p["stride"])
        assert (count > 1).sum() >= 5, f"{case_id}: too few tied windows"
        assert policy.tied_sets_disjoint(x, p["pool_height"], p["pool_width"], p["stride"])


def test_relu_kink_accepts_values_between_zero_and_dout_only():
    x = np.array([-1.0, 0.0, 0.0, 0.0, 2.0])
    dout = np.array([3.0, 4.0, -2.0, 5.0, 1.0])
    ref = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    ok = np.array([0.0, 4.0, -1.0, 2.5, 1.0])
    assert np.array_equal(policy.relu_accepted(x, dout, ok, ref, TOL), ok)
    bad = np.array([0.0, 8.0, 1.0, 0.0, 1.0])     # twice dout; the wrong sign
    got = policy.relu_accepted(x, dout, bad, ref, TOL)
    assert got[1] == 0.0 and got[2] == 0.0
    away = np.array([3.0, 0.0, 0.0, 0.0, 1.0])    # away from the kink nothing changes
    assert policy.relu_accepted(x, dout, away, ref, TOL)[0] == 0.0


def test_shape_slip_is_charged_to_the_items_ledger_and_refused_without_one():
    values = np.arange(4.0)
    with pytest.raises(CheckFailed, match="wrong shape"):
        assert_close(values.reshape(1, 4), values, what="running_mean", tol=TOL)
    ledger = policy.Ledger()
    assert_close(values.reshape(1, 4), values, what="running_mean", tol=TOL, slips=ledger)
    assert_close(values.reshape(4, 1), values, what="running_var", tol=TOL, slips=ledger)
    with pytest.raises(CheckFailed, match="does not match"):   # values still compared
        assert_close(values.reshape(1, 4) + 1, values, what="running_mean", tol=TOL, slips=ledger)
    with pytest.raises(CheckFailed, match="wrong shape"):      # not a size-1 difference
        assert_close(np.arange(8.0).reshape(2, 4), np.arange(8.0), what="o", tol=TOL, slips=ledger)
    assert ledger.credit == config.SHAPE_SLIP_CREDIT
    assert policy.Ledger().credit == 1.0   # another item's ledger is untouched
    text = ledger.message()
    assert "running_mean has shape (1, 4), expected (4,)" in text and "charged once" in text
    assert policy.squeezed_equal((1, 3, 1, 1), (3,)) and not policy.squeezed_equal((3,), (3,))


def test_partial_credit_scores_the_fraction_and_is_listed():
    item = report.ItemResult(nodeid="n", check="batchnorm_forward: x", case="c", weight=1.5,
                             outcome=report.PASSED, credit=0.5, message="Shape slip: ...",
                             reason="Shape slip: ...")
    full = report.ItemResult(nodeid="m", check="relu_forward: y", weight=1.0,
                             outcome=report.PASSED)
    assert item.earned == 0.75 and item.possible == 1.5 and item.partial
    data = report.results_json([item, full], output="", execution_time=0, output_limit=1000)
    assert data["score"] == 1.75
    assert data["tests"][0]["status"] == "failed" and data["tests"][0]["score"] == 0.75
    assert data["tests"][1]["status"] == "passed"
    lines = report.format_table([item, full], config.SECTIONS)
    assert any("Partly earned checks (1)" in line for line in lines)
