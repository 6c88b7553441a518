"""The engine checks the algebra: graph-built losses against the hand-derived gradients."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linclass import lecture as hand
from linclass import losses
from linclass.gradcheck import relative_error
from linclass.graph import Node
from linclass.graph import losses as graph
from linclass.objective import loss_and_gradient

# Each entry is compared relative to max(|entry|, TINY * size of the terms it sums): dW sums
# dS * x with |dS| <= 1, db sums dS. A near-zero entry is a sum of cancelling terms (a bias
# gradient of 1e-12 from two terms of 0.5), and float64 rounding (1e-16 of the terms) is all
# either side can promise: there the check asks for agreement to 1e-15 of the terms.
TINY = 1e-5

problems = st.tuples(
    st.integers(1, 15),
    st.integers(1, 10),
    st.integers(2, 8),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.1, 3.0]),
    st.sampled_from([0.01, 1.0, 10.0]),
)


def make(N, D, C, seed, scale):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((C, D)),
        scale * rng.standard_normal((N, D)),
        rng.integers(C, size=N),
        rng.standard_normal(C),
    )


@given(problems)
def test_graph_losses_equal_the_hand_derived_ones(problem):
    N, D, C, seed, reg, scale = problem
    W, X, y, _ = make(N, D, C, seed, scale)
    for g_fn, h_fn in ((graph.svm_loss, hand.svm_loss), (graph.softmax_loss, hand.softmax_loss)):
        gl, gW = g_fn(W, X, y, reg)
        hl, hW = h_fn(W, X, y, reg)
        assert relative_error(gl, hl, tiny=1e-300) < 1e-10
        assert relative_error(gW, hW, tiny=TINY * np.abs(X).max()) < 1e-10


@given(problems)
def test_with_a_bias_against_the_training_objective(problem):
    N, D, C, seed, reg, scale = problem
    W, X, y, b = make(N, D, C, seed, scale)
    for build, loss_fn in (
        (graph.svm_loss_graph, losses.multiclass_hinge),
        (graph.softmax_loss_graph, losses.softmax_cross_entropy),
    ):
        Wn, bn = Node(W), Node(b)
        out = build(Wn, X, y, reg, b=bn)
        out.backward()
        loss, dW, db, _ = loss_and_gradient(W, b, X, y, loss_fn, reg)
        assert relative_error(float(out.value), loss, tiny=1e-300) < 1e-10
        assert relative_error(Wn.grad, dW, tiny=TINY * np.abs(X).max()) < 1e-10
        assert relative_error(bn.grad, db, tiny=TINY) < 1e-10


def test_float32_graph_losses_stay_float32():
    W, X, y, _ = make(20, 6, 4, 0, 1.0)
    for fn in (graph.svm_loss, graph.softmax_loss):
        _, dW = fn(W.astype(np.float32), X.astype(np.float32), y, 0.1)
        assert dW.dtype == np.float32


def test_graph_svm_margin_and_initial_losses(rng):
    W = 1e-4 * rng.standard_normal((10, 300))
    X = rng.standard_normal((200, 300))
    y = rng.integers(10, size=200)
    assert graph.svm_loss(W, X, y, 0.0)[0] == pytest.approx(9, abs=0.05)
    assert graph.softmax_loss(W, X, y, 0.0)[0] == pytest.approx(np.log(10), abs=0.01)
    out = graph.svm_loss_graph(Node(W), X, y, 0.0, margin=2.0)
    assert float(out.value) == pytest.approx(18, abs=0.1)
