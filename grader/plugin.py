"""pytest plugin for a grading run (`pytest grader`): options, session fixtures, and scoring.

grader/conftest.py imports the hooks and fixtures below. Each check item's points and Gradescope
fields are worked out at collection time (`pytest_collection_modifyitems`), its outcome is recorded
from pytest's reports, and at the end grader/report.py prints the table and writes results.json.
All run state lives in `config.stash` (one `GradingState` per session).
"""
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from grader import config as settings
from grader import options, report, selection

REPO = Path(__file__).resolve().parent.parent
DATA_HELP = "run `bash cs260/datasets/get_datasets.sh` or set CS260_DATA_DIR to the folder holding cifar-10-batches-py"


@dataclass
class GradingState:
    """Everything one grading session records; lives in config.stash."""
    submission_path: Path
    submission_why: str
    results_path: Path | None
    start: float = field(default_factory=time.monotonic)
    cases: dict = field(default_factory=dict)      # function key -> case ids in collection order
    items: dict = field(default_factory=dict)      # nodeid -> ItemResult (metadata, outcome "")
    results: dict = field(default_factory=dict)    # nodeid -> ItemResult of items that ran
    submission: object = None
    submission_error: str = ""
    workers: dict = field(default_factory=dict)    # name -> grader.sandbox.client.Worker (fixture `workers`)
    notes: list = field(default_factory=list)      # run-level problems for the top-level output
    stop_reason: str = ""
    sigint_was_ignored: bool = False
    session_notes: list = field(default_factory=list)  # stops / unfinished / deselected checks
    visible_session_notes: list = field(default_factory=list)  # the same, visible checks only
    written: bool = False
    shown: list = None    # the results with their pointers, as reported (report.as_shown, once)
    worker_peak_kb: dict = field(default_factory=dict)  # workers' virtual/resident peaks (Linux)
    numpy_notes: dict = field(default_factory=dict)  # numpy-version note -> key (numpy_notes.py)
    check_keys: set = field(default_factory=set)   # config.CHECKS keys of the collected checks
    selection_note: str = ""   # a -k that selected nothing: the names that exist
    compact: bool = False      # pytest's per-failure reports left out: grader/summary.py groups them
    partial: bool = False      # not every check of the grader ran (-k, --lf, a file, -x)


STATE = pytest.StashKey[GradingState]()


def _state(config):
    return config.stash.get(STATE, None)


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------

def pytest_addoption(parser):
    """Add the grading options (grader/options.py, declared once for every entry point)."""
    group = parser.getgroup("cs260", "cs260 grading")
    for option in options.PYTEST_OPTIONS:
        options.add(group, option)


def default_submission(cwd):
    """(path, why): ./cs260 when it exists (the student release layout), else the cs260/ beside
    the grader (the release, graded from its parent folder), else the repo's starter."""
    cwd = Path(cwd)
    if (cwd / "cs260").is_dir():
        return (cwd / "cs260").resolve(), "default: ./cs260 found in the current folder"
    if (settings.REPO / "cs260").is_dir():   # the student release, graded from another folder
        return settings.REPO / "cs260", "default: no ./cs260 here, the cs260/ next to the grader"
    return REPO / "starter", "default: no ./cs260 here, grading the starter code"


def _option(config, name, default=None):
    # getoption with a default, in case this module is used where pytest_addoption did not run.
    return config.getoption(name, default=default)


def pytest_configure(config):
    """Start the session's grading state, and replace any results.json at once, so a killed run
    never leaves a stale or student-written one."""
    given = _option(config, "submission")
    if given:
        path, why = Path(config.invocation_params.dir, given).resolve(), "--submission"
    else:
        path, why = default_submission(config.invocation_params.dir)
    results = _option(config, "results_json")
    # abspath, not resolve(): a symlink planted at that path is replaced, never followed.
    results = Path(os.path.abspath(Path(config.invocation_params.dir, results))) if results else None
    state = GradingState(path, why, results)
    config.stash[STATE] = state
    _compact_output(config, state)
    # The time limit stops grading with SIGINT (grader.tools.gradescope.run_in_group). A shell that
    # starts a job in the background (`&` in a script, nohup) hands SIGINT down ignored, and then
    # Python never raises KeyboardInterrupt: pytest would be killed and the checks that ran lost.
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        state.sigint_was_ignored = True
    config.pluginmanager.register(_SessionHooks(config), SESSION_HOOKS)
    if results is not None:
        # Replace at once anything already there (a submission may ship a results.json), so that
        # even if this process is killed the file says grading did not finish.
        _write_results(config, provisional=True)
    _stop_on_a_wrong_start(config, state, given)


def _stop_on_a_wrong_start(config, state, given):
    """Stop with one line (grader/startup.py) when the run cannot start as it is; results.json
    (if asked for) says the same."""
    from grader import startup
    from grader.sandbox.trusted import trusted_starter_root
    problem = startup.problem(state.submission_path, bool(given), trusted_starter_root())
    if not problem:
        return
    if state.results_path is not None:
        try:
            report.write_json_atomic(state.results_path, report.fallback_json(0, problem))
        except OSError:
            pass
    state.written = True
    raise pytest.UsageError(problem)


def _compact_output(config, state):
    """With pytest's default output options, leave out its report of every failure and its
    line per failed check: grader/summary.py prints them grouped by function, above the table.
    -v, --tb=... or -r... bring pytest's own reports back."""
    option = config.option
    if (getattr(option, "tbstyle", "auto") == "auto" and getattr(option, "verbose", 0) <= 0
            and getattr(option, "reportchars", "fE") in ("fE", "")):
        state.compact = True
        option.tbstyle, option.reportchars = "no", "N"


def pytest_report_header(config):
    """Say at the top what is graded, under which limits and as whom, so a log is self-explaining."""
    state = _state(config)
    if state is None:
        return []
    user = _option(config, "run_as") or "the current user"
    lines = [f"cs260 grading: submission {state.submission_path} ({state.submission_why})",
             f"student code: timeout {_option(config, 'worker_timeout')} s per call, "
             f"memory {_option(config, 'worker_memory')} MB, runs as {user}"]
    from grader.sandbox import walls
    lines.append(walls.header_line())
    if state.results_path:
        lines.append(f"results.json: {state.results_path}")
    from grader import environment
    return [environment.mismatch_note()] * bool(environment.mismatch_note()) + lines


# ----------------------------------------------------------------------------------------------
# Collection: points and Gradescope fields of every item
# ----------------------------------------------------------------------------------------------

def _function_key(item):
    return f"{item.parent.nodeid}::{item.originalname}"


def _case_id(item):
    callspec = getattr(item, "callspec", None)
    return callspec.id if callspec is not None else ""


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """Record every case of a check function before -k/--lf filter them: its weight is split over
    all of its cases, so a selection never changes a case's points."""
    result = yield
    state = _state(collector.config)
    found = result if isinstance(result, list) else [result]
    functions = [x for x in found if isinstance(x, pytest.Function)]
    if state is not None and functions:
        state.cases[_function_key(functions[0])] = [_case_id(f) for f in functions]
    return result


def describe(item, case_ids):
    """ItemResult (not yet run) for one collected check item; `case_ids` are all its function's cases."""
    func = getattr(item, "function", None) or item.obj
    doc = (getattr(func, "__doc__", None) or "").strip()
    title = report.one_line(doc, 200) or item.originalname
    tags = [str(t) for t in getattr(func, "__tags__", ())]
    graded = tags[0] if tags else item.originalname.removeprefix("test_")
    section_keys = {s.key for s in settings.SECTIONS}
    section = next((t for t in tags if t in section_keys), "")
    case = _case_id(item)
    index = case_ids.index(case) if case and case in case_ids else None
    visibility = getattr(func, "__visibility__", "visible")
    return report.ItemResult(
        nodeid=item.nodeid,
        check=f"{graded}: {title}",
        case=case,
        section=section,
        weight=report.split_weight(getattr(func, "__weight__", 0.0), len(case_ids)),
        number=report.case_number(getattr(func, "__number__", ""), index),
        visibility=str(visibility),
        tags=tags,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Fix each item's points and Gradescope fields, and run hidden checks after visible ones."""
    # tryfirst: runs before -k/-m/--deselect/--lf remove items, so they don't change a case's points.
    state = _state(config)
    if state is None:
        return
    groups = {}
    for item in items:
        if isinstance(item, pytest.Function):
            groups.setdefault(_function_key(item), []).append(item)
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(settings.CHECK_TIMEOUT_S))
    for key, group in groups.items():
        case_ids = state.cases.get(key) or [_case_id(i) for i in group]
        if len(case_ids) < len(group):
            case_ids = [_case_id(i) for i in group]
        for item in group:
            state.items[item.nodeid] = describe(item, case_ids)
    # The notebook's order (config.SECTIONS), which is the order to fix things in: `-x` stops at
    # the first function to fix. Hidden checks run after every visible one (a stable sort):
    # whatever student code keeps of a hidden case's inputs cannot be printed into a visible
    # check's output.
    rank = {s.key: i for i, s in enumerate(settings.SECTIONS)}

    def order(item):
        meta = state.items.get(item.nodeid)
        if meta is None:
            return (False, len(rank))
        return (meta.visibility != "visible", rank.get(meta.section, len(rank)))
    items.sort(key=order)
    _add_names(state, items)
    _select_by_name(config, state, items)


def _add_names(state, items):
    """Give each item the name of the function it grades and its short forms as keywords, so
    that any -k expression can use the names students know."""
    for item in items:
        meta = state.items.get(item.nodeid)
        func = getattr(item, "function", None)
        if getattr(func, "__check_key__", None):
            state.check_keys.add(func.__check_key__)
        if meta is not None and meta.tags:
            item.extra_keyword_matches.update([meta.tags[0], *selection.short_forms(meta.tags[0])])


def _graded_names(state):
    """The graded functions' names, in the order to fix them (the collected ones included)."""
    from grader.feedback.pointers import FIX_ORDER
    collected = [m.tags[0] for m in state.items.values() if m.tags]
    return list(dict.fromkeys([*FIX_ORDER, *collected]))


def _select_by_name(config, state, items):
    """`-k NAME`, NAME a graded function or a short form (grader/selection.py), selects exactly
    its checks: pytest's own -k matches substrings (relu_forward would take conv_relu_forward)."""
    expression = _option(config, "keyword", "") or ""
    wanted = selection.targets(expression, _graded_names(state))
    if wanted is None:
        return
    keep, drop = [], []
    for item in items:
        meta = state.items.get(item.nodeid)
        (keep if meta is not None and meta.tags[:1] and meta.tags[0] in wanted else drop).append(item)
    config.option.keyword = ""   # taken whole here; pytest's -k would narrow it again
    state.selection_note = "" if keep else _no_match_note(state, expression)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def _no_match_note(state, expression):
    """What to write instead of a -k that selects no check."""
    return f"No check matches -k {expression!r}. {selection.names_help(_graded_names(state))}"


def pytest_collection_finish(session):
    """Say which names exist when a -k expression selected no check at all."""
    state = _state(session.config)
    expression = _option(session.config, "keyword", "") or ""
    if state is not None and not session.items and expression.strip():
        state.selection_note = _no_match_note(state, expression)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """Note a check module that fails to collect, so results.json says the grader broke, not the
    student."""
    collect_report = yield
    state = _state(collector.config)
    if state is not None and collect_report.failed:
        state.notes.append(f"Collecting {collect_report.nodeid or 'the checks'} failed (a grader bug, "
                           f"not yours; staff have the details):\n{collect_report.longreprtext}")
    return collect_report


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def submission(request, tmp_path_factory):
    """The student's files, loaded once (grader.sandbox.loader) into a private folder for the session."""
    state = _state(request.config)
    if state.submission is None:
        from grader.sandbox.loader import load_submission
        try:
            state.submission = load_submission(state.submission_path,
                                               tmp_path_factory.mktemp("submission"))
        except Exception as e:
            state.submission_error = (f"Loading the submission failed ({type(e).__name__}: {e}); "
                                      "a grader problem, staff have the details.")
            raise
    return state.submission


@pytest.fixture(scope="session")
def workers(request, submission):
    """The session's two workers running the student's code, at most one at a time (restarted by
    the client after a crash or timeout), closed at the end: "normal" (the student's files on
    the trusted package) and "naive" (the same package without its fast code, grader/sandbox/naive.py)."""
    from grader.sandbox import naive
    from grader.sandbox.client import Worker, WorkerGroup, unapplied_note
    config = request.config
    state = _state(config)
    common = {"timeout": _option(config, "worker_timeout"), "group": WorkerGroup(),
              "memory_mb": _option(config, "worker_memory"), "run_as_user": _option(config, "run_as")}
    state.workers = {"normal": Worker(submission.root, **common),
                     "naive": Worker(submission.naive_root, **common, **naive.worker_options())}
    made = state.workers
    try:
        yield made
    finally:
        state.workers = {}
        unapplied = []
        for w in made.values():
            w.close()
            unapplied += [n for n in w.unapplied_limits if n not in unapplied]
            if w.info is not None:
                state.walls_down = set(getattr(state, "walls_down", ())) | w.unapplied_limits
            for key, kb in w.memory_peak_kb.items():
                state.worker_peak_kb[key] = max(state.worker_peak_kb.get(key, 0), kb)
        note = unapplied_note(unapplied)
        if note:  # said once per session, however many workers were started
            state.notes.append(note)


@pytest.fixture
def worker(request, workers):
    """The worker for this check: the naive one for the sections in settings.NAIVE_SECTIONS (the
    naive conv/pool layers must be the student's own code), the normal one otherwise."""
    meta = _state(request.config).items.get(request.node.nodeid)
    naive = meta is not None and meta.section in settings.NAIVE_SECTIONS
    return workers["naive" if naive else "normal"]


@pytest.fixture(scope="session")
def fast():
    """The trusted fast (im2col / Cython) layers, as a module."""
    from grader.sandbox.trusted import fast_layers
    return fast_layers()


@pytest.fixture(scope="session")
def cifar():
    """The CIFAR-10 data folder (grader.checks.data), or a skip that says where it looked and how to get it."""
    from grader.checks import data
    found = data.cifar_dir()
    if found is None:
        pytest.skip(f"CIFAR-10 not found in {data.where_cifar_is_looked_for()}; {DATA_HELP}")
    return found


# ----------------------------------------------------------------------------------------------
# Outcomes
# ----------------------------------------------------------------------------------------------

def _is_student_error(exc):
    return any(c.__name__ == "StudentError" and c.__module__.startswith("grader")
               for c in type(exc).__mro__)


def student_caused(exc):
    """True if `exc` means the student's code is wrong (a failed check), not that the grader is."""
    return isinstance(exc, (AssertionError, pytest.fail.Exception)) or _is_student_error(exc)


def failure_text(exc, causes=()):
    """(full message, student's prints) for a student-caused failure; never a grader traceback.
    causes: the likely causes of a StudentError (grader.feedback.pointers.error_causes)."""
    if _is_student_error(exc):
        message = getattr(exc, "message", "") or str(exc)
        message += "".join(f"\n  likely cause: {c}" for c in causes)
        detail = getattr(exc, "detail", "")
        text = f"{message}\n\n{detail}".rstrip() if detail else message
        return text, getattr(exc, "output", "") or ""
    if isinstance(exc, pytest.fail.Exception):
        return exc.msg, ""
    return str(exc).strip() or f"{type(exc).__name__} (the check gave no message)", ""


def failure_data(exc, causes=()):
    """(failure kind, diagnosis keys) of a student-caused failure, for results.json:
    "value" (a check's comparison or assertion), "fail" (pytest.fail, e.g. a missing file),
    "naive_rule" (a naive layer called the stubbed fast code: grader/sandbox/naive.py) or the
    StudentError kind (timeout, crash, exception, ...)."""
    from grader.feedback.causes import key_of
    from grader.sandbox import naive
    if _is_student_error(exc):
        kind = str(getattr(exc, "kind", "") or "exception")
        if kind == "exception" and getattr(exc, "error_type", "") == naive.REFUSAL:
            kind = "naive_rule"
        return kind, [key_of(c) for c in causes]
    if isinstance(exc, pytest.fail.Exception):
        return "fail", []
    return "value", [str(k) for k in getattr(exc, "diagnoses", ())]


def _skip_reason(test_report):
    longrepr = test_report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _drain(state):
    """The student's prints since the last drain, from every worker ("" without one, or if
    draining fails)."""
    printed = []
    for w in list(state.workers.values()):
        try:
            printed.append(w.drain_output() or "")
        except Exception:
            pass
    return "".join(printed)


def _record_failure(state, item_result, excinfo, traceback_text, case=None):
    exc = excinfo.value
    printed = _drain(state)
    if student_caused(exc):
        causes = ()
        if _is_student_error(exc):
            from grader.feedback.pointers import error_causes
            causes = error_causes(exc, case)
        message, output = failure_text(exc, causes)
        item_result.reason = report.one_line(message) or type(exc).__name__
        item_result.message = message
        item_result.student_output = "\n".join(x for x in (output, printed) if x.strip())
        item_result.failure, item_result.diagnoses = failure_data(exc, causes)
        return True
    item_result.internal = True
    item_result.failure = "internal"
    item_result.reason = f"{report.INTERNAL_ERROR}: {type(exc).__name__}: {report.one_line(str(exc))}"
    item_result.message = (f"{report.INTERNAL_ERROR}: a bug in the grader, not in your code; "
                           f"course staff will look into it.\n\n{traceback_text}")
    item_result.student_output = printed
    return False


def _add_numpy_notes(state, result):
    """Append the numpy-version notes of the warnings this item's student code raised to its
    message (no points change; grader/feedback/numpy_notes.py), and remember them for the run's notes."""
    from grader.feedback import numpy_notes
    warned = []
    for w in list(state.workers.values()):
        try:
            warned += w.drain_warnings()
        except Exception:
            pass
    keys, lines = numpy_notes.notes(warned)
    if result.visibility != "visible":
        return   # what student code warned while a hidden case ran reaches no student's text
    if lines:
        result.message = "\n".join(x for x in (result.message, *lines) if x)
        for key, line in zip(keys, lines):
            state.numpy_notes.setdefault(line, key)


def _record(state, item, call, test_report):
    meta = state.items.get(item.nodeid)
    if meta is None:
        return
    if test_report.when == "teardown":
        if test_report.failed:
            state.notes.append(f"Cleaning up after {meta.name} failed (a grader problem, not yours):\n"
                               f"{test_report.longreprtext}")
        return
    if test_report.when == "setup" and test_report.passed:
        return
    result = state.results[item.nodeid] = replace(meta)
    if test_report.skipped:
        result.outcome = report.SKIPPED
        result.reason = _skip_reason(test_report)
    elif test_report.passed:
        result.outcome = report.PASSED
        result.message = "\n".join(str(v) for k, v in item.user_properties if k == "output")
        result.credit = min([float(v) for k, v in item.user_properties if k == "credit"],
                            default=1.0)
        if result.credit < 1:
            result.reason = report.one_line(result.message)
            result.diagnoses = [str(v) for k, v in item.user_properties if k == "diagnoses"]
        _drain(state)  # this check's prints are not the next one's
        _add_numpy_notes(state, result)
    else:
        result.outcome = report.FAILED if test_report.when == "call" else report.ERROR
        # longreprtext: pytest's traceback, pruned of pytest's own frames.
        from grader.casebuild import Case
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        case = case if isinstance(case, Case) else None   # a check's own parameter otherwise
        # With the compact output pytest's own traceback is cut to a line (--tb=no): staff
        # still get the whole one for a grader error.
        trace = (str(call.excinfo.getrepr(style="long")) if state.compact and call.excinfo
                 else test_report.longreprtext)
        by_student = _record_failure(state, result, call.excinfo, trace, case)
        _add_numpy_notes(state, result)
        if by_student and (state.compact or item.config.option.tbstyle == "auto"):
            # Show the check's message instead of the grader's traceback (--tb=... shows it).
            test_report.longrepr = report.item_output(result, settings.OUTPUT_LIMIT_CHARS)


SLIPS = pytest.StashKey()   # item.stash: the item's shape-slip ledger (the `slips` fixture)


@pytest.fixture
def slips(request):
    """This check item's shape-slip ledger (grader/feedback/policy.py), kept in its stash: the
    check passes it to its comparisons, and the item is scored from it when it has run."""
    from grader.feedback import policy
    return request.node.stash.setdefault(SLIPS, policy.Ledger())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Score the item's shape slips (its `slips` ledger): a slip costs it a fixed part, once."""
    try:
        return (yield)
    finally:
        ledger = item.stash.get(SLIPS, None)
        if ledger is not None and ledger.slips:
            item.user_properties.insert(0, ("output", ledger.message()))
            item.user_properties.append(("credit", ledger.credit))
            item.user_properties.append(("diagnoses", ledger.KEY))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each item's outcome, message and the student's prints for the table and results.json."""
    test_report = yield
    state = _state(item.config)
    if state is not None:
        try:
            _record(state, item, call, test_report)
        except Exception:
            state.notes.append(f"{report.INTERNAL_ERROR} while recording {item.nodeid}:\n"
                               f"{traceback.format_exc()}")
    return test_report


# ----------------------------------------------------------------------------------------------
# End of the run: results.json and the table
# ----------------------------------------------------------------------------------------------

class _SessionHooks:
    """Hooks that pytest calls without a config; registered per session in pytest_configure."""

    def __init__(self, config):
        self.config = config

    def pytest_internalerror(self, excrepr, excinfo):
        """Still write results.json when pytest itself breaks, saying so."""
        state = _state(self.config)
        if state is not None:
            state.notes.append(f"{report.INTERNAL_ERROR} (pytest stopped):\n{excrepr}")
            _write_results(self.config)

    def pytest_keyboard_interrupt(self, excinfo):
        """Remember why the run stopped (the time limit's SIGINT, Ctrl-C) for the run notes."""
        state = _state(self.config)
        if state is not None:
            # Collection errors arrive here too (pytest's Interrupted is a KeyboardInterrupt).
            text = str(excinfo.value).strip()
            state.stop_reason = f"{excinfo.typename}: {text}" if text else excinfo.typename


SESSION_HOOKS = "cs260-grading-session"


def _submission_summary(state):
    if state.submission is not None:
        try:
            return str(state.submission.summary())
        except Exception:
            return f"(the submission summary failed: {traceback.format_exc()})"
    return state.submission_error or "The submission was not loaded (no check that needs it ran)."


def _session_notes(state, session, visible_only=False):
    """Notes on what did not run: stops (-x, Ctrl-C), unfinished and deselected checks
    (visible_only: counting visible checks only, for the text students always see)."""
    notes = []
    counted = {n for n, m in state.items.items() if not visible_only or m.visibility == "visible"}
    every_selected = getattr(session, "items", None) or []
    selected = [i for i in every_selected if i.nodeid in counted]
    not_run = [i for i in selected if i.nodeid not in state.results]
    stop = state.stop_reason or session.shouldstop or session.shouldfail or ""
    what = "visible check(s)" if visible_only else "check(s)"
    if not_run:
        why = f"Partial run, stopped early ({stop}): " if stop else "Partial run: "
        notes.append(f"{why}{len(not_run)} selected {what} did not run and are not in the score.")
    elif stop:
        notes.append(f"Stopped early ({stop}).")
    total = len(counted)
    if state.check_keys:   # the grader's own checks: count those not collected too (a file, --lf)
        total = max(total, selection.expected_items(settings.CHECKS, visible_only))
    if not visible_only:
        state.partial = bool(not_run) or len(selected) < total
    if len(selected) < total:
        notes.append(f"Partial run: only {len(selected)} of {total} {what.replace('(s)', 's')} were "
                     "selected (-k, --lf, a single file); the total covers only those.")
    if state.selection_note:
        notes.append(state.selection_note)
    absent = _absent_hidden_points()
    if absent:
        notes.append(f"The hidden checks ({absent:g} points) are not in this copy of the grader; "
                     "Gradescope runs them, so the total here is out of fewer points.")
    return notes


def _absent_hidden_points():
    """Points of hidden checks none of whose fixtures are here (the student release)."""
    from grader import cases
    return sum(points for key, (_, points) in settings.CHECKS.items()
               if key.endswith(".hidden") and not cases.cases_for(key))


def _run_notes(state, visible_only=False):
    """Run-level notes for the top-level output: what did not run, then grader problems
    (visible_only: the counts of what did not run are of visible checks only)."""
    session_notes = state.visible_session_notes if visible_only else state.session_notes
    # Before pytest_sessionfinish (an internal error), session_notes is empty: say why it stopped.
    early = [] if session_notes or not state.stop_reason else [state.stop_reason]
    return early + session_notes + [report.truncate(n, settings.OUTPUT_LIMIT_CHARS)
                                    for n in state.notes]


def _loader_data(state):
    """What the loader found, as data (the class report lists submissions with nothing usable)."""
    sub = state.submission
    if sub is None:
        return {}
    try:
        return {"loader": {"usable": [str(n) for n in sub.usable],
                           "summary": _submission_summary(state)}}
    except Exception:
        return {}


def _worker_memory(config, state):
    """The worker's memory limit and the peaks its processes reached (MB), for results.json."""
    peaks = {f"peak_{key}_mb": round(kb / 1024, 1) for key, kb in state.worker_peak_kb.items()}
    return {"limit_mb": _option(config, "worker_memory"), **peaks}


def _walls_data(state):
    """{wall: up?} of the workers that ran (the kernel's probe when none did): docs/SECURITY.md."""
    from grader.sandbox import walls
    return walls.walls_data(getattr(state, "walls_down", None))


def _fix_first_data(results):
    """What to fix first, as data, visible checks only (check() shows the first pointer)."""
    from grader.feedback.pointers import fix_first
    return [{"function": fn, "lost": len(items), "pointer": pointer}
            for fn, items, pointer in fix_first(results, visible_only=True)]


def _write_results(config, provisional=False):
    """Write results.json (if asked for); never raises, falls back to a minimal file."""
    state = _state(config)
    if state is None or state.results_path is None:
        return
    # Before the session's end (pytest broke) there are no shown results yet: the recorded ones.
    results = state.shown if state.shown is not None else list(state.results.values())
    elapsed = time.monotonic() - state.start
    try:
        if provisional:
            data = report.fallback_json(0, "Grading started but did not finish; "
                                           "if you see this, tell course staff.")
        else:
            # Students always see `output`: where hidden checks ran, it shows visible points only.
            output = report.visible_summary_output(results, _submission_summary(state),
                                                   _run_notes(state, visible_only=True),
                                                   collected=list(state.items.values()))
            from grader import environment
            if environment.mismatch_note():   # at the top: the numpy is not Gradescope's
                output = f"{environment.mismatch_note()}\n\n{output}"
            data = report.results_json(
                results,
                output=output,
                execution_time=elapsed,
                output_limit=settings.OUTPUT_LIMIT_CHARS,
                extra_data={"submission": str(state.submission_path),
                            "environment": environment.environment_data(),
                            "worker_memory": _worker_memory(config, state),
                            "walls": _walls_data(state),
                            "numpy_notes": sorted(set(state.numpy_notes.values())),
                            "fix_first": _fix_first_data(results),
                            "sections": {key: [round(earned, 4), round(possible, 4)]
                                         for key, _, earned, possible, _
                                         in report.section_rows(results, settings.SECTIONS)},
                            **_loader_data(state)},
            )
        report.write_json_atomic(state.results_path, data)
    except Exception:
        problem = traceback.format_exc()
        try:
            earned = sum(r.earned for r in results)
            report.write_json_atomic(state.results_path, report.fallback_json(
                earned, f"{report.INTERNAL_ERROR} while writing the results; staff have the details.\n"
                        f"{problem}", elapsed))
        except Exception:
            pass
        state.notes.append(f"{report.INTERNAL_ERROR} while writing {state.results_path}:\n{problem}")
    if not provisional:
        state.written = True


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Close the workers and write results.json, whatever stopped the run."""
    state = _state(session.config)
    if state is None:
        return
    for worker in list(state.workers.values()):  # normally closed by the fixture; this covers
        try:                                      # interrupted runs
            worker.close()
        except Exception:
            pass
    state.notes += list(state.numpy_notes)   # once per run, for the table and results.json
    state.session_notes = _session_notes(state, session)
    state.visible_session_notes = _session_notes(state, session, visible_only=True)
    _shown(state)
    _write_results(session.config)


def _shown(state):
    """The recorded results as the table and results.json show them, with the pointers that
    need several results (report.as_shown); computed once, at the end of the session. The
    recorded results and pytest's reports stay as they were recorded."""
    if state.shown is None:
        try:
            state.shown = report.as_shown(list(state.results.values()))
        except Exception:
            state.notes.append(f"{report.INTERNAL_ERROR} while comparing cases:\n"
                               f"{traceback.format_exc()}")
            state.shown = list(state.results.values())
    return state.shown


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the last screen (grader/summary.py): the failures by function, the score table
    (one row per notebook section), the run notes and what to fix first."""
    state = _state(config)
    if state is None:
        return
    results = _shown(state)
    terminalreporter.write_sep("=", "cs260 grade")
    if state.submission is not None or state.submission_error:
        for line in _submission_summary(state).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line("")
    from grader import environment, summary
    notes = [n for n in [environment.mismatch_note(), *_run_notes(state)] if n]
    if state.results_path:
        notes.append(f"results.json written to {state.results_path}")
    for line in summary.last_screen(results, settings.SECTIONS, notes, details=state.compact,
                                    partial=state.partial):
        terminalreporter.write_line(line)


def pytest_unconfigure(config):
    """Write results.json if the session never finished, and undo what pytest_configure changed."""
    state = _state(config)
    if state is None:
        return
    if not state.written:
        _write_results(config)  # the session never finished normally
    plugin = config.pluginmanager.get_plugin(SESSION_HOOKS)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
    if state.sigint_was_ignored and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
