"""What every image feature shares: rows of pixels checked against an image shape, and a
transform computed batch by batch into one float32 array."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._typing import Data, Labels
from ..errors import InputError
from ..limits import check_bytes

__all__ = ["ImageFeature"]


class ImageFeature(TransformerMixin, BaseEstimator):
    """A transformer of images given as rows of pixels (``image_shape`` says how to fold them).

    Subclasses set ``_check_images(shape)`` (refusing shapes they cannot use), ``_n_out(shape)``
    (features per image) and ``_features(images)`` (a batch of ``(n, H, W, C)`` float32 images
    to an ``(n, n_out)`` array).
    """

    def _shape(self, n_features):
        if self.image_shape is None:
            return _square(n_features)
        shape = tuple(int(s) for s in np.atleast_1d(self.image_shape))
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise InputError(
                f"image_shape must be (height, width) or (height, width, channels); "
                f"got {self.image_shape!r}."
            )
        return shape

    def _check_params(self):
        if not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise InputError(f"batch_size must be a positive integer; got {self.batch_size!r}.")
        n = getattr(self, "n_jobs", None)
        if not (n is None or (isinstance(n, (int, np.integer)) and n >= 1)):
            raise InputError(f"n_jobs must be None or a positive integer; got {n!r}.")

    def fit(self, X: Data, y: Labels | None = None) -> ImageFeature:
        """Check the parameters against the images' shape (these features learn nothing)."""
        self._fit_shape(X)
        return self

    def _fit_shape(self, X):
        """Check the parameters and X against the images' shape; X validated."""
        self._check_params()
        X = validate_data(self, X, dtype=None)
        shape = self._shape(X.shape[1])
        if X.shape[1] != int(np.prod(shape)):
            raise InputError(
                f"X has {X.shape[1]} values a row, but image_shape {shape} holds "
                f"{int(np.prod(shape))}: give the shape the rows were flattened from."
            )
        self._check_images(shape)
        self.image_shape_ = shape
        self.n_features_out_ = self._n_out(shape)
        return X

    def transform(self, X: Data) -> np.ndarray:
        """Features of each row of X, float32, computed ``batch_size`` images at a time."""
        check_is_fitted(self, "image_shape_")
        # NaN and inf are looked for batch by batch below, naming the rows
        X = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        if not np.issubdtype(X.dtype, np.number) or X.dtype.kind == "c":
            raise InputError(f"X must hold pixel values (numbers); got dtype {X.dtype}.")
        check_bytes(
            4 * X.shape[0] * self.n_features_out_,
            f"{self.n_features_out_:,} float32 features for each of {X.shape[0]:,} images",
            f"{type(self).__name__}.transform",
        )
        n = X.shape[0]
        out = np.empty((n, self.n_features_out_), np.float32)

        def batch(start):
            rows = np.asarray(X[start : start + self.batch_size], dtype=np.float32)
            if not np.all(np.isfinite(rows)):
                bad = start + np.flatnonzero(~np.isfinite(rows).all(axis=1))
                raise InputError(f"X has NaN or infinite pixels in rows {bad[:5].tolist()}.")
            out[start : start + len(rows)] = self._features(self._fold(rows))
            return min(n, start + self.batch_size)

        starts = range(0, n, self.batch_size)
        for done in _map(batch, starts, self._threads(len(starts))):
            if self.progress is not None:
                self.progress(done, n)
        return out

    def _fold(self, rows):
        """Rows of pixels as ``(n, H, W, C)`` images (C = 1 for grey)."""
        shape = self.image_shape_
        return rows.reshape((len(rows),) + shape + ((1,) if len(shape) == 2 else ()))

    def _threads(self, batches):
        from ..threads import cores

        n = getattr(self, "n_jobs", None)
        return max(1, min(batches, cores() if n is None else n))

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        check_is_fitted(self, "image_shape_")
        name = type(self).__name__.lower()
        return np.asarray([f"{name}{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _map(fn, items, threads):
    """``fn`` of each item, in order, computed by ``threads`` threads with the BLAS held to one
    thread: each batch is computed the same way whatever the number of threads (the same
    bits), and two threads on two cores do not wait on each other's BLAS."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(threads) as pool:
        pending = []
        for item in items:  # at most two batches a thread in flight: bounded memory
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * threads:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _square(n_features):
    """The shape of a square image of ``n_features`` values: grey (s, s) or RGB (s, s, 3)."""
    for channels in (1, 3):
        side = int(round((n_features / channels) ** 0.5))
        if side * side * channels == n_features:
            return (side, side) if channels == 1 else (side, side, 3)
    raise InputError(
        f"rows of {n_features} values are not square images (grey s x s or RGB "
        "s x s x 3): give image_shape=(height, width[, channels])."
    )
