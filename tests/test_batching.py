"""Minibatch order: every row once per epoch, contiguous where it can be, X never changed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linclass import LinearSVM, SoftmaxClassifier
from linclass.batching import BatchReader, epoch_windows, permute_rows_


def rows_of(windows, n):
    out = []
    for a, b in windows:
        out += [i % n for i in range(a, b)]
    return out


@given(n=st.integers(1, 300), B=st.integers(1, 320), seed=st.integers(0, 2**32 - 1))
def test_an_epoch_visits_every_row_exactly_once(n, B, seed):
    windows = epoch_windows(n, B, np.random.default_rng(seed))
    assert sorted(rows_of(windows, n)) == list(range(n))
    assert len(windows) == -(-n // B)
    assert all(0 <= a < n and a < b <= a + B for a, b in windows)


def test_windows_change_between_epochs_and_are_in_order_without_rng():
    rng = np.random.default_rng(0)
    first, second = epoch_windows(1000, 100, rng), epoch_windows(1000, 100, rng)
    assert first != second
    assert epoch_windows(1000, 300) == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert epoch_windows(50, 200, rng) == [(0, 50)]


@given(perm_seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_permute_rows_in_place_equals_fancy_indexing(perm_seed, n):
    rng = np.random.default_rng(perm_seed)
    X = rng.standard_normal((n, 3))
    perm = rng.permutation(n)
    expected = X[perm]
    out = permute_rows_(X, perm)
    assert out is X
    np.testing.assert_array_equal(X, expected)


def collect(reader, epochs=2):
    return [
        [(Xb.copy(), yb.copy(), None if wb is None else wb.copy()) for Xb, yb, wb in reader.epoch()]
        for _ in range(epochs)
    ]


@pytest.mark.parametrize("shuffle", [True, False, "blocks"])
def test_batches_keep_rows_labels_and_weights_together(shuffle, rng):
    n = 103
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 4))
    y = np.arange(n)
    w = np.arange(n) + 0.5
    reader = BatchReader(X, y, w, 10, shuffle, np.random.default_rng(1))
    for epoch in collect(reader):
        seen = []
        for Xb, yb, wb in epoch:
            assert len(yb) <= 10
            np.testing.assert_array_equal(Xb[:, 0], yb)
            np.testing.assert_array_equal(wb, yb + 0.5)
            seen += yb.tolist()
        assert sorted(seen) == list(range(n))


def test_an_owned_copy_is_permuted_in_place_and_gives_the_same_batches(rng):
    X = rng.standard_normal((57, 5))
    y = rng.integers(0, 3, 57)
    gathered = BatchReader(X, y, None, 8, True, np.random.default_rng(3), owns_X=False)
    mine = X.copy()
    in_place = BatchReader(mine, y, None, 8, True, np.random.default_rng(3), owns_X=True)
    assert gathered.order is not None and in_place.order is None
    for ea, eb in zip(collect(gathered, 3), collect(in_place, 3)):
        for (Xa, ya, _), (Xb, yb, _) in zip(ea, eb):
            np.testing.assert_array_equal(Xa, Xb)
            np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(mine, X)  # the copy was reordered; X was not touched


def test_blocks_take_slices_of_X_itself(rng):
    X = rng.standard_normal((100, 3))
    reader = BatchReader(X, np.zeros(100, int), None, 25, "blocks", np.random.default_rng(0))
    shared = [np.shares_memory(Xb, X) for Xb, _, _ in reader.epoch()]
    assert sum(shared) >= len(shared) - 1  # only the window that wraps round is a copy


def test_a_full_batch_is_X_itself(rng):
    X = rng.standard_normal((30, 3))
    reader = BatchReader(X, np.zeros(30, int), None, 500, True, np.random.default_rng(0))
    [(Xb, _, _)] = list(reader.epoch())
    assert Xb is X


@pytest.mark.parametrize("cls", [LinearSVM, SoftmaxClassifier])
def test_fit_never_changes_the_callers_X(cls, rng):
    X = rng.standard_normal((300, 8)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    before = X.copy()
    cls(random_state=0, max_epochs=3, batch_size=32).fit(X, y)
    np.testing.assert_array_equal(X, before)


def test_a_converted_copy_and_the_callers_array_train_the_same_model(rng):
    """The list is converted into a copy that fit reorders in place; the float64 array is
    the caller's, so fit gathers its batches: the batches, and so the weights, are the same."""
    X = rng.standard_normal((300, 8))
    y = rng.integers(0, 3, 300)
    a = LinearSVM(random_state=0, max_epochs=3, batch_size=32).fit(X, y)
    b = LinearSVM(random_state=0, max_epochs=3, batch_size=32).fit(X.tolist(), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shuffle", [True, False, "blocks"])
def test_every_shuffle_mode_learns_digits(shuffle, digits_split):
    Xtr, ytr, _, _, Xte, yte = digits_split
    m = SoftmaxClassifier(random_state=0, shuffle=shuffle).fit(Xtr, ytr)
    assert m.score(Xte, yte) > 0.94


def test_shuffle_false_is_deterministic_without_a_seed(digits_split):
    Xtr, ytr = digits_split[:2]
    a = LinearSVM(shuffle=False, random_state=0, max_epochs=2).fit(Xtr, ytr)
    b = LinearSVM(shuffle=False, random_state=0, max_epochs=2).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_a_bad_shuffle_is_named():
    with pytest.raises(ValueError, match='shuffle must be True, False or "blocks"'):
        LinearSVM(shuffle="rows").fit(np.eye(3), [0, 1, 1])
