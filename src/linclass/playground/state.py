"""What the page sends, checked: every field of a request to the playground's server, bounded.

The page keeps the whole state (points, weights, settings) and sends it with each request; the
server keeps nothing between requests. ``lab_state(body)`` turns a decoded JSON object into a
``LabState`` or raises ``StateError`` naming the field and what it accepts. Sizes are capped
(points, classes, steps, grid), so no request can make the server work for long or allocate much.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "FEATURES",
    "MAX_POINTS",
    "MAX_CLASSES",
    "MAX_STEPS",
    "MAX_GRID",
    "LabState",
    "StateError",
    "lab_state",
    "number",
    "integer",
    "choice",
]

LOSSES = ("weston_watkins", "crammer_singer", "one_vs_all", "softmax")
OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
FEATURES = ("x2", "y2", "xy")  # extra feature maps after x and y: x**2, y**2, x*y
MAX_POINTS = 2000
MAX_CLASSES = 10
MAX_STEPS = 500  # optimizer steps in one request
MAX_GRID = 160  # cells on a side of the background's class map
MAX_COORD = 1e3  # |x|, |y| of a point
MAX_PARAM = 1e6  # |W|, |b| and optimizer state entries


class StateError(InputError):
    """A request the playground refuses: the message names the field and what it accepts."""


def number(
    body: dict[str, Any],
    key: str,
    default: float | None = None,
    lo: float = -math.inf,
    hi: float = math.inf,
    low_open: bool = False,
) -> float:
    """A finite float in [lo, hi] (or (lo, hi] with ``low_open``)."""
    value = body.get(key, default)
    if value is None:
        raise StateError(f"{key} is missing: send a number.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StateError(f"{key} must be a number; got {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or value > hi or value < lo or (low_open and value == lo):
        side = "(" if low_open else "["
        raise StateError(f"{key} must be a finite number in {side}{lo:g}, {hi:g}]; got {value!r}.")
    return value


def integer(
    body: dict[str, Any], key: str, default: int | None = None, lo: int = 0, hi: int = 2**31 - 1
) -> int:
    """An int in [lo, hi]."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateError(f"{key} must be a whole number from {lo} to {hi}; got {value!r}.")
    if not lo <= value <= hi:
        raise StateError(f"{key} must be from {lo} to {hi}; got {value}.")
    return value


def choice(
    body: dict[str, Any], key: str, options: Sequence[str], default: str | None = None
) -> str:
    """One of ``options``."""
    value = body.get(key, default)
    if value not in options:
        raise StateError(f"{key} must be one of {', '.join(options)}; got {value!r}.")
    return str(value)


def _matrix(value: Any, key: str, shape: tuple[int, ...], limit: float = MAX_PARAM) -> np.ndarray:
    """A nested list of finite numbers with exactly ``shape``."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise StateError(f"{key} must be a list of numbers of shape {shape}.") from None
    if a.shape != shape:
        raise StateError(f"{key} must have shape {shape} (classes x features); got {a.shape}.")
    if not np.all(np.isfinite(a)) or np.any(np.abs(a) > limit):
        raise StateError(f"{key} holds a number that is not finite or is over {limit:g} in size.")
    return a


@dataclass
class LabState:
    """The loss lab's state: data, settings and parameters (see the module docstring)."""

    X: np.ndarray  # (n, 2) points
    y: np.ndarray  # (n,) classes
    val: np.ndarray  # (n,) bool: held out for validation
    n_classes: int
    loss: str = "weston_watkins"
    reg: float = 0.0
    delta: float = 1.0
    lr: float = 0.1
    optimizer: str = "gd"
    batch: int = 0  # minibatch size for "sgd" (0: all the training points)
    features: tuple[str, ...] = ()
    seed: int = 0
    W: np.ndarray | None = None
    b: np.ndarray | None = None
    t: int = 0  # optimizer steps taken so far
    opt: list[np.ndarray] = field(default_factory=list)  # the optimizer's running arrays

    @property
    def n_features(self) -> int:
        return 2 + len(self.features)


def _points(value: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(value, list):
        raise StateError("points must be a list of [x, y, class, held_out] rows.")
    if len(value) > MAX_POINTS:
        raise StateError(f"points: at most {MAX_POINTS:,} points; got {len(value):,}.")
    if not value:
        return np.zeros((0, 2)), np.zeros(0, dtype=int), np.zeros(0, dtype=bool)
    try:
        rows = np.array(
            [
                [float(p[0]), float(p[1]), float(p[2]), float(p[3]) if len(p) > 3 else 0]
                for p in value
            ],
            dtype=np.float64,
        )
    except (TypeError, ValueError, IndexError, KeyError):
        raise StateError(
            "points must be a list of [x, y, class, held_out] rows of numbers."
        ) from None
    if not np.all(np.isfinite(rows)) or np.any(np.abs(rows[:, :2]) > MAX_COORD):
        raise StateError(f"points: coordinates must be finite numbers within +-{MAX_COORD:g}.")
    c = rows[:, 2]
    if np.any(c != np.round(c)) or np.any(c < 0) or np.any(c >= n_classes):
        raise StateError(f"points: each class must be a whole number from 0 to {n_classes - 1}.")
    return rows[:, :2].copy(), c.astype(int), rows[:, 3] != 0


def lab_state(body: Any) -> LabState:
    """Check a request body (a dict from JSON) and return the ``LabState`` it describes."""
    if not isinstance(body, dict):
        raise StateError("the request must be a JSON object.")
    n_classes = integer(body, "classes", 3, 2, MAX_CLASSES)
    X, y, val = _points(body.get("points", []), n_classes)
    features = body.get("features", [])
    if (
        not isinstance(features, list)
        or any(f not in FEATURES for f in features)
        or len(set(features)) != len(features)
    ):
        raise StateError(f"features must be a list of distinct names from {', '.join(FEATURES)}.")
    features = tuple(f for f in FEATURES if f in features)  # one order, whatever was sent
    state = LabState(
        X,
        y,
        val,
        n_classes,
        loss=choice(body, "loss", LOSSES, "weston_watkins"),
        reg=number(body, "reg", 0.0, 0.0, 1e3),
        delta=number(body, "delta", 1.0, 0.0, 1e3, low_open=True),
        lr=number(body, "lr", 0.1, 0.0, 1e3, low_open=True),
        optimizer=choice(body, "optimizer", OPTIMIZERS, "gd"),
        batch=integer(body, "batch", 0, 0, MAX_POINTS),
        features=features,
        seed=integer(body, "seed", 0, 0, 2**32 - 1),
        t=integer(body, "t", 0, 0, 10**9),
    )
    shape = (n_classes, state.n_features)
    state.W = _matrix(body["W"], "W", shape) if "W" in body else None
    state.b = _matrix(body["b"], "b", (n_classes,)) if "b" in body else None
    if (state.W is None) != (state.b is None):
        raise StateError("send W and b together, or neither (then they start from the seed).")
    opt = body.get("opt") or []
    if not isinstance(opt, list) or len(opt) > 4:
        raise StateError("opt must be a list of the optimizer's running arrays (at most 4).")
    shapes = [shape, (n_classes,)] * 2
    state.opt = [_matrix(a, f"opt[{i}]", s) for i, (a, s) in enumerate(zip(opt, shapes))]
    return state
