"""Benchmark of cs260's fast conv / max-pool layers against plain numpy and (if installed) torch.

    python bench/bench_layers.py [--tree solution|starter] [--repeats N] [--no-torch]

Prints one table: time of our layer, of a plain-numpy version, of torch (CPU, measured in a
separate process so its thread pool does not compete with numpy's), the speedups, and for
convolutions the achieved GFLOP/s as a share of the float64 GEMM peak measured in the same run
(a 2048x2048 matmul). Times are medians. `pip install -e ".[bench]"` installs torch.
Numbers are only meaningful on an otherwise idle machine: a measurement taken while other
processes used the CPUs is retried, and marked * if it never ran quiet.
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

def median_time(fn, repeats=None, budget=0.3):
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


class BusyMeter:
    """Share of the machine's CPU time that other processes used inside the `with` block.

    /proc/stat gives the whole machine's busy time; our own (all threads, children) is subtracted.
    """

    def __enter__(self):
        self.start = (self._machine_busy(), self._ours(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        busy, ours, wall = self._machine_busy(), self._ours(), time.perf_counter()
        cores = os.cpu_count() or 1
        theirs = (busy - self.start[0]) - (ours - self.start[1])
        self.others = max(0.0, theirs) / ((wall - self.start[2]) * cores)

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
        usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(u.ru_utime + u.ru_stime for u in usages)


SETTINGS = {"attempts": 4}  # set from --attempts


def measure(fn, repeats=None, attempts=None):
    """(median seconds, quiet): re-measured after a pause while other processes kept the CPUs
    busy (more than 10% of the machine), up to `attempts` times; quiet is False if they always did."""
    attempts = attempts or SETTINGS["attempts"]
    for attempt in range(attempts):
        with BusyMeter() as meter:
            seconds = median_time(fn, repeats)
        if meter.others <= 0.1:
            return seconds, True
        if attempt + 1 < attempts:
            time.sleep(1 + attempt)
    return seconds, False


def gemm_peak_gflops():
    a = np.random.default_rng(0).standard_normal((2048, 2048))
    seconds, quiet = measure(lambda: a @ a, repeats=7)
    return 2 * 2048**3 / seconds / 1e9, quiet


def _conv_out_hw(xs, ws, stride, pad):
    return (xs[2] + 2 * pad - ws[2]) // stride + 1, (xs[3] + 2 * pad - ws[3]) // stride + 1


def conv_flops(xs, ws, stride, pad):
    """Multiply-adds of the convolution, times 2."""
    Ho, Wo = _conv_out_hw(xs, ws, stride, pad)
    return 2 * xs[0] * ws[0] * Ho * Wo * ws[1] * ws[2] * ws[3]


# ---------------------------------------------------------------- plain numpy versions

def numpy_im2col(x, HH, WW, stride, pad):
    """(C*HH*WW, N*Ho*Wo) matrix of receptive fields, from a sliding_window_view of the padded x."""
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(x.shape[1] * HH * WW, -1)


def numpy_conv_forward(x, w, b, stride, pad):
    """Plain numpy im2col: sliding_window_view + one matmul for the whole batch."""
    N = x.shape[0]
    F, _, HH, WW = w.shape
    out = w.reshape(F, -1) @ numpy_im2col(x, HH, WW, stride, pad) + b[:, None]  # (F, N*Ho*Wo)
    return out.reshape(F, N, -1).transpose(1, 0, 2).reshape(N, F, *_conv_out_hw(x.shape, w.shape, stride, pad))


def numpy_conv_backward(dout, x, w, stride, pad):
    """One matmul each for dw and the column gradients; dx by one strided add per kernel offset."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*Ho*Wo)
    dw = (d @ numpy_im2col(x, HH, WW, stride, pad).T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ d).reshape(C, HH, WW, N, Ho, Wo)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    for kh in range(HH):
        for kw in range(WW):
            dx_pad[:, :, kh:kh + stride * Ho:stride, kw:kw + stride * Wo:stride] += \
                dcols[:, kh, kw].transpose(1, 0, 2, 3)
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
    """{key: (seconds, quiet)} for torch's CPU conv2d / max_pool2d forward and backward (in a child)."""
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
                times[f"conv fwd|{label}|{dtype}"] = measure(
                    lambda: torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad), repeats)
                times[f"conv bwd|{label}|{dtype}"] = measure(
                    lambda: aten.convolution_backward(dout, x, w, [ws[0]], [stride] * 2, [pad] * 2, [1, 1],
                                                      False, [0, 0], 1, [True, True, True]), repeats)
        for label, xs, ph, pw, stride in POOL_CASES:
            for dtype in DTYPES:
                x = torch.from_numpy(np.random.default_rng(0).standard_normal(xs).astype(dtype))
                out, idx = torch.nn.functional.max_pool2d(x, (ph, pw), stride, return_indices=True)
                dout = torch.ones_like(out)
                times[f"pool fwd|{label}|{dtype}"] = measure(
                    lambda: torch.nn.functional.max_pool2d(x, (ph, pw), stride), repeats)
                times[f"pool bwd|{label}|{dtype}"] = measure(
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
    return {k: tuple(v) for k, v in report["times"].items()}, f"torch {report['version']}"


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
    """Rows of (op, label, shape text, dtype, ours, fallback, numpy, flops or None); each time is
    a (seconds, quiet) pair. fallback: our layers on the pure-numpy kernels (no Cython build)."""
    slow = importlib.import_module(fl.__name__.rsplit(".", 1)[0] + ".im2col")
    rows = []
    for label, xs, ws, stride, pad in CONV_CASES:
        for dtype in DTYPES:
            r = np.random.default_rng(0)
            x, w, b = (r.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
            cp = {"stride": stride, "pad": pad}
            out, cache = fl.conv_forward_fast(x, w, b, cp)
            _, slow_cache = fl._conv_forward(x, w, b, cp, slow)
            dout = r.standard_normal(out.shape).astype(dtype)
            tol = 1e-8 if dtype == "float64" else 1e-3
            np.testing.assert_allclose(out, numpy_conv_forward(x, w, b, stride, pad), rtol=tol, atol=tol)
            for mine, ref in zip(fl.conv_backward_fast(dout, cache), numpy_conv_backward(dout, x, w, stride, pad)):
                np.testing.assert_allclose(mine, ref, rtol=tol, atol=tol * 10)
            shape = f"x{xs} w{ws} s{stride} p{pad}"
            flops = conv_flops(xs, ws, stride, pad)
            rows.append(("conv fwd", label, shape, dtype,
                         measure(lambda: fl.conv_forward_fast(x, w, b, cp), repeats),
                         measure(lambda: fl._conv_forward(x, w, b, cp, slow), repeats),
                         measure(lambda: numpy_conv_forward(x, w, b, stride, pad), repeats), flops))
            rows.append(("conv bwd", label, shape, dtype,
                         measure(lambda: fl.conv_backward_fast(dout, cache), repeats),
                         measure(lambda: fl.conv_backward_fast(dout, slow_cache), repeats),
                         measure(lambda: numpy_conv_backward(dout, x, w, stride, pad), repeats), 2 * flops))
    for label, xs, ph, pw, stride in POOL_CASES:
        for dtype in DTYPES:
            x = np.random.default_rng(0).standard_normal(xs).astype(dtype)
            pp = {"pool_height": ph, "pool_width": pw, "stride": stride}
            out, cache = fl.max_pool_forward_fast(x, pp)
            _, slow_cache = fl._max_pool_forward(x, pp, slow)
            ref, k = numpy_pool_forward(x, ph, pw, stride)
            np.testing.assert_array_equal(out, ref)
            dout = np.ones(out.shape, dtype=dtype)
            np.testing.assert_array_equal(fl.max_pool_backward_fast(dout, cache),
                                          numpy_pool_backward(dout, k, xs, ph, pw, stride))
            shape = f"x{xs} {ph}x{pw} s{stride}"
            rows.append(("pool fwd", label, shape, dtype,
                         measure(lambda: fl.max_pool_forward_fast(x, pp), repeats),
                         measure(lambda: fl._max_pool_forward(x, pp, slow), repeats),
                         measure(lambda: numpy_pool_forward(x, ph, pw, stride), repeats), None))
            rows.append(("pool bwd", label, shape, dtype,
                         measure(lambda: fl.max_pool_backward_fast(dout, cache), repeats),
                         measure(lambda: fl.max_pool_backward_fast(dout, slow_cache), repeats),
                         measure(lambda: numpy_pool_backward(dout, k, xs, ph, pw, stride), repeats), None))
    return rows


def print_table(rows, torch_t, peak):
    """The result table; a time marked * was measured while other processes were busy."""
    def ms(entry):
        return f"{entry[0] * 1e3:.2f}{'' if entry[1] else '*'}" if entry else "-"

    head = ["op", "case", "shape", "dtype", "ours ms", "fallback ms", "numpy ms", "torch ms",
            "x numpy", "x torch", "GFLOP/s", "% peak"]
    lines = []
    for op, label, shape, dtype, ours, fallback, plain, flops in rows:
        t = torch_t.get(f"{op}|{label}|{dtype}") if torch_t else None
        gf = flops / ours[0] / 1e9 if flops else None
        lines.append([op, label, shape, dtype, ms(ours), ms(fallback), ms(plain), ms(t),
                      f"{plain[0] / ours[0]:.1f}",
                      f"{t[0] / ours[0]:.2f}" if t else "-", f"{gf:.1f}" if gf else "-",
                      f"{100 * gf / peak:.0f}%" if gf and dtype == "float64" else "-"])
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 4 else '>'}{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt.format(*line))
    noisy = [r for r in rows if not all(entry[1] for entry in r[4:7])]
    noisy += [k for k, v in (torch_t or {}).items() if not v[1]]
    if noisy:
        print("\n* measured while other processes kept the CPUs busy (retried, never quiet): unreliable")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="solution", choices=["solution", "starter"])
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default: adaptive)")
    parser.add_argument("--attempts", type=int, default=SETTINGS["attempts"],
                        help="measurements of one case while the machine is busy before giving up")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    SETTINGS["attempts"] = args.attempts
    if args.torch_child:
        times, version = torch_times(args.repeats)
        print(json.dumps({"times": times, "version": version}))
        return

    fl = load_fast_layers(args.tree)
    peak, peak_quiet = gemm_peak_gflops()
    rows = bench_ours(fl, args.repeats)
    peak = max(peak, gemm_peak_gflops()[0])  # measured before and after; the better of the two
    torch_t, torch_note = (None, "torch skipped") if args.no_torch else run_torch_child(args.repeats)
    print(f"cs260 fast layers ({args.tree}, kernels: {fl.BACKEND}), numpy {np.__version__}, "
          f"{os.cpu_count()} cores; float64 GEMM peak (2048x2048 matmul): {peak:.1f} GFLOP/s"
          f"{'' if peak_quiet else ' (busy machine)'}; {torch_note if torch_t else 'no torch: ' + torch_note}")
    print("Median times. ours: fast_layers with the Cython kernels; fallback: the same with the numpy\n"
          "kernels (im2col.py); numpy: plain numpy (sliding_window_view + one matmul; reshape for pools).\n"
          "x numpy, x torch: their time divided by ours (above 1: ours is faster); GFLOP/s: convolution\n"
          "flops per second of ours, and as % of the GEMM peak.\n")
    print_table(rows, torch_t, peak)


if __name__ == "__main__":
    main()
