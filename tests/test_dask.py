"""Training on dask arrays: the same weights as in memory, on threads and on a LocalCluster,
through a worker's death; predictions come back as dask arrays."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import run_linclass

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from linclass import LinearSVM, SoftmaxClassifier  # noqa: E402
from linclass.sources.dask import ClusterError  # noqa: E402


@pytest.fixture(scope="module")
def data():
    from linclass.data import MeanImage, load_digits, train_val_test_split

    sp = train_val_test_split(load_digits(), random_state=0)
    pre = MeanImage().fit(sp.X_train)
    return pre.transform(sp.X_train), sp.y_train, pre.transform(sp.X_val), sp.y_val


def _close(a, b, rtol):
    scale = np.abs(a.coef_).max()
    assert np.abs(a.coef_ - b.coef_).max() <= rtol * scale
    assert np.abs(a.intercept_ - b.intercept_).max() <= rtol * max(1.0, np.abs(a.intercept_).max())


SAME = [  # float32 data, except where the parameters say float64
    (SoftmaxClassifier, dict(batch_size=None, max_epochs=5), 1e-5),
    (SoftmaxClassifier, dict(solver="lbfgs", max_epochs=25, dtype=np.float64), 1e-5),
    (LinearSVM, dict(batch_size=None, max_epochs=4, loss_variant="crammer_singer"), 1e-5),
    (LinearSVM, dict(batch_size=None, max_epochs=4, fit_intercept=False, optimizer="adam"), 1e-5),
]


@pytest.mark.parametrize("cls,params,rtol", SAME)
def test_threaded_dask_trains_to_the_in_memory_weights(cls, params, rtol, data, kernel):
    params = dict(params)
    X, y = data[0].astype(params.pop("dtype", np.float32)), data[1]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    a = cls(random_state=0, **params).fit(X, y, sample_weight=w)
    b = cls(random_state=0, **params).fit(da.from_array(X, chunks=(300, 64)), y, sample_weight=w)
    _close(a, b, rtol)
    assert (a.learning_rate_, a.reg_) == (b.learning_rate_, b.reg_)  # the same auto settings
    np.testing.assert_allclose(a.history_["train_loss"], b.history_["train_loss"], rtol=1e-5)


def test_float32_lbfgs_reaches_the_in_memory_optimum(data):
    """In float32 the gradient's rounding (1e-7, summed in another order than in memory) grows
    along the L-BFGS iterations to about 1e-4 in W: the weights are not equal to 1e-5, but the
    objective they reach is, and so are the predictions."""
    X, y = data[:2]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    a = SoftmaxClassifier(solver="lbfgs", max_epochs=25).fit(X, y, sample_weight=w)
    b = SoftmaxClassifier(solver="lbfgs", max_epochs=25).fit(
        da.from_array(X, chunks=(300, 64)), y, sample_weight=w
    )
    assert b.history_["train_loss"][-1] == pytest.approx(a.history_["train_loss"][-1], rel=1e-5)
    assert np.mean(a.predict(X) == b.predict(X)) >= 0.999


def test_predictions_on_a_dask_array_are_dask_arrays(data):
    X, y, Xv, yv = data
    Xd = da.from_array(X, chunks=(250, 64))
    m = SoftmaxClassifier(batch_size=None, max_epochs=20, random_state=0).fit(
        Xd, da.from_array(y, chunks=100), eval_set=(da.from_array(Xv, chunks=90), yv)
    )
    for method in ("predict", "decision_function", "predict_proba", "predict_log_proba"):
        lazy = getattr(m, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(m, method)(X), rtol=1e-5, atol=1e-6)
    assert m.score(Xd, y) == m.score(X, y) > 0.9
    assert len(m.history_["val_accuracy"]) == 20
    assert m.history_["val_accuracy"][-1] == pytest.approx(m.score(Xv, yv))


def test_labels_missing_from_some_chunks_and_column_chunks(data):
    X, y = data[:2]
    order = np.argsort(y, kind="stable")  # each chunk of 100 rows holds one or two classes
    Xs, ys = X[order], y[order]
    a = LinearSVM(batch_size=None, max_epochs=5, random_state=0).fit(Xs, ys)
    b = LinearSVM(batch_size=None, max_epochs=5, random_state=0).fit(
        da.from_array(Xs, chunks=(100, 16)), ys
    )
    _close(a, b, 1e-5)


def test_local_sgd_trains_and_takes_plain_sgd_only(data):
    X, y, Xv, yv = data
    Xd = da.from_array(X, chunks=(320, 64))
    m = LinearSVM(batch_size=40, max_epochs=10, random_state=0).fit(Xd, y)
    assert m.score(Xv, yv) > 0.93
    assert m.history_["train_loss"][-1] < m.history_["train_loss"][0]
    assert m.n_steps_ >= 10  # rounds: each chunk takes 8 local steps, then they are averaged
    again = LinearSVM(batch_size=40, max_epochs=10, random_state=0).fit(Xd, y)
    np.testing.assert_array_equal(m.coef_, again.coef_)  # seeded
    with pytest.raises(ValueError, match="local SGD"):
        LinearSVM(batch_size=40, optimizer="momentum").fit(Xd, y)


def test_bad_dask_input_is_refused_clearly(data):
    X, y = data[:2]
    Xd = da.from_array(X, chunks=(300, 64))
    unknown = Xd[Xd[:, 0] > -1e9]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        LinearSVM().fit(unknown, y)
    with pytest.raises(ValueError, match="y must have shape"):
        LinearSVM().fit(Xd, y[:-5])
    with pytest.raises(ValueError, match="float32 or float64"):
        LinearSVM().fit(Xd.astype(np.int64), y)
    bad = X.copy()
    bad[777, 3] = np.nan
    m = LinearSVM(max_epochs=2)
    for params in (dict(), dict(learning_rate=1e-3, reg=0.1, batch_size=None)):
        with pytest.raises(ValueError, match=r"NaN or infinite values in 1 rows .*\[777\]"):
            m.set_params(**params).fit(da.from_array(bad, chunks=(300, 64)), y)
    assert not hasattr(m, "coef_")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as c:
        yield c


def test_a_local_cluster_gives_the_threaded_weights(cluster, data):
    X, y = data[:2]
    Xd = da.from_array(X, chunks=(200, 64))
    threaded = SoftmaxClassifier(solver="lbfgs", max_epochs=15).fit(Xd, y)
    with distributed.Client(cluster):
        on_cluster = SoftmaxClassifier(solver="lbfgs", max_epochs=15).fit(Xd, y)
    np.testing.assert_array_equal(threaded.coef_, on_cluster.coef_)  # the same tree of sums


def test_a_worker_killed_mid_fit_costs_an_iteration_not_the_fit(cluster, data):
    X, y = data[:2]
    Xd = da.from_array(X, chunks=(200, 64))
    params = dict(batch_size=None, max_epochs=8, random_state=0, tol=None)
    with distributed.Client(cluster) as client:
        Xp = Xd.persist()
        quiet = LinearSVM(**params).fit(Xp, y)
        pids = client.run(os.getpid)

        def kill(info):
            if info["event"] == "epoch" and info["epoch"] == 3:
                os.kill(next(iter(pids.values())), signal.SIGKILL)

        survived = LinearSVM(**params).fit(Xp, y, callback=kill)
        assert survived.n_iter_ == 8
        np.testing.assert_array_equal(quiet.coef_, survived.coef_)
        client.wait_for_workers(2, timeout=30)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    shutil.which("dask") is None
    and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "dask")),
    reason="the dask command is missing",
)
def test_workers_on_other_addresses(data):
    """A scheduler on 127.0.0.1 and workers bound to 127.0.0.2 and 127.0.0.3: the fit goes
    over real TCP between different addresses."""
    dask_cmd = os.path.join(os.path.dirname(sys.executable), "dask")
    port = _free_port()
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [
        subprocess.Popen(
            [dask_cmd, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        procs.extend(
            subprocess.Popen(
                [
                    dask_cmd,
                    "worker",
                    f"tcp://127.0.0.1:{port}",
                    "--host",
                    host,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for host in ("127.0.0.2", "127.0.0.3")
        )
        with distributed.Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            hosts = {
                a.split("://")[1].rsplit(":", 1)[0] for a in client.scheduler_info()["workers"]
            }
            assert hosts == {"127.0.0.2", "127.0.0.3"}
            X, y = data[:2]
            m = SoftmaxClassifier(solver="lbfgs", max_epochs=10).fit(
                da.from_array(X, chunks=(300, 64)), y
            )
        ref = SoftmaxClassifier(solver="lbfgs", max_epochs=10).fit(X, y)
        _close(ref, m, 1e-5)
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a worker still trying to reach its scheduler
                p.kill()
                p.wait()


def test_a_cluster_gone_for_good_is_a_clear_error(data):
    X, y = data[:2]
    c = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    )
    client = distributed.Client(c)
    m = LinearSVM(batch_size=None, max_epochs=50, tol=None)

    def shut(info):
        if info["event"] == "epoch" and info["epoch"] == 2:
            c.close()

    t0 = time.perf_counter()
    try:
        with pytest.raises(ClusterError, match="cluster"):
            m.fit(da.from_array(X, chunks=(300, 64)), y, callback=shut)
    finally:
        client.close()
    assert not hasattr(m, "coef_") and time.perf_counter() - t0 < 120


def test_train_through_dask_from_the_command_line(tmp_path):
    import json

    common = [
        "train",
        "--model",
        "softmax",
        "--solver",
        "lbfgs",
        "--epochs",
        "30",
        "--quiet",
        "--no-plots",
    ]
    r = run_linclass(*common, "--out", str(tmp_path / "mem"))
    assert r.returncode == 0, r.stderr
    want = json.loads((tmp_path / "mem" / "metrics.json").read_text())
    for scheduler in ("threads", "local:2"):
        r = run_linclass(*common, "--scheduler", scheduler, "--out", str(tmp_path / scheduler))
        assert r.returncode == 0, r.stderr
        got = json.loads((tmp_path / scheduler / "metrics.json").read_text())
        assert got["test_accuracy"] == pytest.approx(want["test_accuracy"], abs=0.006)
        assert got["history"]["train_loss"][-1] == pytest.approx(
            want["history"]["train_loss"][-1], rel=1e-4
        )
    for bad, message in (
        (["--scheduler", "local:none"], "needs a number of workers"),
        (["--scheduler", f"tcp://127.0.0.1:{_free_port()}"], "no Dask scheduler answers"),
    ):
        r = run_linclass(*common, *bad, "--out", str(tmp_path / "bad"))
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_the_threaded_scheduler_can_be_asked_for_beside_a_client(cluster, data):
    import dask

    from linclass.sources.dask import active_client

    X, y = data[:2]
    with distributed.Client(cluster) as client:
        assert active_client() is client
        with dask.config.set(scheduler="threads"), distributed.get_task_stream(client) as ts:
            assert active_client() is None
            m = LinearSVM(batch_size=None, max_epochs=2).fit(da.from_array(X, chunks=300), y)
        assert m.n_iter_ == 2 and ts.data == []  # nothing ran on the cluster
        with distributed.get_task_stream(client) as ts:
            LinearSVM(batch_size=None, max_epochs=2).fit(da.from_array(X, chunks=300), y)
        assert len(ts.data) > 0  # the check itself sees the cluster's tasks
