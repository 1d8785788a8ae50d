"""Training time of the notebook's one-epoch run (ThreeLayerConvNet, hidden 500, Adam, batch 50),
with the fast layers' threads on and off, in one run.

    python bench/bench_epoch.py [--tree solution] [--iterations 980] [--also OTHER_TREE ...]

Each setting trains in its own process: `Solver.train()` for the given number of iterations
(980 = one epoch of the 49,000 training images), including the accuracy checks the Solver makes.
Uses CIFAR-10 when cs260 finds it (CS260_DATA_DIR), else random images of the same shape.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(tree, iterations):
    """Train in this process; print {"seconds", "iterations", "data", "threads"} as JSON."""
    import numpy as np
    sys.path.insert(0, str(REPO / tree))
    from cs260.classifiers.cnn import ThreeLayerConvNet
    from cs260.data_utils import get_CIFAR10_data
    from cs260.solver import Solver

    try:
        data = get_CIFAR10_data()
        source = "CIFAR-10"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        n = min(49000, iterations * 50)
        data = {"X_train": rng.standard_normal((n, 3, 32, 32), dtype=np.float32),
                "y_train": rng.integers(10, size=n),
                "X_val": rng.standard_normal((1000, 3, 32, 32), dtype=np.float32),
                "y_val": rng.integers(10, size=1000)}
        source = "random images (CIFAR-10 not found)"
    np.random.seed(260)
    model = ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001)
    # num_epochs=1 with a shortened epoch: iterations_per_epoch = num_train // batch_size.
    data["X_train"], data["y_train"] = data["X_train"][:iterations * 50], data["y_train"][:iterations * 50]
    solver = Solver(model, data, num_epochs=1, batch_size=50, update_rule="adam",
                    optim_config={"learning_rate": 1e-3}, verbose=False)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    try:
        from cs260.parallel import thread_count
    except ImportError:  # a tree from before the fast layers used threads
        def thread_count():
            return 1
    print(json.dumps({"seconds": seconds, "iterations": len(solver.loss_history), "data": source,
                      "threads": thread_count(), "train_acc": solver.train_acc_history[-1]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default="solution", help="cs260 tree: solution, starter or a path")
    parser.add_argument("--iterations", type=int, default=980)
    parser.add_argument("--also", action="append", default=[], metavar="TREE",
                        help="another cs260 tree to time in the same run (e.g. an older checkout)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.tree, args.iterations)
        return
    settings = [(f"{args.tree}, threads (default)", args.tree, {}),
                (f"{args.tree}, CS260_THREADS=1", args.tree, {"CS260_THREADS": "1"})]
    settings += [(tree, tree, {}) for tree in args.also]
    rows = []
    for name, tree, env in settings:
        run = subprocess.run([sys.executable, __file__, "--child", "--tree", tree,
                              "--iterations", str(args.iterations)],
                             env={**os.environ, **env}, capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"{name}: failed\n{run.stderr}")
        rows.append((name, json.loads(run.stdout.strip().splitlines()[-1])))
    first = rows[0][1]
    print(f"ThreeLayerConvNet (hidden 500, Adam, batch 50), {first['iterations']} iterations "
          f"on {first['data']}, {os.cpu_count()} cores")
    width = max(len(name) for name, _ in rows)
    print(f"{'setting':{width}} {'threads':>7} {'total s':>8} {'ms / iteration':>15} {'vs default':>11}")
    for name, r in rows:
        print(f"{name:{width}} {r['threads']:7d} {r['seconds']:8.1f} {1e3 * r['seconds'] / r['iterations']:15.1f} "
              f"{r['seconds'] / first['seconds']:10.2f}x")


if __name__ == "__main__":
    main()
