"""Step 3: update rules and the learning-rate schedule.

Each rule is a small object with state, updating parameter arrays **in place**::

    opt = Momentum(learning_rate=1e-3, momentum=0.9)
    opt.step([W, b], [dW, db])    # W and b change; velocities live in opt

``SGD`` is the lecture's ``W = W - learning_rate * dW``. ``Momentum`` keeps a velocity
``v = mu * v - lr * dW; W += v``. ``Nesterov`` evaluates the momentum step at the look-ahead
point (in the course notes' rearranged form, using only the gradient at W). ``Adam`` keeps
bias-corrected running means of the gradient and of its square.

The schedule is a per-epoch exponential decay: after each epoch ``learning_rate *= decay``
(``end_epoch``).

The automatic settings live here too: ``auto_learning_rate`` (the step from the data's scale and
the loss's curvature), ``auto_reg`` (the penalty from the data's scale), and the two statistics
of X they need, ``mean_squared_norm`` and ``top_eigenvalue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import choices
from ._typing import Array, Data
from .array_api import sqrt, zeros_like
from .choices import check_registry
from .errors import InputError

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "Adam",
    "OPTIMIZERS",
    "make_optimizer",
    "auto_learning_rate",
    "auto_reg",
    "auto_settings",
    "mean_squared_norm",
    "row_squared_norms",
    "mean_of_norms",
    "top_eigenvalue",
]


class Optimizer:
    """Base class: holds the learning rate, its per-epoch decay, and a step counter."""

    def __init__(self, learning_rate: float, lr_decay: float = 1.0) -> None:
        if not learning_rate > 0 or not np.isfinite(learning_rate):
            raise InputError(f"learning_rate must be a positive number; got {learning_rate!r}.")
        if not 0 < lr_decay <= 1:
            raise InputError(f"lr_decay must be in (0, 1]; got {lr_decay!r}.")
        self.learning_rate = float(learning_rate)
        self.lr_decay = float(lr_decay)
        self.t = 0
        self.state: list | None = None

    def step(self, params: Sequence[Any], grads: Sequence[Any]) -> None:
        """Update each array in ``params`` in place from the matching array in ``grads``."""
        if self.state is None:
            self.state = [self._init_state(p) for p in params]
        self.t += 1
        for p, g, s in zip(params, grads, self.state):
            self._update(p, g, s)

    def end_epoch(self) -> None:
        """Apply the per-epoch learning-rate decay."""
        self.learning_rate *= self.lr_decay

    def _init_state(self, p):
        return None

    def _update(self, p, g, s):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Vanilla gradient descent: ``p -= learning_rate * g``."""

    def _update(self, p, g, s):
        p -= self.learning_rate * g


class Momentum(Optimizer):
    """Momentum: ``v = mu * v - lr * g``, ``p += v``."""

    def __init__(self, learning_rate: float, momentum: float = 0.9, lr_decay: float = 1.0) -> None:
        super().__init__(learning_rate, lr_decay)
        if not 0 <= momentum < 1:
            raise InputError(f"momentum must be in [0, 1); got {momentum!r}.")
        self.momentum = float(momentum)

    def _init_state(self, p):
        return zeros_like(p)

    def _update(self, p, g, v):
        v *= self.momentum
        v -= self.learning_rate * g
        p += v


class Nesterov(Momentum):
    """Nesterov momentum: ``v_prev = v; v = mu*v - lr*g; p += -mu*v_prev + (1 + mu)*v``."""

    def _update(self, p, g, v):
        mu = self.momentum
        p -= mu * v
        v *= mu
        v -= self.learning_rate * g
        p += (1 + mu) * v


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    def __init__(
        self,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        lr_decay: float = 1.0,
    ) -> None:
        super().__init__(learning_rate, lr_decay)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)

    def _init_state(self, p):
        return (zeros_like(p), zeros_like(p))

    def _update(self, p, g, s):
        m, v = s
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        m_hat = m / (1 - b1**self.t)
        v_hat = v / (1 - b2**self.t)
        p -= self.learning_rate * m_hat / (sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}
check_registry(OPTIMIZERS, choices.OPTIMIZERS, "optimizer")


def make_optimizer(
    name: str, learning_rate: float, momentum: float = 0.9, lr_decay: float = 1.0
) -> Optimizer:
    """Build an update rule by name: ``"sgd"``, ``"momentum"``, ``"nesterov"`` or ``"adam"``."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise InputError(f"optimizer must be one of {sorted(OPTIMIZERS)}; got {name!r}.") from None
    if cls in (Momentum, Nesterov):
        return cls(learning_rate, momentum=momentum, lr_decay=lr_decay)
    return cls(learning_rate, lr_decay=lr_decay)


def row_squared_norms(X: Data) -> Array:
    """``||x_i||**2`` of every row of X (dense or scipy.sparse), in float64.

    Each row is summed on its own, in float64, in an order that does not depend on where it
    sits in X: so the rows of a file streamed in blocks, or of dask chunks, give the same
    numbers as the whole X in memory.
    """
    if hasattr(X, "multiply"):  # scipy.sparse
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    if X.dtype == np.float64:
        return np.einsum("ij,ij->i", X, X)
    out = np.empty(X.shape[0], np.float64)
    step = max(1, 2**20 // max(1, X.shape[1]))  # 8 MB of float64 at a time
    for s in range(0, X.shape[0], step):
        rows = X[s : s + step].astype(np.float64)
        out[s : s + step] = np.einsum("ij,ij->i", rows, rows)
    return out


def mean_of_norms(norms: Array, sample_weight: ArrayLike | None = None) -> float:
    """The (weighted) mean of ``row_squared_norms``, as ``mean_squared_norm`` takes it."""
    if sample_weight is None:
        return float(norms.mean())
    return float(np.dot(norms, sample_weight) / np.sum(sample_weight, dtype=np.float64))


def mean_squared_norm(X: Data, sample_weight: ArrayLike | None = None) -> float:
    """``mean(||x_i||**2)`` over the rows of X (dense or scipy.sparse), in float64; weighted by
    ``sample_weight`` where given (so that a weight counts like repeating the row)."""
    return mean_of_norms(row_squared_norms(X), sample_weight)


def top_eigenvalue(
    X: Data, sample_weight: ArrayLike | None = None, rows: int = 2048, iters: int = 20
) -> float:
    """The largest eigenvalue of ``X.T @ X / n`` (weighted where ``sample_weight`` is given),
    estimated by power iteration on at most ``rows`` evenly spaced rows of X.

    It is the curvature of a linear model's mean loss along its steepest direction (times the
    loss's own curvature in the scores), which sets the largest stable step.
    """
    n = X.shape[0]
    idx = np.unique(np.linspace(0, n - 1, min(n, rows)).astype(np.intp))
    Xs = X[idx]
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)[idx]
    total = len(idx) if w is None else float(w.sum())
    if total <= 0:
        return 0.0
    v = np.random.default_rng(0).standard_normal(X.shape[1])
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        u = np.asarray(Xs @ v.astype(Xs.dtype), dtype=np.float64).ravel()
        if w is not None:
            u *= w
        v = np.asarray(Xs.T @ u.astype(Xs.dtype), dtype=np.float64).ravel() / total
        lam = float(np.linalg.norm(v))
        if lam == 0.0:
            return 0.0
        v /= lam
    return lam


def auto_learning_rate(
    sq_norm: float,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    curvature: float = 1.0,
    top_eig: float | None = None,
    batch_size: int | None = None,
) -> float:
    """The step size ``learning_rate="auto"`` picks: ``1 / (curvature * L)``.

    L is the curvature of the mean loss over a minibatch of B rows as a function of the
    weights: ``top_eig + mean(||x_i||**2) / B`` (the full data's steepest direction, plus the
    extra a small batch adds), or ``mean(||x_i||**2)`` where ``top_eig`` is not given (an
    upper bound on it). A linear model's gradient changes with the squared size of its inputs,
    so this step makes the same progress whatever the scale of the pixels (about 5e-7 for raw,
    mean-subtracted CIFAR-10 with the softmax). ``curvature`` bounds the loss's second
    derivative in the scores: 1/2 for softmax cross-entropy, which makes the step ``1/L`` for
    the Lipschitz constant L of its gradient; 1 for the hinge. Momentum methods take
    ``(1 - momentum)`` of it, as their velocity amplifies the step by ``1 / (1 - momentum)``;
    Adam, which is scale-free, takes 1e-3.

    Parameters
    ----------
    sq_norm : float
        ``mean(||x_i||**2)`` of the training data (``mean_squared_norm(X)``).
    top_eig : float, optional
        The largest eigenvalue of ``X.T @ X / n`` (``top_eigenvalue(X)``).
    batch_size : int, optional
        Rows per step; None for the full batch.
    """
    if optimizer == "adam":
        return 1e-3
    L = sq_norm if top_eig is None else top_eig + sq_norm / (batch_size or np.inf)
    lr = 1.0 / (curvature * L + 1e-12)
    if optimizer in ("momentum", "nesterov"):
        lr *= 1 - momentum
    return lr


def auto_reg(sq_norm: float, strength: float) -> float:
    """The L2 strength ``reg="auto"`` picks: ``strength * mean(||x_i||**2)``.

    Scaling the pixels by c scales the best weights by 1/c and ``sum(W**2)`` by 1/c**2, so a
    penalty that weighs the same on any data must grow with the squared size of the inputs.
    The SVM uses ``strength = 3e-4``, the Softmax ``1e-5``, each the value of best validation
    accuracy on the digits, MNIST and CIFAR-10 together (``benchmarks/defaults.py``: the
    Softmax's earlier 1e-4 underfit MNIST and CIFAR-10 by 1-2 points). On raw,
    mean-subtracted CIFAR-10 the SVM's is about 3.7e3 (the course's 2.5e4 is 2e-3 times the
    same norm) and the Softmax's about 120; on the bundled digits 0.36 and 0.012.
    """
    return strength * sq_norm


def auto_settings(
    source: Any,
    loss: Any,
    learning_rate: float | str = "auto",
    reg: float | str = "auto",
    optimizer: str = "sgd",
    momentum: float = 0.9,
) -> tuple[float, float, float]:
    """Resolve ``"auto"`` settings from the training data: ``(learning_rate, reg,
    intercept_step)``.

    Parameters
    ----------
    source : linclass.sources.DataSource
        Gives ``mean_squared_norm()`` and ``top_eigenvalue()`` (read only where needed) and
        ``batch_size`` (None for the full batch).
    loss : linclass.losses.Loss
        Its ``curvature`` bound (None: the safe ``1 / mean(||x||**2)`` step) and its
        ``reg_strength``.
    learning_rate, reg : float or "auto"
    optimizer, momentum
        As for ``auto_learning_rate``.

    Returns
    -------
    learning_rate : float
    reg : float
    intercept_step : float
        With the "auto" step the bias moves as one more feature of average size would (a step
        ``mean(||x||**2) / n_features`` times the weights', at least 1); with the weights' own
        step it would crawl on uncentred data whose features are large. 1 for an explicit
        learning rate, which applies as given.
    """
    # (only an "auto" setting reads it)
    sq = source.mean_squared_norm() if "auto" in (learning_rate, reg) else float("nan")
    lr = learning_rate
    if lr == "auto":
        top = source.top_eigenvalue() if loss.curvature is not None else None
        curvature = 1.0 if loss.curvature is None else loss.curvature
        lr = auto_learning_rate(sq, optimizer, momentum, curvature, top, source.batch_size)
    intercept_step = max(sq / source.n_features, 1.0) if learning_rate == "auto" else 1.0
    reg = auto_reg(sq, loss.reg_strength) if reg == "auto" else reg
    return float(lr), float(reg), float(intercept_step)
