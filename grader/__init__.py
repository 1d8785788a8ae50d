"""Autograder for the cs260 convolutional-networks homework (see docs/ARCHITECTURE.md).

`from grader import check` then `check("conv_forward_naive")` grades one function from the
notebook (grader/notebook_check.py); it is imported only when called, so loading the pytest
plugin (`pytest grader`) imports nothing more.
"""


def check(name, submission=None):
    """Grade the function or class `name` as `pytest grader -k name` does (grader/notebook_check.py)."""
    from grader.notebook_check import check as run_check
    return run_check(name, submission)
