"""The fused loss + gradient kernel: each row of X read once, while it is in cache.

The numpy objective (``linclass.objective``) calls the BLAS twice per block of rows: the scores
``S = X W^T + b``, then, after the loss's ``dS``, ``dW = dS^T X``. With 10 classes both are
skinny products that OpenBLAS runs far below its peak. This kernel, compiled by numba
(``linclass._fused_kernels``), takes the rows four at a time: their scores (dot products with
the rows of W, two classes at a time), their loss and coefficients ``dS_i``, and at once their
shares ``dS_i[c] * x_i`` of each row of dW, while the four rows are still in cache. For a hinge
only the classes that some row gives a coefficient to are touched.

Where it runs: a fit chooses its kernel once (``choose``) from the data's size, dtype and
loss, and every block of the full-batch gradient (``linclass.objective.BlockSum``, whatever
the source: memory, a file, a Dask chunk) and every minibatch (``Step``) then goes through it.
Blocks are computed by the same worker threads as the numpy path's and added in block order,
so the result is the same bits for any number of threads, and on disk the same as in memory.

Handled: dense float32 or float64 X (a block that is not C-contiguous is copied first); the
Weston-Watkins and Crammer-Singer hinges, plain or squared, and the softmax cross-entropy;
sample weights; a bias or none. Anything else (sparse X, another loss) stays on the numpy path,
the reference. ``LINCLASS_KERNEL=numpy`` (or ``fused``) overrides the choice.

Compilation: numba compiles the kernel the first time a process needs it for a dtype (a few
seconds) and caches the machine code on disk, so later processes load it in a fraction of a
second. Data too small to repay even that (below ``MIN_ELEMENTS`` values of X, such as the
digits default) stay on numpy. Without numba, or when the kernel fails to compile, linclass
says so once (a ``FusedKernelWarning``) and uses numpy.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

from ._typing import Array, Data, Sums
from .errors import InputError, UsageError

if TYPE_CHECKING:
    from .losses import Loss

__all__ = [
    "ENV",
    "MIN_ELEMENTS",
    "SPLIT_ROWS",
    "CompileFailed",
    "FusedKernelWarning",
    "Step",
    "available",
    "choose",
    "loss_and_gradient",
    "supports",
    "warm",
]

ENV = "LINCLASS_KERNEL"
# X with fewer values than this trains on numpy: the compiled kernel would not repay its first
# compilation (a few seconds, once per machine) or its load from the cache (~0.3 s a process).
MIN_ELEMENTS = 2**24
# A minibatch of at least twice this many rows is summed in two halves (``Step``), which two
# threads can compute at once.
SPLIT_ROWS = 64

_lock = threading.Lock()
_kernels = None  # the module linclass._fused_kernels once imported; False when it failed
_failure = None
_said = False  # the fallback has been said (once a process)


class FusedKernelWarning(RuntimeWarning):
    """The fused kernel could not be used (no numba, or it failed to compile): numpy runs."""


def _load():
    """The compiled kernels' module, or None (said once) when numba is missing or broken."""
    global _kernels, _failure
    if _kernels is None:
        with _lock:
            if _kernels is None:
                try:
                    from . import _fused_kernels

                    _kernels = _fused_kernels
                except Exception as exc:  # ImportError, or numba failing on this platform
                    _kernels, _failure = False, exc
    return _kernels or None


def _fall_back(exc):
    """Say once that the fused kernel is out, and why."""
    global _kernels, _failure, _said
    with _lock:
        first = not _said
        _kernels, _failure, _said = False, exc, True
    if first:
        how = (
            "numba is not installed: pip install numba"
            if isinstance(exc, ImportError)
            else f"it failed to compile: {exc!r}"
        )
        warnings.warn(
            f"linclass's fused kernel is not used ({how}); training runs on the numpy "
            "path, which gives the same results more slowly.",
            FusedKernelWarning,
            stacklevel=3,
        )


def available() -> bool:
    """Whether the fused kernel can run here (numba imports; it compiles on first use)."""
    return _load() is not None


def supports(X: Data, loss: object) -> bool:
    """Whether the kernel handles this X and loss: a dense float32/float64 array and a hinge
    or the softmax (else: the numpy path)."""
    from .losses import is_builtin

    return (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype in (np.float32, np.float64)
        and is_builtin(loss)
    )


def choose(X: Data, loss: object) -> str:
    """``"fused"`` or ``"numpy"``: the kernel a fit on ``X`` (an array, sparse matrix, memmap,
    or anything with ``shape`` and ``dtype``) with ``loss`` uses.

    Fused when the kernel handles them, X has at least ``MIN_ELEMENTS`` values and numba is
    there; ``LINCLASS_KERNEL=numpy|fused|auto`` decides instead (``fused`` still falls back,
    with the warning, where the kernel cannot run).
    """
    want = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if want not in ("auto", "numpy", "fused"):
        raise UsageError(f"{ENV} must be auto, numpy or fused; got {want!r}.")
    if want == "numpy":
        return "numpy"
    dense = (
        not hasattr(X, "tocsr")
        and len(getattr(X, "shape", ())) == 2
        and np.dtype(getattr(X, "dtype", object)) in (np.float32, np.float64)
    )
    from .losses import is_builtin

    if not dense or not is_builtin(loss):
        return "numpy"
    if want == "auto" and X.shape[0] * X.shape[1] < MIN_ELEMENTS:
        return "numpy"
    if _load() is None:
        _fall_back(_failure)
        return "numpy"
    return "fused"


def warm(dtype: DTypeLike = np.float32) -> bool:
    """Load the kernel for ``dtype`` now (from numba's cache, or compiled): what a process's
    first fit on large data would otherwise spend (about 1 s with numba's import), done ahead,
    for instance while data load. Returns whether the kernel is ready (False without numba)."""
    from .losses import Hinge

    if _load() is None:
        return False
    dtype = np.dtype(dtype)
    W = np.zeros((2, 1), dtype)
    Step(W, None, Hinge()).loss_and_gradient(W, None, np.ones((1, 1), dtype), np.zeros(1, int))
    return True


def _settings(loss):
    from ._fused_kernels import CRAMMER_SINGER, SOFTMAX, WESTON_WATKINS
    from .losses import SoftmaxCrossEntropy

    if type(loss) is SoftmaxCrossEntropy:
        return 0.0, SOFTMAX, False
    kind = CRAMMER_SINGER if loss.variant == "crammer_singer" else WESTON_WATKINS
    return float(loss.margin), kind, bool(loss.squared)


def _check(W, b, X, y, sample_weight):
    n, C = X.shape[0], W.shape[0]
    if (
        W.ndim != 2
        or W.shape[1] != X.shape[1]
        or np.shape(y) != (n,)
        or n == 0
        or (b is not None and np.shape(b) != (C,))
        or (sample_weight is not None and np.shape(sample_weight) != (n,))
    ):
        raise InputError(
            f"shapes do not fit: X {X.shape}, W {np.shape(W)}, b "
            f"{None if b is None else np.shape(b)}, y {np.shape(y)}, sample_weight "
            f"{None if sample_weight is None else np.shape(sample_weight)}."
        )
    lo, hi = int(np.min(y)), int(np.max(y))
    if lo < 0 or hi >= C:
        raise InputError(f"labels must be class indices in 0..{C - 1}; got {lo}..{hi}.")


class Step:
    """The kernel's calls for one fit's weights, with scratch space made once: a minibatch step
    (``loss_and_gradient``) reuses its dW and db from step to step, and a block of the full
    batch (``block_terms``) allocates only its own.

    Parameters
    ----------
    W : ndarray of shape (n_classes, n_features)
        The weights (float32 or float64): the kernel computes in their dtype.
    b : ndarray of shape (n_classes,) or None
    loss : Hinge or SoftmaxCrossEntropy
    """

    def __init__(self, W: Array, b: Array | None, loss: Loss) -> None:
        k = _load()
        if k is None:
            raise RuntimeError("the fused kernel needs numba; check fused.choose() first.")
        self._rows = k.rows
        self.dtype = W.dtype
        C = W.shape[0]
        self.margin, self.kind, self.squared = _settings(loss)
        self.margin = self.dtype.type(self.margin)
        self._zero_b = np.zeros(C, self.dtype)
        self._ones = np.ones(0, self.dtype)
        self._local = threading.local()  # scratch per thread (blocks run in worker threads)
        self._grads: list[Array] | None = None  # a minibatch's dW and db, reused

    def _scratch(self, C):
        s = getattr(self._local, "s", None)
        if s is None or s[0].shape[1] != C:
            s = self._local.s = (
                np.empty((4, C), self.dtype),
                np.empty((4, C), self.dtype),
                np.empty(C, np.int64),
            )
        return s

    def _weights(self, n, w):
        if w is None:
            if self._ones.shape[0] < n:
                self._ones = np.ones(n, self.dtype)
            return self._ones[:n]
        return np.ascontiguousarray(w, dtype=self.dtype)

    def sums(
        self,
        W: Array,
        b: Array | None,
        X: Array,
        y: Array,
        w: Array | None,
        dW: Array,
        db: Array,
    ) -> tuple[float, int]:
        """Add rows X (labels y, weights w or None) into dW and db; return ``(weighted loss
        sum, n_correct)``. W, b, dW, db must be C-contiguous, of the step's dtype."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        W = np.ascontiguousarray(W, dtype=self.dtype)
        b = self._zero_b if b is None else np.ascontiguousarray(b, dtype=self.dtype)
        _check(W, b, X, y, w)
        y = np.ascontiguousarray(y, dtype=np.int64)
        S, G, active = self._scratch(W.shape[0])
        try:
            loss, correct = self._rows(
                X,
                y,
                self._weights(X.shape[0], w),
                W,
                b,
                self.margin,
                self.kind,
                self.squared,
                dW,
                db,
                S,
                G,
                active,
            )
        except Exception as exc:  # numba's compile errors are not one class
            if type(exc).__module__.split(".")[0] != "numba":
                raise
            _fall_back(exc)
            raise CompileFailed from exc
        return float(loss), int(correct)

    def loss_and_gradient(
        self,
        W: Array,
        b: Array | None,
        X: Array,
        y: Array,
        reg: float = 0.0,
        sample_weight: Array | None = None,
        workers: int = 1,
    ) -> Sums:
        """``(loss, dW, db, n_correct)`` of a minibatch, as ``linclass.objective`` gives them,
        into dW and db arrays this step reuses (valid until its next call).

        A batch of at least ``2 * SPLIT_ROWS`` rows is summed in two halves, each into its own
        dW, added first half first: with ``workers`` of 2 or more the second half runs on a
        worker thread while this one computes the first, with the same bits as one after the
        other (``linclass.threads.Chooser`` picks ``workers`` by the clock)."""
        from .objective import _pool, with_penalty

        if self._grads is None or self._grads[0].shape != W.shape:
            self._grads = [
                np.empty(W.shape, self.dtype),
                np.empty(W.shape[0], self.dtype),
                np.empty(W.shape, self.dtype),
                np.empty(W.shape[0], self.dtype),
            ]
        dW, db, dW2, db2 = self._grads
        for a in self._grads:
            a.fill(0)
        n = X.shape[0]
        w = sample_weight
        if n >= 2 * SPLIT_ROWS:
            h = n // 2
            second = (W, b, X[h:], y[h:], None if w is None else w[h:], dW2, db2)
            later = _pool(2).submit(self.sums, *second) if workers > 1 else None
            loss, correct = self.sums(W, b, X[:h], y[:h], None if w is None else w[:h], dW, db)
            loss2, correct2 = later.result() if later is not None else self.sums(*second)
            loss += loss2
            correct += correct2
            dW += dW2
            db += db2
        else:
            loss, correct = self.sums(W, b, X, y, w, dW, db)
        total = n if w is None else float(np.sum(w, dtype=np.float64))
        if total > 0:
            scale = self.dtype.type(1.0 / total)
            dW *= scale
            db *= scale
            loss /= total
        return with_penalty(W, (loss, dW, None if b is None else db, correct), reg)

    def block_terms(
        self,
        W: Array,
        b: Array | None,
        X: Array,
        y: Array,
        w: Array | None,
        total_weight: float,
    ) -> tuple[int, float, Array, Array | None]:
        """One block's ``(n_correct, weighted loss, dW_b, db_b)`` as ``BlockSum.part`` gives
        them (each scaled by ``1 / total_weight``)."""
        dW = np.zeros(W.shape, self.dtype)
        db = np.zeros(W.shape[0], self.dtype)
        loss, correct = self.sums(W, b, X, y, w, dW, db)
        scale = self.dtype.type(1.0 / total_weight)
        dW *= scale
        db *= scale
        return correct, loss / total_weight, dW, None if b is None else db


class CompileFailed(RuntimeError):
    """The kernel failed to compile (already said): the caller runs numpy instead."""


def loss_and_gradient(
    W: Array,
    b: Array | None,
    X: Array,
    y: Array,
    loss_fn: Loss,
    reg: float = 0.0,
    sample_weight: Array | None = None,
    workers: int = 1,
) -> Sums:
    """``(loss, dW, db, n_correct)`` as ``linclass.objective.loss_and_gradient`` gives them,
    computed by the fused kernel (``supports(X, loss_fn)`` must hold), its blocks on
    ``workers`` threads."""
    from .objective import loss_and_gradient as objective

    if not supports(X, loss_fn):
        raise InputError(
            "the fused kernel takes a dense float32/float64 X and a hinge or the "
            "softmax; use linclass.objective."
        )
    if _load() is None:
        raise RuntimeError(f"the fused kernel cannot run here: {_failure!r}")
    _check(W, b, X, y, sample_weight)
    return objective(W, b, X, y, loss_fn, reg, sample_weight, workers=workers, kernel="fused")
