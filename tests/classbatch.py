"""A class of submissions (`class_size()` of them, derived from its parts below), graded once per test session by
`grade-all` (tests/conftest.py's `class_batch` fixture): the realistic-bug corpus
(tests/realistic_bugs.py), a few mutants of the catalogue (tests/mutants.py), three correct
submissions (the solution and tests/alt_correct/) and five broken ones (nothing usable, an empty
folder, a syntax error, a hang, a crash).

The folder looks like an unzipped Gradescope export: EXPORT/<submission>/cs260/... . Grading
runs without CIFAR-10 (the training check is skipped), without the overfit check (two thirds of a
grade's time; what the class batch tests read is the diagnoses, the report and the broken
submissions) and with a short worker timeout, so the hanging submission costs seconds, not minutes.
"""
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from grading import OVERFIT_CHECK
from mutants import BY_NAME as MUTANTS, SOLUTION, build_submission, write_submission
from realistic_bugs import CORPUS

TESTS = Path(__file__).resolve().parent
CATALOGUE_PICK = ("conv_dw_stride_bug", "pool_backward_overwrites", "sbn_reshape_without_transpose",
                  "gn_backward_per_channel", "conv_no_bias", "softmax_unstable")
CORRECT = {"correct_solution": SOLUTION.parent, "correct_loops": TESTS / "alt_correct" / "loops",
           "correct_vectorized": TESTS / "alt_correct" / "vectorized"}
# name -> (what it is, layers.py text or None for "use the folder as it is")
HANG = '''
def max_pool_forward_naive(x, pool_param):
    while True:   # never returns
        pass
'''
CRASH = '''
def relu_backward(dout, cache):
    import os
    os._exit(3)   # kills the process running it
'''
NOT_USABLE = ("broken_misnamed", "broken_empty")
BATCH_TIMEOUT = "--worker-timeout=8"


@dataclass
class ClassBatch:
    export: Path
    out: Path
    statuses: dict       # submission -> grade-all status line
    kinds: dict          # submission -> "bug" | "mutant" | "correct" | "broken"


def _splice_layers(dest, patch):
    from mutants import apply_patch
    source = apply_patch((SOLUTION / "layers.py").read_text(), patch)
    return write_submission(dest, {"layers.py": source})


def build_export(export):
    """Write the class's submissions into `export`; returns {submission: kind}."""
    kinds = {}
    for bug in CORPUS:
        build_submission(bug.mutant, export / bug.name)
        kinds[bug.name] = "bug"
    for name in CATALOGUE_PICK:
        build_submission(MUTANTS[name], export / name)
        kinds[name] = "mutant"
    for name, src in CORRECT.items():
        shutil.copytree(src / "cs260", export / name / "cs260",
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
        kinds[name] = "correct"
    misnamed = export / "broken_misnamed"
    misnamed.mkdir(parents=True)
    (misnamed / "my_layers_final.py").write_text((SOLUTION / "layers.py").read_text())
    (export / "broken_empty").mkdir()
    syntax = write_submission(export / "broken_syntax")
    (syntax / "layers.py").write_text((SOLUTION / "layers.py").read_text()
                                      + "\ndef oops(:\n    pass\n")
    _splice_layers(export / "broken_hang", HANG)
    _splice_layers(export / "broken_crash", CRASH)
    for name in ("broken_misnamed", "broken_empty", "broken_syntax", "broken_hang",
                 "broken_crash"):
        kinds[name] = "broken"
    return kinds


def grade_class(root, jobs=2):
    """Build the class under root/export and grade it with grade-all into root/graded."""
    from grader.tools.batch import grade_all
    export, out = root / "export", root / "graded"
    export.mkdir()
    kinds = build_export(export)
    saved = os.environ.pop("CS260_DATA_DIR", None)
    try:
        with open(root / "grade-all.log", "w") as log:
            statuses = grade_all(export, out, jobs=jobs,
                                 pytest_args=[BATCH_TIMEOUT, "--deselect", OVERFIT_CHECK],
                                 stream=log)
    finally:
        if saved is not None:
            os.environ["CS260_DATA_DIR"] = saved
    return ClassBatch(export, out, statuses, kinds)
