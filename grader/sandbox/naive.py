"""The naive worker's package: the submission's overlay with the package's fast code taken out.

While the naive conv and pool layers are graded (config.NAIVE_SECTIONS), the worker imports
cs260 from a copy of the overlay in which every module of config.NAIVE_STUBBED (the fast layers,
im2col, the compiled im2col_cython, the sandwich layers) is a stub: it imports fine, under the
same names as the real module (so `from cs260.fast_layers import *` or a reference saved at
import time still work), but every function raises FastLayersNotAllowed with one line saying
which function was called. The real code is not in that worker at all: nothing a submission
sets or patches can bring it back. The worker also refuses to import the convolution libraries
of config.NAIVE_BLOCKED_IMPORTS (grader/sandbox/worker.py, --block-import).
"""
import ast
import re
import shutil
from pathlib import Path

from grader import config
from grader.casebuild import CONV_BACKWARD, CONV_FORWARD, POOL_BACKWARD, POOL_FORWARD

NAIVE_FUNCTIONS = tuple(t.rsplit(".", 1)[1]
                        for t in (CONV_FORWARD, CONV_BACKWARD, POOL_FORWARD, POOL_BACKWARD))
# What replaces a stubbed module's files: its sources, the compiled extension and build output.
_STUBBED_SUFFIXES = (".py", ".pyx", ".pxd", ".c", ".so", ".pyd", ".html")

# The stubs' exception (its type name tells the plugin a call was refused: a "naive_rule" failure).
REFUSAL = "FastLayersNotAllowed"
STUB = '''\
"""Stand-in for {module} while the naive layers are graded (written by the grader).

The naive conv and pool layers must be your own code: in this grading worker the package's
fast code is not there. Every name of the real module is defined, and raises when called.
"""
import os as _stub_os
import sys as _stub_sys

_STUB_DIR = _stub_os.path.dirname(_stub_os.path.abspath(__file__))
_STUB_MODULE = {module!r}
_STUB_NAIVE = {naive!r}
_STUB_NAMES = {names!r}
_STUB_RULE = {rule!r}


class {refusal}(RuntimeError):
    """Raised by every function of this stand-in."""


def _stub_caller():
    """The graded function that made the call, else the package function that did (for the
    message only)."""
    frame, first = _stub_sys._getframe(2), None
    for _ in range(200):
        if frame is None:
            break
        name = frame.f_code.co_name
        if name in _STUB_NAIVE:
            return name
        inside = _stub_os.path.abspath(frame.f_code.co_filename).startswith(_STUB_DIR)
        if first is None and inside and not name.startswith("<"):
            first = name
        frame = frame.f_back
    return first or "your code"


def _stub_function(name):
    def unavailable(*args, **kwargs):
        raise {refusal}(f"{{_stub_caller()}} called {{name}}: {{_STUB_RULE}}, not the "
                        f"package's fast layers ({{_STUB_MODULE}} is not available "
                        "while they are graded)")
    unavailable.__name__ = unavailable.__qualname__ = name
    return unavailable


for _stub_name in _STUB_NAMES:
    globals()[_stub_name] = _stub_function(_stub_name)
__all__ = [n for n in _STUB_NAMES if not n.startswith("_")]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _stub_function(name)
'''


def module_names(package, module):
    """Top-level names of cs260.<module> in `package` (a cs260 folder), read from its source
    (.py by ast, .pyx by its def lines) without running it: functions, classes, assignments and
    names imported from elsewhere ([] if there is no source)."""
    py, pyx = Path(package, f"{module}.py"), Path(package, f"{module}.pyx")
    names = []
    if py.is_file():
        for node in ast.parse(py.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.ImportFrom):
                names += [a.asname or a.name for a in node.names if a.name != "*"]
    elif pyx.is_file():
        names = re.findall(r"^(?:cp)?def\s+(\w+)\s*\(", pyx.read_text(encoding="utf-8"), re.M)
    seen = dict.fromkeys(n for n in names if not n.startswith("__") and not n.startswith("_stub"))
    return list(seen)


def stub_source(module, names):
    """Source of the stand-in for cs260.<module> that defines `names`."""
    return STUB.format(module=f"cs260.{module}", naive=NAIVE_FUNCTIONS, names=list(names),
                       rule=config.NAIVE_RULE, refusal=REFUSAL)


def build_naive_overlay(overlay, dest):
    """Copy the overlay folder `overlay` (holding cs260/) to `dest` with every module of
    config.NAIVE_STUBBED replaced by its stand-in; returns dest."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(overlay, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    package = dest / "cs260"
    for module in config.NAIVE_STUBBED:
        names = module_names(package, module)
        for path in package.iterdir():
            if path.name.startswith(module + ".") and path.name.endswith(_STUBBED_SUFFIXES):
                path.unlink()
        (package / f"{module}.py").write_text(stub_source(module, names), encoding="utf-8")
    return dest

# Why the worker refuses config.NAIVE_BLOCKED_IMPORTS (the end of its ImportError message).
IMPORT_REASON = (f"{config.NAIVE_RULE}, not with a convolution library (all of numpy, e.g. "
                 "sliding_window_view, einsum and tensordot, is allowed)")


def worker_options():
    """The client.Worker keyword arguments that make a worker the naive one (with naive_root)."""
    return {"block_imports": config.NAIVE_BLOCKED_IMPORTS, "block_reason": IMPORT_REASON}
