"""linclass on Dask against the same fit in memory, and against dask-ml, side by side.

    linclass prepare folder:../shared/data/cifar10/cifar10-jpg.tar.gz --val-size 1000 --out /tmp/c10
    python benchmarks/bench_dask.py --prepared /tmp/c10

On CIFAR-10 (49,000 training rows of 3,072 mean-subtracted pixels, float32):

1. time per full-batch iteration (SVM loss + gradient + step) in memory (numpy, 2 BLAS
   threads), on Dask's threaded scheduler and on a LocalCluster of 2 single-threaded workers,
   for several chunkings, with the largest weight difference to the in-memory fit;
2. the fixed cost of an iteration (chunks of 10 rows), and a fitted cost model;
3. L-BFGS (Softmax, 30 iterations) on each;
4. minibatch training: in-memory SGD against local SGD on the cluster, validation accuracy
   against wall time;
5. dask-ml's LogisticRegression and Incremental(SGDClassifier) on the same cluster and data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, publish

SVM = dict(learning_rate=1e-7, reg=2.5e4, tol=None, random_state=0)


def _per_iteration(clf):
    """Median seconds per epoch after the first (which pays for warming up)."""
    t = np.diff([0.0] + clf.history_["seconds"])
    return float(np.median(t[1:] if len(t) > 2 else t))


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(a).max())


def _on_cluster(client, data, rows):
    """The training rows as the workers' own chunks, read from the file by loader tasks
    (as `linclass train --scheduler` builds them), and waited for."""
    import distributed

    from linclass.data.ondisk import dask_rows

    Xd = client.persist(dask_rows(data.X_train, chunk_rows=rows))
    distributed.wait(Xd)
    return Xd


def full_batch(X, y, client, rows_list, epochs, data, repeats):
    """Every contender ``repeats`` times, interleaved (round after round); the fastest of each
    counts."""
    import dask.array as da
    from threadpoolctl import threadpool_limits

    from linclass import LinearSVM

    def fit(Xf):
        return LinearSVM(batch_size=None, max_epochs=epochs, **SVM).fit(Xf, y)

    def one_thread():
        with threadpool_limits(1, user_api="blas"):
            return fit(X)

    contenders = [
        ("numpy in memory, 2 BLAS threads", "-", lambda: fit(X)),
        ("numpy in memory, 1 BLAS thread", "-", one_thread),
    ]
    for rows in rows_list:
        Xt = da.from_array(X, chunks=(rows, X.shape[1]))
        contenders.append(
            (
                "dask, threads",
                f"{len(Xt.chunks[0])} of {rows:,}",
                lambda Xt=Xt: _no_client(lambda: fit(Xt), client),
            )
        )
    for rows in rows_list:
        Xc = _on_cluster(client, data, rows)
        contenders.append(
            ("dask, LocalCluster 2x1", f"{len(Xc.chunks[0])} of {rows:,}", lambda Xc=Xc: fit(Xc))
        )
    best = {}
    for _ in range(repeats):
        for i, (_, _, run) in enumerate(contenders):
            m = run()
            t = _per_iteration(m)
            if i not in best or t < best[i][0]:
                best[i] = (t, m.coef_)
    t_mem, ref = best[0]
    out = []
    for i, (name, chunks, _) in enumerate(contenders):
        t, coef = best[i]
        apart = (
            "-"
            if i == 0
            else ("identical" if np.array_equal(coef, ref) else f"{_rel(ref, coef):.1e}")
        )
        out.append([name, chunks, f"{1e3 * t:.0f}", f"{t / t_mem:.2f}", apart])
    return out, t_mem


def _no_client(fn, client):
    """Run ``fn`` on Dask's threaded scheduler although a Client exists."""
    import dask

    with dask.config.set(scheduler="threads"):
        return fn()


def overhead(client, chunks_list, epochs=12):
    import dask.array as da
    import distributed

    from linclass import LinearSVM

    rng = np.random.default_rng(0)
    rows = []
    fits = {}
    for where in ("threads", "LocalCluster 2x1"):
        for chunks in chunks_list:
            X = rng.standard_normal((10 * chunks, 3072)).astype(np.float32)
            y = np.arange(10 * chunks) % 10
            Xd = da.from_array(X, chunks=(10, 3072))
            if where == "threads":
                m = _no_client(
                    lambda: LinearSVM(batch_size=None, max_epochs=epochs, **SVM).fit(Xd, y), client
                )
            else:
                Xd = client.persist(Xd)
                distributed.wait(Xd)
                m = LinearSVM(batch_size=None, max_epochs=epochs, **SVM).fit(Xd, y)
            t = _per_iteration(m)
            fits[(where, chunks)] = t
            rows.append([where, str(chunks), f"{1e3 * t:.1f}"])
    return rows, fits


def lbfgs(X, y, client, rows, iters, data):
    import dask.array as da

    from linclass import SoftmaxClassifier

    out = []
    t0 = time.perf_counter()
    ref = SoftmaxClassifier(solver="lbfgs", max_epochs=iters, tol=None).fit(X, y)
    t_mem = time.perf_counter() - t0
    out.append(
        ["numpy in memory", f"{t_mem:.1f}", "1.00", "-", f"{ref.history_['train_loss'][-1]:.6f}"]
    )
    Xd = da.from_array(X, chunks=(rows, X.shape[1]))
    for where in ("threads", "LocalCluster 2x1"):
        t0 = time.perf_counter()
        if where == "threads":
            m = _no_client(
                lambda: SoftmaxClassifier(solver="lbfgs", max_epochs=iters, tol=None).fit(Xd, y),
                client,
            )
        else:
            m = SoftmaxClassifier(solver="lbfgs", max_epochs=iters, tol=None).fit(
                _on_cluster(client, data, rows), y
            )
        t = time.perf_counter() - t0
        out.append(
            [
                f"dask, {where}",
                f"{t:.1f}",
                f"{t / t_mem:.2f}",
                f"{_rel(ref.coef_, m.coef_):.1e}",
                f"{m.history_['train_loss'][-1]:.6f}",
            ]
        )
    return out


def minibatch(X, y, Xv, yv, client, rows, epochs, data):
    from linclass import LinearSVM

    out, curves = [], {}

    def run(name, fit):
        t0 = time.perf_counter()
        m = fit()
        wall = time.perf_counter() - t0
        curves[name] = (m.history_["seconds"], m.history_["val_accuracy"])
        out.append(
            [
                name,
                f"{wall:.1f}",
                f"{m.history_['val_accuracy'][-1]:.3f}",
                f"{max(m.history_['val_accuracy']):.3f}",
                str(m.n_steps_),
            ]
        )
        return m

    params = dict(batch_size=200, max_epochs=epochs, shuffle="blocks", **SVM)
    run("numpy in memory, SGD", lambda: LinearSVM(**params).fit(X, y, eval_set=(Xv, yv)))
    Xd = _on_cluster(client, data, rows)
    for scale in (1, 2):
        p = {**params, "learning_rate": SVM["learning_rate"] * scale}
        run(
            f"dask LocalCluster 2x1, local SGD, lr x{scale}",
            lambda: LinearSVM(**p).fit(Xd, y, eval_set=(Xv, yv)),
        )
    target = curves["numpy in memory, SGD"][1][-1]
    for row in out:
        secs, accs = curves[row[0]]
        hit = next((s for s, a in zip(secs, accs) if a >= target - 0.005), None)
        row.append("-" if hit is None else f"{hit:.1f}")
    return out


def dask_ml_peers(X, y, Xv, yv, client, rows, data):
    import dask.array as da
    from dask_ml.linear_model import LogisticRegression
    from dask_ml.wrappers import Incremental
    from sklearn.linear_model import SGDClassifier

    from linclass import SoftmaxClassifier

    Xd = _on_cluster(client, data, rows)
    yd = client.persist(da.from_array(y, chunks=(rows,)))
    out = []
    t0 = time.perf_counter()
    m = SoftmaxClassifier(solver="lbfgs", max_epochs=100).fit(Xd, yd)
    out.append(
        [
            "linclass SoftmaxClassifier, L-BFGS, 100 iterations",
            f"{time.perf_counter() - t0:.1f}",
            f"{m.score(Xv, yv):.3f}",
            "10 classes",
        ]
    )
    t0 = time.perf_counter()
    try:
        lr = LogisticRegression(solver="lbfgs", max_iter=100).fit(Xd, yd)
        pred = np.asarray(lr.predict(Xv))
        out.append(
            [
                "dask-ml LogisticRegression, lbfgs, 100 iterations",
                f"{time.perf_counter() - t0:.1f}",
                f"{np.mean(pred == yv):.3f}",
                f"predicts {len(np.unique(pred))} of 10 classes (binary only)",
            ]
        )
    except Exception as e:
        out.append(["dask-ml LogisticRegression", "-", "-", f"fails: {type(e).__name__}"])
    t0 = time.perf_counter()
    inc = Incremental(SGDClassifier(loss="hinge", alpha=1e-4, random_state=0))
    for _ in range(5):
        inc.partial_fit(Xd, yd, classes=np.arange(10))
    out.append(
        [
            "dask-ml Incremental(SGDClassifier(hinge)), 5 passes",
            f"{time.perf_counter() - t0:.1f}",
            f"{np.mean(np.asarray(inc.predict(Xv)) == yv):.3f}",
            "chunks visited one after another",
        ]
    )
    return out


def cost_model(full_rows, t_over):
    """Fit T = a + b * chunks (the fixed and per-chunk overhead, from the tiny-chunk runs)."""
    pts = [(c, t) for (w, c), t in t_over.items() if w != "threads"]
    A = np.array([[1.0, c] for c, _ in pts])
    a, b = np.linalg.lstsq(A, np.array([t for _, t in pts]), rcond=None)[0]
    return a, b


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepared", required=True, help="a `linclass prepare` folder (CIFAR-10)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="rounds of the full-batch contenders; the fastest of each counts",
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    import distributed

    from linclass.data.ondisk import open_prepared

    data = open_prepared(args.prepared)
    X, y = np.asarray(data.X_train), data.y_train
    Xv, yv = np.asarray(data.X_val), data.y_val
    n = len(y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        fb, t_mem = full_batch(
            X, y, client, [n // 10, n // 4, n // 2], args.epochs, data, args.repeats
        )
        ov, t_over = overhead(client, [2, 10, 50])
        lb = lbfgs(X, y, client, n // 4, 30, data)
        mb = minibatch(X, y, Xv, yv, client, n // 2, args.epochs, data)
        try:
            peers = dask_ml_peers(X, y, Xv, yv, client, n // 4, data)
        except ImportError:
            peers = [["dask-ml", "-", "-", "not installed (pip install dask-ml)"]]
    a, b = cost_model(n, t_over)
    per_row = t_mem * 2 / n  # both cores' time per row, in memory
    need80 = 4 * (a + 2 * b) / per_row  # rows a 2-core worker needs so that overhead <= 20%
    pre = (
        f"CIFAR-10 from {data.meta['source']}: {n:,} training rows of {X.shape[1]:,} "
        f"float32 (mean-subtracted), validation {len(yv):,}. Machine: {machine()}. "
        "The LocalCluster has 2 single-threaded worker processes on 127.0.0.1, sharing the "
        "2 cores with the driver and the scheduler. The full-batch contenders ran "
        f"{args.repeats} rounds, interleaved; the fastest of each is shown. *vs memory*: "
        "time over the in-memory fit's; *W apart*: the largest weight difference relative "
        "to the largest weight."
    )
    publish(
        "dask-full",
        "Dask: a full-batch iteration (SVM loss, gradient, step)",
        pre,
        ["engine", "chunks", "ms / iteration", "vs memory", "W apart"],
        fb,
        write=not args.no_write,
    )
    publish(
        "dask-overhead",
        "Dask: the fixed cost of an iteration (10 rows a chunk)",
        f"Fitted on the LocalCluster: T = {1e3 * a:.1f} ms + {1e3 * b:.2f} ms x chunks "
        f"(+ compute: {1e6 * per_row:.2f} us a row of both cores, in memory). So a "
        f"2-core worker needs about {need80:,.0f} rows ({need80 * 12288 / 2**20:,.0f} MB of "
        "float32 CIFAR rows) in two chunks for the overhead to stay under 20% (80% "
        "efficiency).",
        ["scheduler", "chunks", "ms / iteration"],
        ov,
        write=not args.no_write,
    )
    publish(
        "dask-lbfgs",
        "Dask: L-BFGS (Softmax, 30 iterations)",
        "Chunks of 12,250 rows.",
        ["engine", "seconds", "vs memory", "W apart", "final objective"],
        lb,
        write=not args.no_write,
    )
    publish(
        "dask-sgd",
        "Dask: minibatch SGD in memory against local SGD on the cluster",
        f"The course's SVM settings (B=200, lr 1e-7, reg 2.5e4), {args.epochs} epochs; "
        "local SGD on 2 chunks of 24,500 rows, 50 local steps a round, averaged. *to "
        "target*: seconds until the validation accuracy comes within 0.005 of the "
        "in-memory run's last.",
        ["run", "wall s", "val acc (last)", "val acc (best)", "steps or rounds", "s to target"],
        mb,
        write=not args.no_write,
    )
    publish(
        "dask-peers",
        "Dask: linclass against dask-ml on the same cluster and data",
        "Validation accuracy on the 1,000 held-out CIFAR-10 images.",
        ["estimator", "seconds", "val accuracy", "note"],
        peers,
        write=not args.no_write,
    )
    print(
        json.dumps(
            {
                "fixed_ms": 1e3 * a,
                "per_chunk_ms": 1e3 * b,
                "per_row_us": 1e6 * per_row,
                "rows_for_80pct": need80,
            }
        )
    )


if __name__ == "__main__":
    main()
