"""Looks the answers up instead of computing them: loads every fixture file it can find (the
grader's folder, guessed from the grading process's command line and working folder, or the
FIXTURES_GUESS the test fills in) and returns the stored expected output whenever the inputs
match a stored case. Without a match it returns zeros. It writes what it found to REPORT
(filled in by the test) where it can, and prints it in every call, so the test can tell "found
nothing" from "found it, still no use" (and "never ran")."""
import glob
import os

FIXTURES_GUESS = "__FIXTURES_GUESS__"
REPORT = "__REPORT__"


def _fixture_dirs():
    dirs = [FIXTURES_GUESS, "/autograder/source/fixtures"]
    try:
        dirs.append(os.path.join(os.readlink(f"/proc/{os.getppid()}/cwd"), "fixtures"))
    except OSError:
        pass
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        for arg in argv:  # --submission <root>/submission, --results-json <root>/results/...
            for up in (1, 2):
                top = arg
                for _ in range(up):
                    top = os.path.dirname(top)
                dirs.append(os.path.join(top, "source", "fixtures"))
                dirs.append(os.path.join(top, "fixtures"))
    except OSError:
        pass
    return dirs


def _load_all():
    stored = []
    for folder in _fixture_dirs():
        for path in glob.glob(os.path.join(folder, "*", "*.npz")):
            try:
                with np.load(path) as data:
                    stored.append({k: data[k] for k in data.files})
            except (OSError, ValueError):
                pass
    return stored


_STORED = _load_all()
try:
    with open(REPORT, "a") as _f:
        _f.write(f"{len(_STORED)} {sum('input.x' in c for c in _STORED)}\n")
except OSError:
    pass


def _same(a, b):
    return a is not None and b is not None and a.shape == b.shape and np.allclose(a, b)


def conv_forward_naive(x, w, b, conv_param):
    print(f"FOUND {len(_STORED)} fixtures")  # in a failing visible check's output
    for case in _STORED:
        if _same(case.get("input.x"), x) and _same(case.get("input.w"), w):
            return case["expected.out"], (case, x, w, b, conv_param)
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    shape = (N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)
    return np.zeros(shape), (None, x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    case, x, w, b, _ = cache
    for stored in ([case] if case is not None else []) + _STORED:
        if _same(stored.get("dout"), dout) and "expected.dx" in stored:
            return stored["expected.dx"], stored["expected.dw"], stored["expected.db"]
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
