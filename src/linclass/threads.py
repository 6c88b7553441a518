"""How many BLAS threads a training step gets: the count that is fastest now, found by timing.

OpenBLAS splits a matrix product between its threads, which then wait for each other by
spinning. On a quiet machine two threads are faster than one on most training steps. When
another process keeps a core busy, a thread often waits for one that is not running: a step
that takes 0.4 ms then now and then takes 24 ms (a scheduler's time slice), and a fit takes 2-4
times longer on two threads than on one, from MNIST minibatches to a full CIFAR-10 batch
(``benchmarks/bench_contention.py``). No rule on sizes can tell those apart, as the right count
depends on what else runs; so the training engine times its steps and lets the clock choose.

``Chooser.run(key, fn, *args)`` calls ``fn`` under a thread count chosen for ``key`` (the
product's shape: one key per batch size):

- a step is timed from its start to the next step's start (or, before a pause such as an
  epoch's end, its own call), so that what a count costs the rest of the loop counts too;
- after one warm-up call, the calls take turns between one thread and all of them until each
  count has been timed ``TRIALS`` times; the lower mean wins (a mean, not a median, so that
  rare stalls count for what they cost);
- from then on the winner runs and its running mean is kept. The other count is tried on
  ``TRIALS`` calls now and then: after ``PROBE_SECONDS`` of this key's work and at least
  ``PROBE_CALLS`` calls (so a probe on the slow count costs a few percent at most; the period
  doubles after each probe that fails, up to ``MAX_WAIT`` times), or at once when the winner
  has become ``SLOWER`` times slower than when it was chosen (the machine turned busy). When
  the probe's mean beats the winner's running mean by ``MARGIN``, it becomes the winner.

The count is the BLAS library's own, for the whole process: a chooser is meant for one training
loop at a time, and gives the libraries back their counts when closed. Any other BLAS loaded
(scipy's wheel brings its own OpenBLAS, which L-BFGS-B calls on vectors) is held to one thread
meanwhile: its idle threads spinning next to numpy's made an L-BFGS fit on MNIST 3x slower.

A chooser sets counts only from the thread that made it: once the main thread has set a count,
OpenBLAS ignores a set from any other thread (seen with 0.3.30 and 0.3.31). Steps run in
another thread (L-BFGS's objective runs in a helper thread) are timed under the count in force,
and the count they ask for is set when the owner calls ``apply()`` between iterations.

Where the BLAS was already held to one thread (``threadpoolctl``, a tune worker,
``OPENBLAS_NUM_THREADS=1``) there is nothing to choose and ``run`` just calls.
``LINCLASS_BLAS_THREADS=n`` fixes the count instead of timing.
"""

from __future__ import annotations

import os
import threading
import time

from .errors import UsageError

__all__ = [
    "MARGIN",
    "MAX_WAIT",
    "PROBE_CALLS",
    "PROBE_SECONDS",
    "SLOWER",
    "TRIALS",
    "Chooser",
    "blas_threads",
    "fixed_count",
]

TRIALS = 3           # timed calls of each count before the first choice
PROBE_SECONDS = 2.0  # this key's work between two probes of the other count...
PROBE_CALLS = 30     # ...and at least this many calls
SLOWER = 2.0         # or a probe at once when the winner is this much slower than when chosen
MARGIN = 0.9         # the other count takes over when it is this fast relative to the winner
MAX_WAIT = 8         # probe periods at most between probes
_SMOOTH = 0.1        # weight of the newest time in the winner's running mean

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


def blas_threads():
    """The thread count of numpy's BLAS now, 1 without a BLAS."""
    return max([lib.num_threads for lib in _libraries()[0]] or [1])


def _set(libs, count):
    for lib in libs:
        lib.set_num_threads(count)


def fixed_count():
    """The count ``LINCLASS_BLAS_THREADS`` fixes, or None (``auto``, or not set)."""
    text = os.environ.get("LINCLASS_BLAS_THREADS", "").strip()
    if not text or text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(f"LINCLASS_BLAS_THREADS={text!r}: give a thread count of 1 or more, "
                         "or 'auto' (the default: timed per training step).")
    return count


class _Key:
    """What the chooser knows of one product shape."""

    __slots__ = ("best", "calls", "chosen", "mean", "probe", "trials", "wait", "warm", "work")

    def __init__(self):
        self.warm = False     # the first call (page faults, thread start) is not timed
        self.trials = {}      # count -> times, while choosing
        self.best = None      # the winning count
        self.mean = 0.0       # the winner's running mean time...
        self.chosen = 0.0     # ...and what it was when the winner was chosen or last probed
        self.work = 0.0       # seconds and calls since the last probe
        self.calls = 0
        self.probe = []       # the other count's times during a probe
        self.wait = 1         # probe periods between probes: doubles after each that fails


class Chooser:
    """Run training steps under the fastest BLAS thread count, timed per key.

    Parameters
    ----------
    most : int, optional
        The count to weigh against one thread; by default the BLAS's count when the chooser is
        made (so a limit set around the fit is kept).

    Attributes
    ----------
    choices : dict
        ``key -> count`` chosen so far (for reports and tests).
    """

    def __init__(self, most=None):
        self.fixed = fixed_count()
        self._ours, self._others = _libraries()
        self._restore = max([lib.num_threads for lib in self._ours] or [1])
        self._others_restore = [lib.num_threads for lib in self._others]
        _set(self._others, 1)
        self.most = self.fixed or most or self._restore
        self._keys = {}
        self._current = self._wanted = self._restore
        self._owner = threading.get_ident()
        self.choices = {}
        self._open = None  # (key, state, count, start, seconds) of the step timed now
        if self.fixed is not None:
            self._use(self.fixed)

    @property
    def active(self):
        """True when there are two counts to choose from."""
        return self.fixed is None and self.most > 1

    def _use(self, count):
        self._wanted = count
        if count != self._current and threading.get_ident() == self._owner:
            _set(self._ours, count)
            self._current = count

    def apply(self):
        """Set the count the latest step asked for (from the owner's thread: see above)."""
        self._use(self._wanted)

    def run(self, key, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` under the count chosen for ``key``.

        A step's time is from its start to the next step's start, so that what the count
        costs the rest of the loop counts too (two threads' spinning while Python works); the
        last step before a ``pause()`` counts ``fn``'s own time."""
        if not self.active:
            return fn(*args, **kwargs)
        t0 = time.perf_counter()
        if self._open is not None:
            self._record(*self._open[:3], t0 - self._open[3])
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        self._use(self._next(state))
        count = self._current  # what runs: the owner's last set, from another thread
        self._open = None
        result = fn(*args, **kwargs)
        self._open = (key, state, count, t0, time.perf_counter() - t0)
        self._wanted = self._next(state)
        return result

    def pause(self):
        """The loop does other work now (an epoch's end): the open step counts its own time."""
        if self._open is not None:
            key, state, count, _, seconds = self._open
            self._open = None
            self._record(key, state, count, seconds)
            self._wanted = self._next(state)

    def _next(self, state):
        if state.best is None:  # choosing: take turns, the fewest-timed count first
            return min((self.most, 1), key=lambda c: len(state.trials.get(c, ())))
        due = state.work >= PROBE_SECONDS * state.wait and state.calls >= PROBE_CALLS
        if (state.probe or due
                or (state.calls >= PROBE_CALLS // 3 and state.mean > SLOWER * state.chosen)):
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

    def close(self):
        """Give the BLAS libraries back the counts they had."""
        self._open = None
        self._use(self._restore)
        for lib, count in zip(self._others, self._others_restore):
            lib.set_num_threads(count)
        self._others_restore = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
