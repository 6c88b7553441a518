"""The training objective: data loss plus regularization, over a data set or a minibatch.

``loss_and_gradient`` runs the three steps once: ``scores`` gives S, a loss on scores gives
``(loss, dS)``, ``scores_backward`` gives ``(dW, db)``, and the L2 penalty ``reg * sum(W**2)``
adds ``2 * reg * W`` (the bias is not regularized). On a large X it works block by block of
rows, so each block is read from memory once for both matrix products while it is still in
cache, and S never exists for the whole data set at once.
"""

from __future__ import annotations

import numpy as np

from .scores import scores, scores_backward

__all__ = ["loss_and_gradient", "regularization", "penalty", "default_block_rows"]

# A block of X this size stays in the last-level cache between the two products.
_BLOCK_BYTES = 8 * 2**20


def default_block_rows(X):
    """Rows per block for ``loss_and_gradient``: the whole X when it is small."""
    n, d = X.shape
    itemsize = getattr(X, "dtype", np.dtype(np.float64)).itemsize
    return max(256, min(n, _BLOCK_BYTES // max(1, d * itemsize)))


def penalty(W, reg):
    """The L2 penalty ``reg * sum(W**2)``, as a float."""
    w = W.ravel()
    return reg * float(np.dot(w, w))


def regularization(W, reg):
    """``(reg * sum(W**2), 2 * reg * W)``: the L2 penalty and its gradient."""
    return penalty(W, reg), (2 * reg) * W


def loss_and_gradient(W, b, X, y, loss_fn, reg=0.0, sample_weight=None, block_rows=None):
    """Objective value and gradient of a linear classifier on (a batch of) data.

    Parameters
    ----------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    loss_fn : callable
        A loss on scores, ``loss_fn(S, y, sample_weight=None) -> (mean_loss, dS)``, such as
        ``linclass.losses.softmax_cross_entropy``.
    reg : float, default 0.0
        L2 strength: adds ``reg * sum(W**2)`` (not on b).
    sample_weight : ndarray of shape (n_samples,), optional
    block_rows : int, optional
        Rows per block; by default about 8 MB of X per block.

    Returns
    -------
    loss : float
        Mean (or weighted mean) data loss plus the penalty.
    dW : ndarray like W
    db : ndarray like b, or None
    n_correct : int
        How many rows the current weights already classify right (argmax of S), which gives
        the training accuracy at no extra pass over X.
    """
    n = X.shape[0]
    if n == 0:
        raise ValueError("loss_and_gradient needs at least one sample; X has 0 rows.")
    rows = block_rows or default_block_rows(X)
    total_weight = n if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
    data_loss = 0.0
    dW = db = None
    n_correct = 0
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        Xb, yb = (X, y) if stop - start == n else (X[start:stop], y[start:stop])
        wb = None if sample_weight is None else sample_weight[start:stop]
        block_weight = (stop - start) if wb is None else float(np.sum(wb, dtype=np.float64))
        S = scores(W, b, Xb)
        n_correct += int(np.count_nonzero(S.argmax(axis=1) == yb))
        if block_weight <= 0:
            continue
        loss_b, dS = loss_fn(S, yb, sample_weight=wb)
        share = block_weight / total_weight
        data_loss += loss_b * share
        if share != 1.0:
            dS *= dS.dtype.type(share)
        dW_b, db_b = scores_backward(dS, Xb, need_bias=b is not None)
        if dW is None:  # the first block's arrays are fresh: keep them, add the rest in
            dW, db = dW_b, db_b
        else:
            dW += dW_b
            if db is not None:
                db += db_b
    if dW is None:  # every block had zero weight
        dW = np.zeros_like(W)
        db = None if b is None else np.zeros_like(b)
    penalty, dreg = regularization(W, reg)
    if reg:
        dW += dreg
    return data_loss + penalty, dW, db, n_correct
