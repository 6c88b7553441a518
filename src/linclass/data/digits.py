"""The embedded default data set: scikit-learn's bundled copy of the UCI 8x8 digits."""

from __future__ import annotations

import numpy as np

from .dataset import Dataset


def load_digits() -> Dataset:
    """1,797 images of handwritten digits, 8x8 pixels with values 0..16, ten classes.

    Returns
    -------
    Dataset
        ``X`` uint8 of shape (1797, 64), ``class_names`` "0".."9", ``image_shape`` (8, 8).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = bunch.data.astype(np.uint8)
    y = bunch.target.astype(np.intp)
    return Dataset(
        X=X,
        y=y,
        class_names=[str(c) for c in bunch.target_names],
        image_shape=(8, 8),
        name="digits",
        pixel_max=16,
    )
