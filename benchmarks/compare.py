"""linclass against the peers a user would otherwise pick: two races on the same data in one run.

Run: ``.venv/bin/python benchmarks/compare.py [--quick] [--race budget|accuracy] [--data PATH]``.
The peers are optional extras: ``pip install .[bench]`` (scikit-learn is always there; PyTorch
as torch==2.13.0).

Every contender runs in its own process (so its memory is its own) on the same preprocessed
float32 matrices, saved once and read into each contender's memory: raw CIFAR-10 pixels minus
the mean training image, 49,000 training / 1,000 validation / 10,000 test images (the JPEG tree
in ../shared/data; without it the script says so and stops). ``--synthetic`` races on
learnable synthetic data of the same size instead (labels from a random linear teacher). Only
a full run on CIFAR-10 writes its figures over the recorded ones (RESULTS.md,
compare-results.json, compare.png); ``--quick`` and ``--synthetic`` runs print them, and write
them only with ``--write``. Each contender's clock starts after its data is read and its
libraries are imported.

**Budget race** (speed at a fixed amount of work): 1,500 minibatch steps of 200 (about 6
epochs), the course's budget, at the course-style settings found by ``linclass tune``.

| contender | what |
| --- | --- |
| linclass SVM / Softmax | minibatch SGD, ``shuffle="blocks"`` (contiguous slices) |
| linclass SVM, shuffle=True | the same, with each batch gathered by index |
| numpy loop | the course's loop: random batch with replacement, vectorized loss, W -= lr dW |
| PyTorch | nn.Linear + multi_margin_loss / cross_entropy + SGD, the same schedule |

**Accuracy race** (time to accuracy): each contender trains until its own stopping rule, and
its validation accuracy is recorded against wall time as it goes.

| contender | what |
| --- | --- |
| linclass Softmax / SVM | minibatch SGD, auto step, 40 epochs, the best validation epoch kept |
| linclass Softmax, lbfgs | full-batch L-BFGS on the same objective as LogisticRegression |
| PyTorch | the same model, step and 40 epochs as linclass, the last epoch kept |
| SGDClassifier | scikit-learn defaults, loss="hinge" / "log_loss", one partial_fit per epoch |
| LogisticRegression | lbfgs, the same L2 penalty as linclass Softmax, warm-started in chunks |
| LinearSVC | liblinear, ovr and crammer_singer, the same penalty as linclass SVM |

Writes both tables with the machine into benchmarks/RESULTS.md, and a plot of validation
accuracy against wall time to benchmarks/compare.png.
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
MAX_EPOCHS = 40  # the accuracy race's SGD-type contenders (early stopping may end it sooner)


class Curve(list):
    """(seconds since the fit began, validation accuracy) points, as training goes."""

    def __init__(self, Xv, yv):
        super().__init__()
        self.Xv, self.yv = Xv, yv
        self.t0 = time.perf_counter()

    def add(self, score):
        """Score the validation set with ``score(Xv) -> (n, C)`` and record it."""
        t = time.perf_counter() - self.t0
        acc = float(np.mean(np.argmax(np.asarray(score(self.Xv)), axis=1) == self.yv))
        self.append((t, acc))


def _linear(W, b):
    return lambda Z: Z @ W.T + b


# -- the budget race ----------------------------------------------------------------------------


def run_linclass(X, y, model, curve, shuffle="blocks"):
    from linclass import LinearSVM, SoftmaxClassifier

    cls, p = (LinearSVM, SVM) if model == "svm" else (SoftmaxClassifier, SOFTMAX)
    clf = cls(
        learning_rate=p["lr"],
        reg=p["reg"],
        batch_size=BATCH,
        max_steps=STEPS,
        tol=None,
        random_state=0,
        shuffle=shuffle,
    )
    clf.fit(X, y)
    return clf.decision_function if model == "svm" else clf.predict_proba


def run_linclass_gather(X, y, model, curve):
    return run_linclass(X, y, model, curve, shuffle=True)


def run_numpy_loop(X, y, model, curve):
    from linclass.lecture import softmax_loss_vectorized, svm_loss_vectorized

    p = SVM if model == "svm" else SOFTMAX
    loss = svm_loss_vectorized if model == "svm" else softmax_loss_vectorized
    rng = np.random.default_rng(0)
    Xb1 = np.empty((BATCH, X.shape[1] + 1), X.dtype)
    Xb1[:, -1] = 1
    W = (0.001 * rng.standard_normal((10, X.shape[1] + 1))).astype(X.dtype)
    for _ in range(STEPS):
        idx = rng.choice(len(X), BATCH, replace=True)
        Xb1[:, :-1] = X[idx]
        _, dW = loss(W, Xb1, y[idx], p["reg"])
        W -= p["lr"] * dW
    return _linear(W[:, :-1], W[:, -1])


def _torch_sgd(X, y, model, lr, reg, steps=None, epochs=None, curve=None):
    """nn.Linear trained by SGD on shuffled minibatches of BATCH, for ``steps`` steps or
    ``epochs`` epochs (scoring ``curve`` after each epoch)."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    Xt, yt = torch.from_numpy(np.asarray(X)), torch.from_numpy(y.astype(np.int64))
    lin = torch.nn.Linear(X.shape[1], 10)
    with torch.no_grad():  # the same start as linclass and the course: 0.001 * randn, bias 0
        lin.weight.copy_(0.001 * torch.randn(10, X.shape[1]))
        lin.bias.zero_()
    opt = torch.optim.SGD(lin.parameters(), lr=lr)
    F = torch.nn.functional
    loss_fn = (lambda s, t: F.multi_margin_loss(s, t) * 10) if model == "svm" else F.cross_entropy

    def weights():
        with torch.no_grad():
            return lin.weight.numpy().copy(), lin.bias.numpy().copy()

    done = 0
    for _ in range(epochs or 10**9):
        perm = torch.randperm(len(Xt))
        for s in range(0, len(Xt), BATCH):
            idx = perm[s : s + BATCH]
            opt.zero_grad()
            out = loss_fn(lin(Xt[idx]), yt[idx]) + reg * (lin.weight**2).sum()
            out.backward()
            opt.step()
            done += 1
            if steps is not None and done >= steps:
                return _linear(*weights())
        if curve is not None:
            curve.add(_linear(*weights()))
    return _linear(*weights())


def run_torch(X, y, model, curve):
    p = SVM if model == "svm" else SOFTMAX
    return _torch_sgd(X, y, model, p["lr"], p["reg"], steps=STEPS)


# -- the accuracy race --------------------------------------------------------------------------


def _linclass_race(X, y, model, curve):
    from linclass import LinearSVM, SoftmaxClassifier

    if model == "lbfgs":
        clf = SoftmaxClassifier(reg=SOFTMAX["reg"], solver="lbfgs", max_epochs=150, random_state=0)
    else:
        # The same 40 epochs as PyTorch's, keeping the weights of the best validation epoch.
        cls, p = (LinearSVM, SVM) if model == "svm" else (SoftmaxClassifier, SOFTMAX)
        clf = cls(
            reg=p["reg"],
            max_epochs=MAX_EPOCHS,
            early_stopping=True,
            n_iter_no_change=MAX_EPOCHS,
            random_state=0,
            shuffle="blocks",
        )

    def on_epoch(info):
        if info["event"] == "epoch":
            curve.append((time.perf_counter() - curve.t0, info["val_accuracy"]))

    clf.fit(X, y, eval_set=(curve.Xv, curve.yv), callback=on_epoch)
    return clf


def run_linclass_race(X, y, model, curve):
    clf = _linclass_race(X, y, model, curve)
    return clf.decision_function


def run_torch_race(X, y, model, curve):
    """PyTorch with linclass's step (resolved from "auto" on the same data) and penalty."""
    from linclass import LinearSVM, SoftmaxClassifier

    cls, p = (LinearSVM, SVM) if model == "svm" else (SoftmaxClassifier, SOFTMAX)
    lr = cls(reg=p["reg"], max_steps=1, random_state=0).fit(X[:4000], y[:4000]).learning_rate_
    curve.t0 = time.perf_counter()  # the step is linclass's finding, not PyTorch's work
    return _torch_sgd(X, y, model, lr, p["reg"], epochs=MAX_EPOCHS, curve=curve)


def run_sgdclassifier(X, y, model, curve):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="hinge" if model == "svm" else "log_loss", random_state=0)
    classes = np.unique(y)
    best, stall = -1.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(MAX_EPOCHS):  # its own fit would stop by tol=1e-3 on the training loss
            clf.partial_fit(X, y, classes=classes)
            curve.add(clf.decision_function)
            best, stall = (curve[-1][1], 0) if curve[-1][1] > best else (best, stall + 1)
            if stall >= 10:
                break
    return clf.decision_function


def run_logreg(X, y, model, curve, chunk=10, max_iter=300):
    """lbfgs in warm-started chunks of ``chunk`` iterations, to score it as it goes."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=chunk, warm_start=True, C=1.0 / (2 * SOFTMAX["reg"] * len(X)))
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while done < max_iter:
            clf.fit(X, y)
            done += int(clf.n_iter_[0])
            curve.add(clf.decision_function)
            if clf.n_iter_[0] < chunk:  # converged
                break
    return clf.decision_function


def run_linearsvc(X, y, model, curve):
    from sklearn.svm import LinearSVC

    kind = "crammer_singer" if model == "crammer_singer" else "ovr"
    clf = LinearSVC(multi_class=kind, C=1.0 / (2 * SVM["reg"] * len(X)), max_iter=1000)
    clf.fit(X, y)
    curve.add(clf.decision_function)
    return clf.decision_function


BUDGET = {
    "linclass SVM": (run_linclass, "svm"),
    "linclass Softmax": (run_linclass, "softmax"),
    "linclass SVM, shuffle=True": (run_linclass_gather, "svm"),
    "numpy loop, SVM": (run_numpy_loop, "svm"),
    "PyTorch, SVM": (run_torch, "svm"),
    "PyTorch, Softmax": (run_torch, "softmax"),
}
ACCURACY = {
    "linclass Softmax": (run_linclass_race, "softmax"),
    "linclass SVM": (run_linclass_race, "svm"),
    "linclass Softmax, lbfgs": (run_linclass_race, "lbfgs"),
    "PyTorch, Softmax": (run_torch_race, "softmax"),
    "PyTorch, SVM": (run_torch_race, "svm"),
    "SGDClassifier(log_loss)": (run_sgdclassifier, "softmax"),
    "SGDClassifier(hinge)": (run_sgdclassifier, "svm"),
    "LogisticRegression(lbfgs)": (run_logreg, "softmax"),
    "LinearSVC": (run_linearsvc, "svm"),
    "LinearSVC(crammer_singer)": (run_linearsvc, "crammer_singer"),
}
RACES = {"budget": BUDGET, "accuracy": ACCURACY}


def child(race, name, folder):
    """Run one contender on the saved data; print one JSON line."""
    fn, model = RACES[race][name]
    # Read into the process's own memory, as a user's arrays are: a memory-mapped file's 4 KB
    # pages make the products measurably slower (TLB misses) than ordinary memory.
    arr = {k: np.load(Path(folder) / f"{k}.npy") for k in ("X", "y", "Xv", "yv")}
    X, y, Xv, yv = arr["X"], arr["y"], arr["Xv"], arr["yv"]
    # Imports are not training: load the contender's libraries before the clock starts.
    # (linclass's top level imports its parts on first use: name the estimators' module)
    for module, users in (
        ("linclass.estimators", ("linclass", "numpy", "PyTorch")),
        ("torch", ("PyTorch",)),
        ("sklearn.linear_model", ("SGD", "Logistic")),
        ("sklearn.svm", ("LinearSVC",)),
    ):
        if name.startswith(users):
            __import__(module)
    if name.startswith("linclass"):  # and its compiled kernel, loaded from numba's cache
        from linclass import fused

        fused.warm(X.dtype)
    _reset_peak_rss()
    before = _rss_mb()
    curve = Curve(Xv, yv)
    score = fn(X, y, model, curve)
    fit = time.perf_counter() - curve.t0
    fit_rss = _peak_rss_mb()
    arr.update({k: np.load(Path(folder) / f"{k}.npy") for k in ("Xt", "yt")})  # after the fit
    accs = {}
    for split, (A, b) in {"val": ("Xv", "yv"), "test": ("Xt", "yt")}.items():
        S = np.asarray(score(np.asarray(arr[A])))
        accs[split] = float(np.mean(np.argmax(S, axis=1) == np.asarray(arr[b])))
    print(
        json.dumps(
            {
                "fit": fit,
                **accs,
                "fit_rss_mb": fit_rss,
                "rss_mb": _peak_rss_mb(),
                "before_rss_mb": before,
                "curve": list(curve),
            }
        )
    )


def _reset_peak_rss():
    """Start this process's peak-memory count again from its present size (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_mb():
    """This process's resident memory now."""
    return _status_mb("VmRSS:")


def _peak_rss_mb():
    """This process's peak resident memory. VmHWM belongs to the address space made at exec,
    unlike getrusage's maxrss, which Linux carries over from the parent that forked us."""
    return _status_mb("VmHWM:")


def _status_mb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(race, name, folder, limit):
    """Run one contender in a child process, stopped at ``limit`` seconds."""
    import threading

    cmd = [sys.executable, __file__, "--child", name, "--race", race, "--folder", folder]
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


def synthetic(n, seed=0):
    """Data with a signal to learn: Gaussian rows of CIFAR-10's size and scale, labelled by a
    random linear teacher plus noise, so that an accuracy race means something (a Softmax
    reaches about 0.36 in 5 epochs on 4,900 rows, where chance is 0.1)."""
    rng = np.random.default_rng(seed)
    # The classes differ along 10 directions of the 3,072 (as images differ in a few patterns).
    directions = np.linalg.qr(rng.standard_normal((3072, 10)))[0].astype(np.float32)
    teacher = directions @ rng.standard_normal((10, 10)).astype(np.float32)

    def part(rows):
        X = rng.standard_normal((rows, 3072), dtype=np.float32) * 60
        scores = X @ teacher
        y = np.argmax(scores + 0.1 * scores.std() * rng.standard_normal(scores.shape), axis=1)
        return X, y

    (X, y), (Xv, yv), (Xt, yt) = part(n), part(1000), part(2000)
    return {"X": X, "y": y, "Xv": Xv, "yv": yv, "Xt": Xt, "yt": yt}


def prepare(args, folder):
    from linclass.data import MeanImage, load_image_folder, train_val_test_split

    if args.synthetic:
        n = 4_900 if args.quick else 49_000
        data = synthetic(n)
        source = (
            f"synthetic {n:,} x 3,072 float32, labels from a random linear teacher with "
            "noise (learnable, not CIFAR-10)"
        )
    else:
        ds = load_image_folder(args.data)
        sp = train_val_test_split(ds, val_size=1000, random_state=0)
        pre = MeanImage().fit(sp.X_train)
        keep = 4_900 if args.quick else len(sp.y_train)
        data = {
            "X": pre.transform(sp.X_train[:keep]),
            "y": sp.y_train[:keep],
            "Xv": pre.transform(sp.X_val),
            "yv": sp.y_val,
            "Xt": pre.transform(sp.X_test),
            "yt": sp.y_test,
        }
        source = f"CIFAR-10 JPEG tree, {keep:,} training images, 1,000 validation, 10,000 test"
    for k, v in data.items():
        np.save(Path(folder) / f"{k}.npy", v)
    return source, data["X"].nbytes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4,900 training rows")
    ap.add_argument(
        "--synthetic",
        action="store_true",
        help="a learnable synthetic data set of the same shape, instead of CIFAR-10",
    )
    ap.add_argument("--race", choices=["budget", "accuracy", "both"], default="both")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per contender")
    ap.add_argument("--only", nargs="*", default=None, help="contender names to run")
    ap.add_argument("--no-write", action="store_true", help="never write the results")
    ap.add_argument(
        "--write",
        action="store_true",
        help="write the results of a --quick or --synthetic run over the recorded "
        "ones (by default only a full run on CIFAR-10 replaces them)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.race, args.child, args.folder)
        return 0

    if not args.synthetic and not Path(args.data).exists():
        print(
            f"compare.py: the CIFAR-10 image tree is not at {args.data}: give --data PATH, or "
            "--synthetic for a race on learnable synthetic data (its figures are not "
            "written over the recorded ones unless --write).",
            file=sys.stderr,
        )
        return 1
    sys.path.insert(0, str(HERE))
    from _common import machine

    races = ["budget", "accuracy"] if args.race == "both" else [args.race]
    results = {}
    with tempfile.TemporaryDirectory(prefix="linclass-compare-") as folder:
        source, nbytes = prepare(args, folder)
        for race in races:
            results[race] = []
            for name in RACES[race]:
                if args.only and name not in args.only:
                    continue
                r = run_child(race, name, folder, args.limit)
                results[race].append(r)
                print(race, {k: v for k, v in r.items() if k != "curve"}, flush=True)
    about = (
        f"Machine: {machine()}. Data: {source} (training matrix {nbytes / 1e6:,.0f} MB, "
        "read into every contender's memory before its clock starts, with its libraries "
        "imported). Peak memory: the contender's process during the fit (the training and "
        "validation matrices and the libraries included; the test matrix is read after), "
        "and as a multiple of the training matrix."
    )
    # Only a full run on the real data replaces the recorded figures, unless asked.
    write = not args.no_write and (args.write or not (args.quick or args.synthetic))
    if write:  # every figure and curve of the run, to redraw or re-tabulate without rerunning
        (HERE / "compare-results.json").write_text(
            json.dumps(
                {"source": source, "train_bytes": nbytes, "about": about, **results}, indent=1
            )
        )
    if "budget" in results:
        _budget_table(results["budget"], about, nbytes, write)
    if "accuracy" in results:
        _accuracy_table(results["accuracy"], about, nbytes, write)
        if write and any(r["status"] == "ok" for r in results["accuracy"]):
            _plot(results["accuracy"], HERE / "compare.png")
    return 0


def _memory(r, nbytes):
    """Peak during the fit, its multiple of the training matrix, and what the fit added."""
    return (
        f"{r['fit_rss_mb']:,.0f} MB ({r['fit_rss_mb'] * 2**20 / nbytes:.2f}x; "
        f"+{r['fit_rss_mb'] - r['before_rss_mb']:,.0f} MB)"
    )


def _budget_table(results, about, nbytes, write):
    from _common import publish

    ref = {
        m: next(
            (r["fit"] for r in results if r["status"] == "ok" and r["name"] == f"linclass {m}"),
            None,
        )
        for m in ("SVM", "Softmax")
    }
    rows = []
    for r in results:
        if r["status"] != "ok":
            rows.append((r["name"], r["status"], "", "", "", ""))
            continue
        base = ref["Softmax"] if "Softmax" in r["name"] else ref["SVM"]
        ratio = f"{r['fit'] / base:.1f}x" if base else ""
        rows.append(
            (
                r["name"],
                f"{r['fit']:.2f} s",
                ratio,
                f"{r['val']:.3f}",
                f"{r['test']:.3f}",
                _memory(r, nbytes),
            )
        )
    publish(
        "compare",
        "Budget race: 1,500 minibatch steps of 200 (`benchmarks/compare.py`)",
        about + " Each contender takes 1,500 steps of 200 rows at the same step size and "
        "penalty (SVM lr 1.75e-7, reg 1.1e3; Softmax lr 8.2e-7, reg 1.8e2).",
        ["contender", "fit time", "vs linclass", "validation", "test", "peak memory (fit)"],
        rows,
        write,
    )


def time_to(curve, target):
    """Seconds until the curve first reaches ``target`` accuracy; None if it never does."""
    return next((t for t, acc in curve if acc >= target - 1e-12), None)


# One validation image in 1,000 is 0.001; a binomial 95% interval at 0.44 is about +-0.03, so
# the best point of a curve that wanders by a point or two is partly luck.
NEAR = 0.01


def _accuracy_table(results, about, nbytes, write):
    from _common import publish

    ok = [r for r in results if r["status"] == "ok" and r["curve"]]
    peers = [max(a for _, a in r["curve"]) for r in ok if not r["name"].startswith("linclass")]
    target = max(peers) if peers else None
    near = {r["name"]: time_to(r["curve"], target - NEAR) for r in ok} if target else {}
    ref = near.get("linclass Softmax")
    rows = []
    for r in results:
        if r["status"] != "ok":
            rows.append((r["name"], r["status"], "", "", "", "", "", "", ""))
            continue
        t_best, best = max(r["curve"], key=lambda p: (p[1], -p[0])) if r["curve"] else (0, 0)
        reach = [time_to(r["curve"], target), near.get(r["name"])] if target else [None, None]
        ratio = f"{reach[1] / ref:.1f}x" if ref and reach[1] is not None else ""
        rows.append(
            (
                r["name"],
                f"{best:.3f} at {t_best:.1f} s",
                f"{r['val']:.3f}",
                f"{r['test']:.3f}",
                *("never" if t is None else f"{t:.1f} s" for t in reach),
                ratio,
                f"{r['fit']:.1f} s",
                _memory(r, nbytes),
            )
        )
    target_text = (
        ""
        if target is None
        else (
            f" The target is {target:.3f}, the best validation accuracy any peer reached at any "
            f"point; as one image in 1,000 is 0.001 and such curves wander by a point from epoch "
            f"to epoch, the time to within {NEAR} of it ({target - NEAR:.3f}) is shown too."
        )
    )
    publish(
        "accuracy-race",
        "Accuracy race: validation accuracy against time (`benchmarks/compare.py`)",
        about + " Each contender runs to its own stopping rule; its validation accuracy is "
        "recorded as it trains (per epoch, or per chunk of 10 lbfgs iterations), and the "
        "final model is scored on validation and test." + target_text,
        [
            "contender",
            "best validation",
            "final model: validation",
            "test",
            "time to target",
            f"time to target - {NEAR}",
            "vs linclass Softmax",
            "fit time",
            "peak memory (fit)",
        ],
        rows,
        write,
    )


def _plot(results, path):
    from linclass.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        if r["status"] != "ok" or not r["curve"]:
            continue
        t, acc = zip(*r["curve"])
        mine = r["name"].startswith("linclass")
        ax.plot(
            t,
            acc,
            marker="*" if mine else "o",
            markersize=6 if mine else 3,
            linewidth=2.2 if mine else 1,
            label=r["name"],
        )
    ax.set_xscale("log")
    ax.set_xlabel("wall time since the fit began (s, log scale)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("CIFAR-10, raw pixels: validation accuracy against time")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, path)


if __name__ == "__main__":
    sys.exit(main())
