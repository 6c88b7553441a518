"""The ``Dataset`` record every loader returns, and the ``--dataset`` name parser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import limits
from ..errors import DataFileError, InputError

__all__ = ["Dataset", "DataFileError", "load_dataset", "class_labels"]


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
    class_names: list
    image_shape: tuple
    name: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    pixel_max: int = 255

    def labels(self, y=None):
        """The labels a classifier learns, for integer class indices (the data set's own by
        default): see ``class_labels``."""
        return class_labels(self.class_names)[self.y if y is None else y]


def class_labels(class_names):
    """What a model trained on a data set predicts: the integers 0..C-1 where the classes are
    named by them (the digits, MNIST), so that ``model.score(X, digits.target)`` works; the
    class names otherwise (CIFAR-10's "airplane"..., a folder's sub-folder names)."""
    names = [str(n) for n in class_names]
    if names == [str(i) for i in range(len(names))]:
        return np.arange(len(names))
    return np.asarray(names)


def load_dataset(spec, size=None, skip_bad=False):
    """Load a data set named as on the command line.

    Parameters
    ----------
    spec : str
        ``digits`` (scikit-learn's bundled 8x8 digits); ``mnist:PATH``, ``fashion-mnist:PATH``
        (IDX files), ``cifar10:PATH`` (an official CIFAR-10 download, python or binary, archive
        or folder), ``folder:PATH`` (a tree or archive of images, one folder per class); or
        ``cifar10``, ``mnist``, ``fashion-mnist`` alone for the copy ``linclass download`` put
        in the cache.
    size : int or (width, height), optional
        For ``folder:``: the size to resize images to (default: the most common size).
    skip_bad : bool, default False
        For ``folder:``: skip unreadable images with a warning instead of failing.
    """
    from .cifar10 import load_cifar10
    from .digits import load_digits
    from .downloads import SOURCES, cached_path
    from .folder import load_image_folder
    from .mnist import load_mnist

    loaders = {
        "digits": None,
        "mnist": load_mnist,
        "fashion-mnist": lambda p: load_mnist(p, fashion=True),
        "cifar10": load_cifar10,
        "folder": lambda p: load_image_folder(p, size=size, skip_bad=skip_bad),
    }
    if size is not None:  # refused before anything is read
        for side in (size,) if isinstance(size, int) else tuple(size):
            limits.check_image_side(int(side))
    kind, sep, path = str(spec).partition(":")
    if kind not in loaders:
        raise InputError(f"unknown data set {spec!r}; use digits, mnist:PATH, "
                         "fashion-mnist:PATH, cifar10:PATH or folder:PATH (or cifar10, mnist, "
                         "fashion-mnist after `linclass download`).")
    if kind == "digits":
        if sep:
            raise InputError("digits is built in and takes no path.")
        return load_digits()
    if not sep:
        if kind not in SOURCES:
            raise InputError(f"{kind} needs a path: --dataset {kind}:PATH.")
        path = cached_path(kind)
    elif not path:
        raise InputError(f"--dataset {kind}: needs a path after the colon.")
    ds = loaders[kind](path)
    ds.name = str(spec)
    return ds
