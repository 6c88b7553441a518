"""Loss + gradient timings on CIFAR-10-sized data: naive loops vs vectorized, SVM vs Softmax.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_losses.py [--quick]``).
Writes the table, with the machine it ran on, into ``benchmarks/RESULTS.md`` (between the
markers of its section) and prints it.

Data are synthetic (standard normal, 49,000 x 3,073 float32 with the bias column, 10 classes):
the time of these functions does not depend on the pixel values. Each figure is the median of
``--repeats`` runs with the BLAS thread count fixed.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

from _common import machine, median_time, publish
from linclass.losses import (
    multiclass_hinge,
    softmax_cross_entropy,
    softmax_loss,
    softmax_loss_naive,
    svm_loss,
    svm_loss_naive,
)
from linclass.objective import loss_and_gradient


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4,900 rows instead of 49,000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)

    N = 4_900 if args.quick else 49_000
    D, C = 3_073, 10
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D), dtype=np.float32)
    X[:, -1] = 1.0  # the bias trick
    y = rng.integers(C, size=N)
    W = (1e-4 * rng.standard_normal((C, D))).astype(np.float32)
    reg = 2.5e4
    dev = slice(0, 500)
    rows = []
    with threadpool_limits(args.threads, user_api="blas"):
        for name, naive, fast in (("SVM", svm_loss_naive, svm_loss),
                                  ("Softmax", softmax_loss_naive, softmax_loss)):
            t_naive = median_time(lambda: naive(W, X[dev], y[dev], reg), max(1, args.repeats // 2))
            t_fast = median_time(lambda: fast(W, X[dev], y[dev], reg), args.repeats)
            rows.append((f"{name} 500 rows: naive loops", t_naive, ""))
            rows.append((f"{name} 500 rows: vectorized", t_fast, f"{t_naive / t_fast:.0f}x faster"))
        for name, fast, loss_fn in (("SVM", svm_loss, multiclass_hinge),
                                    ("Softmax", softmax_loss, softmax_cross_entropy)):
            t_fast = median_time(lambda: fast(W, X, y, reg), args.repeats)
            t_block = median_time(
                lambda: loss_and_gradient(W, None, X, y, loss_fn, reg), args.repeats)
            rows.append((f"{name} {N:,} rows: vectorized (one pass per product)", t_fast, ""))
            rows.append((f"{name} {N:,} rows: blocked objective (training path)", t_block,
                         f"{t_fast / t_block:.2f}x the vectorized speed"))
        t_read = median_time(lambda: np.ones(N, np.float32) @ X, args.repeats)
        rows.append((f"one read pass over X ({X.nbytes / 1e6:.0f} MB)", t_read, "memory floor"))

    publish("bench_losses", "Loss + gradient (`benchmarks/bench_losses.py`)",
            f"Machine: {machine()}. BLAS threads: {args.threads}. float32, X {N:,} x {D:,}, "
            f"{C} classes, median of {args.repeats} runs (naive: {max(1, args.repeats // 2)}).",
            ["what", "time", "note"], [(w, f"{t * 1e3:.1f} ms", note) for w, t, note in rows],
            not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
