"""One ThreeLayerConvNet training step (batch 50, forward + backward of the whole net) against the
same network in torch, float32 and float64, in one run.

    python bench/bench_train_step.py [--tree solution] [--repeats N] [--rounds R]

Ours: `ThreeLayerConvNet.loss(X, y)` of the given tree (default sizes: 32 7x7 filters, hidden 100),
called plainly and as `Solver.train` calls it (inside `parallel.single_threaded_blas()`: BLAS on one
thread, the fast layers' threads split the batch).
Torch: conv2d(pad 3) - relu - max_pool2d(2) - linear - relu - linear - cross_entropy, loss.backward()
with the same weights, measured in a child process (its threads do not compete with numpy's).
Ours (plain, Solver) and torch are measured in turns, R rounds of N steps each, so load from
other processes falls on all alike; medians over all steps of a setting.
Needs torch (`pip install -e ".[bench]"`); without it only our times are printed.
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
BATCH = 50


def times_ms(fn, repeats):
    """Wall times in ms of `repeats` calls of fn()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - start))
    return times


def our_steps(tree, dtype):
    """(plain, as in Solver.train): functions doing one model.loss call each."""
    sys.path.insert(0, str(REPO / tree))
    from cs260 import parallel
    from cs260.classifiers.cnn import ThreeLayerConvNet
    np.random.seed(0)
    model = ThreeLayerConvNet(dtype=dtype)
    X = np.random.randn(BATCH, 3, 32, 32).astype(dtype)
    y = np.random.randint(10, size=BATCH)

    def solver_like():
        with parallel.single_threaded_blas():
            model.loss(X, y)
    return (lambda: model.loss(X, y)), solver_like


def torch_step(dtype):
    """A function doing one torch training step of the same net."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    dt = getattr(torch, dtype)
    w1 = (1e-3 * torch.randn(32, 3, 7, 7, dtype=dt)).requires_grad_()
    b1 = torch.zeros(32, dtype=dt, requires_grad=True)
    w2 = (1e-3 * torch.randn(32 * 16 * 16, 100, dtype=dt)).requires_grad_()
    b2 = torch.zeros(100, dtype=dt, requires_grad=True)
    w3 = (1e-3 * torch.randn(100, 10, dtype=dt)).requires_grad_()
    b3 = torch.zeros(10, dtype=dt, requires_grad=True)
    X = torch.randn(BATCH, 3, 32, 32, dtype=dt)
    y = torch.randint(10, (BATCH,))

    def step():
        for p in (w1, b1, w2, b2, w3, b3):
            p.grad = None
        h = F.max_pool2d(F.relu(F.conv2d(X, w1, b1, padding=3)), 2)
        h = F.relu(h.reshape(BATCH, -1) @ w2 + b2)
        F.cross_entropy(h @ w3 + b3, y).backward()
    return step


def torch_server(repeats):
    """--torch-child: answer each dtype read from stdin with one JSON line of step times (ms)."""
    import torch
    steps = {dtype: torch_step(dtype) for dtype in DTYPES}
    for step in steps.values():
        step()
    print(json.dumps(torch.__version__), flush=True)
    for line in sys.stdin:
        print(json.dumps(times_ms(steps[line.strip()], repeats)), flush=True)


DTYPES = ("float32", "float64")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default="solution")
    parser.add_argument("--repeats", type=int, default=10, help="steps per setting and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        torch_server(args.repeats)
        return
    child = subprocess.Popen([sys.executable, __file__, "--torch-child", "--repeats", str(args.repeats)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = child.stdout.readline()
    version = json.loads(first) if first else None

    def torch_times(dtype):
        if version is None:
            return []
        child.stdin.write(dtype + "\n")
        child.stdin.flush()
        return json.loads(child.stdout.readline())

    rows = []
    for dtype in DTYPES:
        plain, solver_like = our_steps(args.tree, dtype)
        plain(), solver_like()
        got = {"plain": [], "Solver": [], "torch": []}
        for _ in range(args.rounds):
            got["plain"] += times_ms(plain, args.repeats)
            got["Solver"] += times_ms(solver_like, args.repeats)
            got["torch"] += torch_times(dtype)
        rows.append((dtype, *(float(np.median(v)) if v else None for v in got.values())))
    if version is not None:
        child.stdin.close()
    child.wait()
    load = os.getloadavg()
    print(f"ThreeLayerConvNet training step, batch {BATCH}; medians of {args.rounds} rounds x {args.repeats} steps "
          f"per setting, in turns; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("ours: model.loss called plainly / as Solver.train calls it (single_threaded_blas)")
    print(f"{'dtype':8} {'ours ms':>8} {'in Solver':>10} {'torch ms':>9} {'ours / torch':>13} "
          f"{'in Solver / torch':>18}")
    for dtype, mine, solver, theirs in rows:
        if theirs:
            print(f"{dtype:8} {mine:8.1f} {solver:10.1f} {theirs:9.1f} {mine / theirs:13.2f} "
                  f"{solver / theirs:18.2f}   (torch {version})")
        else:
            print(f"{dtype:8} {mine:8.1f} {solver:10.1f} {'-':>9} {'-':>13} {'-':>18}   (torch not available)")


if __name__ == "__main__":
    main()
