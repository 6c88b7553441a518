"""The lecture's loss functions on weights: ``(W, X, y, reg) -> (loss, dW)``, as in CS231n.

Each takes ``W`` of shape ``(C, D)`` and no bias (append a column of ones to X for one: the bias
trick). The loss is the mean data loss plus ``reg * sum(W**2)``; its gradient adds
``2 * reg * W``. Three versions of each:

* ``svm_loss_naive`` / ``softmax_loss_naive``: explicit loops, exactly the lecture's algorithm;
* ``svm_loss_vectorized`` / ``softmax_loss_vectorized``: the lecture's vectorized form (one
  pass over X per matrix product), the reference the tests compare against;
* ``svm_loss`` / ``softmax_loss``: the path the classifiers train with
  (``linclass.objective.loss_and_gradient``: X in row blocks, each read once for both products).
"""

from __future__ import annotations

import numpy as np

from ._typing import Array, Data
from .errors import InputError
from .losses import (
    Hinge,
    SoftmaxCrossEntropy,
    _check_scores_labels,
    multiclass_hinge,
    softmax_cross_entropy,
)
from .objective import loss_and_gradient, regularization
from .scores import scores, scores_backward

__all__ = [
    "svm_loss_naive",
    "svm_loss_vectorized",
    "svm_loss",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "softmax_loss",
]


def _check_wxy(W, X, y):
    W = np.asarray(W)
    X = np.asarray(X)
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2 or W.shape[1] != X.shape[1]:
        raise InputError(
            f"W must be (n_classes, n_features) and X (n_samples, n_features); "
            f"got W {W.shape} and X {X.shape}."
        )
    _check_scores_labels(np.empty((X.shape[0], W.shape[0])), y)
    return W, X, y


def _add_reg(loss, dW, W, reg):
    value, grad = regularization(W, reg)
    dW += grad
    return loss + value, dW


def svm_loss_naive(
    W: Array, X: Array, y: Array, reg: float, margin: float = 1.0
) -> tuple[float, Array]:
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


def svm_loss_vectorized(
    W: Array, X: Data, y: Array, reg: float, margin: float = 1.0
) -> tuple[float, Array]:
    """Multiclass SVM loss and gradient, vectorized; same contract as ``svm_loss_naive``.

    Margins ``d = s - s_y + margin`` with ``d[y] = 0``; the mask ``d > 0`` gives the gradient of
    every wrong class (``+x``) and the true class gets ``-n x``, n the number of positive
    margins; then ``dW = dS.T @ X``.
    """
    W, X, y = _check_wxy(W, X, y)
    loss, dS = multiclass_hinge(scores(W, None, X), y, margin=margin)
    dW, _ = scores_backward(dS, X, need_bias=False)
    return _add_reg(loss, dW, W, reg)


def softmax_loss_naive(W: Array, X: Array, y: Array, reg: float) -> tuple[float, Array]:
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


def softmax_loss_vectorized(W: Array, X: Data, y: Array, reg: float) -> tuple[float, Array]:
    """Softmax cross-entropy loss and gradient, vectorized; same contract as the naive one."""
    W, X, y = _check_wxy(W, X, y)
    loss, dS = softmax_cross_entropy(scores(W, None, X), y)
    dW, _ = scores_backward(dS, X, need_bias=False)
    return _add_reg(loss, dW, W, reg)


def svm_loss(W: Array, X: Data, y: Array, reg: float, margin: float = 1.0) -> tuple[float, Array]:
    """Multiclass SVM loss and gradient by the training path: X in row blocks, each read from
    memory once for both products. Same contract and result as ``svm_loss_vectorized``."""
    return _blocked(W, X, y, reg, Hinge(margin=margin))


def softmax_loss(W: Array, X: Data, y: Array, reg: float) -> tuple[float, Array]:
    """Softmax cross-entropy loss and gradient by the training path; same contract and result
    as ``softmax_loss_vectorized``."""
    return _blocked(W, X, y, reg, SoftmaxCrossEntropy())


def _blocked(W, X, y, reg, loss_fn):
    W, X, y = _check_wxy(W, X, y)
    W = W.astype(np.result_type(W.dtype, X.dtype), copy=False)
    loss, dW, _, _ = loss_and_gradient(W, None, X, y, loss_fn, reg)
    return loss, dW
