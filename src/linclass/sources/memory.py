"""The in-memory data source: X is a numpy array or a scipy.sparse matrix in RAM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .._typing import Array, Block, Data, Sums
from ..batching import BatchReader
from ..objective import loss_and_gradient
from ..optim import mean_squared_norm, top_eigenvalue
from ..scores import scores
from .base import DataSource, minibatch_size

if TYPE_CHECKING:
    from ..losses import Loss

__all__ = ["InMemory"]


class InMemory(DataSource):
    """Training data held in memory.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    sample_weight : ndarray of shape (n_samples,), optional
    batch_size : int or None
        Rows per minibatch; None (or at least n_samples) for the full batch.
    shuffle : True, False or "blocks"
        How minibatches are drawn (``linclass.batching.BatchReader``).
    rng : numpy.random.Generator, optional
    owns_X : bool, default False
        X is a private copy that may be reordered in place (``shuffle=True``).
    """

    def __init__(
        self,
        X: Data,
        y: Array,
        sample_weight: Array | None = None,
        batch_size: int | None = None,
        shuffle: bool | str = True,
        rng: np.random.Generator | None = None,
        owns_X: bool = False,
    ) -> None:
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.batch_size = minibatch_size(batch_size, self.n_samples)
        self._shuffle, self._owns_X = shuffle, owns_X
        self._rng = rng or np.random.default_rng()
        self._reader: BatchReader | None = None

    def loss_and_gradient(
        self, W: Data, b: Data | None, loss: Loss, reg: float, workers: int = 1
    ) -> Sums:
        return loss_and_gradient(
            W,
            b,
            self.X,
            self.y,
            loss,
            reg,
            self.sample_weight,
            workers=workers,
            kernel=self.kernel(loss),
        )

    def epoch(self) -> Iterator[Block]:
        # Made on first use, after the automatic settings have read X in its given order: the
        # reader may reorder a private X in place.
        if self._reader is None:
            self._reader = BatchReader(
                self.X,
                self.y,
                self.sample_weight,
                self.batch_size or self.n_samples,
                self._shuffle,
                self._rng,
                owns_X=self._owns_X,
            )
        return self._reader.epoch()

    def evaluate(self, W: Data, b: Data | None, loss: Loss) -> tuple[float, float]:
        S = scores(W, b, self.X)
        value, _ = loss(S, self.y)
        return value, float(np.mean(S.argmax(axis=1) == self.y))

    def mean_squared_norm(self) -> float:
        return mean_squared_norm(self.X, self.sample_weight)

    def sample_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.X[rows], None if self.sample_weight is None else self.sample_weight[rows]

    def top_eigenvalue(self, rows: int = 2048, iters: int = 20) -> float:
        return top_eigenvalue(self.X, self.sample_weight, rows=rows, iters=iters)
