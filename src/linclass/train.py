"""The training engine: SGD epochs and L-BFGS as plain functions over a data source.

Each solver is a generator: it takes the weights, a data source (``linclass.sources``), a loss
(``linclass.losses``), the L2 strength and, for SGD, an update rule (``linclass.optim``); it
updates ``W`` and ``b`` in place and yields one ``Epoch`` record per epoch. The caller decides
what an epoch means for the run (history, validation, early stopping) with a ``Monitor`` and
stops the solver by leaving the loop::

    monitor = Monitor(reg, tol=1e-4)
    for record in sgd(W, b, source, loss, reg, optimizer, epochs=100):
        if monitor.update(W, b, record):
            break
    if monitor.best_weights is not None:   # with early stopping
        W, b, best_epoch = monitor.best_weights

The engine never touches X: the source gives the full-batch gradient or the minibatches.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import numpy as np

from ._typing import Array, Block, Data, Sums
from .array_api import all_finite, copy, to_numpy
from .array_api import loss_and_gradient as array_api_loss_and_gradient
from .choices import SOLVERS
from .errors import InputError, LinclassError
from .objective import loss_and_gradient, penalty
from .threads import Chooser

if TYPE_CHECKING:
    from .fused import Step
    from .losses import Loss
    from .optim import Optimizer
    from .sources import DataSource
    from .sources.dask import DaskSource

#: ``on_step({"event": "step", "epoch", "step", "loss"})``: a truthy return stops training.
StepCallback: TypeAlias = Callable[[dict[str, Any]], Any]

__all__ = [
    "HISTORY_KEYS",
    "SOLVERS",
    "Epoch",
    "Monitor",
    "TrainingDivergedError",
    "lbfgs",
    "local_sgd",
    "sgd",
]

HISTORY_KEYS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "penalty",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
)


class TrainingDivergedError(LinclassError, FloatingPointError, ValueError):
    """The loss became inf or NaN, or grew by orders of magnitude over its start: the learning
    rate is too large for this data."""


# A loss this many times its start (or 1, when it starts below) means the steps are running
# away: no run that converges climbs that far, even SGD's noisiest.
DIVERGENCE_GROWTH = 1e4


@dataclass
class Epoch:
    """What a solver reports after each epoch.

    ``train_loss`` and ``train_accuracy`` are the running means over the epoch's steps, each
    measured before its update (for L-BFGS: the objective and accuracy at the iteration's end).
    ``steps`` counts the update steps since training began; ``stopped`` says that a step
    callback or ``max_steps`` ended the epoch early. ``learning_rate`` is None for L-BFGS.
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    learning_rate: float | None
    steps: int
    stopped: bool = False


class _Watch:
    """Divergence: a loss that is not finite, or that has grown ``DIVERGENCE_GROWTH`` times
    over the first one this run measured (or over 1, when it started below)."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer: Optimizer = optimizer
        self.start: float | None = None

    def check(self, loss: float, epoch: int, step: int) -> None:
        if self.start is None and np.isfinite(loss):
            self.start = float(loss)
        limit = DIVERGENCE_GROWTH * max(self.start or 0.0, 1.0)
        if not np.isfinite(loss) or loss > limit:
            _diverged(loss, epoch, step, self.optimizer, self.start)


def _diverged(
    loss: float, epoch: int, step: int, optimizer: Optimizer, start: float | None = None
) -> NoReturn:
    lr = optimizer.learning_rate
    how = (
        f"the loss grew from {start:.4g} to {loss:.4g}"
        if start is not None and np.isfinite(loss)
        else f"the loss became {loss}"
    )
    raise TrainingDivergedError(
        f"training diverged: {how} at epoch {epoch}, step {step}, with "
        f"learning_rate={lr:.3g} ({type(optimizer).__name__.lower()}): the step is too large "
        'for this data. Use the automatic one (learning_rate="auto", --lr auto), which is '
        "worked out from the data to be stable, or a smaller one."
    )


def sgd(
    W: Array,
    b: Array,
    source: DataSource,
    loss: Loss,
    reg: float,
    optimizer: Optimizer,
    *,
    epochs: int,
    fit_intercept: bool = True,
    intercept_step: float = 1.0,
    max_steps: int | None = None,
    steps_done: int = 0,
    first_epoch: int = 1,
    on_step: StepCallback | None = None,
) -> Iterator[Epoch]:
    """Minibatch (or full-batch) gradient descent, updating ``W`` and ``b`` in place.

    Parameters
    ----------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,)
        Stays as it is (and gets no gradient) when ``fit_intercept`` is False.
    source : linclass.sources.DataSource
        Its minibatches (or, where ``source.full_batch``, its full-batch gradient: one step
        per epoch).
    loss : linclass.losses.Loss
    reg : float
        L2 strength: the objective adds ``reg * sum(W**2)``.
    optimizer : linclass.optim.Optimizer
        Updates the parameters in place; its learning rate decays after every epoch.
    epochs : int
    intercept_step : float, default 1.0
        The bias's gradient is scaled by this (so it steps like a feature of average size).
    max_steps : int, optional
        Stop once ``steps`` reaches this, even within an epoch.
    steps_done, first_epoch : int
        Where a resumed run counts from.
    on_step : callable, optional
        ``on_step({"event": "step", "epoch", "step", "loss"})`` after each update; a truthy
        return ends training after that step.

    Yields
    ------
    Epoch
    """
    n = source.n_samples
    b_arg = b if fit_intercept else None
    params = [W, b] if fit_intercept else [W]
    B = source.batch_size or n  # (None: the full batch)
    steps_total = steps_done
    watch = _Watch(optimizer)
    minibatch = None if source.full_batch else _minibatch_gradient(source, W, b_arg, loss)
    with _chooser(source) as threads:
        for epoch in range(first_epoch, first_epoch + epochs):
            loss_sum, n_correct, steps, stop = 0.0, 0, 0, False
            batches: Iterable[Block | None]
            if source.full_batch:
                batches = [None]
            else:
                batches = source.epoch()
            for batch in batches:
                if batch is None or minibatch is None:  # (both or neither: the full batch)
                    value, dW, db, correct = threads.run(
                        n, source.loss_and_gradient, W, b_arg, loss, reg
                    )
                    rows = n
                else:
                    Xb, yb, wb = batch
                    rows = Xb.shape[0]
                    value, dW, db, correct = minibatch(threads, W, b_arg, Xb, yb, reg, wb)
                watch.check(value, epoch, steps + 1)
                if fit_intercept:
                    db *= intercept_step  # (a Python float keeps db's dtype)
                    optimizer.step(params, [dW, db])
                else:
                    optimizer.step(params, [dW])
                steps += 1
                steps_total += 1
                loss_sum += value * rows
                n_correct += correct
                stop = _step_ends(on_step, epoch, steps, value, steps_total, max_steps)
                if stop:
                    break
            threads.pause()
            if hasattr(batches, "close"):  # an epoch left early lets its reader go now
                batches.close()
            if not all_finite(W, b):
                _diverged(np.inf, epoch, steps, optimizer)
            seen = min(n, steps * B)
            lr = optimizer.learning_rate
            optimizer.end_epoch()
            yield Epoch(epoch, loss_sum / seen, n_correct / seen, lr, steps_total, stop)
            if stop:
                return


def _minibatch_gradient(
    source: DataSource, W: Array, b: Array | None, loss: Loss
) -> Callable[..., Sums]:
    """``f(threads, W, b, X_b, y_b, reg, w_b) -> (loss, dW, db, n_correct)`` for the
    minibatches: the fused kernel's step (its dW and db reused from step to step, its halves on
    the number of threads the chooser times per batch size) where the source's data choose
    it, else the numpy objective on one BLAS thread."""
    kernel = source.kernel(loss)
    if kernel == "array_api":  # on X's device (linclass.sources.device)

        def device_step(
            threads: Chooser, W: Array, b: Array | None, Xb: Data, yb: Array, reg: float, wb: Any
        ) -> Sums:
            return array_api_loss_and_gradient(W, b, Xb, yb, loss, reg, wb)

        return device_step

    def numpy_step(
        threads: Chooser, W: Array, b: Array | None, Xb: Data, yb: Array, reg: float, wb: Any
    ) -> Sums:
        return loss_and_gradient(W, b, Xb, yb, loss, reg, wb)

    if kernel != "fused":
        return numpy_step
    from .fused import CompileFailed, Step

    step: list[Step | None] = [
        Step(W, b, loss)
    ]  # None once the kernel failed to compile (said once)

    def fused_step(
        threads: Chooser, W: Array, b: Array | None, Xb: Data, yb: Array, reg: float, wb: Any
    ) -> Sums:
        if step[0] is not None:
            try:
                return threads.run(Xb.shape[0], step[0].loss_and_gradient, W, b, Xb, yb, reg, wb)
            except CompileFailed:
                step[0] = None
        return numpy_step(threads, W, b, Xb, yb, reg, wb)

    return fused_step


def _step_ends(
    on_step: StepCallback | None,
    epoch: int,
    step: int,
    loss: float,
    steps_total: int,
    max_steps: int | None,
) -> bool:
    """After a step: tell ``on_step``; True when it asks to stop or ``max_steps`` is reached."""
    asked = on_step is not None and on_step(
        {"event": "step", "epoch": epoch, "step": step, "loss": loss}
    )
    return bool(asked) or (max_steps is not None and steps_total >= max_steps)


def _chooser(source: DataSource) -> Chooser:
    """The threads of a training loop on ``source`` (``linclass.threads``): the BLAS on one
    thread, the full-batch gradient on a timed number of workers (one where the source's
    products run elsewhere: a Dask source's workers)."""
    return Chooser(most=None if source.local_blas else 1)


def local_sgd(
    W: Array,
    b: Array,
    source: DaskSource,
    loss: Loss,
    reg: float,
    optimizer: Optimizer,
    *,
    epochs: int,
    fit_intercept: bool = True,
    intercept_step: float = 1.0,
    max_steps: int | None = None,
    steps_done: int = 0,
    first_epoch: int = 1,
    on_step: StepCallback | None = None,
) -> Iterator[Epoch]:
    """Local SGD with model averaging over a source's chunks (``DaskSource``), updating ``W``
    and ``b`` in place; one step is one round.

    Each round ships (W, b) once; every chunk takes ``source.local_steps`` minibatch SGD steps
    of its own from them at the optimizer's learning rate; (W, b) become the chunks' average,
    weighted by rows. An epoch is as many rounds as it takes to sample ``n_samples`` rows. Only
    plain SGD (``optimizer`` an ``SGD``): momentum and Adam state would not average.

    Yields
    ------
    Epoch
    """
    from .optim import SGD

    if type(optimizer) is not SGD:
        raise InputError(
            "minibatch training on a dask array is local SGD, which averages plain "
            'SGD steps: use optimizer="sgd", or batch_size=None (full batch) for '
            f"{type(optimizer).__name__.lower()}."
        )
    n = source.n_samples
    steps_total = steps_done
    watch = _Watch(optimizer)
    for epoch in range(first_epoch, first_epoch + epochs):
        loss_sum, n_correct, seen, rounds, stop = 0.0, 0, 0, 0, False
        lr = optimizer.learning_rate
        while seen < n:
            W_new, b_new, rows, loss_rows, correct = source.local_sgd_round(
                W, b, loss, reg, lr, intercept_step, fit_intercept
            )
            watch.check(loss_rows / max(rows, 1), epoch, rounds + 1)
            if not np.all(np.isfinite(W_new)):
                _diverged(np.inf, epoch, rounds + 1, optimizer)
            W[...] = W_new
            if fit_intercept:
                b[...] = b_new
            loss_sum, n_correct, seen = loss_sum + loss_rows, n_correct + correct, seen + rows
            rounds += 1
            steps_total += 1
            stop = _step_ends(
                on_step, epoch, rounds, loss_rows / max(rows, 1), steps_total, max_steps
            )
            if stop:
                break
        optimizer.end_epoch()
        yield Epoch(epoch, loss_sum / seen, n_correct / seen, lr, steps_total, stop)
        if stop:
            return


class _Cancelled(Exception):
    """The consumer left the L-BFGS loop: stop scipy at its next evaluation."""


def lbfgs(
    W: Array,
    b: Array,
    source: DataSource,
    loss: Loss,
    reg: float,
    *,
    epochs: int,
    tol: float | None = 1e-4,
    fit_intercept: bool = True,
    max_steps: int | None = None,
    steps_done: int = 0,
    first_epoch: int = 1,
) -> Iterator[Epoch]:
    """Full-batch L-BFGS (scipy's L-BFGS-B) on the hand-derived gradient, updating ``W`` and
    ``b`` in place; one iteration is one epoch.

    Converged when the gradient's largest entry has shrunk to ``tol`` times its first value (a
    test that does not depend on the scale of the pixels; scipy's own tests would stop only at
    an exact optimum). scipy runs in a helper thread and hands over after each iteration, so
    this is a generator like ``sgd``: leaving the loop stops scipy.

    Yields
    ------
    Epoch
    """
    from scipy.optimize import minimize

    C, D = W.shape
    dtype = source.dtype  # numpy's (W may be an array of another namespace)
    n = source.n_samples
    # the latest evaluation, which is the accepted point at each iteration's end
    last: dict[str, Any] = {}
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    resume: queue.Queue[bool] = queue.Queue(maxsize=1)
    cancel = threading.Event()
    threads = _chooser(source)

    def unpack(theta):  # in the source's arrays (on X's device for an array API X)
        Wt = theta[: C * D].reshape(C, D).astype(dtype)
        bt = theta[C * D :].astype(dtype) if fit_intercept else np.zeros(C, dtype)
        return source.asarray(Wt), source.asarray(bt)

    def objective(theta):
        if cancel.is_set():
            raise _Cancelled
        Wt, bt = unpack(theta)
        value, dW, db, correct = threads.run(
            n, source.loss_and_gradient, Wt, bt if fit_intercept else None, loss, reg
        )
        dW, db = to_numpy(dW), to_numpy(db)
        grad = (dW.ravel() if not fit_intercept else np.concatenate([dW.ravel(), db])).astype(
            np.float64
        )
        last.update(theta=theta.copy(), loss=value, acc=correct / n, gmax=float(np.abs(grad).max()))
        last.setdefault("gmax0", last["gmax"])
        return value, grad

    steps = [steps_done]

    def on_iteration(intermediate_result):
        theta = intermediate_result.x
        if not np.array_equal(theta, last.get("theta")):
            objective(theta)
        steps[0] += 1
        W[...], b[...] = unpack(theta)
        epoch = first_epoch + steps[0] - steps_done - 1
        handoff.put(("epoch", Epoch(epoch, last["loss"], last["acc"], None, steps[0])))
        if not resume.get():
            raise StopIteration
        converged = tol is not None and last["gmax"] <= tol * last["gmax0"]
        if converged or (max_steps is not None and steps[0] >= max_steps):
            raise StopIteration

    def work():
        try:
            W0, b0 = to_numpy(W), to_numpy(b)  # the state L-BFGS keeps is numpy's
            theta0 = np.concatenate([W0.ravel(), b0] if fit_intercept else [W0.ravel()]).astype(
                np.float64
            )
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                result = minimize(
                    objective,
                    theta0,
                    jac=True,
                    method="L-BFGS-B",
                    callback=on_iteration,
                    options={"maxiter": epochs, "gtol": 0.0, "ftol": 0.0, "maxls": 50},
                )
            handoff.put(("done", result.x))
        except BaseException as e:  # handed to the consumer's thread, raised there
            handoff.put(("error", e))

    worker = threading.Thread(target=work, name="linclass-lbfgs", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            kind, value = handoff.get()
            if kind == "epoch":
                threads.pause()
                yield value
                resume.put(True)
            elif kind == "done":
                finished = True
                W[...], b[...] = unpack(value)
                return
            else:
                finished = True
                raise value
    finally:
        if not finished:  # the consumer left early, or was interrupted
            cancel.set()
            _tell(resume, False)
            while worker.is_alive():
                try:
                    kind, value = handoff.get(timeout=0.1)
                except queue.Empty:
                    continue
                if kind == "done":
                    W[...], b[...] = unpack(value)
                elif kind == "epoch":  # an iteration that ended as we left: do not resume
                    _tell(resume, False)
            worker.join()
        threads.close()


def _tell(q: queue.Queue, value: bool) -> None:
    """Put ``value`` unless the queue already holds one (the answer is then on its way)."""
    with contextlib.suppress(queue.Full):
        q.put_nowait(value)


class Monitor:
    """History, early stopping and the best weights: what a run keeps across epochs.

    Parameters
    ----------
    reg : float
        For the ``penalty`` column (``reg * sum(W**2)`` at the end of each epoch).
    tol : float or None
        Stop when the training loss (or, with early stopping, the validation score) has
        not improved by ``tol`` for ``n_iter_no_change`` epochs. None: never on a stall.
    n_iter_no_change : int
    early_stopping : bool
        Keep the weights with the best validation score (``best_weights``); needs
        ``validate``.
    watch_loss : bool, default True
        Stop on a stalled training loss (not for L-BFGS, which has its own test).
    validate : callable, optional
        ``validate(W, b) -> (val_loss, val_accuracy)``, run after every epoch.
    callback : callable, optional
        ``callback(info)`` after every epoch, ``info["event"] == "epoch"``; truthy stops.
    report : callable, optional
        ``report(info)`` after every epoch, before the callback (for printing).
    history : dict of lists, optional
        A history to extend (a resumed run); a new one by default.
    scoring : {"loss", "accuracy"}, default "loss"
        The validation score early stopping watches: the (lower) loss or the accuracy.
    """

    def __init__(
        self,
        reg: float,
        *,
        tol: float | None = None,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        watch_loss: bool = True,
        validate: Callable[[Array, Array], tuple[float, float]] | None = None,
        callback: Callable[[dict[str, Any]], Any] | None = None,
        report: Callable[[dict[str, Any]], Any] | None = None,
        history: dict[str, list] | None = None,
        scoring: str = "loss",
    ) -> None:
        self.reg, self.tol, self.n_iter_no_change = reg, tol, n_iter_no_change
        self.scoring = scoring
        self.early_stopping, self.watch_loss = early_stopping, watch_loss
        self.validate, self.callback, self.report = validate, callback, report
        self.history = history if history is not None else {k: [] for k in HISTORY_KEYS}
        self.t0 = time.perf_counter()
        self.best_score: float = -np.inf
        self.best_weights: tuple[Array, Array, int] | None = None  # with early stopping
        self.best_loss, self.stall = np.inf, 0

    def update(self, W: Array, b: Array, record: Epoch) -> bool:
        """Record an epoch, report it and track early stopping. Returns True when training
        should stop: the callback asked, the solver stopped, or no progress for
        ``n_iter_no_change`` epochs."""
        hist = self.history
        hist["epoch"].append(record.epoch)
        hist["train_loss"].append(record.train_loss)
        hist["train_accuracy"].append(record.train_accuracy)
        hist["penalty"].append(penalty(W, self.reg))
        hist["learning_rate"].append(record.learning_rate)
        if self.validate is not None:
            vl, va = self.validate(W, b)
            hist["val_loss"].append(vl)
            hist["val_accuracy"].append(va)
        hist["seconds"].append(time.perf_counter() - self.t0)
        info = {
            "event": "epoch",
            "epoch": record.epoch,
            **{k: v[-1] for k, v in hist.items() if v and k != "epoch"},
        }
        if self.report is not None:
            self.report(info)
        stop = bool(self.callback is not None and self.callback(info))
        if self.early_stopping and self.validate is not None:
            score = -hist["val_loss"][-1] if self.scoring == "loss" else hist["val_accuracy"][-1]
            if score > self.best_score:
                self.stall = 0 if score > self.best_score + (self.tol or 0.0) else self.stall + 1
                self.best_score = score
                self.best_weights = (copy(W), copy(b), record.epoch)
            else:
                self.stall += 1
        elif self.tol is not None and self.watch_loss:
            self.stall = self.stall + 1 if record.train_loss > self.best_loss - self.tol else 0
            self.best_loss = min(self.best_loss, record.train_loss)
        return (
            stop or record.stopped or (self.tol is not None and self.stall >= self.n_iter_no_change)
        )
