#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04,
# Python 3.10), with the zip unpacked in /autograder/source.
#
# Steps (each can be skipped for a local dry run: SKIP_APT=1, SKIP_PIP=1, SKIP_USER=1):
#   1. system packages: python3, pip, headers and a C compiler for the Cython extension
#   2. the pinned Python packages of the grading environment (grader/pins.txt)
#   3. compile the trusted starter's Cython extension in place (starter/cs260)
#   4. create the unprivileged user that runs student code
#   5. with WITH_CIFAR=1 in gradescope.env: download CIFAR-10 to <root>/data
#   6. lock the grader, the fixtures and the results folder away from that user
set -Eeuo pipefail
# Any failing command stops the set-up here, says where, and exits non-zero, so Gradescope marks
# the image as broken instead of grading with a half-installed autograder.
trap 'echo "setup.sh FAILED (exit status $?) at line $LINENO: $BASH_COMMAND; the autograder is NOT set up" >&2' ERR

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
. "$SOURCE/gradescope.env"   # STUDENT_USER, WITH_CIFAR, GRADING_TIMEOUT_S, DATA_SUBDIR
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
cd "$SOURCE"

if [ -z "${SKIP_APT:-}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends \
        python3 python3-pip python3-dev build-essential ca-certificates curl
fi

if [ -z "${SKIP_PIP:-}" ]; then
    "$PYTHON" -m pip install --no-cache-dir -r grader/pins.txt
fi

# setup.py builds the extension of every package tree present (here only starter/).
"$PYTHON" setup.py build_ext --inplace
rm -rf build
"$PYTHON" - <<'EOF'
import pathlib
built = list(pathlib.Path("starter/cs260").glob("im2col_cython*.so"))
assert built, "the Cython extension starter/cs260/im2col_cython was not built"
print("built", *built)
EOF

if [ -z "${SKIP_USER:-}" ] && ! id -u "$STUDENT_USER" > /dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$STUDENT_USER"
fi

if [ "${WITH_CIFAR:-0}" = 1 ]; then
    DATA="$ROOT/$DATA_SUBDIR"
    mkdir -p "$DATA"
    # The package's own download script fetches into the folder it sits in.
    cp starter/cs260/datasets/get_datasets.sh "$DATA/"
    bash "$DATA/get_datasets.sh"
    # Only the grader reads it (it sends the worker the images a check needs, never a file).
    chmod -R go-rwx "$DATA"
fi

# Student code runs as $STUDENT_USER (the worker drops to it after starting as root): it must
# not read the grader or the hidden fixtures, nor touch the results. run_autograder repeats this.
chmod -R go-rwx "$SOURCE/grader" "$SOURCE/fixtures"
chmod go-rwx "$SOURCE"
mkdir -p "$ROOT/results"
chmod 700 "$ROOT/results"
echo "cs260 autograder set up (student user: $STUDENT_USER, CIFAR-10: ${WITH_CIFAR:-0})"
