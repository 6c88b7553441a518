"""Step 2: loss functions on class scores, and the lecture's loss functions on weights.

Two layers, both public:

* **On scores** -- ``multiclass_hinge(S, y)`` and ``softmax_cross_entropy(S, y)`` take the
  scores ``S`` of shape ``(n_samples, n_classes)`` and integer labels ``y`` in ``0..C-1`` and
  return ``(loss, dS)``: the (weighted) mean loss over the samples and its gradient with respect
  to the scores. Everything else in linclass is built on these two.
* **On weights** -- the CS231n assignment functions, each ``(W, X, y, reg) -> (loss, dW)``
  with ``W`` of shape ``(C, D)`` and no bias (append a column of ones to X for one: the bias
  trick). The loss is the mean data loss plus ``reg * sum(W**2)``; its gradient adds
  ``2 * reg * W``. Three versions of each: ``svm_loss_naive`` / ``softmax_loss_naive`` are
  explicit loops, exactly the lecture's algorithm; ``svm_loss_vectorized`` /
  ``softmax_loss_vectorized`` are the lecture's vectorized form (one pass over X per matrix
  product), the reference the tests compare against; ``svm_loss`` / ``softmax_loss`` are the
  fast path the classifiers train with (``linclass.objective.loss_and_gradient``: X in row
  blocks, each read once for both products).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .objective import loss_and_gradient, regularization
from .scores import scores, scores_backward

__all__ = [
    "multiclass_hinge",
    "softmax_cross_entropy",
    "softmax",
    "log_softmax",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "svm_loss",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "softmax_loss",
    "HINGE_VARIANTS",
]

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


def multiclass_hinge(S, y, margin=1.0, variant="weston_watkins", squared=False,
                     sample_weight=None):
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

    Returns
    -------
    loss : float
        Mean loss over the samples.
    dS : ndarray of shape (n_samples, n_classes)
        Gradient of ``loss`` with respect to S, in the dtype of S. At a kink (a margin exactly
        0) the subgradient 0 is used; for Crammer-Singer ties go to the first worst class.
    """
    S, y = _check_scores_labels(S, y)
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
    loss = _mean(per_sample, weights, inv_n)
    return loss, _scale_rows(dS, weights, inv_n)


def log_softmax(S):
    """Row-wise ``log(softmax(S))``, shifted by the row maximum so it never overflows."""
    S = np.asarray(S)
    z = S - S.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def softmax(S):
    """Row-wise softmax probabilities, numerically stable for any finite scores."""
    z = log_softmax(S)
    np.exp(z, out=z)
    return z


def softmax_cross_entropy(S, y, sample_weight=None):
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

    Returns
    -------
    loss : float
    dS : ndarray of shape (n_samples, n_classes)
    """
    S, y = _check_scores_labels(S, y)
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
    loss = _mean(per_sample, weights, inv_n)
    return loss, _scale_rows(dS, weights, inv_n)


# ---------------------------------------------------------------------------------------------
# The lecture's functions on weights: (W, X, y, reg) -> (loss, dW), W of shape (C, D), no bias.
# ---------------------------------------------------------------------------------------------

def _check_wxy(W, X, y):
    W = np.asarray(W)
    X = np.asarray(X)
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2 or W.shape[1] != X.shape[1]:
        raise ValueError(
            f"W must be (n_classes, n_features) and X (n_samples, n_features); "
            f"got W {W.shape} and X {X.shape}."
        )
    _check_scores_labels(np.empty((X.shape[0], W.shape[0])), y)
    return W, X, y


def _add_reg(loss, dW, W, reg):
    value, grad = regularization(W, reg)
    dW += grad
    return loss + value, dW


def svm_loss_naive(W, X, y, reg, margin=1.0):
    """Multiclass SVM loss and gradient with explicit loops (the lecture's algorithm).

    Parameters
    ----------
    W : ndarray of shape (C, D)
        Weights, one row per class.
    X : ndarray of shape (N, D)
        A minibatch of data, one row per example.
    y : ndarray of int of shape (N,)
        ``y[i] = c`` means that ``X[i]`` has label ``c``, ``0 <= c < C``.
    reg : float
        Regularization strength: the loss adds ``reg * sum(W**2)``.
    margin : float, default 1.0

    Returns
    -------
    loss : float
    dW : ndarray of shape (C, D)
    """
    W, X, y = _check_wxy(W, X, y)
    C = W.shape[0]
    N = X.shape[0]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(N):
        s = W @ X[i]
        correct = s[y[i]]
        for j in range(C):
            if j == y[i]:
                continue
            m = s[j] - correct + margin
            if m > 0:
                loss += m
                dW[j] += X[i]
                dW[y[i]] -= X[i]
    loss /= N
    dW /= N
    return _add_reg(float(loss), dW, W, reg)


def svm_loss_vectorized(W, X, y, reg, margin=1.0):
    """Multiclass SVM loss and gradient, vectorized; same contract as ``svm_loss_naive``.

    Margins ``d = s - s_y + margin`` with ``d[y] = 0``; the mask ``d > 0`` gives the gradient of
    every wrong class (``+x``) and the true class gets ``-n x``, n the number of positive
    margins; then ``dW = dS.T @ X``.
    """
    W, X, y = _check_wxy(W, X, y)
    loss, dS = multiclass_hinge(scores(W, None, X), y, margin=margin)
    dW, _ = scores_backward(dS, X, need_bias=False)
    return _add_reg(loss, dW, W, reg)


def softmax_loss_naive(W, X, y, reg):
    """Softmax cross-entropy loss and gradient with explicit loops.

    Same contract as ``svm_loss_naive``. Each row of scores is shifted by its maximum before
    exponentiating (the normalization trick), so large scores do not overflow.
    """
    W, X, y = _check_wxy(W, X, y)
    C = W.shape[0]
    N = X.shape[0]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(N):
        s = W @ X[i]
        s = s - np.max(s)
        denom = 0.0
        for j in range(C):
            denom += np.exp(s[j])
        loss += -s[y[i]] + np.log(denom)
        for j in range(C):
            p = np.exp(s[j]) / denom
            dW[j] += (p - (j == y[i])) * X[i]
    loss /= N
    dW /= N
    return _add_reg(float(loss), dW, W, reg)


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax cross-entropy loss and gradient, vectorized; same contract as the naive one."""
    W, X, y = _check_wxy(W, X, y)
    loss, dS = softmax_cross_entropy(scores(W, None, X), y)
    dW, _ = scores_backward(dS, X, need_bias=False)
    return _add_reg(loss, dW, W, reg)


def svm_loss(W, X, y, reg, margin=1.0):
    """Multiclass SVM loss and gradient by the training path: X in row blocks, each read from
    memory once for both products. Same contract and result as ``svm_loss_vectorized``."""
    return _blocked(W, X, y, reg, partial(multiclass_hinge, margin=margin))


def softmax_loss(W, X, y, reg):
    """Softmax cross-entropy loss and gradient by the training path; same contract and result
    as ``softmax_loss_vectorized``."""
    return _blocked(W, X, y, reg, softmax_cross_entropy)


def _blocked(W, X, y, reg, loss_fn):
    W, X, y = _check_wxy(W, X, y)
    W = W.astype(np.result_type(W.dtype, X.dtype), copy=False)
    loss, dW, _, _ = loss_and_gradient(W, None, X, y, loss_fn, reg)
    return loss, dW
