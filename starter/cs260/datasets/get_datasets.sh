#!/usr/bin/env bash
# Download CIFAR-10 (python version) into the folder holding this script, once.
set -euo pipefail

URL="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE="cifar-10-python.tar.gz"
FOLDER="cifar-10-batches-py"

cd "$(dirname "$0")"

complete=yes
for name in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta; do
    [ -f "$FOLDER/$name" ] || complete=no
done
if [ "$complete" = yes ]; then
    echo "CIFAR-10 is already in $(pwd)/$FOLDER"
    exit 0
fi

if [ ! -f "$ARCHIVE" ]; then
    if command -v wget > /dev/null; then
        wget -O "$ARCHIVE.part" "$URL"
    else
        curl -fL -o "$ARCHIVE.part" "$URL"
    fi
    mv "$ARCHIVE.part" "$ARCHIVE"
fi
tar -xzf "$ARCHIVE"
rm "$ARCHIVE"
echo "CIFAR-10 is now in $(pwd)/$FOLDER"
