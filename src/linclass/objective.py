"""The training objective: data loss plus regularization, over a data set or a minibatch.

``loss_and_gradient`` runs the three steps once: ``scores`` gives S, a loss on scores gives
``(loss, dS)``, ``scores_backward`` gives ``(dW, db)``, and the L2 penalty ``reg * sum(W**2)``
adds ``2 * reg * W`` (the bias is not regularized). On a large X it works block by block of
rows, so each block is read from memory once for both matrix products while it is still in
cache, and S never exists for the whole data set at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeAlias, cast

import numpy as np

from ._typing import Array, Block, Data, LossFn, Sums
from .errors import InputError
from .scores import scores, scores_backward

if TYPE_CHECKING:
    from .fused import Step
    from .losses import Loss

__all__ = [
    "loss_and_gradient",
    "BlockSum",
    "with_penalty",
    "regularization",
    "penalty",
    "default_block_rows",
]

# A block of X this size stays in the last-level cache between the two products.
_BLOCK_BYTES = 8 * 2**20

#: One block's terms: ``(n_correct, weighted loss, dW_b or None, db_b or None)``.
Part: TypeAlias = "tuple[int, float, Array | None, Array | None]"


def default_block_rows(X: Data) -> int:
    """Rows per block for ``loss_and_gradient``: the whole X when it is small."""
    n, d = X.shape
    itemsize = getattr(X, "dtype", np.dtype(np.float64)).itemsize
    return max(256, min(n, _BLOCK_BYTES // max(1, d * itemsize)))


def penalty(W: Data, reg: float) -> float:
    """The L2 penalty ``reg * sum(W**2)``, as a float (W of any array API namespace)."""
    if not isinstance(W, np.ndarray):
        from .array_api import namespace

        return reg * float(namespace(W).sum(W * W))
    w = W.ravel()
    return reg * float(np.dot(w, w))


def regularization(W: Data, reg: float) -> tuple[float, Data]:
    """``(reg * sum(W**2), 2 * reg * W)``: the L2 penalty and its gradient."""
    return penalty(W, reg), (2 * reg) * W


def loss_and_gradient(
    W: Array,
    b: Array | None,
    X: Data,
    y: Array,
    loss_fn: LossFn,
    reg: float = 0.0,
    sample_weight: Array | None = None,
    block_rows: int | None = None,
    workers: int = 1,
    kernel: str = "numpy",
) -> Sums:
    """Objective value and gradient of a linear classifier on (a batch of) data.

    Parameters
    ----------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    loss_fn : callable
        A loss on scores, ``loss_fn(S, y, sample_weight=None) -> (mean_loss, dS)``, such as
        ``linclass.losses.softmax_cross_entropy``.
    reg : float, default 0.0
        L2 strength: adds ``reg * sum(W**2)`` (not on b).
    sample_weight : ndarray of shape (n_samples,), optional
    block_rows : int, optional
        Rows per block; by default about 8 MB of X per block.
    workers : int, default 1
        Threads that compute blocks at once (``BlockSum.add_all``): the result is the same
        for any number.
    kernel : {"numpy", "fused"}, default "numpy"
        What computes each block: numpy's two matrix products (the reference), or the
        compiled fused kernel (``linclass.fused``; a fit chooses with ``fused.choose``).

    Returns
    -------
    loss : float
        Mean (or weighted mean) data loss plus the penalty.
    dW : ndarray like W
    db : ndarray like b, or None
    n_correct : int
        How many rows the current weights already classify right (argmax of S), which gives
        the training accuracy at no extra pass over X.
    """
    n = X.shape[0]
    if n == 0:
        raise InputError("loss_and_gradient needs at least one sample; X has 0 rows.")
    rows = block_rows or default_block_rows(X)
    total_weight = n if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
    acc = BlockSum(W, b, loss_fn, total_weight, kernel)
    if rows >= n:
        acc.add(X, y, sample_weight)
    else:
        acc.add_all(
            (
                (
                    X[start : start + rows],
                    y[start : start + rows],
                    None if sample_weight is None else sample_weight[start : start + rows],
                )
                for start in range(0, n, rows)
            ),
            workers,
        )
    return acc.result(reg)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool of ``workers`` threads, made once and kept (numpy lets go of the GIL in
    its products, so the blocks run at once)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="linclass-block")
    return pool


class BlockSum:
    """The data part of the objective summed block by block of rows.

    ``loss_and_gradient`` is one ``BlockSum`` over the blocks of an in-memory X; a source that
    reads X from elsewhere (a file, a cluster) feeds it the same blocks in the same order and
    gets the same numbers.

    Parameters
    ----------
    W, b : ndarray
        The weights (b may be None: no bias).
    loss_fn : callable
        A loss on scores, ``loss_fn(S, y, sample_weight=None) -> (mean_loss, dS)``.
    total_weight : float
        The number of rows of the whole data (or the sum of their sample weights): each block's
        mean loss counts by its share of it.
    kernel : {"numpy", "fused"}, default "numpy"
        What computes a block's terms: numpy's two matrix products, or the compiled fused
        kernel (``linclass.fused.Step``), which gives the same terms to rounding.
    """

    def __init__(
        self,
        W: Array,
        b: Array | None,
        loss_fn: LossFn,
        total_weight: float,
        kernel: str = "numpy",
    ) -> None:
        self.W, self.b, self.loss_fn, self.total_weight = W, b, loss_fn, total_weight
        self.data_loss: float = 0.0
        self.dW: Array | None = None
        self.db: Array | None = None
        self.n_correct = 0
        if kernel not in ("numpy", "fused"):
            raise ValueError(f"kernel must be 'numpy' or 'fused'; got {kernel!r}.")
        self._fused: Step | None = None
        if kernel == "fused":
            from .fused import Step, available

            if available():  # else (a Dask worker without numba): numpy
                # (fused.choose picks the kernel for the built-in losses only)
                self._fused = Step(W, b, cast("Loss", loss_fn))

    def add(self, Xb: Data, yb: Array, wb: Array | None = None) -> None:
        """Add one block: rows ``Xb`` with labels ``yb`` (and sample weights ``wb``)."""
        self.merge(self.part(Xb, yb, wb))

    def add_all(self, blocks: Iterable[Block], workers: int = 1) -> None:
        """Add blocks ``(Xb, yb, wb)`` in order, each computed on one of ``workers`` threads
        and merged in order: the numbers are the same whatever ``workers`` is (with the BLAS
        on one thread, as training holds it: ``linclass.threads``)."""
        if workers <= 1:
            for block in blocks:
                self.add(*block)
            return
        pool, running = _pool(workers), deque[Future[Part]]()
        for block in blocks:  # at most 2 blocks a worker in flight (a sparse block is a copy)
            running.append(pool.submit(self.part, *block))
            if len(running) >= 2 * workers:
                self.merge(running.popleft().result())
        while running:
            self.merge(running.popleft().result())

    def part(self, Xb: Data, yb: Array, wb: Array | None = None) -> Part:
        """One block's terms ``(n_correct, weighted loss, dW_b, db_b)``, from the block alone
        (several may be computed at once, in threads)."""
        if self._fused is not None and isinstance(Xb, np.ndarray):
            from .fused import CompileFailed

            try:
                return self._fused.block_terms(self.W, self.b, Xb, yb, wb, self.total_weight)
            except CompileFailed:  # said once; numpy from here on
                self._fused = None
        S = scores(self.W, self.b, Xb)
        n_correct = int(np.count_nonzero(S.argmax(axis=1) == yb))
        block_weight = Xb.shape[0] if wb is None else float(np.sum(wb, dtype=np.float64))
        if block_weight <= 0:
            return n_correct, 0.0, None, None
        loss_b, dS = self.loss_fn(S, yb, sample_weight=wb)
        share = block_weight / self.total_weight
        if share != 1.0:
            dS *= dS.dtype.type(share)
        dW_b, db_b = scores_backward(dS, Xb, need_bias=self.b is not None)
        return n_correct, loss_b * share, dW_b, db_b

    def merge(self, part: Part) -> None:
        """Add one block's terms (``part``) into the sums."""
        n_correct, loss, dW_b, db_b = part
        self.n_correct += n_correct
        if dW_b is None:  # a block of zero weight
            return
        self.data_loss += loss
        if self.dW is None:  # the first block's arrays are fresh: keep them, add the rest in
            self.dW, self.db = dW_b, db_b
        else:
            self.dW += dW_b
            if self.db is not None:
                self.db += db_b

    def partial(self) -> Sums:
        """``(data_loss, dW, db, n_correct)`` of the blocks added so far, without the penalty
        (partial sums from several places add up term by term)."""
        dW, db = self.dW, self.db
        if dW is None:  # every block had zero weight
            dW = np.zeros_like(self.W)
            db = None if self.b is None else np.zeros_like(self.b)
        return self.data_loss, dW, db, self.n_correct

    def result(self, reg: float = 0.0) -> Sums:
        """``(loss, dW, db, n_correct)`` with the L2 penalty ``reg * sum(W**2)`` added."""
        return with_penalty(self.W, self.partial(), reg)


def with_penalty(W: Array, sums: Sums, reg: float) -> Sums:
    """``(loss, dW, db, n_correct)`` from the data sums ``(data_loss, dW, db, n_correct)`` and
    the L2 penalty ``reg * sum(W**2)`` (gradient ``2 * reg * W``, added into dW)."""
    data_loss, dW, db, n_correct = sums
    value, dreg = regularization(W, reg)
    if reg:
        dW += dreg
    return data_loss + value, dW, db, n_correct
