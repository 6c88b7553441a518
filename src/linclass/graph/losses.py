"""The linear classifier's losses built from the engine's primitives.

Score -> loss -> plus ``reg * sum(W**2)``, as graphs: nothing here knows a derivative; the
engine finds the gradient by the chain rule, and the tests compare it with the hand-derived
ones in ``linclass.lecture``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from .engine import Node
from .ops import constant, maximum

__all__ = ["svm_loss_graph", "softmax_loss_graph", "svm_loss", "softmax_loss"]


def _scores(W: Node, X: np.ndarray, b: Node | None) -> Node:
    S = constant(X) @ W.T
    return S if b is None else S + b


def svm_loss_graph(
    W: Node, X: np.ndarray, y: np.ndarray, reg: float, b: Node | None = None, margin: float = 1.0
) -> Node:
    """Multiclass hinge loss of a linear classifier, as a graph.

    Parameters
    ----------
    W : Node of shape (C, D)
    X : ndarray of shape (N, D)
    y : ndarray of int of shape (N,)
    reg : float
    b : Node of shape (C,), optional
    margin : float, default 1.0

    Returns
    -------
    Node
        ``mean_i sum_{j != y_i} max(0, s_j - s_{y_i} + margin) + reg * sum(W**2)``.
    """
    N = X.shape[0]
    rows = np.arange(N)
    S = _scores(W, X, b)
    correct = S[rows, y].reshape(N, 1)
    margins = maximum(0.0, S - correct + margin)  # ties (a margin of exactly 0) give 0
    not_true = np.ones(S.shape, dtype=S.dtype)
    not_true[rows, y] = 0  # the true class is not a margin
    return (margins * not_true).sum() / N + reg * (W * W).sum()


def softmax_loss_graph(
    W: Node, X: np.ndarray, y: np.ndarray, reg: float, b: Node | None = None
) -> Node:
    """Softmax cross-entropy loss of a linear classifier, as a graph.

    The scores are shifted by their row maximum through a ``max`` gate: the gradient through
    the shift cancels exactly, as it must, since the loss does not depend on it.
    """
    N = X.shape[0]
    S = _scores(W, X, b)
    shifted = S - S.max(axis=1, keepdims=True)
    log_norm = shifted.exp().sum(axis=1).log()
    return (log_norm - shifted[np.arange(N), y]).mean() + reg * (W * W).sum()


def _on_weights(build: Callable[..., Node]) -> Callable[..., tuple[float, np.ndarray]]:
    def loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
        Wn = Node(W, label="W")
        out = build(Wn, X, y, reg)
        out.backward()
        return float(out.value), cast(np.ndarray, Wn.grad)

    loss.__name__ = build.__name__.replace("_graph", "")
    loss.__doc__ = (
        f"``(W, X, y, reg) -> (loss, dW)`` like ``linclass.lecture.{loss.__name__}``, "
        f"with dW found by backpropagation through ``{build.__name__}``."
    )
    return loss


svm_loss = _on_weights(svm_loss_graph)
softmax_loss = _on_weights(softmax_loss_graph)
