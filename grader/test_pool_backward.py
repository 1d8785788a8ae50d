"""Section 3b: the naive max-pooling backward pass, max_pool_backward_naive."""
from grader import diagnoses as bugs
from grader.cases import check
from grader.checking import run_backward_check
from grader.diagnoses import Cause


def pool_grad_mistakes(case, fx, g):
    """Known wrong gradients of this case's max-pool backward, to name a likely cause."""
    p = case.params["pool_param"]
    return pool_grad_candidates(fx.inputs["x"], fx.dout, p["pool_height"], p["pool_width"],
                                p["stride"])


def pool_grad_candidates(x, dout, ph, pw, s):
    """(cause, candidate dx) of known max-pool backward mistakes."""
    out = [(Cause("pool_backward.spread_average",
                  "the upstream gradient is spread evenly over each window (average-pool "
                  "backward); max pooling sends it only to the maximum"),
            lambda: bugs.max_pool_backward(x, dout, ph, pw, s, spread=True)),
           (Cause("pool_backward.spread_whole",
                  "the whole upstream gradient goes to every position of each window; max "
                  "pooling sends it only to the maximum"),
            lambda: bugs.max_pool_backward(x, dout, ph, pw, s, spread=True) * (ph * pw)),
           (Cause("pool_backward.mask_only",
                  "dx marks the maxima with 1 instead of passing the upstream gradient"),
            lambda: bugs.max_pool_backward(x, dout * 0 + 1, ph, pw, s))]
    for scope, where in (("channel", "the whole channel"), ("all", "the whole input")):
        out.append((Cause("pool_backward.max_lookup_outside",
                          f"each window's maximum is looked up by its value in {where}, not "
                          f"inside the window: wherever that value occurs elsewhere (zeros "
                          f"after a ReLU) gradient goes outside the window; find the position "
                          f"inside the window (np.argmax of the window)"),
                    lambda scope=scope: bugs.max_pool_backward_lookup(x, dout, ph, pw, s, scope)))
    if (ph, pw) != (s, s):
        out.append((Cause("pool_backward.stride_is_window",
                          "the windows are placed as if the stride were the window size"),
                    lambda: bugs.max_pool_backward(x, dout, ph, pw, s, steps=(ph, pw))))
    if s < max(ph, pw):
        overwrite = Cause("pool_backward.overwrite",
                          "where windows overlap, a later window overwrites the gradient "
                          "instead of adding to it (use +=)")
        out.append((overwrite, lambda: bugs.max_pool_backward(x, dout, ph, pw, s,
                                                              accumulate=False)))
        out.append((overwrite, lambda: bugs.max_pool_backward(x, dout, ph, pw, s,
                                                              accumulate=False,
                                                              whole_window=True)))
    return out


def _check(worker, submission, case, record_property):
    run_backward_check(worker, submission, case, record_property, diagnoses=pool_grad_mistakes)


@check("pool_backward.basic", "max_pool_backward_naive")
def test_basic(case, worker, submission, record_property):
    """dx matches the reference and the numeric gradient of your forward"""
    _check(worker, submission, case, record_property)


@check("pool_backward.extra", "max_pool_backward_naive")
def test_extra(case, worker, submission, record_property):
    """dx matches the reference and the numeric gradient (overlapping, rectangular, float32)"""
    _check(worker, submission, case, record_property)


@check("pool_backward.hidden", "max_pool_backward_naive")
def test_hidden(case, worker, submission, record_property):
    """dx matches the reference and the numeric gradient (hidden cases)"""
    _check(worker, submission, case, record_property)
