"""Hyperparameter search over learning rate x regularization strength, as in the course.

Random search draws each value log-uniformly from its range; grid search takes evenly spaced
values on a log scale. Every trial trains on the training split and is scored on the
validation split; trials run in parallel worker processes (one BLAS thread each), reading the
training matrix from one memory-mapped file rather than a copy each. Trial i is seeded with
``seed + i``, so a search is reproducible whatever the order the trials finish in.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from ._typing import Data, PathArg
from .errors import InputError

__all__ = ["search", "trial_grid", "search_ranges", "check_range"]

#: A ``(low, high)`` range of positive floats.
Range: TypeAlias = tuple[float, float]
#: What a range may be given as: a pair, or one number (a range of one point).
RangeArg: TypeAlias = "float | Sequence[float]"

# The default search: around the automatic values (the ones ``fit`` picks itself), 1.5
# decades below and half a decade above the step (above it, steps soon diverge), a decade
# either side of the penalty.
LR_DECADES = (1.5, 0.5)
REG_DECADES = (1.0, 1.0)


def search_ranges(
    model: str,
    X_train: Data,
    y_train: ArrayLike,
    params: dict[str, Any] | None = None,
    lr_range: RangeArg | None = None,
    reg_range: RangeArg | None = None,
) -> tuple[Range, Range, tuple[float, float] | None]:
    """The ranges to search: the ones given, and for a missing one the default for this data,
    centred on the automatic learning rate or penalty (``linclass.optim.auto_settings``), so
    that the search follows the data's scale instead of CIFAR-10's pixels. Returns
    ``(lr_range, reg_range, automatic)``, ``automatic`` the automatic ``(lr, reg)`` or None
    when both ranges were given (nothing is worked out then)."""
    lr_range = None if lr_range is None else check_range(lr_range, "lr_range")
    reg_range = None if reg_range is None else check_range(reg_range, "reg_range")
    if lr_range is not None and reg_range is not None:
        return lr_range, reg_range, None
    from .estimators import MODELS
    from .optim import auto_settings
    from .sources import for_data

    clf = MODELS[model](**{**(params or {}), "learning_rate": "auto", "reg": "auto"})
    clf._check_params()
    _, y_idx = np.unique(np.asarray(y_train), return_inverse=True)
    batch = None if clf.solver == "lbfgs" else clf.batch_size
    source = for_data(np.asarray(X_train), y_idx, None, batch)
    lr, reg, _ = auto_settings(source, clf._loss(), "auto", "auto", clf.optimizer, clf.momentum)
    return (
        lr_range or (lr / 10 ** LR_DECADES[0], lr * 10 ** LR_DECADES[1]),
        reg_range or (reg / 10 ** REG_DECADES[0], reg * 10 ** REG_DECADES[1]),
        (lr, reg),
    )


def check_range(value: object, name: str) -> Range:
    """``value`` as a ``(low, high)`` pair of floats with ``0 < low <= high`` (a single number
    is a range of one point), or an InputError that names the argument."""
    try:
        items: list[Any] = list(value) if isinstance(value, (tuple, list)) else [value]
        values = [float(v) for v in items]
    except (TypeError, ValueError):
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not (0 < values[0] <= values[1] < math.inf):
        raise InputError(f"{name} must be a (low, high) pair with 0 < low <= high; got {value!r}.")
    return values[0], values[1]


def trial_grid(
    lr_range: Range, reg_range: Range, trials: int, grid: bool = False, seed: int = 0
) -> list[tuple[float, float]]:
    """The (learning_rate, reg) pairs to try: ``trials`` random log-uniform draws, or a grid
    of about ``trials`` points (round(sqrt(trials)) per axis)."""
    (lr_lo, lr_hi), (reg_lo, reg_hi) = lr_range, reg_range
    if grid:
        k = max(1, round(math.sqrt(trials)))
        lrs = np.geomspace(lr_lo, lr_hi, k if lr_hi > lr_lo else 1)
        regs = np.geomspace(reg_lo, reg_hi, k if reg_hi > reg_lo else 1)
        return [(float(a), float(b)) for a in lrs for b in regs]
    rng = np.random.default_rng(seed)
    lrs = 10 ** rng.uniform(np.log10(lr_lo), np.log10(lr_hi), trials)
    regs = 10 ** rng.uniform(np.log10(reg_lo), np.log10(reg_hi), trials)
    return [(float(a), float(b)) for a, b in zip(lrs, regs)]


# Worker-side state: the data, opened once per process.
_DATA: dict = {}


def _open_data(paths):
    if _DATA.get("paths") != paths:
        _DATA.clear()
        _DATA["paths"] = paths
        _DATA["arrays"] = [np.load(p, mmap_mode="r") for p in paths]
    return _DATA["arrays"]


def _run_trial(index, model, params, lr, reg, seed, paths, threads):
    from threadpoolctl import threadpool_limits

    from .estimators import MODELS

    X, y, Xv, yv = _open_data(paths)
    clf = MODELS[model](**{**params, "learning_rate": lr, "reg": reg, "random_state": seed + index})
    t0 = time.perf_counter()
    with threadpool_limits(threads):
        try:
            clf.fit(X, y, eval_set=(Xv, yv))
        except FloatingPointError as e:  # a diverging learning rate is a result, not a crash
            return {
                "index": index,
                "learning_rate": lr,
                "reg": reg,
                "val_accuracy": float("nan"),
                "train_accuracy": float("nan"),
                "epochs": 0,
                "seconds": time.perf_counter() - t0,
                "error": str(e).split(":")[0],
            }
    return {
        "index": index,
        "learning_rate": lr,
        "reg": reg,
        "val_accuracy": float(clf.score(Xv, yv)),
        "train_accuracy": float(clf.history_["train_accuracy"][-1]),
        "epochs": int(clf.n_iter_),
        "seconds": time.perf_counter() - t0,
        "state": clf.get_fitted_state(),
    }


def search(
    model: str,
    X_train: Data,
    y_train: ArrayLike,
    X_val: Data,
    y_val: ArrayLike,
    lr_range: RangeArg | None = None,
    reg_range: RangeArg | None = None,
    trials: int = 16,
    grid: bool = False,
    seed: int = 0,
    n_jobs: int | None = None,
    params: dict[str, Any] | None = None,
    callback: Callable[[dict[str, Any], int, int], Any] | None = None,
    workdir: PathArg | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """Train one model per (learning rate, reg) pair and rank them by validation accuracy.

    Parameters
    ----------
    model : {"svm", "softmax"}
    X_train, y_train, X_val, y_val : arrays
        Preprocessed features and labels.
    lr_range, reg_range : (low, high), optional
        Default: around the automatic values for this data (``search_ranges``).
    trials : int
        Random draws, or about that many grid points with ``grid=True``.
    seed : int
        Seeds the draws and each trial (trial i gets ``seed + i``).
    n_jobs : int, optional
        Worker processes; by default one per core.
    params : dict, optional
        Other estimator parameters (``max_epochs``, ``max_steps``, ``batch_size``, ...).
    callback : callable, optional
        ``callback(result, done, total)`` after each finished trial.

    Returns
    -------
    results : list of dict
        One per trial, best validation accuracy first: ``learning_rate``, ``reg``,
        ``val_accuracy``, ``train_accuracy``, ``epochs``, ``seconds`` (and ``error`` for a
        trial that diverged).
    best : estimator
        The best trial's fitted classifier.
    """
    from .estimators import MODELS

    if model not in MODELS:
        raise InputError(f"model must be one of {sorted(MODELS)}; got {model!r}.")
    lr_range, reg_range, _ = search_ranges(model, X_train, y_train, params, lr_range, reg_range)
    pairs = trial_grid(lr_range, reg_range, trials, grid, seed)
    n_jobs = n_jobs or os.cpu_count() or 1
    params = dict(params or {})
    results = []
    with tempfile.TemporaryDirectory(dir=workdir, prefix="linclass-tune-") as tmp:
        written = []
        for name, arr in (("X", X_train), ("y", y_train), ("Xv", X_val), ("yv", y_val)):
            path = str(Path(tmp) / f"{name}.npy")
            np.save(path, np.ascontiguousarray(arr))
            written.append(path)
        paths = tuple(written)
        threads = 1 if n_jobs > 1 else (os.cpu_count() or 1)
        jobs = [
            (i, model, params, lr, reg, seed, paths, threads) for i, (lr, reg) in enumerate(pairs)
        ]
        if n_jobs == 1:
            for job in jobs:
                results.append(_run_trial(*job))
                if callback:
                    callback(results[-1], len(results), len(jobs))
        else:
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs))) as pool:
                futures = [pool.submit(_run_trial, *job) for job in jobs]
                for future in as_completed(futures):
                    results.append(future.result())
                    if callback:
                        callback(results[-1], len(results), len(jobs))
        _DATA.clear()
    results.sort(key=lambda r: (-np.nan_to_num(r["val_accuracy"], nan=-1.0), r["index"]))
    if "state" not in results[0]:
        raise InputError("every trial diverged: lower the learning-rate range (--lr).")
    best = _rebuild(model, params, results[0], seed)
    return [{k: v for k, v in r.items() if k != "state"} for r in results], best


def _rebuild(model, params, result, seed):
    """The best trial's classifier, from the fitted state the worker sent back."""
    from .estimators import MODELS

    clf = MODELS[model](
        **{
            **params,
            "learning_rate": result["learning_rate"],
            "reg": result["reg"],
            "random_state": seed + result["index"],
        }
    )
    return clf.set_fitted_state(result["state"])
