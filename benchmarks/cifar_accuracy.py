"""Accuracy on the real CIFAR-10 (the JPEG tree in ../shared/data), and what it costs.

Run: ``.venv/bin/python benchmarks/cifar_accuracy.py [--data PATH]``. Writes its section of
``benchmarks/RESULTS.md``. Train on 49,000 of the training images, validate on the other 1,000,
test on the 10,000 test images; raw pixels, mean image subtracted.

1. The course's Linear SVM settings: 1,500 minibatch steps of 200, lr 1e-7, reg 2.5e4, for
   seeds 0-4.
2. ``linclass train`` with no hyperparameter given (SVM and Softmax), and the Softmax by
   L-BFGS, each run as the command (wall time including data loading, and its peak memory).
3. ``linclass tune`` for the SVM and for the Softmax (random search, 4,000 steps a trial).
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

from linclass import LinearSVM
from linclass.data import MeanImage, load_image_folder, train_val_test_split
from linclass.hyperparams import search

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10" / "cifar10-jpg.tar.gz"
)
TUNES = {"svm": ((5e-8, 5e-7), (1e3, 3e4)), "softmax": ((5e-8, 1e-6), (1e2, 1e4))}
# Runs the command in a child and reports that child's own peak memory (VmHWM belongs to the
# address space made at exec; getrusage's maxrss would carry over this parent's).
WRAPPED = (
    "import sys\nfrom linclass.cli import main\nrc = main(sys.argv[1:])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "sys.stderr.write('PEAK_KB ' + hwm[0].split()[1] + '\\n')\nsys.exit(rc)\n"
)


def train_command(spec, *options):
    """Run ``linclass train`` on the data; return (metrics, wall seconds, peak MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-c",
            WRAPPED,
            "train",
            "--dataset",
            spec,
            "--val-size",
            "1000",
            "--quiet",
            "--no-plots",
            "--out",
            tmp,
            *options,
        ]
        t = time.perf_counter()
        r = subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak = int(r.stderr.rsplit("PEAK_KB ", 1)[1].split()[0]) / 1024
        return json.loads((Path(tmp) / "metrics.json").read_text()), wall, peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not Path(args.data).exists():
        print(f"{args.data} is not here; nothing to measure.")
        return 0
    spec = f"folder:{args.data}"
    rows = []

    commands = []
    for what, options in (
        ("SVM, `linclass train`'s defaults", ()),
        ("Softmax, `linclass train --model softmax`", ("--model", "softmax")),
        (
            "Softmax by L-BFGS, `linclass train --model softmax --solver lbfgs`",
            ("--model", "softmax", "--solver", "lbfgs"),
        ),
    ):
        m, wall, peak_mb = train_command(spec, *options)
        commands.append(
            (
                what,
                f"{m['val_accuracy']:.3f}",
                f"{m['test_accuracy']:.3f}",
                f"{m['fit_seconds']:.1f} s",
                f"{wall:.1f} s, peak {peak_mb:,.0f} MB",
                "`"
                + " ".join(("linclass train --dataset folder:PATH --val-size 1000", *options))
                + f"` ({m['epochs']} epochs)",
            )
        )

    t = time.perf_counter()
    ds = load_image_folder(args.data)
    load_s = time.perf_counter() - t
    sp = train_val_test_split(ds, val_size=1000, random_state=0)
    pre = MeanImage().fit(sp.X_train)
    X, Xv, Xt = (pre.transform(a) for a in (sp.X_train, sp.X_val, sp.X_test))
    rows.append(
        (
            "load the 60,000-image JPEG tree (2 decoding processes)",
            "",
            "",
            "",
            f"{load_s:.1f} s",
            "",
        )
    )

    vals, tests, secs = [], [], []
    for seed in range(5):
        t = time.perf_counter()
        m = LinearSVM(
            learning_rate=1e-7, reg=2.5e4, max_steps=1500, tol=None, random_state=seed
        ).fit(X, sp.y_train)
        secs.append(time.perf_counter() - t)
        vals.append(m.score(Xv, sp.y_val))
        tests.append(m.score(Xt, sp.y_test))
    rows.append(
        (
            ("SVM, the course's settings (1,500 steps of 200, lr 1e-7, reg 2.5e4), seeds 0-4"),
            f"{np.mean(vals):.3f} ({min(vals):.3f}-{max(vals):.3f})",
            f"{np.mean(tests):.3f} ({min(tests):.3f}-{max(tests):.3f})",
            f"{np.median(secs):.1f} s",
            "",
            ("`LinearSVM(learning_rate=1e-7, reg=2.5e4, max_steps=1500)`"),
        )
    )

    rows += commands

    for model, (lr, reg) in TUNES.items():
        t = time.perf_counter()
        results, best = search(
            model,
            X,
            sp.y_train,
            Xv,
            sp.y_val,
            lr,
            reg,
            trials=args.trials,
            seed=0,
            params={"max_steps": 4000, "shuffle": "blocks"},
        )
        wall = time.perf_counter() - t
        b = results[0]
        rows.append(
            (
                (
                    f"{'SVM' if model == 'svm' else 'Softmax'}, after `linclass tune` "
                    f"({args.trials} trials)"
                ),
                f"{b['val_accuracy']:.3f}",
                f"{best.score(Xt, sp.y_test):.3f}",
                f"{max(r['seconds'] for r in results):.1f} s (slowest trial)",
                f"{wall:.1f} s",
                (
                    f"`linclass tune --model {model} --lr {lr[0]:g}:{lr[1]:g} "
                    f"--reg {reg[0]:g}:{reg[1]:g} --trials {args.trials} --max-steps 4000` "
                    f"-> lr {b['learning_rate']:.2e}, reg {b['reg']:.2e}"
                ),
            )
        )

    publish(
        "cifar_accuracy",
        "CIFAR-10 accuracy (`benchmarks/cifar_accuracy.py`)",
        f"Machine: {machine()}. Data: the CIFAR-10 JPEG tree, 49,000 train / 1,000 "
        "validation / 10,000 test, raw pixels minus the mean training image.",
        ["run", "validation", "test", "training time", "wall time", "how"],
        rows,
        not args.no_write,
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
