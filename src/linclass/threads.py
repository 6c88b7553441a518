"""Threads while training: the BLAS held to one, the full-batch gradient split over workers
whose number the clock chooses, and every result the same whatever it chose.

OpenBLAS splits a product between its threads, which then wait for each other by spinning.
When another process keeps one of the two cores busy, a thread often waits for one that is not
running: a minibatch step that takes 0.4 ms then now and then takes 24 ms (a scheduler's time
slice), and a fit on two BLAS threads takes 3-4x as long as on one, from MNIST minibatches to
full CIFAR-10 batches (``benchmarks/bench_contention.py``). And a product's last bits depend
on how many threads computed it, so a count that follows the machine's load would make a
seeded fit give different weights from one run to the next.

So while a fit runs (``Chooser``, one per training loop):

- numpy's BLAS, and any other BLAS loaded (scipy's wheel brings its own, which L-BFGS-B calls;
  its idle threads spinning next to numpy's made L-BFGS on MNIST 3x slower), runs on one
  thread: every product is computed the same way on any machine state;
- minibatch steps run as they are, on that one thread;
- the full-batch gradient is summed over blocks of rows, which ``workers`` threads compute at
  once and which are added in block order (``linclass.objective.BlockSum.add_all``), so the
  sum is the same for any number of workers; ``Chooser.run(key, fn, ...)`` calls
  ``fn(..., workers=n)`` with ``n`` chosen by timing, per ``key`` (the batch's rows):

  - a step is timed from its start to the next step's start (or, before a ``pause()`` such
    as an epoch's end, its own call), so that what a count costs the rest of the loop counts;
  - after one warm-up call, the calls take turns between one worker and one per core until
    each count has been timed ``TRIALS`` times; the lower mean wins (a mean, not a median, so
    rare stalls count for what they cost);
  - from then on the winner runs and its running mean is kept. The other count is tried on
    ``TRIALS`` calls now and then: after ``PROBE_SECONDS`` of this key's work and at least
    ``PROBE_CALLS`` calls (so a probe on the slow count costs a few percent at most; the
    period doubles after each probe that fails, up to ``MAX_WAIT`` times), or at once when the
    winner has become ``SLOWER`` times slower than when it was chosen (the machine turned
    busy). When the probe's mean beats the winner's by ``MARGIN``, it becomes the winner.

The counts are given back when the chooser closes. A limit of one thread set around the fit
(threadpoolctl, ``OPENBLAS_NUM_THREADS=1``, a tune worker) means one worker too.
``LINCLASS_BLAS_THREADS=n`` gives numpy's BLAS ``n`` threads instead, with one worker and no
timing (the old behaviour: faster on a quiet machine for minibatches, but the weights then
depend on ``n`` in their last bits). The BLAS is set from the thread that made the chooser:
once the main thread has set a count, OpenBLAS ignores a set from any other (seen with 0.3.30
and 0.3.31).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .errors import UsageError

R = TypeVar("R")  # what a step returns

__all__ = [
    "MARGIN",
    "MAX_WAIT",
    "PROBE_CALLS",
    "PROBE_SECONDS",
    "SLOWER",
    "TRIALS",
    "Chooser",
    "blas_threads",
    "cores",
    "fixed_count",
]

TRIALS = 3  # timed calls of each count before the first choice
PROBE_SECONDS = 2.0  # this key's work between two probes of the other count...
PROBE_CALLS = 30  # ...and at least this many calls
SLOWER = 2.0  # or a probe at once when the winner is this much slower than when chosen
MARGIN = 0.9  # the other count takes over when it is this fast relative to the winner
MAX_WAIT = 8  # probe periods at most between probes
_SMOOTH = 0.1  # weight of the newest time in the winner's running mean


def _libraries():
    """``(ours, others)``: threadpoolctl's controllers of the BLAS that numpy's products run
    on, and of any other BLAS loaded (scipy's wheel brings its own OpenBLAS, which L-BFGS-B
    calls on vectors). Where no library lies in numpy's install (a system or conda BLAS that
    numpy and scipy share), every BLAS is ours."""
    import numpy
    from threadpoolctl import ThreadpoolController

    libs = ThreadpoolController().select(user_api="blas").lib_controllers
    home = os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))
    numpy_dirs = (os.path.join(home, "numpy") + os.sep, os.path.join(home, "numpy.libs") + os.sep)
    ours = [lib for lib in libs if os.path.realpath(lib.filepath or "").startswith(numpy_dirs)]
    if not ours:
        return libs, []
    return ours, [lib for lib in libs if lib not in ours]


def blas_threads() -> int:
    """The thread count of numpy's BLAS now, 1 without a BLAS."""
    return max([lib.num_threads for lib in _libraries()[0]] or [1])


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _set(libs, count):
    for lib in libs:
        lib.set_num_threads(count)


def fixed_count() -> int | None:
    """The count ``LINCLASS_BLAS_THREADS`` fixes, or None (``auto``, or not set)."""
    text = os.environ.get("LINCLASS_BLAS_THREADS", "").strip()
    if not text or text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(
            f"LINCLASS_BLAS_THREADS={text!r}: give a thread count of 1 or more, "
            "or 'auto' (the default: one BLAS thread, workers timed per step)."
        )
    return count


class _Key:
    """What the chooser knows of one product shape."""

    __slots__ = ("best", "calls", "chosen", "mean", "probe", "trials", "wait", "warm", "work")

    def __init__(self):
        self.warm = False  # the first call (page faults, thread start) is not timed
        self.trials = {}  # count -> times, while choosing
        self.best = None  # the winning count
        self.mean = 0.0  # the winner's running mean time...
        self.chosen = 0.0  # ...and what it was when the winner was chosen or last probed
        self.work = 0.0  # seconds and calls since the last probe
        self.calls = 0
        self.probe = []  # the other count's times during a probe
        self.wait = 1  # probe periods between probes: doubles after each that fails


class Chooser:
    """Hold the BLAS to one thread for a training loop and run its full-batch steps on the
    fastest number of workers, timed per key.

    Parameters
    ----------
    most : int, optional
        The count to weigh against one worker; by default one per core, or 1 where the BLAS
        was held to one thread around the fit.

    Attributes
    ----------
    choices : dict
        ``key -> workers`` chosen so far (for reports and tests).
    """

    def __init__(self, most: int | None = None) -> None:
        self.fixed = fixed_count()
        ours, others = _libraries()
        self._libs = ours + others
        self._restore = [lib.num_threads for lib in self._libs]
        held = max([lib.num_threads for lib in ours] or [1]) == 1
        _set(others, 1)
        _set(ours, self.fixed or 1)
        self.most = 1 if self.fixed or held else (most or cores())
        self._keys: dict[Hashable, _Key] = {}
        # (key, state, count, start, seconds) of the step timed now
        self._open: tuple[Hashable, _Key, int, float, float] | None = None
        self.choices: dict[Hashable, int] = {}

    @property
    def active(self) -> bool:
        """True when there are two counts to choose from."""
        return self.most > 1

    def run(self, key: Hashable, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs, workers=n)`` with ``n`` chosen for ``key``.

        A step's time is from its start to the next step's start, so that what the count
        costs the rest of the loop counts too; the last step before a ``pause()`` counts
        ``fn``'s own time."""
        if not self.active:
            return fn(*args, workers=1, **kwargs)
        t0 = time.perf_counter()
        if self._open is not None:
            self._record(*self._open[:3], t0 - self._open[3])
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        count = self._next(state)
        self._open = None
        result = fn(*args, workers=count, **kwargs)
        self._open = (key, state, count, t0, time.perf_counter() - t0)
        return result

    def pause(self) -> None:
        """The loop does other work now (an epoch's end): the open step counts its own time."""
        if self._open is not None:
            key, state, count, _, seconds = self._open
            self._open = None
            self._record(key, state, count, seconds)

    def _next(self, state):
        if state.best is None:  # choosing: take turns, the fewest-timed count first
            return min((self.most, 1), key=lambda c: len(state.trials.get(c, ())))
        due = state.work >= PROBE_SECONDS * state.wait and state.calls >= PROBE_CALLS
        if (
            state.probe
            or due
            or (state.calls >= PROBE_CALLS // 3 and state.mean > SLOWER * state.chosen)
        ):
            return self._other(state.best)
        return state.best

    def _other(self, count):
        return 1 if count == self.most else self.most

    def _record(self, key, state, count, seconds):
        if not state.warm:
            state.warm = True
        elif state.best is None:
            state.trials.setdefault(count, []).append(seconds)
            if all(len(state.trials.get(c, ())) >= TRIALS for c in (1, self.most)):
                means = {c: sum(t) / len(t) for c, t in state.trials.items()}
                self._choose(key, state, min(means, key=means.get), means)
        elif count == state.best:
            state.mean += _SMOOTH * (seconds - state.mean)
            state.work += seconds
            state.calls += 1
        else:  # a probe of the other count
            state.probe.append(seconds)
            if len(state.probe) < TRIALS:
                return
            mean = sum(state.probe) / len(state.probe)
            state.probe = []
            if mean < MARGIN * state.mean:  # faster: it takes over
                self._choose(key, state, count, {count: mean})
            else:  # the winner stays, judged from its time now; the next probe later
                state.work, state.calls, state.chosen = 0.0, 0, state.mean
                state.wait = min(2 * state.wait, MAX_WAIT)

    def _choose(self, key, state, count, times):
        state.best, state.mean = count, times[count]
        state.chosen, state.work, state.calls, state.wait = state.mean, 0.0, 0, 1
        self.choices[key] = count

    def close(self) -> None:
        """Give the BLAS libraries back the counts they had."""
        self._open = None
        for lib, count in zip(self._libs, self._restore):
            lib.set_num_threads(count)
        self._libs, self._restore = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
