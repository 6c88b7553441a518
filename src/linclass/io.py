"""Saving and loading models: one ``.npz`` file, no pickle.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) read back with
``allow_pickle=False``, so opening a model file can never run code. It holds:

=========================  ===================================================================
key                        content
=========================  ===================================================================
``format``                 the string ``"linclass-model"``
``format_version``         an integer, 1 for this layout
``estimator``              ``"LinearSVM"`` or ``"SoftmaxClassifier"``
``params``                 the hyperparameters, as JSON text (``get_params()``)
``coef``                   ``coef_``, shape (n_classes, n_features)
``intercept``              ``intercept_``, shape (n_classes,)
``classes``                ``classes_`` (numbers, or unicode strings)
``fitted``                 JSON: ``n_iter_``, ``n_steps_``, ``learning_rate_``, ``reg_``,
                           ``intercept_step_``, ``n_features_in_``, ``history_``
``preprocessing``          optional, JSON: ``{"kind": "mean_image", "standardize": bool}``
``preprocessing_mean``     optional, the mean training image (float32)
``preprocessing_scale``    optional, the per-feature std (float32), when standardized
``metadata``               optional, JSON: anything the caller adds (image shape, data set)
=========================  ===================================================================

Files are written atomically: to a temporary file in the same folder, then renamed over the
target, so an existing file is never replaced by a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError

__all__ = ["save", "load", "load_metadata", "atomic_write", "ModelFileError", "FORMAT_VERSION"]

FORMAT = "linclass-model"
_ARRAYS = ("coef_", "intercept_", "classes_")  # stored as arrays; the rest of the state as JSON
FORMAT_VERSION = 1


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file next to ``path``, then rename it there."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name for the model.")
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _split_pipeline(model):
    """(estimator, MeanImage or None) from an estimator or a Pipeline(MeanImage, estimator)."""
    from sklearn.pipeline import Pipeline

    from .data.preprocess import MeanImage
    from .estimators import _LinearClassifier

    if isinstance(model, Pipeline):
        steps = [s for _, s in model.steps if s != "passthrough"]
        if (len(steps) == 2 and isinstance(steps[0], MeanImage)
                and isinstance(steps[1], _LinearClassifier)):
            return steps[1], steps[0]
        raise TypeError("only a Pipeline of (MeanImage, LinearSVM or SoftmaxClassifier) can be "
                        "saved; save the classifier itself with model.save(path).")
    if not isinstance(model, _LinearClassifier):
        raise TypeError(f"cannot save a {type(model).__name__}; linclass saves LinearSVM and "
                        "SoftmaxClassifier models.")
    return model, None


def _classes_array(classes):
    arr = np.asarray(classes.tolist())
    if arr.dtype.kind not in "biufU" or arr.shape != classes.shape or not np.array_equal(
            arr, classes):
        raise TypeError("classes_ must be all numbers or all strings to be saved without pickle; "
                        f"got {classes.tolist()[:5]}...")
    return arr


def save(model, path, preprocessing=None, metadata=None):
    """Save a fitted classifier (or a Pipeline(MeanImage, classifier)) to ``path``.

    Parameters
    ----------
    model : LinearSVM, SoftmaxClassifier or Pipeline
    path : str or Path
        The file to write; it is replaced atomically if it exists.
    preprocessing : MeanImage, optional
        A fitted preprocessing step to store with the classifier (``load`` then returns a
        Pipeline that applies it).
    metadata : dict, optional
        JSON-serializable extras (for example the image shape and the data set's name).
    """
    from sklearn.utils.validation import check_is_fitted

    from .estimators import FITTED_STATE

    clf, pre = _split_pipeline(model)
    pre = preprocessing if preprocessing is not None else pre
    state = clf.get_fitted_state()
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "estimator": np.array(type(clf).__name__),
        "params": np.array(json.dumps(clf._json_params())),
        "coef": state["coef_"],
        "intercept": state["intercept_"],
        "classes": _classes_array(state["classes_"]),
        "fitted": np.array(json.dumps(
            {k: state[k] for k in FITTED_STATE if k not in _ARRAYS})),
    }
    if pre is not None:
        check_is_fitted(pre, "mean_")
        arrays["preprocessing"] = np.array(json.dumps(
            {"kind": "mean_image", "standardize": bool(pre.standardize)}))
        arrays["preprocessing_mean"] = pre.mean_
        if pre.scale_ is not None:
            arrays["preprocessing_scale"] = pre.scale_
    if metadata is not None:
        arrays["metadata"] = np.array(json.dumps(metadata))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _open(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file (look for model.npz in it).")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ModelFileError(
            f"{path} is not a linclass model file or is damaged ({e.__class__.__name__})."
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path} is a single NumPy array, not a linclass model file.")
    try:
        fmt = str(data["format"][()])
        version = int(data["format_version"][()])
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        raise ModelFileError(f"{path} is not a linclass model file (no format marker).") from None
    if fmt != FORMAT:
        raise ModelFileError(f"{path} is not a linclass model file (format {fmt!r}).")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}; this linclass reads up to {FORMAT_VERSION}. "
            "Upgrade linclass to read it."
        )
    return data


def _json(data, key, path):
    try:
        return json.loads(str(data[key][()]))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(f"{path} is damaged: cannot read {key!r} ({e}).") from None


def load_metadata(path):
    """The ``metadata`` dict stored with a model (empty when there is none)."""
    data = _open(path)
    with data:
        return _json(data, "metadata", path) if "metadata" in data.files else {}


def load(path):
    """Load a model saved by :func:`save`.

    Returns
    -------
    LinearSVM or SoftmaxClassifier, or a Pipeline(MeanImage, classifier) when the file holds
    preprocessing.
    """
    from sklearn.pipeline import Pipeline

    from .data.preprocess import MeanImage
    from .estimators import LinearSVM, SoftmaxClassifier

    kinds = {"LinearSVM": LinearSVM, "SoftmaxClassifier": SoftmaxClassifier}
    data = _open(path)
    with data:
        try:
            name = str(data["estimator"][()])
            params = _json(data, "params", path)
            fitted = _json(data, "fitted", path)
            coef = data["coef"]
            intercept = data["intercept"]
            classes = data["classes"]
            pre_info = _json(data, "preprocessing", path) if "preprocessing" in data.files else None
            mean = data["preprocessing_mean"] if pre_info else None
            scale = data["preprocessing_scale"] if "preprocessing_scale" in data.files else None
        except (KeyError, ValueError, zipfile.BadZipFile, OSError) as e:
            raise ModelFileError(f"{path} is damaged or incomplete ({e}).") from None
    if name not in kinds:
        raise ModelFileError(f"{path} holds an unknown estimator {name!r}.")
    C = len(classes)
    if coef.ndim != 2 or coef.shape[0] != C or intercept.shape != (C,):
        raise ModelFileError(
            f"{path} is damaged: coef {coef.shape}, intercept {intercept.shape} and "
            f"{C} classes do not fit together."
        )
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ModelFileError(f"{path} is damaged: its weights are not all finite.")
    clf = kinds[name]()
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {k: v for k, v in params["class_weight"]}
    try:
        clf.set_params(**params)
    except ValueError as e:
        raise ModelFileError(f"{path} has parameters this linclass does not know ({e}).") from None
    try:
        clf.set_fitted_state({**fitted, "coef_": coef, "intercept_": intercept,
                              "classes_": classes})
    except ValueError as e:
        raise ModelFileError(f"{path} is damaged: {e}") from None
    if pre_info is None:
        return clf
    if pre_info.get("kind") != "mean_image" or mean.shape != (coef.shape[1],):
        raise ModelFileError(f"{path} has preprocessing this linclass cannot apply: {pre_info}.")
    pre = MeanImage(standardize=bool(pre_info.get("standardize", False)))
    pre.mean_, pre.scale_, pre.n_features_in_ = mean, scale, coef.shape[1]
    return Pipeline([("preprocess", pre), ("classifier", clf)])
