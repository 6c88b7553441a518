"""The ``Dataset`` record every loader returns, and the ``--dataset`` name parser."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..errors import DataFileError

__all__ = ["Dataset", "DataFileError", "class_labels"]


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
    pixel_max : int
        The value of a white pixel: 255, or 16 for the bundled digits.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, ...]
    name: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    pixel_max: int = 255

    def labels(self, y: ArrayLike | None = None) -> np.ndarray:
        """The labels a classifier learns, for integer class indices (the data set's own by
        default): see ``class_labels``."""
        return class_labels(self.class_names)[self.y if y is None else np.asarray(y)]


def class_labels(class_names: Iterable[object]) -> np.ndarray:
    """What a model trained on a data set predicts: the integers 0..C-1 where the classes are
    named by them (the digits, MNIST), so that ``model.score(X, digits.target)`` works; the
    class names otherwise (CIFAR-10's "airplane"..., a folder's sub-folder names)."""
    names = [str(n) for n in class_names]
    if names == [str(i) for i in range(len(names))]:
        return np.arange(len(names))
    return np.asarray(names)
