import numpy as np
import pytest
import scipy.sparse as sp

from linclass.gradcheck import numerical_gradient, relative_error
from linclass.scores import scores, scores_backward


def test_scores_is_xwt_plus_b(rng):
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    X = rng.standard_normal((5, 4))
    S = scores(W, b, X)
    assert S.shape == (5, 3)
    for i in range(5):
        for k in range(3):
            assert S[i, k] == pytest.approx(sum(X[i, d] * W[k, d] for d in range(4)) + b[k])


def test_scores_without_bias_and_bias_trick_agree(rng):
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    X = rng.standard_normal((5, 4))
    X1 = np.hstack([X, np.ones((5, 1))])
    W1 = np.hstack([W, b[:, None]])
    np.testing.assert_allclose(scores(W1, None, X1), scores(W, b, X))


def test_backward_matches_numerical(rng):
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    X = rng.standard_normal((5, 4))
    G = rng.standard_normal((5, 3))  # upstream gradient of f = sum(G * S)
    dW, db, dX = scores_backward(G, X, W, need_dX=True)
    assert relative_error(dW, numerical_gradient(lambda w: np.sum(G * scores(w, b, X)), W)) < 1e-8
    assert relative_error(db, numerical_gradient(lambda c: np.sum(G * scores(W, c, X)), b)) < 1e-8
    assert relative_error(dX, numerical_gradient(lambda x: np.sum(G * scores(W, b, x)), X)) < 1e-8


def test_backward_without_bias_and_dX_needs_W(rng):
    dW, db = scores_backward(np.ones((2, 3)), np.ones((2, 4)), need_bias=False)
    assert db is None and dW.shape == (3, 4)
    with pytest.raises(ValueError, match="needs W"):
        scores_backward(np.ones((2, 3)), np.ones((2, 4)), need_dX=True)


def test_float32_stays_float32(rng):
    W = rng.standard_normal((3, 4)).astype(np.float32)
    b = np.zeros(3, np.float32)
    X = rng.standard_normal((5, 4)).astype(np.float32)
    S = scores(W, b, X)
    dW, db = scores_backward(S, X)
    assert S.dtype == dW.dtype == db.dtype == np.float32


def test_sparse_X_gives_the_dense_result(rng):
    W = rng.standard_normal((3, 6))
    X = rng.standard_normal((5, 6)) * (rng.random((5, 6)) < 0.3)
    G = rng.standard_normal((5, 3))
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        np.testing.assert_allclose(scores(W, None, fmt(X)), scores(W, None, X))
        np.testing.assert_allclose(scores_backward(G, fmt(X))[0], scores_backward(G, X)[0])
