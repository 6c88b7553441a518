"""Seeded, stratified train / validation / test splits."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split

from .._typing import Data
from ..errors import InputError
from .dataset import Dataset

__all__ = ["Split", "train_val_test_split", "dev_subset"]


class Split(NamedTuple):
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _fraction_or_count(size, n, what):
    if isinstance(size, float):
        if not 0 < size < 1:
            raise InputError(f"{what} as a fraction must be in (0, 1); got {size}.")
        return max(1, int(round(size * n)))
    if not 0 < int(size) < n:
        raise InputError(f"{what} must be between 1 and {n - 1} samples; got {size}.")
    return int(size)


def _enough(count, n_classes, part, name):
    """A stratified part needs an image of every class."""
    if count < n_classes:
        raise InputError(
            f"the {part} part would hold {count} image(s) for {n_classes} classes; a stratified "
            f"split needs at least one of each: give --{name.replace('_', '-')} {n_classes} "
            "or more (a count), or a larger fraction."
        )


def train_val_test_split(
    dataset: Dataset,
    val_size: float = 0.1,
    test_size: float = 0.2,
    random_state: int | None = 0,
) -> Split:
    """Split a :class:`Dataset` into train, validation and test parts, stratified by class.

    Where the data set brings its own test split (``X_test``), that is the test part and only
    the training images are divided into train and validation.

    Parameters
    ----------
    dataset : Dataset
    val_size, test_size : float or int
        Fractions of all samples, or counts.
    random_state : int

    Returns
    -------
    Split
        Rows keep the loader's dtype (uint8 pixels stay uint8).
    """
    X, y = dataset.X, dataset.y
    n = X.shape[0]
    n_classes = len(np.unique(y))
    if dataset.X_test is None:
        n_test = _fraction_or_count(test_size, n, "test_size")
        _enough(n_test, n_classes, "test", "test_size")
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=n_test, stratify=y, random_state=random_state
        )
    else:
        X_test, y_test = dataset.X_test, dataset.y_test
    n_val = _fraction_or_count(val_size, n, "val_size")
    _enough(n_val, n_classes, "validation", "val_size")
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=n_val, stratify=y, random_state=random_state
    )
    return Split(X_train, y_train, X_val, y_val, X_test, y_test)


def dev_subset(
    X: Data, y: np.ndarray, size: float = 500, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small stratified sample of (X, y) for quick checks (the course's "dev" set).

    Parameters
    ----------
    X, y : arrays
        Usually the training split.
    size : int or float
        Rows to keep, or a fraction.

    Returns
    -------
    X_dev, y_dev : arrays (copies of the chosen rows)
    """
    n = len(y)
    if isinstance(size, float):
        size = _fraction_or_count(size, n, "dev size")
    if size >= n:
        return X, y
    if size < 1:
        raise InputError(f"dev size must be at least 1 sample; got {size}.")
    counts = np.bincount(np.unique(y, return_inverse=True)[1])
    stratify = y if counts.min() >= 2 and size >= len(counts) else None
    X_dev, _, y_dev, _ = train_test_split(
        X, y, train_size=size, stratify=stratify, random_state=random_state
    )
    return X_dev, y_dev
