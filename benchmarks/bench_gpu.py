"""linclass on a GPU (the array API path) against PyTorch on the same device, and against the
device's own floor.

Run: ``.venv/bin/python benchmarks/bench_gpu.py [--device cuda] [--quick]`` on a machine with a
CUDA GPU and PyTorch (``torch==2.13.0`` is the CPU build; a CUDA build comes from PyTorch's own
index). ``--device cpu`` runs the same code on PyTorch CPU tensors (a check that the script
works, not a GPU figure; it prints only, unless ``--write``). Writes its table, with the device,
into ``benchmarks/RESULTS.md``.

What it times, on CIFAR-10-sized synthetic float32 data (49,000 x 3,073, 10 classes), on the
device, synchronized after each call:

* the device's floor: one read pass over X (its memory bandwidth) and a 8,192^3 matrix
  product (its peak float32 FLOP/s); the floor of a full-batch loss + gradient is the larger
  of the read pass and 4·N·D·C flops at that peak;
* the full-batch loss + gradient: ``linclass.array_api.loss_and_gradient`` (SVM and Softmax)
  and PyTorch autograd on the same loss (``multi_margin_loss`` x C, ``cross_entropy``);
* 1,500 minibatch steps of 200: ``LinearSVM`` / ``SoftmaxClassifier`` fits under
  ``array_api_dispatch`` with ``max_steps=1500`` and PyTorch's ``nn.Linear`` + SGD loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy loads: array_api_dispatch needs it

import numpy as np
from _common import publish


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="4,900 rows, 100 steps")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--write", action="store_true", help="write RESULTS.md even for cpu/quick")
    args = ap.parse_args(argv)

    import sklearn
    import torch

    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA device here (torch.cuda.is_available() is False): nothing to measure. "
            "Use --device cpu to check the script.",
            file=sys.stderr,
        )
        return 1
    N, D, C = (4_900 if args.quick else 49_000), 3_073, 10
    steps = 100 if args.quick else 1_500
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    g = torch.Generator(device=dev).manual_seed(0)
    X = torch.randn((N, D), generator=g, device=dev, dtype=torch.float32)
    y = torch.randint(0, C, (N,), generator=g, device=dev)
    W = 1e-3 * torch.randn((C, D), generator=g, device=dev)
    b = torch.zeros(C, device=dev)

    def timed(fn, repeats=args.repeats):
        fn()
        sync()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t)
        return float(np.median(times))

    t_read = timed(lambda: X.sum(dim=0))
    K = 2_048 if args.quick or dev.type == "cpu" else 8_192
    A = torch.randn((K, K), generator=g, device=dev)
    t_mm = timed(lambda: A @ A, max(3, args.repeats // 2))
    peak = 2 * K**3 / t_mm
    floor = max(t_read, 4 * N * D * C / peak)
    rows = [
        ("one read pass over X", _ms(t_read), f"{X.numel() * 4 / t_read / 1e9:.0f} GB/s"),
        (f"peak float32 matrix multiply ({K:,}³)", f"{peak / 1e12:.1f} TFLOP/s", ""),
        ("floor of a full-batch loss + gradient", _ms(floor), ""),
    ]

    from linclass import LinearSVM, SoftmaxClassifier, array_api
    from linclass.losses import Hinge, SoftmaxCrossEntropy

    F = torch.nn.functional
    for name, loss, torch_loss in (
        ("SVM", Hinge(), lambda s, t: F.multi_margin_loss(s, t) * C),
        ("Softmax", SoftmaxCrossEntropy(), F.cross_entropy),
    ):
        t_lin = timed(lambda: array_api.loss_and_gradient(W, b, X, y, loss, 1e-3))
        Wt, bt = W.clone().requires_grad_(), b.clone().requires_grad_()

        def autograd():
            Wt.grad = bt.grad = None
            out = torch_loss(X @ Wt.T + bt, y) + 1e-3 * (Wt**2).sum()
            out.backward()
            return out.item()

        t_torch = timed(autograd)
        rows.append(
            (
                f"{name}: full-batch loss + gradient, linclass",
                _ms(t_lin),
                f"{t_lin / floor:.1f}x the floor",
            )
        )
        rows.append(
            (
                f"{name}: full-batch loss + gradient, PyTorch autograd",
                _ms(t_torch),
                (
                    f"{t_torch / floor:.1f}x the floor; linclass takes {t_lin / t_torch:.2f}x "
                    "its time"
                ),
            )
        )

    with sklearn.config_context(array_api_dispatch=True):
        for name, cls in (("SVM", LinearSVM), ("Softmax", SoftmaxClassifier)):

            def fit():
                cls(
                    learning_rate=1e-7,
                    reg=1e3,
                    batch_size=200,
                    max_steps=steps,
                    tol=None,
                    shuffle="blocks",
                    random_state=0,
                ).fit(X, y)

            t_fit = timed(fit, 3)
            rows.append((f"{name}: {steps:,} steps of 200, linclass fit", _ms(t_fit), ""))
    lin = torch.nn.Linear(D, C, device=dev)
    opt = torch.optim.SGD(lin.parameters(), lr=1e-7)

    def torch_steps():
        for s in range(steps):
            o = (s * 200) % (N - 200)
            opt.zero_grad()
            out = (
                F.cross_entropy(lin(X[o : o + 200]), y[o : o + 200]) + 1e-3 * (lin.weight**2).sum()
            )
            out.backward()
            opt.step()

    rows.append((f"Softmax: {steps:,} steps of 200, PyTorch loop", _ms(timed(torch_steps, 3)), ""))
    device = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU (a check only)"
    publish(
        "bench_gpu",
        "On a GPU (`benchmarks/bench_gpu.py`)",
        f"Device: {device}; PyTorch {torch.__version__}. X {N:,} x {D:,} float32 on the "
        f"device, {C} classes, median of {args.repeats} runs, synchronized after each.",
        ["what", "time", "note"],
        rows,
        args.write or (dev.type == "cuda" and not args.quick),
    )
    return 0


def _ms(t):
    return f"{t * 1e3:.2f} ms"


if __name__ == "__main__":
    sys.exit(main())
