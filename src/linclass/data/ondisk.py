"""Data sets on disk, for data bigger than memory: written once by ``prepare``, streamed after.

``prepare`` loads a data set, splits it (train / validation / test, as ``linclass train``
does), fits the mean image on the training part, and writes each part as a float32 on-disk
array, already preprocessed, chunk by chunk: the float32 data (and its ``repeat`` augmented
copies) never exist in memory at once. The training rows are written in a random order, so
that minibatches may be read as contiguous blocks. A prepared folder holds::

    meta.json                 what it is: class names, image shape, pixel scale, the split,
                              the source data set, the augmentation, the file format
    mean.npy (scale.npy)      the preprocessing fitted on the training part
    train.npy  train_y.npy    the parts: float32 rows (or train.zarr, ... with format="zarr")
    val.npy    val_y.npy      and int64 labels indexing class_names
    test.npy   test_y.npy

``open_prepared`` opens it again without reading the rows: an ``NpyArray`` for ``.npy`` (the
file read with ``pread`` where rows are asked for, never memory-mapped, so that neither the
resident set nor the address space grows with the file), ``zarr.open_array`` for zarr.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Data, PathArg, Progress
from ..errors import InputError
from .dataset import DataFileError, Dataset
from .preprocess import MeanImage
from .splits import train_val_test_split

__all__ = ["prepare", "open_prepared", "Prepared", "NpyArray", "augment", "dask_rows", "FORMATS"]

FORMAT = "linclass-prepared"
FORMAT_VERSION = 1
FORMATS = ("npy", "zarr")
_CHUNK_BYTES = 64 * 2**20


class NpyArray:
    """The array in a ``.npy`` file, read on demand by ``pread``: never mapped, never read
    whole unless asked (``np.asarray``). ``X[i]`` and ``X[a:b]`` read rows.

    ``linclass.sources.Streamed`` streams it; the estimators take it wherever they take an
    ``np.memmap``. Its header is checked when it opens: a C-ordered numeric array, and a file
    long enough for the shape it declares.
    """

    def __init__(self, path: PathArg) -> None:
        self.path = str(path)
        with open(self.path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
                read = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }[version]
                shape, fortran, dtype = read(f)
            except (ValueError, KeyError, EOFError) as e:
                raise DataFileError(
                    f"{self.path} is not a .npy file this linclass reads ({e})."
                ) from None
            self.offset = f.tell()
            size = os.fstat(f.fileno()).st_size
        if fortran or dtype.kind not in "biuf" or dtype.hasobject:
            raise DataFileError(
                f"{self.path} holds a {'Fortran-ordered ' if fortran else ''}"
                f"{dtype} array; linclass streams C-ordered numbers only."
            )
        self.shape, self.dtype = tuple(int(s) for s in shape), dtype
        need = self.offset + int(np.prod(self.shape)) * dtype.itemsize
        if size < need:
            raise DataFileError(
                f"{self.path} is shorter than its header says ({size:,} bytes "
                f"of {need:,}): it was cut short; write it again."
            )

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))

    def __len__(self) -> int:
        return self.shape[0]

    def file_position(self) -> tuple[str, int]:
        """``(path, offset)``: where the rows start (``linclass.sources.Streamed`` reads there)."""
        return self.path, self.offset

    def __getitem__(self, key: int | slice) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"row {key} is out of range for {n} rows.")
            return self[i : i + 1][0]
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(
                "an NpyArray reads rows: X[i] or X[a:b]; use np.asarray(X) for the whole array."
            )
        start, stop, _ = key.indices(n)
        rows = max(0, stop - start)
        row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        out = np.empty((rows, *self.shape[1:]), self.dtype)
        if out.size == 0:
            return out
        view, pos, done = out.data.cast("B"), self.offset + start * row_bytes, 0
        with open(self.path, "rb") as f:
            while done < len(view):
                got = os.preadv(f.fileno(), [view[done:]], pos + done)
                if got == 0:
                    raise DataFileError(f"{self.path} ended early: it was cut short.")
                done += got
        return out

    def __array__(self, dtype=None, copy=None):
        X = self[:]
        return X if dtype is None else X.astype(dtype)

    def __repr__(self):
        return f"NpyArray({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def _variants(k):
    """The first ``k`` augmentations: (flip, dy, dx), the original first."""
    shifts = [(0, 0), (0, 2), (0, -2), (2, 0), (-2, 0), (2, 2), (-2, -2), (2, -2), (-2, 2)]
    out = [(flip, dy, dx) for dy, dx in shifts for flip in (False, True)]
    return out[:k]


def augment(images: np.ndarray, variant: tuple[bool, int, int]) -> np.ndarray:
    """One augmented copy of a batch of images ``(n, h, w[, c])``: flipped left-right and/or
    shifted by ``(dy, dx)`` pixels with the edge repeated."""
    flip, dy, dx = variant
    out = images[:, :, ::-1] if flip else images
    if dy or dx:
        h, w = out.shape[1:3]
        pad = [(0, 0), (abs(dy), abs(dy)), (abs(dx), abs(dx))] + [(0, 0)] * (out.ndim - 3)
        padded = np.pad(out, pad, mode="edge")
        out = padded[:, abs(dy) - dy : abs(dy) - dy + h, abs(dx) - dx : abs(dx) - dx + w]
    return out


class _Writer:
    """Rows written in order into a new float32 array file (npy or zarr), without a memmap."""

    def __init__(self, path, shape, fmt, chunk_rows):
        self.path, self.shape, self.fmt, self.row = Path(path), shape, fmt, 0
        if fmt == "zarr":
            zarr = _zarr()
            self.z = zarr.create_array(
                store=str(path),
                shape=shape,
                dtype="float32",
                chunks=(max(1, min(chunk_rows, shape[0])), shape[1]),
            )
        else:
            self.f = open(path, "wb")  # noqa: SIM115 - open until close(), as a writer
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                "fortran_order": False,
                "shape": tuple(shape),
            }
            np.lib.format.write_array_header_1_0(self.f, header)

    def write(self, rows):
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.fmt == "zarr":
            self.z[self.row : self.row + len(rows)] = rows
        else:
            self.f.write(memoryview(rows).cast("B"))
        self.row += len(rows)

    def close(self):
        if self.row != self.shape[0]:
            raise RuntimeError(f"wrote {self.row} rows of {self.shape[0]} to {self.path}")
        if self.fmt != "zarr":
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError(
            "the zarr format needs the zarr package: pip install zarr "
            "(or use the default npy format)."
        ) from None
    return zarr


def _write_part(folder, name, X, y, pre, fmt, image_shape, repeat=1, rng=None, progress=None):
    """Write one part: ``repeat`` variants of each row of X (uint8), preprocessed, in a random
    order when ``rng`` is given; returns the number of rows."""
    n = len(X) * repeat
    D = X.shape[1]
    chunk = max(1, _CHUNK_BYTES // (4 * D))
    # Row i of the output is variant order[i] // len(X) of image order[i] % len(X).
    order = np.arange(n) if rng is None else rng.permutation(n)
    variants = _variants(repeat)
    ext = ".zarr" if fmt == "zarr" else ".npy"
    writer = _Writer(folder / f"{name}{ext}", (n, D), fmt, chunk)
    labels = np.empty(n, np.int64)
    for start in range(0, n, chunk):
        idx = order[start : start + chunk]
        image, variant = idx % len(X), idx // len(X)
        rows = np.empty((len(idx), D), X.dtype)
        for v in np.unique(variant):
            pick = variant == v
            imgs = X[image[pick]].reshape((-1, *image_shape))
            rows[pick] = augment(imgs, variants[v]).reshape(int(pick.sum()), D)
        writer.write(pre.transform(rows))
        labels[start : start + len(idx)] = y[image]
        if progress is not None:
            progress(name, start + len(idx), n)
    writer.close()
    np.save(folder / f"{name}_y.npy", labels)
    return n


def prepare(
    dataset: Dataset,
    out: PathArg,
    *,
    fmt: str = "npy",
    repeat: int = 1,
    val_size: float = 0.1,
    test_size: float = 0.2,
    seed: int = 0,
    standardize: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a data set as on-disk float32 parts that ``linclass train`` can stream.

    Parameters
    ----------
    dataset : Dataset
        As a loader returns it (``linclass.data.load_dataset``).
    out : str or Path
        A folder that must not exist yet; it appears whole or not at all (the parts are written
        into a temporary folder beside it, which is renamed at the end).
    fmt : {"npy", "zarr"}
    repeat : int, default 1
        Write each training image this many times: the original, its left-right flip, then
        shifts of 2 pixels (with and without the flip), up to 18 variants. The validation and
        test parts are never augmented.
    val_size, test_size, seed
        The split, as ``train_val_test_split`` makes it.
    standardize : bool
        Also divide by the training standard deviation (``MeanImage(standardize=True)``).
    progress : callable, optional
        ``progress(part, rows_done, rows_total)`` as rows are written.

    Returns
    -------
    dict
        The ``meta.json`` written.
    """
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {FORMATS}; got {fmt!r}.")
    if fmt == "zarr":
        _zarr()
    if not (isinstance(repeat, (int, np.integer)) and 1 <= repeat <= len(_variants(99))):
        raise InputError(
            f"repeat must be an integer from 1 to {len(_variants(99))}; got {repeat!r}."
        )
    out = Path(out)
    if out.exists():
        raise FileExistsError(
            f"{out} already exists; give a new folder to --out (nothing was written)."
        )
    image_shape = tuple(dataset.image_shape)
    if repeat > 1 and len(image_shape) < 2:
        raise InputError("repeat > 1 needs images (an image_shape of 2 or 3 axes).")
    sp = train_val_test_split(dataset, val_size=val_size, test_size=test_size, random_state=seed)
    pre = MeanImage(standardize=standardize).fit(sp.X_train)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        rng = np.random.default_rng(seed)
        rows = {
            "train": _write_part(
                tmp, "train", sp.X_train, sp.y_train, pre, fmt, image_shape, repeat, rng, progress
            ),
            "val": _write_part(
                tmp, "val", sp.X_val, sp.y_val, pre, fmt, image_shape, progress=progress
            ),
            "test": _write_part(
                tmp, "test", sp.X_test, sp.y_test, pre, fmt, image_shape, progress=progress
            ),
        }
        np.save(tmp / "mean.npy", pre.mean_)
        if pre.scale_ is not None:
            np.save(tmp / "scale.npy", pre.scale_)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "array_format": fmt,
            "source": dataset.name,
            "class_names": [str(c) for c in dataset.class_names],
            "image_shape": list(image_shape),
            "pixel_max": int(dataset.pixel_max),
            "rows": rows,
            "n_features": int(sp.X_train.shape[1]),
            "repeat": int(repeat),
            "seed": seed,
            "val_size": val_size,
            "test_size": test_size,
            "standardize": bool(standardize),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


@dataclass
class Prepared:
    """A prepared folder, opened: each part's rows (on disk) and labels, and its preprocessing.

    ``X_train`` and the others are ``np.memmap`` (npy) or zarr arrays, preprocessed float32;
    ``y_*`` are int64 arrays in memory; ``pre`` is the fitted ``MeanImage``.
    """

    X_train: object
    y_train: np.ndarray
    X_val: object
    y_val: np.ndarray
    X_test: object
    y_test: np.ndarray
    pre: MeanImage
    meta: dict[str, Any]


def open_prepared(path: PathArg) -> Prepared:
    """Open a folder written by ``prepare`` without reading its rows; every part is checked
    against ``meta.json`` (a missing, foreign or cut-short file is a ``DataFileError``)."""
    folder = Path(path)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except FileNotFoundError:
        raise DataFileError(
            f"{folder} is not a prepared data set (no meta.json); make one with "
            "`linclass prepare DATASET --out PATH`."
        ) from None
    except (ValueError, OSError) as e:
        raise DataFileError(f"{folder}/meta.json is damaged ({e}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataFileError(f"{folder}/meta.json is not a linclass prepared data set.")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise DataFileError(
            f"{folder} has format version {meta['format_version']}; this "
            f"linclass reads up to {FORMAT_VERSION}. Upgrade linclass."
        )
    try:
        fmt, D = meta["array_format"], int(meta["n_features"])
        parts = {}
        for name in ("train", "val", "test"):
            n = int(meta["rows"][name])
            if fmt == "zarr":
                X = _zarr().open_array(str(folder / f"{name}.zarr"), mode="r")
            else:
                X = NpyArray(folder / f"{name}.npy")
            y = np.load(folder / f"{name}_y.npy", allow_pickle=False)
            if (
                X.shape != (n, D)
                or X.dtype != np.float32
                or y.shape != (n,)
                or y.dtype.kind not in "iu"
            ):
                raise DataFileError(
                    f"{folder}: the {name} part is {X.shape} {X.dtype} with "
                    f"labels {y.shape}; meta.json says {n} rows of {D} float32."
                )
            if n and (y.min() < 0 or y.max() >= len(meta["class_names"])):
                raise DataFileError(
                    f"{folder}: {name}_y.npy has labels outside the "
                    f"{len(meta['class_names'])} classes."
                )
            parts[name] = (X, y)
        pre = MeanImage(standardize=bool(meta.get("standardize")))
        pre.mean_ = np.load(folder / "mean.npy", allow_pickle=False)
        scale = folder / "scale.npy"
        pre.scale_ = np.load(scale, allow_pickle=False) if scale.exists() else None
        pre.n_features_in_ = D
    except DataFileError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise DataFileError(f"{folder} is damaged or incomplete ({e}).") from None
    return Prepared(*parts["train"], *parts["val"], *parts["test"], pre=pre, meta=meta)


def _read_rows(path, start, stop):
    return NpyArray(path)[start:stop]


def dask_rows(
    X: Data, workers: int = 1, chunk_bytes: int = 64 * 2**20, chunk_rows: int | None = None
) -> Data:
    """X as a dask array of row chunks, for training on Dask.

    A ``.npy`` file (``NpyArray``) becomes one loader task per chunk, which the workers run
    (they must see the same path: the same machine, or a shared file system), so a lost chunk
    is read again; an in-memory array is split as it is. ``chunk_rows`` rows a chunk, or about
    ``chunk_bytes`` and at least one chunk per worker thread.
    """
    import dask.array as da
    from dask import delayed

    n, D = X.shape
    row_bytes = D * np.dtype(X.dtype).itemsize
    rows = chunk_rows or max(1, min(chunk_bytes // row_bytes, -(-n // workers)))
    if isinstance(X, NpyArray):
        parts = [
            da.from_delayed(
                delayed(_read_rows)(X.path, s, min(n, s + rows)),
                shape=(min(n, s + rows) - s, D),
                dtype=X.dtype,
            )
            for s in range(0, n, rows)
        ]
        return da.concatenate(parts, axis=0)
    if type(X).__module__.split(".")[0] == "zarr":
        return da.from_zarr(X).rechunk((rows, D))
    return da.from_array(np.asarray(X), chunks=(rows, D))
