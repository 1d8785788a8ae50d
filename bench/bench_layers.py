"""Benchmark of cs260's fast conv / max-pool layers: each contender timed alone in its own process.

    python bench/bench_layers.py [--tree solution|starter] [--only TEXT] [--rounds R] [--repeats N]
                                 [--contenders ours,torch,gemm,peak,copy] [--also fallback,numpy]
    python bench/bench_layers.py --check --only "conv fwd|ThreeLayerConvNet conv|float64"

Contenders, each measured by a fresh child process that times every selected case and exits:
  ours      the tree's fast layers (Cython kernels);
  torch     torch's CPU conv2d / max_pool2d and their backward (2 threads);
  gemm      the conv layer's own matrix multiplies, each one 2-threaded numpy matmul of the layer's
            shapes: forward W (F x C*HH*WW) @ cols (C*HH*WW x N*Ho*Wo); backward dout @ cols.T (dw)
            plus W.T @ dout (dx). An im2col layer cannot be faster than these;
  peak      a 2048x2048 float64 matmul (the machine's GEMM peak);
  copy      a 64 MB copy on one thread (memory bandwidth, read + write);
  fallback  (--also) our layers on the pure-numpy kernels im2col.py;
  numpy     (--also) plain numpy: sliding_window_view + one matmul, reshape for pools.
Only one child is alive at a time, and the parent does no numeric work while it runs. The children
run in turns for R rounds, the order rotated each round, so load from other processes falls on all
alike; a time is the median over the rounds of each child's median of N calls.

--check reruns the selected cases the plain way as well: one process per contender, once each, in a
row (ours, torch, gemm, peak), medians of N calls, and prints those times beside the rounds' ones.
`pip install -e ".[bench]"` installs torch. See docs/PERFORMANCE.md.
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
CONTENDERS = ("ours", "torch", "gemm", "peak", "copy", "fallback", "numpy")
DEFAULT_CONTENDERS = "ours,torch,gemm,peak,copy"
PEAK_FLOPS = 2 * 2048**3
COPY_BYTES = 1 << 26  # 64 MB: far beyond the caches
BUSY_LIMIT = 0.05  # share of the CPUs other processes may use before a table is flagged


# ---------------------------------------------------------------- case keys (no numpy needed)

def conv_out_hw(xs, ws, stride, pad):
    """(Ho, Wo) of a convolution."""
    return (xs[2] + 2 * pad - ws[2]) // stride + 1, (xs[3] + 2 * pad - ws[3]) // stride + 1


def conv_flops(xs, ws, stride, pad):
    """Multiply-adds of the convolution's forward pass, times 2."""
    return 2 * xs[0] * ws[0] * math.prod(conv_out_hw(xs, ws, stride, pad)) * ws[1] * ws[2] * ws[3]


def case_keys(only):
    """Every selected "op|label|dtype" key with its case tuple, in table order."""
    keys = []
    for kind, cases in (("conv", CONV_CASES), ("pool", POOL_CASES)):
        for case in cases:
            for dtype in DTYPES:
                for op in ("fwd", "bwd"):
                    key = f"{kind} {op}|{case[0]}|{dtype}"
                    if only in key or only in f"{kind} {case[0]}":
                        keys.append((key, case))
    return keys


# ---------------------------------------------------------------- children: one contender each

def call_times(fn, repeats):
    """(median, fastest) wall time of fn() in seconds over `repeats` calls, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def conv_inputs(np, case, dtype):
    """(x, w, b, dout) of a conv case, the same numbers for every contender."""
    _, xs, ws, stride, pad = case
    r = np.random.default_rng(0)
    x, w, b = (r.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
    dout = r.standard_normal((xs[0], ws[0], *conv_out_hw(xs, ws, stride, pad))).astype(dtype)
    return x, w, b, dout


def ours_calls(np, keys, tree, kernels):
    """{key: fn} of the tree's fast layers with the Cython kernels ("cython") or the numpy ones."""
    sys.path.insert(0, str(REPO / tree))
    from cs260 import fast_layers as fl
    if kernels == "cython" and fl.BACKEND != "cython":
        raise SystemExit("the Cython extension is not built: pip install -e .")
    if kernels == "cython":
        mod = fl._kernels
    else:
        from cs260 import im2col as mod
    calls = {}
    for key, case in keys:
        op, _, dtype = key.split("|")
        if op.startswith("conv"):
            x, w, b, dout = conv_inputs(np, case, dtype)
            cp = {"stride": case[3], "pad": case[4]}
            _, cache = fl._conv_forward(x, w, b, cp, mod)
            calls[key] = ((lambda x=x, w=w, b=b, cp=cp: fl._conv_forward(x, w, b, cp, mod)) if op == "conv fwd"
                          else (lambda d=dout, cache=cache: fl.conv_backward_fast(d, cache)))
        else:
            x = np.random.default_rng(0).standard_normal(case[1]).astype(dtype)
            pp = {"pool_height": case[2], "pool_width": case[3], "stride": case[4]}
            out, cache = fl._max_pool_forward(x, pp, mod)
            calls[key] = ((lambda x=x, pp=pp: fl._max_pool_forward(x, pp, mod)) if op == "pool fwd"
                          else (lambda d=np.ones(out.shape, dtype=dtype), cache=cache:
                                fl.max_pool_backward_fast(d, cache)))
    return calls


def torch_calls(np, keys):
    """{key: fn}: torch's CPU conv2d / max_pool2d forward and backward, on all cores."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    torch.set_grad_enabled(False)
    aten = torch.ops.aten
    calls = {}
    for key, case in keys:
        op, _, dtype = key.split("|")
        if op.startswith("conv"):
            _, _, ws, s, p = case
            x, w, b, dout = (torch.from_numpy(a) for a in conv_inputs(np, case, dtype))
            if op == "conv fwd":
                calls[key] = lambda x=x, w=w, b=b, s=s, p=p: torch.nn.functional.conv2d(x, w, b, stride=s, padding=p)
            else:
                calls[key] = lambda d=dout, x=x, w=w, f=ws[0], s=s, p=p: aten.convolution_backward(
                    d, x, w, [f], [s] * 2, [p] * 2, [1, 1], False, [0, 0], 1, [True, True, True])
        else:
            _, xs, ph, pw, s = case
            x = torch.from_numpy(np.random.default_rng(0).standard_normal(xs).astype(dtype))
            out, idx = torch.nn.functional.max_pool2d(x, (ph, pw), s, return_indices=True)
            if op == "pool fwd":
                calls[key] = lambda x=x, k=(ph, pw), s=s: torch.nn.functional.max_pool2d(x, k, s)
            else:
                calls[key] = lambda d=torch.ones_like(out), x=x, k=[ph, pw], s=s, idx=idx: \
                    aten.max_pool2d_with_indices_backward(d, x, k, [s] * 2, [0, 0], [1, 1], False, idx)
    return calls, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def gemm_calls(np, keys):
    """{key: fn} for conv keys: the layer's own GEMMs as 2-threaded matmuls (backward: dw + dx,
    with "|dw" and "|dx" keys for each alone)."""
    calls = {}
    for key, case in keys:
        op, _, dtype = key.split("|")
        if not op.startswith("conv"):
            continue
        _, xs, ws, s, p = case
        F, K, NP = ws[0], ws[1] * ws[2] * ws[3], xs[0] * math.prod(conv_out_hw(xs, ws, s, p))
        r = np.random.default_rng(0)
        w, cols, d = (r.standard_normal(shape).astype(dtype) for shape in ((F, K), (K, NP), (F, NP)))
        if op == "conv fwd":
            out = np.empty((F, NP), dtype=dtype)
            calls[key] = lambda w=w, cols=cols, out=out: np.matmul(w, cols, out=out)
        else:
            dw, dcols = np.empty((F, K), dtype=dtype), np.empty((K, NP), dtype=dtype)
            calls[key + "|dw"] = lambda d=d, cols=cols, dw=dw: np.matmul(d, cols.T, out=dw)
            calls[key + "|dx"] = lambda d=d, w=w, dcols=dcols: np.matmul(w.T, d, out=dcols)
    return calls


def numpy_calls(np, keys):
    """{key: fn} of the plain-numpy versions (bench/plain_numpy.py)."""
    import plain_numpy as pn
    calls = {}
    for key, case in keys:
        op, _, dtype = key.split("|")
        if op.startswith("conv"):
            x, w, b, dout = conv_inputs(np, case, dtype)
            s, p = case[3], case[4]
            calls[key] = ((lambda x=x, w=w, b=b, s=s, p=p: pn.conv_forward(x, w, b, s, p)) if op == "conv fwd"
                          else (lambda d=dout, x=x, w=w, s=s, p=p: pn.conv_backward(d, x, w, s, p)))
        else:
            _, xs, ph, pw, s = case
            x = np.random.default_rng(0).standard_normal(xs).astype(dtype)
            out, k = pn.pool_forward(x, ph, pw, s)
            calls[key] = ((lambda x=x, ph=ph, pw=pw, s=s: pn.pool_forward(x, ph, pw, s)) if op == "pool fwd"
                          else (lambda d=np.ones_like(out), k=k, xs=xs, ph=ph, pw=pw, s=s:
                                pn.pool_backward(d, k, xs, ph, pw, s)))
    return calls


def child(contender, tree, only, repeats):
    """--child: time every selected case of one contender; print one JSON line {key: seconds}."""
    import numpy as np
    keys = case_keys(only)
    note = ""
    if contender == "ours":
        calls = ours_calls(np, keys, tree, "cython")
    elif contender == "fallback":
        calls = ours_calls(np, keys, tree, "numpy")
    elif contender == "torch":
        calls, note = torch_calls(np, keys)
    elif contender == "gemm":
        calls = gemm_calls(np, keys)
    elif contender == "numpy":
        calls = numpy_calls(np, keys)
    elif contender == "peak":
        a = np.random.default_rng(0).standard_normal((2048, 2048))
        calls = {"peak": lambda: a @ a}
    else:  # copy
        src = np.ones(COPY_BYTES // 8)
        dst = np.empty_like(src)
        calls = {"copy": lambda: np.copyto(dst, src)}
    got = {key: call_times(fn, 5 if key in ("peak", "copy") else repeats) for key, fn in calls.items()}
    times = {}
    for i, stat in enumerate(("median", "min")):
        times[stat] = {key: pair[i] for key, pair in got.items()}
        for key in [k for k in got if k.endswith("|dw")]:
            times[stat][key[:-3]] = times[stat][key] + times[stat][key[:-3] + "|dx"]
    print(json.dumps({"note": note, "times": times}))


# ---------------------------------------------------------------- parent: no numpy while children run

def machine_busy_seconds():
    """CPU seconds the whole machine has been busy (all processes), from /proc/stat; 0 elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except OSError:
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


OTHERS = {}  # contender: [share of the machine other processes used while its child ran]


def run_child(contender, args):
    """{key: seconds} from one fresh child process (and its note), or None if it failed; records
    in OTHERS the share of the CPUs that processes other than the child (and --load's) used."""
    start = (machine_busy_seconds(), children_cpu_seconds(), time.perf_counter())
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", contender, "--tree", args.tree,
           "--only", args.only, "--repeats", str(args.repeats)]
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO / "bench")})
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    busy, ours, wall = machine_busy_seconds(), children_cpu_seconds(), time.perf_counter()
    others = max(0.0, (busy - start[0]) - (ours - start[1])) / ((wall - start[2]) * (os.cpu_count() or 1))
    OTHERS.setdefault(contender, []).append(others)
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        return None, f"{contender} failed: {lines[-1] if lines else proc.returncode}"
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got["times"][args.stat], got["note"]


def in_rounds(contenders, args):
    """{contender: [times of each round]}: the children run in turns, one alive at a time, the
    order rotated by one each round."""
    results = {c: [] for c in contenders}
    notes = {}
    for r in range(args.rounds):
        k = r % len(contenders)
        for contender in contenders[k:] + contenders[:k]:
            times, note = run_child(contender, args)
            notes[contender] = note
            if times is not None:
                results[contender].append(times)
    return results, notes


def median_of(rounds, key):
    """Median over rounds of one key's time, or None."""
    values = [t[key] for t in rounds if key in t]
    return statistics.median(values) if values else None


def spread(mine, theirs, key):
    """(min, max) over rounds of theirs / mine for one key (rounds paired by index)."""
    ratios = [t[key] / m[key] for m, t in zip(mine, theirs) if key in m and key in t]
    return (min(ratios), max(ratios)) if ratios else None


def fmt_ms(seconds):
    return f"{seconds * 1e3:.2f}" if seconds is not None else "-"


def print_table(results, args):
    """The result table: medians over the rounds, ratios, bounds."""
    ours = results.get("ours", [])
    peak = median_of(results.get("peak", []), "peak")
    copy = median_of(results.get("copy", []), "copy")
    gbs = 2 * COPY_BYTES / copy / 1e9 if copy else None
    head = ["op", "case", "dtype", "ours ms", "torch ms", "x torch", "(rounds)", "gemm ms", "ours/gemm",
            "copy ms", "GFLOP/s", "% peak"]
    extra = [c for c in ("fallback", "numpy") if c in results]
    head[5:5] = [f"{c} ms" for c in extra]
    lines = []
    for key, case in case_keys(args.only):
        op, label, dtype = key.split("|")
        mine, theirs = median_of(ours, key), median_of(results.get("torch", []), key)
        gemm = median_of(results.get("gemm", []), key)
        rng = spread(ours, results.get("torch", []), key)
        size = 4 if dtype == "float32" else 8
        if op.startswith("conv"):
            _, xs, ws, s, p = case
            io = (math.prod(xs) + xs[0] * ws[0] * math.prod(conv_out_hw(xs, ws, s, p))) * size
            flops = conv_flops(*case[1:]) * (1 if op == "conv fwd" else 2)
        else:
            _, xs, ph, pw, s = case
            io = math.prod(xs) * size * (1 + 1 / (ph * pw) * 2)  # x + out + argmax (or dout + argmax + dx)
            flops = None
        gf = flops / mine / 1e9 if flops and mine else None
        line = [op, label, dtype, fmt_ms(mine), fmt_ms(theirs),
                f"{theirs / mine:.2f}" if mine and theirs else "-",
                f"{rng[0]:.2f}-{rng[1]:.2f}" if rng else "-",
                fmt_ms(gemm), f"{mine / gemm:.2f}" if mine and gemm else "-",
                f"{1e3 * io / gbs / 1e9:.2f}" if gbs else "-",
                f"{gf:.1f}" if gf else "-",
                f"{100 * gf / (PEAK_FLOPS / peak / 1e9):.0f}%" if gf and peak and dtype == "float64" else "-"]
        line[5:5] = [fmt_ms(median_of(results[c], key)) for c in extra]
        lines.append(line)
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt.format(*line))
    print(f"\nGEMM peak (2048x2048 float64 matmul, alone): "
          f"{PEAK_FLOPS / peak / 1e9:.1f} GFLOP/s" if peak else "\nGEMM peak: not measured", end="; ")
    print(f"memory bandwidth (64 MB copy, one thread, read + write): {gbs:.1f} GB/s" if gbs
          else "bandwidth: not measured")
    print_gemm_bounds(results.get("gemm", []), ours, args, gbs)


def print_gemm_bounds(gemm, ours, args, gbs):
    """Per conv case: the layer's own GEMMs, each alone, and the im2col copy at the bandwidth."""
    if not gemm:
        return
    print("Bounds of each conv case (float64 and float32): its GEMMs, each one 2-threaded matmul measured alone,")
    print("and the im2col copy (columns written once and read once) at the measured bandwidth:")
    done = set()
    for key, case in case_keys(args.only):
        op, label, dtype = key.split("|")
        if not op.startswith("conv") or (label, dtype) in done:
            continue
        done.add((label, dtype))
        fwd_key, bwd_key = f"conv fwd|{label}|{dtype}", f"conv bwd|{label}|{dtype}"
        _, xs, ws, s, p = case
        cols = ws[1] * ws[2] * ws[3] * xs[0] * math.prod(conv_out_hw(xs, ws, s, p)) * (4 if dtype == "float32" else 8)
        parts = []
        if median_of(gemm, fwd_key) is not None:
            parts.append(f"forward W @ cols {fmt_ms(median_of(gemm, fwd_key))} ms")
        if median_of(gemm, bwd_key) is not None:
            parts.append(f"backward dout @ cols.T {fmt_ms(median_of(gemm, bwd_key + '|dw'))} ms"
                         f" + W.T @ dout {fmt_ms(median_of(gemm, bwd_key + '|dx'))} ms")
        if gbs:
            parts.append(f"im2col copy of {cols / 1e6:.0f} MB >= {1e3 * 2 * cols / gbs / 1e9:.2f} ms")
        print(f"  {label}, {dtype}: " + "; ".join(parts))


def print_check(plain, results, args):
    """The --check table: each contender once in a row (plain) beside the rounds' medians."""
    print("\n--check: the same cases the plain way (one process per contender, once each, in a row)")
    head = ["key", "contender", "plain ms", "rounds ms", "plain / rounds"]
    rows = []
    for contender, times in plain.items():
        for key in sorted(times or {}):
            mine = median_of(results.get(contender, []), key)
            rows.append([key, contender, fmt_ms(times[key]), fmt_ms(mine),
                         f"{times[key] / mine:.2f}" if mine else "-"])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    for row in rows:
        print(fmt.format(*row))


def load_text():
    load = os.getloadavg()
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default="solution", choices=["solution", "starter"])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per child and case (median)")
    parser.add_argument("--rounds", type=int, default=5, help="turns of every contender's child")
    parser.add_argument("--only", default="", help='cases whose "op|label|dtype" or "kind label" contain this')
    parser.add_argument("--contenders", default=DEFAULT_CONTENDERS, help="comma-separated, of " + ",".join(CONTENDERS))
    parser.add_argument("--also", default="", help="contenders added to --contenders, e.g. fallback,numpy")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    parser.add_argument("--stat", default="median", choices=["median", "min"],
                        help="per child and case: the median of the calls (default) or the fastest call")
    parser.add_argument("--check", action="store_true", help="also run the plain way and print both")
    parser.add_argument("--load", type=int, default=0,
                        help="keep this many busy-loop processes running beside every child (load sensitivity)")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tree, args.only, args.repeats)
        return
    contenders = [c for c in (args.contenders + "," + args.also).split(",") if c]
    if args.no_torch and "torch" in contenders:
        contenders.remove("torch")
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}")
    if not case_keys(args.only):
        parser.error(f"--only {args.only!r} selects no case")
    start_load, start = load_text(), time.strftime("%H:%M UTC", time.gmtime())
    plain = {}
    if args.check:  # the plain way first: each contender once, in a row
        for contender in [c for c in ("ours", "torch", "gemm", "peak") if c in contenders]:
            plain[contender] = run_child(contender, args)[0]
    results, notes = in_rounds(contenders, args)
    print(f"cs260 fast layers ({args.tree}), {os.cpu_count()} cores, {start}; {start_load} at the start, "
          f"{'%d busy-loop processes beside every child; ' % args.load if args.load else ''}"
          f"{load_text()} at the end; {'; '.join(n for n in notes.values() if n)}")
    print(f"Each contender in its own fresh process, alone; {args.rounds} rounds, order rotated; per process "
          f"the {args.stat} of {args.repeats} calls, then the median over the rounds.\nx torch: torch's time / "
          "ours (above 1: ours is faster), (rounds): its range over the rounds; gemm: the layer's own "
          "GEMMs\n(2-threaded matmuls, alone); copy: x and the output (pools: and the argmax) at the "
          "measured bandwidth.\n")
    print_table(results, args)
    print("\nShare of the CPUs used by other processes while each contender's children ran (max over rounds): "
          + ", ".join(f"{c} {100 * max(v):.0f}%" for c, v in OTHERS.items()))
    if max((max(v) for v in OTHERS.values()), default=0) > BUSY_LIMIT:
        print(f"WARNING: above {100 * BUSY_LIMIT:.0f}%: other processes slow the 2-threaded contenders "
              "(torch, the GEMMs, the peak) far more than ours,\nso x torch and ours/gemm come out too favourable "
              "(docs/PERFORMANCE.md).")
    if args.check:
        print_check(plain, results, args)


if __name__ == "__main__":
    main()
