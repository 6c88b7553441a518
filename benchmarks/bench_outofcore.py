"""Out of core on one machine: the same fit in memory and streamed from disk, side by side.

Each run is a child process, so that its peak resident memory (VmHWM, file pages included) is
its own. For every mode (full-batch gradient descent, L-BFGS, minibatch SGD) it fits the same
classifier twice, on the training part loaded into memory and on the file streamed by
``linclass.sources.Streamed``, and reports the time per epoch, the rows per second, the peak
memory and whether the weights are equal. The page cache is warmed before the timed runs
(read the file once); ``--cold`` adds one streamed pass after dropping the file's pages
(``posix_fadvise(DONTNEED)``).

    python benchmarks/bench_outofcore.py --prepared /tmp/c10x10      # a `linclass prepare` folder
    python benchmarks/bench_outofcore.py --synthetic 60000           # CIFAR-shaped random rows

A last run trains ``linclass train --dataset npy:PATH`` end to end in a child whose address
space is capped below the file's size (``--limit-gb``), to show a fit on data bigger than the
memory the process may use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, publish

MODES = {  # name: (estimator, parameters); shuffle=False so both fits see the same batches
    "full-batch GD, 3 epochs": ("svm", dict(batch_size=None, max_epochs=3)),
    "L-BFGS, 5 iterations": ("softmax", dict(solver="lbfgs", max_epochs=5)),
    "SGD, B=200, 1 epoch": ("svm", dict(batch_size=200, max_epochs=1, shuffle=False)),
}


def _status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(mode, where, folder, out):
    """One fit; prints a JSON line with its figures and saves its weights to ``out``."""
    from linclass import LinearSVM, SoftmaxClassifier
    from linclass.data.ondisk import NpyArray

    model, params = MODES[mode]
    y = np.load(Path(folder) / "train_y.npy")
    base = _status_mb("VmRSS:")
    t0 = time.perf_counter()
    X = NpyArray(Path(folder) / "train.npy")
    if where == "memory":
        X = np.asarray(X)
    load = time.perf_counter() - t0
    cls = LinearSVM if model == "svm" else SoftmaxClassifier
    clf = cls(
        random_state=0,
        tol=None,
        learning_rate=1e-7 if model == "svm" else "auto",
        reg=2.5e4 if model == "svm" else "auto",
        **params,
    )
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit = time.perf_counter() - t0
    np.save(out, clf.coef_)
    print(
        json.dumps(
            {
                "mode": mode,
                "where": where,
                "load_s": load,
                "fit_s": fit,
                "epochs": clf.n_iter_,
                "rows": len(y),
                "hwm_mb": _status_mb("VmHWM:"),
                "base_mb": base,
            }
        )
    )


def _run_child(*args):
    r = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def _warm(path):
    with open(path, "rb") as f:
        while f.read(64 * 2**20):
            pass


def _drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _synthetic(rows, folder):
    """A CIFAR-shaped prepared folder of random rows (class means plus noise)."""
    from linclass.data import Dataset
    from linclass.data.ondisk import prepare

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, rows)
    means = rng.integers(0, 256, (10, 3072))
    X = np.clip(means[y] + rng.normal(0, 60, (rows, 3072)), 0, 255).astype(np.uint8)
    ds = Dataset(X, y, [str(i) for i in range(10)], (32, 32, 3), f"synthetic:{rows}")
    prepare(ds, folder, val_size=0.01, test_size=0.01)


def _cli_run(folder, limit_gb):
    """`linclass train --dataset npy:FOLDER` with the address space capped at ``limit_gb``."""
    code = (
        "import resource, sys\n"
        f"lim = int({limit_gb} * 2**30)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (lim, lim))\n"
        "from linclass.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "print(hwm[0].split()[1], file=sys.stderr)\n"
        "raise SystemExit(rc)\n"
    )
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-c",
            code,
            "train",
            "--model",
            "softmax",
            "--dataset",
            f"npy:{folder}",
            "--epochs",
            "3",
            "--out",
            out,
            "--quiet",
            "--no-plots",
        ]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "2")}
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if r.returncode:
            raise RuntimeError(f"linclass train failed under the limit:\n{r.stderr}")
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    return wall, int(r.stderr.strip().splitlines()[-1]) / 1024, metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepared", help="a folder written by `linclass prepare` (npy format)")
    ap.add_argument(
        "--synthetic",
        type=int,
        default=60000,
        help="rows of CIFAR-shaped random data when --prepared is not given",
    )
    ap.add_argument("--cold", action="store_true", help="also time a streamed pass cold")
    ap.add_argument(
        "--limit-gb",
        type=float,
        default=None,
        help="cap the end-to-end run's address space, GiB (default 2.5)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="runs of each fit, interleaved; the fastest counts (default 2)",
    )
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    tmp = tempfile.TemporaryDirectory()
    folder = args.prepared
    if folder is None:
        folder = str(Path(tmp.name) / "data")
        _synthetic(args.synthetic, folder)
    train = Path(folder) / "train.npy"
    size_mb = train.stat().st_size / 2**20
    rows = []
    for mode in MODES:
        figures = {}
        for _ in range(args.repeats):  # interleaved; the fastest of each is kept
            for where in ("memory", "disk"):
                _warm(train)
                f = _run_child(mode, where, folder, str(Path(tmp.name) / f"{where}.npy"))
                if where not in figures or f["fit_s"] < figures[where]["fit_s"]:
                    figures[where] = f
        Wm, Wd = np.load(Path(tmp.name) / "memory.npy"), np.load(Path(tmp.name) / "disk.npy")
        equal = (
            "identical"
            if np.array_equal(Wm, Wd)
            else f"{np.abs(Wm - Wd).max() / np.abs(Wm).max():.1e} apart"
        )
        m, d = figures["memory"], figures["disk"]
        for where, f in figures.items():
            per_epoch = f["fit_s"] / f["epochs"]
            rows.append(
                [
                    mode,
                    where,
                    f"{per_epoch:.2f}",
                    f"{f['rows'] / per_epoch / 1e3:.0f}k",
                    f"{f['hwm_mb']:,.0f}",
                    f"{100 * (f['hwm_mb'] - f['base_mb']) / size_mb:.1f}%",
                    f"{f['load_s']:.1f}" if where == "memory" else "-",
                    ""
                    if where == "memory"
                    else f"{m['fit_s'] / m['epochs'] / (d['fit_s'] / d['epochs']):.2f}",
                    "" if where == "memory" else equal,
                ]
            )
    if args.cold:
        _drop(train)
        f = _run_child("SGD, B=200, 1 epoch", "disk", folder, str(Path(tmp.name) / "cold.npy"))
        rows.append(
            [
                "SGD, B=200, 1 epoch, cold cache",
                "disk",
                f"{f['fit_s']:.2f}",
                f"{f['rows'] / f['fit_s'] / 1e3:.0f}k",
                f"{f['hwm_mb']:,.0f}",
                f"{100 * (f['hwm_mb'] - f['base_mb']) / size_mb:.1f}%",
                "-",
                "",
                "",
            ]
        )
    limit = args.limit_gb or 2.5
    wall, hwm, metrics = _cli_run(folder, limit)
    capped = (
        f"whose address space was capped at {limit:g} GiB (less than the "
        f"{size_mb / 1024:.1f} GiB training file)"
        if limit * 1024 < size_mb
        else f"capped at {limit:g} GiB of address space (the file is smaller: "
        f"{size_mb / 1024:.2f} GiB)"
    )
    n = sum(json.loads((Path(folder) / "meta.json").read_text())["rows"].values())
    preamble = (
        f"Training part: {train.stat().st_size / 1e9:.2f} GB on disk ({n:,} rows in all "
        f"parts), from {json.loads((Path(folder) / 'meta.json').read_text())['source']}. "
        f"Machine: {machine()}. Each figure is one child process; the page cache was warm "
        f"(the file read once before each run); each fit ran {args.repeats} times, interleaved "
        "with its counterpart, and the fastest run is shown. *peak* is the child's VmHWM "
        "(file pages included); *added* is VmHWM minus the resident size before the data "
        "was touched, as a share of the file. *in-memory load* is the time to read the file "
        "into RAM, not counted in the epoch. *weights*: identical bit for bit, or the largest "
        "difference relative to the largest weight.\n\n"
        f"End to end: `linclass train --model softmax --dataset npy:PATH --epochs 3` in a "
        f"process {capped}: {wall:.0f} s wall, peak resident "
        f"{hwm:,.0f} MB, test accuracy {metrics['test_accuracy']:.3f}, validation "
        f"{metrics['val_accuracy']:.3f}, on {metrics['n_train']:,} training rows."
    )
    publish(
        "outofcore",
        "Out of core: streamed from disk against the same fit in memory",
        preamble,
        [
            "mode",
            "X",
            "s / epoch",
            "rows / s",
            "peak MB",
            "added / file",
            "in-memory load s",
            "throughput ratio",
            "weights",
        ],
        rows,
        write=not args.no_write,
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
