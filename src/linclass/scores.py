"""Step 1: the linear score function, forward and backward.

A linear classifier scores every class with one dot product per class::

    S = X @ W.T + b        S[i, k] = sum_d X[i, d] * W[k, d] + b[k]

W has one row per class, shape ``(n_classes, n_features)`` (the lecture's ``W[k, d]``,
scikit-learn's ``coef_``); b has one entry per class (``intercept_``). The backward pass is the
chain rule through that product: given the upstream gradient ``dS = dL/dS``,

    dW = dS.T @ X          db = dS.sum(axis=0)          dX = dS @ W
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

from ._typing import Array, Data

__all__ = ["scores", "scores_backward"]


def scores(W: Array, b: Array | None, X: Data) -> Array:
    """Class scores of a linear classifier.

    Parameters
    ----------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,) or None
        None means no bias (for instance when X carries a column of ones: the bias trick).
    X : ndarray or sparse matrix of shape (n_samples, n_features)

    Returns
    -------
    S : ndarray of shape (n_samples, n_classes)
        ``X @ W.T + b``, in the dtype of W.
    """
    S = X @ W.T
    S = np.asarray(S)
    if b is not None:
        S += b
    return S


@overload
def scores_backward(
    dS: Array,
    X: Data,
    W: Array | None = ...,
    *,
    need_bias: bool = ...,
    need_dX: Literal[False] = ...,
) -> tuple[Array, Array | None]: ...
@overload
def scores_backward(
    dS: Array, X: Data, W: Array, *, need_bias: bool = ..., need_dX: Literal[True]
) -> tuple[Array, Array | None, Array]: ...
def scores_backward(
    dS: Array, X: Data, W: Array | None = None, *, need_bias: bool = True, need_dX: bool = False
) -> tuple[Array, Array | None] | tuple[Array, Array | None, Array]:
    """Backpropagate the score gradient ``dS`` to the parameters (and to X where asked).

    Parameters
    ----------
    dS : ndarray of shape (n_samples, n_classes)
        Gradient of the loss with respect to the scores.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    W : ndarray of shape (n_classes, n_features), optional
        Needed only for ``need_dX``.
    need_bias : bool, default True
        Return ``db`` (None otherwise).
    need_dX : bool, default False
        Also return ``dX = dS @ W``.

    Returns
    -------
    dW : ndarray of shape (n_classes, n_features)
    db : ndarray of shape (n_classes,) or None
    dX : ndarray of shape (n_samples, n_features)
        Only when ``need_dX``.
    """
    if isinstance(X, np.ndarray):
        dW = dS.T @ X
    else:  # scipy.sparse: X.T @ dS is the same product, and stays sparse-times-dense
        dW = np.asarray((X.T @ dS).T)
    db = dS.sum(axis=0) if need_bias else None
    if need_dX:
        if W is None:
            raise ValueError("scores_backward needs W to compute dX; pass W=... or need_dX=False.")
        return dW, db, dS @ W
    return dW, db
