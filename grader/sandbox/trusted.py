"""The trusted starter package, for the grader process itself.

The grader never imports the name `cs260` (a student's ./cs260 may be on sys.path). What it
needs from the package (the fast layers) is loaded from the trusted starter copy under the
private package name `_cs260_trusted`.
"""
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

PACKAGE = "_cs260_trusted"
from grader import config  # noqa: E402

REPO = config.REPO


def trusted_starter_root():
    """The trusted starter's cs260 directory: $CS260_TRUSTED_STARTER, <repo>/starter/cs260, or
    (student release) grader/_trusted/cs260."""
    override = os.environ.get("CS260_TRUSTED_STARTER")
    if override:
        return Path(override).resolve()
    repo_copy = REPO / "starter" / "cs260"
    # The student release has no starter/: it ships a pristine copy inside the grader package.
    bundled = config.GRADER_DIR / "_trusted" / "cs260"
    return bundled if not repo_copy.is_dir() and bundled.is_dir() else repo_copy


def _package(root):
    """The `_cs260_trusted` package object, rooted at `root` (its __init__ is not run)."""
    module = sys.modules.get(PACKAGE)
    if module is not None:
        if list(module.__path__) != [str(root)]:
            raise RuntimeError(f"{PACKAGE} is already loaded from {list(module.__path__)}, "
                               f"not {root}")
        return module
    if not (root / "fast_layers.py").is_file():
        raise FileNotFoundError(f"trusted starter package not found at {root} "
                                "(build starter/ or set CS260_TRUSTED_STARTER)")
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [str(root)]
    sys.modules[PACKAGE] = module
    return module


def load(name, root=None):
    """Trusted submodule `name` (e.g. "fast_layers") as `_cs260_trusted.<name>`."""
    _package(Path(root).resolve() if root else trusted_starter_root())
    return importlib.import_module(f"{PACKAGE}.{name}")


def fast_layers():
    """The trusted cs260.fast_layers (it imports .im2col_cython / .im2col relatively)."""
    return load("fast_layers")
