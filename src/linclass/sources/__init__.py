"""Data sources: where the training engine gets its gradients from.

The engine (``linclass.train``) never touches X. It asks a source for two things: the
full-batch ``(loss, dW, db, n_correct)`` at given weights, and the minibatches of an epoch.
A source also gives the two statistics the automatic step and penalty need, and scores a
validation set. The implementations:

* ``InMemory``: a numpy array or a scipy.sparse matrix in RAM (``linclass.objective``'s blocked
  loss and ``linclass.batching``'s contiguous minibatches);
* ``Streamed``: an on-disk array (``.npy`` file, ``np.memmap``, zarr) read in row blocks by
  a prefetch thread, so the process never holds the whole X;
* ``DaskSource`` (``linclass.sources.dask``): a dask array of row chunks, each gradient one
  map-reduce on a cluster or local threads;
* ``OnDevice`` (``linclass.sources.device``): an array of another array API namespace (a
  PyTorch tensor, a CuPy array) under scikit-learn's ``array_api_dispatch``, trained on its
  device.
"""

import numpy as np

from .._typing import Array, Data
from ..array_api import is_array_api
from .base import DataSource
from .dask import is_dask
from .memory import InMemory
from .streamed import DataChangedError, Streamed, is_on_disk

__all__ = [
    "DataSource",
    "InMemory",
    "Streamed",
    "DataChangedError",
    "is_on_disk",
    "is_dask",
    "for_data",
]


def for_data(
    X: Data,
    y: Array,
    sample_weight: Array | None = None,
    batch_size: int | None = None,
    shuffle: bool | str = True,
    rng: np.random.Generator | None = None,
    owns_X: bool = False,
) -> DataSource:
    """The source for X wherever it lives: a dask array (``DaskSource``), an array on disk
    (``Streamed``), an array API array on its device (``OnDevice``), or one in memory
    (``InMemory``; ``owns_X``: it may be reordered in place).
    """
    if is_dask(X):
        from .dask import DaskSource

        return DaskSource(X, y, sample_weight, batch_size, rng)
    if is_on_disk(X):
        return Streamed(X, y, sample_weight, batch_size, shuffle, rng)
    if is_array_api(X):
        from .device import OnDevice

        return OnDevice(X, y, sample_weight, batch_size, shuffle, rng)
    return InMemory(X, y, sample_weight, batch_size, shuffle, rng, owns_X)
