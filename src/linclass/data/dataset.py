"""The ``Dataset`` record every loader returns, and the ``--dataset`` name parser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load_dataset"]


@dataclass
class Dataset:
    """Images as rows of pixels, their labels and what the labels mean.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Pixels, uint8 (or float32), one flattened image per row.
    y : ndarray of int of shape (n_samples,)
        Indices into ``class_names``.
    class_names : list of str
    image_shape : tuple of int
        ``(height, width)`` or ``(height, width, channels)``; ``prod == n_features``.
    name : str
        How to name it on the command line (``--dataset``).
    X_test, y_test : ndarray, optional
        The data set's official test split, where it has one.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list
    image_shape: tuple
    name: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    def labels(self, y=None):
        """Class names for integer labels (those of the data set by default)."""
        return np.asarray(self.class_names)[self.y if y is None else y]


def load_dataset(spec):
    """Load a data set named as on the command line.

    Parameters
    ----------
    spec : str
        ``"digits"`` (scikit-learn's bundled 8x8 digits). More kinds (``mnist:PATH``,
        ``cifar10:PATH``, ``folder:PATH``) plug in here.
    """
    kind, _, path = str(spec).partition(":")
    loaders = _loaders()
    if kind not in loaders:
        raise ValueError(
            f"unknown data set {spec!r}; use one of: {', '.join(sorted(loaders))}."
        )
    return loaders[kind](path) if path else loaders[kind]()


def _loaders():
    from .digits import load_digits

    return {"digits": load_digits}
