"""Toy data sets in the plane for the playground: blobs, lines, circles, spiral and XOR.

Each maker returns points ``(x, y)`` in about ``[-2, 2]**2`` with integer classes, drawn from a
``numpy.random.Generator`` seeded by ``seed`` (the same seed, the same points), and a mask of the
points held out for validation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DATASETS", "make_dataset"]


def _blobs(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    angles = 2 * np.pi * np.arange(c) / c + 0.3
    centres = 1.3 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = np.arange(n) % c
    return centres[y] + 0.35 * rng.normal(size=(n, 2)), y


def _lines(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    # parallel bands, one per class: separable by parallel lines
    y = np.arange(n) % c
    offset = (y - (c - 1) / 2) * (3.2 / c)
    along = rng.uniform(-1.8, 1.8, n)
    across = offset + rng.uniform(-0.4, 0.4, n) * (3.2 / c)
    direction = np.array([np.cos(0.5), np.sin(0.5)])
    normal = np.array([-direction[1], direction[0]])
    return along[:, None] * direction + across[:, None] * normal, y


def _circles(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    # rings around the origin: a linear classifier needs x**2 + y**2
    y = np.arange(n) % c
    radius = 0.4 + 1.5 * y / max(c - 1, 1) + rng.normal(scale=0.08, size=n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1), y


def _spiral(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    # CS231n's spiral: c arms, not linearly separable
    y = np.arange(n) % c
    r = rng.uniform(0.05, 1.0, n)
    angle = y * 2 * np.pi / c + 4.0 * r + rng.normal(scale=0.2, size=n)
    return 1.9 * r[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1), y


def _xor(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    # the four quadrants, classes alternating: separable with the feature x * y
    X = rng.uniform(-1.9, 1.9, size=(n, 2))
    X += 0.1 * np.sign(X)  # a small gap around the axes
    quadrant = (X[:, 0] > 0).astype(int) ^ (X[:, 1] > 0).astype(int)
    return X, quadrant % c


DATASETS = {"blobs": _blobs, "lines": _lines, "circles": _circles, "spiral": _spiral, "xor": _xor}


def make_dataset(
    kind: str,
    n_classes: int,
    n_points: int,
    noise: float = 0.0,
    seed: int = 0,
    val_fraction: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of one of the ``DATASETS``.

    Parameters
    ----------
    kind : {"blobs", "lines", "circles", "spiral", "xor"}
    n_classes : int
        Classes 0..n_classes-1 (XOR has two whatever this says).
    n_points : int
    noise : float
        Standard deviation of Gaussian noise added to every coordinate.
    seed : int
    val_fraction : float in [0, 1)
        The share of the points held out for validation (chosen at random).

    Returns
    -------
    X : ndarray of shape (n_points, 2)
    y : ndarray of int of shape (n_points,)
    val : ndarray of bool of shape (n_points,)
    """
    rng = np.random.default_rng(seed)
    X, y = DATASETS[kind](rng, n_points, n_classes)
    X = X + noise * rng.normal(size=X.shape)
    val = np.zeros(n_points, dtype=bool)
    val[rng.permutation(n_points)[: int(round(val_fraction * n_points))]] = True
    return X, y.astype(int), val
