"""Section 5: the sandwich layers (given code calling your ReLU and the fast layers), checked
with the notebook's gradient-check cells: against the reference and by numeric gradients."""
from grader.cases import check
from grader.checks.checking import check_backward, check_forward, depends_on, require_file, short


def _check(worker, submission, case, record_property, slips=None):
    require_file(submission, "layers.py")
    with depends_on(worker, ("prereq.relu_forward", "prereq.relu_backward"), short(case.function)):
        check_forward(worker, case, slips=slips)
        note = check_backward(worker, case, slips=slips)
    if note:
        record_property("output", note)


@check("sandwich.conv_relu_pool", "conv_relu_pool_forward")
def test_conv_relu_pool(case, worker, submission, record_property, slips):
    """the notebook's gradient check: output, dx, dw, db match the reference and the numeric gradient"""
    _check(worker, submission, case, record_property, slips=slips)


@check("sandwich.conv_relu", "conv_relu_forward")
def test_conv_relu(case, worker, submission, record_property, slips):
    """the notebook's gradient check: output, dx, dw, db match the reference and the numeric gradient"""
    _check(worker, submission, case, record_property, slips=slips)
