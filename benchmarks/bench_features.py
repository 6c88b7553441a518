"""Image features on CIFAR-10 with linclass's own classifier: test accuracy against the time the
features take (issue 14).

Run: ``.venv/bin/python benchmarks/bench_features.py [--pipelines hog+color,hog+hsv,patches:1600]
[--quick]`` (``make bench-features``; the patches take minutes: see the table). Reads the
CIFAR-10 JPEG tree in ../shared/data (50,000 training and 10,000 test images); ``--quick`` takes
5,000 and 1,000 of them and a small dictionary, prints only, and checks the script.

Each pipeline, named as ``linclass train --features`` names it (``linclass.features.spec``),
runs in a process of its own (so that its peak memory is its own): the features fitted on the
training images only, standardized (``MeanImage(standardize=True)``, as ``--features`` does),
then ``SoftmaxClassifier(solver="lbfgs")`` with its penalty chosen among a few values on 5,000
training images held out at random (stratified), refitted on all 50,000 and scored once on the
10,000 test images. Writes the table (with the machine, the time and peak memory of each step)
into RESULTS.md, a plot of accuracy against feature time (``features.png``) and the learned
dictionary of the patch features as a picture (``dictionary.png``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, publish

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "cifar10" / "cifar10-jpg.tar.gz"
REGS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
STORE = HERE / "features-results.json"  # every pipeline's last full run, by name
ITERATIONS = 300  # L-BFGS iterations at most


def make(name, quick):
    from linclass.features import spec

    feat = spec.build(name, (32, 32, 3), 255, seed=0)
    if quick and name.startswith("patches"):
        feat.set_params(n_patches=20_000)
    return feat


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(data, quick):
    from linclass.data import load_dataset

    d = load_dataset(f"folder:{data}")
    X, y, Xte, yte = d.X, d.y, d.X_test, d.y_test
    if quick:  # random images (the tree's rows come class by class)
        rng = np.random.default_rng(0)
        tr, te = rng.permutation(len(X))[:5000], rng.permutation(len(Xte))[:1000]
        X, y, Xte, yte = X[tr], y[tr], Xte[te], yte[te]
    return X, y, Xte, yte


def run(name, data, quick, regs, picture=None):
    """One pipeline, start to end, in this process: its figures as a dict."""
    from sklearn.model_selection import train_test_split

    from linclass import SoftmaxClassifier
    from linclass.data import MeanImage

    X, y, Xte, yte = load(data, quick)
    feat = make(name, quick)
    t = time.perf_counter()
    feat.fit(X)
    t_fit = time.perf_counter() - t
    F = feat.transform(X)
    Ft = feat.transform(Xte)
    t_feat = time.perf_counter() - t
    del X, Xte
    pre = MeanImage(standardize=True)
    F = pre.fit_transform(F)
    Ft = pre.transform(Ft)
    # 5,000 training images drawn at random, stratified (the JPEG tree's rows come class by
    # class: its last 5,000 are all trucks)
    tr, va = train_test_split(
        np.arange(len(F)), test_size=min(5000, len(F) // 5), stratify=y, random_state=0
    )
    t = time.perf_counter()
    vals = {}
    for reg in regs:
        clf = SoftmaxClassifier(solver="lbfgs", reg=reg, max_epochs=ITERATIONS, random_state=0)
        vals[reg] = clf.fit(F[tr], y[tr]).score(F[va], y[va])
        print(f"  {name}: reg {reg:g}: validation {vals[reg]:.4f}", flush=True)
    reg = max(vals, key=vals.get)
    clf = SoftmaxClassifier(solver="lbfgs", reg=reg, max_epochs=ITERATIONS, random_state=0).fit(
        F, y
    )
    t_train = time.perf_counter() - t
    test = clf.score(Ft, yte)
    print(
        f"{name}: {F.shape[1]:,} features in {t_feat:.1f} s (fit {t_fit:.1f} s); test "
        f"{test:.4f} (reg {reg:g}) after {t_train:.1f} s of training; peak "
        f"{peak_mb():,.0f} MB",
        flush=True,
    )
    if picture is not None and hasattr(feat, "centroids_"):
        dictionary_picture(feat, picture)
    return {
        "name": name,
        "dims": F.shape[1],
        "fit_s": t_fit,
        "feature_s": t_feat,
        "train_s": t_train,
        "reg": reg,
        "val": vals[reg],
        "test": test,
        "peak_mb": peak_mb(),
        "iterations": int(clf.n_iter_),
        "regs": list(regs),
        "validation": list(vals.values()),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }


def dictionary_picture(patches, path):
    """The learned centroids as small images, each scaled to its own range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = patches.centroids_
    p = patches.patch_size
    c = patches.image_shape_[2] if len(patches.image_shape_) == 3 else 1
    show = C[: min(len(C), 400)]
    side = int(np.ceil(np.sqrt(len(show))))
    fig, axes = plt.subplots(side, side, figsize=(side * 0.4, side * 0.4))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, centroid in zip(np.ravel(axes), show):
        im = centroid.reshape(p, p, c)
        im = (im - im.min()) / (np.ptp(im) + 1e-8)
        ax.imshow(
            im if c == 3 else im[..., 0], cmap=None if c == 3 else "gray", interpolation="nearest"
        )
    fig.suptitle(f"{len(C)} centroids (the first {len(show)}), whitened space")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def accuracy_plot(results, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, r in enumerate(results):  # labels below and above by turns: neighbours stay apart
        ax.scatter(r["feature_s"], r["test"])
        ax.annotate(
            r["name"],
            (r["feature_s"], r["test"]),
            textcoords="offset points",
            xytext=(5, -12 if i % 2 == 0 else 6),
        )
    ax.set_xscale("log")
    ax.margins(y=0.12)  # room for the labels above the top point and below the lowest
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlim(
        left=min(r["feature_s"] for r in results) / 1.5,
        right=max(r["feature_s"] for r in results) * 2,
    )
    ax.set_xlabel("time for the features of 60,000 images (s)")
    ax.set_ylabel("CIFAR-10 test accuracy")
    ax.set_title("linclass Softmax (L-BFGS) on image features")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipelines", default="hog+color,hog+hsv,patches:1600,patches:4000")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="5,000 / 1,000 images, patches of 100 centroids; prints only",
    )
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument(
        "--regs",
        default=None,
        metavar="R,R,...",
        help=f"the penalties to choose from (default {','.join(map(str, REGS))})",
    )
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child: this pipeline
    ap.add_argument("--json", default=None, help=argparse.SUPPRESS)  # ... its figures here
    ap.add_argument("--picture", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not Path(args.data).exists():
        print(f"the CIFAR-10 JPEG tree is not at {args.data}", file=sys.stderr)
        return 1
    regs = REGS[:2] if args.quick else REGS
    if args.regs:
        regs = tuple(float(r) for r in args.regs.split(","))
    if args.one:
        result = run(args.one, args.data, args.quick, regs, args.picture)
        Path(args.json).write_text(json.dumps(result))
        return 0
    write = not args.quick
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.pipelines.split(","):
            if args.quick and name.startswith("patches"):
                name = "patches:100"
            out = Path(tmp) / "result.json"
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                "--data",
                args.data,
                "--json",
                str(out),
                "--regs",
                ",".join(map(str, regs)),
            ] + (["--quick"] if args.quick else [])
            if write and name.startswith("patches:1600"):
                cmd += ["--picture", str(HERE / "dictionary.png")]
            subprocess.run(cmd, check=True)
            results[name] = json.loads(out.read_text())
    if write:  # a run of some pipelines replaces theirs; the others stay as last measured
        stored = json.loads(STORE.read_text()) if STORE.exists() else {}
        results = {**stored, **results}
        STORE.write_text(json.dumps(results, indent=1) + "\n")
    order = ["hog+color", "hog+hsv"]
    results = sorted(
        results.values(),
        key=lambda r: (
            r["name"] not in order,
            order.index(r["name"]) if r["name"] in order else r["dims"],
        ),
    )
    rows = [
        [
            f"`{r['name']}`",
            f"{r['dims']:,}",
            f"{r['test']:.3f}",
            f"{r['val']:.3f}",
            f"{r['reg']:g} (of {', '.join(f'{v:g}' for v in r['regs'])})",
            f"{r['feature_s']:.0f} s ({r['fit_s']:.0f} s fit)",
            f"{r['train_s']:.0f} s",
            f"{r['peak_mb'] / 1024:,.1f} GB",
            r["date"],
        ]
        for r in results
    ]
    machines = sorted({r["machine"] for r in results})
    publish(
        "features",
        "Image features on CIFAR-10 (`benchmarks/bench_features.py`)",
        f"Machine: {'; '.join(machines)}. Run: `benchmarks/bench_features.py "
        "--pipelines NAMES` (each pipeline in a process of its own; a run of some "
        "pipelines replaces their rows, kept in `features-results.json`). "
        f"{50_000:,} training and {10_000:,} test images (the JPEG tree). Features fitted "
        "on the training images only and standardized, as `linclass train --features NAME` "
        f'does; `SoftmaxClassifier(solver="lbfgs", max_epochs={ITERATIONS})`, its penalty '
        "chosen among those listed on 5,000 training images held out at random "
        "(stratified), refitted on all of them. Feature time: fitting the features (the "
        "dictionary, for the patches) and computing those of the training and test images; "
        "training: the penalty search and the final fit; peak: the process's resident "
        "memory (the images, the features and the classifier).",
        [
            "pipeline",
            "features",
            "test accuracy",
            "validation",
            "reg",
            "feature time",
            "training",
            "peak memory",
            "run",
        ],
        rows,
        write,
    )
    if write:
        accuracy_plot(results, HERE / "features.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
