"""Benchmark of cs260's fast conv / max-pool layers against plain numpy and (if installed) torch.

    python bench/bench_layers.py [--tree solution|starter] [--repeats N] [--no-torch]

Prints one table: time of our layer, of a plain-numpy version, of torch (CPU, measured in a
separate process so its thread pool does not compete with numpy's), the speedups, and for
convolutions the achieved GFLOP/s as a share of the float64 GEMM peak measured in the same run
(a 2048x2048 matmul). Times are medians. `pip install -e ".[bench]"` installs torch.
Numbers are only meaningful on an otherwise idle machine: the run reports how busy it was.
"""
import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

REPO = Path(__file__).resolve().parents[1]

# (label, x shape, w shape, stride, pad)
CONV_CASES = [
    ("notebook timing cell", (100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ("ThreeLayerConvNet conv", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
]
# (label, x shape, pool_height, pool_width, stride)
POOL_CASES = [
    ("notebook timing cell", (100, 3, 32, 32), 2, 2, 2),
    ("ThreeLayerConvNet pool", (50, 32, 32, 32), 2, 2, 2),
    ("overlapping 3x3 s2", (100, 3, 31, 31), 3, 3, 2),
]
DTYPES = ("float64", "float32")


# ---------------------------------------------------------------- timing

def median_time(fn, repeats=None, budget=0.6):
    """Median wall time of fn() in seconds, after two warm-up calls."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    n = repeats or int(min(50, max(7, budget / once)))
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def gemm_peak_gflops(repeats=7):
    a = np.random.default_rng(0).standard_normal((2048, 2048))
    return 2 * 2048**3 / median_time(lambda: a @ a, repeats) / 1e9


def conv_flops(xs, ws, stride, pad):
    N, C, H, W = xs
    F, _, HH, WW = ws
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    return 2 * N * F * Ho * Wo * C * HH * WW


class BusyMeter:
    """CPU time that other processes used while the benchmark ran, as a share of the machine."""

    def __enter__(self):
        self.start = (self._machine_busy(), self._ours(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        busy, ours, wall = self._machine_busy(), self._ours(), time.perf_counter()
        cores = os.cpu_count() or 1
        self.others = max(0.0, (busy - self.start[0]) - (ours - self.start[1])) / ((wall - self.start[2]) * cores)

    @staticmethod
    def _machine_busy():
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            return 0.0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ours():
        return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))


# ---------------------------------------------------------------- plain numpy versions

def numpy_conv_forward(x, w, b, stride, pad):
    """sliding_window_view of the padded input + one tensordot (one GEMM)."""
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)
    return (out + b).transpose(0, 3, 1, 2)


def numpy_conv_backward(dout, x, w, stride, pad):
    """dw by one tensordot over windows; dx by one strided add per kernel offset."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))
    dcols = np.tensordot(dout, w, axes=(1, 0))  # (N, Ho, Wo, C, HH, WW)
    dx_pad = np.zeros_like(x_pad)
    for kh in range(HH):
        for kw in range(WW):
            dx_pad[:, :, kh:kh + stride * Ho:stride, kw:kw + stride * Wo:stride] += \
                dcols[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def numpy_pool_forward(x, ph, pw, stride):
    """Reshape when the windows tile the input, sliding_window_view otherwise; keeps argmax."""
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    if ph == pw == stride and H % ph == 0 and W % pw == 0:
        win = x.reshape(N, C, Ho, ph, Wo, pw).transpose(0, 1, 2, 4, 3, 5)
    else:
        win = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    win = win.reshape(N, C, Ho, Wo, ph * pw)
    k = win.argmax(axis=-1)
    return np.take_along_axis(win, k[..., None], axis=-1)[..., 0], k


def numpy_pool_backward(dout, k, x_shape, ph, pw, stride):
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for a in range(ph):
        for b in range(pw):
            dx[:, :, a:a + stride * Ho:stride, b:b + stride * Wo:stride] += np.where(k == a * pw + b, dout, 0)
    return dx


# ---------------------------------------------------------------- torch (in its own process)

def torch_times(repeats):
    """{key: seconds} for torch's CPU conv2d / max_pool2d forward and backward (run in a child)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    aten = torch.ops.aten
    times = {}
    with torch.no_grad():
        for label, xs, ws, stride, pad in CONV_CASES:
            for dtype in DTYPES:
                r = np.random.default_rng(0)
                x, w, b = (torch.from_numpy(r.standard_normal(s).astype(dtype)) for s in (xs, ws, ws[:1]))
                out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)
                dout = torch.from_numpy(r.standard_normal(tuple(out.shape)).astype(dtype))
                times[f"conv fwd|{label}|{dtype}"] = median_time(
                    lambda: torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad), repeats)
                times[f"conv bwd|{label}|{dtype}"] = median_time(
                    lambda: aten.convolution_backward(dout, x, w, [ws[0]], [stride] * 2, [pad] * 2, [1, 1],
                                                      False, [0, 0], 1, [True, True, True]), repeats)
        for label, xs, ph, pw, stride in POOL_CASES:
            for dtype in DTYPES:
                x = torch.from_numpy(np.random.default_rng(0).standard_normal(xs).astype(dtype))
                out, idx = torch.nn.functional.max_pool2d(x, (ph, pw), stride, return_indices=True)
                dout = torch.ones_like(out)
                times[f"pool fwd|{label}|{dtype}"] = median_time(
                    lambda: torch.nn.functional.max_pool2d(x, (ph, pw), stride), repeats)
                times[f"pool bwd|{label}|{dtype}"] = median_time(
                    lambda: aten.max_pool2d_with_indices_backward(dout, x, [ph, pw], [stride] * 2, [0, 0],
                                                                  [1, 1], False, idx), repeats)
    return times, torch.__version__


def run_torch_child(repeats):
    """torch timings from a child process, or (None, reason) when torch is not importable."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--torch-child"]
    if repeats:
        cmd += ["--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit code {proc.returncode}"
    report = json.loads(proc.stdout)
    return report["times"], f"torch {report['version']}"


# ---------------------------------------------------------------- our layers

def load_fast_layers(tree):
    """<repo>/<tree>/cs260/fast_layers under a private package name (its __init__ is not run)."""
    name = f"_cs260_bench_{tree}"
    root = REPO / tree / "cs260"
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [str(root)]
    sys.modules[name] = package
    return importlib.import_module(f"{name}.fast_layers")


def bench_ours(fl, repeats):
    """Rows of (op, label, shape text, dtype, ours s, numpy s, flops or None)."""
    rows = []
    for label, xs, ws, stride, pad in CONV_CASES:
        for dtype in DTYPES:
            r = np.random.default_rng(0)
            x, w, b = (r.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
            cp = {"stride": stride, "pad": pad}
            out, cache = fl.conv_forward_fast(x, w, b, cp)
            dout = r.standard_normal(out.shape).astype(dtype)
            tol = 1e-8 if dtype == "float64" else 1e-3
            np.testing.assert_allclose(out, numpy_conv_forward(x, w, b, stride, pad), rtol=tol, atol=tol)
            for mine, ref in zip(fl.conv_backward_fast(dout, cache), numpy_conv_backward(dout, x, w, stride, pad)):
                np.testing.assert_allclose(mine, ref, rtol=tol, atol=tol * 10)
            shape = f"x{xs} w{ws} s{stride} p{pad}"
            flops = conv_flops(xs, ws, stride, pad)
            rows.append(("conv fwd", label, shape, dtype,
                         median_time(lambda: fl.conv_forward_fast(x, w, b, cp), repeats),
                         median_time(lambda: numpy_conv_forward(x, w, b, stride, pad), repeats), flops))
            rows.append(("conv bwd", label, shape, dtype,
                         median_time(lambda: fl.conv_backward_fast(dout, cache), repeats),
                         median_time(lambda: numpy_conv_backward(dout, x, w, stride, pad), repeats), 2 * flops))
    for label, xs, ph, pw, stride in POOL_CASES:
        for dtype in DTYPES:
            x = np.random.default_rng(0).standard_normal(xs).astype(dtype)
            pp = {"pool_height": ph, "pool_width": pw, "stride": stride}
            out, cache = fl.max_pool_forward_fast(x, pp)
            ref, k = numpy_pool_forward(x, ph, pw, stride)
            np.testing.assert_array_equal(out, ref)
            dout = np.ones(out.shape, dtype=dtype)
            np.testing.assert_array_equal(fl.max_pool_backward_fast(dout, cache),
                                          numpy_pool_backward(dout, k, xs, ph, pw, stride))
            shape = f"x{xs} {ph}x{pw} s{stride}"
            rows.append(("pool fwd", label, shape, dtype,
                         median_time(lambda: fl.max_pool_forward_fast(x, pp), repeats),
                         median_time(lambda: numpy_pool_forward(x, ph, pw, stride), repeats), None))
            rows.append(("pool bwd", label, shape, dtype,
                         median_time(lambda: fl.max_pool_backward_fast(dout, cache), repeats),
                         median_time(lambda: numpy_pool_backward(dout, k, xs, ph, pw, stride), repeats), None))
    return rows


def print_table(rows, torch_t, peak):
    head = ["op", "case", "shape", "dtype", "ours ms", "numpy ms", "torch ms",
            "x numpy", "x torch", "GFLOP/s", "% peak"]
    lines = []
    for op, label, shape, dtype, ours, plain, flops in rows:
        t = torch_t.get(f"{op}|{label}|{dtype}") if torch_t else None
        gf = flops / ours / 1e9 if flops else None
        lines.append([op, label, shape, dtype, f"{ours * 1e3:.2f}", f"{plain * 1e3:.2f}",
                      f"{t * 1e3:.2f}" if t else "-", f"{plain / ours:.1f}", f"{t / ours:.2f}" if t else "-",
                      f"{gf:.1f}" if gf else "-", f"{100 * gf / peak:.0f}%" if gf and dtype == "float64" else "-"])
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 4 else '>'}{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt.format(*line))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="solution", choices=["solution", "starter"])
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default: adaptive)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        times, version = torch_times(args.repeats)
        print(json.dumps({"times": times, "version": version}))
        return

    fl = load_fast_layers(args.tree)
    with BusyMeter() as meter:
        peak = gemm_peak_gflops()
        rows = bench_ours(fl, args.repeats)
        peak = max(peak, gemm_peak_gflops())  # measured before and after, the better of the two
        torch_t, torch_note = (None, "torch skipped") if args.no_torch else run_torch_child(args.repeats)
    print(f"cs260 fast layers ({args.tree}, kernels: {fl.BACKEND}), numpy {np.__version__}, "
          f"{os.cpu_count()} cores; float64 GEMM peak (2048x2048 matmul): {peak:.1f} GFLOP/s; "
          f"{torch_note if torch_t else 'no torch: ' + torch_note}")
    print("x numpy / x torch: their time divided by ours (higher is better for us); "
          "GFLOP/s: useful convolution flops per second of ours.\n")
    print_table(rows, torch_t, peak)
    if meter.others > 0.1:
        print(f"\nWARNING: other processes used {100 * meter.others:.0f}% of the machine during the run; "
              "the times are not reliable.")


if __name__ == "__main__":
    main()
