"""The ``linclass`` command: train, evaluate, gradcheck.

Usage errors exit 2 and other user errors (a ``linclass.errors.LinclassError`` or an
``OSError``) exit 1, each with one line on stderr; anything else is a bug in linclass (or below
it) and prints its traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import __version__
from .choices import HINGE_VARIANTS, MODELS, OPTIMIZERS, SOLVERS, feature_name
from .errors import InputError, LinclassError, UsageError

EXIT_USER_ERROR = 1
EXIT_USAGE = 2


class _Help(argparse.HelpFormatter):
    """Every option's default in its help, where it has one and the text does not say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "(default" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: {default})".strip()


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 2, and defaults in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _lr(text):
    if text == "auto":
        return text
    return _positive_float(text)


def _range(text):
    """``LOW:HIGH`` (or one value) -> ``(low, high)``, for tune's --lr and --reg: the
    library's check (``hyperparams.check_range``), worded for the command line."""
    from .hyperparams import check_range

    try:
        return check_range([float(part) for part in text.split(":")], "the range")
    except ValueError:  # not a number, or not 0 < LOW <= HIGH (InputError is a ValueError)
        raise argparse.ArgumentTypeError(
            f"give LOW:HIGH with 0 < LOW <= HIGH (for example 1e-7:1e-5); got {text!r}"
        ) from None


def _reg(text):
    if text == "auto":
        return text
    return _nonneg_float(text)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _nonneg_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535; 0 picks a free one)")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _batch_size(text):
    return "full" if text in ("full", "none", "None") else _positive_int(text)


def _size(text):
    """A fraction in (0, 1) or a count of samples."""
    try:
        count = int(text)
    except ValueError:
        pass
    else:
        if count < 1:
            raise argparse.ArgumentTypeError(f"a count must be at least 1: {text!r}")
        return count
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a fraction or a count: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a fraction must be in (0, 1): {text!r}")
    return value


def _features(text):
    try:
        return feature_name(text)  # linclass.choices: no import of the features themselves
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--features ")) from None


def _split_arguments(p, seed_help):
    """How a data set is loaded, split and preprocessed (train and prepare)."""
    p.add_argument(
        "--standardize",
        action="store_true",
        help="also divide each pixel by its training std (after the mean image)",
    )
    p.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        metavar="PX",
        help="folder: data sets: resize images to PX x PX (default: most common)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="folder: data sets: skip unreadable images with a warning",
    )
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--val-size", type=_size, default=0.1, help="fraction or count (default 0.1)")
    p.add_argument("--test-size", type=_size, default=0.2, help="fraction or count (default 0.2)")


def _training_options():
    """The options train and tune share, declared once (their choices from the registries)."""
    p = _Parser(add_help=False)
    p.add_argument(
        "--model",
        choices=MODELS,
        default="svm",
        help="the multiclass SVM (hinge loss) or the Softmax (cross-entropy)",
    )
    p.add_argument("--dataset", default="digits", help="the data set")
    p.add_argument(
        "--epochs", type=_positive_int, default=None, help="maximum epochs (default 100)"
    )
    p.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N update steps in all (the course's num_iters)",
    )
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=argparse.SUPPRESS,
        metavar="N|full",
        help='rows per minibatch, or "full" for full-batch gradient descent (default 200)',
    )
    p.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=None, help="the update rule (default: sgd)"
    )
    p.add_argument(
        "--features",
        type=_features,
        default="raw",
        metavar="raw|hog|hog+color|hog+hsv|patches[:K]",
        help="image features for the classifier, fitted on the training split, "
        "cached on disk and stored in the model (default raw: the pixels)",
    )
    return p


def build_parser():
    p = _Parser(prog="linclass", description="Linear image classification you can see through.")
    p.add_argument("--version", action="version", version=f"linclass {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    shared = _training_options()
    t = sub.add_parser(
        "train",
        help="train a classifier, save it with metrics.json",
        description="Train a linear classifier on a data set and save it.",
        parents=[shared],
    )
    t.add_argument(
        "--lr",
        type=_lr,
        default=None,
        metavar="LR",
        help='learning rate, or "auto" (default: auto, worked out from the data: '
        "the largest stable step for the loss's curvature and the batch size)",
    )
    t.add_argument(
        "--reg",
        type=_reg,
        default=None,
        help='L2 strength in reg*sum(W^2), or "auto" (default: auto, automatic and '
        "scaled to the data)",
    )
    t.add_argument(
        "--solver",
        choices=SOLVERS,
        default=None,
        help="sgd: (minibatch) gradient descent (default); lbfgs: full-batch L-BFGS "
        "to the exact optimum (--model softmax)",
    )
    t.add_argument(
        "--momentum",
        type=_nonneg_float,
        default=None,
        help="momentum and nesterov: the velocity's decay (default 0.9)",
    )
    t.add_argument(
        "--lr-decay",
        type=_positive_float,
        default=None,
        help="multiply the learning rate by this after every epoch (default 1)",
    )
    t.add_argument(
        "--variant",
        choices=HINGE_VARIANTS,
        default=None,
        help="multiclass hinge variant (SVM only)",
    )
    t.add_argument(
        "--early-stopping",
        action="store_true",
        help="keep the weights with the lowest validation loss, and stop when it has "
        "not improved for --patience epochs",
    )
    t.add_argument(
        "--patience",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs without improvement before stopping (default 5)",
    )
    t.add_argument(
        "--dev",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train on a stratified N-image part of the training split (quick check)",
    )
    t.add_argument("--no-plots", action="store_true", help="do not draw the PNG pictures")
    t.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="train through Dask: threads, local:N (a LocalCluster of N workers on "
        "127.0.0.1) or a scheduler's address such as tcp://host:8786 (needs "
        "pip install 'linclass[dask]')",
    )
    _split_arguments(t, "seeds the split and the training")
    t.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default: runs/MODEL-DATASET)"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    pp = sub.add_parser(
        "prepare",
        help="write a data set as on-disk arrays, for data bigger than memory",
        description="Split a data set, fit the mean image on its training part, and write "
        "each part as a preprocessed float32 array on disk, chunk by chunk; train "
        "on it with --dataset npy:OUT (or zarr:OUT), which streams it.",
    )
    pp.add_argument(
        "dataset",
        help="the data set, as --dataset takes it (digits, cifar10:PATH, folder:PATH, ...)",
    )
    pp.add_argument("--out", required=True, metavar="DIR", help="a new folder to write")
    pp.add_argument(
        "--format",
        choices=["npy", "zarr"],
        default="npy",
        help="npy (default: read with pread) or zarr (needs the zarr package)",
    )
    pp.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="K",
        help="write each training image K times: original, flipped, shifted by 2 px "
        "(up to 18; validation and test are never augmented)",
    )
    _split_arguments(pp, "seeds the split and the row order")
    pp.add_argument("--quiet", action="store_true", help="no progress bar")

    tu = sub.add_parser(
        "tune",
        help="search learning rate x regularization",
        description="Train one model per (learning rate, reg) pair on the "
        "training split, rank them by validation accuracy, draw "
        "the search and save the best model.",
        parents=[shared],
    )
    tu.add_argument(
        "--lr",
        type=_range,
        default=None,
        metavar="LOW:HIGH",
        help="learning-rate range, log-uniform (default: from 1.5 decades below to "
        "half a decade above the automatic rate for this data)",
    )
    tu.add_argument(
        "--reg",
        type=_range,
        default=None,
        metavar="LOW:HIGH",
        help="regularization range, log-uniform (default: a decade either side "
        "of the automatic penalty for this data)",
    )
    tu.add_argument("--trials", type=_positive_int, default=16, help="random draws")
    tu.add_argument(
        "--grid", action="store_true", help="a grid of about TRIALS points instead of random draws"
    )
    tu.add_argument(
        "--jobs", type=_positive_int, default=None, help="parallel trials (default: one per core)"
    )
    _split_arguments(tu, "seeds the split, the draws and each trial (trial i: seed + i)")
    tu.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: runs/tune-MODEL-DATASET)",
    )

    e = sub.add_parser("evaluate", help="accuracy and a per-class table of a saved model")
    e.add_argument("model", metavar="MODEL", help="a model.npz written by train")
    e.add_argument(
        "--dataset", default=None, help="data set to test on (default: the one it was trained on)"
    )

    pl = sub.add_parser(
        "plot",
        help="redraw a saved model's pictures",
        description="Draw the loss curve, the weight templates, the confusion "
        "matrix and the gallery of mistakes of a saved model.",
    )
    pl.add_argument("model", metavar="MODEL", help="a model.npz written by train")
    pl.add_argument("--out", default=None, metavar="DIR", help="default: the model's folder")
    pl.add_argument("--dataset", default=None, help="default: the one it was trained on")

    pr = sub.add_parser(
        "predict",
        help="classify image files with a saved model",
        description="Print the top classes of each image, with probabilities "
        "(Softmax) or scores (SVM).",
    )
    pr.add_argument("model", metavar="MODEL", help="a model.npz written by train")
    pr.add_argument(
        "inputs",
        metavar="IMAGE_OR_FOLDER",
        nargs="+",
        help="image files, or folders to search for them",
    )
    pr.add_argument(
        "--top-k",
        type=_positive_int,
        default=3,
        metavar="K",
        help="how many classes to show per image",
    )

    d = sub.add_parser(
        "download",
        help="fetch CIFAR-10, MNIST or Fashion-MNIST into the cache",
        description="Download the official files, check their published "
        "checksums, and keep them in $LINCLASS_DATA (default "
        "~/.cache/linclass). Afterwards --dataset NAME uses them.",
    )
    d.add_argument("name", choices=["cifar10", "mnist", "fashion-mnist"], help="which data set")
    d.add_argument("--dir", default=None, metavar="DIR", help="put the files here instead")

    c = sub.add_parser(
        "circuit",
        help="draw the circuit of an expression with values and gradients",
        description="Build the computational graph of EXPR at the given inputs, backpropagate, "
        "and show every gate's value and gradients. Example: "
        'linclass circuit "(x + y) * z" x=-2 y=5 z=-4',
    )
    c.add_argument(
        "expression",
        metavar="EXPR",
        help="numbers, names, + - * / **, unary minus, exp log sigmoid tanh relu max min abs",
    )
    c.add_argument("values", metavar="NAME=VALUE", nargs="*", help="a value for every name")
    c.add_argument("--dot", metavar="FILE", help="write Graphviz DOT text")
    c.add_argument("--png", metavar="FILE", help="draw a PNG (needs Graphviz's dot)")
    c.add_argument("--svg", metavar="FILE", help="draw an SVG (needs Graphviz's dot)")
    c.add_argument(
        "--staged", action="store_true", help="print the staged forward and backward code"
    )

    pg = sub.add_parser(
        "playground",
        help="the local web page: drag a classifier, watch its loss and circuit",
        description="Serve the playground on 127.0.0.1 (offline: its page ships in the "
        "package) and print its address; Ctrl-C stops it.",
    )
    pg.add_argument(
        "--port", type=_port, default=0, help="the port to listen on (default: a free one)"
    )
    pg.add_argument("--open", action="store_true", help="open the page in a web browser")
    pg.add_argument(
        "--idle-exit",
        type=_positive_int,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds with no request",
    )

    g = sub.add_parser(
        "gradcheck",
        help="naive vs vectorized vs numerical gradients",
        description="Check the lecture's naive and vectorized losses against "
        "each other and against centred differences, on random "
        "float64 data; exit 1 if a check fails.",
    )
    g.add_argument(
        "--model", choices=["svm", "softmax", "both"], default="both", help="which loss to check"
    )
    g.add_argument("--samples", type=_positive_int, default=100, help="rows of random X")
    g.add_argument("--features", type=_positive_int, default=50, help="columns of random X")
    g.add_argument("--classes", type=_positive_int, default=10, help="number of classes")
    g.add_argument("--seed", type=int, default=0, help="seeds the random data")
    return p


# -- train ------------------------------------------------------------------------------------


@contextmanager
def _showing(progress):
    """Show ``progress`` for the block; if the block fails, leave no trace of it (the error
    alone is the output: no stale bar on a terminal, no blank line in a log)."""
    with progress:
        try:
            yield progress
        except BaseException:
            if progress.console.is_terminal:
                progress.live.transient = True
            else:
                progress.console.quiet = True
            raise


class _Interrupt:
    """Once training has begun (``arm()``), the first Ctrl-C asks it to stop after the current
    step (the model so far is kept); a second one aborts. Before that -- while the data
    loads -- Ctrl-C aborts at once, and nothing is saved."""

    def __init__(self):
        self.requested = False
        self.armed = False
        self._previous = None

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def arm(self):
        self.armed = True

    def _handle(self, signum, frame):
        if not self.armed:
            raise KeyboardInterrupt
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)


def _fmt_metrics(info):
    """An epoch's figures, short enough for the bar to keep its width in 80 columns."""
    text = f"loss {info['train_loss']:.3f} acc {info['train_accuracy']:.3f}"
    if "val_accuracy" in info:
        text += f"  val {info['val_accuracy']:.3f}"
    return text


def _short(spec, width=32):
    """A data set's name for a title: a long path keeps its kind and its last part."""
    spec = str(spec)
    if len(spec) <= width:
        return spec
    kind, sep, path = spec.partition(":")
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return f"{kind}{sep}.../{tail}" if sep else "..." + spec[-width:]


def _data_spec(args, dev_size=None):
    """The data a train or tune command names."""
    from .runs import DataSpec

    return DataSpec(
        dataset=args.dataset,
        seed=args.seed,
        val_size=args.val_size,
        test_size=args.test_size,
        standardize=args.standardize,
        dev_size=dev_size,
        image_size=args.image_size,
        skip_bad=args.skip_bad,
        features=args.features,
    )


def cmd_train(args, out, err):
    from .runs import ModelSpec, Outputs, TrainConfig, train

    if args.solver == "lbfgs" and args.model != "softmax":
        raise InputError(
            "--solver lbfgs needs a smooth loss: use it with --model softmax (the "
            "SVM's hinge has a kink), or --solver sgd."
        )
    config = TrainConfig(
        data=_data_spec(args, dev_size=args.dev),
        model=ModelSpec(
            model=args.model,
            learning_rate=args.lr,
            reg=args.reg,
            max_epochs=args.epochs,
            batch_size=getattr(args, "batch_size", None),
            optimizer=args.optimizer,
            solver=args.solver,
            momentum=args.momentum,
            lr_decay=args.lr_decay,
            loss_variant=args.variant,
            early_stopping=args.early_stopping,
            patience=args.patience,
            max_steps=args.max_steps,
        ),
        output=Outputs(out=args.out, plots=not args.no_plots),
        scheduler=args.scheduler,
    )
    epochs = config.estimator().max_epochs
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=err,
        disable=args.quiet,
        transient=False,
    )
    with _Interrupt() as stop, _showing(progress):
        tasks, waiting = {}, []  # waiting: the stage bars without a count, still open
        doing = {
            "load": f"load {_short(args.dataset, 24)}",
            "test": "test",
            "save": "save",
            "draw": "draw the pictures",
            "features": f"features {args.features}",
        }

        counted = {}  # a stage bar's count of images, where it has one (a folder's)

        def finish_open_stages():
            while waiting:
                task = waiting.pop()
                n = counted.pop(task, None)  # a done stage's bar is 1/1: the columns stay narrow
                progress.update(
                    task,
                    total=1,
                    completed=1,
                    **({} if n is None else {"metrics": f"{n:,} images"}),
                )

        def on_stage(name, counts=None):
            if name == "note":  # something the run did that a user should know
                progress.console.print(counts, style="dim", highlight=False)
                return
            if counts is not None:  # how far the stage under way has come
                what, done, total = counts
                counted[tasks[name]] = done
                progress.update(
                    tasks[name],
                    total=total,
                    completed=done,
                    metrics=f"{what} images" if total else f"{what}: {done:,} images",
                )
                return
            finish_open_stages()  # the stage before is done
            if name == "train":
                tasks[name] = progress.add_task(f"train {args.model}", total=epochs, metrics="")
            else:
                tasks[name] = progress.add_task(doing[name], total=None, metrics="")
                waiting.append(tasks[name])

        def callback(info):
            stop.arm()  # training has begun: Ctrl-C now stops it and keeps what it learnt
            if info["event"] == "epoch":
                progress.update(tasks["train"], completed=info["epoch"], metrics=_fmt_metrics(info))
            return stop.requested

        result = train(config, callback, on_stage=on_stage)
        finish_open_stages()
        m = result.metrics
        progress.update(tasks["train"], total=m.epochs, completed=m.epochs)
    if m.interrupted and result.kept:
        err.print(
            f"[yellow]interrupted: stopped after the current step. {result.kept} is "
            f"kept as it was; the model so far is {result.model_path}.[/yellow]"
        )
    elif m.interrupted:
        err.print(
            "[yellow]interrupted: stopped after the current step; the model so far is "
            "saved.[/yellow]"
        )
    table = Table(title=f"{args.model} on {_short(args.dataset)}")
    table.add_column("split")
    table.add_column("samples", justify="right")
    table.add_column("accuracy", justify="right")
    for split in ("train", "val", "test"):
        table.add_row(
            split, str(getattr(m, f"n_{split}")), f"{getattr(m, f'{split}_accuracy'):.4f}"
        )
    out.print(table)
    step = "L-BFGS" if m.params.get("solver") == "lbfgs" else f"learning rate {m.learning_rate:.3g}"
    out.print(f"epochs {m.epochs}, {step}, reg {m.reg:.3g}, fit {m.fit_seconds:.2f} s")
    out.print(f"saved {result.model_path} and {result.metrics_path}")
    if result.plots:
        out.print("pictures: " + ", ".join(str(p) for p in result.plots))
    return 0


def cmd_prepare(args, out, err):
    from .data import load_dataset
    from .data.ondisk import prepare

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=args.quiet,
    )
    tasks = {}
    with _showing(progress):
        loading = progress.add_task(f"load {args.dataset}", total=None)
        ds = load_dataset(args.dataset, size=args.image_size, skip_bad=args.skip_bad)
        progress.update(loading, total=1, completed=1)

        def report(part, done, total):
            if part not in tasks:
                tasks[part] = progress.add_task(f"write {part}", total=total)
            progress.update(tasks[part], completed=done)

        meta = prepare(
            ds,
            args.out,
            fmt=args.format,
            repeat=args.repeat,
            val_size=args.val_size,
            test_size=args.test_size,
            seed=args.seed,
            standardize=args.standardize,
            progress=report,
        )
    rows, D = meta["rows"], meta["n_features"]
    size = sum(rows.values()) * D * 4
    out.print(
        f"wrote {args.out}: train {rows['train']:,}, val {rows['val']:,}, test "
        f"{rows['test']:,} rows of {D:,} float32 ({size / 2**30:.2f} GiB)"
    )
    # a command to copy: never broken across lines, whatever the path's length
    out.print(
        f"train on it with: linclass train --dataset {args.format}:{args.out}",
        soft_wrap=True,
        highlight=False,
    )
    return 0


def cmd_tune(args, out, err):
    from .runs import ModelSpec, Outputs, TrainConfig, tune

    lr_range, reg_range = args.lr, args.reg
    config = TrainConfig(
        data=_data_spec(args),
        model=ModelSpec(
            model=args.model,
            max_epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=getattr(args, "batch_size", None),
            optimizer=args.optimizer,
        ),
        output=Outputs(out=args.out or f"runs/tune-{args.model}-{args.dataset.split(':', 1)[0]}"),
    )
    progress = Progress(
        TextColumn("[bold]tune {task.fields[model]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=err,
    )
    best = {"acc": -1.0}

    def callback(trial, done, total):
        if trial["val_accuracy"] > best["acc"]:
            best.update(
                acc=trial["val_accuracy"],
                text=(
                    f"best val {trial['val_accuracy']:.3f} at lr {trial['learning_rate']:.2e}, "
                    f"reg {trial['reg']:.2e}"
                ),
            )
        progress.update(task, completed=done, total=total, best=best.get("text", ""))

    def ranges(lr, reg, automatic):
        around = (
            ""
            if automatic is None
            else (f" (around the automatic lr {automatic[0]:.2e} and reg {automatic[1]:.2e})")
        )
        progress.console.print(
            f"searching lr {lr[0]:.2e}..{lr[1]:.2e}, reg {reg[0]:.2e}..{reg[1]:.2e}{around}",
            highlight=False,
        )

    def on_stage(name, counts=None):
        if name == "note":
            progress.console.print(counts, style="dim", highlight=False)
        elif name == "features" and counts is not None:  # before the trials: say what runs
            progress.update(
                task,
                best=f"features {args.features}: {counts[0]} images {counts[1]:,}/{counts[2]:,}",
            )

    with _showing(progress):
        task = progress.add_task("tune", total=None, model=args.model, best="")
        result = tune(
            config,
            lr_range,
            reg_range,
            args.trials,
            args.grid,
            args.jobs,
            callback,
            on_ranges=ranges,
            on_stage=on_stage,
        )
    table = Table(
        title=f"{args.model} on {_short(args.dataset)}: {len(result.trials)} trials, "
        "best validation accuracy first"
    )
    for col in ("learning rate", "reg", "val acc", "train acc", "epochs", "seconds"):
        table.add_column(col, justify="right")
    for r in result.trials:
        failed = "error" in r
        table.add_row(
            f"{r['learning_rate']:.3e}",
            f"{r['reg']:.3e}",
            "diverged" if failed else f"{r['val_accuracy']:.4f}",
            "-" if failed else f"{r['train_accuracy']:.4f}",
            str(r["epochs"]),
            f"{r['seconds']:.1f}",
        )
    out.print(table)
    b = result.best
    out.print(
        f"best: lr {b['learning_rate']:.3e}, reg {b['reg']:.3e}: validation "
        f"{b['val_accuracy']:.4f}, test {result.test_accuracy:.4f} "
        f"({result.report['seconds']:.1f} s in all)"
    )
    out.print(f"saved {result.model_path}, {result.report_path}, {result.plot_path}")
    return 0


def cmd_plot(args, out, err):
    from .runs import plot

    with err.status(f"loading {args.model} and its test split, drawing..."):
        paths = plot(args.model, args.out, args.dataset)
    for path in paths:
        out.print(f"wrote {path}")
    return 0


def cmd_predict(args, out, err):
    from .runs import predict

    with err.status("reading the images..."):
        kind, results = predict(args.model, args.inputs, args.top_k)
    table = Table(title=f"top {min(args.top_k, len(results[0]['top']))} classes ({kind})")
    table.add_column("image", overflow="fold")
    for i in range(len(results[0]["top"])):
        table.add_column(f"#{i + 1}")
    fmt = "{:.3f}" if kind == "probability" else "{:+.3g}"
    for r in results:
        table.add_row(r["path"], *[f"{c} ({fmt.format(v)})" for c, v in r["top"]])
    out.print(table)
    return 0


def cmd_download(args, out, err):
    from .data.downloads import download

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=err,
    )
    tasks = {}

    def report(name, done, total):
        if name not in tasks:
            tasks[name] = progress.add_task(name, total=total)
        progress.update(tasks[name], completed=done, total=total)

    with _showing(progress):
        path = download(args.name, args.dir, progress=report)
    spec = args.name if args.dir is None else f"{args.name}:{path}"
    out.print(
        f"{args.name} is in {path}; train on it with --dataset {spec}",
        soft_wrap=True,
        highlight=False,
    )
    return 0


def cmd_evaluate(args, out, err):
    from .runs import evaluate

    with err.status(f"loading {args.model} and its test split..."):
        result = evaluate(args.model, args.dataset)
    if result.dataset_from_file:
        err.print(
            f"evaluating on the test split of {result.dataset}, as recorded in "
            f"{args.model} (--dataset to choose another)",
            highlight=False,
        )
    table = Table(title=f"{args.model} on the test split of {_short(result.dataset)}")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for row in result.per_class:
        table.add_row(
            row.name, f"{row.precision:.3f}", f"{row.recall:.3f}", f"{row.f1:.3f}", str(row.support)
        )
    out.print(table)
    out.print(f"accuracy {result.accuracy:.4f} on {result.n} test images")
    return 0


def cmd_gradcheck(args, out, err):
    from .gradcheck import check_loss_functions, explain_failure

    models = ["svm", "softmax"] if args.model == "both" else [args.model]
    failed = []
    for model in models:
        report = check_loss_functions(
            model,
            n_samples=args.samples,
            n_features=args.features,
            n_classes=args.classes,
            seed=args.seed,
        )
        table = Table(
            title=f"{model}: {args.samples} samples, {args.features} features, "
            f"{args.classes} classes, float64"
        )
        table.add_column("check")
        table.add_column("relative error", justify="right")
        table.add_column("threshold", justify="right")
        table.add_column("", justify="center")
        for name, error, threshold in report["rows"]:
            ok = error <= threshold
            if not ok:
                failed.append((model, name))
            table.add_row(
                name,
                f"{error:.2e}",
                f"{threshold:.0e}",
                "[green]ok[/green]" if ok else "[red]FAIL[/red]",
            )
        out.print(table)
        out.print(
            f"naive {report['naive_seconds'] * 1e3:.2f} ms, vectorized "
            f"{report['vectorized_seconds'] * 1e3:.3f} ms: vectorized is "
            f"{report['speedup']:.0f}x faster"
        )
    for model, name in failed:
        err.print(
            f"linclass: {model}: {name} failed: {explain_failure(model, name)}.", highlight=False
        )
    if failed:
        return EXIT_USER_ERROR
    return 0


def cmd_circuit(args, out, err):
    from .graph import render
    from .graph.expr import build_circuit, parse_assignments
    from .io import atomic_write

    if args.png or args.svg:
        render.require_dot()  # before any output: say so at once when it is missing
    circuit = build_circuit(args.expression, parse_assignments(args.values))
    grads = circuit.backward()
    V, G = render.VALUE_COLOR, render.GRAD_COLOR

    table = Table(title=f"f = {circuit.expression}")
    table.add_column("gate")
    table.add_column("op", justify="center")
    table.add_column("inputs")
    table.add_column("value", justify="right", style=V)
    table.add_column("local gradient(s)", justify="right")
    table.add_column("gradient from above", justify="right", style=G)
    for row in render.gate_rows(circuit):
        table.add_row(
            row["gate"],
            row["op"],
            ", ".join(row["inputs"]),
            render.fmt(row["value"]),
            ", ".join(f"d/d{n}: {render.fmt(v)}" for n, v in zip(row["inputs"], row["local"])),
            render.fmt(row["grad"]),
        )
    out.print(table)
    import numpy as np

    undefined = [n for n in circuit.gates() if not np.all(np.isfinite(n.value))]
    if undefined:
        first = undefined[0]
        err.print(
            f"[yellow]note: {render.gate_code(first)} is {render.fmt(first.value)} at "
            "these values (outside the function's domain, or an overflow); so is "
            "everything that depends on it.[/yellow]",
            highlight=False,
        )
    out.print(f"{circuit.output.label} = [{V}]{render.fmt(circuit.output.value)}[/]")
    for name, grad in grads.items():
        out.print(f"∂{circuit.output.label}/∂{name} = [{G}]{render.fmt(grad)}[/]")

    if args.staged:
        forward, backward = render.staged_lines(circuit)
        out.print("\n# forward pass")
        for code, value in forward:
            out.print(f"{code:<28} [dim]# {value}[/]", highlight=False)
        out.print("# backward pass")
        for code, value in backward:
            out.print(f"{code:<28} [dim]# {value}[/]", highlight=False)

    dot = render.to_dot(circuit)
    if args.dot:
        atomic_write(args.dot, lambda f: f.write(dot.encode()))
        out.print(f"wrote {args.dot}")
    for fmt_name, path in (("png", args.png), ("svg", args.svg)):
        if path:
            image = render.render_dot(dot, fmt_name)
            atomic_write(path, lambda f, data=image: f.write(data))
            out.print(f"wrote {path}")
    if not (args.dot or args.png or args.svg):
        out.print(f"\ncircuit (each wire: [{V}]value[/] / [{G}]gradient flowing back[/])")
        for prefix, text, value, grad in render.text_drawing(circuit):
            out.print(f"{prefix}{text}   [{V}]{value}[/] / [{G}]{grad}[/]", highlight=False)
    return 0


def cmd_playground(args, out, err):
    import errno

    from .playground import serve

    def announce(url):
        out.print(f"linclass playground: open {url} (Ctrl-C stops it)", highlight=False)
        sys.stdout.flush()

    try:
        serve(args.port, args.open, idle_timeout=args.idle_exit, announce=announce)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {args.port} is in use: choose another with --port, or "
                "leave --port out for a free one."
            ) from None
        raise
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "gradcheck": cmd_gradcheck,
    "circuit": cmd_circuit,
    "plot": cmd_plot,
    "predict": cmd_predict,
    "download": cmd_download,
    "tune": cmd_tune,
    "prepare": cmd_prepare,
    "playground": cmd_playground,
}


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Console()
    err = Console(stderr=True)
    try:
        return COMMANDS[args.command](args, out, err)
    except UsageError as e:  # the command line itself is wrong, found past argparse
        sys.stderr.write(
            f"linclass {args.command}: error: {e} (see linclass {args.command} --help)\n"
        )
        return EXIT_USAGE
    except (LinclassError, OSError) as e:  # anything else is a bug: its traceback shows
        sys.stderr.write(f"linclass: error: {e}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("linclass: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
