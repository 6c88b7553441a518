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
from _common import best_time, machine, median_time, publish
from threadpoolctl import threadpool_limits

from linclass.lecture import (
    softmax_loss,
    softmax_loss_naive,
    softmax_loss_vectorized,
    svm_loss,
    svm_loss_naive,
    svm_loss_vectorized,
)


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
        for name, naive, fast in (
            ("SVM", svm_loss_naive, svm_loss_vectorized),
            ("Softmax", softmax_loss_naive, softmax_loss_vectorized),
        ):
            t_naive = median_time(lambda: naive(W, X[dev], y[dev], reg), max(1, args.repeats // 2))
            t_fast = median_time(lambda: fast(W, X[dev], y[dev], reg), args.repeats)
            rows.append((f"{name} 500 rows: naive loops", _ms(t_naive), ""))
            rows.append(
                (f"{name} 500 rows: vectorized", _ms(t_fast), f"{t_naive / t_fast:.0f}x faster")
            )
        for dtype in (np.float32, np.float64):
            Xd = X if dtype == np.float32 else X.astype(np.float64)
            rows += _full_batch(Xd, y, W.astype(dtype), reg, args.repeats, args.threads)
            del Xd

    publish(
        "bench_losses",
        "Loss + gradient (`benchmarks/bench_losses.py`)",
        f"Machine: {machine()}. BLAS threads: {args.threads}. X {N:,} x {D:,} (bias column "
        f"included), {C} classes, median of {args.repeats} runs (naive: "
        f"{max(1, args.repeats // 2)}). The floor of a full-batch loss + gradient is the "
        "larger of one read pass over X and its 4·N·D·C flops at this machine's peak matrix-"
        "multiply speed (a 3,072³ product), both measured in this run (the fastest of the "
        "runs; the other figures are medians); the goal is 2x the floor.",
        ["what", "time", "note"],
        rows,
        not args.no_write,
    )
    return 0


def _ms(t):
    return f"{t * 1e3:.1f} ms"


def _full_batch(X, y, W, reg, repeats, threads):
    """Rows of the table for one dtype: the floor, the products alone, the vectorized and the
    blocked (training) loss + gradient, and the ratio of the latter to the floor."""
    N, D = X.shape
    C = W.shape[0]
    kind = np.dtype(X.dtype).name
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3072, 3072)).astype(X.dtype)
    # The floor is the machine at its best: the fastest of the runs (this VM's speed moves by
    # a third from one minute to the next), where the losses' times are medians.
    t_gemm = best_time(lambda: A @ A, repeats)
    peak = 2 * 3072**3 / t_gemm
    t_read = best_time(lambda: np.ones(N, X.dtype) @ X, repeats)
    floor = max(t_read, 4 * N * D * C / peak)
    S = X @ W.T
    t_fwd = median_time(lambda: X @ W.T, repeats)
    t_bwd = median_time(lambda: S.T @ X, repeats)
    rows = [
        (f"{kind}: one read pass over X ({X.nbytes / 1e6:.0f} MB)", _ms(t_read), ""),
        (
            f"{kind}: peak matrix multiply (3,072³)",
            f"{peak / 1e9:.0f} GFLOP/s",
            f"4·N·D·C flops at that speed: {4 * N * D * C / peak * 1e3:.1f} ms",
        ),
        (f"{kind}: floor", _ms(floor), ""),
        (
            f"{kind}: the two products alone, X @ W.T and dS.T @ X",
            _ms(t_fwd + t_bwd),
            (
                f"{t_fwd * 1e3:.1f} + {t_bwd * 1e3:.1f} ms, "
                f"{4 * N * D * C / (t_fwd + t_bwd) / 1e9:.0f} GFLOP/s"
            ),
        ),
    ]
    for name, plain, fast in (
        ("SVM", svm_loss_vectorized, svm_loss),
        ("Softmax", softmax_loss_vectorized, softmax_loss),
    ):
        t_plain = median_time(lambda: plain(W, X, y, reg), repeats)
        t_fast = median_time(lambda: fast(W, X, y, reg), repeats)
        ratio = t_fast / floor
        rows.append(
            (
                f"{kind}: {name} {N:,} rows, `{plain.__name__}` (one pass per product)",
                _ms(t_plain),
                "",
            )
        )
        rows.append(
            (
                (f"{kind}: {name} {N:,} rows, `{fast.__name__}` (blocked: the numpy path)"),
                _ms(t_fast),
                (f"{ratio:.1f}x the floor (goal 2x: {'met' if ratio <= 2 else 'not met'})"),
            )
        )
    rows += _fused(X, y, W, reg, repeats, floor, kind, threads)
    return rows


def _fused(X, y, W, reg, repeats, floor, kind, threads):
    """Rows for the fused kernel (``linclass.fused``: what a fit of this size runs), its blocks
    on ``threads`` worker threads, where numba is installed."""
    from linclass import fused
    from linclass.losses import Hinge, SoftmaxCrossEntropy

    if not fused.available():
        return [(f"{kind}: fused kernel", "n/a", "numba is not installed")]
    rows = []
    for name, loss in (("SVM", Hinge()), ("Softmax", SoftmaxCrossEntropy())):

        def run():
            return fused.loss_and_gradient(W, None, X, y, loss, reg, workers=threads)

        run()  # compiled (or read from the cache)
        t = median_time(run, repeats)
        ratio = t / floor
        rows.append(
            (
                (
                    f"{kind}: {name} {X.shape[0]:,} rows, fused kernel (`linclass.fused`, "
                    f"{threads} threads: the training path)"
                ),
                _ms(t),
                f"{ratio:.1f}x the floor (goal 2x: {'met' if ratio <= 2 else 'not met'})",
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
