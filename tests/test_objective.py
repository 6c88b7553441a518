import numpy as np
import pytest

from linclass.lecture import svm_loss
from linclass.losses import multiclass_hinge, softmax_cross_entropy
from linclass.objective import loss_and_gradient


@pytest.mark.parametrize("loss_fn", [multiclass_hinge, softmax_cross_entropy])
@pytest.mark.parametrize("block_rows", [1, 7, 64, 1000])
def test_blocks_give_the_whole_batch_result(loss_fn, block_rows, rng):
    W = rng.standard_normal((4, 9))
    b = rng.standard_normal(4)
    X = rng.standard_normal((100, 9))
    y = rng.integers(4, size=100)
    w = rng.random(100)
    for sw in (None, w):
        whole = loss_and_gradient(W, b, X, y, loss_fn, reg=0.3, sample_weight=sw, block_rows=100)
        blocked = loss_and_gradient(
            W, b, X, y, loss_fn, reg=0.3, sample_weight=sw, block_rows=block_rows
        )
        assert blocked[0] == pytest.approx(whole[0], rel=1e-12)
        np.testing.assert_allclose(blocked[1], whole[1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(blocked[2], whole[2], rtol=1e-10, atol=1e-12)
        assert blocked[3] == whole[3]


def test_matches_the_lecture_function_and_counts_correct(rng):
    W = rng.standard_normal((3, 5))
    X = rng.standard_normal((50, 5))
    y = rng.integers(3, size=50)
    loss, dW, db, n_correct = loss_and_gradient(W, None, X, y, multiclass_hinge, reg=0.2)
    ref_loss, ref_dW = svm_loss(W, X, y, 0.2)
    assert db is None
    assert loss == pytest.approx(ref_loss)
    np.testing.assert_allclose(dW, ref_dW)
    assert n_correct == np.sum(np.argmax(X @ W.T, axis=1) == y)


def test_zero_weight_blocks_and_empty_input(rng):
    W = rng.standard_normal((3, 5))
    X = rng.standard_normal((10, 5))
    y = rng.integers(3, size=10)
    w = np.r_[np.zeros(5), np.ones(5)]
    full = loss_and_gradient(W, None, X, y, softmax_cross_entropy, sample_weight=w, block_rows=5)
    only = loss_and_gradient(W, None, X[5:], y[5:], softmax_cross_entropy)
    assert full[0] == pytest.approx(only[0])
    np.testing.assert_allclose(full[1], only[1])
    with pytest.raises(ValueError, match="at least one sample"):
        loss_and_gradient(W, None, X[:0], y[:0], softmax_cross_entropy)


def test_float32_stays_float32(rng):
    W = rng.standard_normal((3, 5)).astype(np.float32)
    b = np.zeros(3, np.float32)
    X = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.integers(3, size=20)
    _, dW, db, _ = loss_and_gradient(W, b, X, y, softmax_cross_entropy, reg=0.1)
    assert dW.dtype == db.dtype == np.float32
