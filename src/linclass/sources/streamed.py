"""The streamed data source: X on disk, read in row blocks.

The process never holds the whole X. A prefetch thread fetches the next block while the engine
computes on the current one: for a file (a ``.npy``, any ``np.memmap``) it maps just that
block's window and fills its page tables in one call (``MADV_POPULATE_READ``), and unmaps it
once the block is used, so the engine computes on the page cache with no copy; or, with
``read="pread"``, it copies the block into one of two reused buffers. A zarr array is sliced.
Either way the caller's own memory map is never read through: one that has been holds every
page of the file in the process's resident set.

* Full batch (and L-BFGS): the blocks in order; each block is summed in the same sub-blocks,
  in the same order, as ``linclass.objective.loss_and_gradient`` sums an in-memory X, so the
  result is the same to the last bit.
* Minibatches: ``shuffle=True`` visits the blocks in a random order and shuffles the rows
  inside each block; ``"blocks"`` only the block order; ``False`` neither (then the batches are
  those of an in-memory fit with ``shuffle=False``). Each block holds a whole number of
  batches.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .._typing import Array, Block, Data, Sums
from ..errors import InputError, LinclassError
from ..objective import BlockSum, default_block_rows
from ..optim import mean_of_norms, row_squared_norms
from ..scores import scores
from .base import DataSource, minibatch_size, nonfinite_rows_error

if TYPE_CHECKING:
    from ..losses import Loss

__all__ = ["Streamed", "is_on_disk", "DataChangedError"]

_BLOCK_BYTES = 32 * 2**20  # per block; two blocks in flight
_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14


class DataChangedError(LinclassError, RuntimeError):
    """The file under a streamed X changed, or is shorter than its header says."""


def is_on_disk(X: object) -> bool:
    """True for the arrays ``Streamed`` reads: an ``np.memmap`` (``np.load(path,
    mmap_mode="r")``), a ``linclass.data.ondisk.NpyArray``, or a zarr array."""
    return (
        isinstance(X, np.memmap)
        or hasattr(X, "file_position")
        or type(X).__module__.split(".")[0] == "zarr"
    )


def _memmap_position(X):
    """``(path, byte offset of X[0, 0])`` of a C-contiguous memmap, found through its base."""
    root = X
    while isinstance(root.base, np.memmap):
        root = root.base
    if root.filename is None or not X.flags.c_contiguous:
        return None
    return root.filename, root.offset + (X.ctypes.data - root.ctypes.data)


class _FileRows:
    """Rows of a C-ordered array stored in a file.

    ``mapped=True`` maps each block's pages for as long as it is used (``mmap`` of that window
    only, filled in one call by ``MADV_POPULATE_READ`` in the prefetch thread, unmapped after),
    so the engine computes on the page cache itself with no copy. ``mapped=False`` copies each
    block into a buffer with ``os.preadv``: a copy more, but a file truncated while it is read
    then gives a clear error, where a memory map can only die of SIGBUS.
    """

    def __init__(self, path, offset, shape, dtype, mapped=True):
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, np.dtype(dtype)
        self.row_bytes = shape[1] * self.dtype.itemsize
        self.mapped, self.populate = mapped, True
        self.fd = os.open(path, os.O_RDONLY)
        st = os.fstat(self.fd)
        self.stamp = (st.st_size, st.st_mtime_ns)
        need = offset + shape[0] * self.row_bytes
        if st.st_size < need:
            os.close(self.fd)
            raise DataChangedError(
                f"{path} is shorter than its header says: {st.st_size:,} bytes where "
                f"{shape[0]:,} rows of {shape[1]:,} {self.dtype} need {need:,}. The file is "
                "truncated (an interrupted copy or download?): write it again."
            )

    def check_unchanged(self):
        st = os.fstat(self.fd)
        if (st.st_size, st.st_mtime_ns) != self.stamp:
            raise DataChangedError(
                f"{self.path} changed during the fit (its size or time stamp moved): the rows "
                "read so far are no longer the data. Do not write to a file while training "
                "on it; train again."
            )

    def _cut_short(self, start, stop):
        return DataChangedError(
            f"{self.path} ended before rows {start:,}-{stop:,}: it is shorter than its header "
            "says, or was cut short during the fit."
        )

    def fetch(self, start, stop, buf):
        """``(rows, handle)``: the rows, and what ``release`` lets go of once they are used."""
        if not self.mapped:
            return self.read(start, stop, buf), None
        pos, end = self.offset + start * self.row_bytes, self.offset + stop * self.row_bytes
        first = pos - pos % mmap.ALLOCATIONGRANULARITY
        try:
            m = mmap.mmap(self.fd, end - first, access=mmap.ACCESS_READ, offset=first)
        except ValueError:  # the window reaches past the end of the file
            raise self._cut_short(start, stop) from None
        if self.populate:
            try:
                m.madvise(_MADV_POPULATE_READ, 0, end - first)
            except OSError as e:
                if e.errno == errno.EFAULT:
                    m.close()
                    raise self._cut_short(start, stop) from None
                self.populate = False  # an older kernel: the pages fault in as they are read
        rows = np.frombuffer(
            m, self.dtype, count=(stop - start) * self.shape[1], offset=pos - first
        ).reshape(stop - start, self.shape[1])
        return rows, m

    @staticmethod
    def release(handle):
        if handle is not None:
            # a view of it may still be alive (BufferError): it is unmapped when that goes
            with contextlib.suppress(BufferError):
                handle.close()

    def read(self, start, stop, out):
        """Copy rows ``start:stop`` into ``out`` (by ``preadv``); returns that part of it."""
        view = memoryview(out[: stop - start]).cast("B")
        pos, done = self.offset + start * self.row_bytes, 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], pos + done)
            if got == 0:
                raise self._cut_short(start, stop)
            done += got
        return out[: stop - start]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _SlicedRows:
    """Reads rows of any array that slices into numpy (zarr, or a memmap not laid out in rows)."""

    def __init__(self, X):
        self.X = X

    def check_unchanged(self):
        pass

    def fetch(self, start, stop, buf):
        return self.read(start, stop, buf), None

    @staticmethod
    def release(handle):
        pass

    def read(self, start, stop, out):
        out[: stop - start] = np.asarray(self.X[start:stop])
        return out[: stop - start]

    def close(self) -> None:
        pass


class _Prefetch:
    """Iterates ``(start, stop, rows)`` over ``blocks``, fetching each one ahead in a thread.

    ``rows`` is valid until the next block is asked for. ``orders[i]``, where given, is a
    permutation of block i's rows, applied as it is fetched (into one of the buffers).
    """

    def __init__(self, reader, blocks, buffers, orders=None, scratch=None):
        self.reader, self.blocks, self.orders, self.scratch = reader, blocks, orders, scratch
        self.free, self.ready = queue.Queue(), queue.Queue()
        for buf in buffers:  # also bounds how far the thread runs ahead
            self.free.put(buf)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name="linclass-prefetch", daemon=True)

    def _work(self):
        try:
            for i, (start, stop) in enumerate(self.blocks):
                buf = self.free.get()
                if self.stop.is_set():
                    return
                if self.orders is None:
                    rows, handle = self.reader.fetch(start, stop, buf)
                else:
                    raw, handle = self.reader.fetch(start, stop, self.scratch)
                    rows = np.take(raw, self.orders[i], axis=0, out=buf[: stop - start])
                    del raw
                    self.reader.release(handle)
                    handle = None
                self.ready.put((start, stop, rows, handle, buf))
            self.ready.put(None)
        except BaseException as e:  # raised in the consumer's thread
            self.ready.put(e)

    def __iter__(self):
        self.thread.start()
        held = []  # (handle, buffer) of the block the consumer may still be reading
        try:
            while True:
                item = self.ready.get()
                for handle, buf in held:
                    self.reader.release(handle)
                    self.free.put(buf)
                held = []
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                start, stop, rows, handle, buf = item
                held.append((handle, buf))
                yield start, stop, rows
                del rows
        finally:
            self.stop.set()
            self.free.put(None)  # wakes a reader waiting for a buffer
            self.thread.join()
            for handle, _ in held:
                self.reader.release(handle)
            while not self.ready.empty():
                item = self.ready.get()
                if isinstance(item, tuple):
                    self.reader.release(item[3])


class Streamed(DataSource):
    """Training data on disk, streamed in row blocks.

    Parameters
    ----------
    X : np.memmap, NpyArray or zarr array of shape (n_samples, n_features), float32 or float64
        Never read whole: a file-backed X is read from its file block by block (``read``),
        never through the caller's map.
    y : ndarray of int of shape (n_samples,)
        Class indices, in memory.
    sample_weight : ndarray of shape (n_samples,), optional
    batch_size : int or None
        Rows per minibatch; None for the full batch.
    shuffle : True, False or "blocks"
    rng : numpy.random.Generator, optional
    block_rows : int, optional
        Rows per read; by default about 32 MB, a whole number of batches (or of the blocked
        objective's sub-blocks for the full batch).
    read : {"mmap", "pread"}, default "mmap"
        How a file's blocks are read: mapped (no copy; a file truncated during the fit can
        then kill the process with SIGBUS, as with any memory map) or copied by ``pread`` (a
        copy more; every change to the file is a clear error). Arrays that are not a plain
        file (zarr) are sliced.
    """

    def __init__(
        self,
        X: Data,
        y: Array,
        sample_weight: Array | None = None,
        batch_size: int | None = None,
        shuffle: bool | str = True,
        rng: np.random.Generator | None = None,
        block_rows: int | None = None,
        read: str = "mmap",
    ) -> None:
        if getattr(X, "ndim", None) != 2:
            raise InputError(
                f"X on disk must be 2-d (n_samples, n_features); got shape "
                f"{getattr(X, 'shape', None)}."
            )
        self.dtype = np.dtype(X.dtype)
        if self.dtype not in (np.float32, np.float64):
            raise InputError(
                f"X on disk must be float32 or float64 to be streamed; it is "
                f"{self.dtype}. Write it as float32 (`linclass prepare` does)."
            )
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        if self.n_samples == 0:
            raise InputError("X has 0 rows.")
        if read not in ("mmap", "pread"):
            raise InputError(f'read must be "mmap" or "pread"; got {read!r}.')
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = minibatch_size(batch_size, self.n_samples)
        self._shuffle, self._rng = shuffle, rng or np.random.default_rng()
        self.sub_rows = default_block_rows(X)  # the in-memory objective's blocks
        unit = self.batch_size or self.sub_rows  # (None: the full batch)
        if block_rows is None:
            block_rows = max(1, _BLOCK_BYTES // (unit * self.n_features * self.dtype.itemsize))
            block_rows *= unit
        self.block_rows = min(int(block_rows), self.n_samples)
        where: tuple[str, int] | None
        if hasattr(X, "file_position"):
            where = X.file_position()
        else:
            where = _memmap_position(X) if isinstance(X, np.memmap) else None
        self.reader = (
            _FileRows(*where, X.shape, X.dtype, mapped=read == "mmap") if where else _SlicedRows(X)
        )
        self._buffers = None

    # -- reading ------------------------------------------------------------------------------
    def _blocks(self, order=None):
        starts = range(0, self.n_samples, self.block_rows)
        blocks = [(s, min(self.n_samples, s + self.block_rows)) for s in starts]
        return blocks if order is None else [blocks[i] for i in order]

    def _read(self, blocks, orders=None):
        if self._buffers is None:
            self._buffers = [
                np.empty((self.block_rows, self.n_features), self.dtype) for _ in range(2)
            ]
        scratch = None
        if orders is not None:
            scratch = np.empty((self.block_rows, self.n_features), self.dtype)
        self.reader.check_unchanged()
        yield from _Prefetch(self.reader, blocks, self._buffers, orders, scratch)
        self.reader.check_unchanged()

    def _weights(self, start, stop):
        return None if self.sample_weight is None else self.sample_weight[start:stop]

    # -- the contract -------------------------------------------------------------------------
    def loss_and_gradient(
        self, W: Data, b: Data | None, loss: Loss, reg: float, workers: int = 1
    ) -> Sums:
        n = self.n_samples
        total = (
            n if self.sample_weight is None else float(np.sum(self.sample_weight, dtype=np.float64))
        )
        acc = BlockSum(W, b, loss, total, self.kernel(loss))
        for start, stop, rows in self._read(self._blocks()):
            # the in-memory objective's blocks, in its order (done before the window's buffer
            # is read into again)
            ends = [
                (s, min(stop - start, s + self.sub_rows))
                for s in range(0, stop - start, self.sub_rows)
            ]
            acc.add_all(
                [
                    (rows[s:e], self.y[start + s : start + e], self._weights(start + s, start + e))
                    for s, e in ends
                ],
                workers,
            )
        result = acc.result(reg)
        if not np.isfinite(result[0]):
            self.check_finite()
        return result

    def epoch(self) -> Iterator[Block]:
        rng = self._rng if self._shuffle else None
        blocks = self._blocks(
            None if rng is None else rng.permutation(-(-self.n_samples // self.block_rows))
        )
        orders = None
        if rng is not None and not isinstance(self._shuffle, str):
            orders = [rng.permutation(stop - start) for start, stop in blocks]
        B = self.batch_size or self.n_samples
        for i, (start, stop, rows) in enumerate(self._read(blocks, orders)):
            idx = None if orders is None else orders[i] + start
            for s in range(0, stop - start, B):
                e = min(stop - start, s + B)
                if idx is None:
                    yield (
                        rows[s:e],
                        self.y[start + s : start + e],
                        self._weights(start + s, start + e),
                    )
                else:
                    pos = idx[s:e]
                    yield (
                        rows[s:e],
                        self.y[pos],
                        None if self.sample_weight is None else self.sample_weight[pos],
                    )

    def scores(self, W: Array, b: Array | None) -> Array:
        """``X @ W.T + b`` for every row, computed block by block."""
        out = np.empty((self.n_samples, W.shape[0]), np.result_type(W.dtype, self.dtype))
        for start, stop, rows in self._read(self._blocks()):
            out[start:stop] = scores(W, b, rows)
        return out

    def evaluate(self, W: Data, b: Data | None, loss: Loss) -> tuple[float, float]:
        total_loss, correct = 0.0, 0
        for start, stop, rows in self._read(self._blocks()):
            S = scores(W, b, rows)
            value, _ = loss(S, self.y[start:stop])
            total_loss += value * (stop - start)
            correct += int(np.count_nonzero(S.argmax(axis=1) == self.y[start:stop]))
        return total_loss / self.n_samples, correct / self.n_samples

    def mean_squared_norm(self) -> float:
        """One pass over the file; it also finds rows with NaN or inf (a clear error)."""
        norms = np.empty(self.n_samples, np.float64)
        for start, stop, rows in self._read(self._blocks()):
            norms[start:stop] = row_squared_norms(rows)
        bad = np.flatnonzero(~np.isfinite(norms))
        if len(bad):
            raise nonfinite_rows_error(bad)
        return mean_of_norms(norms, self.sample_weight)

    def sample_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out = np.empty((len(rows), self.n_features), self.dtype)
        for i, r in enumerate(rows):
            self.reader.read(int(r), int(r) + 1, out[i : i + 1])
        return out, None if self.sample_weight is None else self.sample_weight[rows]

    def close(self) -> None:
        self.reader.close()
        self._buffers = None

    # -- errors -------------------------------------------------------------------------------
    def check_finite(self) -> None:
        """Raise a ValueError naming the rows of X with NaN or inf, if there are any."""
        for start, _stop, rows in self._read(self._blocks()):
            bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
            if len(bad):
                raise nonfinite_rows_error(bad + start)
