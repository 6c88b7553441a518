"""The loss lab's numbers, all from linclass's own losses, optimizers and gradient checks.

The page draws; this module computes. ``evaluate(state)`` gives everything one picture needs
(each point's scores, loss and violated margins, the training and validation loss and accuracy,
the gradient next to its numerical check, the class map of the plane, the confusion matrices);
``train(state, steps)`` takes optimizer steps and returns the new weights with the curves.

A point ``(x, y)`` is scored through its feature vector ``phi = (x, y[, x**2, y**2, x*y])``:
``s = W phi + b``. The objective is the mean loss over the training points plus
``reg * sum(W**2)`` (the bias is not regularized), as everywhere in linclass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from ..gradcheck import numerical_gradient, relative_error
from ..losses import multiclass_hinge, one_vs_all_hinge, softmax_cross_entropy
from ..objective import penalty
from ..optim import SGD, Adam, Momentum, Optimizer
from ..scores import scores, scores_backward
from .state import MAX_GRID, MAX_PARAM, MAX_STEPS, LabState, StateError

__all__ = [
    "feature_map",
    "initial_weights",
    "loss_function",
    "objective",
    "evaluate",
    "train",
    "class_map",
]


def feature_map(X: ArrayLike, features: Sequence[str] = ()) -> np.ndarray:
    """``phi(X)``: the columns x, y and the extra maps named in ``features``."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, 2)
    extra = {"x2": X[:, 0] ** 2, "y2": X[:, 1] ** 2, "xy": X[:, 0] * X[:, 1]}
    return np.column_stack([X] + [extra[f] for f in features])


def initial_weights(n_classes: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The starting W and b drawn from the seed (reset returns here): rows of length about 1."""
    rng = np.random.default_rng(seed)
    W = rng.normal(scale=1.0 / np.sqrt(2), size=(n_classes, n_features))
    W[:, 2:] *= 0.1  # the quadratic features start small, so the picture starts near-linear
    return W, rng.normal(scale=0.3, size=n_classes)


def loss_function(name: str, delta: float = 1.0) -> Callable[..., Any]:
    """``(S, y, **options) -> (loss, dS)`` for a loss's name (``state.LOSSES``); the options
    (``sample_weight``, ``reduction``) go to the loss in ``linclass.losses``."""
    if name == "softmax":
        return softmax_cross_entropy
    if name == "one_vs_all":
        return lambda S, y, **options: one_vs_all_hinge(S, y, delta, **options)
    return lambda S, y, **options: multiclass_hinge(S, y, delta, name, **options)


def _weights(state: LabState) -> tuple[np.ndarray, np.ndarray]:
    if state.W is None or state.b is None:  # (both or neither: lab_state)
        return initial_weights(state.n_classes, state.n_features, state.seed)
    return state.W.copy(), state.b.copy()


def objective(
    state: LabState, W: np.ndarray, b: np.ndarray, rows: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean loss over ``rows`` plus the penalty, with its gradient: ``(value, dW, db)``."""
    phi = feature_map(state.X[rows], state.features)
    loss, dS = loss_function(state.loss, state.delta)(scores(W, b, phi), state.y[rows])
    dW, db = scores_backward(dS, phi)
    return loss + penalty(W, state.reg), dW + 2 * state.reg * W, cast(np.ndarray, db)


def class_map(
    W: np.ndarray, b: np.ndarray, features: Sequence[str], size: int = 80, view: float = 3.0
) -> str:
    """The winning class at the centre of each cell of a ``size`` x ``size`` grid over
    ``[-view, view]**2``, top row first, as a string of digits (one per cell)."""
    centres = (np.arange(size) + 0.5) / size * 2 * view - view
    gx, gy = np.meshgrid(centres, centres[::-1])
    win = np.argmax(
        scores(W, b, feature_map(np.column_stack([gx.ravel(), gy.ravel()]), features)), axis=1
    )
    return "".join(map(str, win.tolist()))


def _confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> list[list[int]]:
    m = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def _point_rows(state: LabState, S: np.ndarray) -> tuple[list[float], list[list[int]]]:
    """Each point's own loss and its violated margins: the classes whose entry of the point's
    own gradient is not zero (its own class aside, except one-vs-all, where it has a margin)."""
    if not len(S):
        return [], []
    losses, dS = loss_function(state.loss, state.delta)(S, state.y, reduction="none")
    violated = []
    for i, row in enumerate(dS):
        hit = np.flatnonzero(row)
        if state.loss != "one_vs_all":
            hit = hit[hit != state.y[i]]
        violated.append([] if state.loss == "softmax" else hit.tolist())
    return losses.tolist(), violated


def _split_figures(
    state: LabState, W: np.ndarray, b: np.ndarray, rows: np.ndarray
) -> tuple[float | None, float | None]:
    if not rows.any():
        return None, None
    value, _, _ = objective(state, W, b, rows)
    pred = np.argmax(scores(W, b, feature_map(state.X[rows], state.features)), axis=1)
    return value, float(np.mean(pred == state.y[rows]))


def evaluate(
    state: LabState, grid: int = 80, view: float = 3.0, check: bool = True
) -> dict[str, Any]:
    """Everything the page draws for the current weights (a dict of JSON-ready values).

    Parameters
    ----------
    state : LabState
    grid : int
        Cells on a side of the class map (at most ``MAX_GRID``).
    view : float
        The plane shown is ``[-view, view]**2``.
    check : bool
        Also compute the numerical gradient (centred differences of the objective).
    """
    if not 4 <= grid <= MAX_GRID:
        raise StateError(f"grid must be from 4 to {MAX_GRID}; got {grid}.")
    W, b = _weights(state)
    train_rows, val_rows = ~state.val, state.val.copy()
    S = scores(W, b, feature_map(state.X, state.features))
    point_loss, violated = _point_rows(state, S)
    pred = np.argmax(S, axis=1) if len(S) else np.zeros(0, dtype=int)
    out = {
        "W": W.tolist(),
        "b": b.tolist(),
        "scores": S.tolist(),
        "point_loss": point_loss,
        "violated": violated,
        "pred": pred.tolist(),
        "map": class_map(W, b, state.features, grid, view),
        "grid": grid,
        "view": view,
        "penalty": penalty(W, state.reg),
        "confusion": _confusion(state.y[train_rows], pred[train_rows], state.n_classes),
        "val_confusion": _confusion(state.y[val_rows], pred[val_rows], state.n_classes),
    }
    out["loss"] = out["acc"] = None
    out["val_loss"], out["val_acc"] = _split_figures(state, W, b, val_rows)
    if train_rows.any():
        # one pass gives the training loss and the gradient; the accuracy is the predictions'
        out["loss"], dW, db = objective(state, W, b, train_rows)
        out["acc"] = float(np.mean(pred[train_rows] == state.y[train_rows]))
        out["dW"], out["db"] = dW.tolist(), db.tolist()
        if check:
            nW = numerical_gradient(lambda w: objective(state, w, b, train_rows)[0], W.copy())
            nb = numerical_gradient(lambda c: objective(state, W, c, train_rows)[0], b.copy())
            out["num_dW"], out["num_db"] = nW.tolist(), nb.tolist()
            out["rel_error"] = relative_error(
                np.concatenate([dW.ravel(), db]), np.concatenate([nW.ravel(), nb])
            )
    return out


def _optimizer(state: LabState) -> Optimizer:
    """The update rule with its running arrays restored from the state."""
    opt: Optimizer
    if state.optimizer == "momentum":
        opt = Momentum(state.lr, momentum=0.9)
    elif state.optimizer == "adam":
        opt = Adam(state.lr)
    else:
        opt = SGD(state.lr)
    opt.t = state.t
    arrays = [a.copy() for a in state.opt]
    if state.optimizer == "momentum" and len(arrays) == 2:
        opt.state = arrays
    elif state.optimizer == "adam" and len(arrays) == 4 and state.t > 0:
        opt.state = [(arrays[0], arrays[2]), (arrays[1], arrays[3])]
    return opt


def _running_arrays(opt: Optimizer) -> list[list]:
    if opt.state is None or isinstance(opt, SGD):
        return []
    if isinstance(opt, Adam):
        (mW, vW), (mb, vb) = opt.state
        return [mW.tolist(), mb.tolist(), vW.tolist(), vb.tolist()]
    return [a.tolist() for a in opt.state]


def train(
    state: LabState, steps: int = 1, grid: int = 80, view: float = 3.0, check: bool = True
) -> dict[str, Any]:
    """Take ``steps`` optimizer steps from the state's weights.

    "gd" uses all the training points at each step; "sgd" a minibatch of ``state.batch``
    points (32 by default) drawn from ``seed`` and the step number, so that a step is the same
    every time it is replayed; "momentum" and "adam" use minibatches when ``batch`` is set.

    Returns the dict of ``evaluate`` for the new weights, with ``t`` (steps taken in all),
    ``opt`` (the optimizer's running arrays, to send back next time), ``history`` (one row per
    step: training and validation loss and accuracy after it) and ``diverged`` (a message, or
    None).
    """
    if not 1 <= steps <= MAX_STEPS:
        raise StateError(f"steps must be from 1 to {MAX_STEPS}; got {steps}.")
    train_rows = np.flatnonzero(~state.val)
    if train_rows.size == 0:
        raise StateError("there are no training points: add points, or hold fewer out.")
    W, b = _weights(state)
    opt = _optimizer(state)
    batch = state.batch or (32 if state.optimizer == "sgd" else 0)
    history, diverged = [], None
    all_train, val_rows = ~state.val, state.val
    for _ in range(steps):
        rows = train_rows
        if state.optimizer != "gd" and 0 < batch < train_rows.size:
            rng = np.random.default_rng([state.seed, opt.t])
            rows = np.sort(rng.choice(train_rows, batch, replace=False))
        mask = np.zeros(len(state.y), dtype=bool)
        mask[rows] = True
        _, dW, db = objective(state, W, b, mask)
        new_W, new_b = W.copy(), b.copy()
        opt.step([new_W, new_b], [dW, db])
        loss, acc = _split_figures(state, new_W, new_b, all_train)
        if (
            loss is None
            or not np.isfinite(loss)
            or np.abs(new_W).max() > MAX_PARAM
            or np.abs(new_b).max() > MAX_PARAM
        ):
            diverged = (
                f"the loss blew up at step {opt.t} (learning rate {state.lr:g}): "
                "lower the step size; the weights stay at the last good step."
            )
            opt.state = None  # the running arrays saw the bad step: start them again
            break
        W, b = new_W, new_b
        val_loss, val_acc = _split_figures(state, W, b, val_rows)
        history.append(
            {"t": opt.t, "loss": loss, "acc": acc, "val_loss": val_loss, "val_acc": val_acc}
        )
    state.W, state.b = W, b
    out = evaluate(state, grid, view, check)
    out.update(
        t=history[-1]["t"] if history else state.t,
        opt=_running_arrays(opt),
        history=history,
        diverged=diverged,
    )
    return out
