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
"""

from __future__ import annotations

import numpy as np

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "OPTIMIZERS", "make_optimizer"]


class Optimizer:
    """Base class: holds the learning rate, its per-epoch decay, and a step counter."""

    def __init__(self, learning_rate, lr_decay=1.0):
        if not learning_rate > 0 or not np.isfinite(learning_rate):
            raise ValueError(f"learning_rate must be a positive number; got {learning_rate!r}.")
        if not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1]; got {lr_decay!r}.")
        self.learning_rate = float(learning_rate)
        self.lr_decay = float(lr_decay)
        self.t = 0
        self.state = None

    def step(self, params, grads):
        """Update each array in ``params`` in place from the matching array in ``grads``."""
        if self.state is None:
            self.state = [self._init_state(p) for p in params]
        self.t += 1
        for p, g, s in zip(params, grads, self.state):
            self._update(p, g, s)

    def end_epoch(self):
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

    def __init__(self, learning_rate, momentum=0.9, lr_decay=1.0):
        super().__init__(learning_rate, lr_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {momentum!r}.")
        self.momentum = float(momentum)

    def _init_state(self, p):
        return np.zeros_like(p)

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

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, lr_decay=1.0):
        super().__init__(learning_rate, lr_decay)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)

    def _init_state(self, p):
        return (np.zeros_like(p), np.zeros_like(p))

    def _update(self, p, g, s):
        m, v = s
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        m_hat = m / (1 - b1 ** self.t)
        v_hat = v / (1 - b2 ** self.t)
        p -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}


def make_optimizer(name, learning_rate, momentum=0.9, lr_decay=1.0):
    """Build an update rule by name: ``"sgd"``, ``"momentum"``, ``"nesterov"`` or ``"adam"``."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}; got {name!r}.") from None
    if cls in (Momentum, Nesterov):
        return cls(learning_rate, momentum=momentum, lr_decay=lr_decay)
    return cls(learning_rate, lr_decay=lr_decay)
