"""Colour histograms: how much of an image is of each hue (the course's colour feature), or of
each hue, saturation and value together (a joint 3-D HSV histogram).

Each image's histogram counts the fraction of its pixels in each bin, so it does not depend on
the image's size. Colour comes from matplotlib's ``rgb_to_hsv`` (hue, saturation and value in
[0, 1]); bins are equal parts of [0, 1], the last one closed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .base import ImageFeature

__all__ = ["ColorHistogram"]


class ColorHistogram(ImageFeature):
    """Hue histogram, or joint hue x saturation x value histogram, of RGB images given as rows.

    Parameters
    ----------
    image_shape : tuple, optional
        ``(height, width, 3)``; by default a square RGB image.
    bins : int or (int, int, int), default 10
        An int: a histogram of hue alone with that many bins. Three ints: the joint histogram of
        hue, saturation and value with those many bins each (``(12, 4, 4)``: 192 features).
    pixel_max : float, default 255
        The value of a full channel (255 for 8-bit images).
    batch_size : int, default 1000
    n_jobs : int or None, default None
        Threads computing batches at once (None: one per core); the features are the
        same for any number.
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    """

    def __init__(
        self,
        image_shape: tuple[int, ...] | None = None,
        *,
        bins: int | tuple[int, int, int] = 10,
        pixel_max: float = 255,
        batch_size: int = 1000,
        n_jobs: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> None:
        self.image_shape = image_shape
        self.bins = bins
        self.pixel_max = pixel_max
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.progress = progress

    def _bins(self):
        bins = np.atleast_1d(self.bins)
        if bins.shape not in ((1,), (3,)) or bins.dtype.kind not in "iu" or bins.min() < 1:
            raise InputError(
                f"bins must be a positive integer (hue) or three of them (hue, "
                f"saturation, value); got {self.bins!r}."
            )
        return tuple(int(b) for b in bins)

    def _check_params(self):
        super()._check_params()
        self._bins()
        if not (isinstance(self.pixel_max, (int, float, np.number)) and self.pixel_max > 0):
            raise InputError(f"pixel_max must be a positive number; got {self.pixel_max!r}.")

    def _check_images(self, shape):
        if len(shape) != 3 or shape[2] != 3:
            raise InputError(
                f"a colour histogram needs RGB images (height, width, 3); these are "
                f"{shape}. Grey images have no hue: use HOG alone."
            )

    def _n_out(self, shape):
        return int(np.prod(self._bins()))

    def _features(self, images):
        from matplotlib.colors import rgb_to_hsv

        n = len(images)
        hsv = rgb_to_hsv(np.clip(images / np.float32(self.pixel_max), 0, 1))
        bins = self._bins()
        index = np.zeros(hsv.shape[:3], np.intp)
        for channel, b in enumerate(bins):  # hue only, or hue, saturation and value
            index = index * b + np.minimum((hsv[..., channel] * b).astype(np.intp), b - 1)
        k = int(np.prod(bins))
        index = index.reshape(n, -1) + (np.arange(n) * k)[:, None]
        counts = np.bincount(index.ravel(), minlength=n * k).reshape(n, k)
        return counts / np.float32(index.shape[1])
