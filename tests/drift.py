"""Drift check: the same submissions graded in two environments must get the same points.

    python tests/drift.py build DEST
    python tests/drift.py grade DEST PYTHON TREE OUT     # PYTHON -m pytest grader, cwd TREE
    python tests/drift.py compare OUT_A OUT_B [--names A B]

CI's gradescope leg (.ci/run) grades the submissions below with the main leg's install and with
Gradescope's (Python 3.10 + grader/pins.txt) and compares them check by check: any difference
fails the leg and names the check and both scores (docs/ENVIRONMENT.md). The submissions are
the solution with single functions replaced (tests/mutants.py splices them in): correct code
written the way real code often is (int() of a one-element array, which numpy deprecated and
newer numpy rejects) and broken code.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutants  # noqa: E402

# The first maximum of each pooling window, found with np.nonzero; its row and column come back
# as one-element arrays and int() turns them into indices (a DeprecationWarning on numpy 2.2,
# a TypeError from numpy 2.4).
INT_OF_ONE_ELEMENT_ARRAY = '''
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    rows, cols = np.nonzero(window == window.max())
                    r, q = int(rows[:1]), int(cols[:1])
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx
'''

# softmax_loss whose loss is a (1, 1) array made a float by float() (keepdims left on).
FLOAT_OF_KEPT_DIMS = '''
def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    picked = log_probs[np.arange(N), y].reshape(1, N)
    loss = -float(np.sum(picked, axis=1, keepdims=True)) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N
'''

# name -> {student file: {function or Class.method: replacement code}} ({}: the solution).
SUBMISSIONS = {
    "solution": {},
    "int_of_one_element_array": {"layers.py": {"max_pool_backward_naive": INT_OF_ONE_ELEMENT_ARRAY}},
    "float_of_kept_dims": {"layers.py": {"softmax_loss": FLOAT_OF_KEPT_DIMS}},
}
# Broken ones, from the mutant catalogue (each loses points in its own checks).
BROKEN = ("conv_no_bias", "pool_backward_overwrites")


def build(dest):
    """Write every drift submission as dest/<name>/cs260/...; returns {name: path}."""
    dest = Path(dest)
    made = {}
    for name, files in SUBMISSIONS.items():
        sources = {}
        for rel, replaced in files.items():
            source = (mutants.SOLUTION / _file(rel)).read_text()
            for target, code in replaced.items():
                source = mutants.splice(source, target, code)
            sources[_file(rel)] = source
        made[name] = mutants.write_submission(dest / name, sources)
    catalogue = {m.name: m for m in mutants.CATALOGUE}
    for name in BROKEN:
        made[name] = mutants.build_submission(catalogue[name], dest / name)
    return made


def _file(rel):
    return "classifiers/cnn.py" if rel == "cnn.py" else rel


def grade(dest, python, tree, out):
    """Grade every submission in dest with `python -m pytest grader` run in `tree`; the
    results.json files go to out/<name>.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in sorted(Path(dest).iterdir()):
        target = out / f"{sub.name}.json"
        proc = subprocess.run([python, "-m", "pytest", "grader", f"--submission={sub / 'cs260'}",
                               f"--results-json={target}", "-q", "-p", "no:cacheprovider"],
                              cwd=tree, capture_output=True, text=True, timeout=900)
        print(f"{sub.name}: exit {proc.returncode}, "
              f"{_scores(target)['total'] if target.is_file() else 'no results.json'}")


def _scores(path):
    """{"total": score, test name: score} of a results.json."""
    data = json.loads(Path(path).read_text())
    scores = {"total": round(float(data.get("score", 0)), 4)}
    for test in data.get("tests", []):
        scores[test.get("name", "?")] = round(float(test.get("score", 0)), 4)
    return scores


def differences(dir_a, dir_b):
    """Lines naming each submission and check whose points differ between two grade() outputs."""
    lines = []
    names = sorted({p.name for p in Path(dir_a).glob("*.json")} |
                   {p.name for p in Path(dir_b).glob("*.json")})
    for name in names:
        a, b = Path(dir_a, name), Path(dir_b, name)
        if not (a.is_file() and b.is_file()):
            lines.append(f"{name[:-5]}: graded in only one environment")
            continue
        sa, sb = _scores(a), _scores(b)
        for check in sorted(set(sa) | set(sb), key=lambda c: (c != "total", c)):
            if abs(sa.get(check, -1) - sb.get(check, -1)) > 1e-6:
                lines.append(f"{name[:-5]}: {check}: {sa.get(check, 'absent')} vs "
                             f"{sb.get(check, 'absent')}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").add_argument("dest")
    g = sub.add_parser("grade")
    for arg in ("dest", "python", "tree", "out"):
        g.add_argument(arg)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--names", nargs=2, default=("A", "B"))
    args = parser.parse_args(argv)
    if args.cmd == "build":
        print("\n".join(f"{name}: {path}" for name, path in build(args.dest).items()))
        return 0
    if args.cmd == "grade":
        grade(args.dest, args.python, args.tree, args.out)
        return 0
    diff = differences(args.a, args.b)
    a, b = args.names
    if diff:
        print(f"DRIFT: the same submissions got different points ({a} vs {b}):")
        print("\n".join(f"  {line}" for line in diff))
        return 1
    n = len(list(Path(args.a).glob("*.json")))
    print(f"no drift: {n} submissions got the same points, check by check, in {a} and {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
