"""The bench/ scripts docs/PERFORMANCE.md quotes still run and print their tables (no timings are
checked: the machines are noisy; this only keeps the commands in the docs working)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args, timeout=300):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bench_layers_prints_every_row():
    out = run("bench/bench_layers.py", "--repeats", "1", "--rounds", "1", "--contenders", "ours,gemm,peak,copy")
    rows = [line for line in out.splitlines() if line.startswith(("conv ", "pool "))]
    assert len(rows) == 20, out
    assert "GEMM peak (2048x2048 float64 matmul, alone)" in out
    bounds = [line for line in out.splitlines() if "forward W @ cols" in line]
    assert len(bounds) == 4 and all("W.T @ dout" in line and "im2col copy" in line for line in bounds), out
    conv = [row.split() for row in rows if row.startswith("conv")]
    assert all(row[-3] != "-" for row in conv), "every conv row has ours / gemm"


def test_bench_layers_check_prints_both_ways():
    out = run("bench/bench_layers.py", "--repeats", "1", "--rounds", "2", "--contenders", "ours,gemm",
              "--only", "conv fwd|notebook timing cell|float64", "--check")
    check = out.split("--check:", 1)[1].splitlines()
    assert [line.split()[-4] for line in check[2:]] == ["ours", "gemm"], out
    assert "Share of the CPUs used by other processes" in out


def test_bench_layers_rejects_an_empty_selection():
    proc = subprocess.run([sys.executable, "bench/bench_layers.py", "--only", "no such case"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "selects no case" in proc.stderr


def test_bench_train_step_prints_both_dtypes():
    out = run("bench/bench_train_step.py", "--repeats", "1")
    assert [line.split()[0] for line in out.splitlines()[-2:]] == ["float32", "float64"], out


def test_bench_epoch_times_every_setting():
    out = run("bench/bench_epoch.py", "--iterations", "3", "--also", "solution", timeout=600)
    rows = [line.split()[0] for line in out.splitlines()[2:]]
    assert rows == ["solution,", "solution,", "solution"], out


def test_bench_notebook_cell_prints_every_call():
    out = run("bench/bench_notebook_cell.py", "--repeats", "1")
    rows = [line for line in out.splitlines() if "float" in line and "ms" not in line]
    assert len(rows) == 7, out
    assert all(row.split()[-1] != "-" for row in rows), "the default-spin child ran"
