"""Image features on CIFAR-10 with linclass's own classifier: test accuracy against the time the
features take (issue 14).

Run: ``.venv/bin/python benchmarks/bench_features.py [--pipelines hog+hue,rich,patches:1600]
[--quick]`` (``make bench-features``; the patches take minutes: see the table). Reads the
CIFAR-10 JPEG tree in ../shared/data (50,000 training and 10,000 test images); ``--quick`` takes
5,000 and 1,000 of them and a small dictionary, prints only, and checks the script.

Each pipeline: the features fitted on the training images only, standardized (mean and std of
the training features), then ``SoftmaxClassifier(solver="lbfgs")`` with its penalty chosen on
1,000 training images held out at random among a few values, refitted on all 50,000 and scored once on the
10,000 test images. Writes the table (with the machine, the time and peak memory of each step)
into RESULTS.md, a plot of accuracy against feature time (``features.png``) and the learned
dictionary of the patch features as a picture (``dictionary.png``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from _common import machine, publish

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "cifar10" / "cifar10-jpg.tar.gz"


def make(name, quick):
    from sklearn.pipeline import FeatureUnion

    from linclass.features import HOG, ColorHistogram, Patches

    shape = (32, 32, 3)
    if name == "hog+hue":  # the course's features (with colour gradients)
        return FeatureUnion([("hog", HOG(shape)), ("hue", ColorHistogram(shape, bins=10))])
    if name == "rich":  # finer cells, block-normalized, and a joint HSV histogram
        return FeatureUnion([("hog", HOG(shape, cell_size=4, block_size=2)),
                             ("hsv", ColorHistogram(shape, bins=(12, 4, 4)))])
    if name.startswith("patches"):
        k = int(name.split(":")[1]) if ":" in name else 1600
        return Patches(shape, n_centroids=k, n_patches=20_000 if quick else 400_000,
                       random_state=0)
    raise SystemExit(f"unknown pipeline {name!r}: hog+hue, rich or patches[:K]")


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(name, X, y, Xte, yte, quick, regs):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from linclass import SoftmaxClassifier

    feat = make(name, quick)
    t = time.perf_counter()
    F = feat.fit(X).transform(X)
    Ft = feat.transform(Xte)
    t_feat = time.perf_counter() - t
    scaler = StandardScaler().fit(F)
    F = scaler.transform(F).astype(np.float32)
    Ft = scaler.transform(Ft).astype(np.float32)
    # 1,000 training images drawn at random, stratified (the JPEG tree's rows come class by
    # class: its last 1,000 are all trucks)
    tr, va = train_test_split(np.arange(len(F)), test_size=min(1000, len(F) // 5),
                              stratify=y, random_state=0)
    t = time.perf_counter()
    vals = {}
    for reg in regs:
        clf = SoftmaxClassifier(solver="lbfgs", reg=reg, max_epochs=200, random_state=0)
        vals[reg] = clf.fit(F[tr], y[tr]).score(F[va], y[va])
    reg = max(vals, key=vals.get)
    clf = SoftmaxClassifier(solver="lbfgs", reg=reg, max_epochs=200, random_state=0).fit(F, y)
    t_train = time.perf_counter() - t
    test = clf.score(Ft, yte)
    print(f"{name}: {F.shape[1]:,} features in {t_feat:.1f} s; validation {vals}; test "
          f"{test:.4f} (reg {reg}) after {t_train:.1f} s of training; peak {peak_mb():,.0f} MB",
          flush=True)
    return dict(name=name, dims=F.shape[1], feature_s=t_feat, train_s=t_train, reg=reg,
                val=vals[reg], test=test, peak_mb=peak_mb(), feature=feat)


def dictionary_picture(patches, path):
    """The learned centroids as small images, each scaled to its own range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C = patches.centroids_
    p = patches.patch_size
    c = patches.image_shape_[2] if len(patches.image_shape_) == 3 else 1
    show = C[:min(len(C), 400)]
    side = int(np.ceil(np.sqrt(len(show))))
    fig, axes = plt.subplots(side, side, figsize=(side * 0.4, side * 0.4))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, centroid in zip(np.ravel(axes), show):
        im = centroid.reshape(p, p, c)
        im = (im - im.min()) / (np.ptp(im) + 1e-8)
        ax.imshow(im if c == 3 else im[..., 0], cmap=None if c == 3 else "gray",
                  interpolation="nearest")
    fig.suptitle(f"{len(C)} centroids (the first {len(show)}), whitened space")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def accuracy_plot(results, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        ax.scatter(r["feature_s"], r["test"])
        ax.annotate(r["name"], (r["feature_s"], r["test"]), textcoords="offset points",
                    xytext=(5, -10))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlim(left=min(r["feature_s"] for r in results) / 1.5,
                right=max(r["feature_s"] for r in results) * 2)
    ax.set_xlabel("time for the features of 60,000 images (s)")
    ax.set_ylabel("CIFAR-10 test accuracy")
    ax.set_title("linclass Softmax (L-BFGS) on image features")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipelines", default="hog+hue,rich,patches:1600")
    ap.add_argument("--quick", action="store_true",
                    help="5,000 / 1,000 images, patches:100; prints only")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args(argv)
    if not Path(args.data).exists():
        print(f"the CIFAR-10 JPEG tree is not at {args.data}", file=sys.stderr)
        return 1
    from linclass.data import load_dataset

    d = load_dataset(f"folder:{args.data}")
    X, y, Xte, yte = d.X, d.y, d.X_test, d.y_test
    names = args.pipelines.split(",")
    if args.quick:  # random images (the tree's rows come class by class)
        rng = np.random.default_rng(0)
        tr, te = rng.permutation(len(X))[:5000], rng.permutation(len(Xte))[:1000]
        X, y, Xte, yte = X[tr], y[tr], Xte[te], yte[te]
        names = [n if not n.startswith("patches") else "patches:100" for n in names]
    regs = (1e-4, 1e-3, 1e-2)
    results = [run(n, X, y, Xte, yte, args.quick, regs) for n in names]
    rows = [[r["name"], f"{r['dims']:,}", f"{r['test']:.3f}", f"{r['val']:.3f}", f"{r['reg']:g}",
             f"{r['feature_s']:.0f} s", f"{r['train_s']:.0f} s", f"{r['peak_mb']:,.0f} MB"]
            for r in results]
    write = not args.quick
    publish("features", "Image features on CIFAR-10 (`benchmarks/bench_features.py`)",
            f"Machine: {machine()}. Run: `benchmarks/bench_features.py --pipelines "
            f"{args.pipelines}`. {len(X):,} training and {len(Xte):,} test images (the JPEG "
            "tree). Features fitted on the training images only and standardized; "
            "`SoftmaxClassifier(solver=\"lbfgs\", max_epochs=200)`, its penalty chosen among "
            f"{list(regs)} on 1,000 training images held out at random (stratified), refitted "
            "on all of them. Feature "
            "time: fitting and computing the features of the training and test images; "
            "training: the penalty search and the final fit; peak: the process's resident "
            "memory so far.",
            ["pipeline", "features", "test accuracy", "validation", "reg", "feature time",
             "training", "peak memory"], rows, write)
    if write:
        accuracy_plot(results, HERE / "features.png")
        for r in results:
            if r["name"].startswith("patches"):
                dictionary_picture(r["feature"], HERE / "dictionary.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
