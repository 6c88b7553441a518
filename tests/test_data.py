import numpy as np
import pytest

from linclass.data import (
    Dataset,
    MeanImage,
    dev_subset,
    load_dataset,
    load_digits,
    train_val_test_split,
)


def test_load_digits():
    ds = load_digits()
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.uint8
    assert ds.X.max() == 16
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.image_shape == (8, 8) and ds.name == "digits"
    assert ds.labels()[:3].tolist() == [0, 1, 2]  # the type the data set gave them


def test_load_dataset_by_name():
    assert load_dataset("digits").X.shape == (1797, 64)
    with pytest.raises(ValueError, match="unknown data set 'imagenet'.*digits"):
        load_dataset("imagenet")


def test_split_is_stratified_disjoint_and_seeded():
    ds = load_digits()
    a = train_val_test_split(ds, val_size=0.1, test_size=0.2, random_state=0)
    b = train_val_test_split(ds, val_size=0.1, test_size=0.2, random_state=0)
    c = train_val_test_split(ds, val_size=0.1, test_size=0.2, random_state=1)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    assert len(a.y_test) == 359 and len(a.y_val) == 180
    # stratified: each split's class proportions match the whole set's within a sample or two
    whole = np.bincount(ds.y) / len(ds.y)
    for part in (a.y_train, a.y_val, a.y_test):
        assert np.abs(np.bincount(part, minlength=10) - whole * len(part)).max() <= 1.5
    # disjoint: no image row (with its label) in two splits (digits has no duplicates)
    rows = {r.tobytes() for r in a.X_train}
    assert not any(r.tobytes() in rows for r in a.X_test)


def test_split_keeps_an_official_test_split():
    X = np.arange(200, dtype=np.uint8).reshape(100, 2)
    y = np.arange(100) % 2
    ds = Dataset(
        X=X, y=y, class_names=["a", "b"], image_shape=(2,), name="t", X_test=X[:10], y_test=y[:10]
    )
    sp = train_val_test_split(ds, val_size=20, random_state=0)
    assert len(sp.y_test) == 10 and len(sp.y_val) == 20 and len(sp.y_train) == 80
    with pytest.raises(ValueError, match="val_size"):
        train_val_test_split(ds, val_size=1.5)


@pytest.mark.parametrize("standardize", [False, True])
def test_mean_image_is_fitted_on_train_only(standardize, rng):
    Xtr = rng.integers(0, 256, size=(50, 6), dtype=np.uint8)
    Xte = rng.integers(0, 256, size=(20, 6), dtype=np.uint8)
    before = Xtr.copy()
    pre = MeanImage(standardize=standardize).fit(Xtr)
    Z = pre.transform(Xtr)
    assert Z.dtype == np.float32
    np.testing.assert_array_equal(Xtr, before)  # uint8 input untouched
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(pre.mean_, Xtr.mean(axis=0), rtol=1e-6)
    Zte = pre.transform(Xte)
    expected = Xte - Xtr.mean(axis=0)
    if standardize:
        expected = expected / Xtr.std(axis=0)
        np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-4)
    np.testing.assert_allclose(Zte, expected, rtol=1e-5, atol=1e-4)


def test_constant_pixels_do_not_divide_by_zero():
    X = np.zeros((5, 3), np.uint8)
    X[:, 0] = np.arange(5)
    Z = MeanImage(standardize=True).fit_transform(X)
    assert np.all(np.isfinite(Z))


def test_dev_subset_is_small_stratified_and_seeded():
    ds = load_digits()
    X, y = dev_subset(ds.X, ds.y, size=200, random_state=1)
    assert X.shape == (200, 64) and np.bincount(y).min() >= 19
    X2, _ = dev_subset(ds.X, ds.y, size=200, random_state=1)
    np.testing.assert_array_equal(X, X2)
    assert dev_subset(ds.X, ds.y, size=0.1)[0].shape[0] == 180
    assert dev_subset(ds.X, ds.y, size=len(ds.y))[0] is ds.X


def test_the_loaders_and_the_record_do_not_import_each_other():
    """The Dataset record imports no loader (load_dataset, which picks one, lives in the
    package's face), so loaders and record form no cycle."""
    import ast
    from pathlib import Path

    import linclass.data

    here = Path(linclass.data.__file__).parent
    tree = ast.parse((here / "dataset.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"cifar10", "digits", "folder", "mnist", "downloads"}, imported
    assert linclass.data.load_dataset.__module__ == "linclass.data"
