"""Gradescope packaging: autograder.zip (build.py), its setup.sh and run_autograder (run.py).

The settings below are written into the zip's gradescope.env, which setup.sh and
run_autograder read, so the shell scripts and the Python side share one definition.
"""

STUDENT_USER = "cs260student"   # unprivileged account that runs student code on Gradescope
DEFAULT_ROOT = "/autograder"    # Gradescope's layout: source/, submission/, results/
ROOT_ENV = "AUTOGRADER_ROOT"    # overrides DEFAULT_ROOT (tests)
# Wall-clock budget of one grading run (pytest + worker). Gradescope's default limit is 600 s;
# this stops early enough to still write results.json. Raise both together.
GRADING_TIMEOUT_S = 520
# At the budget pytest gets SIGINT (the plugin then writes results.json with the checks that
# ran); whatever is still running this much later is killed.
STOP_GRACE_S = 30
ENV_FILE = "gradescope.env"     # at the zip's root
DATA_SUBDIR = "data"            # CIFAR-10 goes to <root>/data/cifar-10-batches-py (--with-cifar)
