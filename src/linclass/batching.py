"""Which rows each minibatch takes, and how to fetch them without copying X.

A minibatch step costs two skinny matrix products over its B rows; gathering B random rows
into a fresh array (``X[idx]``) costs about as much again. So the training loop reads
minibatches as **contiguous slices** of X wherever it can:

* the rows are put in a random order **once** (a permutation P): in place on a copy of X the
  estimator owns (one it made while converting the input), else by gathering ``X[P[window]]``;
* every epoch then cuts that order into windows of B rows, starting at a random offset (so the
  batches are not the same ones each epoch; one window wraps round the end), and visits the
  windows in a random order.

With ``shuffle="blocks"`` there is no P: the rows are taken as given, which is right when they
are already in random order (after ``train_test_split(shuffle=True)``, as in ``linclass
train``), and never copies or gathers. ``shuffle=False`` takes the windows in order from row 0.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._typing import Block, Data

__all__ = ["epoch_windows", "permute_rows_", "BatchReader"]


def epoch_windows(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> list[tuple[int, int]]:
    """One epoch's minibatches as ``(start, stop)`` positions in a rotated row order.

    Parameters
    ----------
    n : int
        Rows in the (already ordered) data.
    batch_size : int
    rng : numpy.random.Generator or None
        None: windows in order from row 0. Otherwise a random offset and a random order.

    Returns
    -------
    list of (int, int)
        ``stop`` may exceed ``n``: the window then wraps round to the start (rows
        ``start..n-1`` and ``0..stop-n-1``). Every row is in exactly one window.
    """
    if batch_size >= n:
        return [(0, n)]
    offset = 0 if rng is None else int(rng.integers(n))
    windows = [(offset + s, offset + min(n, s + batch_size)) for s in range(0, n, batch_size)]
    windows = [(a - n, b - n) if a >= n else (a, b) for a, b in windows]
    if rng is not None:
        windows = [windows[i] for i in rng.permutation(len(windows))]
    return windows


def permute_rows_(X: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Reorder the rows of the ndarray X in place so that new ``X[i]`` is old ``X[perm[i]]``.

    Follows the permutation's cycles with one spare row, so it needs no second copy of X.
    """
    perm = np.asarray(perm)
    done = np.zeros(len(perm), dtype=bool)
    spare = np.empty_like(X[0])
    for start in range(len(perm)):
        if done[start] or perm[start] == start:
            continue
        spare[...] = X[start]
        i = start
        while True:
            done[i] = True
            j = perm[i]
            if j == start:
                X[i] = spare
                break
            X[i] = X[j]
            i = j
    return X


class BatchReader:
    """Serves minibatches ``(X_b, y_b, w_b)`` for one training run.

    Parameters
    ----------
    X : ndarray or sparse matrix
    y : ndarray of int
        The estimator's own encoded labels (never the caller's array).
    sample_weight : ndarray or None
    batch_size : int
    shuffle : True, False or "blocks"
    rng : numpy.random.Generator
    owns_X : bool
        X is the estimator's private copy, so it may be reordered in place.
    """

    def __init__(
        self,
        X: Data,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        batch_size: int,
        shuffle: bool | str,
        rng: np.random.Generator | None,
        owns_X: bool = False,
    ) -> None:
        n = X.shape[0]
        self.n, self.batch_size = n, min(batch_size, n)
        self.order = None  # row indices to gather from, when X itself is not in batch order
        blocks = isinstance(shuffle, str)
        if shuffle and not blocks and self.batch_size < n:
            rng = rng or np.random.default_rng()
            perm = rng.permutation(n)
            if owns_X and isinstance(X, np.ndarray) and X.flags.c_contiguous:
                permute_rows_(X, perm)
            else:
                self.order = perm
            y = y[perm]
            sample_weight = None if sample_weight is None else sample_weight[perm]
        self.X, self.y, self.w = X, y, sample_weight
        self.rng = rng if shuffle else None

    def epoch(self) -> Iterator[Block]:
        """The epoch's minibatches, in training order."""
        for start, stop in epoch_windows(self.n, self.batch_size, self.rng):
            yield self._take(start, stop)

    def _take(self, start, stop):
        n = self.n
        if stop - start == n:  # the full batch (never reordered)
            return self.X, self.y, self.w
        if stop <= n and self.order is None:
            sl = slice(start, stop)
            return self.X[sl], self.y[sl], None if self.w is None else self.w[sl]
        pos = np.arange(start, stop)
        if stop > n:
            pos[pos >= n] -= n
        rows = pos if self.order is None else self.order[pos]
        return self.X[rows], self.y[pos], None if self.w is None else self.w[pos]
