"""MNIST and Fashion-MNIST: the IDX file format, gzipped or not.

An IDX file is a big-endian header -- two zero bytes, a type code (0x08 for unsigned bytes),
the number of dimensions -- then one 32-bit size per dimension, then the data. Images files
have 3 dimensions (n, 28, 28), label files 1 (n,).
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from .._typing import PathArg
from ..errors import DataFileError
from ..limits import check_bytes, check_declared
from .archives import check_input_path, reading
from .dataset import Dataset

__all__ = ["read_idx", "load_mnist", "MNIST_FILES", "FASHION_CLASSES"]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _open(path):
    path = check_input_path(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb"), gz


def read_idx(path: PathArg) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a uint8 array, checking its header and size.

    The size the header declares is checked against the file (uncompressed) and against the
    memory cap (``linclass.limits``) before anything of that size is read."""
    path = Path(path)
    f, gz = _open(path)
    with reading(path), f:
        head = f.read(4)
        if len(head) != 4 or head[:2] != b"\x00\x00":
            raise DataFileError(f"{path} is not an IDX file (bad magic number).")
        if head[2] != 0x08:
            raise DataFileError(f"{path}: IDX data type 0x{head[2]:02x} is not unsigned bytes.")
        ndim = head[3]
        if not 1 <= ndim <= 4:
            raise DataFileError(f"{path}: IDX header claims {ndim} dimensions.")
        dims_raw = f.read(4 * ndim)
        if len(dims_raw) != 4 * ndim:
            raise DataFileError(f"{path} is truncated inside its header.")
        dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
        expected = math.prod(dims)
        if not gz:
            check_declared(
                expected, path.stat().st_size - 4 - 4 * ndim, path, f"its header (shape {dims})"
            )
        check_bytes(expected, f"an IDX array of shape {dims}", path)
        data = f.read(expected + 1)
    if len(data) != expected:
        raise DataFileError(
            f"{path} holds {len(data)} data bytes where its header promises {expected} "
            f"(shape {dims}): the file is {'truncated' if len(data) < expected else 'too long'}."
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _find(folder, stem):
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (folder / name).exists():
            return folder / name
    return None


def _pair(images_path, labels_path):
    X = read_idx(images_path)
    y = read_idx(labels_path)
    if X.ndim != 3:
        raise DataFileError(f"{images_path} is not an images file (shape {X.shape}).")
    if y.ndim != 1:
        raise DataFileError(f"{labels_path} is not a labels file (shape {y.shape}).")
    if len(X) != len(y):
        raise DataFileError(
            f"{images_path} has {len(X)} images but {labels_path} has {len(y)} labels."
        )
    if y.size and y.max() > 9:
        raise DataFileError(f"{labels_path} has label {int(y.max())}; MNIST labels are 0..9.")
    return X.reshape(len(X), -1), y.astype(np.intp), X.shape[1:]


def load_mnist(path: PathArg, fashion: bool = False) -> Dataset:
    """Load MNIST (or Fashion-MNIST) from a folder of IDX files or from one images file.

    Parameters
    ----------
    path : str or Path
        A folder holding ``train-images-idx3-ubyte[.gz]`` and/or ``t10k-images-idx3-ubyte[.gz]``
        with their label files, or one images file (its labels file is found beside it).
    fashion : bool, default False
        Name the classes as Fashion-MNIST's (T-shirt/top, Trouser, ...).

    Returns
    -------
    Dataset
        uint8 pixels (n, 784), ``image_shape`` (28, 28). When both the training and the test
        files are there, ``X``/``y`` are the training set and ``X_test``/``y_test`` the test set;
        with only one of them, it is ``X``/``y`` (split it for training and testing).
    """
    where = check_input_path(path)
    names = FASHION_CLASSES if fashion else [str(i) for i in range(10)]
    if where.is_file():
        stem = where.name[:-3] if where.name.endswith(".gz") else where.name
        if "labels" in stem:
            raise DataFileError(f"{where} is a labels file; give the images file or the folder.")
        labels = _find(where.parent, stem.replace("images-idx3", "labels-idx1"))
        if labels is None:
            raise FileNotFoundError(
                f"no labels file beside {where} "
                f"(looked for {stem.replace('images-idx3', 'labels-idx1')})."
            )
        X, y, shape = _pair(where, labels)
        return Dataset(X, y, names, shape, name=f"mnist:{where}")
    found = {}
    for split, (img, lab) in MNIST_FILES.items():
        ip, lp = _find(where, img), _find(where, lab)
        if ip is not None and lp is not None:
            found[split] = _pair(ip, lp)
        elif ip is not None or lp is not None:
            raise FileNotFoundError(f"{where} has only one of {img} and {lab}.")
    if not found:
        raise FileNotFoundError(
            f"no MNIST files in {where}: expected train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz."
        )
    kind = "fashion-mnist" if fashion else "mnist"
    if len(found) == 2:
        (X, y, shape), (Xt, yt, _) = found["train"], found["test"]
        return Dataset(X, y, names, shape, name=f"{kind}:{where}", X_test=Xt, y_test=yt)
    X, y, shape = next(iter(found.values()))
    return Dataset(X, y, names, shape, name=f"{kind}:{where}")
