"""A training run end to end: data -> split -> preprocessing -> fit -> metrics -> saved files.

This is what ``linclass train`` and ``linclass evaluate`` do, as plain functions that return
results and print nothing (the command line draws them).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from .data import MeanImage, load_dataset, train_val_test_split
from .estimators import LinearSVM, SoftmaxClassifier
from .io import atomic_write, load, load_metadata, save

__all__ = ["TrainConfig", "train", "evaluate", "MODELS"]

MODELS = {"svm": LinearSVM, "softmax": SoftmaxClassifier}


@dataclass
class TrainConfig:
    """Everything a training run depends on; ``None`` means the estimator's default."""

    model: str = "svm"
    dataset: str = "digits"
    learning_rate: float | str | None = None
    reg: float | None = None
    max_epochs: int | None = None
    batch_size: int | None | str = "default"  # None: full batch
    optimizer: str | None = None
    momentum: float | None = None
    lr_decay: float | None = None
    early_stopping: bool = False
    loss_variant: str | None = None
    seed: int = 0
    val_size: float | int = 0.1
    test_size: float | int = 0.2
    standardize: bool = False
    out: str | None = None
    extra: dict = field(default_factory=dict)

    def estimator(self):
        """The classifier this configuration describes."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}; got {self.model!r}.")
        params = {"random_state": self.seed, "early_stopping": self.early_stopping}
        for name in ("learning_rate", "reg", "max_epochs", "optimizer", "momentum", "lr_decay"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.batch_size != "default":
            params["batch_size"] = self.batch_size
        if self.loss_variant is not None:
            if self.model != "svm":
                raise ValueError("loss_variant applies to the SVM only (--model svm).")
            params["loss_variant"] = self.loss_variant
        return MODELS[self.model](**params)

    def out_dir(self):
        if self.out:
            return Path(self.out)
        name = self.dataset.split(":", 1)[0]
        return Path("runs") / f"{self.model}-{name}"


def _split(dataset_spec, seed, val_size, test_size):
    ds = load_dataset(dataset_spec)
    return ds, train_val_test_split(ds, val_size=val_size, test_size=test_size, random_state=seed)


def train(config, callback=None):
    """Run one training job and save its model and ``metrics.json`` into ``config.out_dir()``.

    Parameters
    ----------
    config : TrainConfig
    callback : callable, optional
        Passed to ``fit`` (per-step and per-epoch progress; a truthy return stops).

    Returns
    -------
    dict
        The metrics written to ``metrics.json``, plus ``model_path`` and ``metrics_path``.
    """
    clf = config.estimator()
    ds, sp = _split(config.dataset, config.seed, config.val_size, config.test_size)
    names = np.asarray(ds.class_names)
    pre = MeanImage(standardize=config.standardize)
    X_train = pre.fit_transform(sp.X_train)
    X_val = pre.transform(sp.X_val)
    interrupted = []

    def cb(info):
        stop = bool(callback(info)) if callback is not None else False
        if stop:
            interrupted.append(info)
        return stop

    t0 = time.perf_counter()
    clf.fit(X_train, names[sp.y_train], eval_set=(X_val, names[sp.y_val]), callback=cb)
    fit_seconds = time.perf_counter() - t0
    model = Pipeline([("preprocess", pre), ("classifier", clf)])
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "train_accuracy": float(clf.score(X_train, names[sp.y_train])),
        "val_accuracy": float(clf.score(X_val, names[sp.y_val])),
        "test_accuracy": float(model.score(sp.X_test, names[sp.y_test])),
        "fit_seconds": fit_seconds,
        "epochs": int(clf.n_iter_),
        "interrupted": bool(interrupted),
        "n_train": int(len(sp.y_train)),
        "n_val": int(len(sp.y_val)),
        "n_test": int(len(sp.y_test)),
        "learning_rate": clf.learning_rate_,
        "reg": clf.reg_,
        "params": clf._json_params(),
        "history": clf.history_,
    }
    out = config.out_dir()
    model_path = out / "model.npz"
    metadata = {"dataset": config.dataset, "image_shape": list(ds.image_shape),
                "class_names": list(ds.class_names), "seed": config.seed,
                "val_size": config.val_size, "test_size": config.test_size}
    save(model, model_path, metadata=metadata)
    metrics_path = out / "metrics.json"
    text = json.dumps(metrics, indent=2)
    atomic_write(metrics_path, lambda f: f.write(text.encode()))
    return {**metrics, "model_path": str(model_path), "metrics_path": str(metrics_path),
            "config": asdict(config)}


def evaluate(model_path, dataset=None):
    """Accuracy and per-class precision/recall/F1 of a saved model on a test split.

    The test split is the one the model was trained with (same data set, seed and sizes, from
    the file's metadata) unless ``dataset`` names another data set.

    Returns
    -------
    dict with ``accuracy``, ``n``, ``dataset`` and ``per_class`` (a list of dicts).
    """
    model = load(model_path)
    meta = load_metadata(model_path)
    spec = dataset or meta.get("dataset")
    if spec is None:
        raise ValueError(f"{model_path} does not say what it was trained on; pass --dataset.")
    ds, sp = _split(spec, meta.get("seed", 0), meta.get("val_size", 0.1),
                    meta.get("test_size", 0.2))
    y_true = np.asarray(ds.class_names)[sp.y_test]
    y_pred = model.predict(sp.X_test)
    classes = model.classes_
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    per_class = [{"class": str(c), "precision": float(pi), "recall": float(ri), "f1": float(fi),
                  "support": int(si)} for c, pi, ri, fi, si in zip(classes, p, r, f, s)]
    return {"dataset": spec, "n": int(len(y_true)),
            "accuracy": float(np.mean(y_pred == y_true)), "per_class": per_class}
