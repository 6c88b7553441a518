"""Step 2: losses on class scores, as functions and as small objects that carry their traits.

``multiclass_hinge(S, y)`` and ``softmax_cross_entropy(S, y)`` take the scores ``S`` of shape
``(n_samples, n_classes)`` and integer labels ``y`` in ``0..C-1`` and return ``(loss, dS)``: the
(weighted) mean loss over the samples and its gradient with respect to the scores. Everything
else in linclass is built on these two. ``one_vs_all_hinge`` (one binary SVM per class) has the
same form; the playground offers it beside them.

The training engine takes a loss as an object (``Hinge``, ``SoftmaxCrossEntropy``): called like
the function, it also says what the engine needs to know about it:

* ``curvature``: a bound on the loss's second derivative in the scores (1/2 for the softmax),
  or None where there is none (the hinge has a kink), which sets the automatic step size;
* ``smooth``: differentiable everywhere, so that L-BFGS applies;
* ``reg_strength``: the automatic L2 penalty is this times ``mean(||x_i||**2)``.

The lecture's functions on weights, ``(W, X, y, reg) -> (loss, dW)``, are in
``linclass.lecture``. This module imports nothing but numpy.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray  # (this module imports nothing of linclass: see the docstring)

__all__ = [
    "multiclass_hinge",
    "one_vs_all_hinge",
    "softmax_cross_entropy",
    "softmax",
    "log_softmax",
    "Loss",
    "Hinge",
    "SoftmaxCrossEntropy",
    "HINGE_VARIANTS",
]

# The names are also offered, numpy-free, by linclass.choices (the estimators check they agree);
# this module imports nothing but numpy, so that it can be read -- and copied -- on its own.
HINGE_VARIANTS = ("weston_watkins", "crammer_singer")


def _check_scores_labels(S, y):
    S = np.asarray(S)
    y = np.asarray(y)
    if S.ndim != 2:
        raise ValueError(f"scores S must be 2-d (n_samples, n_classes); got shape {S.shape}.")
    if y.shape != (S.shape[0],):
        raise ValueError(
            f"labels y must have shape ({S.shape[0]},) to match S {S.shape}; got {y.shape}."
        )
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= S.shape[1]):
        raise ValueError(
            f"labels y must be integers in 0..{S.shape[1] - 1} (one per column of S); "
            "map class labels to indices first (the estimators do this for you)."
        )
    return S, y


def _check_reduction(reduction):
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}.")


def _sample_scale(n, sample_weight, dtype):
    """Per-sample factors that turn per-sample losses into their (weighted) mean."""
    if sample_weight is None:
        return None, 1.0 / n
    w = np.asarray(sample_weight, dtype=dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}.")
    total = w.sum()
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum.")
    return w / total, None


def _mean(per_sample, weights, inv_n):
    if weights is None:
        return float(per_sample.sum(dtype=np.float64) * inv_n)
    return float(np.dot(per_sample.astype(np.float64, copy=False), weights))


def _scale_rows(dS, weights, inv_n):
    if weights is None:
        dS *= inv_n
    else:
        dS *= weights[:, None]
    return dS


@overload
def multiclass_hinge(
    S: Array,
    y: Array,
    margin: float = ...,
    variant: str = ...,
    squared: bool = ...,
    sample_weight: ArrayLike | None = ...,
    reduction: Literal["mean"] = ...,
) -> tuple[float, Array]: ...
@overload
def multiclass_hinge(
    S: Array,
    y: Array,
    margin: float = ...,
    variant: str = ...,
    squared: bool = ...,
    sample_weight: ArrayLike | None = ...,
    *,
    reduction: Literal["none"],
) -> tuple[Array, Array]: ...
def multiclass_hinge(
    S: Array,
    y: Array,
    margin: float = 1.0,
    variant: str = "weston_watkins",
    squared: bool = False,
    sample_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> tuple[float, Array] | tuple[Array, Array]:
    """Multiclass SVM (hinge) loss on scores, and its gradient.

    ``variant="weston_watkins"`` (the lecture's SVM loss) sums over the wrong classes::

        L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)

    ``variant="crammer_singer"`` keeps only the worst wrong class::

        L_i = max(0, max_{j != y_i} (s_j - s_{y_i} + margin))

    ``squared=True`` squares each hinge term (``max(0, .)**2``), which makes the loss
    differentiable at the kink.

    Parameters
    ----------
    S : ndarray of shape (n_samples, n_classes)
        Class scores.
    y : ndarray of int of shape (n_samples,)
        True class index of each sample, in ``0..n_classes-1``.
    margin : float, default 1.0
        The margin Delta the true score must win by.
    variant : {"weston_watkins", "crammer_singer"}
    squared : bool, default False
    sample_weight : ndarray of shape (n_samples,), optional
        The loss is then the weighted mean ``sum(w_i L_i) / sum(w_i)``.
    reduction : {"mean", "none"}, default "mean"
        "none" returns each sample's own loss ``L_i`` (an array) and, in row i of dS, the
        gradient of ``L_i`` alone (not divided by n); ``sample_weight`` is then ignored.

    Returns
    -------
    loss : float
        Mean loss over the samples.
    dS : ndarray of shape (n_samples, n_classes)
        Gradient of ``loss`` with respect to S, in the dtype of S. At a kink (a margin exactly
        0) the subgradient 0 is used; for Crammer-Singer ties go to the first worst class.
    """
    S, y = _check_scores_labels(S, y)
    _check_reduction(reduction)
    if variant not in HINGE_VARIANTS:
        raise ValueError(f"variant must be one of {HINGE_VARIANTS}; got {variant!r}.")
    n = S.shape[0]
    rows = np.arange(n)
    weights, inv_n = _sample_scale(n, sample_weight, S.dtype)
    # d = s - s_y + margin for every class; the true class's own entry is not a margin.
    d = S - S[rows, y][:, None]
    d += S.dtype.type(margin)
    # Zero on the true class: it adds max(0, 0) = 0 to either variant, whatever the margin.
    d[rows, y] = 0
    if variant == "crammer_singer":
        worst = np.argmax(d, axis=1)
        h = np.maximum(d[rows, worst], 0)
        per_sample = h * h if squared else h
        dS = np.zeros_like(S)
        g = 2 * h if squared else (h > 0).astype(S.dtype)
        dS[rows, worst] = g
        dS[rows, y] -= g
    else:
        np.maximum(d, 0, out=d)
        if squared:
            per_sample = np.einsum("ij,ij->i", d, d)
            dS = d
            dS *= 2
        else:
            per_sample = d.sum(axis=1)
            dS = (d > 0).astype(S.dtype)
        # The true class moves against every wrong class with a positive margin: -n * x.
        dS[rows, y] = 0
        dS[rows, y] = -dS.sum(axis=1)
    if reduction == "none":
        return per_sample, dS
    loss = _mean(per_sample, weights, inv_n)
    return loss, _scale_rows(dS, weights, inv_n)


@overload
def one_vs_all_hinge(
    S: Array,
    y: Array,
    margin: float = ...,
    squared: bool = ...,
    sample_weight: ArrayLike | None = ...,
    reduction: Literal["mean"] = ...,
) -> tuple[float, Array]: ...
@overload
def one_vs_all_hinge(
    S: Array,
    y: Array,
    margin: float = ...,
    squared: bool = ...,
    sample_weight: ArrayLike | None = ...,
    *,
    reduction: Literal["none"],
) -> tuple[Array, Array]: ...
def one_vs_all_hinge(
    S: Array,
    y: Array,
    margin: float = 1.0,
    squared: bool = False,
    sample_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> tuple[float, Array] | tuple[Array, Array]:
    """One-vs-all hinge loss on scores (one binary SVM per class), and its gradient.

    Each class's score is pushed above ``margin`` for its own samples and below ``-margin`` for
    every other sample::

        L_i = sum_j max(0, margin - t_ij s_j),   t_ij = +1 if j == y_i else -1

    Unlike the multiclass hinge, the classes do not compete: each column of ``S`` is a separate
    two-class problem. ``squared=True`` gives the squared hinge of Coates and Ng's L2-SVM.

    Parameters and returns are those of ``multiclass_hinge`` (without ``variant``, with
    ``reduction``). At a kink the subgradient 0 is used.
    """
    S, y = _check_scores_labels(S, y)
    _check_reduction(reduction)
    n = S.shape[0]
    weights, inv_n = _sample_scale(n, sample_weight, S.dtype)
    t = np.full(S.shape, -1, dtype=S.dtype)
    t[np.arange(n), y] = 1
    h = S.dtype.type(margin) - t * S
    np.maximum(h, 0, out=h)
    if squared:
        per_sample = np.einsum("ij,ij->i", h, h)
        dS = -2 * t * h
    else:
        per_sample = h.sum(axis=1)
        dS = -t * (h > 0)
    dS = dS.astype(S.dtype, copy=False)
    if reduction == "none":
        return per_sample, dS
    loss = _mean(per_sample, weights, inv_n)
    return loss, _scale_rows(dS, weights, inv_n)


def log_softmax(S: Array) -> Array:
    """Row-wise ``log(softmax(S))``, shifted by the row maximum so it never overflows."""
    S = np.asarray(S)
    z = S - S.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def softmax(S: Array) -> Array:
    """Row-wise softmax probabilities, numerically stable for any finite scores."""
    z = log_softmax(S)
    np.exp(z, out=z)
    return z


@overload
def softmax_cross_entropy(
    S: Array, y: Array, sample_weight: ArrayLike | None = ..., reduction: Literal["mean"] = ...
) -> tuple[float, Array]: ...
@overload
def softmax_cross_entropy(
    S: Array, y: Array, sample_weight: ArrayLike | None = ..., *, reduction: Literal["none"]
) -> tuple[Array, Array]: ...
def softmax_cross_entropy(
    S: Array, y: Array, sample_weight: ArrayLike | None = None, reduction: str = "mean"
) -> tuple[float, Array] | tuple[Array, Array]:
    """Softmax cross-entropy loss on scores, and its gradient.

    ``L_i = -log(exp(s_{y_i}) / sum_j exp(s_j))``, computed after shifting each row by its
    maximum, so scores of +-1e4 give neither overflow nor NaN. The gradient is
    ``dS = (P - onehot(y)) / n`` with ``P`` the softmax probabilities.

    Parameters
    ----------
    S : ndarray of shape (n_samples, n_classes)
    y : ndarray of int of shape (n_samples,)
        True class indices in ``0..n_classes-1``.
    sample_weight : ndarray of shape (n_samples,), optional
        The loss is then the weighted mean ``sum(w_i L_i) / sum(w_i)``.
    reduction : {"mean", "none"}, default "mean"
        As in ``multiclass_hinge``: "none" gives each sample's loss and its own gradient.

    Returns
    -------
    loss : float
    dS : ndarray of shape (n_samples, n_classes)
    """
    S, y = _check_scores_labels(S, y)
    _check_reduction(reduction)
    n = S.shape[0]
    rows = np.arange(n)
    weights, inv_n = _sample_scale(n, sample_weight, S.dtype)
    logp = log_softmax(S)
    per_sample = -logp[rows, y]
    dS = np.exp(logp, out=logp)
    # p_y - 1 == -sum of the other probabilities; summing them avoids the cancellation of
    # p_y - 1 when p_y is within 1e-11 of 1 (a confident, correct score).
    dS[rows, y] = 0
    dS[rows, y] = -dS.sum(axis=1)
    if reduction == "none":
        return per_sample, dS
    loss = _mean(per_sample, weights, inv_n)
    return loss, _scale_rows(dS, weights, inv_n)


class Loss:
    """A loss on scores with its traits; ``loss(S, y, sample_weight=None) -> (loss, dS)``.

    Attributes
    ----------
    curvature : float or None
        A bound on the second derivative of the per-sample loss in the scores, or None where
        the loss has none (a kink).
    smooth : bool
        Differentiable everywhere (L-BFGS needs it).
    reg_strength : float
        ``reg="auto"`` is this times ``mean(||x_i||**2)`` (see ``linclass.optim.auto_reg``).
    """

    curvature: float | None = None
    smooth = False
    reg_strength = 3e-4

    def __call__(
        self, S: Array, y: Array, sample_weight: ArrayLike | None = None
    ) -> tuple[float, Array]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, *sorted(vars(self).items())))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Hinge(Loss):
    """The multiclass hinge (SVM) loss, ``multiclass_hinge`` with its settings fixed.

    No curvature bound: the automatic step stays at the safe ``1 / mean(||x||**2)``, squared or
    not. Smooth only when ``squared``. The automatic penalty is ``3e-4 * mean(||x||**2)``, the
    factor of best validation accuracy on the digits, MNIST and CIFAR-10
    (``benchmarks/defaults.py``).
    """

    reg_strength = 3e-4

    def __init__(
        self, margin: float = 1.0, variant: str = "weston_watkins", squared: bool = False
    ) -> None:
        if variant not in HINGE_VARIANTS:
            raise ValueError(f"variant must be one of {HINGE_VARIANTS}; got {variant!r}.")
        self.margin = margin
        self.variant = variant
        self.squared = bool(squared)

    @property
    def smooth(self) -> bool:  # type: ignore[override]
        return self.squared

    def __call__(
        self, S: Array, y: Array, sample_weight: ArrayLike | None = None
    ) -> tuple[float, Array]:
        return multiclass_hinge(
            S,
            y,
            margin=self.margin,
            variant=self.variant,
            squared=self.squared,
            sample_weight=sample_weight,
        )


class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy, ``softmax_cross_entropy`` as an object.

    Its Hessian in the scores of one sample is ``diag(p) - p p^T``, whose largest eigenvalue is
    at most 1/2: the curvature bound that sets the automatic step.
    """

    curvature = 0.5
    smooth = True
    reg_strength = 1e-5

    def __call__(
        self, S: Array, y: Array, sample_weight: ArrayLike | None = None
    ) -> tuple[float, Array]:
        return softmax_cross_entropy(S, y, sample_weight=sample_weight)


def is_builtin(loss: object) -> bool:
    """Whether ``loss`` is one of linclass's own ``Hinge`` or ``SoftmaxCrossEntropy`` (not a
    subclass, which may compute another loss): what the fused kernel and the array API path
    implement themselves."""
    return type(loss) in (Hinge, SoftmaxCrossEntropy)
