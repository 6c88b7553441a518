"""Threads while training: the BLAS held to one thread and given back; the chooser of
full-batch workers keeps the faster count, follows a machine that turns busy or quiet, bounds
what its probes cost; and the weights are the same whatever it chose.

The clock and the libraries are stand-ins where the choosing is tested: a step's time is a
function of the worker count the chooser passed, so those tests are deterministic on any
machine."""

import numpy as np
import pytest

from linclass import threads
from linclass.errors import UsageError


class FakeLib:
    def __init__(self, num_threads, filepath="fake"):
        self.num_threads, self.filepath = num_threads, filepath
        self.sets = []

    def set_num_threads(self, count):
        self.num_threads = count
        self.sets.append(count)


class Machine:
    """A fake clock whose steps take ``cost[workers]`` seconds."""

    def __init__(self, monkeypatch, cost, cores=2, other=None):
        self.now, self.cost = 0.0, dict(cost)
        self.ours = FakeLib(cores)
        self.others = [other] if other is not None else []
        self.workers = None
        monkeypatch.setattr(threads, "_libraries", lambda: ([self.ours], list(self.others)))
        monkeypatch.setattr(threads, "cores", lambda: cores)
        monkeypatch.setattr(threads.time, "perf_counter", lambda: self.now)
        monkeypatch.delenv("LINCLASS_BLAS_THREADS", raising=False)

    def step(self, workers):
        self.workers = workers
        self.now += self.cost[workers]
        return workers

    def run(self, chooser, calls, key=200):
        return [chooser.run(key, self.step) for _ in range(calls)]


def test_quiet_machine_keeps_all_threads(monkeypatch):
    m = Machine(monkeypatch, {1: 2.0e-3, 2: 1.2e-3})
    with threads.Chooser() as c:
        used = m.run(c, 200)
    assert c.choices == {200: 2}
    trials = 1 + 2 * threads.TRIALS  # a warm-up call, then turns
    assert sorted(used[1:trials]) == [1] * threads.TRIALS + [2] * threads.TRIALS
    assert used[trials:].count(1) <= len(used[trials:]) // threads.PROBE_CALLS + 1
    assert m.ours.num_threads == 2  # the BLAS given back its count


def test_busy_machine_falls_back_to_one_thread(monkeypatch):
    m = Machine(monkeypatch, {1: 1.0e-3, 2: 3.5e-3})
    with threads.Chooser() as c:
        used = m.run(c, 300)
    assert c.choices == {200: 1}
    assert used[-1] == 1


def test_follows_a_machine_that_turns_busy_then_quiet(monkeypatch):
    m = Machine(monkeypatch, {1: 0.02, 2: 0.012})
    with threads.Chooser() as c:
        m.run(c, 50)
        assert c.choices[200] == 2
        m.cost = {1: 0.02, 2: 0.07}  # another process takes a core
        used = m.run(c, 400)
        assert c.choices[200] == 1
        # the winner became SLOWER times slower than when chosen: a probe at once
        assert used.index(1) < 10
        assert used[10:].count(2) <= len(used) // threads.PROBE_CALLS + 1  # then rare probes
        m.cost = {1: 0.02, 2: 0.012}  # and it leaves again
        m.run(c, 400)
        assert c.choices[200] == 2


def test_the_rest_of_the_loop_counts(monkeypatch):
    # two threads make the product faster but, spinning, slow what runs between products
    m = Machine(monkeypatch, {1: 1.0e-3, 2: 0.6e-3})
    between = {1: 0.2e-3, 2: 1.0e-3}
    with threads.Chooser() as c:
        for _ in range(100):
            c.run(200, m.step)
            m.now += between[m.workers]
    assert c.choices == {200: 1}


def test_a_step_before_each_pause_counts_its_own_time(monkeypatch):
    # one full-batch step per epoch, the epoch's end between them
    m = Machine(monkeypatch, {1: 0.5, 2: 0.3})
    with threads.Chooser() as c:
        for _ in range(10):
            c.run(49000, m.step)
            m.now += 5.0  # validation, history, reports
            c.pause()
    assert c.choices == {49000: 2}


def test_rare_stalls_count_for_what_they_cost(monkeypatch):
    # two workers on a busy machine: fast most of the time, a time slice lost now and then
    m = Machine(monkeypatch, {1: 0.5e-3, 2: 0.4e-3})
    calls = [0]

    def step(workers):
        calls[0] += 1
        stalled = workers == 2 and calls[0] % 3 == 0
        m.now += 24e-3 if stalled else m.cost[workers]

    with threads.Chooser() as c:
        for _ in range(300):
            c.run(200, step)
    assert c.choices == {200: 1}


def test_a_slow_probe_does_not_probe_again_at_once(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3})
    with threads.Chooser() as c:
        m.run(c, 20)
        m.cost = {1: 2e-3, 2: 1.5e-3}  # the winner 3x slower, the other no better
        used = m.run(c, 100)
    assert c.choices == {200: 2}
    assert used.count(1) <= threads.TRIALS  # one probe


def test_probes_cost_a_few_percent_when_the_other_count_is_slow(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 4e-3})
    with threads.Chooser() as c:
        m.run(c, 2 * threads.TRIALS)
        t0 = m.now
        m.run(c, 3000)
    spent = m.now - t0
    assert spent < 3000 * 1e-3 * 1.15


def test_each_key_is_chosen_on_its_own(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 0.6e-3})
    with threads.Chooser() as c:
        m.run(c, 20, key=200)
        m.cost = {1: 1e-3, 2: 3e-3}
        m.run(c, 20, key=49000)
    assert c.choices == {200: 2, 49000: 1}


def test_nothing_to_choose_on_one_core_or_one_thread(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 1e-3}, cores=1)
    with threads.Chooser() as c:
        assert not c.active
        assert set(m.run(c, 20)) == {1}
    m = Machine(monkeypatch, {1: 1e-3, 2: 1e-3})
    with threads.Chooser(most=1) as c:  # a source whose products run elsewhere
        assert not c.active and set(m.run(c, 20)) == {1}
    m = Machine(monkeypatch, {1: 1e-3, 2: 1e-3})
    m.ours.num_threads = 1  # the BLAS held to one thread around the fit
    with threads.Chooser() as c:
        assert not c.active and set(m.run(c, 20)) == {1}
    assert m.ours.num_threads == 1


def test_environment_fixes_the_blas_count(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 5e-3})
    monkeypatch.setenv("LINCLASS_BLAS_THREADS", "2")
    with threads.Chooser() as c:
        assert not c.active and m.ours.num_threads == 2
        assert set(m.run(c, 50)) == {1}  # one worker: the BLAS's own threads instead
    monkeypatch.setenv("LINCLASS_BLAS_THREADS", "1")
    with threads.Chooser() as c:
        assert m.ours.num_threads == 1 and not c.active
    assert m.ours.num_threads == 2
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("LINCLASS_BLAS_THREADS", bad)
        with pytest.raises(UsageError, match="LINCLASS_BLAS_THREADS"):
            threads.Chooser()
    monkeypatch.setenv("LINCLASS_BLAS_THREADS", "auto")
    assert threads.Chooser().active


def test_every_blas_held_to_one_thread_and_given_back(monkeypatch):
    # scipy's own OpenBLAS spins two threads of its own inside L-BFGS-B, next to numpy's
    other = FakeLib(2, "scipy.libs/openblas")
    m = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3}, other=other)
    with threads.Chooser() as c:
        assert other.num_threads == 1 and m.ours.num_threads == 1
        m.run(c, 10)
    assert other.num_threads == 2 and m.ours.num_threads == 2


def test_an_error_in_a_step_gives_the_counts_back(monkeypatch):
    m = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3})

    def boom(workers):
        raise FloatingPointError

    # a run, then one that fails, in one chooser
    with pytest.raises(FloatingPointError), threads.Chooser() as c:  # noqa: PT012
        c.run(200, m.step)
        c.run(200, boom)
    assert m.ours.num_threads == 2


def test_numpys_blas_is_found_apart_from_scipys():
    import os

    import scipy.optimize  # noqa: F401  (scipy's wheel loads its own OpenBLAS)
    from threadpoolctl import threadpool_limits

    ours, others = threads._libraries()
    assert ours  # numpy's products run on some BLAS
    assert not {id(lib) for lib in ours} & {id(lib) for lib in others}
    wheel = [lib for lib in ours + others if "numpy.libs" in os.path.realpath(lib.filepath)]
    assert all(lib in ours for lib in wheel)
    if wheel:  # numpy's wheel BLAS is ours; scipy's wheel BLAS, another library, is not
        assert all(
            lib in others for lib in ours + others if "scipy.libs" in os.path.realpath(lib.filepath)
        )
    with threadpool_limits(1, user_api="blas"):
        assert threads.blas_threads() == 1


def test_training_gives_the_blas_back_its_count():
    from threadpoolctl import threadpool_limits

    from linclass import LinearSVM, SoftmaxClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    before = threads.blas_threads()
    LinearSVM(max_epochs=3, random_state=0).fit(X, y)
    SoftmaxClassifier(solver="lbfgs", max_epochs=3, random_state=0).fit(X, y)
    assert threads.blas_threads() == before
    with threadpool_limits(1, user_api="blas"):  # a limit around the fit is kept
        LinearSVM(max_epochs=3, random_state=0).fit(X, y)
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before


@pytest.mark.parametrize("solver", ["sgd", "lbfgs", "minibatch"])
def test_the_weights_do_not_depend_on_the_workers(solver, monkeypatch, kernel):
    """Full-batch gradients summed over blocks computed by 1 or 2 workers, minibatch steps
    (the fused kernel's halves on 1 or 2 threads): the weights are the same bits whatever the
    chooser picks (the BLAS on one thread), with either kernel."""
    from threadpoolctl import threadpool_limits

    from linclass import SoftmaxClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 300)).astype(np.float32)  # 3 blocks of 8 MB
    y = rng.integers(0, 5, 20000)
    fits = []
    monkeypatch.setattr(threads, "TRIALS", 1)  # take turns between the counts at once
    for most in (1, 2, 3):
        monkeypatch.setattr(threads, "cores", lambda most=most: most)
        with threadpool_limits(2, user_api="blas"):  # a BLAS of 2 threads, as on most machines
            clf = SoftmaxClassifier(
                solver="sgd" if solver == "minibatch" else solver,
                batch_size=256 if solver == "minibatch" else None,
                max_epochs=2 if solver == "minibatch" else 6,
                tol=None,
                random_state=0,
            )
            fits.append(clf.fit(X, y).coef_)
    assert all(np.array_equal(fits[0], f) for f in fits[1:])


def test_block_sums_are_the_same_for_any_number_of_workers():
    from linclass.losses import multiclass_hinge
    from linclass.objective import loss_and_gradient

    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 700)).astype(np.float32)
    y = rng.integers(0, 10, 5000)
    W, b = rng.standard_normal((10, 700)).astype(np.float32), np.zeros(10, np.float32)
    ref = loss_and_gradient(W, b, X, y, multiclass_hinge, 0.1, block_rows=512)
    for workers in (2, 3):
        got = loss_and_gradient(W, b, X, y, multiclass_hinge, 0.1, block_rows=512, workers=workers)
        assert got[0] == ref[0] and got[3] == ref[3]
        assert np.array_equal(got[1], ref[1]) and np.array_equal(got[2], ref[2])
