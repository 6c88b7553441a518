"""Training on a busy machine: BLAS threads fixed at 1 or at all cores, or linclass's default.

Run: ``.venv/bin/python benchmarks/bench_contention.py [--quick] [--no-write]`` (``make
bench-contention``). Each fit runs in a child process of its own with ``LINCLASS_BLAS_THREADS``
set to 1 or the core count (the BLAS on that many threads, as before linclass chose), or to
``auto`` (the default: the kernel linclass chooses, the BLAS on one thread, the full-batch
gradient on a number of workers timed per step, see ``linclass.threads``; the fixed counts run
the numpy kernel, ``LINCLASS_KERNEL=numpy``), on a quiet machine and on a busy one: *busy* is one
other process spinning on a core for the whole fit. The data are read in this process first
and handed to the children as .npy files; each child times ``fit`` only.

Data: the MNIST test set in ../shared/data (8,000 rows to train; digits repeated to the same
shape when it is absent) and CIFAR-10 from the JPEG tree there (10,000 training images; the
row is left out when it is absent). Linear SVM, minibatch SGD of 200 for a fixed number of
epochs (no early stop, so every contender does the same work), and the Softmax by full-batch
L-BFGS, whose products are large.
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
from _common import machine, publish

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CHILD = """
import json, sys, time
import numpy as np
from linclass import LinearSVM, SoftmaxClassifier
from linclass.threads import blas_threads
X, y = np.load(sys.argv[1]), np.load(sys.argv[2])
est = (LinearSVM(max_epochs=int(sys.argv[4]), tol=None, random_state=0) if sys.argv[3] == "sgd"
       else SoftmaxClassifier(solver="lbfgs", max_epochs=int(sys.argv[4]), tol=None,
                              random_state=0))
t = time.perf_counter()
est.fit(X, y)
print(json.dumps({"seconds": time.perf_counter() - t, "accuracy": est.score(X, y)}))
"""

# Spins on one core until this process ends, however it ends.
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


def datasets(quick):
    """``(name, X, y)`` for each data set at hand, float32."""
    from linclass.data import load_dataset

    mnist = DATA / "mnist"
    if (mnist / "t10k-images-idx3-ubyte.gz").exists():
        d = load_dataset(f"mnist:{mnist}")
        X, y = d.X[:8000], d.y[:8000]
        name = "MNIST 8,000 x 784"
    else:
        d = load_dataset("digits")
        reps = -(-8000 // len(d.X))
        X, y = np.tile(d.X, (reps, 1))[:8000], np.tile(d.y, reps)[:8000]
        name = "digits x 5 (8,000 x 64; MNIST absent)"
    yield name, (X - X.mean(0)).astype(np.float32), y
    cifar = DATA / "cifar10" / "cifar10-jpg.tar.gz"
    if cifar.exists() and not quick:
        d = load_dataset(f"folder:{cifar}")
        rows = np.random.default_rng(0).permutation(len(d.X))[:10000]
        X, y = d.X[rows].reshape(len(rows), -1), d.y[rows]
        yield "CIFAR-10 10,000 x 3,072", (X - X.mean(0)).astype(np.float32), y


def run_child(paths, solver, epochs, threads, busy):
    env = dict(os.environ, LINCLASS_BLAS_THREADS=str(threads))
    env.pop("LINCLASS_KERNEL", None)
    if threads != "auto":  # the BLAS's thread count only matters to the numpy kernel
        env["LINCLASS_KERNEL"] = "numpy"
    hog = subprocess.Popen([sys.executable, "-c", HOG]) if busy else None
    try:
        if hog:
            time.sleep(0.2)
        out = subprocess.run(
            [sys.executable, "-c", CHILD, *paths, solver, str(epochs)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        if hog:
            hog.kill()
            hog.wait()
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="MNIST only, fewer epochs, no write")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each fit (fastest shown)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    counts = [1, cores, "auto"] if cores > 1 else [1, "auto"]
    fits = [
        ("sgd", 3 if args.quick else 40, "Linear SVM, SGD"),
        ("lbfgs", 10 if args.quick else 100, "Softmax, L-BFGS"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, X, y in datasets(args.quick):
            paths = [os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")]
            np.save(paths[0], X)
            np.save(paths[1], y)
            for solver, epochs, label in fits:
                cells = {}
                for busy in (False, True):
                    for count in counts:
                        best = min(
                            (
                                run_child(paths, solver, epochs, count, busy)
                                for _ in range(args.rounds)
                            ),
                            key=lambda r: r["seconds"],
                        )
                        cells[busy, count] = best["seconds"]
                        print(
                            f"{name}, {label}, {'busy' if busy else 'quiet'}, threads "
                            f"{count}: {best['seconds']:.2f} s",
                            flush=True,
                        )
                for busy in (False, True):
                    best_fixed = min(cells[busy, c] for c in counts if c != "auto")
                    rows.append(
                        [
                            name,
                            f"{label}, {epochs} epochs",
                            "busy" if busy else "quiet",
                            *[f"{cells[busy, c]:.2f}" for c in counts],
                            f"{cells[busy, 'auto'] / best_fixed:.2f}",
                        ]
                    )
    header = [
        "data",
        "fit",
        "machine",
        *[f"{c} thread{'s' if c != 1 else ''} (s)" for c in counts[:-1]],
        "auto (s)",
        "auto / best fixed",
    ]
    preamble = (
        f"Machine: {machine()}. Each figure is the fastest of {args.rounds} runs of "
        "`fit`, each in a child process with `LINCLASS_BLAS_THREADS` set; *busy*: "
        "another process spins on one core for the whole fit. *N threads*: the BLAS "
        "on N threads for every product, on the numpy kernel. *auto* (the default): "
        "the kernel linclass chooses (the fused one for CIFAR-10's 31M values, numpy "
        "below 2^24 values), the BLAS on one thread, and the full-batch gradient's "
        "blocks (and the fused kernel's minibatch halves) on 1 or one worker per core, "
        "whichever its steps time faster (`linclass.threads`); its weights are the "
        "same bits whatever it picks. On a busy machine half the cores are taken: "
        "proportionally slower is 2x the quiet time."
    )
    publish(
        "contention",
        "A busy machine: threads while training",
        preamble,
        header,
        rows,
        write=not (args.no_write or args.quick),
    )


if __name__ == "__main__":
    main()
