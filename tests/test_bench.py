"""The bench/ scripts the README quotes still run and print their tables (no timings are checked:
the machines are noisy; this only keeps the commands in the README working)."""
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
    out = run("bench/bench_layers.py", "--repeats", "1", "--attempts", "1", "--no-torch")
    rows = [line for line in out.splitlines() if line.startswith(("conv ", "pool "))]
    assert len(rows) == 20, out
    assert "GEMM peak" in out


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
