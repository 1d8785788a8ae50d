"""Makes `pytest grader` a grading run: the hooks and fixtures live in grader/plugin.py."""
import sys

if sys.platform == "win32":
    # The worker that runs student code needs a POSIX system (process groups, resource limits,
    # users); say so in one line instead of an import traceback from deep inside the grader.
    raise SystemExit("cs260 grader: Windows is not supported; run `pytest grader` in WSL "
                     "(Ubuntu) or on Google Colab (README.md says how)")

from grader.plugin import (  # noqa: E402,F401 - pytest finds hooks and fixtures by name here
    cifar,
    fast,
    pytest_addoption,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_make_collect_report,
    pytest_pycollect_makeitem,
    pytest_report_header,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
    slips,
    submission,
    worker,
    workers,
)
