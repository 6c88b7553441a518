"""The automatic penalty on three data sets: does `linclass train` with no hyperparameter fit?

Run: ``.venv/bin/python benchmarks/defaults.py [--quick] [--no-write]`` (``make
bench-defaults``). For the embedded digits, the MNIST test set in ../shared/data (split 7,000 /
1,000 / 2,000 by ``linclass train``'s own split) and CIFAR-10 from the JPEG tree there (49,000 /
1,000 / 10,000), each model is trained by the command with its automatic penalty and with that
penalty times 3, 1/3, 1/10 and 1/30, everything else automatic. A default that underfits shows
as a training accuracy that climbs, with the validation and test accuracies, as the penalty
falls. Data sets absent here are left out, and say so; ``--quick`` runs the digits and MNIST
only and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, publish

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FACTORS = (3.0, 1.0, 1 / 3, 1 / 10, 1 / 30)
MODELS = ("svm", "softmax")


def data_sets(quick):
    yield "digits", "digits"
    mnist = DATA / "mnist"
    if (mnist / "t10k-images-idx3-ubyte.gz").exists():
        yield "MNIST (test set)", f"mnist:{mnist}"
    else:
        print(f"MNIST: left out ({mnist} has no t10k-images-idx3-ubyte.gz)")
    cifar = DATA / "cifar10" / "cifar10-jpg.tar.gz"
    if quick:
        return
    if cifar.exists():
        yield "CIFAR-10", f"folder:{cifar}"
    else:
        print(f"CIFAR-10: left out ({cifar} is absent)")


def train(spec, model, reg, val_size):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "linclass",
            "train",
            "--dataset",
            spec,
            "--model",
            model,
            "--reg",
            str(reg),
            "--quiet",
            "--no-plots",
            "--out",
            tmp,
        ]
        if val_size:
            cmd += ["--val-size", str(val_size)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads((Path(tmp) / "metrics.json").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits and MNIST only; no write")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for name, spec in data_sets(args.quick):
        val_size = 1000 if spec.startswith("folder:") else None
        for model in MODELS:
            t = time.perf_counter()
            auto = train(spec, model, "auto", val_size)
            print(
                f"{name} {model} auto: reg {auto['reg']:.3g}, {time.perf_counter() - t:.0f} s",
                flush=True,
            )
            for factor in FACTORS:
                m = auto if factor == 1.0 else train(spec, model, auto["reg"] * factor, val_size)
                mark = "**" if factor == 1.0 else ""
                rows.append(
                    [
                        name,
                        model,
                        f"{mark}{factor:.3g}{mark}",
                        f"{m['reg']:.3g}",
                        f"{m['train_accuracy']:.3f}",
                        f"{m['val_accuracy']:.3f}",
                        f"{m['test_accuracy']:.3f}",
                        m["epochs"],
                    ]
                )
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    preamble = (
        f"Machine: {machine()}. `linclass train --dataset D --model M --reg R` with every "
        "other setting automatic (SGD, minibatches of 200, the automatic step, up to 100 "
        "epochs with the loss's stall test), seed 0; *factor* is R over the automatic "
        "penalty (bold: the default; the Softmax's was 10x larger before this table "
        "chose it). digits: 1,258 / 180 / 359 rows; MNIST: the 10,000 "
        "test images split 7,000 / 1,000 / 2,000; CIFAR-10: 49,000 / 1,000 / 10,000."
    )
    publish(
        "defaults",
        "The automatic penalty on three data sets",
        preamble,
        ["data", "model", "factor", "reg", "train", "validation", "test", "epochs"],
        rows,
        write=not (args.quick or args.no_write),
    )


if __name__ == "__main__":
    main()
