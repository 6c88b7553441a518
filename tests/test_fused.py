"""The fused kernel (issue 13, first part) against the numpy objective, the reference: every
supported loss and dtype, random and edge shapes, sample weights, a bias or none; the same bits
for any number of threads; and what it does not take, said."""

import numpy as np
import pytest
from conftest import builtin_losses

pytest.importorskip("numba")

from linclass import fused
from linclass.losses import Hinge, SoftmaxCrossEntropy
from linclass.objective import loss_and_gradient

LOSSES, NAMES = builtin_losses()
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _problem(rng, n, d, c, dtype, weighted, bias=True):
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    W = (0.1 * rng.standard_normal((c, d))).astype(dtype)
    b = (0.1 * rng.standard_normal(c)).astype(dtype) if bias else None
    w = rng.uniform(0, 2, n) if weighted else None
    if weighted and n > 2:
        w[::3] = 0.0  # rows of zero weight
    return X, y, W, b, w


def _close(got, ref, dtype):
    rel = TOL[dtype]
    assert got[0] == pytest.approx(ref[0], rel=rel, abs=rel)
    assert got[3] == ref[3]
    scale = max(1.0, float(np.abs(ref[1]).max()))
    assert np.abs(got[1] - ref[1]).max() <= rel * scale
    if ref[2] is None:
        assert got[2] is None
    else:
        assert np.abs(got[2] - ref[2]).max() <= rel * max(1.0, float(np.abs(ref[2]).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
@pytest.mark.parametrize(
    "n,d,c", [(1, 1, 2), (1, 7, 3), (5, 13, 10), (300, 65, 10), (1000, 257, 4), (2100, 33, 2)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_the_kernel_equals_the_reference(dtype, loss, n, d, c, weighted):
    rng = np.random.default_rng(n * 1000 + d)
    X, y, W, b, w = _problem(rng, n, d, c, dtype, weighted)
    ref = loss_and_gradient(W, b, X, y, loss, 0.3, w)
    got = fused.loss_and_gradient(W, b, X, y, loss, 0.3, w)
    assert got[1].dtype == dtype and got[1].shape == W.shape
    _close(got, ref, dtype)


@pytest.mark.parametrize("loss", LOSSES[::3], ids=NAMES[::3])
def test_without_a_bias(loss):
    rng = np.random.default_rng(3)
    X, y, W, _, _ = _problem(rng, 400, 50, 5, np.float64, False, bias=False)
    _close(
        fused.loss_and_gradient(W, None, X, y, loss, 0.0),
        loss_and_gradient(W, None, X, y, loss, 0.0),
        np.float64,
    )


def test_the_same_bits_for_any_number_of_threads():
    rng = np.random.default_rng(5)
    X, y, W, b, w = _problem(rng, 9_000, 64, 10, np.float32, True)
    runs = [
        loss_and_gradient(
            W, b, X, y, SoftmaxCrossEntropy(), 0.1, w, block_rows=700, workers=k, kernel="fused"
        )
        for k in (1, 2, 3)
    ]
    for other in runs[1:]:
        assert other[0] == runs[0][0] and other[3] == runs[0][3]
        assert np.array_equal(other[1], runs[0][1]) and np.array_equal(other[2], runs[0][2])
    _close(runs[0], loss_and_gradient(W, b, X, y, SoftmaxCrossEntropy(), 0.1, w), np.float32)


def test_the_callers_arrays_are_not_written():
    rng = np.random.default_rng(7)
    X, y, W, b, w = _problem(rng, 600, 20, 4, np.float32, True)
    copies = [a.copy() for a in (X, y, W, b, w)]
    fused.loss_and_gradient(W, b, X, y, Hinge(), 1.0, w)
    for a, c in zip((X, y, W, b, w), copies):
        assert np.array_equal(a, c)


def test_what_it_does_not_take_stays_on_the_numpy_path():
    import scipy.sparse as sp

    X = np.ones((4, 3), np.float32)
    assert all(fused.supports(X, loss) for loss in LOSSES)
    assert fused.supports(np.asfortranarray(np.ones((4, 3))), Hinge())  # copied per block
    assert not fused.supports(X, lambda S, y, sample_weight=None: (0.0, S))  # any other loss
    assert not fused.supports(X.astype(np.float16), Hinge())
    assert not fused.supports(sp.csr_matrix(X), Hinge())
    with pytest.raises(ValueError, match="use linclass.objective"):
        fused.loss_and_gradient(
            np.zeros((2, 3), np.float32), None, X.astype(np.float16), np.zeros(4, int), Hinge()
        )


@pytest.mark.parametrize("bad", ["label", "shape", "weights", "bias", "empty"])
def test_bad_shapes_and_labels_are_refused_before_the_kernel_runs(bad):
    rng = np.random.default_rng(9)
    X, y, W, b, w = _problem(rng, 50, 8, 3, np.float32, True)
    if bad == "label":
        y[7] = 3  # one past the last class: the kernel would read past W
    elif bad == "shape":
        W = W[:, :5]
    elif bad == "weights":
        w = w[:10]
    elif bad == "bias":
        b = b[:2]
    else:
        X, y, w = X[:0], y[:0], w[:0]
    with pytest.raises(ValueError, match="labels must be|shapes do not fit"):
        fused.loss_and_gradient(W, b, X, y, Hinge(), 0.0, w)


# -- where the kernel runs: the choice, the fallbacks, the layouts --------------------------------


def test_the_choice_follows_size_dtype_loss_and_the_environment(monkeypatch):
    import scipy.sparse as sp

    from linclass.errors import UsageError

    monkeypatch.delenv(fused.ENV, raising=False)
    big = np.empty((2048, fused.MIN_ELEMENTS // 2048), np.float32)
    small = np.empty((100, 64))
    assert fused.choose(big, Hinge()) == "fused"
    assert fused.choose(big.astype(np.float64), SoftmaxCrossEntropy()) == "fused"
    assert fused.choose(small, Hinge()) == "numpy"  # too small to repay the compiler
    assert fused.choose(big.astype(np.float16), Hinge()) == "numpy"
    assert fused.choose(sp.random(3000, 3000, format="csr"), Hinge()) == "numpy"
    assert fused.choose(big, lambda S, y, sample_weight=None: (0.0, S)) == "numpy"
    monkeypatch.setenv(fused.ENV, "numpy")
    assert fused.choose(big, Hinge()) == "numpy"
    monkeypatch.setenv(fused.ENV, "fused")
    assert fused.choose(small, Hinge()) == "fused"
    assert fused.choose(sp.csr_matrix(small), Hinge()) == "numpy"  # never: it takes dense X
    monkeypatch.setenv(fused.ENV, "fast")
    with pytest.raises(UsageError, match="LINCLASS_KERNEL must be auto, numpy or fused"):
        fused.choose(big, Hinge())


def test_without_numba_it_says_so_once_and_numpy_runs(monkeypatch, recwarn):
    from linclass import LinearSVM

    monkeypatch.setattr(fused, "_kernels", False)
    monkeypatch.setattr(fused, "_failure", ImportError("No module named 'numba'"))
    monkeypatch.setattr(fused, "_said", False)
    monkeypatch.setenv(fused.ENV, "fused")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 6)), rng.integers(0, 3, 200)
    with pytest.warns(fused.FusedKernelWarning, match="numba is not installed"):
        assert fused.choose(X, Hinge()) == "numpy"
    LinearSVM(max_epochs=2, random_state=0).fit(X, y)  # trains, on numpy
    assert not [w for w in recwarn if issubclass(w.category, fused.FusedKernelWarning)]
    assert not fused.available()


def test_a_kernel_that_fails_to_compile_is_said_once_and_numpy_runs(monkeypatch):
    class TypingError(Exception):
        pass

    TypingError.__module__ = "numba.core.errors"

    def broken(*args):
        raise TypingError("Failed in nopython mode pipeline")

    monkeypatch.setattr(fused, "_kernels", fused._load())  # restored after the test
    monkeypatch.setattr(fused, "_failure", None)
    monkeypatch.setattr(fused, "_said", False)
    rng = np.random.default_rng(2)
    X, y, W, b, w = _problem(rng, 3000, 20, 4, np.float64, True)
    step = fused.Step(W, b, Hinge())
    monkeypatch.setattr(
        fused.Step,
        "__init__",
        lambda self, *a: (step.__dict__.update(_rows=broken), self.__dict__.update(step.__dict__))[
            0
        ],
    )
    with pytest.warns(fused.FusedKernelWarning, match="failed to compile"):
        got = loss_and_gradient(W, b, X, y, Hinge(), 0.1, w, block_rows=500, kernel="fused")
    ref = loss_and_gradient(W, b, X, y, Hinge(), 0.1, w, block_rows=500)
    assert got[0] == ref[0] and np.array_equal(got[1], ref[1])
    assert fused.choose(X, Hinge()) == "numpy"  # and it stays out


@pytest.mark.parametrize("batch_size", [None, 64], ids=["full-batch", "minibatch"])
def test_a_fit_whose_kernel_fails_to_compile_says_so_and_trains_on_numpy(batch_size, monkeypatch):
    from linclass import LinearSVM

    class TypingError(Exception):
        pass

    TypingError.__module__ = "numba.core.errors"

    def broken(*args):
        raise TypingError("Failed in nopython mode pipeline")

    kernels = fused._load()
    monkeypatch.setattr(fused, "_kernels", kernels)  # all three restored after the test
    monkeypatch.setattr(fused, "_failure", None)
    monkeypatch.setattr(fused, "_said", False)
    monkeypatch.setattr(kernels, "rows", broken)
    rng = np.random.default_rng(12)
    X, y = rng.standard_normal((600, 10)), rng.integers(0, 3, 600)
    monkeypatch.setenv(fused.ENV, "fused")
    with pytest.warns(fused.FusedKernelWarning, match="failed to compile"):
        got = LinearSVM(batch_size=batch_size, max_epochs=3, random_state=0).fit(X, y)
    monkeypatch.setenv(fused.ENV, "numpy")
    ref = LinearSVM(batch_size=batch_size, max_epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(got.coef_, ref.coef_)


@pytest.mark.parametrize(
    "layout", ["fortran", "strided-rows", "strided-columns", "read-only", "memmap"]
)
def test_every_layout_gives_the_contiguous_result_and_is_not_written(layout, tmp_path):
    rng = np.random.default_rng(11)
    X, y, W, b, w = _problem(rng, 1500, 40, 6, np.float32, True)
    ref = loss_and_gradient(W, b, X, y, Hinge(), 0.2, w, block_rows=400, kernel="fused")
    if layout == "fortran":
        Xl = np.asfortranarray(X)
    elif layout == "strided-rows":
        Xl = np.repeat(X, 2, axis=0)[::2]
    elif layout == "strided-columns":
        Xl = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "read-only":
        Xl = X.copy()
        Xl.flags.writeable = False
    else:
        np.save(tmp_path / "X.npy", X)
        Xl = np.load(tmp_path / "X.npy", mmap_mode="r")
    before = np.array(Xl)
    got = loss_and_gradient(W, b, Xl, y, Hinge(), 0.2, w, block_rows=400, kernel="fused")
    assert got[0] == ref[0] and got[3] == ref[3]
    assert np.array_equal(got[1], ref[1]) and np.array_equal(got[2], ref[2])
    assert np.array_equal(np.asarray(Xl), before)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7])
@pytest.mark.parametrize("c", [1, 2, 3])
def test_row_and_class_counts_off_the_tile(n, c):
    """Rows not a multiple of the 4-row tile, an odd class count (and one class column)."""
    rng = np.random.default_rng(n * 10 + c)
    X, y, W, b, w = _problem(rng, n, 13, c, np.float64, True)
    for loss in LOSSES:
        _close(
            fused.loss_and_gradient(W, b, X, y, loss, 0.1, w),
            loss_and_gradient(W, b, X, y, loss, 0.1, w),
            np.float64,
        )


# -- training through the kernel ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        dict(batch_size=None, max_epochs=4),
        dict(batch_size=64, max_epochs=3),
        dict(solver="lbfgs", max_epochs=10, squared=True),
    ],
    ids=["full-batch", "minibatch", "lbfgs"],
)
@pytest.mark.parametrize("cls", ["LinearSVM", "SoftmaxClassifier"])
def test_a_fit_runs_on_the_kernel_and_lands_where_numpy_does(
    cls, params, digits_split, monkeypatch
):
    import linclass

    X, y = digits_split[0].astype(np.float64), digits_split[1]
    calls = []
    sums = fused.Step.sums
    monkeypatch.setattr(fused.Step, "sums", lambda *a: calls.append(1) or sums(*a))
    if cls == "SoftmaxClassifier":
        params = {k: v for k, v in params.items() if k != "squared"}
    fits = {}
    for kernel in ("numpy", "fused"):
        monkeypatch.setenv(fused.ENV, kernel)
        calls.clear()
        fits[kernel] = getattr(linclass, cls)(random_state=0, **params).fit(X, y)
        assert bool(calls) == (kernel == "fused")
    a, b = fits["numpy"].coef_, fits["fused"].coef_
    assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()


def test_a_minibatch_step_allocates_its_gradient_once():
    rng = np.random.default_rng(4)
    X, y, W, b, _ = _problem(rng, 400, 30, 5, np.float32, False)
    step = fused.Step(W, b, SoftmaxCrossEntropy())
    first = step.loss_and_gradient(W, b, X[:200], y[:200], 0.1)
    dW, db = first[1], first[2]
    ref = loss_and_gradient(W, b, X[200:], y[200:], SoftmaxCrossEntropy(), 0.1)
    again = step.loss_and_gradient(W, b, X[200:], y[200:], 0.1)
    assert again[1] is dW and again[2] is db  # the same buffers, refilled
    _close(again, ref, np.float32)


@pytest.mark.parametrize("kind", ["int", "float16", "nan", "inf"])
def test_bad_and_odd_input_is_checked_as_on_the_numpy_path(kind, monkeypatch):
    """int and float16 X become float64 before the kernel sees them, NaN and inf are refused
    with the same error, whichever kernel would run."""
    from linclass import LinearSVM

    rng = np.random.default_rng(8)
    X = rng.integers(-5, 5, (400, 12))
    y = rng.integers(0, 3, 400)
    if kind == "float16":
        X = X.astype(np.float16)
    elif kind in ("nan", "inf"):
        X = X.astype(np.float64)
        X[17, 3] = np.nan if kind == "nan" else np.inf
    outcomes = {}
    for kernel in ("numpy", "fused"):
        monkeypatch.setenv(fused.ENV, kernel)
        try:
            outcomes[kernel] = LinearSVM(max_epochs=3, random_state=0).fit(X, y).coef_
        except ValueError as e:
            outcomes[kernel] = str(e)
    if kind in ("nan", "inf"):
        assert isinstance(outcomes["numpy"], str) and outcomes["fused"] == outcomes["numpy"]
    else:
        assert outcomes["fused"].dtype == np.float64
        np.testing.assert_allclose(outcomes["fused"], outcomes["numpy"], rtol=1e-9, atol=1e-12)
