"""Prepared data sets on disk: `linclass prepare`, open_prepared, and training on them."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_linclass

from linclass.data import DataFileError, MeanImage, load_digits, train_val_test_split
from linclass.data.ondisk import augment, open_prepared, prepare


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    ds.name = "digits"
    return ds


def test_prepare_writes_the_split_preprocessed_and_shuffled(digits, tmp_path):
    meta = prepare(digits, tmp_path / "d", seed=3)
    sp = train_val_test_split(digits, random_state=3)
    pre = MeanImage().fit(sp.X_train)
    data = open_prepared(tmp_path / "d")
    assert data.X_train.dtype == np.float32 and data.X_train.shape == (1258, 64)
    np.testing.assert_array_equal(data.pre.mean_, pre.mean_)
    np.testing.assert_array_equal(np.asarray(data.X_val), pre.transform(sp.X_val))
    np.testing.assert_array_equal(data.y_test, sp.y_test)
    # The training rows are those of the split, each once, in a new random order, labels along.
    got, want = np.asarray(data.X_train), pre.transform(sp.X_train)
    order = np.lexsort(got.T)
    np.testing.assert_array_equal(got[order], want[np.lexsort(want.T)])
    np.testing.assert_array_equal(data.y_train[order], sp.y_train[np.lexsort(want.T)])
    assert not np.array_equal(got, want)
    assert meta["rows"] == {"train": len(sp.y_train), "val": len(sp.y_val), "test": len(sp.y_test)}
    assert json.loads((tmp_path / "d" / "meta.json").read_text())["image_shape"] == [8, 8]


def test_augment_flips_and_shifts_with_the_edge_repeated():
    img = np.arange(12).reshape(1, 3, 4)
    np.testing.assert_array_equal(augment(img, (True, 0, 0))[0], img[0, :, ::-1])
    shifted = augment(img, (False, 0, 2))[0]  # content moves 2 px right, left edge repeated
    np.testing.assert_array_equal(shifted[:, 2:], img[0, :, :2])
    np.testing.assert_array_equal(shifted[:, 0], img[0, :, 0])
    down = augment(img, (False, -2, 0))[0]  # content moves 2 px up
    np.testing.assert_array_equal(down[0], img[0, 2])
    rgb = np.arange(2 * 3 * 4 * 3).reshape(2, 3, 4, 3)
    assert augment(rgb, (True, 2, -2)).shape == rgb.shape


def test_repeat_writes_augmented_copies_of_the_training_images_only(digits, tmp_path):
    prepare(digits, tmp_path / "d", repeat=2)
    data = open_prepared(tmp_path / "d")
    sp = train_val_test_split(digits, random_state=0)
    assert len(data.y_train) == 2 * len(sp.y_train) and len(data.y_val) == len(sp.y_val)
    pre = data.pre
    flipped = pre.transform(augment(sp.X_train.reshape(-1, 8, 8), (True, 0, 0)).reshape(-1, 64))
    rows = {r.tobytes() for r in np.asarray(data.X_train)}
    assert all(r.tobytes() in rows for r in flipped)
    assert np.bincount(data.y_train).tolist() == (2 * np.bincount(sp.y_train)).tolist()


def test_zarr_format(digits, tmp_path):
    pytest.importorskip("zarr")
    prepare(digits, tmp_path / "z", fmt="zarr")
    data = open_prepared(tmp_path / "z")
    assert type(data.X_train).__module__.startswith("zarr")
    npy = open_prepared(Path(prepare(digits, tmp_path / "n") and tmp_path / "n"))
    np.testing.assert_array_equal(np.asarray(data.X_train[:]), np.asarray(npy.X_train))


def test_prepare_never_leaves_a_half_written_folder(digits, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="already exists"):
        prepare(digits, tmp_path / "d")
    assert (tmp_path / "d" / "mine.txt").read_text() == "keep me"

    def interrupt(part, done, total):
        if part == "val":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(digits, tmp_path / "e", progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_damaged_prepared_folders_are_clear_errors(digits, tmp_path):
    with pytest.raises(DataFileError, match="no meta.json"):
        open_prepared(tmp_path)
    prepare(digits, tmp_path / "d")
    train = tmp_path / "d" / "train.npy"
    with open(train, "r+b") as f:
        f.truncate(os.path.getsize(train) // 2)
    with pytest.raises(DataFileError, match="train.npy is shorter than its header says"):
        open_prepared(tmp_path / "d")
    prepare(digits, tmp_path / "e")
    np.save(tmp_path / "e" / "val_y.npy", np.zeros(3, np.int64))
    with pytest.raises(DataFileError, match="val part"):
        open_prepared(tmp_path / "e")
    prepare(digits, tmp_path / "f")
    np.save(tmp_path / "f" / "test.npy", np.zeros((359, 64), np.float64))
    with pytest.raises(DataFileError, match="test part is .* float64"):
        open_prepared(tmp_path / "f")
    (tmp_path / "e" / "meta.json").write_text("{not json")
    with pytest.raises(DataFileError, match="meta.json is damaged"):
        open_prepared(tmp_path / "e")


def test_prepare_then_train_evaluate_plot_from_the_command_line(tmp_path):
    r = run_linclass("prepare", "digits", "--out", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert "train on it with: linclass train --dataset npy:" in r.stdout
    r = run_linclass("train", "--dataset", f"npy:{tmp_path / 'd'}", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.94 and metrics["n_train"] == 1258
    r = run_linclass("evaluate", str(tmp_path / "run" / "model.npz"))
    assert r.returncode == 0 and f"accuracy {metrics['test_accuracy']:.4f}" in r.stdout, r.stderr
    r = run_linclass("plot", str(tmp_path / "run" / "model.npz"), "--out", str(tmp_path / "pics"))
    assert r.returncode == 0 and (tmp_path / "pics" / "misclassified.png").exists(), r.stderr
    for bad, message in (
        (["--dataset", f"zarr:{tmp_path / 'd'}"], "holds npy arrays"),
        (["--dataset", f"npy:{tmp_path / 'd'}", "--dev", "100"], "--dev"),
        (["--dataset", f"npy:{tmp_path}"], "no meta.json"),
    ):
        r = run_linclass("train", *bad, "--out", str(tmp_path / "bad"))
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr
    r = run_linclass("prepare", "digits", "--out", str(tmp_path / "d"))
    assert r.returncode == 1 and "already exists" in r.stderr


def test_npy_array_reads_rows_by_pread(tmp_path):
    from linclass.data.ondisk import NpyArray

    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "x.npy", X)
    A = NpyArray(tmp_path / "x.npy")
    assert (A.shape, A.dtype, A.ndim, len(A)) == ((20, 3), np.float32, 2, 20)
    np.testing.assert_array_equal(A[5:9], X[5:9])
    np.testing.assert_array_equal(A[-1], X[-1])
    np.testing.assert_array_equal(np.asarray(A), X)
    assert A[30:40].shape == (0, 3)
    with pytest.raises(IndexError):
        A[20]
    with pytest.raises(TypeError, match="reads rows"):
        A[::2]
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((4, 3))))
    with pytest.raises(DataFileError, match="Fortran"):
        NpyArray(tmp_path / "f.npy")
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file at all")
    with pytest.raises(DataFileError, match="not a .npy file"):
        NpyArray(tmp_path / "junk.npy")


@pytest.mark.parametrize("kind", ["npy", "memory", "zarr"])
def test_dask_rows_chunks_any_array_into_the_same_rows(kind, tmp_path):
    pytest.importorskip("dask")
    from linclass.data.ondisk import NpyArray, dask_rows

    X = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    if kind == "npy":
        np.save(tmp_path / "X.npy", X)
        given = NpyArray(tmp_path / "X.npy")
    elif kind == "zarr":
        zarr = pytest.importorskip("zarr")
        given = zarr.open_array(str(tmp_path / "X.zarr"), mode="w", shape=X.shape, dtype=X.dtype)
        given[:] = X
    else:
        given = X
    D = dask_rows(given, chunk_rows=7)
    assert D.chunks == ((7,) * 7 + (1,), (3,)) and D.dtype == np.float32
    np.testing.assert_array_equal(D.compute(), X)
    # by default: about chunk_bytes a chunk, and at least one chunk per worker
    assert dask_rows(given, workers=4).chunks[0] == (13, 13, 13, 11)
    assert dask_rows(given, chunk_bytes=120).chunks[0][0] == 10
