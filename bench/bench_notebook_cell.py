"""The fast layers called plainly, as in a notebook cell right after numpy's own multi-threaded
matrix multiplies, against the same calls as `Solver.train` makes them, in one run.

    python bench/bench_notebook_cell.py [--tree solution] [--repeats N]

Before every timed call a 2-threaded numpy matmul (384x384, not timed) stands for the numpy work
a notebook does between layer calls. "cell": the layer called plainly after it; "Solver": the
same inside `parallel.single_threaded_blas()`, as Solver.train runs its loop (BLAS on one
thread). The last column repeats "cell" in a child process with OPENBLAS_THREAD_TIMEOUT=28
(OpenBLAS's default spin of its idle threads, ~0.1 s; cs260.parallel leaves a value the user
set alone): the thread fight that cs260.parallel removes. Medians; the two settings are
interleaved call by call so that load from other processes hits both alike.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def cases(cs):
    """(label, fn) pairs: each fn does one layer call (or one training step)."""
    from cs260 import fast_layers as fl
    from cs260.classifiers.cnn import ThreeLayerConvNet
    r = np.random.default_rng(0)
    out = []
    for label, xs, ws, stride, pad in [("conv, ThreeLayerConvNet layer", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
                                       ("conv, notebook timing cell", (100, 3, 31, 31), (25, 3, 3, 3), 2, 1)]:
        x, w, b = r.standard_normal(xs), r.standard_normal(ws), r.standard_normal(ws[0])
        cp = {"stride": stride, "pad": pad}
        y, cache = fl.conv_forward_fast(x, w, b, cp)
        dy = r.standard_normal(y.shape)
        out.append((f"{label} fwd float64", lambda x=x, w=w, b=b, cp=cp: fl.conv_forward_fast(x, w, b, cp)))
        out.append((f"{label} bwd float64", lambda dy=dy, cache=cache: fl.conv_backward_fast(dy, cache)))
    x = r.standard_normal((50, 32, 32, 32))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    y, cache = fl.max_pool_forward_fast(x, pp)
    out.append(("max pool, ThreeLayerConvNet fwd float64", lambda: fl.max_pool_forward_fast(x, pp)))
    out.append(("max pool, ThreeLayerConvNet bwd float64", lambda: fl.max_pool_backward_fast(y, cache)))
    np.random.seed(0)
    model = ThreeLayerConvNet(dtype=np.float32)
    X = np.random.randn(50, 3, 32, 32).astype(np.float32)
    labels = np.random.randint(10, size=50)
    out.append(("ThreeLayerConvNet.loss float32, batch 50", lambda: model.loss(X, labels)))
    return out


def run(tree, repeats, settings):
    """{label: {setting: median ms}} for the given settings ("cell", "Solver")."""
    sys.path.insert(0, str(REPO / tree))
    import cs260
    from cs260 import parallel
    a = np.random.default_rng(1).standard_normal((384, 384))
    results = {}
    for label, fn in cases(cs260):
        fn()
        times = {s: [] for s in settings}
        for _ in range(repeats):
            for setting in settings:
                if setting == "Solver":
                    with parallel.single_threaded_blas():
                        a @ a
                        start = time.perf_counter()
                        fn()
                        times[setting].append(time.perf_counter() - start)
                else:
                    a @ a  # two BLAS threads, as numpy uses them outside the Solver
                    start = time.perf_counter()
                    fn()
                    times[setting].append(time.perf_counter() - start)
        results[label] = {s: 1e3 * float(np.median(v)) for s, v in times.items()}
    return results, parallel.thread_count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default="solution")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.tree, args.repeats, ["cell"])[0]))
        return
    results, threads = run(args.tree, args.repeats, ["cell", "Solver"])
    env = dict(os.environ, OPENBLAS_THREAD_TIMEOUT="28")
    child = subprocess.run([sys.executable, __file__, "--child", "--tree", args.tree, "--repeats", str(args.repeats)],
                           capture_output=True, text=True, env=env)
    spin = json.loads(child.stdout) if child.returncode == 0 else {}
    load = os.getloadavg()[0]
    print(f"fast layers in a notebook cell vs in Solver.train ({args.tree}, {threads} threads, "
          f"median of {args.repeats}, load {load:.2f})")
    print("cell: called plainly after a 2-threaded numpy matmul; Solver: inside single_threaded_blas;")
    print("cell / Solver within 1.10 = no thread fight. Last column: cell with OpenBLAS's default spin.\n")
    head = f"{'call':42} {'cell ms':>8} {'Solver ms':>10} {'cell / Solver':>14} {'default-spin cell ms':>21}"
    print(head)
    print("-" * len(head))
    for label, t in results.items():
        old = spin.get(label, {}).get("cell")
        print(f"{label:42} {t['cell']:8.2f} {t['Solver']:10.2f} {t['cell'] / t['Solver']:14.2f} "
              f"{(f'{old:.2f}' if old else '-'):>21}")


if __name__ == "__main__":
    main()
