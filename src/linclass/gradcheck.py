"""Gradient checking: compare a hand-derived (analytic) gradient with a numerical one.

The numerical gradient uses centred differences, ``(f(x + h) - f(x - h)) / 2h``, whose error
is O(h^2). The comparison is the relative error ``|a - n| / max(|a| + |n|, tiny)``: around 1e-7
or less is right in float64, 1e-2 or more is a bug.

A check must not cry wolf, so differences at the level of rounding are not counted
(``atol``): the numerical derivative carries the rounding of ``f`` divided by ``h`` (about
``eps * |f| / h``: 2e-10 in float64 for a loss near 10 and h = 1e-5, far more in float32),
and two correct implementations that sum in different orders differ by about ``eps`` times
the size of what they sum. Without that floor, an entry of the gradient that is tiny next to
the others (or a directional derivative that is almost zero) makes a large *relative* error
out of pure rounding.

Why a hinge loss can fail a check at a kink
-------------------------------------------
The SVM loss contains ``max(0, m)``, which has no derivative at ``m = 0``. If a margin ``m``
lies within ``h`` of zero, the two evaluations ``f(x + h)`` and ``f(x - h)`` straddle the kink:
one sees slope 0, the other slope 1, and the centred difference reports about 1/2 where the
analytic (sub)gradient says 0 or 1. The relative error is then large even though the analytic
code is right. It happens rarely (a margin must fall within h of 0) and more often with float32
or tiny weights (when all scores are close together, every margin is near the margin constant).
Remedies: check more coordinates and look at the distribution of errors, use a smaller ``h``,
use the squared hinge (smooth at the kink), or move away from the kink by rescaling W.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._typing import Array
from .errors import InputError

__all__ = [
    "numerical_gradient",
    "relative_error",
    "difference_noise",
    "grad_check",
    "directional_check",
    "check_loss_functions",
    "explain_failure",
]


def numerical_gradient(f: Callable[[Array], float], x: Array, h: float = 1e-5) -> Array:
    """Centred-difference gradient of a scalar function at every coordinate of ``x``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; called with ``x`` itself (changed in place, one coordinate at a time).
    x : ndarray of float
        The point. It is restored exactly after every probe, also when ``f`` raises.
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray, same shape as x, float64
    """
    x = _writable_float_array(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        grad[ix] = _centred_difference(f, x, ix, h)
    return grad


def _writable_float_array(x):
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            "x must be a numpy array of floats (f is evaluated at changed copies of it)."
        )
    if not x.flags.writeable:
        raise InputError("x must be writable: the check perturbs it in place and restores it.")
    return x


def _centred_difference(f, x, ix, h):
    old = x[ix]
    try:
        x[ix] = old + h
        fp = float(f(x))
        x[ix] = old - h
        fm = float(f(x))
    finally:
        x[ix] = old
    return (fp - fm) / (2 * h)


def relative_error(a: ArrayLike, b: ArrayLike, tiny: float = 1e-8, atol: float = 0.0) -> float:
    """Largest element-wise relative error ``max(|a - b| - atol, 0) / max(|a| + |b|, tiny)``.

    ``tiny`` keeps two values that are both (almost) zero from counting as different; ``atol``
    is the rounding noise below which a difference is no difference (see the module's notes).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: {a.shape} and {b.shape}.")
    if a.size == 0:
        return 0.0
    diff = np.maximum(np.abs(a - b) - atol, 0.0)
    return float(np.max(diff / np.maximum(np.abs(a) + np.abs(b), tiny)))


def difference_noise(f_value: float, h: float, dtype: DTypeLike = np.float64) -> float:
    """The rounding noise of a centred difference: ``f`` is known to about ``32 eps |f|`` (a
    loss is a mean of many rounded terms), and ``(f(x+h) - f(x-h)) / 2h`` turns two such
    errors into about ``32 eps |f| / h``."""
    return 32 * float(np.finfo(dtype).eps) * max(abs(float(f_value)), 1.0) / h


def grad_check(
    f: Callable[[Array], float],
    x: Array,
    analytic: Array,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int = 0,
    tiny: float = 1e-8,
    atol: float | None = None,
) -> Array:
    """Relative errors between analytic and numerical gradients at random coordinates.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray of float
        The point (restored after the check).
    analytic : ndarray, same shape as x
        The gradient to check.
    num_checks : int, default 10
        How many coordinates to sample (with replacement, seeded).
    h : float, default 1e-5
    seed : int, default 0
    tiny : float, default 1e-8
        Passed to ``relative_error``: values below it count as zero.
    atol : float, optional
        Differences below this are rounding, not error. Default: the rounding noise of a
        centred difference of ``f`` at ``x`` in x's dtype (``difference_noise``).

    Returns
    -------
    errors : ndarray of shape (num_checks,)
        One relative error per sampled coordinate.
    """
    x = _writable_float_array(x)
    analytic = np.asarray(analytic)
    if analytic.shape != x.shape:
        raise InputError(f"analytic gradient has shape {analytic.shape}, x has {x.shape}.")
    if atol is None:
        atol = difference_noise(f(x), h, x.dtype)
    rng = np.random.default_rng(seed)
    errors = np.empty(num_checks)
    for k in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        errors[k] = relative_error(analytic[ix], _centred_difference(f, x, ix, h), tiny, atol)
    return errors


def directional_check(
    f: Callable[[Array], float],
    x: Array,
    analytic: Array,
    h: float = 1e-5,
    seed: int = 0,
    tiny: float = 1e-8,
    atol: float | None = None,
) -> float:
    """Check all coordinates at once along one random direction.

    The directional derivative along a random unit vector v is ``<analytic, v>`` analytically
    and ``(f(x + h v) - f(x - h v)) / 2h`` numerically; a wrong entry anywhere in the gradient
    shows up in it (with probability 1). Costs two evaluations of f, whatever the size of x.
    ``tiny`` and ``atol`` (default: the rounding noise, as in ``grad_check``) are passed to
    ``relative_error``.

    Returns
    -------
    error : float
        The relative error between the two directional derivatives.
    """
    x = _writable_float_array(x)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise InputError(f"analytic gradient has shape {analytic.shape}, x has {x.shape}.")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(x.shape)
    v /= np.linalg.norm(v) or 1.0
    if atol is None:
        atol = difference_noise(f(x), h, x.dtype)
    fp = float(f(x + h * v))
    fm = float(f(x - h * v))
    return relative_error(float(np.sum(analytic * v)), (fp - fm) / (2 * h), tiny, atol)


def check_loss_functions(
    model: str = "svm",
    n_samples: int = 100,
    n_features: int = 50,
    n_classes: int = 10,
    reg: float = 0.1,
    seed: int = 0,
    num_checks: int = 20,
) -> dict[str, Any]:
    """Check the lecture's naive and vectorized loss functions against each other and numbers.

    On random float64 data: the loss and gradient of the naive loop version against the
    vectorized one, the vectorized gradient against centred differences (sampled coordinates
    and one random direction over all of them), and the time of each version.

    Returns
    -------
    dict
        ``rows``: a list of ``(check, relative_error, threshold)``; ``naive_seconds``,
        ``vectorized_seconds`` and ``speedup`` (naive / vectorized).
    """
    import time

    from .lecture import softmax_loss, softmax_loss_naive, svm_loss, svm_loss_naive

    pairs = {"svm": (svm_loss_naive, svm_loss), "softmax": (softmax_loss_naive, softmax_loss)}
    if model not in pairs:
        raise InputError(f"model must be 'svm' or 'softmax'; got {model!r}.")
    naive, fast = pairs[model]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = rng.integers(n_classes, size=n_samples)
    W = 0.01 * rng.standard_normal((n_classes, n_features))

    def timed(fn):
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            out = fn(W, X, y, reg)
            best = min(best, time.perf_counter() - t)
        return out, best

    (loss_n, dW_n), t_naive = timed(naive)
    (loss_v, dW_v), t_fast = timed(fast)

    def f(w):
        return fast(w, X, y, reg)[0]

    # Two right implementations differ by the rounding of their sums over the samples.
    eps = float(np.finfo(np.float64).eps)
    rows = [
        (
            "naive vs vectorized: loss",
            relative_error(loss_n, loss_v, atol=n_samples * eps * abs(loss_v)),
            1e-12,
        ),
        (
            "naive vs vectorized: gradient",
            relative_error(dW_n, dW_v, atol=n_samples * eps * np.abs(dW_v).max()),
            1e-10,
        ),
        (
            f"numerical vs analytic: {num_checks} sampled coordinates (max)",
            float(np.max(grad_check(f, W, dW_v, num_checks=num_checks, seed=seed))),
            1e-7,
        ),
        (
            "numerical vs analytic: random direction, all coordinates",
            directional_check(f, W, dW_v, seed=seed),
            1e-7,
        ),
    ]
    return {
        "rows": rows,
        "naive_seconds": t_naive,
        "vectorized_seconds": t_fast,
        "speedup": t_naive / t_fast,
    }


def explain_failure(model: str, check: str) -> str:
    """What a failed row of ``check_loss_functions`` most likely means, for that loss."""
    if check.startswith("naive vs vectorized"):
        return (
            "the loop and the vectorized code disagree beyond rounding: one of them has a "
            "bug (both are analytic, so no kink or step size is involved)"
        )
    if model == "svm":
        return (
            "either the analytic gradient is wrong, or a margin lies within h of the "
            "hinge's kink, where the numerical derivative straddles two slopes: if another "
            "--seed passes, it was the kink"
        )
    return "the softmax loss is smooth (no kink), so the analytic gradient is most likely wrong"
