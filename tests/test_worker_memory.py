"""The worker's memory limit cannot fail correct code: the training check of a correct submission,
run while two other gradings load the machine, never loses points, and its worker's peak stays
below the limit (grader/config.py WORKER_MEMORY_MB; margins in docs/ENVIRONMENT.md).

Slow (one CIFAR-10 training check per round, with two full gradings beside it):
`pytest tests/test_worker_memory.py -m slow`; CS260_SOAK_RUNS sets the rounds (default 3; the
closing measurement of docs/ENVIRONMENT.md used 20).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import config
from grader.checks import data
from grading import grade

REPO = Path(__file__).resolve().parents[1]
CORRECT = REPO / "tests" / "alt_correct" / "loops"   # the correct submission with the largest peak
LOAD = REPO / "tests" / "alt_correct" / "vectorized"

pytestmark = [pytest.mark.slow, pytest.mark.cifar]


def _load():
    """A full grading of a correct submission, in the background."""
    return subprocess.Popen([sys.executable, "-m", "pytest", "grader", f"--submission={LOAD}",
                             "-q", "-p", "no:cacheprovider"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_training_check_under_load_never_loses_points():
    if data.cifar_dir() is None:
        pytest.skip("needs CIFAR-10 (CS260_DATA_DIR): the training check is what peaks")
    rounds = int(os.environ.get("CS260_SOAK_RUNS", "3"))
    peaks = []
    for i in range(rounds):
        load = [_load(), _load()]
        try:
            run = grade(CORRECT, extra_args=["-k", "convnet"])
        finally:
            for proc in load:
                proc.wait(timeout=900)
        results = run.results
        lost = [t["name"] for t in results["tests"] if t["score"] < t["max_score"] - 1e-9]
        assert not lost, f"round {i + 1} of {rounds}: {lost}\n{run.stdout[-2000:]}"
        assert any("held-out accuracy" in t.get("output", "").lower() for t in results["tests"])
        memory = results["extra_data"]["worker_memory"]
        peaks.append(memory["peak_virtual_mb"])
        assert memory["peak_virtual_mb"] < config.WORKER_MEMORY_MB
    print(f"{rounds} rounds under load, none lost points; worker peak virtual "
          f"{min(peaks):.1f}-{max(peaks):.1f} MB of {config.WORKER_MEMORY_MB} MB")
