"""Every grading setting in one place: sections, check weights, tolerances, limits, visibility.

Checks look their weight up here (via `check_meta`); docs/GRADING.md's weights table is this table.
"""
from dataclasses import dataclass
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent   # the grader package
REPO = GRADER_DIR.parent                        # the project (or the unpacked bundle or zip)


@dataclass(frozen=True)
class Section:
    key: str      # used in check ids and tags
    number: str   # notebook section, sorts Gradescope's list
    title: str


# In the notebook's order, which is the order to fix things in: the checks run in this order
# (grader/plugin.py sorts them), and the numbers and titles are the notebook's headings.
SECTIONS = [
    Section("prereq", "0", "Prerequisites (from the earlier homework)"),
    Section("conv_forward", "2", "Convolution: naive forward pass"),
    Section("conv_backward", "3", "Convolution: naive backward pass"),
    Section("pool_forward", "4", "Max pooling: naive forward pass"),
    Section("pool_backward", "5", "Max pooling: naive backward pass"),
    Section("fast", "6", "Fast layers"),
    Section("sandwich", "7", "Convolutional sandwich layers"),
    Section("convnet", "8", "A three-layer convolutional network"),
    Section("sbn_forward", "9.1", "Spatial batch normalization: forward pass"),
    Section("sbn_backward", "9.2", "Spatial batch normalization: backward pass"),
    Section("sgn_forward", "10.1", "Spatial group normalization: forward pass"),
    Section("sgn_backward", "10.2", "Spatial group normalization: backward pass"),
]

# The names students know, for `pytest grader -k NAME` and `check(NAME)`: every graded function
# (the first tag of its checks, grader/cases.py `check`) selects exactly its checks; these short
# forms select the graded functions they stand for (matched whole, case-insensitively).
SHORT_NAMES = {
    "conv_forward": ("conv_forward_naive",),
    "conv_backward": ("conv_backward_naive",),
    "max_pool_forward": ("max_pool_forward_naive",),
    "pool_forward": ("max_pool_forward_naive",),
    "max_pool_backward": ("max_pool_backward_naive",),
    "pool_backward": ("max_pool_backward_naive",),
    "max_pool": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "affine": ("affine_forward", "affine_backward"),
    "relu": ("relu_forward", "relu_backward"),
    "softmax": ("softmax_loss",),
    "batchnorm": ("batchnorm_forward", "batchnorm_backward"),
    "prereq": ("affine_forward", "affine_backward", "relu_forward", "relu_backward",
               "softmax_loss", "batchnorm_forward", "batchnorm_backward"),
    "conv_relu": ("conv_relu_forward",),
    "conv_relu_pool": ("conv_relu_pool_forward",),
    "sandwich": ("conv_relu_forward", "conv_relu_pool_forward"),
    "spatial_batchnorm": ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    "spatial_groupnorm": ("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
    "convnet": ("ThreeLayerConvNet",),
    "cnn": ("ThreeLayerConvNet",),
    "three_layer_convnet": ("ThreeLayerConvNet",),
}

# Points of each section; the checks inside a section split them (see CHECKS). Sum: 100.
SECTION_POINTS = {
    "prereq": 10,
    "conv_forward": 14,
    "conv_backward": 13,
    "pool_forward": 7,
    "pool_backward": 7,
    "fast": 6,
    "sandwich": 5,
    "convnet": 17,
    "sbn_forward": 6,
    "sbn_backward": 5,
    "sgn_forward": 5,
    "sgn_backward": 5,
}

assert sum(SECTION_POINTS.values()) == 100


# ---------------------------------------------------------------------------
# Submission loading and the student-code worker (grader/sandbox/loader.py, grader/sandbox/worker.py,
# grader/sandbox/client.py). The worker limits apply to the one process that runs student code.
# ---------------------------------------------------------------------------

# The only files a student edits: name in the submission -> place in the cs260 package.
STUDENT_FILES = {"layers.py": "cs260/layers.py", "cnn.py": "cs260/classifiers/cnn.py"}

STUDENT_FILE_MAX_BYTES = 1_000_000        # one student .py file
SUBMISSION_MAX_BYTES = 50 * 2**20         # total uncompressed size of a submitted .zip
SUBMISSION_MAX_FILES = 2000               # entries in a .zip / files scanned in a folder

WORKER_TIMEOUT_S = 30.0                   # default deadline of one request to the worker
# After a function times out once, later calls to it get this much shorter deadline, and after a
# second timeout it is not run again: one hanging function must not eat the whole grading budget.
RETRY_TIMEOUT_S = 5.0
WORKER_START_TIMEOUT_S = 60.0             # spawning the worker (python + numpy import)
# RLIMIT_AS of the worker (virtual memory). Margins measured on correct submissions (the
# solution, tests/alt_correct, the real corpus) in both environments: docs/ENVIRONMENT.md.
WORKER_MEMORY_MB = 640
# glibc malloc settings of the worker's environment, so its virtual size does not depend on
# threads or allocation history (grader/sandbox/client.py; measured in docs/ENVIRONMENT.md).
WORKER_MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "131072"}
WORKER_FSIZE_MB = 64                      # largest file the worker may write (RLIMIT_FSIZE)
WORKER_NPROC = 64                         # RLIMIT_NPROC, applied only after dropping to run_as_user
OUTPUT_LIMIT_CHARS = 4000                 # student prints kept per request / per drain
# The walls around student code (docs/SECURITY.md). The only variables of the grader's
# environment the worker gets (never where the grader or the data is):
WORKER_ENV_PASSED = ("CS260_NO_CYTHON", "LD_LIBRARY_PATH")
WORKER_SCRATCH_MB = 256                   # the worker's private scratch folder, at most
REPLY_MAX_MB = 64                         # a reply from the worker larger than this is refused
REPLY_HEADER_MAX_KB = 1024                # and its JSON part (all but the arrays)
# Each grade-all job slot runs student code as its own uid (BATCH_UID_BASE + slot), so that no
# submission can signal, read or outlive into another's processes and files.
BATCH_UID_BASE = 61000

# The naive conv/pool checks (these sections) run in a second worker whose cs260 package has no
# working fast code: its copies of these modules are stubs whose every function raises
# (grader/sandbox/naive.py), and these libraries cannot be imported in it. numpy stays fully available.
# Everything else (prerequisites, sandwich layers, ThreeLayerConvNet, training) gets the real
# fast layers. The two workers never run at the same time (grader/sandbox/client.py, WorkerGroup).
NAIVE_SECTIONS = ("conv_forward", "conv_backward", "pool_forward", "pool_backward", "fast")
NAIVE_STUBBED = ("fast_layers", "im2col", "im2col_cython", "layer_utils")
NAIVE_BLOCKED_IMPORTS = ("scipy.signal", "scipy.ndimage", "torch", "tensorflow", "jax", "cv2",
                         "skimage")
NAIVE_RULE = "the naive layers must be written with numpy loops or array operations"


# ---------------------------------------------------------------------------
# Checks (grader/checks/test_*.py): points, visibility, tolerances, budgets.
# ---------------------------------------------------------------------------

# Gradescope visibility of a check, by the visibility of its cases (grader/cases.py). The hidden
# checks' setting is the course staff's choice (docs/INSTRUCTORS.md): "after_published" (the
# default: shown once grades are published), "after_due_date" or "hidden" (never shown). Before
# then, the text students see names no hidden case (report.visible_summary_output).
HIDDEN_CHECKS_SHOWN = "after_published"
assert HIDDEN_CHECKS_SHOWN in ("hidden", "after_due_date", "after_published")
VISIBILITY = {"public": "visible", "hidden": HIDDEN_CHECKS_SHOWN}

# Every check: key -> (section key, points). A check's points are split evenly over its cases.
# Checks ending in ".hidden" run only the hidden cases (fixtures/hidden, left out of the
# student release). Order inside a section = Gradescope order ("<section number>.<k>").
CHECKS = {
    "prereq.affine_forward": ("prereq", 1.0),
    "prereq.affine_backward": ("prereq", 1.5),
    "prereq.relu_forward": ("prereq", 1.0),
    "prereq.relu_backward": ("prereq", 1.0),
    "prereq.softmax_loss": ("prereq", 1.5),
    "prereq.batchnorm_train": ("prereq", 1.5),
    "prereq.batchnorm_test": ("prereq", 1.0),
    "prereq.batchnorm_backward": ("prereq", 1.5),

    "conv_forward.notebook": ("conv_forward", 3.0),
    "conv_forward.images": ("conv_forward", 2.0),
    "conv_forward.extra": ("conv_forward", 4.0),
    "conv_forward.hidden": ("conv_forward", 5.0),

    "conv_backward.basic": ("conv_backward", 3.0),
    "conv_backward.extra": ("conv_backward", 4.0),
    "conv_backward.hidden": ("conv_backward", 6.0),

    "pool_forward.notebook": ("pool_forward", 2.0),
    "pool_forward.extra": ("pool_forward", 2.0),
    "pool_forward.hidden": ("pool_forward", 3.0),

    "pool_backward.basic": ("pool_backward", 2.0),
    "pool_backward.extra": ("pool_backward", 2.0),
    "pool_backward.hidden": ("pool_backward", 3.0),

    "fast.conv_forward": ("fast", 2.0),
    "fast.conv_backward": ("fast", 2.0),
    "fast.pool_forward": ("fast", 1.0),
    "fast.pool_backward": ("fast", 1.0),

    "sandwich.conv_relu_pool": ("sandwich", 2.5),
    "sandwich.conv_relu": ("sandwich", 2.5),

    "convnet.init": ("convnet", 2.0),
    "convnet.initial_loss": ("convnet", 1.5),
    "convnet.reg_loss": ("convnet", 1.5),
    "convnet.scores": ("convnet", 2.0),
    "convnet.gradients": ("convnet", 3.0),
    "convnet.hidden": ("convnet", 2.0),
    "convnet.overfit": ("convnet", 2.5),
    "convnet.train": ("convnet", 2.5),

    "sbn_forward.notebook_train": ("sbn_forward", 2.0),
    "sbn_forward.notebook_test": ("sbn_forward", 1.5),
    "sbn_forward.extra": ("sbn_forward", 1.0),
    "sbn_forward.hidden": ("sbn_forward", 1.5),

    "sbn_backward.basic": ("sbn_backward", 2.0),
    "sbn_backward.extra": ("sbn_backward", 1.0),
    "sbn_backward.hidden": ("sbn_backward", 2.0),

    "sgn_forward.basic": ("sgn_forward", 2.0),
    "sgn_forward.extra": ("sgn_forward", 1.5),
    "sgn_forward.hidden": ("sgn_forward", 1.5),

    "sgn_backward.basic": ("sgn_backward", 2.0),
    "sgn_backward.extra": ("sgn_backward", 1.5),
    "sgn_backward.hidden": ("sgn_backward", 1.5),
}

for _key in SECTION_POINTS:
    assert abs(sum(p for s, p in CHECKS.values() if s == _key) - SECTION_POINTS[_key]) < 1e-9, _key
assert all(key.split(".")[0] == section for key, (section, _) in CHECKS.items())


def check_meta(key):
    """(section, number "<section number>.<k>", points) of the check `key` of CHECKS."""
    section, points = CHECKS[key]
    number = next(s.number for s in SECTIONS if s.key == section)
    k = [name for name, (sec, _) in CHECKS.items() if sec == section].index(key) + 1
    return section, f"{number}.{k}", points


# Tolerances on the notebook's rel_error: max |x - y| / max(floor, |x| + |y|), elementwise.
TOL_FLOAT64 = 1e-7          # forward outputs and analytic gradients vs the reference (float64)
TOL_FLOAT32 = 1e-3          # float32 inputs, with a floor of FLOOR_FLOAT32 * max|expected|
FLOOR_FLOAT32 = 1e-2
TOL_NUMERIC = 1e-6          # analytic gradient vs centered differences of your own forward
NUMERIC_H = 1e-5            # step of the centered differences (float64)
NUMERIC_FLOOR_REL = 1e-4    # numeric checks: rel_error floor = this * max|gradient| (rounding
                            # noise of a difference quotient is ~1e-11 of the output's scale)
NUMERIC_MAX_ENTRIES = 60    # entries per array checked numerically (a seeded sample beyond)
TOL_NUMERIC_NET = 1e-5      # ThreeLayerConvNet gradients vs centered differences of its loss
NUMERIC_NET_ENTRIES = 12    # entries per parameter checked numerically

# A case whose array has the right values in a shape that differs only in axes of size 1
# ((1, D) for (D,), keepdims) earns this fraction of its points (grader/feedback/policy.py).
SHAPE_SLIP_CREDIT = 0.5

# ThreeLayerConvNet training checks (thresholds measured on the solution, with margin).
INITIAL_LOSS_TOL = 0.02         # |loss - log(C)| for weight_scale 1e-3 and reg 0
INIT_SCALE_TOL = 0.15           # relative error of the std of the initial weights
# Overfitting 100 examples, 15 epochs (the notebook's settings; the Solver keeps the parameters
# of its best epoch by validation accuracy, so the training set is also the validation set).
# Solution, seeds 260/1/2/3: CIFAR-10 0.96/1.00/1.00/0.88, synthetic 1.00 for all.
OVERFIT_MIN_TRAIN_ACC = 0.75
OVERFIT_MIN_TRAIN_ACC_SYNTHETIC = 0.75
# One epoch on TRAIN_SUBSET images (100 of them the Solver's validation set), then accuracy on
# TRAIN_HELDOUT test images whose labels never leave the grader. Solution, seeds 260/1/2/3:
# 0.360/0.327/0.322/0.389, 20-35 s here; worker peak ~470 MB RSS, grader ~250 MB (Gradescope:
# 768 MB in all, hence not 10,000 images).
TRAIN_SUBSET = 6_000
TRAIN_HELDOUT = 1_000
TRAIN_MIN_HELDOUT_ACC = 0.25    # chance is 0.10
TRAIN_TIMEOUT_S = 400.0         # the one-epoch run (Gradescope: 0.5 vCPU)
OVERFIT_TIMEOUT_S = 120.0
FAST_NAIVE_TIMEOUT_S = 180.0    # the notebook's naive conv on 100x3x31x31 (notebook: 17 s on Colab)
# pytest-timeout's limit on one whole check: a safety net for a grader-side hang (the worker's
# own deadlines above stop student code long before); generous, and above every worker deadline.
CHECK_TIMEOUT_S = 480.0
assert CHECK_TIMEOUT_S > max(TRAIN_TIMEOUT_S, OVERFIT_TIMEOUT_S, FAST_NAIVE_TIMEOUT_S,
                             WORKER_TIMEOUT_S) + WORKER_START_TIMEOUT_S
IMAGE_SIZE = 96                 # kitten/puppy resized to IMAGE_SIZE x IMAGE_SIZE (notebook: 200)


# ----------------------------------------------------------------------------------------------
# Gradescope (grader/tools/gradescope/): written into the zip's gradescope.env, which setup.sh and
# run_autograder read, so the shell scripts and the Python side share one definition.
# ----------------------------------------------------------------------------------------------

STUDENT_USER = "cs260student"   # unprivileged account that runs student code on Gradescope
DEFAULT_ROOT = "/autograder"    # Gradescope's layout: source/, submission/, results/
ROOT_ENV = "AUTOGRADER_ROOT"    # overrides DEFAULT_ROOT (tests)
# Wall-clock budget of one grading run (pytest + worker). Gradescope's default limit is 600 s;
# this stops early enough to still write results.json. Raise both together.
GRADING_TIMEOUT_S = 520
# At the budget pytest gets SIGINT (the plugin then writes results.json with the checks that
# ran); whatever is still running this much later is killed.
STOP_GRACE_S = 30
ENV_FILE = "gradescope.env"     # at the zip's root
DATA_SUBDIR = "data"            # CIFAR-10 goes to <root>/data/cifar-10-batches-py (--with-cifar)
METADATA_JSON = "submission_metadata.json"   # Gradescope's, in <root>: earlier results (locked)
# RLIMIT_AS of the grading process itself (run_autograder, grade-all): with the worker's
# WORKER_MEMORY_MB and REPLY_MAX_MB it keeps one grading inside Gradescope's 768 MB
# (docs/SECURITY.md, measured there).
GRADER_MEMORY_MB = 1024
