"""One ThreeLayerConvNet training step (batch 50, forward + backward of the whole net) against the
same network in torch, float32 and float64, in one run.

    python bench/bench_train_step.py [--tree solution] [--repeats N]

Ours: `ThreeLayerConvNet.loss(X, y)` of the given tree (default sizes: 32 7x7 filters, hidden 100),
called plainly and as `Solver.train` calls it (inside `parallel.single_threaded_blas()`: BLAS on one
thread, the fast layers' threads split the batch).
Torch: conv2d(pad 3) - relu - max_pool2d(2) - linear - relu - linear - cross_entropy, loss.backward()
with the same weights, measured in a child process (its threads do not compete with numpy's).
Needs torch (`pip install -e ".[bench]"`); without it only our times are printed.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BATCH = 50


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def ours(tree, dtype, repeats):
    """(plain, as in Solver.train) median ms of one model.loss call."""
    sys.path.insert(0, str(REPO / tree))
    from cs260 import parallel
    from cs260.classifiers.cnn import ThreeLayerConvNet
    np.random.seed(0)
    model = ThreeLayerConvNet(dtype=dtype)
    X = np.random.randn(BATCH, 3, 32, 32).astype(dtype)
    y = np.random.randint(10, size=BATCH)
    plain = median_ms(lambda: model.loss(X, y), repeats)
    with parallel.single_threaded_blas():
        solver_like = median_ms(lambda: model.loss(X, y), repeats)
    return plain, solver_like


def torch_step(dtype, repeats):
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
    return median_ms(step, repeats), torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default="solution")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--torch-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        print(json.dumps(torch_step(args.torch_child, args.repeats)))
        return
    print(f"ThreeLayerConvNet training step, batch {BATCH}, median of {args.repeats}")
    print("ours: model.loss called plainly / as Solver.train calls it (single_threaded_blas)")
    print(f"{'dtype':8} {'ours ms':>8} {'in Solver':>10} {'torch ms':>9} {'ours / torch':>13} {'in Solver / torch':>18}")
    for dtype in ("float32", "float64"):
        plain, solver_like = ours(args.tree, dtype, args.repeats)
        child = subprocess.run([sys.executable, __file__, "--torch-child", dtype,
                                "--repeats", str(args.repeats)], capture_output=True, text=True)
        if child.returncode == 0:
            theirs, version = json.loads(child.stdout)
            print(f"{dtype:8} {plain:8.1f} {solver_like:10.1f} {theirs:9.1f} {plain / theirs:13.2f} "
                  f"{solver_like / theirs:18.2f}   (torch {version})")
        else:
            print(f"{dtype:8} {plain:8.1f} {solver_like:10.1f} {'-':>9} {'-':>13} {'-':>18}   (torch not available)")

if __name__ == "__main__":
    main()
