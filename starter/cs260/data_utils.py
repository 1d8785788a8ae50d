"""Loading CIFAR-10 for the homework.

The data is read from a folder that holds `cifar-10-batches-py` (the official
"CIFAR-10 python version" archive, unpacked). That folder is cs260/datasets/ by
default, where cs260/datasets/get_datasets.sh downloads it; the environment
variable CS260_DATA_DIR points elsewhere.

Images come back as float32 by default: the full training set then takes about
600 MB instead of 1.2 GB in float64, and the models default to float32 anyway.
Pass dtype=np.float64 to get double precision.
"""
import os
import pickle

import numpy as np

DATA_DIR_ENV = "CS260_DATA_DIR"
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets")
CIFAR10_FOLDER = "cifar-10-batches-py"


def cifar10_dir():
    """Path of the cifar-10-batches-py folder that get_CIFAR10_data reads."""
    base = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return os.path.join(base, CIFAR10_FOLDER)


def load_CIFAR_batch(filename):
    """One pickled CIFAR-10 batch as (X uint8 (N, 3, 32, 32), y int64 (N,))."""
    with open(filename, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    X = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    y = np.asarray(batch["labels"], dtype=np.int64)
    return X, y


def load_CIFAR10(root):
    """All of CIFAR-10 from the folder root as (X_train, y_train, X_test, y_test), uint8 images."""
    parts = [load_CIFAR_batch(os.path.join(root, f"data_batch_{b}")) for b in range(1, 6)]
    X_train = np.concatenate([X for X, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    X_test, y_test = load_CIFAR_batch(os.path.join(root, "test_batch"))
    return X_train, y_train, X_test, y_test


def get_CIFAR10_data(
    num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, dtype=np.float32
):
    """CIFAR-10 split into training, validation and test sets, ready for a classifier.

    The training set is the first num_training training images, the validation
    set the next num_validation ones (images 49000..49999 with the defaults) and
    the test set the first num_test test images. With subtract_mean, the mean
    image of the training set is subtracted from all three sets.

    Returns a dict with X_train, X_val, X_test (N, 3, 32, 32) arrays of dtype and
    y_train, y_val, y_test int64 label arrays.
    """
    root = cifar10_dir()
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"CIFAR-10 not found: expected the folder {root}. Run cs260/datasets/get_datasets.sh "
            f"to download it into cs260/datasets/, or set the environment variable {DATA_DIR_ENV} "
            f"to the folder that contains {CIFAR10_FOLDER}."
        )
    X_all, y_all, X_test_all, y_test_all = load_CIFAR10(root)

    train = slice(0, num_training)
    val = slice(num_training, num_training + num_validation)
    data = {
        "X_train": X_all[train].astype(dtype),
        "y_train": y_all[train],
        "X_val": X_all[val].astype(dtype),
        "y_val": y_all[val],
        "X_test": X_test_all[:num_test].astype(dtype),
        "y_test": y_test_all[:num_test],
    }
    if subtract_mean:
        mean_image = data["X_train"].mean(axis=0)
        for key in ("X_train", "X_val", "X_test"):
            data[key] -= mean_image
    return data
