"""Fixture files: read them (the checks), regenerate them from solution/ and check them.

    python -m grader.checks.fixtures regen [--dest DIR]   # run solution/ over grader/cases.py
    python -m grader.checks.fixtures check                # committed fixtures == a fresh regeneration

Both cover every case of grader/cases.py, the hidden ones (grader/cases_hidden.py) included
where that file is present; the student release has only the public ones.

A fixture is fixtures/<public|hidden>/<case id>.npz holding "input.<name>" arrays, the upstream
gradient "dout" (backward cases) and "expected.<name>" outputs. fixtures/manifest.json lists every
case (function, params, tolerance, seed, visibility, numpy version, sha256 of its file).
Regeneration runs solution/ through the same loader and worker as a grading run; float32 cases
get their expected values from the float64 copy of their inputs (the exact answer).
"""
import argparse
import hashlib
import io
import json
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.casebuild import FIXTURES, NET_PARAMS
from grader.cases import CASES

from grader import config  # noqa: E402

REPO = config.REPO
MANIFEST = "manifest.json"
REGEN_TOL = 1e-12      # `check`: relative agreement of committed and regenerated values
ZIP_DATE = (1980, 1, 1, 0, 0, 0)   # fixed, so identical arrays give identical files


@dataclass
class Fixture:
    """A case's stored arrays, split by role."""
    inputs: dict
    expected: dict
    dout: object = None


def load_fixture(case, root=None):
    """The fixture of `case` (from `root`, default fixtures/); np.load without pickles."""
    path = (Path(root) / case.visibility / f"{case.id}.npz") if root else case.fixture_path
    if not path.exists():
        raise FileNotFoundError(f"fixture {path} is missing: run `python -m grader.checks.fixtures "
                                f"regen`")
    inputs, expected, dout = {}, {}, None
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            role, _, name = key.partition(".")
            if role == "input":
                inputs[name] = z[key]
            elif role == "expected":
                expected[name] = z[key]
            elif key == "dout":
                dout = z[key]
    return Fixture(inputs, expected, dout)


def write_npz(path, arrays):
    """An .npz np.load reads, with fixed member dates and order (reproducible bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            data = io.BytesIO()
            np.lib.format.write_array(data, np.array(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Regeneration: run the reference over every case
# ----------------------------------------------------------------------------------------------

def exact(inputs, case):
    """Inputs to compute expected values from: float64 copies for float32 cases."""
    if case.dtype == "float64":
        return inputs
    return {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in inputs.items()}


def expected_outputs(worker, case, inputs):
    """Run the reference (in `worker`) on the case: the expected arrays, keyed by name."""
    calc = exact(inputs, case)
    out = {}
    if case.kind == "convnet":
        model = worker.new(case.function, **case.params["model"], seed=0)
        for p in NET_PARAMS:
            worker.setitem(model, "params", p, calc[p])
        out["scores"] = worker.call((model, "loss"), calc["X"])
        loss, grads = worker.call((model, "loss"), calc["X"], calc["y"])
        out["loss"] = np.asarray(loss)
        for p in NET_PARAMS:
            out[f"grad.{p}"] = grads[p]
        return out
    if case.kind == "bn_sequence":
        bn_param = dict(case.params["bn_param"])
        for x in calc["x_train"]:
            (_, _), after = worker.call(case.function, x, calc["gamma"], calc["beta"], bn_param,
                                        return_args=True)
            bn_param = after[3]
        for key in ("running_mean", "running_var"):
            out[f"state.{key}"] = bn_param[key]
        bn_param["mode"] = "test"
        out["out"], _ = worker.call(case.function, calc["x"], calc["gamma"], calc["beta"],
                                    bn_param)
        return out
    args = case.call_args(calc)
    if case.kind == "loss":
        loss, dx = worker.call(case.function, *args)
        out["loss"], out["dx"] = np.asarray(loss), dx
        return out
    result = worker.call(case.function, *args, return_args=bool(case.state))
    if case.state:
        result, after = result
        name, keys = case.state
        for key in keys:
            out[f"state.{key}"] = after[case.args.index(name)][key]
    out["out"], cache = result
    if case.backward:
        grads = worker.call(case.backward, calc["dout"], cache)
        grads = grads if len(case.grads) > 1 else (grads,)
        for g, value in zip(case.grads, grads):
            out[f"d{g}"] = value
    return out


def regen(dest=FIXTURES, solution=REPO / "solution", cases=CASES, log=print):
    """Write every case's fixture and the manifest into `dest`; returns the manifest."""
    from grader.sandbox.client import Worker
    from grader.sandbox.loader import load_submission
    dest = Path(dest)
    manifest = {"numpy": np.__version__, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="cs260-regen-") as tmp:
        sub = load_submission(solution, tmp)
        if sub.problems:
            raise RuntimeError(f"solution not usable: {sub.summary()}")
        with Worker(sub.root, timeout=120) as worker:
            for case in cases:
                inputs = case.inputs()
                expected = expected_outputs(worker, case, inputs)
                arrays = {f"input.{k}": v for k, v in inputs.items() if k != "dout"}
                if "dout" in inputs:
                    arrays["dout"] = inputs["dout"]
                arrays.update({f"expected.{k}": np.asarray(v) for k, v in expected.items()})
                rel = f"{case.visibility}/{case.id}.npz"
                digest = write_npz(dest / rel, arrays)
                manifest["cases"][case.id] = {**case.manifest(), "numpy": np.__version__,
                                              "file": rel, "sha256": digest}
                log(f"  {rel}")
    (dest / MANIFEST).write_text(manifest_text(manifest))
    return manifest


def manifest_text(manifest):
    """The manifest as fixtures/manifest.json holds it."""
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def public_manifest_text(committed=FIXTURES):
    """The committed manifest without its hidden cases (what the student release ships)."""
    manifest = json.loads((Path(committed) / MANIFEST).read_text())
    manifest["cases"] = {cid: entry for cid, entry in manifest["cases"].items()
                         if entry.get("visibility") != "hidden"}
    return manifest_text(manifest)


# ----------------------------------------------------------------------------------------------
# Check: committed fixtures against a fresh regeneration
# ----------------------------------------------------------------------------------------------

def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def compare_dirs(committed, fresh, cases=CASES):
    """Differences between two fixture folders (empty list: they agree)."""
    committed, fresh = Path(committed), Path(fresh)
    problems = []
    try:
        old = json.loads((committed / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [f"{committed / MANIFEST}: {e}"]
    new = json.loads((fresh / MANIFEST).read_text())
    ignore = {"sha256", "numpy"}   # may differ across numpy/BLAS builds; values are compared
    for case in cases:
        a, b = old["cases"].get(case.id), new["cases"][case.id]
        if a is None:
            problems.append(f"{case.id}: not in the committed manifest")
            continue
        if {k: v for k, v in a.items() if k not in ignore} != \
                {k: v for k, v in b.items() if k not in ignore}:
            problems.append(f"{case.id}: manifest entry differs")
        path = committed / a["file"]
        if not path.exists():
            if case.visibility == "hidden":
                continue   # the student release leaves hidden fixtures out
            problems.append(f"{case.id}: {path} missing")
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != a["sha256"]:
            problems.append(f"{case.id}: {path} does not match its sha256 in the manifest")
        x, y = _arrays(path), _arrays(fresh / b["file"])
        if set(x) != set(y):
            problems.append(f"{case.id}: arrays {sorted(x)} != {sorted(y)}")
            continue
        for k in x:
            if x[k].shape != y[k].shape or x[k].dtype != y[k].dtype:
                problems.append(f"{case.id}: {k} is {x[k].dtype}{x[k].shape}, regenerated "
                                f"{y[k].dtype}{y[k].shape}")
            elif not np.allclose(x[k], y[k], rtol=REGEN_TOL,
                                 atol=REGEN_TOL * max(1.0, float(np.max(np.abs(y[k]), initial=0)))):
                problems.append(f"{case.id}: {k} differs from the regenerated values")
    # Without grader/cases_hidden.py (the student release) the hidden cases are not checked.
    no_hidden = not any(c.visibility == "hidden" for c in cases)
    extra = {cid for cid in set(old["cases"]) - {c.id for c in cases}
             if not (no_hidden and old["cases"][cid].get("visibility") == "hidden")}
    problems += [f"{cid}: in the manifest but not in grader/cases.py" for cid in sorted(extra)]
    known = {f"{c.visibility}/{c.id}.npz" for c in cases}
    for path in sorted(committed.glob("*/*.npz")):
        rel = path.relative_to(committed).as_posix()
        if rel not in known and not (no_hidden and rel.startswith("hidden/")):
            problems.append(f"{path}: not a case of grader/cases.py")
    return problems


def check(committed=FIXTURES, solution=REPO / "solution", log=print):
    """Regenerate into a temporary folder and compare; returns the list of differences."""
    with tempfile.TemporaryDirectory(prefix="cs260-fixtures-") as tmp:
        regen(tmp, solution, log=lambda *_: None)
        problems = compare_dirs(committed, tmp)
    for p in problems:
        log(p)
    return problems


def main(argv=None):
    """`python -m grader fixtures regen|check`; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m grader.checks.fixtures",
                                     description="Regenerate or check the grader's fixtures.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("regen", help="run solution/ over grader/cases.py, write fixtures/")
    r.add_argument("--dest", default=str(FIXTURES))
    c = sub.add_parser("check", help="committed fixtures == a fresh regeneration")
    for command in (r, c):
        command.add_argument("--solution", default=str(REPO / "solution"))
    args = parser.parse_args(argv)
    if args.command == "regen":
        manifest = regen(args.dest, args.solution)
        print(f"wrote {len(manifest['cases'])} fixtures to {args.dest}")
        return 0
    problems = check(solution=args.solution)
    print("fixtures are up to date" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
