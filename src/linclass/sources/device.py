"""The on-device data source: X is an array of an array API namespace (a PyTorch tensor, a CuPy
array, ...), trained on where it lives (``linclass.array_api``).

Nothing of X goes to the host, apart from the few rows the automatic step size samples once.
Minibatches are slices of X (``shuffle="blocks"`` or False) or, with ``shuffle=True``, rows
taken through a permutation that is made on the host once and sent to the device once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .. import array_api
from .._typing import Array, Block, Data, Sums
from ..batching import epoch_windows
from .base import DataSource, minibatch_size, nonfinite_rows_error

if TYPE_CHECKING:
    from ..losses import Loss

__all__ = ["OnDevice"]

_ROWS = 8192  # rows per block where a pass over X makes a temporary of X's width


class OnDevice(DataSource):
    """Training data as an array API array on its device.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64, of any array API namespace
    y : ndarray of int of shape (n_samples,)
        Class indices (on the host: sent to the device once).
    sample_weight : ndarray of shape (n_samples,), optional
    batch_size : int or None
    shuffle : True, False or "blocks"
    rng : numpy.random.Generator, optional
    """

    local_blas = False  # the products run on X's device, not in numpy's BLAS

    def __init__(
        self,
        X: Data,
        y: Array,
        sample_weight: Array | None = None,
        batch_size: int | None = None,
        shuffle: bool | str = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.X = X
        self.xp = array_api.namespace(X)
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = array_api.numpy_dtype(X)
        self.y = array_api.on_device_of(np.asarray(y, dtype=np.int64), X)
        self.sample_weight = (
            None
            if sample_weight is None
            else array_api.on_device_of(np.asarray(sample_weight), X, dtype=X.dtype)
        )
        self._w_host = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.batch_size = minibatch_size(batch_size, self.n_samples)
        self._shuffle, self._rng = shuffle, rng or np.random.default_rng()
        self._order = None  # the permutation on the device (shuffle=True), twice over

    def kernel(self, loss: Loss) -> str:
        return "array_api"

    def asarray(self, a: Data, copy: bool = False) -> Data:
        return array_api.on_device_of(a, self.X, dtype=self.X.dtype, copy=copy or None)

    def loss_and_gradient(
        self, W: Data, b: Data | None, loss: Loss, reg: float, workers: int = 1
    ) -> Sums:
        result = array_api.loss_and_gradient(W, b, self.X, self.y, loss, reg, self.sample_weight)
        if not np.isfinite(result[0]):
            self.check_finite()
        return result

    def epoch(self) -> Iterator[Block]:
        n, B = self.n_samples, self.batch_size or self.n_samples
        shuffle = self._shuffle
        rng = self._rng if shuffle else None
        if shuffle is True and self._order is None and n > B and rng is not None:
            perm = rng.permutation(n)
            self._order = array_api.on_device_of(np.concatenate([perm, perm]), self.X)
        for start, stop in epoch_windows(n, B, rng):
            yield self._take(start, stop)

    def _take(self, start, stop):
        xp, n = self.xp, self.n_samples
        w = self.sample_weight
        if stop - start == n and self._order is None:
            return self.X, self.y, w
        if self._order is not None:
            idx = self._order[start:stop]
            return (
                xp.take(self.X, idx, axis=0),
                xp.take(self.y, idx, axis=0),
                None if w is None else xp.take(w, idx, axis=0),
            )
        if stop <= n:
            return (
                self.X[start:stop, ...],
                self.y[start:stop],
                None if w is None else w[start:stop],
            )

        def wrap(a):
            return xp.concat([a[start:n, ...], a[0 : stop - n, ...]], axis=0)

        return wrap(self.X), wrap(self.y), None if w is None else wrap(w)

    def evaluate(self, W: Data, b: Data | None, loss: Loss) -> tuple[float, float]:
        value, _, _, correct = array_api.loss_and_gradient(W, b, self.X, self.y, loss, 0.0)
        return value, correct / self.n_samples

    def _row_norms(self):
        xp = self.xp
        for start in range(0, self.n_samples, _ROWS):
            Xb = self.X[start : min(self.n_samples, start + _ROWS), ...]
            yield start, xp.sum(xp.astype(Xb * Xb, xp.float64), axis=1)

    def mean_squared_norm(self) -> float:
        xp = self.xp
        total = 0.0
        for start, norms in self._row_norms():
            if self._w_host is None:
                total += float(xp.sum(norms))
            else:
                w = self._w_host[start : start + norms.shape[0]]
                total += float(np.dot(array_api.to_numpy(norms), w))
        return total / (self.n_samples if self._w_host is None else float(np.sum(self._w_host)))

    def sample_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        Xs = array_api.to_numpy(array_api.take_rows(self.X, rows))
        return Xs, None if self._w_host is None else self._w_host[rows]

    def check_finite(self) -> None:
        xp = self.xp
        bad = []
        for start in range(0, self.n_samples, _ROWS):
            Xb = self.X[start : min(self.n_samples, start + _ROWS), ...]
            ok = array_api.to_numpy(xp.all(xp.isfinite(Xb), axis=1))
            bad.extend((start + np.flatnonzero(~ok)).tolist())
        if bad:
            raise nonfinite_rows_error(np.asarray(bad))
