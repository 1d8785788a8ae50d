"""Benchmark of cs260's fast conv / max-pool layers against plain numpy and (if installed) torch.

    python bench/bench_layers.py [--tree solution|starter] [--repeats N] [--rounds R] [--only TEXT] [--no-torch]

Prints one table: time of our layer, of a plain-numpy version, of torch (CPU, in a separate
process so its thread pool does not compete with numpy's), the speedups, and for convolutions
the achieved GFLOP/s as a share of the float64 GEMM peak (a 2048x2048 matmul). Ours, torch and
the peak are measured in turns, R rounds per case, so that load from other processes falls on
all of them alike; times are medians. Then the bounds: memory bandwidth and one-thread BLAS
rates for each convolution's own matrix shapes. `pip install -e ".[bench]"` installs torch.
A measurement taken while other processes used the CPUs is retried, and marked * if it never
ran quiet.
"""
import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import math
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


SETTINGS = {"attempts": 4, "only": ""}  # set from --attempts, --only


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


def selected(cases, op):
    """The cases whose "op label" contains --only (all by default)."""
    return [case for case in cases if SETTINGS["only"] in f"{op} {case[0]}"]


PEAK_FLOPS = 2 * 2048**3  # the float64 GEMM peak: a 2048x2048 matmul on all cores


def gemm_peak_time():
    """(median seconds, quiet) of the 2048x2048 float64 matmul."""
    a = np.random.default_rng(0).standard_normal((2048, 2048))
    return measure(lambda: a @ a, repeats=5)


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

def torch_calls(torch):
    """{key: fn}: torch's CPU conv2d / max_pool2d forward and backward for every selected case."""
    aten = torch.ops.aten
    calls = {}
    for label, xs, ws, stride, pad in selected(CONV_CASES, "conv"):
        for dtype in DTYPES:
            r = np.random.default_rng(0)
            x, w, b = (torch.from_numpy(r.standard_normal(s).astype(dtype)) for s in (xs, ws, ws[:1]))
            out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)
            dout = torch.from_numpy(r.standard_normal(tuple(out.shape)).astype(dtype))
            calls[f"conv fwd|{label}|{dtype}"] = (
                lambda x=x, w=w, b=b, s=stride, p=pad: torch.nn.functional.conv2d(x, w, b, stride=s, padding=p))
            calls[f"conv bwd|{label}|{dtype}"] = (
                lambda dout=dout, x=x, w=w, f=ws[0], s=stride, p=pad: aten.convolution_backward(
                    dout, x, w, [f], [s] * 2, [p] * 2, [1, 1], False, [0, 0], 1, [True, True, True]))
    for label, xs, ph, pw, stride in selected(POOL_CASES, "pool"):
        for dtype in DTYPES:
            x = torch.from_numpy(np.random.default_rng(0).standard_normal(xs).astype(dtype))
            out, idx = torch.nn.functional.max_pool2d(x, (ph, pw), stride, return_indices=True)
            dout = torch.ones_like(out)
            calls[f"pool fwd|{label}|{dtype}"] = (
                lambda x=x, k=(ph, pw), s=stride: torch.nn.functional.max_pool2d(x, k, s))
            calls[f"pool bwd|{label}|{dtype}"] = (
                lambda dout=dout, x=x, k=[ph, pw], s=stride, idx=idx: aten.max_pool2d_with_indices_backward(
                    dout, x, k, [s] * 2, [0, 0], [1, 1], False, idx))
    return calls


def torch_server(repeats):
    """--torch-child: answer each key read from stdin with one JSON line [seconds, quiet]."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    torch.set_grad_enabled(False)
    calls = torch_calls(torch)
    print(json.dumps(torch.__version__), flush=True)
    for line in sys.stdin:
        print(json.dumps(measure(calls[line.strip()], repeats)), flush=True)


class TorchChild:
    """torch timed in a child process (its threads never run beside ours), one case at a time
    when asked, so that its measurements can alternate with ours."""

    def __init__(self, repeats):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--torch-child", "--only", SETTINGS["only"],
               "--attempts", str(SETTINGS["attempts"])]
        if repeats:
            cmd += ["--repeats", str(repeats)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if first:
            self.note = f"torch {json.loads(first)}"
        else:
            lines = self.proc.stderr.read().strip().splitlines()
            self.note = "no torch: " + (lines[-1] if lines else f"exit code {self.proc.wait()}")
            self.proc = None

    def time(self, key):
        """(seconds, quiet) of torch's call for key, or None without torch."""
        if self.proc is None:
            return None
        self.proc.stdin.write(key + "\n")
        self.proc.stdin.flush()
        return tuple(json.loads(self.proc.stdout.readline()))

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


class NoTorch:
    note = "torch skipped"

    def time(self, key):
        return None

    def close(self):
        pass


def in_turns(fns, rounds):
    """Each fn() (returning (seconds, quiet) or None) called `rounds` times in turn, so load from
    other processes falls on all alike; per fn the median of its rounds (quiet if all were)."""
    results = [[] for _ in fns]
    for _ in range(rounds):
        for fn, got in zip(fns, results):
            got.append(fn())
    return [(float(np.median([g[0] for g in got])), all(g[1] for g in got)) if got[0] else None
            for got in results]


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


def bench_ours(fl, repeats, torch_child, rounds):
    """Rows of (op, label, shape text, dtype, ours, fallback, numpy, torch, flops or None, peak or
    None); each time is a (seconds, quiet) pair. fallback: our layers on the pure-numpy kernels (no
    Cython build). ours, torch and (for convolutions) the GEMM peak are measured in turns."""
    slow = importlib.import_module(fl.__name__.rsplit(".", 1)[0] + ".im2col")
    rows = []
    for label, xs, ws, stride, pad in selected(CONV_CASES, "conv"):
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
            for op, fn, work in (("conv fwd", lambda: fl.conv_forward_fast(x, w, b, cp), flops),
                                 ("conv bwd", lambda: fl.conv_backward_fast(dout, cache), 2 * flops)):
                ours, theirs, peak = in_turns([lambda: measure(fn, repeats),
                                               lambda: torch_child.time(f"{op}|{label}|{dtype}"),
                                               gemm_peak_time], rounds)
                if op == "conv fwd":
                    fallback = measure(lambda: fl._conv_forward(x, w, b, cp, slow), repeats)
                    plain = measure(lambda: numpy_conv_forward(x, w, b, stride, pad), repeats)
                else:
                    fallback = measure(lambda: fl.conv_backward_fast(dout, slow_cache), repeats)
                    plain = measure(lambda: numpy_conv_backward(dout, x, w, stride, pad), repeats)
                rows.append((op, label, shape, dtype, ours, fallback, plain, theirs, work,
                             PEAK_FLOPS / peak[0] / 1e9))
    for label, xs, ph, pw, stride in selected(POOL_CASES, "pool"):
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
            for op, fn, fallback_fn, plain_fn in (
                    ("pool fwd", lambda: fl.max_pool_forward_fast(x, pp), lambda: fl._max_pool_forward(x, pp, slow),
                     lambda: numpy_pool_forward(x, ph, pw, stride)),
                    ("pool bwd", lambda: fl.max_pool_backward_fast(dout, cache),
                     lambda: fl.max_pool_backward_fast(dout, slow_cache),
                     lambda: numpy_pool_backward(dout, k, xs, ph, pw, stride))):
                ours, theirs = in_turns([lambda: measure(fn, repeats),
                                         lambda: torch_child.time(f"{op}|{label}|{dtype}")], rounds)
                rows.append((op, label, shape, dtype, ours, measure(fallback_fn, repeats),
                             measure(plain_fn, repeats), theirs, None, None))
    return rows


def print_bounds(rounds, repeats):
    """What bounds a convolution here: memory bandwidth (a numpy copy) and the rate of BLAS on one
    thread for the layer's own matrix shapes (the GEMMs of im2col), float64, each case."""
    import threadpoolctl

    big = np.ones(1 << 23)  # 64 MB: far beyond the caches
    dst = np.empty_like(big)
    copy = in_turns([lambda: measure(lambda: np.copyto(dst, big), repeats or 5)], rounds)[0][0]
    gbs = 2 * big.nbytes / copy / 1e9  # read + write
    print(f"\nBounds (float64, same run): memory bandwidth {gbs:.1f} GB/s (copy of 64 MB, one thread, read + write).")
    for label, xs, ws, stride, pad in selected(CONV_CASES, "conv"):
        N, F, K = xs[0], ws[0], ws[1] * ws[2] * ws[3] + 1
        P = math.prod(_conv_out_hw(xs, ws, stride, pad))
        r = np.random.default_rng(0)
        wb, cols, d = r.standard_normal((F, K)), r.standard_normal((N, K, P)), r.standard_normal((N, F, P))
        out, dcols = np.empty((N, F, P)), np.empty((N, K, P))
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            fwd = in_turns([lambda: measure(lambda: np.matmul(wb, cols, out=out), repeats)], rounds)[0][0]
            dw = in_turns([lambda: measure(lambda: np.matmul(cols, d.transpose(0, 2, 1)), repeats)], rounds)[0][0]
            dx = in_turns([lambda: measure(lambda: np.matmul(wb.T, d, out=dcols), repeats)], rounds)[0][0]
        flops = 2 * N * F * K * P
        out_ms = 1e3 * N * F * P * 8 / gbs / 1e9
        print(f"  {label}: one-thread GEMM {flops / fwd / 1e9:.1f} GFLOP/s forward, {flops / dw / 1e9:.1f} (dw) and "
              f"{flops / dx / 1e9:.1f} (dx) backward, so the GEMMs alone take >= {1e3 * fwd / 2:.2f} ms forward and "
              f">= {1e3 * (dw + dx) / 2:.2f} ms backward on 2 cores; writing the output alone >= {out_ms:.2f} ms "
              "at that bandwidth (one thread)")


def print_table(rows):
    """The result table; a time marked * was measured while other processes were busy."""
    def ms(entry):
        return f"{entry[0] * 1e3:.2f}{'' if entry[1] else '*'}" if entry else "-"

    head = ["op", "case", "shape", "dtype", "ours ms", "fallback ms", "numpy ms", "torch ms",
            "x numpy", "x torch", "GFLOP/s", "% peak"]
    lines = []
    for op, label, shape, dtype, ours, fallback, plain, t, flops, peak in rows:
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
    noisy = [r for r in rows if not all(entry[1] for entry in r[4:8] if entry)]
    if noisy:
        print("\n* measured while other processes kept the CPUs busy (retried, never quiet): unreliable")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="solution", choices=["solution", "starter"])
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default: adaptive)")
    parser.add_argument("--attempts", type=int, default=SETTINGS["attempts"],
                        help="measurements of one case while the machine is busy before giving up")
    parser.add_argument("--only", default="", help='only the cases whose "op label" contains this, e.g. "conv notebook"')
    parser.add_argument("--rounds", type=int, default=3, help="turns of ours / torch / GEMM peak per case")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    SETTINGS["attempts"] = args.attempts
    SETTINGS["only"] = args.only
    if args.torch_child:
        torch_server(args.repeats)
        return

    fl = load_fast_layers(args.tree)
    torch_child = NoTorch() if args.no_torch else TorchChild(args.repeats)
    try:
        rows = bench_ours(fl, args.repeats, torch_child, args.rounds)
    finally:
        torch_child.close()
    peaks = [row[-1] for row in rows if row[-1]]
    load = os.getloadavg()
    print(f"cs260 fast layers ({args.tree}, kernels: {fl.BACKEND}), numpy {np.__version__}, "
          f"{os.cpu_count()} cores; float64 GEMM peak (2048x2048 matmul): "
          f"{min(peaks, default=0):.1f}-{max(peaks, default=0):.1f} GFLOP/s; {torch_child.note}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"Median times over {args.rounds} rounds; in each round ours, torch and (for convolutions) the\n"
          "GEMM peak are measured in turn, so load from other processes falls on all alike.\n"
          "ours: fast_layers with the Cython kernels; fallback: the same with the numpy kernels\n"
          "(im2col.py); numpy: plain numpy (sliding_window_view + one matmul; reshape for pools).\n"
          "x numpy, x torch: their time divided by ours (above 1: ours is faster); GFLOP/s: convolution\n"
          "flops per second of ours, and as % of the GEMM peak measured in the same rounds.\n")
    print_table(rows)
    print_bounds(args.rounds, args.repeats)


if __name__ == "__main__":
    main()
