"""The contract between the training engine and the data it trains on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .._typing import Block, Data, Sums
from ..optim import top_eigenvalue

if TYPE_CHECKING:
    from ..losses import Loss

__all__ = ["DataSource", "minibatch_size", "nonfinite_rows_error"]


class DataSource:
    """Training data as the engine sees it: gradients and minibatches, never X itself.

    Attributes
    ----------
    X : array-like
        The data, wherever it lives (memory, a file, a cluster, a device).
    n_samples, n_features : int
    dtype : numpy.dtype
        The dtype of X, which the weights take.
    batch_size : int or None
        Rows per minibatch of ``epoch()`` (None: the whole data, ``full_batch``).
    full_batch : bool
        ``batch_size`` is None: ``epoch()`` would give the whole data as one batch, and the
        engine takes one step per epoch on ``loss_and_gradient`` instead.
    """

    X: Data
    n_samples: int
    n_features: int
    dtype: np.dtype
    batch_size: int | None
    local_blas: bool = True

    @property
    def full_batch(self) -> bool:
        return self.batch_size is None

    def loss_and_gradient(
        self, W: Data, b: Data | None, loss: Loss, reg: float, workers: int = 1
    ) -> Sums:
        """The full-batch objective and its gradient, ``(loss, dW, db, n_correct)``, as
        ``linclass.objective.loss_and_gradient`` gives them on the whole data; ``workers``
        threads may compute its blocks at once, with the same result for any number."""
        raise NotImplementedError

    def asarray(self, a: Data, copy: bool = False) -> Data:
        """``a`` (numpy) as this source's weights: an ndarray of its dtype (for an array API
        X, an array of X's namespace on its device)."""
        return np.array(a, dtype=self.dtype, copy=True) if copy else np.asarray(a, self.dtype)

    def kernel(self, loss: Loss) -> str:
        """``"fused"`` or ``"numpy"``: what computes this data's blocks and minibatches with
        ``loss`` (``linclass.fused.choose``, from the whole data's size, dtype and layout)."""
        from ..fused import choose

        return choose(self.X, loss)

    def epoch(self) -> Iterator[Block]:
        """One epoch's minibatches ``(X_b, y_b, w_b)``, numpy arrays (``w_b`` may be None)."""
        raise NotImplementedError

    def evaluate(self, W: Data, b: Data | None, loss: Loss) -> tuple[float, float]:
        """``(mean data loss, accuracy)`` of the weights on this data (no penalty)."""
        raise NotImplementedError

    def mean_squared_norm(self) -> float:
        """``mean(||x_i||**2)``, weighted by the sample weights where there are some."""
        raise NotImplementedError

    def sample_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X[rows], w[rows] or None)`` for a few sorted row indices (a small sample)."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the source holds open (files, buffers)."""

    def check_finite(self) -> None:
        """Raise a ValueError naming the rows of X with NaN or inf, if there are any (a
        diverging fit calls it, to tell bad data from a too large step). X in memory was
        checked when it came in: nothing to do."""

    def top_eigenvalue(self, rows: int = 2048, iters: int = 20) -> float:
        """The largest eigenvalue of ``X.T @ X / n``, by power iteration on at most ``rows``
        evenly spaced rows (see ``linclass.optim.top_eigenvalue``)."""
        n = self.n_samples
        idx = np.unique(np.linspace(0, n - 1, min(n, rows)).astype(np.intp))
        Xs, ws = self.sample_rows(idx)
        return top_eigenvalue(Xs, ws, rows=len(idx), iters=iters)


def minibatch_size(batch_size: int | None, n_samples: int) -> int | None:
    """Rows per minibatch for a source of ``n_samples`` rows: None (the full batch) for None or
    anything from ``n_samples`` up."""
    return None if batch_size is None or batch_size >= n_samples else int(batch_size)


def nonfinite_rows_error(bad: np.ndarray) -> ValueError:
    """The error for rows of X (indices ``bad``) that hold NaN or inf."""
    return ValueError(
        f"X has NaN or infinite values in {len(bad):,} rows (the first: "
        f"{bad[:5].tolist()}). Fix or drop those rows before training."
    )
