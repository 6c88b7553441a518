"""The graph engine's cost: graph-built losses vs the hand-written ones, and scalar graphs vs
micrograd.

Run: ``.venv/bin/python benchmarks/bench_graph.py [--quick]`` (micrograd comes with the test
extras). Writes its section of ``benchmarks/RESULTS.md`` with the machine it ran on.

(a) SVM and Softmax loss + dW on float32 data of 500 x 3,073 and 49,000 x 3,073 (CIFAR-10
    sizes), built from the engine's primitives and backpropagated, against
    ``linclass.lecture.svm_loss`` / ``softmax_loss``. Goal: within 1.5x of the hand-written time.
(b) Building and backpropagating a scalar program of 100,000 nodes (a chain of multiply, add
    and relu gates reusing one input), in linclass and in micrograd. Goal: faster than
    micrograd. micrograd's recursive topological sort needs a raised recursion limit for it.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time

import numpy as np
from _common import machine, median_time, publish
from threadpoolctl import threadpool_limits

from linclass import lecture as hand
from linclass.graph import Node
from linclass.graph import losses as graph


def scalar_program(cls, n_nodes):
    """About ``n_nodes`` nodes: t = relu?(t * 0.999 + x), repeated, x used at every step."""
    x = cls(0.5)
    t = x
    for i in range(n_nodes // 4):
        t = t * 0.999 + x
        if i % 2:
            t = t.relu()
    return x, t


def time_scalar(cls, n_nodes, repeats):
    builds, backs = [], []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        x, out = scalar_program(cls, n_nodes)
        t1 = time.perf_counter()
        out.backward()
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        backs.append(t2 - t1)
        grad = float(x.grad)
        del x, out
    return float(np.median(builds)), float(np.median(backs)), grad


def run_with_big_stack(fn):
    """micrograd's backward recurses once per node: give it a deep stack."""
    result = {}
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 2**20)
    worker = threading.Thread(target=lambda: result.setdefault("r", fn()))
    worker.start()
    worker.join()
    threading.stack_size(0)
    return result["r"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller data and graphs")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    sizes = (500, 4_900) if args.quick else (500, 49_000)
    n_nodes = 20_000 if args.quick else 100_000
    rng = np.random.default_rng(0)
    D, C, reg = 3_073, 10, 2.5e4
    rows = []
    with threadpool_limits(args.threads, user_api="blas"):
        for N in sizes:
            X = rng.standard_normal((N, D), dtype=np.float32)
            y = rng.integers(C, size=N)
            W = (1e-4 * rng.standard_normal((C, D))).astype(np.float32)
            for name, g_fn, h_fn in (
                ("SVM", graph.svm_loss, hand.svm_loss_vectorized),
                ("Softmax", graph.softmax_loss, hand.softmax_loss_vectorized),
            ):
                t_graph = median_time(lambda: g_fn(W, X, y, reg), args.repeats)
                t_hand = median_time(lambda: h_fn(W, X, y, reg), args.repeats)
                ratio = t_graph / t_hand
                rows.append(
                    (
                        f"{name} loss + dW, {N:,} x {D:,}",
                        f"{t_graph * 1e3:.1f} ms",
                        f"{t_hand * 1e3:.1f} ms",
                        f"{ratio:.2f}x",
                        "met" if ratio <= 1.5 else "missed",
                    )
                )
            X = W = None  # freed before the scalar benchmark
    ours = time_scalar(Node, n_nodes, args.repeats)
    try:
        from micrograd.engine import Value

        theirs = run_with_big_stack(lambda: time_scalar(Value, n_nodes, args.repeats))
    except ImportError:
        theirs = None
    if theirs is not None:
        assert abs(ours[2] - theirs[2]) < 1e-6 * abs(theirs[2]), "the two engines disagree"
        for what, i in (("build", 0), ("backward", 1)):
            rows.append(
                (
                    f"scalar graph of {n_nodes:,} nodes: {what}",
                    f"{ours[i] * 1e3:.0f} ms",
                    f"{theirs[i] * 1e3:.0f} ms (micrograd)",
                    f"{ours[i] / theirs[i]:.2f}x",
                    "",
                )
            )
        total = (ours[0] + ours[1]) / (theirs[0] + theirs[1])
        rows.append(
            (
                f"scalar graph of {n_nodes:,} nodes: build + backward",
                f"{(ours[0] + ours[1]) * 1e3:.0f} ms",
                f"{(theirs[0] + theirs[1]) * 1e3:.0f} ms (micrograd)",
                f"{total:.2f}x",
                "met" if total < 1 else "missed",
            )
        )

    publish(
        "bench_graph",
        "Graph engine (`benchmarks/bench_graph.py`)",
        f"Machine: {machine()}. BLAS threads: {args.threads}. float32 losses (reg 2.5e4, "
        f"10 classes), median of {args.repeats} runs.",
        ["what", "linclass.graph", "reference", "ratio", "goal"],
        rows,
        not args.no_write,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
