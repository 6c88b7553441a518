"""scikit-learn compatibility: the estimator checks, sparse input, and the tools users combine
linclass with (Pipeline, GridSearchCV, cross-validation, calibration)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from linclass import LinearSVM, SoftmaxClassifier


@parametrize_with_checks(
    [LinearSVM(), SoftmaxClassifier(), SoftmaxClassifier(solver="lbfgs", max_epochs=50)]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_gives_the_dense_result(cls, fmt, digits_split):
    Xtr, ytr, _, _, Xte, _ = digits_split
    X = np.where(Xtr > 0, Xtr, 0).astype(np.float64)  # mostly zeros, like one-hot features
    Xt = np.where(Xte > 0, Xte, 0).astype(np.float64)
    dense = cls(random_state=0, max_epochs=10).fit(X, ytr)
    sparse = cls(random_state=0, max_epochs=10).fit(fmt(X), ytr)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(sparse.predict(fmt(Xt)), dense.predict(Xt))
    online = cls(random_state=0)
    online.partial_fit(fmt(X), ytr, classes=np.arange(10))
    assert online.score(fmt(Xt), digits_split[5]) > 0.5
    assert cls().__sklearn_tags__().input_tags.sparse


def test_pipeline_grid_search_and_cross_validation(digits_split):
    Xtr, ytr, _, _, Xte, yte = digits_split
    pipe = make_pipeline(StandardScaler(), SoftmaxClassifier(max_epochs=20, random_state=0))
    grid = GridSearchCV(
        pipe,
        {
            "softmaxclassifier__reg": [1e-4, 1e-2],
            "softmaxclassifier__learning_rate": [1e-3, "auto"],
        },
        cv=3,
    )
    grid.fit(Xtr, ytr)
    assert grid.best_score_ > 0.9 and grid.score(Xte, yte) > 0.9
    scores = cross_val_score(LinearSVM(max_epochs=20, random_state=0), Xtr, ytr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    assert clone(grid.best_estimator_).get_params()["softmaxclassifier__random_state"] == 0


def test_calibrated_svm_probabilities(digits_split):
    Xtr, ytr, _, _, Xte, _ = digits_split
    assert not hasattr(LinearSVM(), "predict_proba")
    cal = CalibratedClassifierCV(LinearSVM(max_epochs=20, random_state=0), cv=3).fit(Xtr, ytr)
    P = cal.predict_proba(Xte)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert np.mean(cal.classes_[P.argmax(1)] == cal.predict(Xte)) == 1.0


def test_dataframes_keep_their_feature_names(digits_split):
    pd = pytest.importorskip("pandas")
    Xtr, ytr = digits_split[:2]
    df = pd.DataFrame(Xtr, columns=[f"px{i}" for i in range(Xtr.shape[1])])
    m = LinearSVM(max_epochs=3, random_state=0).fit(df, pd.Series(ytr))
    assert list(m.feature_names_in_) == list(df.columns)
    np.testing.assert_array_equal(m.predict(df), m.predict(Xtr))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.predict(Xtr)  # fitted with names, asked without them
    with pytest.raises(ValueError, match="feature names"):
        m.predict(df.rename(columns={"px0": "other"}))


def test_weights_count_like_repeated_rows_full_batch(rng):
    X = rng.standard_normal((40, 5))
    y = rng.integers(3, size=40)
    w = rng.integers(0, 4, size=40)
    kw = dict(batch_size=None, max_epochs=50, tol=None, random_state=0)
    for cls in (LinearSVM, SoftmaxClassifier):
        a = cls(**kw).fit(X, y, sample_weight=w.astype(float))
        b = cls(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_class_weight(cls, rng):
    X = np.r_[rng.normal(-1, 1.5, (300, 2)), rng.normal(1, 1.5, (30, 2))]
    y = np.r_[np.zeros(300, int), np.ones(30, int)]
    plain = cls(random_state=0, max_epochs=200).fit(X, y)
    balanced = cls(random_state=0, max_epochs=200, class_weight="balanced").fit(X, y)
    heavy = cls(random_state=0, max_epochs=200, class_weight={1: 10.0}).fit(X, y)
    # weighting the rare class up makes the model predict it more often
    assert np.mean(balanced.predict(X) == 1) > np.mean(plain.predict(X) == 1)
    assert np.mean(heavy.predict(X) == 1) > np.mean(plain.predict(X) == 1)
    with pytest.raises(ValueError, match="not in the data"):
        cls(class_weight={7: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match="balanced"):
        cls(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="class_weight must be"):
        cls(class_weight="heavy").fit(X, y)


def test_without_intercept_the_bias_stays_zero(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(fit_intercept=False, max_epochs=10, random_state=0).fit(Xtr, ytr)
    assert np.all(m.intercept_ == 0) and m.score(Xtr, ytr) > 0.9


def test_partial_fit_keeps_the_optimizer_and_schedule(digits_split):
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(optimizer="momentum", lr_decay=0.5, random_state=0)
    m.partial_fit(Xtr, ytr, classes=np.arange(10))
    opt = m._optimizer
    velocity = opt.state[0].copy()
    m.partial_fit(Xtr, ytr)
    assert m._optimizer is opt and not np.array_equal(opt.state[0], velocity)
    assert m.history_["learning_rate"] == [m.learning_rate_, m.learning_rate_ * 0.5]


# -- independent checks that linclass optimizes the objective it claims to ----------------------


def small_problem():
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )


def test_softmax_finds_logistic_regressions_solution():
    """scikit-learn's LogisticRegression minimizes sum(loss) + ||W||^2 / (2C); divided by C*N
    that is linclass's mean loss + reg * ||W||^2 with reg = 1 / (2 C N), bias unpenalized in
    both. Full-batch gradient descent to convergence must land on the same weights."""
    from sklearn.linear_model import LogisticRegression

    X, y = small_problem()
    C = 1.0
    theirs = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    ours = SoftmaxClassifier(
        reg=1 / (2 * C * len(X)), batch_size=None, max_epochs=15000, tol=None, random_state=0
    ).fit(X, y)
    scale = np.abs(theirs.coef_).max()
    assert np.abs(ours.coef_ - theirs.coef_).max() / scale < 1e-4
    assert np.abs(ours.intercept_ - theirs.intercept_).max() / scale < 1e-4
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_lbfgs_finds_logistic_regressions_solution_in_few_iterations():
    """The same objective as above, by full-batch L-BFGS on linclass's own gradient: the
    weights agree ten times more closely, in a few dozen iterations instead of 15,000 steps."""
    from sklearn.linear_model import LogisticRegression

    X, y = small_problem()
    C = 1.0
    theirs = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    ours = SoftmaxClassifier(
        reg=1 / (2 * C * len(X)), solver="lbfgs", max_epochs=500, tol=None, random_state=0
    ).fit(X, y)
    scale = np.abs(theirs.coef_).max()
    assert np.abs(ours.coef_ - theirs.coef_).max() / scale < 1e-5
    assert np.abs(ours.intercept_ - theirs.intercept_).max() / scale < 1e-5
    assert ours.n_iter_ < 500  # stopped by scipy at the optimum, not by the cap


def test_crammer_singer_svm_is_no_worse_than_linearsvc():
    """LinearSVC(multi_class="crammer_singer") minimizes ||W||^2 / 2 + C sum(CS hinge); with
    reg = 1 / (2 C N) linclass minimizes the same objective divided by C N."""
    from functools import partial

    from sklearn.svm import LinearSVC

    from linclass.losses import multiclass_hinge
    from linclass.objective import loss_and_gradient

    X, y = small_problem()
    C = 1.0
    reg = 1 / (2 * C * len(X))
    theirs = LinearSVC(
        multi_class="crammer_singer", fit_intercept=False, C=C, tol=1e-10, max_iter=200000
    ).fit(X, y)
    ours = LinearSVM(
        loss_variant="crammer_singer",
        fit_intercept=False,
        reg=reg,
        batch_size=None,
        max_epochs=20000,
        tol=None,
        learning_rate=0.5,
        lr_decay=0.9995,
        random_state=0,
    ).fit(X, y)
    cs = partial(multiclass_hinge, variant="crammer_singer")
    ours_obj = loss_and_gradient(ours.coef_, None, X, y, cs, reg)[0]
    theirs_obj = loss_and_gradient(theirs.coef_, None, X, y, cs, reg)[0]
    assert ours_obj <= theirs_obj * (1 + 1e-4)
    assert abs(ours.score(X, y) - theirs.score(X, y)) <= 0.01


def test_the_bias_keeps_up_on_uncentred_data(rng):
    """Two clouds around (50, 50) and (60, 60): the boundary needs a large bias. With the
    "auto" step the bias takes a step sized for a feature and is learned in the default
    budget; at the weights' own step (an explicit learning rate) it barely moves."""
    X = np.r_[rng.normal(50, 3, (100, 2)), rng.normal(60, 3, (100, 2))]
    y = np.r_[np.zeros(100, int), np.ones(100, int)]
    m = SoftmaxClassifier(random_state=0).fit(X, y)
    assert m.intercept_step_ == pytest.approx(np.mean(np.sum(X**2, axis=1)) / 2)
    assert m.score(X, y) > 0.95
    same_step = SoftmaxClassifier(learning_rate=m.learning_rate_, random_state=0).fit(X, y)
    assert same_step.intercept_step_ == 1.0
    assert np.abs(same_step.intercept_).max() < 0.01 < np.abs(m.intercept_).max()
