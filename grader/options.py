"""The grading options, each declared once: `pytest grader`, `python -m grader grade` and
`grade-all`, and Gradescope's runner and zip builder all take them from here, so a flag has one
name, one help text and one default wherever it is accepted.

`add(parser, OPTION)` declares one on an argparse parser or on pytest's option group
(`pytest_addoption`); an entry point may give its own default (`add(..., default=...)`), never
its own help. tests/test_structure.py checks that no other module declares these flags.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader import config
from grader.config import GRADING_TIMEOUT_S, STUDENT_USER


@dataclass(frozen=True)
class Option:
    """One command-line option: its flag, help text, argument type and default."""
    flag: str
    help: str
    metavar: str | None = None
    type: type | None = None
    default: object = None


SUBMISSION = Option(
    "--submission", metavar="PATH",
    help="the student's submission (a folder or .zip). Default: the current folder when it "
         "holds ./cs260 (student release), else <repo>/starter.")
RESULTS_JSON = Option(
    "--results-json", metavar="FILE",
    help="also write Gradescope's results.json to FILE (atomically, replacing any file there).")
WORKER_TIMEOUT = Option(
    "--worker-timeout", metavar="S", type=float, default=config.WORKER_TIMEOUT_S,
    help=f"default deadline of one call into student code (default {config.WORKER_TIMEOUT_S}).")
WORKER_MEMORY = Option(
    "--worker-memory", metavar="MB", type=int, default=config.WORKER_MEMORY_MB,
    help=f"memory limit of the process running student code "
         f"(default {config.WORKER_MEMORY_MB}).")
RUN_AS = Option(
    "--run-as", metavar="USER",
    help="run student code as this unprivileged user, so that it can read neither the grader "
         "nor the hidden fixtures (needs root). Without it student code runs as you; as root, "
         f"grade-all and Gradescope's runner use the student account {STUDENT_USER} when it "
         "exists.")
GRADING_TIMEOUT = Option(
    "--timeout", metavar="S", type=float, default=GRADING_TIMEOUT_S,
    help="wall-clock seconds one grading run (pytest and the worker running student code) may "
         "take; at the limit it is stopped and scored on the checks that ran (default "
         f"{GRADING_TIMEOUT_S}, below Gradescope's 600; Gradescope's runner defaults to the "
         "value its zip was built with).")

# The options of a grading run (`pytest grader`), in the order --help lists them.
PYTEST_OPTIONS = (SUBMISSION, RESULTS_JSON, WORKER_TIMEOUT, WORKER_MEMORY, RUN_AS)
OPTIONS = PYTEST_OPTIONS + (GRADING_TIMEOUT,)


def add(parser, option, **default):
    """Declare `option` on an argparse parser or a pytest option group; `default=` overrides
    its default for this entry point (the help text never changes)."""
    kwargs = {"help": option.help, "default": default.pop("default", option.default)}
    if default:
        raise TypeError(f"only default= may be given for {option.flag}, not {sorted(default)}")
    if option.metavar is not None:
        kwargs["metavar"] = option.metavar
    if option.type is not None:
        kwargs["type"] = option.type
    declare = parser.addoption if hasattr(parser, "addoption") else parser.add_argument
    declare(option.flag, **kwargs)
