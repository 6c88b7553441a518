"""CIFAR-10 in its two official downloads, from the ``.tar.gz`` or its extracted folder.

* The "python version" (``cifar-10-python.tar.gz`` -> ``cifar-10-batches-py/``): pickled dicts
  ``{b"data": uint8 array (10000, 3072), b"labels": [...], ...}`` in ``data_batch_1..5`` and
  ``test_batch``, class names in ``batches.meta``. They are read with a restricted unpickler
  that allows only what those files contain (a dict, lists, bytes, numbers and the description
  of an integer array, which linclass checks and builds itself), so a malicious file can
  neither run code nor make numpy allocate or dereference what it chooses.
* The "binary version" (``cifar-10-binary.tar.gz`` -> ``cifar-10-batches-bin/``): records of 1
  label byte + 3,072 pixel bytes in ``data_batch_1..5.bin`` and ``test_batch.bin``, class names
  in ``batches.meta.txt``.

Pixels are stored channel by channel (1,024 red, then green, then blue); linclass reorders them
to height x width x channel, as images are everywhere else.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._typing import PathArg
from ..errors import DataFileError
from .archives import open_tree
from .dataset import Dataset

__all__ = ["load_cifar10", "RestrictedUnpickler", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
TEST = "test_batch"
PYTHON_META, BINARY_META = "batches.meta", "batches.meta.txt"
RECORD = 1 + 3072


class _Dtype:
    """What ``numpy.dtype(name, align, copy)`` in a batch asked for: an integer type's name
    and the byte order of its state, nothing else (numpy's own dtype would take its fields,
    item size and flags from the file's state)."""

    def __init__(self, name, align=False, copy=True):
        if not isinstance(name, str) or name not in _INT_CODES:
            raise pickle.UnpicklingError(f"dtype {name!r} is not allowed in a CIFAR-10 batch")
        self.name, self.order = name, "|"

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("|", "<", ">", "=")):
            raise pickle.UnpicklingError("a dtype state that is not numpy's")
        self.order = state[1]

    def numpy(self):
        order = "<" if self.order in ("|", "=") else self.order
        return np.dtype(order + self.name)


class _Array:
    """An array a batch describes: shape, dtype and raw bytes, checked and then built by
    linclass (``numpy()``), never by numpy's unpickling, which lets the file choose what it
    allocates (``_reconstruct`` alone makes an array of any shape from uninitialised memory)
    and what a dtype's state holds."""

    def __init__(self, shape=(0,), dtype=None, order="C", data=b""):
        self.shape, self.dtype, self.fortran, self.data = shape, dtype, order == "F", data

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("an array state that is not numpy's")
        self.shape, self.dtype, self.fortran, self.data = state[-4:]

    def numpy(self, where):
        shape, dtype, data = self.shape, self.dtype, self.data
        if not (
            isinstance(shape, tuple)
            and 1 <= len(shape) <= 2
            and all(type(d) is int and 0 <= d < 2**31 for d in shape)
        ):
            raise DataFileError(f"{where}: an array of shape {shape!r}.")
        if not isinstance(dtype, _Dtype) or not isinstance(data, (bytes, bytearray)):
            raise DataFileError(f"{where}: an array without a plain integer type and bytes.")
        dt = dtype.numpy()
        if math.prod(shape) * dt.itemsize != len(data):
            raise DataFileError(
                f"{where}: an array of shape {shape} and type {dt} in {len(data):,} bytes."
            )
        return (
            np.frombuffer(data, dt)
            .reshape(shape, order="F" if self.fortran else "C")
            .astype(dt.newbyteorder("="))
        )


_INT_CODES = {f"{k}{n}" for k in "ui" for n in (1, 2, 4, 8)}


def _reconstruct(cls, shape, dtype):
    # numpy's pickle path for arrays (protocols 0-4): an empty array that BUILD then fills.
    if cls is not _Array:
        raise pickle.UnpicklingError("only numpy.ndarray may be rebuilt")
    return _Array()


def _frombuffer(buffer, dtype, shape, order):
    # numpy's pickle path for arrays in protocol 5.
    return _Array(shape, dtype, order, buffer)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR-10 batch needs, to stand-ins.

    Anything else -- ``os.system``, ``builtins.eval``, any class -- raises
    ``pickle.UnpicklingError`` before it is called. numpy's own array and dtype rebuilding is
    never reached: arrays come back as ``_Array`` descriptions that ``_python_batch`` checks
    and builds. Bytes made from latin1 text (how Python 3 writes bytes into protocols 0-2) may
    not add up to more than the pickle itself, so a few memo references cannot expand into
    gigabytes.
    """

    def __init__(self, file: IO[bytes], budget: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._budget = budget
        self._allowed: dict[tuple[str, str], Callable[..., Any]] = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy.core.numeric", "_frombuffer"): _frombuffer,
            ("numpy._core.numeric", "_frombuffer"): _frombuffer,
            ("numpy", "ndarray"): _Array,
            ("numpy", "dtype"): _Dtype,
            ("_codecs", "encode"): self._latin1_bytes,
        }

    def _latin1_bytes(self, text: object, encoding: str = "latin1") -> bytes:
        if not isinstance(text, str) or encoding != "latin1":
            raise pickle.UnpicklingError("_codecs.encode is allowed only for latin1 text")
        self._budget -= len(text)
        if self._budget < 0:
            raise pickle.UnpicklingError("it expands into more bytes than the file holds")
        return text.encode("latin1")

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not allowed in a CIFAR-10 batch"
            ) from None


_MAX_MEMO = 1_000_000  # memo slots: a batch uses a handful


def _check_opcodes(data):
    """Walk the opcodes first (``pickletools``, pure Python): every length they declare must
    fit in the data, and memo indices must be small. The C unpickler allocates a declared
    length (BINBYTES8, a FRAME) or a memo of a declared index before it sees that the data
    is not there: a few bytes could ask for gigabytes."""
    for op, arg, pos in pickletools.genops(data):
        if op.name == "FRAME" and arg > len(data) - pos:
            raise pickle.UnpicklingError(f"a frame of {arg:,} bytes in {len(data):,}")
        if op.name in ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET") and (
            not isinstance(arg, int) or arg > _MAX_MEMO
        ):
            raise pickle.UnpicklingError(f"a memo index of {arg}")


def _unpickle(data, where):
    try:
        _check_opcodes(data)
        obj = RestrictedUnpickler(io.BytesIO(data), len(data), encoding="bytes").load()
    except Exception as e:  # nothing in it can run code: whatever it raises is the file's fault
        raise DataFileError(
            f"{where} is not a valid CIFAR-10 python batch ({type(e).__name__}: {e})."
        ) from None
    if not isinstance(obj, dict):
        raise DataFileError(f"{where} is not a CIFAR-10 batch (it holds a {type(obj).__name__}).")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _chw_to_hwc(X):
    return X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(X), 3072)


def _python_batch(data, where):
    batch = _unpickle(data, where)
    if "data" not in batch or "labels" not in batch:
        raise DataFileError(
            f"{where} has no {'data' if 'data' not in batch else 'labels'!r} entry."
        )
    X, labels = batch["data"], batch["labels"]
    if not isinstance(X, _Array):
        raise DataFileError(f"{where}: data is a {type(X).__name__}, not an array of pixels.")
    X = X.numpy(where)
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != 3072:
        raise DataFileError(f"{where}: data is {X.dtype} {X.shape}, not uint8 (n, 3072).")
    if isinstance(labels, _Array):
        y = labels.numpy(where)
    elif isinstance(labels, list) and all(type(v) is int for v in labels):
        y = np.array(labels, dtype=np.int64) if all(-1 < v < 256 for v in labels) else None
    else:
        y = None
    if y is None or y.ndim != 1:
        raise DataFileError(f"{where}: labels are not a list of small integers.")
    return X, y.astype(np.int64)


def _binary_batch(data, where):
    if len(data) == 0 or len(data) % RECORD:
        raise DataFileError(
            f"{where} has {len(data)} bytes, not a whole number of {RECORD}-byte records."
        )
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    return rec[:, 1:], rec[:, 0].astype(np.int64)


def _read_files(path, names):
    """``{name: (bytes, where)}`` of the files with these base names anywhere under a CIFAR-10
    download (a folder or the archive itself, read once as a stream)."""
    found = {}
    with open_tree(
        path,
        wanted=lambda parts: parts[-1] in names,
        files="CIFAR-10 files",
        what="a folder or a .tar.gz of CIFAR-10",
    ) as tree:
        for parts, key in tree.entries():
            if parts[-1] in names:
                found[parts[-1]] = (tree.read(key), tree.where(key))
    return found


def load_cifar10(path: PathArg) -> Dataset:
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
    python, binary = [*TRAIN, TEST], [f"{n}.bin" for n in [*TRAIN, TEST]]
    files = _read_files(path, set(python + binary) | {PYTHON_META, BINARY_META})
    if all(n in files for n in python):
        read, meta, names = _python_batch, _python_names, python
    elif all(n in files for n in binary):
        read, meta, names = _binary_batch, _binary_names, binary
    else:
        raise DataFileError(
            f"{path} is not a CIFAR-10 download: expected data_batch_1..5 and test_batch "
            "(python version) or data_batch_1..5.bin and test_batch.bin (binary version)."
        )
    parts = [read(*files[n]) for n in names]
    class_names = meta(files)
    for (X, y), n in zip(parts, names):
        where = files[n][1]
        if len(X) != len(y):
            raise DataFileError(f"{where} has {len(X)} images but {len(y)} labels.")
        outside = y[(y < 0) | (y >= len(class_names))]
        if outside.size:
            raise DataFileError(
                f"{where} has label {int(outside[0])}, outside 0..{len(class_names) - 1}."
            )
    X = _chw_to_hwc(np.concatenate([p[0] for p in parts[:-1]]))
    y = np.concatenate([p[1] for p in parts[:-1]]).astype(np.intp)
    Xt, yt = _chw_to_hwc(parts[-1][0]), parts[-1][1].astype(np.intp)
    return Dataset(X, y, class_names, (32, 32, 3), name=f"cifar10:{path}", X_test=Xt, y_test=yt)


def _class_names(names, where):
    if not (1 <= len(names) <= 1000 and all(0 < len(n) <= 200 for n in names)):
        raise DataFileError(
            f"{where}: class names are not 1 to 1,000 names of 1 to 200 characters."
        )
    return names


def _python_names(files):
    if PYTHON_META not in files:
        return list(CIFAR10_CLASSES)
    data, where = files[PYTHON_META]
    names = _unpickle(data, where).get("label_names", [])
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataFileError(f"{where}: label_names is not a list of names.")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    return _class_names(names, where) if names else list(CIFAR10_CLASSES)


def _binary_names(files):
    if BINARY_META not in files:
        return list(CIFAR10_CLASSES)
    data, where = files[BINARY_META]
    names = [n.strip() for n in data.decode("utf-8", "replace").splitlines() if n.strip()]
    return _class_names(names, where) if names else list(CIFAR10_CLASSES)
