"""Input validation for the estimators, in one place: parameters, labels, weights, held-out
rows, and X that lives outside memory (on disk or on Dask). Every check raises an error that
names the problem and the fix."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._typing import Data
from .errors import InputError

__all__ = [
    "check_params",
    "encode_labels",
    "check_sample_weight",
    "with_class_weight",
    "hold_out",
    "check_unread",
    "check_unread_features",
]


def _real(v):
    """``v`` as a float where it is a real number, else NaN (which fails every comparison)."""
    return float(v) if isinstance(v, Real) else float("nan")


def _positive_int(v, allow_none=False):
    return (allow_none and v is None) or (isinstance(v, Integral) and v >= 1)


# name: (test, what it must be)
_RULES = {
    "learning_rate": (
        lambda v: v == "auto" or (np.isfinite(_real(v)) and _real(v) > 0),
        'a positive number or "auto"',
    ),
    "reg": (
        lambda v: v == "auto" or (np.isfinite(_real(v)) and _real(v) >= 0),
        'a number >= 0 or "auto"',
    ),
    "batch_size": (
        lambda v: _positive_int(v, allow_none=True),
        "a positive integer, or None for full-batch gradient descent",
    ),
    "max_epochs": (_positive_int, "a positive integer"),
    "max_steps": (
        lambda v: _positive_int(v, allow_none=True),
        "a positive integer, or None for no limit",
    ),
    "momentum": (lambda v: 0 <= _real(v) < 1, "in [0, 1)"),
    "lr_decay": (lambda v: 0 < _real(v) <= 1, "in (0, 1]"),
    "tol": (
        lambda v: v is None or _real(v) >= 0,
        "a number >= 0, or None to train all max_epochs",
    ),
    "validation_fraction": (lambda v: 0 < _real(v) < 1, "in (0, 1)"),
    "n_iter_no_change": (_positive_int, "a positive integer"),
    "scoring": (lambda v: isinstance(v, str) and v in ("loss", "accuracy"), '"loss" or "accuracy"'),
    "shuffle": (
        lambda v: isinstance(v, (bool, np.bool_)) or (isinstance(v, str) and v == "blocks"),
        'True, False or "blocks"',
    ),
}


def check_params(est: Any, solvers: Sequence[str], optimizers: Collection[str]) -> None:
    """Check an estimator's hyperparameters (before any data is read)."""
    rules = dict(_RULES)
    rules["optimizer"] = (lambda v: v in optimizers, f"one of {sorted(optimizers)}")
    rules["solver"] = (lambda v: v in solvers, f"one of {solvers}")
    order = (
        "learning_rate",
        "reg",
        "batch_size",
        "max_epochs",
        "max_steps",
        "optimizer",
        "momentum",
        "lr_decay",
        "tol",
        "validation_fraction",
        "n_iter_no_change",
        "shuffle",
        "solver",
        "scoring",
    )
    for name in order:
        ok, want = rules[name]
        value = getattr(est, name)
        try:
            good = bool(ok(value))
        except TypeError:  # a comparison the value's type does not support
            good = False
        if not good:
            raise InputError(f"{name} must be {want}; got {value!r}.")
    if est.solver == "lbfgs" and not est._loss().smooth:
        raise InputError(
            f'solver="lbfgs" needs a smooth loss, and {type(est).__name__}\'s hinge has a '
            'kink: use squared=True (the squared hinge), or solver="sgd".'
        )


def encode_labels(classes: np.ndarray, y: ArrayLike, what: str = "y") -> np.ndarray:
    """Class labels -> indices into ``classes``, with an error naming unknown labels."""
    labels = np.asarray(y)
    idx = np.searchsorted(classes, labels)
    idx = np.clip(idx, 0, len(classes) - 1)
    unknown = classes[idx] != labels
    if np.any(unknown):
        raise InputError(
            f"{what} contains labels the model does not know: {np.unique(labels[unknown])[:10]}; "
            f"known classes are {classes.tolist()[:20]}. Pass every class in `classes=` "
            "(partial_fit) or in the training labels."
        )
    return idx.astype(np.intp)


def check_sample_weight(sample_weight: Data | None, X: Data) -> np.ndarray | None:
    """``sample_weight`` as an array in X's dtype, or None; finite, >= 0, not all zero."""
    if sample_weight is None:
        return None
    from .array_api import numpy_dtype, to_numpy

    w = np.asarray(to_numpy(sample_weight), dtype=numpy_dtype(X))
    if w.shape != (X.shape[0],):
        raise InputError(f"sample_weight must have shape ({X.shape[0]},); got {w.shape}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise InputError("sample_weight must be finite, >= 0, and not all zero.")
    return w


def with_class_weight(
    class_weight: dict[Any, float] | str | None,
    classes: np.ndarray,
    sample_weight: np.ndarray | None,
    y: np.ndarray,
    dtype: DTypeLike,
) -> np.ndarray | None:
    """Per-sample weights times the weight of each sample's class (``class_weight``)."""
    if class_weight is None:
        return sample_weight
    if isinstance(class_weight, dict):
        known = set(classes.tolist())
        unknown = [c for c in class_weight if c not in known]
        if unknown:
            raise InputError(
                f"class_weight names classes that are not in the data: "
                f"{unknown[:5]}; the classes are {classes.tolist()[:20]}."
            )
        bad = {
            c: w
            for c, w in class_weight.items()
            if not (isinstance(w, Real) and not isinstance(w, bool) and np.isfinite(w) and w >= 0)
        }
        if bad:
            raise InputError(f"class_weight must give each class a finite weight >= 0; got {bad}.")
        if not any(class_weight.get(c, 1.0) > 0 for c in classes.tolist()):
            raise InputError("class_weight gives every class a weight of 0: nothing to learn.")
    elif class_weight != "balanced":
        raise InputError(
            f'class_weight must be None, "balanced" or a dict {{class: weight}}; '
            f"got {class_weight!r}."
        )
    from sklearn.utils.class_weight import compute_sample_weight

    cw = compute_sample_weight(class_weight, y).astype(dtype)
    return cw if sample_weight is None else sample_weight * cw


def hold_out(
    X: Data,
    y_idx: np.ndarray,
    sample_weight: np.ndarray | None,
    rng: np.random.Generator,
    fraction: float,
    n_classes: int,
) -> tuple[Data, np.ndarray, np.ndarray | None, Data, np.ndarray]:
    """Split off a (stratified where it can be) validation part for early stopping:
    ``(X_train, y_train, w_train, X_val, y_val)``, rows in their original order."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y_idx, minlength=n_classes)
    stratify = y_idx if counts.min() >= 2 else None
    tr, va = train_test_split(
        np.arange(X.shape[0]),
        test_size=fraction,
        stratify=stratify,
        random_state=int(rng.integers(np.iinfo(np.int32).max)),
    )
    tr.sort()
    va.sort()
    if len(tr) == 0 or len(va) == 0:
        raise InputError(
            f"validation_fraction={fraction} leaves an empty training or "
            f"validation set from {X.shape[0]} samples."
        )
    from .array_api import take_rows

    sw = None if sample_weight is None else sample_weight[tr]
    return take_rows(X, tr), y_idx[tr], sw, take_rows(X, va), y_idx[va]


def check_unread(X: Data, y: Data, early_stopping: bool, has_eval_set: bool) -> np.ndarray:
    """What ``validate_data`` checks, for an X on disk or on Dask that is not read here;
    returns y in memory (the labels are gathered: they are one number a row)."""
    from .sources.dask import check_dask_X, is_dask

    if early_stopping and not has_eval_set:
        raise InputError(
            "early_stopping on an X on disk or on Dask needs an "
            "eval_set=(X_val, y_val): holding out rows would copy them all "
            "into memory."
        )
    if getattr(X, "ndim", None) != 2:
        raise InputError(f"X must be 2-d (n_samples, n_features); got shape {X.shape}.")
    if is_dask(X):
        check_dask_X(X)
    if is_dask(y):
        if any(np.isnan(c) for c in y.chunks[0]):
            raise InputError("y has unknown chunk sizes: call y.compute_chunk_sizes() first.")
        y = y.compute()
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != X.shape[0]:
        raise InputError(f"y must have shape ({X.shape[0]},) to match X {X.shape}; got {y.shape}.")
    return y


def check_unread_features(X: Data, n_features: int, name: str) -> Data:
    """An X on disk or on Dask given to a fitted estimator has its number of features."""
    if getattr(X, "ndim", None) != 2 or X.shape[1] != n_features:
        raise InputError(f"X has shape {X.shape}, but {name} was fitted on {n_features} features.")
    return X
