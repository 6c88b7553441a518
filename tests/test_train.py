"""The training engine on its own: solvers as generators, the Monitor, loss objects, the
fitted state, and the data-source contract."""

import ast
import threading
from pathlib import Path

import numpy as np
import pytest

from linclass import LinearSVM, SoftmaxClassifier
from linclass.losses import Hinge, SoftmaxCrossEntropy, multiclass_hinge, softmax_cross_entropy
from linclass.optim import SGD, auto_settings
from linclass.sources import InMemory
from linclass.train import Epoch, Monitor, TrainingDivergedError, lbfgs, sgd


@pytest.fixture
def problem(digits_split):
    Xtr, ytr = digits_split[:2]
    return Xtr.astype(np.float64), np.asarray(ytr)


def _zeros(X, C=10):
    return np.zeros((C, X.shape[1]), X.dtype), np.zeros(C, X.dtype)


def test_losses_module_imports_nothing_but_numpy():
    import linclass.losses

    tree = ast.parse(Path(linclass.losses.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    # numpy (numpy.typing included) and the standard library's typing: nothing of linclass's
    assert names <= {"numpy", "numpy.typing", "__future__", "typing"}, names


def test_loss_objects_carry_their_traits_and_equal_the_functions(rng):
    S, y = rng.standard_normal((20, 4)), rng.integers(4, size=20)
    w = rng.uniform(0.5, 2, 20)
    h = Hinge(margin=2.0, variant="crammer_singer", squared=True)
    for got, want in (
        (h(S, y, w), multiclass_hinge(S, y, 2.0, "crammer_singer", True, w)),
        (SoftmaxCrossEntropy()(S, y, w), softmax_cross_entropy(S, y, w)),
    ):
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
    assert (Hinge().curvature, Hinge().smooth, Hinge(squared=True).smooth) == (None, False, True)
    s = SoftmaxCrossEntropy()
    assert (s.curvature, s.smooth, s.reg_strength) == (0.5, True, 1e-5)
    assert Hinge(margin=2.0) == Hinge(margin=2.0) != Hinge()
    assert len({Hinge(), Hinge(), SoftmaxCrossEntropy()}) == 2
    with pytest.raises(ValueError, match="variant must be one of"):
        Hinge(variant="ovr")


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_auto_settings_are_what_the_estimator_uses(cls, problem):
    X, y = problem
    m = cls(random_state=0, max_epochs=1, batch_size=50).fit(X, y)
    source = InMemory(X, np.searchsorted(m.classes_, y), batch_size=50)
    assert auto_settings(source, m._loss()) == (m.learning_rate_, m.reg_, m.intercept_step_)


def test_sgd_engine_gives_the_estimator_s_weights(problem):
    """The engine driven by hand equals LinearSVM.fit: the estimator is only a face."""
    X, y = problem
    m = LinearSVM(random_state=4, max_epochs=6, batch_size=64, shuffle=False, tol=None).fit(X, y)
    rng = np.random.default_rng(4)
    W = (0.001 * rng.standard_normal((10, X.shape[1]))).astype(X.dtype)
    b = np.zeros(10)
    source = InMemory(X, y, batch_size=64, shuffle=False)
    records = list(
        sgd(
            W,
            b,
            source,
            Hinge(),
            m.reg_,
            SGD(m.learning_rate_),
            epochs=6,
            intercept_step=m.intercept_step_,
        )
    )
    np.testing.assert_array_equal(W, m.coef_)
    np.testing.assert_array_equal(b, m.intercept_)
    assert [r.epoch for r in records] == list(range(1, 7))
    assert [r.train_loss for r in records] == m.history_["train_loss"]
    assert records[-1].steps == m.n_steps_ == 6 * int(np.ceil(len(X) / 64))


def test_sgd_stops_on_max_steps_and_on_a_step_callback(problem):
    X, y = problem
    W, b = _zeros(X)
    src = InMemory(X, y, batch_size=100, shuffle=False)
    recs = list(sgd(W, b, src, Hinge(), 0.0, SGD(1e-3), epochs=10, max_steps=17))
    assert recs[-1].steps == 17 and recs[-1].stopped and len(recs) == 2  # 13 steps an epoch
    seen = []
    recs = list(
        sgd(
            W,
            b,
            src,
            Hinge(),
            0.0,
            SGD(1e-3),
            epochs=10,
            on_step=lambda info: seen.append(info) or len(seen) == 3,
        )
    )
    assert len(recs) == 1 and recs[0].stopped and recs[0].steps == 3
    assert [i["step"] for i in seen] == [1, 2, 3]


def test_sgd_reports_divergence(problem):
    X, y = problem
    W, b = _zeros(X)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="learning_rate"):
        list(sgd(W, b, InMemory(X * 1e150, y), Hinge(), 0.0, SGD(1e150), epochs=5))


def test_lbfgs_is_a_generator_that_stops_when_left(problem):
    X, y = problem
    full = SoftmaxClassifier(solver="lbfgs", max_epochs=3, reg=0.1, tol=None).fit(X, y)
    W, b = _zeros(X)
    src = InMemory(X, y)
    gen = lbfgs(W, b, src, SoftmaxCrossEntropy(), 0.1, epochs=50, tol=None)
    records = []
    for record in gen:
        records.append(record)
        if record.epoch == 3:
            break
    gen.close()
    np.testing.assert_array_equal(W, full.coef_)
    np.testing.assert_array_equal(b, full.intercept_)
    assert [r.train_loss for r in records] == full.history_["train_loss"]
    assert not [t for t in threading.enumerate() if t.name == "linclass-lbfgs"]


def test_lbfgs_raises_the_source_s_error_in_the_caller_s_thread(problem):
    X, y = problem

    class Broken(InMemory):
        calls = 0

        def loss_and_gradient(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 4:
                raise OSError("the disk went away")
            return super().loss_and_gradient(*args, **kwargs)

    W, b = _zeros(X)
    with pytest.raises(OSError, match="disk went away"):
        list(lbfgs(W, b, Broken(X, y), SoftmaxCrossEntropy(), 0.1, epochs=20, tol=None))
    assert not [t for t in threading.enumerate() if t.name == "linclass-lbfgs"]


def test_monitor_keeps_the_best_weights_and_stops_on_a_stall():
    scores = iter([0.5, 0.7, 0.6, 0.7, 0.65, 0.69, 0.1])
    mon = Monitor(
        0.0,
        tol=0.0,
        n_iter_no_change=3,
        early_stopping=True,
        scoring="accuracy",
        validate=lambda W, b: (1.0, next(scores)),
    )
    W, b = np.zeros((2, 3)), np.zeros(2)
    stops = []
    for epoch in range(1, 8):
        W[...] = epoch
        stops.append(mon.update(W, b, Epoch(epoch, 1.0, 0.5, 0.1, epoch)))
        if stops[-1]:
            break
    assert stops == [False, False, False, False, True]  # 3 epochs with no gain after epoch 2
    Wb, _bb, best = mon.best_weights
    assert best == 2 and np.all(Wb == 2)
    assert mon.history["val_accuracy"] == [0.5, 0.7, 0.6, 0.7, 0.65]

    mon = Monitor(0.5, tol=0.1, n_iter_no_change=2)
    losses = [3.0, 2.0, 1.95, 1.94]
    out = [mon.update(W, b, Epoch(i + 1, v, 0.5, 0.1, i)) for i, v in enumerate(losses)]
    assert out == [False, False, False, True]
    assert mon.history["penalty"][-1] == pytest.approx(0.5 * np.sum(W**2))


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_fitted_state_round_trip(cls, problem):
    X, y = problem
    m = cls(random_state=0, max_epochs=3).fit(X, y)
    state = m.get_fitted_state()
    again = cls(random_state=0, max_epochs=3).set_fitted_state(state)
    np.testing.assert_array_equal(again.predict(X), m.predict(X))
    assert again.history_ == m.history_ and again.n_steps_ == m.n_steps_
    assert all(isinstance(state[k], int) for k in ("n_iter_", "n_steps_", "n_features_in_"))
    with pytest.raises(ValueError, match="lacks"):
        cls().set_fitted_state({k: v for k, v in state.items() if k != "coef_"})


def test_an_interrupted_lbfgs_fit_leaves_no_thread_and_no_model(problem):
    X, y = problem

    def interrupt(info):
        if info["epoch"] == 2:
            raise KeyboardInterrupt

    m = SoftmaxClassifier(solver="lbfgs", max_epochs=30)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, y, callback=interrupt)
    assert not hasattr(m, "coef_")
    assert not [t for t in threading.enumerate() if t.name == "linclass-lbfgs"]
