"""The command line: `python -m grader COMMAND ...` (see --help): `check` and `grade` everywhere,
the instructors' commands in their tree.

Each command delegates to the module that owns the job; this file only parses arguments.
"""
import argparse
import subprocess
import sys
from pathlib import Path

from grader import options

REPO = Path(__file__).resolve().parent.parent

EPILOG = """\
examples:
  python -m grader check conv_forward_naive   # one function's checks (as check() in the notebook)
  python -m grader grade path/to/submission --results-json results.json
  python -m grader weights                    # the weights table of grader/config.py
"""
INSTRUCTORS_EPILOG = """\
  python -m grader fixtures regen             # recompute fixtures/ from solution/
  python -m grader make-starter --check       # is starter/ up to date with solution/?
  python -m grader gradescope-zip autograder.zip --with-cifar
  python -m grader student-release cs260_homework.zip
  python -m grader grade-all export/ --out graded/ --jobs 4 --report
  python -m grader report graded/ --out graded/report   # the class report (index.html + CSV)
"""


def instructors_tree():
    """True in the instructors' tree (solution/ is there): only there do the commands that
    build fixtures, releases and Gradescope's zip, and grade a class, work and get listed."""
    return (REPO / "solution" / "cs260").is_dir()


def _fixtures(args):
    from grader.checks import fixtures
    return fixtures.main([args.action, *args.rest])  # e.g. --dest, --solution


def _make_starter(args):
    from grader.tools import make_starter
    return make_starter.run(args)


def _gradescope_zip(args):
    from grader.tools.gradescope import build
    return build.run(args)


def _student_release(args):
    from grader.tools import release
    return release.run(args)


def _grade(args):
    """One submission, graded by `python -m pytest grader` from the repo (its exit status)."""
    cmd = [sys.executable, "-m", "pytest", "grader", "--submission", str(Path(args.path).resolve()),
           "-p", "no:cacheprovider"]
    if args.results_json:
        cmd += ["--results-json", str(Path(args.results_json).resolve())]
    if args.run_as:
        cmd += ["--run-as", args.run_as]
    return subprocess.call(cmd + args.rest, cwd=REPO)  # e.g. -k conv


def _weights(args):
    from grader import report
    print(report.weights_markdown())


def _grade_all(args):
    from grader.tools import batch
    return batch.run(args)


def _report(args):
    from grader.tools import classreport
    return classreport.run(args)


def _check(args):
    from grader import notebook_check
    return notebook_check.main(args.name, args.submission)


def build_parser(fixtures=False):
    """The `python -m grader` parser: one subcommand per job, each owned by its module; the
    instructors' commands only in the instructors' tree (`fixtures` also where asked for by
    name: staff may check a release's fixtures against a solution; --help does not list it)."""
    instructors = instructors_tree()
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="cs260 autograder: " + ("instructors' commands." if instructors else
                                            "check a function, grade your work."),
        epilog=EPILOG + (INSTRUCTORS_EPILOG if instructors else ""),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_check(commands)
    _add_grade(commands)
    p = commands.add_parser("weights",
                            help="print the weights table (Markdown, as in docs/GRADING.md)")
    p.set_defaults(func=_weights)
    if instructors:
        _add_instructors(commands)
    elif fixtures:
        _add_fixtures(commands)
    return parser


def _add_instructors(commands):
    """The commands that need the instructors' tree (solution/, hidden cases, the class)."""
    from grader.tools import batch, classreport, release
    from grader.tools.gradescope import build
    _add_fixtures(commands)
    _add_make_starter(commands)
    _add_owned(commands, "gradescope-zip", "build Gradescope's autograder.zip", build,
               _gradescope_zip)
    _add_owned(commands, "student-release", "build the student bundle (.zip or folder)", release,
               _student_release)
    _add_owned(commands, "grade-all", "grade a folder of submissions into a gradebook", batch,
               _grade_all)
    _add_owned(commands, "report", "the class report: common mistakes, scores, checks "
                                   "(a static web page + CSV)", classreport, _report)


def _add_check(commands):
    """`check NAME`: one graded function's checks, as check(NAME) in the notebook."""
    p = commands.add_parser("check", help="grade one function (as check() in the notebook)",
                            description="Run the checks of one graded function (or a short form "
                                        "such as max_pool) on ./cs260 and print its points, its "
                                        "failing cases and what to fix; exits 0 if all pass.")
    p.add_argument("name", help="a graded function or class, e.g. conv_forward_naive")
    options.add(p, options.SUBMISSION)
    p.set_defaults(func=_check)


def _add_owned(commands, name, summary, module, func):
    """A command whose options and description come from the module that does the job."""
    p = commands.add_parser(name, help=summary, description=module.__doc__.split("\n\n")[0])
    module.add_arguments(p)
    p.set_defaults(func=func)


def _add_fixtures(commands):
    """`fixtures regen|check`: its other options pass through to grader.checks.fixtures."""
    p = commands.add_parser("fixtures", help="regenerate or check fixtures/ (from solution/)",
                            description="Regenerate fixtures/ by running solution/ on every case "
                                        "of grader/cases.py, or check them. Other options "
                                        "go to grader.checks.fixtures (--help there).")
    p.add_argument("action", choices=["regen", "check"])
    p.set_defaults(func=_fixtures, passthrough=True)


def _add_make_starter(commands):
    """`make-starter`, with grader.tools.make_starter's own options (absent from the student release,
    which ships no make_starter.py: there is no solution to make a starter from)."""
    try:
        from grader.tools import make_starter
    except ImportError:
        return
    p = commands.add_parser("make-starter", help="generate starter/ from solution/",
                            description="Generate starter/cs260 from solution/cs260 (solution "
                                        "blocks become stubs); --check only compares.")
    make_starter.add_arguments(p)
    p.set_defaults(func=_make_starter)


def _add_grade(commands):
    """`grade PATH`: the shared grading options; anything else passes through to pytest."""
    p = commands.add_parser("grade", help="grade one submission (runs pytest grader)",
                            description="Grade one submission (a folder with cs260/, loose files "
                                        "or a .zip) and print the score table; exits with "
                                        "pytest's status (0: every check passed). Other "
                                        "options go to pytest, e.g. -k conv.")
    p.add_argument("path", help="the submission")
    options.add(p, options.RESULTS_JSON)
    options.add(p, options.RUN_AS)
    p.set_defaults(func=_grade, passthrough=True)


def main(argv=None):
    """Run one instructors' command; its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(fixtures=argv[:1] == ["fixtures"])
    # fixtures, make-starter and grade pass unknown options on (to the module, or to pytest).
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
