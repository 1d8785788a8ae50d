"""Data the grader process reads itself: CIFAR-10 and the notebook's kitten and puppy.

The grader never imports cs260, so CIFAR-10 is read here: each batch file is a pickle, read
with an unpickler that rebuilds only what those files hold (a dict of str/bytes keys, lists of
ints and strings, one uint8 numpy array) and refuses anything else. Images are preprocessed as
the package does: NCHW float32 with the training mean subtracted.
"""
import os
import pickle
from pathlib import Path

import numpy as np

CIFAR_FOLDER = "cifar-10-batches-py"
DATA_ENV = "CS260_DATA_DIR"            # folder holding cifar-10-batches-py
IMAGES_ENV = "CS260_NOTEBOOK_IMAGES"   # folder holding kitten.jpg and puppy.jpg


def trusted_package_dir():
    """The trusted cs260 package folder (the starter copy the grader overlays)."""
    from grader.sandbox.trusted import trusted_starter_root
    return Path(trusted_starter_root())


# ----------------------------------------------------------------------------------------------
# CIFAR-10
# ----------------------------------------------------------------------------------------------

def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 1.26
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class CifarUnpickler(pickle.Unpickler):
    """Rebuilds the CIFAR-10 batch pickles and nothing else: numpy array reconstruction, dtype,
    dict/list/str, and codecs.encode (how Python 3 writes bytes in protocol-2 pickles)."""

    def find_class(self, module, name):
        """Allow only what CIFAR-10's batch files hold; refuse every other class."""
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module in ("builtins", "__builtin__") and name in ("dict", "list", "str"):
            return {"dict": dict, "list": list, "str": str}[name]
        if (module, name) == ("_codecs", "encode"):   # bytes in protocol-2 pickles from Python 3
            import codecs
            return codecs.encode
        raise pickle.UnpicklingError(f"CIFAR-10 files hold no {module}.{name}; refusing to load it")


def read_batch(path):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one CIFAR-10 batch file."""
    with open(path, "rb") as f:
        batch = CifarUnpickler(f, encoding="bytes").load()
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR-10 batch (no dict inside)")
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: unexpected CIFAR-10 layout {data.dtype} {data.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _candidates():
    """(label, folder) where CIFAR-10 may be, in the order they are tried."""
    env = os.environ.get(DATA_ENV)
    places = [(f"${DATA_ENV}/{CIFAR_FOLDER}" + (f" ({env})" if env else " (not set)"),
               Path(env) / CIFAR_FOLDER if env else None)]
    # The student release: the notebook's get_datasets.sh downloads into ./cs260/datasets.
    local = Path.cwd() / "cs260" / "datasets" / CIFAR_FOLDER
    places.append((str(local), local))
    trusted = trusted_package_dir() / "datasets" / CIFAR_FOLDER
    places.append((str(trusted), trusted))
    return places


def cifar_dir():
    """The cifar-10-batches-py folder (see _candidates); None when no candidate has the
    training and test batches."""
    for _, folder in _candidates():
        if folder and (folder / "data_batch_1").is_file() and (folder / "test_batch").is_file():
            return folder
    return None




def where_cifar_is_looked_for():
    """The places searched for CIFAR-10, for the skip message."""
    return " and ".join(label for label, _ in _candidates())


def load_cifar10(num_train, num_test, folder=None):
    """The first num_train training and num_test test images of CIFAR-10, preprocessed like
    the package (NCHW float32 minus the mean of the training images loaded here).

    Reads only the batch files it needs, one at a time (memory stays small on Gradescope).
    Returns a dict X_train, y_train, X_test, y_test.
    """
    folder = Path(folder) if folder else cifar_dir()
    if folder is None:
        raise FileNotFoundError(f"CIFAR-10 not found in {where_cifar_is_looked_for()}")
    xs, ys, have = [], [], 0
    for b in range(1, 6):
        if have >= num_train:
            break
        data, labels = read_batch(folder / f"data_batch_{b}")
        take = min(num_train - have, len(data))
        xs.append(data[:take].copy())
        ys.append(labels[:take].copy())
        have += take
        del data, labels
    X_train, y_train = np.concatenate(xs), np.concatenate(ys)
    data, labels = read_batch(folder / "test_batch")
    X_test, y_test = data[:num_test].copy(), labels[:num_test].copy()
    del data, labels
    mean = X_train.mean(axis=0, dtype=np.float64).astype(np.float32)
    return {"X_train": X_train.astype(np.float32) - mean, "y_train": y_train,
            "X_test": X_test.astype(np.float32) - mean, "y_test": y_test}


def synthetic_dataset(num, num_classes=10, shape=(3, 32, 32), seed=0):
    """A deterministic stand-in for CIFAR-10: each class a smooth random pattern, each example
    its class pattern plus noise (float32, NCHW, zero mean, pixel scale like CIFAR's)."""
    r = np.random.default_rng(seed)
    C, H, W = shape
    coarse = r.standard_normal((num_classes, C, H // 4, W // 4))
    patterns = np.repeat(np.repeat(coarse, 4, axis=2), 4, axis=3) * 40.0
    y = np.arange(num) % num_classes
    r.shuffle(y)
    X = patterns[y] + 40.0 * r.standard_normal((num, C, H, W))
    return {"X": X.astype(np.float32), "y": y.astype(np.int64)}


# ----------------------------------------------------------------------------------------------
# The notebook's images
# ----------------------------------------------------------------------------------------------

def notebook_image_dir():
    """Folder with kitten.jpg and puppy.jpg: $CS260_NOTEBOOK_IMAGES, else notebook_images/
    inside or next to the trusted cs260 package; None when absent."""
    pkg = trusted_package_dir()
    candidates = []
    if os.environ.get(IMAGES_ENV):
        candidates.append(Path(os.environ[IMAGES_ENV]))
    candidates += [pkg / "notebook_images", pkg.parent / "notebook_images"]
    for folder in candidates:
        if (folder / "kitten.jpg").is_file() and (folder / "puppy.jpg").is_file():
            return folder
    return None


def notebook_images(size):
    """(x (2, 3, size, size) float64 of the puppy and the cropped kitten, as the notebook builds
    it, "the notebook's puppy and kitten"), or None when the photos are not available."""
    folder = notebook_image_dir()
    if folder is None:
        return None
    from PIL import Image
    kitten = np.asarray(Image.open(folder / "kitten.jpg").convert("RGB"))
    puppy = np.asarray(Image.open(folder / "puppy.jpg").convert("RGB"))
    d = kitten.shape[1] - kitten.shape[0]   # the kitten is wide: crop it square
    kitten = kitten[:, d // 2:-d // 2, :] if d > 1 else kitten
    x = np.zeros((2, 3, size, size))
    for i, img in enumerate((puppy, kitten)):
        x[i] = np.asarray(Image.fromarray(img).resize((size, size))).transpose(2, 0, 1)
    return x


def generated_images(size):
    """A deterministic stand-in for the photos: two RGB images (0..255) with edges, gradients
    and texture, shape (2, 3, size, size) float64."""
    r = np.random.default_rng(260)
    yy, xx = np.mgrid[0:size, 0:size] / max(1, size - 1)
    x = np.zeros((2, 3, size, size))
    x[0, 0] = 255 * xx
    x[0, 1] = 255 * (yy > 0.5)
    x[0, 2] = 128 + 100 * np.sin(12 * yy) * (xx < 0.6)
    x[1, 0] = 255 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1)
    x[1, 1] = 255 * yy
    x[1, 2] = 255 * ((np.floor(8 * xx) + np.floor(8 * yy)) % 2)
    return np.clip(np.round(x + r.normal(0, 8, x.shape)), 0, 255)


def image_filters():
    """The notebook's two 3x3 filters and biases: grayscale (0.3R + 0.6G + 0.1B at the center)
    and horizontal edges of the blue channel, offset by 128."""
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, 1, 1], w[0, 1, 1, 1], w[0, 2, 1, 1] = 0.3, 0.6, 0.1
    w[1, 2] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    return w, np.array([0.0, 128.0])


def filtered_images(x):
    """The expected output of the image cell, straight from the definitions (not a convolution
    routine): gray = 0.3R + 0.6G + 0.1B; edges = blue row above minus blue row below, each
    weighted (1, 2, 1) across columns, on the zero-padded image, plus 128."""
    gray = 0.3 * x[:, 0] + 0.6 * x[:, 1] + 0.1 * x[:, 2]
    blue = np.pad(x[:, 2], ((0, 0), (1, 1), (1, 1)))
    across = blue[:, :, :-2] + 2 * blue[:, :, 1:-1] + blue[:, :, 2:]   # (N, H + 2, W)
    edges = across[:, :-2] - across[:, 2:] + 128.0
    return np.stack([gray, edges], axis=1)
