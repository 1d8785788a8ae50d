"""Makes `pytest grader` a grading run: the hooks and fixtures live in grader/plugin.py."""
from grader.plugin import (  # noqa: F401 - pytest finds hooks and fixtures by name here
    cifar,
    fast,
    pytest_addoption,
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
    submission,
    worker,
    workers,
)
