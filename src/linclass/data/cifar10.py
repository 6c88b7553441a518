"""CIFAR-10 in its two official downloads, from the ``.tar.gz`` or its extracted folder.

* The "python version" (``cifar-10-python.tar.gz`` -> ``cifar-10-batches-py/``): pickled dicts
  ``{b"data": uint8 array (10000, 3072), b"labels": [...], ...}`` in ``data_batch_1..5`` and
  ``test_batch``, class names in ``batches.meta``. They are read with a restricted unpickler
  that allows only what those files contain (a dict, lists, bytes, numbers and a uint8 numpy
  array), so a malicious file cannot run code.
* The "binary version" (``cifar-10-binary.tar.gz`` -> ``cifar-10-batches-bin/``): records of 1
  label byte + 3,072 pixel bytes in ``data_batch_1..5.bin`` and ``test_batch.bin``, class names
  in ``batches.meta.txt``.

Pixels are stored channel by channel (1,024 red, then green, then blue); linclass reorders them
to height x width x channel, as images are everywhere else.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .dataset import DataFileError, Dataset

__all__ = ["load_cifar10", "RestrictedUnpickler", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
TEST = "test_batch"
RECORD = 1 + 3072


def _reconstruct(cls, shape, dtype):
    # numpy's own pickle path for arrays, reached only for a plain ndarray of bytes/numbers.
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be rebuilt")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _dtype(name, *args):
    dt = np.dtype(name)
    if dt.kind not in "biu":
        raise pickle.UnpicklingError(f"dtype {dt} is not allowed in a CIFAR-10 batch")
    return dt


def _latin1_bytes(text, encoding="latin1"):
    # How Python 3 writes bytes in pickle protocols 0-2: _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("_codecs.encode is allowed only for latin1 text")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR-10 batch needs: numpy's array
    reconstruction for a plain array of integers, and latin1 bytes (as Python 3 writes bytes
    into old pickle protocols).

    Anything else -- ``os.system``, ``builtins.eval``, any class -- raises
    ``pickle.UnpicklingError`` before it is called.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not allowed in a CIFAR-10 batch") from None


def _unpickle(data, where):
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as e:
        raise DataFileError(f"{where} is not a valid CIFAR-10 python batch ({e}).") from None
    if not isinstance(obj, dict):
        raise DataFileError(f"{where} is not a CIFAR-10 batch (it holds a {type(obj).__name__}).")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _chw_to_hwc(X):
    return X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(X), 3072)


def _python_batch(data, where):
    batch = _unpickle(data, where)
    try:
        X = np.asarray(batch["data"])
        y = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as e:
        raise DataFileError(f"{where} has no {e.args[0]!r} entry.") from None
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != 3072:
        raise DataFileError(f"{where}: data is {X.dtype} {X.shape}, not uint8 (n, 3072).")
    return X, y


def _binary_batch(data, where):
    if len(data) == 0 or len(data) % RECORD:
        raise DataFileError(f"{where} has {len(data)} bytes, not a whole number of "
                            f"{RECORD}-byte records.")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    return rec[:, 1:], rec[:, 0].astype(np.int64)


class _Source:
    """Files of a CIFAR-10 download, from a folder or straight from the .tar.gz."""

    def __init__(self, path):
        self.path = Path(path)
        self._tar = None
        self.files = {}
        if self.path.is_dir():
            for p in self.path.rglob("*"):
                if p.is_file():
                    self.files[p.name] = p
        elif tarfile.is_tarfile(self.path):
            self._tar = tarfile.open(self.path)
            for m in self._tar.getmembers():
                if m.isfile():
                    self.files[Path(m.name).name] = m
        else:
            raise DataFileError(f"{self.path} is neither a folder nor a tar archive.")

    def read(self, name):
        item = self.files[name]
        if self._tar is None:
            return item.read_bytes()
        return self._tar.extractfile(item).read()

    def where(self, name):
        return f"{self.path}:{name}" if self._tar is not None else str(self.files[name])

    def close(self):
        if self._tar is not None:
            self._tar.close()


def load_cifar10(path):
    """Load CIFAR-10 from an official download, python or binary version.

    Parameters
    ----------
    path : str or Path
        ``cifar-10-python.tar.gz`` or ``cifar-10-binary.tar.gz``, or a folder holding their
        extracted batches (``cifar-10-batches-py/`` or ``cifar-10-batches-bin/``, or above).

    Returns
    -------
    Dataset
        50,000 training images as ``X``/``y`` and 10,000 test images as ``X_test``/``y_test``,
        uint8 rows of 32 x 32 x 3 pixels (height, width, channel).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    src = _Source(path)
    try:
        if all(n in src.files for n in TRAIN + [TEST]):
            read, meta = _python_batch, _python_names
            names = TRAIN + [TEST]
        elif all(f"{n}.bin" in src.files for n in TRAIN + [TEST]):
            read, meta = _binary_batch, _binary_names
            names = [f"{n}.bin" for n in TRAIN + [TEST]]
        else:
            raise DataFileError(
                f"{path} is not a CIFAR-10 download: expected data_batch_1..5 and test_batch "
                "(python version) or data_batch_1..5.bin and test_batch.bin (binary version).")
        parts = [read(src.read(n), src.where(n)) for n in names]
        class_names = meta(src)
    finally:
        src.close()
    for (X, y), n in zip(parts, names):
        if len(X) != len(y):
            raise DataFileError(f"{src.where(n)} has {len(X)} images but {len(y)} labels.")
        if y.size and (y.min() < 0 or y.max() >= len(class_names)):
            raise DataFileError(f"{src.where(n)} has label {int(y.max())}, outside 0..9.")
    X = _chw_to_hwc(np.concatenate([p[0] for p in parts[:-1]]))
    y = np.concatenate([p[1] for p in parts[:-1]]).astype(np.intp)
    Xt, yt = _chw_to_hwc(parts[-1][0]), parts[-1][1].astype(np.intp)
    return Dataset(X, y, class_names, (32, 32, 3), name=f"cifar10:{path}", X_test=Xt,
                   y_test=yt)


def _python_names(src):
    if "batches.meta" not in src.files:
        return list(CIFAR10_CLASSES)
    meta = _unpickle(src.read("batches.meta"), src.where("batches.meta"))
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    return names or list(CIFAR10_CLASSES)


def _binary_names(src):
    if "batches.meta.txt" not in src.files:
        return list(CIFAR10_CLASSES)
    names = [n.strip() for n in src.read("batches.meta.txt").decode().splitlines() if n.strip()]
    return names or list(CIFAR10_CLASSES)
