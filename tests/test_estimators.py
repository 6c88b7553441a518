import numpy as np
import pytest
from sklearn.base import clone

from linclass import LinearSVM, SoftmaxClassifier, TrainingDivergedError
from linclass.optim import (
    auto_learning_rate,
    auto_reg,
    mean_squared_norm,
    top_eigenvalue,
)

BOTH = [LinearSVM, SoftmaxClassifier]


@pytest.mark.parametrize("cls", BOTH)
def test_digits_test_accuracy_at_least_095(cls, digits_split):
    Xtr, ytr, Xva, yva, Xte, yte = digits_split
    model = cls(random_state=0).fit(Xtr, ytr, eval_set=(Xva, yva))
    assert model.score(Xte, yte) >= 0.95
    assert len(model.history_["val_accuracy"]) == model.n_iter_ >= 1


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("batch_size", [None, 64])
def test_same_seed_gives_bit_identical_weights(cls, batch_size, digits_split):
    Xtr, ytr = digits_split[:2]
    a = cls(random_state=7, batch_size=batch_size, max_epochs=5).fit(Xtr, ytr)
    b = cls(random_state=7, batch_size=batch_size, max_epochs=5).fit(Xtr, ytr)
    c = cls(random_state=8, batch_size=batch_size, max_epochs=5).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert not np.array_equal(a.coef_, c.coef_)
    # fit is idempotent: refitting the same estimator gives the same weights
    w = a.coef_.copy()
    np.testing.assert_array_equal(a.fit(Xtr, ytr).coef_, w)


@pytest.mark.parametrize("cls", BOTH)
def test_float32_trains_in_float32_and_X_is_never_written(cls, digits_split, monkeypatch):
    Xtr, ytr = digits_split[:2]
    X = np.ascontiguousarray(Xtr, dtype=np.float32)
    X.setflags(write=False)  # any write would raise
    before = X.copy()
    # Watch for a float64 copy of X: no array of X's size may be made as float64.
    made = []
    real_asarray = np.asarray

    def spy(a, *args, **kw):
        out = real_asarray(a, *args, **kw)
        if isinstance(out, np.ndarray) and out.size == X.size and out.dtype == np.float64:
            made.append(out.shape)
        return out

    monkeypatch.setattr(np, "asarray", spy)
    model = cls(random_state=0, max_epochs=3).fit(X, ytr)
    monkeypatch.undo()
    assert not made
    assert model.coef_.dtype == np.float32 and model.intercept_.dtype == np.float32
    np.testing.assert_array_equal(X, before)
    assert model.decision_function(X).dtype == np.float32


@pytest.mark.parametrize("cls", BOTH)
def test_string_and_sparse_integer_labels(cls, digits_split):
    Xtr, ytr, _, _, Xte, yte = digits_split
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    m = cls(random_state=0, max_epochs=20).fit(Xtr, names[ytr])
    assert set(m.classes_) == set(names)
    pred = m.predict(Xte)
    assert pred.dtype.kind == "U" and np.mean(pred == names[yte]) > 0.9
    odd = ytr * 100 - 7  # non-contiguous, negative ints
    m2 = cls(random_state=0, max_epochs=20).fit(Xtr, odd)
    np.testing.assert_array_equal(m2.classes_, np.unique(odd))
    assert np.mean(m2.predict(Xte) == yte * 100 - 7) > 0.9


def test_binary_decision_function_is_one_column(rng):
    X = rng.standard_normal((60, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    m = LinearSVM(random_state=0).fit(X, y)
    d = m.decision_function(X)
    assert d.shape == (60,)
    np.testing.assert_array_equal(m.predict(X), np.where(d > 0, m.classes_[1], m.classes_[0]))
    assert m.score(X, y) > 0.95


def test_softmax_probabilities(digits_split):
    Xtr, ytr, _, _, Xte, _ = digits_split
    m = SoftmaxClassifier(random_state=0, max_epochs=20).fit(Xtr, ytr)
    P = m.predict_proba(Xte)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(m.classes_[P.argmax(axis=1)], m.predict(Xte))
    np.testing.assert_allclose(np.exp(m.predict_log_proba(Xte)), P, rtol=1e-5, atol=1e-7)


def test_the_svm_has_no_probabilities(digits_split):
    m = LinearSVM(random_state=0, max_epochs=2).fit(*digits_split[:2])
    assert not hasattr(m, "predict_proba")
    assert not hasattr(m, "predict_log_proba")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [None, 100])
def test_every_optimizer_and_both_ways_to_train(optimizer, batch_size, digits_split):
    Xtr, ytr, Xva, yva = digits_split[:4]
    m = SoftmaxClassifier(
        optimizer=optimizer,
        batch_size=batch_size,
        random_state=0,
        max_epochs=60 if batch_size else 150,
        lr_decay=0.99,
    )
    m.fit(Xtr, ytr, eval_set=(Xva, yva))
    assert m.history_["val_accuracy"][-1] > 0.9
    assert m.history_["train_loss"][-1] < m.history_["train_loss"][0]
    lr = m.history_["learning_rate"]
    assert lr[1] == pytest.approx(lr[0] * 0.99)


def test_full_batch_is_gradient_descent_on_the_objective(digits_split):
    """One full-batch epoch is exactly one step of W -= lr * grad of the whole objective."""
    from linclass.losses import softmax_cross_entropy
    from linclass.objective import loss_and_gradient

    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(
        batch_size=None, max_epochs=1, random_state=3, reg=0.01, learning_rate=1e-3
    ).fit(Xtr, ytr)
    W0 = (0.001 * np.random.default_rng(3).standard_normal(m.coef_.shape)).astype(np.float32)
    b0 = np.zeros(10, np.float32)
    loss, dW, db, _ = loss_and_gradient(W0, b0, Xtr, ytr, softmax_cross_entropy, reg=0.01)
    np.testing.assert_allclose(m.coef_, W0 - 1e-3 * dW, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(m.intercept_, b0 - 1e-3 * db, rtol=1e-5, atol=1e-8)
    assert m.history_["train_loss"][0] == pytest.approx(loss, rel=1e-6)


def test_minibatches_visit_every_row_once_per_epoch(digits_split, monkeypatch):
    import linclass.train as engine

    seen = []
    real = engine.loss_and_gradient

    def spy(W, b, X, y, *a, **kw):
        seen.append(X.copy())
        return real(W, b, X, y, *a, **kw)

    monkeypatch.setattr(engine, "loss_and_gradient", spy)
    Xtr, ytr = digits_split[:2]
    LinearSVM(batch_size=100, max_epochs=1, random_state=0).fit(Xtr, ytr)
    rows = np.concatenate(seen)
    assert len(seen) == int(np.ceil(len(Xtr) / 100))
    # the epoch is a permutation of the training rows: each row exactly once
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(Xtr.astype(np.float32), axis=0))


def test_early_stopping_keeps_the_best_validation_weights(digits_split):
    Xtr, ytr, Xva, yva = digits_split[:4]
    m = LinearSVM(
        early_stopping=True,
        n_iter_no_change=3,
        max_epochs=200,
        random_state=0,
        learning_rate=0.01,
        scoring="accuracy",
    )
    m.fit(Xtr, ytr, eval_set=(Xva, yva))
    best = int(np.argmax(m.history_["val_accuracy"]))
    assert m.best_epoch_ == m.history_["epoch"][best]
    assert m.score(Xva, yva) == pytest.approx(max(m.history_["val_accuracy"]))
    assert m.n_iter_ < 200


def test_early_stopping_holds_out_a_validation_fraction(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(
        early_stopping=True, validation_fraction=0.2, random_state=0, max_epochs=10
    ).fit(Xtr, ytr)
    assert len(m.history_["val_accuracy"]) == m.n_iter_


def test_tol_stops_a_converged_run(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(tol=1.0, n_iter_no_change=2, max_epochs=100, random_state=0)
    assert m.fit(Xtr, ytr).n_iter_ <= 4
    m = SoftmaxClassifier(tol=None, max_epochs=7, random_state=0)
    assert m.fit(Xtr, ytr).n_iter_ == 7


def test_callback_can_stop_after_a_step(digits_split):
    Xtr, ytr = digits_split[:2]
    events = []

    def cb(info):
        events.append(info["event"])
        return info["event"] == "step" and info["step"] == 2

    m = LinearSVM(batch_size=50, random_state=0).fit(Xtr, ytr, callback=cb)
    assert m.n_iter_ == 1 and events.count("step") == 2
    assert np.all(np.isfinite(m.coef_))


def test_partial_fit_continues_and_needs_classes(digits_split):
    Xtr, ytr, _, _, Xte, yte = digits_split
    m = SoftmaxClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        m.partial_fit(Xtr, ytr)
    for _ in range(30):
        m.partial_fit(Xtr, ytr, classes=np.arange(10))
    assert m.n_iter_ == 30 and len(m.history_["train_loss"]) == 30
    assert m.score(Xte, yte) > 0.9
    with pytest.raises(ValueError, match="does not know"):
        m.partial_fit(Xtr[:5], np.full(5, 42))


def test_warm_start_continues_from_the_weights(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(random_state=0, max_epochs=3, tol=None, warm_start=True)
    m.fit(Xtr, ytr)
    loss_3 = m.history_["train_loss"][-1]
    m.fit(Xtr, ytr)
    assert m.n_iter_ == 6 and m.history_["train_loss"][-1] < loss_3


def test_divergence_names_the_learning_rate_and_returns_no_nan_model(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(learning_rate=1e6, random_state=0, max_epochs=50)
    with pytest.raises(TrainingDivergedError, match=r"learning_rate=1e\+06.*smaller"):
        m.fit(Xtr * 1e3, ytr)
    assert not hasattr(m, "coef_")
    good = SoftmaxClassifier(random_state=0, max_epochs=2).fit(Xtr, ytr)
    w = good.coef_.copy()
    good.set_params(learning_rate=1e6)
    with pytest.raises(TrainingDivergedError):
        good.fit(Xtr * 1e3, ytr)
    np.testing.assert_array_equal(good.coef_, w)  # the fitted model is left as it was
    assert good.n_iter_ == 2


@pytest.mark.parametrize(
    "X,y,match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), [0, 1], "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), [0, 1], "infinity"),
        (np.ones((3, 2)), [0, 1], "inconsistent"),
        (np.ones((3, 2)), [1, 1, 1], "at least 2 classes"),
        (np.ones((0, 2)), [], "0 sample"),
        (np.ones((3, 2)), [0.5, 1.5, 2.5], "Unknown label type"),
    ],
)
def test_bad_input_gets_a_clear_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        LinearSVM().fit(X, np.asarray(y))


@pytest.mark.parametrize(
    "param,value",
    [
        ("learning_rate", -1.0),
        ("learning_rate", "fast"),
        ("reg", -1),
        ("batch_size", 0),
        ("max_epochs", 0),
        ("optimizer", "rmsprop"),
        ("momentum", 1.5),
        ("lr_decay", 0),
        ("tol", -1),
        ("validation_fraction", 1.0),
        ("n_iter_no_change", 0),
        ("loss_variant", "ovr"),
    ],
)
def test_bad_parameters_are_named(param, value, rng):
    X, y = rng.standard_normal((10, 3)), np.arange(10) % 2
    with pytest.raises(ValueError, match=param):
        LinearSVM(**{param: value}).fit(X, y)


def test_wrong_feature_count_and_unknown_eval_labels(digits_split):
    Xtr, ytr, Xva, yva = digits_split[:4]
    m = LinearSVM(max_epochs=2, random_state=0).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="features"):
        m.predict(Xtr[:, :10])
    with pytest.raises(ValueError, match="does not know"):
        LinearSVM(max_epochs=2).fit(Xtr, ytr, eval_set=(Xva, yva + 100))


def test_parameters_are_stored_untouched_and_clone_works():
    m = LinearSVM(learning_rate=0.5, reg=2.0, batch_size=None, loss_variant="crammer_singer")
    p = m.get_params()
    assert p["learning_rate"] == 0.5 and p["batch_size"] is None
    assert p["loss_variant"] == "crammer_singer"
    assert clone(m).get_params() == p


def test_auto_learning_rate_and_reg_follow_the_data_scale(rng):
    X = rng.standard_normal((100, 20))
    sq = mean_squared_norm(X)
    assert sq == pytest.approx(np.mean(np.sum(X**2, axis=1)))
    lr = auto_learning_rate(sq)
    assert lr == pytest.approx(1 / sq)
    assert auto_learning_rate(mean_squared_norm(10 * X)) == pytest.approx(lr / 100)
    assert auto_learning_rate(sq, "momentum", 0.9) == pytest.approx(0.1 * lr)
    assert auto_learning_rate(sq, "adam") == 1e-3
    assert auto_reg(sq, 3e-4) == pytest.approx(3e-4 * sq)


@pytest.mark.parametrize("cls", BOTH)
def test_auto_settings_make_training_scale_free(cls, digits_split):
    """With "auto" step and penalty, data scaled by 10 gives weights scaled by 1/10."""
    Xtr, ytr = digits_split[:2]
    X = Xtr.astype(np.float64)
    a = cls(random_state=0, max_epochs=5).fit(X, ytr)
    b = cls(random_state=0, max_epochs=5).fit(10 * X, ytr)
    assert b.reg_ == pytest.approx(100 * a.reg_)
    assert b.learning_rate_ == pytest.approx(a.learning_rate_ / 100)
    # The initial weights (0.001 * randn) do not scale with the data, so the two runs are
    # not identical, only equally good.
    assert abs(a.score(X, ytr) - b.score(10 * X, ytr)) < 0.03
    assert a.reg_ == pytest.approx(cls()._loss().reg_strength * mean_squared_norm(X))


@pytest.mark.parametrize("variant", ["weston_watkins", "crammer_singer"])
def test_svm_variants_train(variant, digits_split):
    Xtr, ytr, _, _, Xte, yte = digits_split
    m = LinearSVM(loss_variant=variant, random_state=0).fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.93


def test_top_eigenvalue_matches_the_exact_one(rng):
    X = rng.standard_normal((500, 12)) * np.linspace(1, 5, 12)
    exact = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    assert top_eigenvalue(X, rows=10_000, iters=200) == pytest.approx(exact, rel=1e-6)
    w = rng.uniform(0.1, 2, 500)
    exact_w = np.linalg.eigvalsh((X * w[:, None]).T @ X / w.sum())[-1]
    assert top_eigenvalue(X, w, rows=10_000, iters=200) == pytest.approx(exact_w, rel=1e-6)
    # It is at most mean ||x||^2 (the trace), the bound the SVM's step uses.
    assert top_eigenvalue(X) <= mean_squared_norm(X)


def test_softmax_auto_step_uses_the_curvature_of_a_minibatch(rng):
    X = rng.standard_normal((400, 10)) * np.linspace(1, 3, 10)
    sq = mean_squared_norm(X)
    top = 7.0
    assert auto_learning_rate(sq, curvature=0.5, top_eig=top, batch_size=50) == pytest.approx(
        1 / (0.5 * (top + sq / 50))
    )
    assert auto_learning_rate(sq, curvature=0.5, top_eig=top) == pytest.approx(1 / (0.5 * top))
    m = SoftmaxClassifier(random_state=0, max_epochs=1, batch_size=50).fit(
        X, rng.integers(0, 3, 400)
    )
    assert m.learning_rate_ == pytest.approx(2 / (top_eigenvalue(X) + sq / 50))


# -- solver="lbfgs" ----------------------------------------------------------------------------


def _objective(model, X, y):
    from linclass.objective import loss_and_gradient

    y_idx = np.searchsorted(model.classes_, y)
    return loss_and_gradient(model.coef_, model.intercept_, X, y_idx, model._loss(), model.reg_)[0]


@pytest.mark.parametrize("model", [SoftmaxClassifier(reg=0.05), LinearSVM(reg=0.05, squared=True)])
def test_lbfgs_reaches_a_lower_objective_than_sgd(model, digits_split):
    from sklearn.base import clone

    Xtr, ytr = digits_split[:2]
    X = Xtr.astype(np.float64)
    sgd = clone(model).set_params(random_state=0).fit(X, ytr)
    lbfgs = clone(model).set_params(random_state=0, solver="lbfgs").fit(X, ytr)
    assert _objective(lbfgs, X, ytr) < _objective(sgd, X, ytr)
    assert lbfgs.n_steps_ == lbfgs.n_iter_ == len(lbfgs.history_["epoch"])
    assert set(lbfgs.history_["learning_rate"]) == {None}
    # Its history is the objective, falling (up to the last digits) iteration by iteration.
    loss = np.array(lbfgs.history_["train_loss"])
    assert np.all(np.diff(loss) <= 1e-9 * np.abs(loss[:-1]))


def test_lbfgs_with_sample_weight_equals_repeated_rows(rng):
    X = rng.standard_normal((60, 5))
    y = rng.integers(0, 3, 60)
    k = rng.integers(1, 4, 60)
    kw = dict(reg=0.01, solver="lbfgs", max_epochs=300, tol=None, random_state=0)
    a = SoftmaxClassifier(**kw).fit(X, y, sample_weight=k.astype(float))
    b = SoftmaxClassifier(**kw).fit(np.repeat(X, k, axis=0), np.repeat(y, k))
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)


def test_lbfgs_early_stopping_callback_and_max_steps(digits_split):
    Xtr, ytr, Xva, yva = digits_split[:4]
    m = SoftmaxClassifier(
        solver="lbfgs", early_stopping=True, max_epochs=200, random_state=0, scoring="accuracy"
    )
    m.fit(Xtr, ytr, eval_set=(Xva, yva))
    best = int(np.argmax(m.history_["val_accuracy"]))
    assert m.best_epoch_ == m.history_["epoch"][best]
    assert m.score(Xva, yva) == pytest.approx(m.history_["val_accuracy"][best])
    seen = []
    SoftmaxClassifier(solver="lbfgs", tol=None).fit(
        Xtr, ytr, callback=lambda info: seen.append(info["epoch"]) or len(seen) == 3
    )
    assert seen == [1, 2, 3]
    assert SoftmaxClassifier(solver="lbfgs", max_steps=4, tol=None).fit(Xtr, ytr).n_iter_ == 4
    nb = SoftmaxClassifier(solver="lbfgs", fit_intercept=False, max_epochs=20).fit(Xtr, ytr)
    assert np.all(nb.intercept_ == 0) and nb.score(Xtr, ytr) > 0.9


def test_lbfgs_needs_a_smooth_loss_and_fit():
    X, y = np.eye(4), [0, 1, 1, 0]
    with pytest.raises(ValueError, match="squared=True"):
        LinearSVM(solver="lbfgs").fit(X, y)
    assert not hasattr(SoftmaxClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(SoftmaxClassifier(), "partial_fit")
    with pytest.raises(ValueError, match="solver must be one of"):
        SoftmaxClassifier(solver="newton").fit(X, y)


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_early_stopping_by_validation_loss_does_not_make_the_model_worse(cls):
    """On the digits' 180-image validation split the accuracy plateaus in steps of 1/180 and
    stopped the SVM at epoch 7 (test 0.914 against 0.961); the loss keeps the signal."""
    from linclass.runs import TrainConfig, _prepare

    _meta, sp, names, steps, Xtr, Xv = _prepare(TrainConfig())
    pre = dict(steps)["preprocess"]
    Xte, yte = pre.transform(sp.X_test), names[sp.y_test]
    common = dict(random_state=0, shuffle="blocks")
    plain = cls(**common).fit(Xtr, names[sp.y_train], eval_set=(Xv, names[sp.y_val]))
    stopped = cls(early_stopping=True, **common).fit(
        Xtr, names[sp.y_train], eval_set=(Xv, names[sp.y_val])
    )
    best = int(np.argmin(stopped.history_["val_loss"]))
    assert stopped.best_epoch_ == stopped.history_["epoch"][best]
    assert stopped.score(Xte, yte) >= plain.score(Xte, yte) - 0.005
    with pytest.raises(ValueError, match='scoring must be "loss" or "accuracy"'):
        cls(scoring="f1").fit(Xtr[:50], names[sp.y_train][:50])
