"""A training run end to end: data -> split -> preprocessing -> fit -> metrics -> saved files,
and what a saved model does next: evaluate, plot, predict.

These are what ``linclass train``, ``evaluate``, ``plot`` and ``predict`` do, as plain
functions that return results and print nothing (the command line draws them).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from sklearn.metrics import precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from . import limits
from ._typing import PathArg
from .data import MeanImage, dev_subset, load_dataset, train_val_test_split
from .data.archives import read_file
from .data.dataset import class_labels
from .data.images import IMAGE_EXTENSIONS, image_row
from .errors import InputError, ModelFileError
from .estimators import MODELS
from .io import atomic_write, load, load_metadata, save
from .threads import fixed_count

if TYPE_CHECKING:
    from .estimators import LinearSVM, SoftmaxClassifier

    LinearClassifier: TypeAlias = "LinearSVM | SoftmaxClassifier"

#: ``on_stage(name)`` as a stage begins, ``on_stage(name, detail)`` as it goes.
OnStage: TypeAlias = Callable[..., Any]

__all__ = [
    "TrainConfig",
    "DataSpec",
    "ModelSpec",
    "Outputs",
    "Metrics",
    "TrainResult",
    "TuneResult",
    "Evaluation",
    "ClassScores",
    "train",
    "tune",
    "evaluate",
    "plot",
    "predict",
    "MODELS",
    "PLOTS",
]

PLOTS = ("loss_curve.png", "templates.png", "confusion.png", "misclassified.png")


@dataclass(frozen=True)
class DataSpec:
    """Which data a run uses, and how it is split and preprocessed."""

    dataset: str = "digits"
    seed: int = 0  # the split's (and the classifier's) seed
    val_size: float | int = 0.1
    test_size: float | int = 0.2
    standardize: bool = False
    dev_size: int | None = None  # a small stratified part of the training split
    image_size: int | None = None
    skip_bad: bool = False
    features: str = "raw"  # image features before the classifier (linclass.features.spec)

    def metadata(self) -> dict[str, Any]:
        """What a saved model records to load and split the same data again."""
        return {
            "dataset": self.dataset,
            "seed": self.seed,
            "val_size": self.val_size,
            "test_size": self.test_size,
            "image_size": self.image_size,
            "skip_bad": self.skip_bad,
            "features": self.features,
        }


@dataclass(frozen=True)
class ModelSpec:
    """The classifier and its settings; ``None`` leaves a setting at the estimator's default.
    ``batch_size`` is rows per minibatch, or ``"full"`` for full-batch descent."""

    model: str = "svm"
    learning_rate: float | str | None = None
    reg: float | str | None = None
    max_epochs: int | None = None
    batch_size: int | str | None = None
    optimizer: str | None = None
    solver: str | None = None
    momentum: float | None = None
    lr_decay: float | None = None
    early_stopping: bool = False
    loss_variant: str | None = None
    patience: int | None = None  # early stopping's n_iter_no_change
    max_steps: int | None = None

    def estimator(self, seed: int = 0) -> LinearClassifier:
        """The classifier these settings describe, seeded."""
        if self.model not in MODELS:
            raise InputError(f"model must be one of {sorted(MODELS)}; got {self.model!r}.")
        # The split hands over its training rows in random order: minibatches can be slices.
        params: dict[str, Any] = {
            "random_state": seed,
            "early_stopping": self.early_stopping,
            "shuffle": "blocks",
        }
        for name in (
            "learning_rate",
            "reg",
            "max_epochs",
            "max_steps",
            "optimizer",
            "solver",
            "momentum",
            "lr_decay",
        ):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.batch_size is not None:
            params["batch_size"] = None if self.batch_size == "full" else self.batch_size
        if self.patience is not None:
            params["n_iter_no_change"] = self.patience
        if self.loss_variant is not None:
            if self.model != "svm":
                raise InputError("loss_variant applies to the SVM only (--model svm).")
            params["loss_variant"] = self.loss_variant
        clf = MODELS[self.model](**params)
        clf._check_params()  # a bad setting fails now, not after the data has loaded
        return clf


@dataclass(frozen=True)
class Outputs:
    """Where a run writes: the folder (by default ``runs/MODEL-DATASET``), and whether it
    draws its pictures."""

    out: str | None = None
    plots: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on: its data, its model, its outputs, and where it
    computes (``scheduler``: train through Dask on "threads", "local:N" or an address)."""

    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    output: Outputs = field(default_factory=Outputs)
    scheduler: str | None = None

    def estimator(self) -> LinearClassifier:
        """The classifier this configuration describes."""
        return self.model.estimator(self.data.seed)

    def out_dir(self) -> Path:
        if self.output.out:
            return Path(self.output.out)
        name = self.data.dataset.split(":", 1)[0]
        return Path("runs") / f"{self.model.model}-{name}"


@dataclass(frozen=True)
class Metrics:
    """What ``metrics.json`` holds about a training run."""

    model: str
    dataset: str
    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    fit_seconds: float
    epochs: int
    steps: int
    interrupted: bool
    n_train: int
    n_val: int
    n_test: int
    learning_rate: float | None  # None for L-BFGS
    reg: float
    params: dict  # the classifier's parameters, as saved
    history: dict  # per-epoch lists (``linclass.train.HISTORY_KEYS``)


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` did: its metrics, and the files it wrote. ``kept`` is the model that
    was already there and was kept (an interrupted run then writes ``model.interrupted.npz``)."""

    metrics: Metrics
    model_path: Path
    metrics_path: Path
    plots: list
    config: TrainConfig
    kept: Path | None = None


@dataclass(frozen=True)
class TuneResult:
    """What ``tune`` did: its trials (dicts, as ``tune.json`` holds them, best first), the
    best one's test accuracy, and the files it wrote."""

    report: dict[str, Any]  # tune.json: model, dataset, seed, ranges, automatic values, trials...
    test_accuracy: float
    model_path: Path
    report_path: Path
    plot_path: Path

    @property
    def trials(self) -> list[dict[str, Any]]:
        return self.report["results"]

    @property
    def best(self) -> dict[str, Any]:
        return self.report["best"]


PREPARED = ("npy", "zarr")  # --dataset npy:PATH / zarr:PATH: a folder `linclass prepare` wrote


def _is_prepared(spec):
    return str(spec).partition(":")[0] in PREPARED


class _Unprocessed:
    """The raw pixels of a preprocessed on-disk part, row by row (for pictures)."""

    def __init__(self, X, pre):
        self.X, self.pre, self.shape = X, pre, X.shape

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, i):
        row = np.asarray(self.X[i], dtype=np.float32)
        if self.pre.scale_ is not None:
            row = row * self.pre.scale_
        return row + self.pre.mean_


class _TestPart:
    """A test part whose model's first ``done`` steps are applied already (``X``: what the
    rest of the model takes: a prepared part preprocessed on disk, or features computed or
    cached), with its pixels row by row (for pictures)."""

    def __init__(self, X, done, pixels):
        self.X, self.done, self.pixels, self.shape = X, done, pixels, pixels.shape

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, i):
        return self.pixels[i]


def _predict_test(model, X_test):
    """Predictions on a test part: raw pixels through the whole Pipeline, or a ``_TestPart``
    through the steps not yet applied."""
    if isinstance(X_test, _TestPart):
        return model[X_test.done :].predict(X_test.X)
    return model.predict(X_test)


def _open_prepared(spec):
    from .data.ondisk import open_prepared

    kind, _, path = str(spec).partition(":")
    if not path:
        raise InputError(
            f"--dataset {kind}: needs the folder `linclass prepare` wrote: --dataset {kind}:PATH."
        )
    data = open_prepared(path)
    if data.meta["array_format"] != kind:
        raise InputError(
            f"{path} holds {data.meta['array_format']} arrays: use "
            f"--dataset {data.meta['array_format']}:{path}."
        )
    return data


def _split(meta, progress=None):
    """The data set and split a run used, from its settings (or a model's metadata)."""
    ds = load_dataset(
        meta["dataset"],
        size=meta.get("image_size"),
        skip_bad=meta.get("skip_bad", False),
        progress=progress,
    )
    sp = train_val_test_split(
        ds,
        val_size=meta.get("val_size", 0.1),
        test_size=meta.get("test_size", 0.2),
        random_state=meta.get("seed", 0),
    )
    return ds, sp


def _prepare(config, progress=None, on_stage=None):
    """Load and split the data set of a run and fit its preprocessing on the training part.

    Returns
    -------
    metadata : dict
        What a saved model needs to redo this (data set, split, image shape, pixel scale).
    split : Split
        Pixels as loaded (the test part stays raw for the saved Pipeline to preprocess).
    names : ndarray
        Class names; labels are indices into it.
    steps : list of (name, transformer)
        The fitted steps before the classifier: the image features, if any, then MeanImage,
        fitted on the training part.
    X_train, X_val : float32 arrays
        The training and validation parts through those steps.
    """
    data = config.data
    if _is_prepared(data.dataset):
        return _prepare_on_disk(config)
    from .features import spec

    metadata = data.metadata()
    feat = metadata["features"] = spec.parse(data.features)  # a bad name fails before loading
    ds, sp = _split(metadata, progress)
    if data.dev_size:  # a small stratified part of the training split, for quick checks
        sp = sp._replace(
            **dict(
                zip(
                    ("X_train", "y_train"),
                    dev_subset(sp.X_train, sp.y_train, data.dev_size, data.seed),
                )
            )
        )
    metadata.update(
        image_shape=list(ds.image_shape),
        class_names=list(ds.class_names),
        pixel_max=int(ds.pixel_max),
    )
    feat = spec.build(feat, ds.image_shape, ds.pixel_max, data.seed)
    del ds  # the split holds its own arrays: the loaded set can go before float32 is made
    steps = []
    if feat is not None:  # features stand in for the pixels, standardized
        feat, sp = _features(feat, sp, on_stage)
        steps.append(("features", feat))
    pre = MeanImage(standardize=data.standardize or feat is not None)
    X_train = pre.fit_transform(sp.X_train)
    # From here on only the float32 copy is needed: let the uint8 training pixels go before
    # training starts.
    X_val = pre.transform(sp.X_val)
    sp = sp._replace(X_train=None, X_val=None)
    steps.append(("preprocess", pre))
    return metadata, sp, class_labels(metadata["class_names"]), steps, X_train, X_val


def _features(feat, sp, on_stage=None):
    """Fit the image features on the training part and compute those of every part, through
    the feature cache; the split with features for pixels (the test part keeps its pixels for
    the pictures)."""
    from .features.cache import FeatureCache
    from .features.spec import steps

    stage = on_stage or (lambda name, counts=None: None)
    cache = FeatureCache(on_event=lambda text: stage("note", text))
    stage("features")
    feat = cache.fit(feat, sp.X_train)
    parts, offset = {}, 0
    total = sum(len(getattr(sp, f"X_{part}")) for part in ("train", "val", "test"))
    for part in ("train", "val", "test"):  # one count over the three parts
        for _, step in steps(feat):
            step.progress = lambda done, _, part=part, offset=offset: stage(
                "features", (part, offset + done, total)
            )
        parts[part] = cache.transform(feat, getattr(sp, f"X_{part}"))
        offset += len(parts[part])
    for _, step in steps(feat):
        step.progress = None
    return feat, sp._replace(
        X_train=parts["train"], X_val=parts["val"], X_test=_TestPart(parts["test"], 1, sp.X_test)
    )


@contextmanager
def _dask(scheduler):
    """With ``scheduler`` set, a function that turns X into a dask array of row chunks, for
    the duration: on local threads (``"threads"``), a LocalCluster of N single-threaded
    workers on 127.0.0.1 (``"local:N"``), or the cluster at an address."""
    if scheduler is None:
        yield None
        return
    try:
        import dask.array  # noqa: F401
        import distributed
    except ImportError:
        raise ImportError("--scheduler needs Dask: pip install 'linclass[dask]'.") from None
    from .data.ondisk import dask_rows

    kind, _, arg = scheduler.partition(":")
    if scheduler == "threads":
        yield lambda X: dask_rows(X, workers=os.cpu_count() or 1)
        return
    if kind == "local":
        try:
            n = int(arg)
            if n < 1:
                raise ValueError
        except ValueError:
            raise InputError(
                f"--scheduler local:N needs a number of workers; got {scheduler!r}."
            ) from None
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
        client = distributed.Client(cluster)
    else:
        cluster = None
        try:
            client = distributed.Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as e:
            raise OSError(f"no Dask scheduler answers at {scheduler} ({e}).") from None
    try:
        info = client.scheduler_info()["workers"].values()
        workers = max(1, sum(w["nthreads"] for w in info))
        memory = sum(w.get("memory_limit") or 0 for w in info)

        def to_dask(X):
            Xd = dask_rows(X, workers=workers)
            # Kept in the workers' memory where it fits in half of it; otherwise every
            # iteration reads the chunks again from their files (out of core on the cluster).
            return Xd.persist() if Xd.nbytes < 0.5 * memory else Xd

        yield to_dask
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _prepare_on_disk(config):
    """``_prepare`` for a prepared folder: its parts stay on disk (already split and
    preprocessed when `linclass prepare` wrote them), and the classifier streams them."""
    data = config.data
    if data.dev_size or data.standardize or data.image_size or config.model.early_stopping:
        raise InputError(
            "--dev, --standardize, --image-size and --early-stopping do not apply "
            "to a prepared data set: its split and preprocessing were fixed by "
            "`linclass prepare` (give them there)."
        )
    from .features.spec import parse

    if parse(data.features) != "raw":
        raise InputError(
            "--features does not apply to a prepared data set (its rows are "
            "pixels, preprocessed on disk): train with --features on the data set "
            "itself."
        )
    prepared = _open_prepared(data.dataset)
    m = prepared.meta
    metadata = {
        "dataset": data.dataset,
        "seed": m["seed"],
        "val_size": m["val_size"],
        "test_size": m["test_size"],
        "image_shape": m["image_shape"],
        "class_names": m["class_names"],
        "pixel_max": m["pixel_max"],
        "prepared_from": m["source"],
        "repeat": m["repeat"],
    }
    from .data import Split

    sp = Split(
        None, prepared.y_train, None, prepared.y_val, _prepared_test(prepared), prepared.y_test
    )
    return (
        metadata,
        sp,
        class_labels(m["class_names"]),
        [("preprocess", prepared.pre)],
        prepared.X_train,
        prepared.X_val,
    )


def _prepared_test(prepared):
    """A prepared folder's test part: preprocessed on disk, its pixels undone row by row."""
    return _TestPart(prepared.X_test, 1, _Unprocessed(prepared.X_test, prepared.pre))


def train(
    config: TrainConfig,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    on_stage: OnStage | None = None,
) -> TrainResult:
    """Run one training job and save its model, ``metrics.json`` and plots into
    ``config.out_dir()``.

    Parameters
    ----------
    config : TrainConfig
    callback : callable, optional
        Passed to ``fit`` (per-step and per-epoch progress; a truthy return stops).
    on_stage : callable, optional
        ``on_stage(name)`` as each stage begins: "load", "train", "test", "save", "draw";
        and while a folder of images loads, ``on_stage("load", (stage, done, total))`` as
        its images are read and decoded (``linclass.data.load_image_folder``'s progress).

    Returns
    -------
    TrainResult
        The metrics written to ``metrics.json`` (``Metrics``), and the paths written.
    """
    stage = on_stage or (lambda name, counts=None: None)
    clf = config.estimator()
    fixed_count()  # a bad LINCLASS_BLAS_THREADS fails now, not after loading
    out = check_out_dir(config.out_dir())  # a bad --out fails now, not after training
    stage("load")
    metadata, sp, names, steps, X_train, X_val = _prepare(
        config, progress=lambda *counts: stage("load", counts), on_stage=stage
    )
    interrupted = []

    def cb(info):
        stop = bool(callback(info)) if callback is not None else False
        if stop:
            interrupted.append(info)
        return stop

    with _dask(config.scheduler) as to_dask:
        if to_dask is not None:
            X_train = to_dask(X_train)
        stage("train")
        t0 = time.perf_counter()
        clf.fit(X_train, names[sp.y_train], eval_set=(X_val, names[sp.y_val]), callback=cb)
        fit_seconds = time.perf_counter() - t0
        train_accuracy = float(clf.score(X_train, names[sp.y_train]))
    model = Pipeline([*steps, ("classifier", clf)])
    del X_train  # the float32 training matrix is not needed past here
    stage("test")
    test_pred = _predict_test(model, sp.X_test)
    metrics = Metrics(
        model=config.model.model,
        dataset=config.data.dataset,
        train_accuracy=train_accuracy,
        val_accuracy=float(clf.score(X_val, names[sp.y_val])),
        test_accuracy=float(np.mean(test_pred == names[sp.y_test])),
        fit_seconds=fit_seconds,
        epochs=int(clf.n_iter_),
        steps=int(clf.n_steps_),
        interrupted=bool(interrupted),
        n_train=len(sp.y_train),
        n_val=len(sp.y_val),
        n_test=len(sp.y_test),
        learning_rate=clf.learning_rate_,
        reg=clf.reg_,
        params=clf._json_params(),
        history=clf.history_,
    )
    model_path, metrics_path = out / "model.npz", out / "metrics.json"
    kept = None
    if interrupted and model_path.exists():  # never replace a model with one cut short
        kept = model_path
        model_path, metrics_path = out / "model.interrupted.npz", out / "metrics.interrupted.json"
    stage("save")
    save(model, model_path, metadata=metadata)
    text = json.dumps(asdict(metrics), indent=2)
    atomic_write(metrics_path, lambda f: f.write(text.encode()))
    plots = []
    if config.output.plots and kept is None:
        stage("draw")
        plots = _draw(out, model, metadata, sp.X_test, names[sp.y_test], test_pred)
    return TrainResult(metrics, model_path, metrics_path, [Path(p) for p in plots], config, kept)


def check_out_dir(out: PathArg) -> Path:
    """Check, before any work, that the output folder can be written (made, where it does not
    exist yet: then its nearest existing parent must be writable), so a mistyped ``--out``
    costs nothing, and never the trained model. Nothing is created here."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the run's files.")
    if (out / "model.npz").is_dir():
        raise InputError(f"{out / 'model.npz'} is a folder; move it, or choose another --out.")
    parent = out.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"--out {out}: {parent} is a file, so no folder can be made there.")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise OSError(
            f"cannot write into --out {out} ({parent}: {e.strerror or e}); choose a "
            "folder you can write to."
        ) from None
    return out


def tune(
    config: TrainConfig,
    lr_range: tuple[float, float] | None = None,
    reg_range: tuple[float, float] | None = None,
    trials: int = 16,
    grid: bool = False,
    n_jobs: int | None = None,
    callback: Callable[[dict[str, Any], int, int], Any] | None = None,
    on_ranges: Callable[..., Any] | None = None,
    on_stage: OnStage | None = None,
) -> TuneResult:
    """Search learning rate x reg on a data set's split; save the best model and a report.

    Parameters
    ----------
    config : TrainConfig
        The data set, split, model and the other hyperparameters (its learning_rate and reg
        are replaced by each trial's).
    lr_range, reg_range, trials, grid, n_jobs, callback
        As in ``linclass.hyperparams.search`` (the ranges default to ones around the automatic
        values for this data).
    on_ranges : callable, optional
        ``on_ranges(lr_range, reg_range, automatic)`` once the ranges are known, before the
        trials start (``automatic``: the automatic ``(lr, reg)``, or None when both ranges
        were given).
    on_stage : callable, optional
        As in ``train``, while the data loads and its features are computed (or read from
        the feature cache): ``on_stage("features")``, ``on_stage("features", (part, done,
        total))`` and ``on_stage("note", text)``.

    Returns
    -------
    TuneResult
        The report written to ``tune.json`` (the trials, best first), the test accuracy of
        the best model, and the paths written (``model.npz``, ``tune.json``, ``tune.png``).
    """
    from . import plots
    from .hyperparams import search, search_ranges

    if _is_prepared(config.data.dataset):
        raise InputError(
            "tune does not take a prepared (on-disk) data set yet: tune on the "
            "data set itself (or a --dev part of it), then train on the prepared "
            "one with the --lr and --reg it found."
        )
    base = config.estimator().get_params()
    params = {k: v for k, v in base.items() if k not in ("learning_rate", "reg", "random_state")}
    out = check_out_dir(config.out_dir())
    metadata, sp, names, steps, X_train, X_val = _prepare(config, on_stage=on_stage)
    out.mkdir(parents=True, exist_ok=True)
    lr_range, reg_range, automatic = search_ranges(
        config.model.model, X_train, names[sp.y_train], params, lr_range, reg_range
    )
    if on_ranges is not None:
        on_ranges(lr_range, reg_range, automatic)
    t0 = time.perf_counter()
    results, best = search(
        config.model.model,
        X_train,
        names[sp.y_train],
        X_val,
        names[sp.y_val],
        lr_range,
        reg_range,
        trials,
        grid,
        config.data.seed,
        n_jobs,
        params,
        callback,
        workdir=out,
    )
    seconds = time.perf_counter() - t0
    del X_train
    model = Pipeline([*steps, ("classifier", best)])
    test_accuracy = float(np.mean(_predict_test(model, sp.X_test) == names[sp.y_test]))
    model_path = out / "model.npz"
    save(model, model_path, metadata=metadata)
    report = {
        "model": config.model.model,
        "dataset": config.data.dataset,
        "seed": config.data.seed,
        "lr_range": list(lr_range),
        "reg_range": list(reg_range),
        "grid": grid,
        "automatic": None
        if automatic is None
        else {"learning_rate": automatic[0], "reg": automatic[1]},
        "params": dict(best._json_params().items()),
        "seconds": seconds,
        "best": results[0],
        "test_accuracy": test_accuracy,
        "results": results,
    }
    report_path = out / "tune.json"
    text = json.dumps(report, indent=2)
    atomic_write(report_path, lambda f: f.write(text.encode()))
    plot_path = plots.tune_results(
        results, out / "tune.png", title=f"{config.model.model} on {config.data.dataset}"
    )
    return TuneResult(report, test_accuracy, model_path, report_path, Path(plot_path))


@dataclass(frozen=True)
class ClassScores:
    """One class's scores on a test split."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """A saved model on a test split: ``dataset_from_file`` says the data set is the one the
    model's file recorded (not one given)."""

    dataset: str
    dataset_from_file: bool
    n: int
    accuracy: float
    per_class: list  # of ClassScores


def _draw(out, model, meta, X_test=None, y_test=None, test_pred=None):
    from . import plots

    clf = model[-1] if isinstance(model, Pipeline) else model
    out = Path(out)
    written = [
        plots.loss_curve(
            clf.history_,
            out / PLOTS[0],
            title=f"{type(clf).__name__} on {meta.get('dataset', '?')}",
        )
    ]
    shape = meta.get("image_shape")
    if shape and int(np.prod(shape)) == clf.coef_.shape[1]:
        written.append(plots.weight_templates(clf.coef_, shape, clf.classes_, out / PLOTS[1]))
    if y_test is not None:
        written.append(plots.confusion_matrix(y_test, test_pred, clf.classes_, out / PLOTS[2]))
        if shape and X_test.shape[1] == int(np.prod(shape)):
            written.append(
                plots.misclassified(
                    X_test,
                    y_test,
                    test_pred,
                    shape,
                    out / PLOTS[3],
                    pixel_max=meta.get("pixel_max", 255),
                )
            )
    return written


def _saved(model_path, dataset=None):
    model = load(model_path)
    meta = _check_metadata(load_metadata(model_path), model_path)
    if dataset:
        meta = {**meta, "dataset": dataset}
    return model, meta


def _is_int(v, low=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


_METADATA = {  # what a run records about its data, and what each field may hold
    "dataset": lambda v: isinstance(v, str) and 0 < len(v) < 4096 and "\0" not in v,
    "image_size": lambda v: (
        v is None
        or _is_int(v, 1)
        or (isinstance(v, list) and len(v) == 2 and all(_is_int(x, 1) for x in v))
    ),
    "image_shape": lambda v: (
        isinstance(v, list) and len(v) in (2, 3) and all(_is_int(x, 1) for x in v)
    ),
    "skip_bad": lambda v: isinstance(v, bool),
    "features": lambda v: isinstance(v, str) and len(v) < 100,
    "seed": lambda v: v is None or _is_int(v),
    "val_size": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    "test_size": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    "pixel_max": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
}


def _check_metadata(meta, path):
    """A model file's record of its data set, field by field: a file from elsewhere may say
    anything, and ``evaluate`` and ``plot`` act on it."""
    for key, ok in _METADATA.items():
        if key in meta and not ok(meta[key]):
            raise ModelFileError(
                f"{path} is damaged: its metadata {key!r} is {str(meta[key])[:80]!r}."
            )
    return meta


def _test_split(meta, model_path, classes):
    """The test images and their labels, as the model's classes are typed (a model saved
    before labels kept their type has "0".."9" for the digits)."""
    X_test, y_true = _test_images(meta, model_path)
    if classes.dtype.kind == "U" and y_true.dtype.kind != "U":
        y_true = y_true.astype(str)
    unknown = np.setdiff1d(np.unique(y_true.astype(str)), classes.astype(str))
    if len(unknown):
        raise InputError(
            f"{meta['dataset']} has classes {unknown[:5].tolist()} that {model_path} does not "
            f"know (its classes: {classes.tolist()[:10]}): evaluate it on the data set it was "
            "trained on, or one with the same classes."
        )
    return X_test, y_true


def _test_images(meta, model_path):
    if meta.get("dataset") is None:
        raise InputError(f"{model_path} does not say what it was trained on; pass --dataset.")
    if _is_prepared(meta["dataset"]):
        data = _open_prepared(meta["dataset"])
        return _prepared_test(data), class_labels(data.meta["class_names"])[data.y_test]
    ds, sp = _split(meta)
    return sp.X_test, class_labels(ds.class_names)[sp.y_test]


def evaluate(model_path: PathArg, dataset: str | None = None) -> Evaluation:
    """Accuracy and per-class precision/recall/F1 of a saved model on a test split.

    The test split is the one the model was trained with (same data set, seed and sizes, from
    the file's metadata) unless ``dataset`` names another data set.

    Returns
    -------
    Evaluation
    """
    model, meta = _saved(model_path, dataset)
    X_test, y_true = _test_split(meta, model_path, model.classes_)
    X_test = _cached_features(model, X_test)
    y_pred = _predict_test(model, X_test)
    classes = model.classes_
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    per_class = [
        ClassScores(str(c), float(pi), float(ri), float(fi), int(si))
        for c, pi, ri, fi, si in zip(classes, p, r, f, s)
    ]
    return Evaluation(
        meta["dataset"], not dataset, len(y_true), float(np.mean(y_pred == y_true)), per_class
    )


def plot(model_path: PathArg, out: PathArg | None = None, dataset: str | None = None) -> list[Path]:
    """Redraw a saved model's pictures (into its own folder by default); returns the paths.

    The loss curve and the templates come from the model file; the confusion matrix and the
    gallery of mistakes need its test split, which is loaded again from the metadata.
    """
    model, meta = _saved(model_path, dataset)
    out = Path(out) if out else Path(model_path).parent
    if meta.get("dataset") is None:
        return _draw(out, model, meta)
    X_test, y_true = _test_split(meta, model_path, model.classes_)
    X_test = _cached_features(model, X_test)
    return _draw(out, model, meta, X_test, y_true, _predict_test(model, X_test))


def _cached_features(model, X_test):
    """The test pixels with their features computed through the feature cache (so evaluating
    a model again costs no feature time), where the model begins with image features."""
    if not (
        isinstance(model, Pipeline)
        and model.steps[0][0] == "features"
        and not isinstance(X_test, _TestPart)
    ):
        return X_test
    from .features.cache import FeatureCache

    return _TestPart(FeatureCache().transform(model[0], X_test), 1, X_test)


def _image_files(inputs):
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise FileNotFoundError(f"{path} holds no images (.png, .jpg, ...).")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist.")
    return files


def predict(
    model_path: PathArg, inputs: Sequence[PathArg], top_k: int = 3
) -> tuple[str, list[dict[str, Any]]]:
    """Classify image files (or every image in the folders given) with a saved model.

    Each image gets the conversion the training images got (colour mode, size, pixel scale),
    then the stored preprocessing.

    Returns
    -------
    kind : str
        "probability" (Softmax) or "score" (SVM).
    results : list of dict
        ``{"path": str, "top": [(class, value), ...]}``, best first.
    """
    from .data.images import UnreadableImage

    model, meta = _saved(model_path)
    shape = meta.get("image_shape")
    if not shape:
        raise InputError(
            f"{model_path} records no image shape: it was not trained on images "
            "by `linclass train`, so it cannot classify picture files."
        )
    h, w = shape[0], shape[1]
    mode = "RGB" if len(shape) == 3 else "L"
    scale = meta.get("pixel_max", 255) / 255.0
    limits.check_image_side(max(h, w), f"{model_path}: its image size")
    files = _image_files(inputs)
    width = h * w * (3 if mode == "RGB" else 1)
    limits.check_bytes(
        4 * width * len(files), f"{len(files):,} images of {w} x {h} pixels", model_path
    )
    rows = np.empty((len(files), width), dtype=np.float32)
    for i, f in enumerate(files):
        try:
            rows[i] = image_row(read_file(f, "an image file"), (w, h), mode) * scale
        except UnreadableImage as e:
            raise InputError(f"{f} cannot be read as an image ({e}).") from None
    clf = model[-1] if isinstance(model, Pipeline) else model
    X = model[:-1].transform(rows) if isinstance(model, Pipeline) else rows
    if hasattr(clf, "predict_proba"):
        kind, values = "probability", clf.predict_proba(X)
    else:
        kind, values = "score", clf._scores(X)
    k = max(1, min(top_k, len(clf.classes_)))
    results = []
    for f, v in zip(files, values):
        best = np.argsort(-v, kind="stable")[:k]
        results.append({"path": str(f), "top": [(str(clf.classes_[j]), float(v[j])) for j in best]})
    return kind, results
