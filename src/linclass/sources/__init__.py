"""Data sources: where the training engine gets its gradients from.

The engine (``linclass.train``) never touches X. It asks a source for two things: the
full-batch ``(loss, dW, db, n_correct)`` at given weights, and the minibatches of an epoch.
A source also gives the two statistics the automatic step and penalty need, and scores a
validation set. The implementations:

* ``InMemory``: a numpy array or a scipy.sparse matrix in RAM (``linclass.objective``'s blocked
  loss and ``linclass.batching``'s contiguous minibatches);
* ``Streamed``: an on-disk array (``.npy`` memmap, raw file, zarr) read in row blocks into
  reused buffers by a prefetch thread, so the process never holds the whole X.
"""

from .base import DataSource
from .memory import InMemory
from .streamed import DataChangedError, Streamed, is_on_disk

__all__ = ["DataSource", "InMemory", "Streamed", "DataChangedError", "is_on_disk"]
