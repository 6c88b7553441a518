"""linclass against the peers a user would otherwise pick, on the same data in one run.

Run: ``.venv/bin/python benchmarks/compare.py [--quick] [--data PATH]``. The peers are optional
extras: ``pip install .[bench]`` (scikit-learn is always there; PyTorch as torch==2.13.0).

Every contender runs in its own process (so its peak memory is its own) on the same
preprocessed float32 matrices, read from one memory-mapped file: raw CIFAR-10 pixels minus the
mean training image (the JPEG tree in ../shared/data; synthetic data of the same size with
--synthetic). The sample budget is the course's: 1,500 minibatch steps of 200, about 6 epochs.

| contender | what |
| --- | --- |
| linclass SVM / Softmax | minibatch SGD, 1,500 steps of 200 |
| numpy loop | the course's loop: random batch with replacement, vectorized loss, W -= lr dW |
| PyTorch | nn.Linear + multi_margin_loss / cross_entropy + SGD, the same schedule |
| SGDClassifier | scikit-learn, loss="hinge" / "log_loss", 6 epochs |
| LogisticRegression | scikit-learn, lbfgs, float32 |
| LinearSVC | scikit-learn (liblinear), crammer_singer too; stopped at the time limit |

Writes the table and the machine into benchmarks/RESULTS.md, and a plot of validation accuracy
against fit time to benchmarks/compare.png.
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

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "cifar10" / "cifar10-jpg.tar.gz"
STEPS, BATCH = 1500, 200
# Settings from `linclass tune` on this data (benchmarks/cifar_accuracy.py).
SVM = {"lr": 1.75e-7, "reg": 1.1e3}
SOFTMAX = {"lr": 8.2e-7, "reg": 1.8e2}


# -- the contenders (each runs in a child process) ----------------------------------------------

def run_linclass(X, y, model):
    from linclass import LinearSVM, SoftmaxClassifier

    cls, p = (LinearSVM, SVM) if model == "svm" else (SoftmaxClassifier, SOFTMAX)
    clf = cls(learning_rate=p["lr"], reg=p["reg"], batch_size=BATCH, max_steps=STEPS, tol=None,
              random_state=0)
    return clf.fit(X, y), clf.decision_function if model == "svm" else clf.predict_proba


def run_numpy_loop(X, y, model):
    from linclass.losses import softmax_loss, svm_loss

    p = SVM if model == "svm" else SOFTMAX
    loss = svm_loss if model == "svm" else softmax_loss
    rng = np.random.default_rng(0)
    Xb1 = np.empty((BATCH, X.shape[1] + 1), X.dtype)
    Xb1[:, -1] = 1
    W = (0.001 * rng.standard_normal((10, X.shape[1] + 1))).astype(X.dtype)
    for _ in range(STEPS):
        idx = rng.choice(len(X), BATCH, replace=True)
        Xb1[:, :-1] = X[idx]
        _, dW = loss(W, Xb1, y[idx], p["reg"])
        W -= p["lr"] * dW
    return None, lambda Z: Z @ W[:, :-1].T + W[:, -1]


def run_torch(X, y, model):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    p = SVM if model == "svm" else SOFTMAX
    Xt, yt = torch.from_numpy(np.asarray(X)), torch.from_numpy(y.astype(np.int64))
    lin = torch.nn.Linear(X.shape[1], 10)
    with torch.no_grad():  # the same start as linclass and the course: 0.001 * randn, bias 0
        lin.weight.copy_(0.001 * torch.randn(10, X.shape[1]))
        lin.bias.zero_()
    opt = torch.optim.SGD(lin.parameters(), lr=p["lr"])
    F = torch.nn.functional
    loss_fn = (lambda s, t: F.multi_margin_loss(s, t) * 10) if model == "svm" else F.cross_entropy
    steps = 0
    while steps < STEPS:
        perm = torch.randperm(len(Xt))
        for s in range(0, len(Xt), BATCH):
            idx = perm[s:s + BATCH]
            opt.zero_grad()
            out = loss_fn(lin(Xt[idx]), yt[idx]) + p["reg"] * (lin.weight ** 2).sum()
            out.backward()
            opt.step()
            steps += 1
            if steps >= STEPS:
                break
    with torch.no_grad():
        W, b = lin.weight.numpy().copy(), lin.bias.numpy().copy()
    return None, lambda Z: Z @ W.T + b


def run_sgdclassifier(X, y, model):
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="hinge" if model == "svm" else "log_loss", max_iter=6, tol=None,
                        random_state=0)
    clf.fit(X, y)
    return clf, clf.decision_function


def run_logreg(X, y, model):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=100, C=1.0 / (2 * SOFTMAX["reg"] * len(X)))
    clf.fit(X, y)
    return clf, clf.decision_function


def run_linearsvc(X, y, model):
    from sklearn.svm import LinearSVC

    kind = "crammer_singer" if model == "crammer_singer" else "ovr"
    clf = LinearSVC(multi_class=kind, C=1.0 / (2 * SVM["reg"] * len(X)), max_iter=1000)
    clf.fit(X, y)
    return clf, clf.decision_function


CONTENDERS = {
    "linclass SVM": (run_linclass, "svm"),
    "linclass Softmax": (run_linclass, "softmax"),
    "numpy loop, SVM": (run_numpy_loop, "svm"),
    "PyTorch, SVM": (run_torch, "svm"),
    "PyTorch, Softmax": (run_torch, "softmax"),
    "SGDClassifier(hinge)": (run_sgdclassifier, "svm"),
    "SGDClassifier(log_loss)": (run_sgdclassifier, "softmax"),
    "LogisticRegression(lbfgs)": (run_logreg, "softmax"),
    "LinearSVC": (run_linearsvc, "svm"),
    "LinearSVC(crammer_singer)": (run_linearsvc, "crammer_singer"),
}


def child(name, folder):
    """Run one contender on the memory-mapped data; print one JSON line."""
    fn, model = CONTENDERS[name]
    arr = {k: np.load(Path(folder) / f"{k}.npy", mmap_mode="r")
           for k in ("X", "y", "Xv", "yv", "Xt", "yt")}
    X = np.asarray(arr["X"])  # the training matrix in memory, as every contender needs it
    t = time.perf_counter()
    _, score = fn(X, np.asarray(arr["y"]), model)
    fit = time.perf_counter() - t
    accs = {}
    for split, (A, b) in {"val": ("Xv", "yv"), "test": ("Xt", "yt")}.items():
        S = np.asarray(score(np.asarray(arr[A])))
        accs[split] = float(np.mean(np.argmax(S, axis=1) == np.asarray(arr[b])))
    print(json.dumps({"fit": fit, **accs, "rss_mb": _peak_rss_mb()}))


def _peak_rss_mb():
    """This process's peak resident memory. VmHWM belongs to the address space made at exec,
    unlike getrusage's maxrss, which Linux carries over from the parent that forked us."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(name, folder, limit):
    """Run one contender in a child process, stopped at ``limit`` seconds."""
    import threading

    cmd = [sys.executable, __file__, "--child", name, "--folder", folder]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        timer = threading.Timer(limit, proc.kill)
        timer.start()
        out = proc.stdout.read()
        _, status = os.waitpid(proc.pid, 0)
        timed_out = not timer.is_alive()
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        err_text = err.read()
    if timed_out:
        return {"name": name, "status": f"did not finish in {limit:.0f} s"}
    if proc.returncode != 0:
        return {"name": name, "status": "failed: " + (err_text.strip().splitlines() or ["?"])[-1]}
    result = json.loads(out.strip().splitlines()[-1])
    return {"name": name, "status": "ok", **result}


def prepare(args, folder):
    from linclass.data import MeanImage, load_image_folder, train_val_test_split

    if args.synthetic or not Path(args.data).exists():
        rng = np.random.default_rng(0)
        n = 4_900 if args.quick else 49_000
        data = {"X": rng.standard_normal((n, 3072), dtype=np.float32) * 60,
                "y": rng.integers(10, size=n), "Xv": rng.standard_normal((1000, 3072),
                                                                           dtype=np.float32) * 60,
                "yv": rng.integers(10, size=1000),
                "Xt": rng.standard_normal((2000, 3072), dtype=np.float32) * 60,
                "yt": rng.integers(10, size=2000)}
        source = f"synthetic {n:,} x 3,072 float32"
    else:
        ds = load_image_folder(args.data)
        sp = train_val_test_split(ds, val_size=1000, random_state=0)
        pre = MeanImage().fit(sp.X_train)
        keep = 4_900 if args.quick else len(sp.y_train)
        data = {"X": pre.transform(sp.X_train[:keep]), "y": sp.y_train[:keep],
                "Xv": pre.transform(sp.X_val), "yv": sp.y_val,
                "Xt": pre.transform(sp.X_test), "yt": sp.y_test}
        source = f"CIFAR-10 JPEG tree, {keep:,} training images, 1,000 validation, 10,000 test"
    for k, v in data.items():
        np.save(Path(folder) / f"{k}.npy", v)
    return source, data["X"].nbytes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4,900 training rows")
    ap.add_argument("--synthetic", action="store_true", help="random data of the same shape")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per contender")
    ap.add_argument("--only", nargs="*", default=None, help="contender names to run")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.folder)
        return 0

    sys.path.insert(0, str(HERE))
    from _common import machine, publish

    with tempfile.TemporaryDirectory(prefix="linclass-compare-") as folder:
        source, nbytes = prepare(args, folder)
        results = []
        for name in args.only or CONTENDERS:
            r = run_child(name, folder, args.limit)
            results.append(r)
            print(r, flush=True)
    ok = [r for r in results if r["status"] == "ok"]
    ref = {m: next((r["fit"] for r in ok if r["name"] == f"linclass {m}"), None)
           for m in ("SVM", "Softmax")}
    rows = []
    for r in results:
        if r["status"] != "ok":
            rows.append((r["name"], "", "", "", "", r["status"]))
            continue
        base = ref["Softmax"] if "Softmax" in r["name"] or "log" in r["name"].lower() \
            else ref["SVM"]
        ratio = f"{r['fit'] / base:.1f}x" if base else ""
        rows.append((r["name"], f"{r['fit']:.2f} s", ratio, f"{r['val']:.3f}", f"{r['test']:.3f}",
                     f"{r['rss_mb']:,.0f} MB"))
    publish("compare", "linclass vs peers (`benchmarks/compare.py`)",
            f"Machine: {machine()}. Data: {source} (training matrix {nbytes / 1e6:,.0f} MB, "
            "memory-mapped by every contender). Budget: 1,500 steps of 200 (SGD-type), else "
            "the peer's own stopping rule. Peak memory: the contender's whole process, with "
            "the training, validation and test matrices it reads.",
            ["contender", "fit time", "vs linclass", "validation", "test", "peak memory"],
            rows, not args.no_write)
    if ok and not args.no_write:
        _plot(ok, HERE / "compare.png")
    return 0


def _plot(results, path):
    from linclass.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ax.scatter(r["fit"], r["val"], s=60, marker="*" if "linclass" in r["name"] else "o")
        ax.annotate(r["name"], (r["fit"], r["val"]), fontsize=8, xytext=(4, 3),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s, log scale)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("validation accuracy against fit time")
    _save(fig, path)


if __name__ == "__main__":
    sys.exit(main())
