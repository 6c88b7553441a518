"""Single-layer unsupervised features (Coates, Lee & Ng, 2011, "An Analysis of Single-Layer
Networks in Unsupervised Feature Learning"): with them a *linear* classifier reaches 0.73-0.78 on
CIFAR-10, where raw pixels stop near 0.40.

``fit`` learns, from random patches of the training images:

1. ``n_patches`` random ``patch_size`` x ``patch_size`` patches, each normalized for brightness
   and contrast (its mean taken away, divided by ``sqrt(variance + 10)`` on the 0-255 scale:
   ``10 * (pixel_max / 255)²`` for pixels that go up to ``pixel_max``);
2. ZCA whitening (``zca_eps``), which decorrelates neighbouring pixels so that the dictionary
   learns edges rather than smooth blobs;
3. a dictionary of ``n_centroids`` whitened patches: by k-means (scikit-learn's ``KMeans``,
   Lloyd's iterations from ``n_centroids`` random patches, as in the paper) or, as the paper
   found nearly as good, ``n_centroids`` random whitened patches.

``transform`` encodes every patch of an image (stride 1) against the dictionary as one matrix
product per batch of images, and sums each feature over the image's four quadrants, giving
``4 * n_centroids`` features:

* ``encoding="triangle"``: ``f_k = max(0, mean_j(z_j) - z_k)`` with ``z_k`` the patch's distance
  to centroid k (the k-means "triangle" activation);
* ``encoding="soft-threshold"``: ``f_k = max(0, c_k . x - alpha)``, for a dictionary of random
  patches (normalized to unit length).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._typing import Data, Labels
from ..errors import InputError
from ..limits import check_bytes
from .base import ImageFeature

__all__ = ["DICTIONARIES", "ENCODINGS", "Patches"]

DICTIONARIES = ("kmeans", "random")
ENCODINGS = ("triangle", "soft-threshold")
_VAR_EPS = 10.0  # the paper's brightness/contrast normalization, on 0-255 pixels


class Patches(ImageFeature):
    """Coates-Lee-Ng single-layer features of images given as rows of pixels.

    Parameters
    ----------
    image_shape : tuple, optional
        ``(height, width)`` or ``(height, width, channels)``; by default a square image.
    n_centroids : int, default 1600
        Dictionary size K; the features are ``4 * K``.
    patch_size : int, default 6
    n_patches : int, default 400_000
        Random patches to learn from.
    dictionary : {"kmeans", "random"}, default "kmeans"
    encoding : {"triangle", "soft-threshold"}, default "triangle"
    alpha : float, default 0.25
        The soft threshold.
    kmeans_iter : int, default 30
    zca_eps : float, default 0.1
    pixel_max : float, default 255
        The value of a full channel (the contrast normalization's constant scales with it).
    random_state : int, RandomState or None
    batch_size : int, default 50
        Images encoded at once (memory: about ``729 * K * 4`` bytes an image at 32 x 32).
    n_jobs : int or None, default None
        Threads computing batches at once (None: one per core); the features are the
        same for any number.
    progress : callable, optional
        ``progress(done, total)`` after each batch of ``transform``.

    Attributes
    ----------
    zca_mean_ : ndarray of shape (d,)
    zca_ : ndarray of shape (d, d)
        The whitening matrix (symmetric), d = patch_size² x channels.
    centroids_ : ndarray of shape (n_centroids, d)
    inertia_ : float or None
        k-means's mean squared distance from a patch to its nearest centroid (None for a
        dictionary of random patches).
    """

    def __init__(
        self,
        image_shape: tuple[int, ...] | None = None,
        *,
        n_centroids: int = 1600,
        patch_size: int = 6,
        n_patches: int = 400_000,
        dictionary: str = "kmeans",
        encoding: str = "triangle",
        alpha: float = 0.25,
        kmeans_iter: int = 30,
        zca_eps: float = 0.1,
        pixel_max: float = 255,
        random_state: int | np.random.RandomState | None = None,
        batch_size: int = 50,
        n_jobs: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> None:
        self.image_shape = image_shape
        self.n_centroids = n_centroids
        self.patch_size = patch_size
        self.n_patches = n_patches
        self.dictionary = dictionary
        self.encoding = encoding
        self.alpha = alpha
        self.kmeans_iter = kmeans_iter
        self.zca_eps = zca_eps
        self.pixel_max = pixel_max
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.progress = progress

    # -- checks -------------------------------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        for name in ("n_centroids", "patch_size", "n_patches", "kmeans_iter"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise InputError(f"{name} must be a positive integer; got {v!r}.")
        if self.dictionary not in DICTIONARIES:
            raise InputError(f"dictionary must be one of {DICTIONARIES}; got {self.dictionary!r}.")
        if self.encoding not in ENCODINGS:
            raise InputError(f"encoding must be one of {ENCODINGS}; got {self.encoding!r}.")
        if self.n_centroids > self.n_patches:
            raise InputError(
                f"n_centroids={self.n_centroids} is more than the n_patches="
                f"{self.n_patches} sampled to learn them from: sample more patches "
                "or ask for fewer centroids."
            )
        for name in ("alpha", "zca_eps"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a number >= 0; got {v!r}.")
        v = self.pixel_max
        if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
            raise InputError(f"pixel_max must be a positive number; got {v!r}.")

    def _check_images(self, shape):
        p = self.patch_size
        if shape[0] < p or shape[1] < p:
            raise InputError(
                f"images of {shape[0]} x {shape[1]} pixels are smaller than a patch "
                f"of {p} x {p}: use a smaller patch_size."
            )

    def _n_out(self, shape):
        return 4 * self.n_centroids

    def _var_eps(self):
        return _VAR_EPS * (float(self.pixel_max) / 255.0) ** 2

    # -- learning -----------------------------------------------------------------------------
    def fit(self, X: Data, y: Labels | None = None) -> Patches:
        """Learn the whitening and the dictionary from random patches of X's images."""
        X = self._fit_shape(X)
        rng = check_random_state(self.random_state)
        shape = self.image_shape_
        h, w = shape[0], shape[1]
        c = shape[2] if len(shape) == 3 else 1
        p = self.patch_size
        n = X.shape[0]
        which = rng.randint(0, n, self.n_patches)
        rows = rng.randint(0, h - p + 1, self.n_patches)
        cols = rng.randint(0, w - p + 1, self.n_patches)
        patches = np.empty((self.n_patches, p * p * c), np.float32)
        order = np.argsort(which, kind="stable")  # read each image's row once
        for start in range(0, self.n_patches, 10_000):
            sel = order[start : start + 10_000]
            images = np.asarray(X[which[sel]], np.float32).reshape(len(sel), h, w, c)
            for j, k in enumerate(sel):
                patches[k] = images[j, rows[k] : rows[k] + p, cols[k] : cols[k] + p].ravel()
        if not np.all(np.isfinite(patches)):
            raise InputError("X has NaN or infinite pixels: fix or drop those rows first.")
        patches = _normalize(patches, self._var_eps())
        mean = patches.mean(axis=0, dtype=np.float64)
        cov = np.cov(patches, rowvar=False, dtype=np.float64)
        vals, vecs = np.linalg.eigh(cov)
        zca = (vecs * (1.0 / np.sqrt(np.maximum(vals, 0) + self.zca_eps))) @ vecs.T
        self.zca_mean_ = mean.astype(np.float32)
        self.zca_ = zca.astype(np.float32)
        white = (patches - self.zca_mean_) @ self.zca_
        del patches
        seeds = rng.choice(len(white), self.n_centroids, replace=False)
        centroids = white[seeds].copy()
        self.inertia_ = None
        if self.dictionary == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(
                self.n_centroids,
                init=centroids,
                n_init=1,
                max_iter=self.kmeans_iter,
                tol=0.0,
                algorithm="lloyd",
            ).fit(white)
            centroids = km.cluster_centers_
            self.inertia_ = float(km.inertia_) / len(white)
        if self.encoding == "soft-threshold":
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-8
        self.centroids_ = centroids.astype(np.float32)
        return self

    # -- encoding -----------------------------------------------------------------------------
    def activation_maps(self, X: Data) -> np.ndarray:
        """Each centroid's activation at every patch position of each image: what
        ``transform`` sums over the image's four quadrants, before that pooling.

        Returns
        -------
        ndarray of shape (n_images, rows, cols, n_centroids), float32
            ``rows = height - patch_size + 1`` (and ``cols`` likewise): one entry per patch
            position, stride 1. Meant for a few images (to see where each dictionary piece
            is found); its size is checked against the memory cap.
        """
        check_is_fitted(self, "centroids_")
        X = validate_data(self, X, reset=False, dtype=None)
        shape = self.image_shape_
        p, n = self.patch_size, X.shape[0]
        gh, gw = shape[0] - p + 1, shape[1] - p + 1
        check_bytes(
            4 * n * gh * gw * self.n_centroids,
            f"the activation maps of {n:,} images",
            "Patches.activation_maps",
        )
        white, _, _ = self._white_patches(self._fold(np.asarray(X, np.float32)))
        return self._encode(white).reshape(n, gh, gw, -1)

    def _white_patches(self, images):
        """Every ``patch_size`` patch of ``images`` (n, h, w, c), stride 1, normalized and
        whitened: ``(patches, rows, cols)``, one patch a row."""
        n, _h, _w, c = images.shape
        p = self.patch_size
        windows = np.lib.stride_tricks.sliding_window_view(images, (p, p), axis=(1, 2))
        gh, gw = windows.shape[1], windows.shape[2]  # (n, gh, gw, c, p, p)
        patches = np.moveaxis(windows, 3, -1).reshape(n * gh * gw, p * p * c)
        white = (_normalize(patches, self._var_eps()) - self.zca_mean_) @ self.zca_
        return white, gh, gw

    def _features(self, images):
        n = images.shape[0]
        white, gh, gw = self._white_patches(images)
        kernels = _kernels()
        if kernels is not None:  # one compiled pass over the products
            P = white @ self.centroids_.T
            xx = np.einsum("ij,ij->i", white, white)
            cc = np.einsum("ij,ij->i", self.centroids_, self.centroids_)
            out = np.zeros((n, 4 * self.n_centroids), np.float32)
            return kernels.encode_pool(
                P, xx, cc, self.encoding == "triangle", np.float32(self.alpha), gh, gw, out
            )
        f = self._encode(white).reshape(n, gh, gw, -1)
        hr, hc = gh // 2, gw // 2  # the paper's quadrants (a 27-grid splits 13 / 14)
        quads = [f[:, :hr, :hc], f[:, :hr, hc:], f[:, hr:, :hc], f[:, hr:, hc:]]
        return np.concatenate([q.sum(axis=(1, 2), dtype=np.float32) for q in quads], axis=1)

    def _encode(self, white):
        C = self.centroids_
        if self.encoding == "soft-threshold":
            return np.maximum(white @ C.T - np.float32(self.alpha), 0)
        z = _squared_distances(white, C)
        np.maximum(z, 0, out=z)
        np.sqrt(z, out=z)
        mu = z.mean(axis=1, keepdims=True)
        np.subtract(mu, z, out=z)
        return np.maximum(z, 0, out=z)


def _kernels():
    """The compiled encoder (``linclass.features._kernels``), or None without numba (then
    numpy computes the same, in more passes)."""
    from .. import fused

    if fused.available() and os.environ.get(fused.ENV, "auto").strip().lower() != "numpy":
        from . import _kernels as kernels

        return kernels
    return None


def _normalize(patches, var_eps=_VAR_EPS):
    """Each patch minus its mean, over ``sqrt(variance + var_eps)``: brightness and contrast."""
    patches = np.asarray(patches, np.float32)
    mean = patches.mean(axis=1, keepdims=True)
    var = patches.var(axis=1, keepdims=True)
    return (patches - mean) / np.sqrt(var + np.float32(var_eps))


def _squared_distances(X, C):
    """``||x - c||²`` for every row of X and every centroid, as one matrix product."""
    d = X @ (-2 * C.T)
    d += (X * X).sum(axis=1, keepdims=True)
    d += (C * C).sum(axis=1)[None, :]
    return d
