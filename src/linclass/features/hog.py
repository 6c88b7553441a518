"""Histograms of oriented gradients (Dalal & Triggs), computed for a whole batch of images at
once with numpy.

scikit-image's ``skimage.feature.hog`` computes the same features one image at a time (the
tests check the two agree); a batch of 1,000 CIFAR-10 images as one set of array operations is
what makes 60,000 of them take seconds. The steps, as there:

1. gradients by centred differences ``[-1, 0, 1]`` along rows and columns (0 on the border);
   in a colour image each pixel keeps the channel whose gradient is the strongest;
2. each pixel votes its gradient's magnitude into the bin of its orientation, unsigned
   (0-180 degrees, ``orientations`` bins), in its cell of ``cell_size`` x ``cell_size`` pixels
   (pixels past the last whole cell are left out); a cell's histogram is the mean vote;
3. optionally, blocks of ``block_size`` x ``block_size`` cells, one cell apart, each normalized
   (``block_norm``: "L1", "L1-sqrt", "L2" or "L2-Hys", the last clipping at 0.2 and
   normalizing again), which makes the features robust to changes of contrast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .base import ImageFeature

__all__ = ["BLOCK_NORMS", "HOG"]

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5


class HOG(ImageFeature):
    """Histogram-of-oriented-gradients features of images given as rows of pixels.

    Parameters
    ----------
    image_shape : tuple, optional
        ``(height, width)`` or ``(height, width, channels)`` of each row; by default a square
        grey (or, failing that, RGB) image.
    cell_size : int, default 8
        Pixels per cell side.
    orientations : int, default 9
        Orientation bins over 0-180 degrees.
    block_size : int or None, default None
        Cells per block side for block normalization; None: the cells' histograms as they are
        (the course's HOG).
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default "L2-Hys"
    batch_size : int, default 1000
        Images computed at once (memory grows with it: about 150 bytes a pixel).
    n_jobs : int or None, default None
        Threads computing batches at once (None: one per core); the features are the
        same for any number.
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Attributes
    ----------
    image_shape_ : tuple
    n_features_out_ : int
    """

    def __init__(
        self,
        image_shape: tuple[int, ...] | None = None,
        *,
        cell_size: int = 8,
        orientations: int = 9,
        block_size: int | None = None,
        block_norm: str = "L2-Hys",
        batch_size: int = 1000,
        n_jobs: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> None:
        self.image_shape = image_shape
        self.cell_size = cell_size
        self.orientations = orientations
        self.block_size = block_size
        self.block_norm = block_norm
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.progress = progress

    def _check_params(self):
        super()._check_params()
        for name in ("cell_size", "orientations"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise InputError(f"{name} must be a positive integer; got {v!r}.")
        if self.block_size is not None and not (
            isinstance(self.block_size, (int, np.integer)) and self.block_size >= 1
        ):
            raise InputError(
                f"block_size must be None or a positive integer; got {self.block_size!r}."
            )
        if self.block_norm not in BLOCK_NORMS:
            raise InputError(f"block_norm must be one of {BLOCK_NORMS}; got {self.block_norm!r}.")

    def _cells(self, shape):
        return shape[0] // self.cell_size, shape[1] // self.cell_size

    def _check_images(self, shape):
        rows, cols = self._cells(shape)
        if rows < 1 or cols < 1:
            raise InputError(
                f"images of {shape[0]} x {shape[1]} pixels are smaller than one "
                f"cell of {self.cell_size} x {self.cell_size}: use a smaller "
                "cell_size."
            )
        b = self.block_size
        if b is not None and (rows < b or cols < b):
            raise InputError(
                f"images of {rows} x {cols} cells hold no block of {b} x {b} "
                "cells: use a smaller block_size or cell_size."
            )

    def _n_out(self, shape):
        rows, cols = self._cells(shape)
        if self.block_size is None:
            return rows * cols * self.orientations
        b = self.block_size
        return (rows - b + 1) * (cols - b + 1) * b * b * self.orientations

    def _features(self, images):
        hist = cell_histograms(images, self.cell_size, self.orientations)
        if self.block_size is not None:
            hist = normalized_blocks(hist, self.block_size, self.block_norm)
        return hist.reshape(len(images), -1)


def gradients(images):
    """Row and column gradients ``(g_row, g_col)`` of ``(n, H, W, C)`` images by centred
    differences, 0 on the border; of each pixel's strongest channel."""
    g_row = np.zeros_like(images)
    g_col = np.zeros_like(images)
    g_row[:, 1:-1] = images[:, 2:] - images[:, :-2]
    g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    if images.shape[3] > 1:
        strongest = np.argmax(g_row * g_row + g_col * g_col, axis=3)[..., None]
        g_row = np.take_along_axis(g_row, strongest, axis=3)
        g_col = np.take_along_axis(g_col, strongest, axis=3)
    return g_row[..., 0], g_col[..., 0]


def cell_histograms(images, cell_size, orientations):
    """``(n, cell rows, cell columns, orientations)``: each cell's mean vote of its pixels'
    gradient magnitudes into the bins of their unsigned orientations."""
    g_row, g_col = gradients(images)
    n = len(images)
    rows, cols = images.shape[1] // cell_size, images.shape[2] // cell_size
    g_row = g_row[:, : rows * cell_size, : cols * cell_size]
    g_col = g_col[:, : rows * cell_size, : cols * cell_size]
    magnitude = np.hypot(g_row, g_col)
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    bins = np.minimum((angle * (orientations / 180.0)).astype(np.intp), orientations - 1)
    votes = np.zeros((*magnitude.shape, orientations), np.float32)
    np.put_along_axis(votes, bins[..., None], magnitude[..., None], axis=3)
    votes = votes.reshape(n, rows, cell_size, cols, cell_size, orientations)
    return votes.sum(axis=(2, 4), dtype=np.float32) / np.float32(cell_size * cell_size)


def normalized_blocks(hist, block_size, norm):
    """``(n, block rows, block columns, b, b, orientations)``: every block of ``block_size``
    cells a side (one cell apart), normalized by ``norm``."""
    blocks = np.lib.stride_tricks.sliding_window_view(hist, (block_size, block_size), axis=(1, 2))
    blocks = np.moveaxis(blocks, 3, -1).astype(np.float32)  # (n, br, bc, b, b, orientations)
    axes = (3, 4, 5)
    if norm == "L1":
        return blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS)
    if norm == "L1-sqrt":
        return np.sqrt(blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS))
    out = blocks / np.sqrt((blocks * blocks).sum(axis=axes, keepdims=True) + _EPS**2)
    if norm == "L2-Hys":
        np.minimum(out, 0.2, out=out)
        out /= np.sqrt((out * out).sum(axis=axes, keepdims=True) + _EPS**2)
    return out
