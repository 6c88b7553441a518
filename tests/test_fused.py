"""The fused kernel (issue 13, first part) against the numpy objective, the reference: every
supported loss and dtype, random and edge shapes, sample weights, a bias or none; the same bits
for any number of threads; and what it does not take, said."""

import numpy as np
import pytest

pytest.importorskip("numba")

from linclass import fused  # noqa: E402
from linclass.losses import Hinge, SoftmaxCrossEntropy  # noqa: E402
from linclass.objective import loss_and_gradient  # noqa: E402

LOSSES = [Hinge(), Hinge(margin=0.5), Hinge(squared=True), Hinge(variant="crammer_singer"),
          Hinge(variant="crammer_singer", squared=True), SoftmaxCrossEntropy()]
NAMES = ["hinge", "hinge-margin-0.5", "hinge-squared", "crammer-singer",
         "crammer-singer-squared", "softmax"]
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
@pytest.mark.parametrize("n,d,c", [(1, 1, 2), (1, 7, 3), (5, 13, 10), (300, 65, 10),
                                   (1000, 257, 4), (2100, 33, 2)])
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
    _close(fused.loss_and_gradient(W, None, X, y, loss, 0.0),
           loss_and_gradient(W, None, X, y, loss, 0.0), np.float64)


def test_the_same_bits_for_any_number_of_threads():
    import numba

    rng = np.random.default_rng(5)
    X, y, W, b, w = _problem(rng, 40_000, 64, 10, np.float32, True)
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            runs.append(fused.loss_and_gradient(W, b, X, y, SoftmaxCrossEntropy(), 0.1, w))
    finally:
        numba.set_num_threads(before)
    for other in runs[1:]:
        assert other[0] == runs[0][0] and other[3] == runs[0][3]
        assert np.array_equal(other[1], runs[0][1]) and np.array_equal(other[2], runs[0][2])


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
    assert not fused.supports(np.asfortranarray(np.ones((4, 3))), Hinge())
    assert not fused.supports(X, lambda S, y, sample_weight=None: (0.0, S))  # any other loss
    assert not fused.supports(X.astype(np.float16), Hinge())
    assert not fused.supports(sp.csr_matrix(X), Hinge())
    with pytest.raises(ValueError, match="use linclass.objective"):
        fused.loss_and_gradient(np.zeros((2, 3), np.float32), None, X.astype(np.float16),
                                np.zeros(4, int), Hinge())


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

