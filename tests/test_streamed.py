"""The streamed (on-disk) data source: the same weights as in memory, without holding X."""

import os
import threading

import numpy as np
import pytest

from linclass import LinearSVM, SoftmaxClassifier
from linclass.sources import DataChangedError, Streamed, is_on_disk


@pytest.fixture
def data(digits_split):
    Xtr, ytr = digits_split[:2]
    return np.tile(Xtr, (3, 1)).astype(np.float32), np.tile(np.asarray(ytr), 3)


def _on_disk(tmp_path, X, name="X.npy", kind="memmap"):
    np.save(tmp_path / name, X)
    if kind == "npyarray":
        from linclass.data.ondisk import NpyArray

        return NpyArray(tmp_path / name)
    return np.load(tmp_path / name, mmap_mode="r")


def _no_thread_left():
    return not [t for t in threading.enumerate() if t.name == "linclass-prefetch"]


SAME = [  # (classifier, parameters) whose streamed fit equals the in-memory one bit for bit
    (SoftmaxClassifier, dict(batch_size=None, max_epochs=4)),
    (SoftmaxClassifier, dict(solver="lbfgs", max_epochs=15)),
    (LinearSVM, dict(batch_size=None, max_epochs=3, loss_variant="crammer_singer")),
    (LinearSVM, dict(batch_size=50, shuffle=False, max_epochs=3)),
    (
        SoftmaxClassifier,
        dict(batch_size=64, shuffle=False, max_epochs=2, optimizer="adam", fit_intercept=False),
    ),
]


@pytest.mark.parametrize("cls,params", SAME)
@pytest.mark.parametrize(
    "dtype,kind", [(np.float32, "memmap"), (np.float64, "memmap"), (np.float32, "npyarray")]
)
def test_a_file_trains_to_the_in_memory_weights(cls, params, dtype, kind, data, tmp_path, kernel):
    X, y = data[0].astype(dtype), data[1]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    a = cls(random_state=0, **params).fit(X, y, sample_weight=w)
    b = cls(random_state=0, **params).fit(_on_disk(tmp_path, X, kind=kind), y, sample_weight=w)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert (a.learning_rate_, a.reg_) == (b.learning_rate_, b.reg_)
    assert b.n_features_in_ == X.shape[1] and _no_thread_left()
    np.testing.assert_array_equal(
        b.decision_function(_on_disk(tmp_path, X, "P.npy", kind)), b.decision_function(X)
    )


def test_a_zarr_array_trains_to_the_in_memory_weights(data, tmp_path):
    zarr = pytest.importorskip("zarr")
    X, y = data
    z = zarr.create_array(
        store=str(tmp_path / "X.zarr"), shape=X.shape, dtype="float32", chunks=(500, X.shape[1])
    )
    z[:] = X
    z = zarr.open_array(str(tmp_path / "X.zarr"), mode="r")
    assert is_on_disk(z)
    a = SoftmaxClassifier(solver="lbfgs", max_epochs=10).fit(X, y)
    b = SoftmaxClassifier(solver="lbfgs", max_epochs=10).fit(z, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_a_slice_of_a_memmap_reads_the_right_rows(data, tmp_path):
    X, y = data
    Xm = _on_disk(tmp_path, X)
    a = LinearSVM(batch_size=None, max_epochs=2, random_state=0).fit(X[100:900], y[100:900])
    b = LinearSVM(batch_size=None, max_epochs=2, random_state=0).fit(Xm[100:900], y[100:900])
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("shuffle", [True, "blocks"])
def test_shuffled_epochs_visit_every_row_once_with_its_label(shuffle, tmp_path):
    rng = np.random.default_rng(1)
    n = 1003
    y = rng.integers(0, 5, n)
    X = np.column_stack([np.arange(n), y, rng.standard_normal((n, 3))]).astype(np.float64)
    src = Streamed(
        _on_disk(tmp_path, X),
        y,
        sample_weight=np.arange(n) + 1.0,
        batch_size=10,
        shuffle=shuffle,
        rng=rng,
        block_rows=100,
    )
    orders = []
    for _ in range(2):
        rows = []
        for Xb, yb, wb in src.epoch():
            assert len(yb) <= 10
            np.testing.assert_array_equal(Xb[:, 1], yb)  # each row keeps its label
            np.testing.assert_array_equal(wb, Xb[:, 0] + 1)  # and its weight
            rows.append(Xb[:, 0].copy())
        order = np.concatenate(rows)
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # a new order every epoch
    inside = np.diff(orders[0][:100])
    assert np.all(inside == 1) == (shuffle == "blocks")  # rows shuffled inside a block, or not
    src.close()


@pytest.mark.parametrize("where", ["memory", "disk", "device"])
def test_a_source_asked_to_shuffle_without_an_rng_draws_one(where, tmp_path):
    # (every source once died on None.permutation here)
    from linclass.array_api import to_numpy
    from linclass.sources import for_data

    n = 300
    X = np.column_stack([np.arange(n), np.zeros(n)]).astype(np.float64)
    y = np.arange(n) % 3
    if where == "disk":
        X = _on_disk(tmp_path, X)
    elif where == "device":
        X = pytest.importorskip("array_api_strict").asarray(X)
    src = for_data(X, y, batch_size=10, shuffle=True, rng=None)
    order = np.concatenate([to_numpy(Xb)[:, 0] for Xb, _, _ in src.epoch()])
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    assert not np.array_equal(order, np.arange(n))
    src.close()


def _rss_of_mapping(path):
    """Resident kB of this process's mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")
def test_the_file_is_read_without_mapping_its_pages(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 500)).astype(np.float32)  # 8 MB
    y = rng.integers(0, 3, 4000)
    Xm = _on_disk(tmp_path, X)
    SoftmaxClassifier(batch_size=100, max_epochs=2).fit(Xm, y)
    resident = _rss_of_mapping((tmp_path / "X.npy").resolve())
    assert resident < 0.05 * X.nbytes / 1024, resident  # a read through the map holds it all
    np.asarray(Xm).sum()  # the check itself can fail: reading through the map does show
    assert _rss_of_mapping((tmp_path / "X.npy").resolve()) > 0.9 * X.nbytes / 1024


def test_a_truncated_file_is_a_clear_error_and_the_model_is_unchanged(data, tmp_path):
    X, y = data
    Xm = _on_disk(tmp_path, X)
    m = LinearSVM(max_epochs=2, random_state=0).fit(X, y)
    before = m.coef_.copy()
    with open(tmp_path / "X.npy", "r+b") as f:
        f.truncate(os.path.getsize(tmp_path / "X.npy") - 1000)
    m.set_params(warm_start=False)
    with pytest.raises(DataChangedError, match="shorter than its header"):
        m.fit(Xm, y)
    np.testing.assert_array_equal(m.coef_, before)


def test_a_file_changed_during_the_fit_stops_it(data, tmp_path):
    X, y = data
    Xm = _on_disk(tmp_path, X)

    def scribble(info):
        if info["event"] == "epoch" and info["epoch"] == 1:
            with open(tmp_path / "X.npy", "r+b") as f:
                f.seek(-4, os.SEEK_END)
                f.write(b"\0\0\0\0")
            os.utime(tmp_path / "X.npy", ns=(0, 0))

    m = LinearSVM(batch_size=None, max_epochs=5)
    with pytest.raises(DataChangedError, match="changed during the fit"):
        m.fit(Xm, y, callback=scribble)
    assert not hasattr(m, "coef_") and _no_thread_left()


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(learning_rate=1e-3, reg=0.1, batch_size=None),
        dict(learning_rate=1e-3, reg=0.1, batch_size=50),
    ],
)
def test_nan_in_the_file_names_the_rows(params, data, tmp_path):
    X, y = data
    X = X.copy()
    X[1234, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 rows .*\[1234\]"):
        LinearSVM(max_epochs=2, **params).fit(_on_disk(tmp_path, X), y)
    assert _no_thread_left()


def test_bad_on_disk_input_is_refused_clearly(data, tmp_path):
    X, y = data
    with pytest.raises(ValueError, match="float32 or float64"):
        LinearSVM().fit(_on_disk(tmp_path, X.astype(np.uint8)), y)
    with pytest.raises(ValueError, match="y must have shape"):
        LinearSVM().fit(_on_disk(tmp_path, X), y[:-1])
    with pytest.raises(ValueError, match="needs an eval_set"):
        LinearSVM(early_stopping=True).fit(_on_disk(tmp_path, X), y)
    with pytest.raises(ValueError, match="2-d"):
        LinearSVM().fit(_on_disk(tmp_path, X[:, 0].copy()), y)


def test_stopping_mid_epoch_lets_the_reader_go(data, tmp_path):
    X, y = data
    m = LinearSVM(batch_size=10, max_steps=7).fit(_on_disk(tmp_path, X), y)
    assert m.n_steps_ == 7 and _no_thread_left()

    def interrupt(info):
        if info["event"] == "step" and info["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LinearSVM(batch_size=10).fit(_on_disk(tmp_path, X, "X2.npy"), y, callback=interrupt)
    assert _no_thread_left()


@pytest.mark.parametrize("read", ["mmap", "pread"])
def test_both_ways_of_reading_give_the_in_memory_sums(read, data, tmp_path):
    from linclass.losses import Hinge
    from linclass.objective import loss_and_gradient

    X, y = data
    W = np.random.default_rng(0).standard_normal((10, X.shape[1])).astype(np.float32)
    b = np.zeros(10, np.float32)
    src = Streamed(_on_disk(tmp_path, X), y, read=read, block_rows=700)
    got = src.loss_and_gradient(W, b, Hinge(), 0.3)
    want = loss_and_gradient(W, b, X, y, Hinge(), 0.3, block_rows=700)  # the same blocks
    assert got[0] == want[0] and got[3] == want[3]
    np.testing.assert_array_equal(got[1], want[1])
    src.close()


@pytest.mark.parametrize("read", ["mmap", "pread"])
def test_a_file_cut_short_during_a_pass_is_a_clear_error(read, tmp_path):
    X = np.random.default_rng(0).standard_normal((4000, 100)).astype(np.float32)
    src = Streamed(_on_disk(tmp_path, X), np.zeros(4000, np.intp), read=read, block_rows=400)
    rows_read = 0
    with pytest.raises(DataChangedError, match="ended before rows"):  # noqa: PT012 - a pass
        for start, _stop, rows in src._read(src._blocks()):
            rows_read += len(rows)
            if start == 0:  # the reader is at most one block ahead: cut well past it
                with open(tmp_path / "X.npy", "r+b") as f:
                    f.truncate(128 + 2000 * 400)
    assert rows_read < 4000 and _no_thread_left()
    src.close()


def test_lbfgs_streams_full_batch_blocks_whatever_batch_size_says(tmp_path):
    """40 MB, so that the file is read in several blocks: L-BFGS (with batch_size at its
    default of 200) must sum them in the in-memory sub-blocks, not in blocks of batches."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 5000)
    X = (rng.standard_normal((5000, 2048)) + y[:, None] * 0.05).astype(np.float32)
    a = SoftmaxClassifier(solver="lbfgs", max_epochs=3, tol=None).fit(X, y)
    b = SoftmaxClassifier(solver="lbfgs", max_epochs=3, tol=None).fit(_on_disk(tmp_path, X), y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.history_["train_loss"] == b.history_["train_loss"]
