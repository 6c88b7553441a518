import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from linclass.gradcheck import directional_check, grad_check, numerical_gradient, relative_error
from linclass.lecture import (
    softmax_loss,
    softmax_loss_naive,
    softmax_loss_vectorized,
    svm_loss,
    svm_loss_naive,
    svm_loss_vectorized,
)
from linclass.losses import (
    log_softmax,
    multiclass_hinge,
    one_vs_all_hinge,
    softmax,
    softmax_cross_entropy,
)

# -- golden values from the lecture ------------------------------------------------------------

# The lecture's three images (cat, car, frog) scored for the classes (cat, car, frog).
LECTURE_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LECTURE_Y = np.array([0, 1, 2])


def test_lecture_hinge_losses():
    # cat: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9 + 0
    # car: max(0, 1.3-4.9+1) + max(0, 2.0-4.9+1) = 0 + 0
    # frog: max(0, 2.2+3.1+1) + max(0, 2.5+3.1+1) = 6.3 + 6.6 = 12.9
    for i, expected in enumerate([2.9, 0.0, 12.9]):
        loss, _ = multiclass_hinge(LECTURE_SCORES[i : i + 1], LECTURE_Y[i : i + 1])
        assert loss == pytest.approx(expected)
    loss, dS = multiclass_hinge(LECTURE_SCORES, LECTURE_Y)
    assert loss == pytest.approx((2.9 + 0 + 12.9) / 3)  # 5.27
    expected_dS = np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3
    np.testing.assert_allclose(dS, expected_dS)


def test_lecture_softmax_loss_of_the_cat():
    loss, dS = softmax_cross_entropy(LECTURE_SCORES[:1], LECTURE_Y[:1])
    e = np.exp([3.2, 5.1, -1.7])
    assert loss == pytest.approx(-math.log(e[0] / e.sum()))
    assert loss == pytest.approx(2.0404, abs=1e-4)  # the course's 2.04 (natural log)
    np.testing.assert_allclose(dS, [e / e.sum() - [1, 0, 0]])


# Three classes, three features, two images, worked by hand with the lecture's algorithm.
W_HAND = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [2.0, -1.0, 0.0]])
X_HAND = np.array(
    [
        [1.0, 2.0, 1.0],  # scores [0, 2, 0], y=0: margins 3 and 1, L=4
        [2.0, 1.0, 0.0],
    ]
)  # scores [2, 1, 3], y=1: margins 2 and 3, L=5
Y_HAND = np.array([0, 1])


@pytest.mark.parametrize("fn", [svm_loss_naive, svm_loss_vectorized, svm_loss])
def test_hand_computed_svm_loss_and_gradient(fn):
    loss, dW = fn(W_HAND, X_HAND, Y_HAND, reg=0.0)
    assert loss == pytest.approx(4.5)
    # dW[1] += x0, dW[2] += x0, dW[0] -= 2 x0; dW[0] += x1, dW[2] += x1, dW[1] -= 2 x1; / 2
    expected = np.array([[0.0, -1.5, -1.0], [-1.5, 0.0, 0.5], [1.5, 1.5, 0.5]])
    np.testing.assert_allclose(dW, expected)
    loss, dW_reg = fn(W_HAND, X_HAND, Y_HAND, reg=0.1)
    assert loss == pytest.approx(4.5 + 0.1 * 8)  # sum(W**2) = 8
    np.testing.assert_allclose(dW_reg, expected + 0.2 * W_HAND)


@pytest.mark.parametrize("C", [3, 10])
def test_initial_loss_sanity(C, rng):
    # Tiny weights make all scores ~0: each wrong class costs ~1 (SVM), every p ~ 1/C (softmax).
    W = 1e-4 * rng.standard_normal((C, 3073))
    X = rng.standard_normal((500, 3073))
    y = rng.integers(C, size=500)
    assert svm_loss(W, X, y, 0.0)[0] == pytest.approx(C - 1, abs=0.05)
    assert softmax_loss(W, X, y, 0.0)[0] == pytest.approx(math.log(C), abs=0.01)
    if C == 10:
        assert softmax_loss(W, X, y, 0.0)[0] == pytest.approx(2.3026, abs=0.01)


# -- variants ---------------------------------------------------------------------------------


def test_crammer_singer_keeps_only_the_worst_class():
    loss, dS = multiclass_hinge(LECTURE_SCORES, LECTURE_Y, variant="crammer_singer")
    assert loss == pytest.approx((2.9 + 0 + 6.6) / 3)
    np.testing.assert_allclose(dS, np.array([[-1, 1, 0], [0, 0, 0], [0, 1, -1]]) / 3)


def test_squared_hinge():
    loss, dS = multiclass_hinge(LECTURE_SCORES, LECTURE_Y, squared=True)
    assert loss == pytest.approx((2.9**2 + 0 + 6.3**2 + 6.6**2) / 3)
    np.testing.assert_allclose(dS[2], np.array([2 * 6.3, 2 * 6.6, -2 * (6.3 + 6.6)]) / 3)


def test_margin_argument():
    loss, _ = multiclass_hinge(LECTURE_SCORES[:1], LECTURE_Y[:1], margin=3.0)
    assert loss == pytest.approx((5.1 - 3.2 + 3) + max(0, -1.7 - 3.2 + 3))


def test_softmax_extreme_scores_are_finite():
    S = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    for dtype in (np.float32, np.float64):
        loss, dS = softmax_cross_entropy(S.astype(dtype), np.array([1, 0, 2]))
        assert np.isfinite(loss) and np.all(np.isfinite(dS))
        assert loss == pytest.approx((2e4 + math.log(3) + (2e4 + math.log(2))) / 3, rel=1e-6)
    p = softmax(S)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all(np.isfinite(log_softmax(S)))


@pytest.mark.parametrize(
    "bad",
    [
        (np.zeros((2, 3)), np.array([0, 3])),  # label out of range
        (np.zeros((2, 3)), np.array([0.0, 1.0])),  # float labels
        (np.zeros((2, 3)), np.array([0, 1, 2])),  # wrong length
        (np.zeros(3), np.array([0])),  # 1-d scores
    ],
)
def test_bad_labels_or_shapes_are_refused(bad):
    for fn in (multiclass_hinge, softmax_cross_entropy):
        with pytest.raises(ValueError, match="labels y must|scores S must"):
            fn(*bad)
    with pytest.raises(ValueError, match="variant"):
        multiclass_hinge(np.zeros((2, 3)), np.array([0, 1]), variant="ovr")


# -- naive vs vectorized, analytic vs numerical (property tests) ------------------------------

problems = st.tuples(
    st.integers(1, 12),  # N
    st.integers(1, 9),  # D
    st.integers(2, 7),  # C
    st.integers(0, 2**32 - 1),
    st.sampled_from([1e-3, 1.0, 30.0]),  # scale of the data
    st.sampled_from([0.0, 0.5]),  # reg
)


def make_problem(N, D, C, seed, scale):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((C, D))
    X = scale * rng.standard_normal((N, D))
    y = rng.integers(C, size=N)
    return W, X, y


@given(problems)
def test_naive_equals_vectorized_equals_the_training_path(problem):
    N, D, C, seed, scale, reg = problem
    W, X, y = make_problem(N, D, C, seed, scale)
    for naive, *fast in (
        (svm_loss_naive, svm_loss_vectorized, svm_loss),
        (softmax_loss_naive, softmax_loss_vectorized, softmax_loss),
    ):
        ln, gn = naive(W, X, y, reg)
        for f in fast:
            lv, gv = f(W, X, y, reg)
            assert relative_error(ln, lv, tiny=1e-300) < 1e-12
            # Floor: 1e-5 of the size of the summed terms (dS * x, |dS| <= 1). A gradient
            # entry of 1e-15 made of cancelling terms (p_y - 1 with p_y within 1e-15 of 1) is
            # float64 rounding on either side; the check there asks for agreement to 1e-15 of
            # the terms.
            assert relative_error(gn, gv, tiny=1e-5 * max(np.abs(X).max(), 1e-300) + reg) < 1e-10


def test_the_training_path_works_block_by_block(rng, monkeypatch):
    """svm_loss / softmax_loss go through the blocked objective: on an X of many blocks they
    equal the one-pass vectorized reference."""
    import linclass.objective as objective

    monkeypatch.setattr(objective, "_BLOCK_BYTES", 4096)  # 256 rows a block
    W = rng.standard_normal((5, 12))
    X = rng.standard_normal((1000, 12))
    y = rng.integers(0, 5, 1000)
    assert objective.default_block_rows(X) < len(X)
    for ref, fast in ((svm_loss_vectorized, svm_loss), (softmax_loss_vectorized, softmax_loss)):
        (l1, g1), (l2, g2) = ref(W, X, y, 0.3), fast(W, X, y, 0.3)
        assert l2 == pytest.approx(l1, rel=1e-12)
        np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-12)


def _margins(W, X, y):
    return _margins_of_scores(X @ W.T, y)


def _margins_of_scores(S, y):
    d = S - S[np.arange(len(y)), y][:, None] + 1
    d[np.arange(len(y)), y] = np.inf
    return d


def assert_close_to_numerical(f, W, dW, h=1e-5):
    """Analytic vs centred differences, to 1e-7 relative error in float64.

    Centred differences carry a rounding error of about eps * |f| / h in every entry, whatever
    its size. An entry far below that level divided by the 1e-7 target (where data terms
    cancel) cannot be resolved to 1e-7, so it is compared against that floor instead (or 1e-3
    of the largest entry, if larger); every other entry must agree to 1e-7 of itself.
    """
    num = numerical_gradient(f, W, h=h)
    rounding = 4 * np.finfo(np.float64).eps * max(abs(f(W)), 1.0) / h
    floor = max(rounding / 1e-7, 1e-3 * np.abs(num).max(), 1e-12)
    assert relative_error(dW, num, tiny=floor) < 1e-7
    assert directional_check(f, W, dW, h=h, tiny=floor) < 1e-7


@given(problems)
def test_softmax_analytic_vs_numerical(problem):
    N, D, C, seed, _scale, reg = problem
    # Unit-scale data: with tiny inputs the gradient itself is at the finite differences'
    # rounding level (~1e-11), and no relative error means anything there.
    W, X, y = make_problem(N, D, C, seed, 1.0)
    _, dW = softmax_loss(W, X, y, reg)
    assert_penalty_then_data_part(softmax_loss, W, X, y, reg, dW)


def assert_penalty_then_data_part(fn, W, X, y, reg, dW, h=1e-5):
    """The penalty's gradient exactly, then the data part against centred differences.

    Rounding in centred differences grows with |f| / h, and a penalty of reg * sum(W**2) on
    unit-scale W can make f 30 times the data loss; the penalty is quadratic, so its gradient
    is checked exactly instead and the numbers are asked only of the data loss.
    """
    _, dW0 = fn(W, X, y, 0.0)
    np.testing.assert_allclose(dW - dW0, 2 * reg * W, rtol=1e-12, atol=1e-13)
    assert_close_to_numerical(lambda w: fn(w, X, y, 0.0)[0], W, dW0, h=h)


@given(problems)
def test_svm_analytic_vs_numerical_away_from_kinks(problem):
    N, D, C, seed, _scale, reg = problem
    W, X, y = make_problem(N, D, C, seed, 1.0)
    gap = np.min(np.abs(_margins(W, X, y)))
    assume(gap > 1e-2)  # a kink within reach of the step breaks any check
    _, dW = svm_loss(W, X, y, reg)
    # Between kinks the SVM data loss is linear, where centred differences are exact for any
    # step: take the largest step that cannot reach a kink (a W entry moves a margin by at
    # most 2 h max|x|, in one probe or along the unit direction), so rounding stays small.
    h = 0.25 * gap / np.abs(X).max()
    assert_penalty_then_data_part(svm_loss, W, X, y, reg, dW, h=h)


@pytest.mark.parametrize(
    "variant,squared",
    [("crammer_singer", False), ("crammer_singer", True), ("weston_watkins", True)],
)
def test_hinge_variants_vs_numerical(variant, squared, rng):
    # A point away from every kink: no margin near 0 and no near-tie between the two worst
    # wrong classes (where Crammer-Singer's max switches).
    while True:
        S = rng.standard_normal((20, 5))
        y = rng.integers(5, size=20)
        d = np.sort(
            np.where(np.isinf(_margins_of_scores(S, y)), -np.inf, _margins_of_scores(S, y)), axis=1
        )
        if min(np.min(np.abs(d[:, 1:])), np.min(d[:, -1] - d[:, -2])) > 1e-2:
            break

    def f(s):
        return multiclass_hinge(s, y, variant=variant, squared=squared)[0]

    _, dS = multiclass_hinge(S, y, variant=variant, squared=squared)
    assert_close_to_numerical(f, S, dS)
    assert np.median(grad_check(f, S, dS, num_checks=30)) < 1e-7


scores_arrays = st.integers(1, 8).flatmap(
    lambda n: st.integers(2, 6).flatmap(
        lambda c: st.tuples(
            arrays(np.float64, (n, c), elements=st.floats(-1e4, 1e4)),
            arrays(np.int64, (n,), elements=st.integers(0, c - 1)),
        )
    )
)


@given(scores_arrays, st.floats(-100, 100))
def test_loss_properties_on_any_scores(data, shift):
    S, y = data
    for loss_fn in (multiclass_hinge, softmax_cross_entropy):
        loss, dS = loss_fn(S, y)
        assert np.isfinite(loss) and loss >= 0
        assert np.all(np.isfinite(dS))
        # Every class score moves against the true score: each row of dS sums to 0.
        np.testing.assert_allclose(dS.sum(axis=1), 0, atol=1e-9)
        # Only score differences matter: adding a constant to a row changes nothing.
        loss2, dS2 = loss_fn(S + shift, y)
        assert loss2 == pytest.approx(loss, rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(dS2, dS, atol=1e-6)


@given(scores_arrays, st.integers(0, 2**32 - 1))
def test_sample_weight_equals_repeating_rows(data, seed):
    S, y = data
    reps = np.random.default_rng(seed).integers(0, 4, size=len(y))
    assume(reps.sum() > 0)
    for loss_fn in (multiclass_hinge, softmax_cross_entropy):
        lw, dw = loss_fn(S, y, sample_weight=reps.astype(float))
        lr, dr = loss_fn(np.repeat(S, reps, axis=0), np.repeat(y, reps))
        assert lw == pytest.approx(lr, rel=1e-9, abs=1e-9)
        # The repeated rows' gradients, summed back onto their original row.
        summed = np.zeros_like(S)
        np.add.at(summed, np.repeat(np.arange(len(y)), reps), dr)
        np.testing.assert_allclose(dw, summed, atol=1e-9)


def test_float32_in_float32_out(rng):
    S = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(4, size=6)
    for loss_fn in (multiclass_hinge, softmax_cross_entropy):
        _, dS = loss_fn(S, y)
        assert dS.dtype == np.float32


# -- PyTorch as an independent oracle ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_against_pytorch(seed):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    N, C = 17, 6
    S = rng.standard_normal((N, C)) * 3
    y = rng.integers(C, size=N)
    for variant_p, squared in ((1, False), (2, True)):
        St = torch.tensor(S, requires_grad=True)
        # PyTorch divides each sample's hinge sum by C; linclass does not.
        out = F.multi_margin_loss(St, torch.tensor(y), p=variant_p, margin=1.0) * C
        out.backward()
        loss, dS = multiclass_hinge(S, y, squared=squared)
        assert loss == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(dS, St.grad.numpy(), rtol=1e-10, atol=1e-14)
    St = torch.tensor(S, requires_grad=True)
    out = F.cross_entropy(St, torch.tensor(y))
    out.backward()
    loss, dS = softmax_cross_entropy(S, y)
    assert loss == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(dS, St.grad.numpy(), rtol=1e-10, atol=1e-14)
    # Crammer-Singer written out in torch: max over the wrong classes of the margin, hinged.
    St = torch.tensor(S, requires_grad=True)
    m = St - St[torch.arange(N), torch.tensor(y)][:, None] + 1
    m = m.masked_fill(torch.nn.functional.one_hot(torch.tensor(y), C).bool(), -float("inf"))
    out = torch.clamp(m.max(dim=1).values, min=0).mean()
    out.backward()
    loss, dS = multiclass_hinge(S, y, variant="crammer_singer")
    assert loss == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(dS, St.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_weight_level_functions_against_pytorch(rng):
    torch = pytest.importorskip("torch")
    W = rng.standard_normal((5, 8))
    X = rng.standard_normal((30, 8))
    y = rng.integers(5, size=30)
    reg = 0.3
    for fn, torch_loss in (
        (svm_loss, lambda s, t: torch.nn.functional.multi_margin_loss(s, t) * 5),
        (softmax_loss, torch.nn.functional.cross_entropy),
    ):
        Wt = torch.tensor(W, requires_grad=True)
        out = torch_loss(torch.tensor(X) @ Wt.T, torch.tensor(y)) + reg * (Wt**2).sum()
        out.backward()
        loss, dW = fn(W, X, y, reg)
        assert loss == pytest.approx(out.item(), rel=1e-12)
        np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-10, atol=1e-13)


# -- the one-vs-all hinge (the playground's fourth loss) -----------------------------------------


def _one_vs_all_naive(S, y, margin=1.0, squared=False):
    total, dS = 0.0, np.zeros_like(S)
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            t = 1.0 if j == y[i] else -1.0
            h = margin - t * S[i, j]
            if h > 0:
                total += h * h if squared else h
                dS[i, j] -= t * (2 * h if squared else 1.0)
    n = S.shape[0]
    return total / n, dS / n


def test_one_vs_all_hinge_lecture_scores():
    # cat: 0 + (1 + 5.1) + 0; car: (1 + 1.3) + 0 + (1 + 2.0); frog: 3.2 + 3.5 + 4.1
    loss, dS = one_vs_all_hinge(LECTURE_SCORES, LECTURE_Y)
    assert loss == pytest.approx((6.1 + 5.3 + 10.8) / 3)
    np.testing.assert_allclose(dS, np.array([[0, 1, 0], [1, 0, 1], [1, 1, -1]]) / 3)


@pytest.mark.parametrize("squared", [False, True])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    c=st.integers(2, 5),
    margin=st.floats(0.1, 3.0),
)
def test_one_vs_all_hinge_matches_loops_and_numerical_gradient(squared, seed, n, c, margin):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n, c)) * 2
    y = rng.integers(0, c, n)
    loss, dS = one_vs_all_hinge(S, y, margin, squared)
    want_loss, want_dS = _one_vs_all_naive(S, y, margin, squared)
    assert loss == pytest.approx(want_loss)
    np.testing.assert_allclose(dS, want_dS, atol=1e-12)
    # away from the kinks, the centred difference agrees
    assume(np.all(np.abs(margin - np.where(np.arange(c) == y[:, None], 1, -1) * S) > 1e-3))
    num = numerical_gradient(lambda s: one_vs_all_hinge(s, y, margin, squared)[0], S.copy())
    np.testing.assert_allclose(dS, num, atol=1e-6)


def test_one_vs_all_hinge_weights_and_dtype():
    S = LECTURE_SCORES.astype(np.float32)
    loss, dS = one_vs_all_hinge(S, LECTURE_Y, sample_weight=np.array([1.0, 0.0, 0.0]))
    assert loss == pytest.approx(6.1)
    assert dS.dtype == np.float32
    np.testing.assert_allclose(dS, [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="labels y must be integers"):
        one_vs_all_hinge(S, np.array([0, 1, 3]))


# -- reduction="none": each sample's own loss and gradient -----------------------------------------

PER_SAMPLE_LOSSES = {
    "weston_watkins": lambda S, y, **k: multiclass_hinge(S, y, 1.5, **k),
    "weston_watkins_squared": lambda S, y, **k: multiclass_hinge(S, y, squared=True, **k),
    "crammer_singer": lambda S, y, **k: multiclass_hinge(S, y, variant="crammer_singer", **k),
    "crammer_singer_squared": lambda S, y, **k: multiclass_hinge(
        S, y, variant="crammer_singer", squared=True, **k
    ),
    "one_vs_all": lambda S, y, **k: one_vs_all_hinge(S, y, 0.5, **k),
    "one_vs_all_squared": lambda S, y, **k: one_vs_all_hinge(S, y, squared=True, **k),
    "softmax": softmax_cross_entropy,
}


@pytest.mark.parametrize("name", PER_SAMPLE_LOSSES)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 7), c=st.integers(2, 5))
def test_reduction_none_is_each_sample_on_its_own(name, seed, n, c):
    fn = PER_SAMPLE_LOSSES[name]
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n, c)) * 3
    y = rng.integers(0, c, n)
    losses, dS = fn(S, y, reduction="none")
    assert losses.shape == (n,)
    for i in range(n):
        want, want_dS = fn(S[i : i + 1], y[i : i + 1])
        assert losses[i] == pytest.approx(want, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(dS[i], want_dS[0], atol=1e-12)
    mean, mean_dS = fn(S, y)
    assert mean == pytest.approx(losses.mean())
    np.testing.assert_allclose(mean_dS, dS / n, atol=1e-12)


def test_reduction_must_be_mean_or_none():
    for fn in (multiclass_hinge, one_vs_all_hinge, softmax_cross_entropy):
        with pytest.raises(ValueError, match="reduction must be 'mean' or 'none'"):
            fn(LECTURE_SCORES, LECTURE_Y, reduction="sum")
