"""The array API path (issue 13, part 2), on the CPU: array-api-strict (which refuses every
implicit conversion to numpy, so a fit that pulled X to the host would fail) and PyTorch CPU
tensors. The objective equals the numpy reference; a fit under scikit-learn's
``array_api_dispatch`` lands where the numpy fit does, with its weights in X's namespace; the
rules of that convention (no dispatch: numpy; another namespace at predict: a clear error)."""

import numpy as np
import pytest
import sklearn
from conftest import builtin_losses

from linclass import LinearSVM, SoftmaxClassifier, array_api, load
from linclass.losses import SoftmaxCrossEntropy
from linclass.objective import loss_and_gradient

xps = pytest.importorskip("array_api_strict")

LOSSES, NAMES = builtin_losses()


def _namespaces():
    spaces = [pytest.param(xps, id="array-api-strict")]
    try:
        import torch

        spaces.append(pytest.param(torch, id="torch"))
    except ImportError:
        spaces.append(
            pytest.param(
                None, id="torch", marks=pytest.mark.skip(reason="PyTorch is not installed")
            )
        )
    return spaces


NAMESPACES = _namespaces()


def _as(xp, a):
    return xp.asarray(np.ascontiguousarray(a))


@pytest.fixture
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("weighted,bias", [(False, True), (True, True), (True, False)])
def test_the_objective_equals_the_numpy_reference(xp, loss, dtype, tol, weighted, bias):
    rng = np.random.default_rng(7)
    n, d, c = 300, 17, 5
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    W = (0.3 * rng.standard_normal((c, d))).astype(dtype)
    b = (0.3 * rng.standard_normal(c)).astype(dtype) if bias else None
    w = rng.uniform(0, 2, n).astype(dtype) if weighted else None
    if weighted:
        w[::4] = 0
    ref = loss_and_gradient(W, b, X, y, loss, 0.2, w)
    got = array_api.loss_and_gradient(
        _as(xp, W),
        None if b is None else _as(xp, b),
        _as(xp, X),
        _as(xp, y),
        loss,
        0.2,
        None if w is None else _as(xp, w),
    )
    assert array_api.namespace(got[1]) is array_api.namespace(_as(xp, X))
    assert got[0] == pytest.approx(ref[0], rel=tol)
    assert got[3] == ref[3]
    dW = array_api.to_numpy(got[1])
    assert dW.dtype == dtype
    np.testing.assert_allclose(dW, ref[1], rtol=tol, atol=tol * np.abs(ref[1]).max())
    if bias:
        np.testing.assert_allclose(
            array_api.to_numpy(got[2]), ref[2], rtol=tol, atol=tol * np.abs(ref[2]).max()
        )
    else:
        assert got[2] is None


FITS = [
    (LinearSVM, dict(max_epochs=4)),
    (LinearSVM, dict(max_epochs=3, shuffle=True, loss_variant="crammer_singer")),
    (LinearSVM, dict(batch_size=None, max_epochs=5, fit_intercept=False, squared=True)),
    (SoftmaxClassifier, dict(max_epochs=3, optimizer="adam")),
    (SoftmaxClassifier, dict(max_epochs=3, optimizer="nesterov", class_weight="balanced")),
    (SoftmaxClassifier, dict(solver="lbfgs", max_epochs=15)),
    (SoftmaxClassifier, dict(max_epochs=6, early_stopping=True, n_iter_no_change=2)),
]


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("cls,params", FITS)
def test_a_fit_on_the_device_lands_where_the_numpy_fit_does(
    xp, cls, params, digits_split, dispatch
):
    X, y = digits_split[0].astype(np.float32), np.asarray(digits_split[1])
    w = np.random.default_rng(0).uniform(0.5, 2, len(y)).astype(np.float32)
    with sklearn.config_context(array_api_dispatch=False):
        ref = cls(random_state=0, **params).fit(X, y, sample_weight=w)
    Xd = _as(xp, X)
    got = cls(random_state=0, **params).fit(Xd, _as(xp, y), sample_weight=_as(xp, w))
    for name in ("coef_", "intercept_"):
        a = getattr(got, name)
        assert array_api.namespace(a) is array_api.namespace(Xd), name
        np.testing.assert_allclose(
            array_api.to_numpy(a),
            getattr(ref, name),
            rtol=1e-4,
            atol=1e-4 * np.abs(getattr(ref, name)).max(),
        )
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.history_["train_loss"], ref.history_["train_loss"], rtol=1e-4)
    pred = got.predict(Xd)
    assert array_api.namespace(pred) is array_api.namespace(Xd)
    np.testing.assert_array_equal(array_api.to_numpy(pred), ref.predict(X))
    assert isinstance(got.score(Xd, _as(xp, y)), float)
    if cls is SoftmaxClassifier:
        P = array_api.to_numpy(got.predict_proba(Xd))
        np.testing.assert_allclose(P, ref.predict_proba(X), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(
            np.exp(array_api.to_numpy(got.predict_log_proba(Xd))), P, rtol=1e-5
        )


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_only_a_few_sampled_rows_ever_reach_the_host(cls, dispatch, monkeypatch):
    """With np.asarray refused (as on a GPU), X could only reach numpy through
    array_api.to_numpy: it is called for the automatic step's sample of 2,048 rows, never for
    X whole (5,000 rows here, so that the sample is not all of it)."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((5000, 16)).astype(np.float32)
    y = np.argmax(X @ rng.standard_normal((16, 4)), axis=1)
    seen = []
    to_numpy = array_api.to_numpy
    monkeypatch.setattr(
        array_api, "to_numpy", lambda a: seen.append(getattr(a, "shape", None)) or to_numpy(a)
    )

    def refused(self, *args, **kwargs):
        raise RuntimeError("no implicit copy to the host")

    monkeypatch.setattr(type(_as(xps, X)), "__array__", refused)
    with pytest.raises(RuntimeError):
        np.asarray(_as(xps, X))
    cls(random_state=0, max_epochs=3).fit(_as(xps, X), _as(xps, y))
    rows = [s[0] for s in seen if s is not None and len(s) == 2 and s[1] == X.shape[1]]
    assert max(rows, default=0) <= 2048, rows  # nothing bigger than the sample went
    assert bool(rows) == (cls is SoftmaxClassifier)  # the Softmax's step samples the rows


def test_string_labels_come_back_on_the_host(digits_split, dispatch):
    X, y = digits_split[0].astype(np.float32), np.asarray(digits_split[1])
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )[y]
    clf = LinearSVM(random_state=0, max_epochs=3).fit(_as(xps, X), names)
    pred = clf.predict(_as(xps, X[:20]))
    assert isinstance(pred, np.ndarray) and pred.dtype.kind == "U"


def test_without_dispatch_a_tensor_is_trained_as_numpy(digits_split):
    torch = pytest.importorskip("torch")
    X, y = digits_split[0].astype(np.float32), digits_split[1]
    clf = LinearSVM(random_state=0, max_epochs=2).fit(torch.asarray(X), torch.asarray(y))
    ref = LinearSVM(random_state=0, max_epochs=2).fit(X, y)
    assert isinstance(clf.coef_, np.ndarray)  # (scikit-learn's conversion makes it float64)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-4, atol=1e-6)


def test_another_namespace_at_predict_is_a_clear_error(digits_split, dispatch):
    X, y = digits_split[0].astype(np.float32), digits_split[1]
    clf = LinearSVM(random_state=0, max_epochs=2).fit(_as(xps, X), _as(xps, y))
    with pytest.raises(ValueError, match=r"LinearSVM.predict\(\) must use the same namespace"):
        clf.predict(X)
    numpy_fit = LinearSVM(random_state=0, max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="fitted on numpy"):
        numpy_fit.decision_function(_as(xps, X))


def test_a_model_fitted_on_the_device_saves_and_loads(digits_split, dispatch, tmp_path):
    X, y = digits_split[0].astype(np.float32), digits_split[1]
    clf = SoftmaxClassifier(random_state=0, max_epochs=2).fit(_as(xps, X), _as(xps, y))
    clf.save(tmp_path / "m.npz")
    with sklearn.config_context(array_api_dispatch=False):
        back = load(tmp_path / "m.npz")
        np.testing.assert_array_equal(back.coef_, array_api.to_numpy(clf.coef_))
        np.testing.assert_array_equal(back.predict(X), array_api.to_numpy(clf.predict(_as(xps, X))))


def test_bad_values_on_the_device_are_named(dispatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    X[[3, 77]] = np.nan
    with pytest.raises(ValueError, match="NaN|infinity"):
        LinearSVM(max_epochs=2).fit(_as(xps, X), _as(xps, rng.integers(0, 3, 300)))


def test_partial_fit_stays_on_the_device(digits_split, dispatch):
    X, y = digits_split[0].astype(np.float32), digits_split[1]
    clf = SoftmaxClassifier(random_state=0)
    clf.partial_fit(_as(xps, X), _as(xps, y), classes=np.arange(10))
    clf.partial_fit(_as(xps, X), _as(xps, y))
    assert "array_api_strict" in array_api.namespace(clf.coef_).__name__
    with pytest.raises(ValueError, match="same namespace"):
        clf.partial_fit(X, y)


def test_the_gpu_benchmark_runs_on_the_cpu_and_writes_nothing():
    """benchmarks/bench_gpu.py, for the day a GPU is lent: its code runs (on PyTorch CPU
    tensors), it says when there is no GPU, and a check run leaves RESULTS.md alone."""
    import os
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    bench = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_gpu.py")
    results = os.path.join(os.path.dirname(bench), "RESULTS.md")
    before = os.stat(results).st_mtime_ns
    if not torch.cuda.is_available():
        r = subprocess.run(
            [sys.executable, bench, "--quick"], capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 1 and "no CUDA device" in r.stderr
    r = subprocess.run(
        [sys.executable, bench, "--device", "cpu", "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "full-batch loss + gradient, linclass" in r.stdout and "PyTorch loop" in r.stdout
    assert os.stat(results).st_mtime_ns == before


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0
def test_the_device_source_names_the_rows_that_make_the_loss_not_finite():
    # the source's own check, reached when a loss comes back NaN (a fit checks X before)
    from linclass.sources.device import OnDevice

    X = np.random.default_rng(0).standard_normal((40, 3))
    X[[3, 27]] = np.inf
    src = OnDevice(xps.asarray(X), np.arange(40) % 2, batch_size=None, shuffle=False)
    W, b = xps.asarray(np.zeros((2, 3))), xps.asarray(np.zeros(2))
    with pytest.raises(
        ValueError, match=r"NaN or infinite values in 2 rows \(the first: \[3, 27\]\)"
    ):
        src.loss_and_gradient(W, b, SoftmaxCrossEntropy(), 0.0)
    # the full batch is X itself, on the device, not a copy
    (batch,) = list(src.epoch())
    assert batch[0] is src.X and batch[2] is None
