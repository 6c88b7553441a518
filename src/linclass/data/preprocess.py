"""Preprocessing fitted on the training split only: mean-image subtraction (and scaling)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._typing import Data, Labels

__all__ = ["MeanImage"]


class MeanImage(TransformerMixin, BaseEstimator):
    """Subtract the mean training image (and optionally divide by the per-pixel std).

    The course's preprocessing for raw pixels. ``transform`` makes one float32 copy of X
    (uint8 pixels become float32 once) and centres it in place.

    Parameters
    ----------
    standardize : bool, default False
        Also divide each feature by its training standard deviation (1 where it is 0).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float32
    scale_ : ndarray of shape (n_features,), float32, or None
    """

    def __init__(self, standardize: bool = False) -> None:
        self.standardize = standardize

    def fit(self, X: Data, y: Labels | None = None) -> MeanImage:
        X = validate_data(self, X, dtype=None)
        self.mean_ = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        self.scale_: np.ndarray | None = None
        if self.standardize:
            std = X.std(axis=0, dtype=np.float64)
            std[std == 0] = 1.0
            self.scale_ = std.astype(np.float32)
        return self

    def transform(self, X: Data) -> np.ndarray:
        check_is_fitted(self, "mean_")
        X = validate_data(self, X, reset=False, dtype=None)
        Z = np.array(X, dtype=np.float32, copy=True)
        Z -= self.mean_
        if self.scale_ is not None:
            Z /= self.scale_
        return Z
