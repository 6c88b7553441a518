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
``features``               optional, JSON: the image features computed before the
                           preprocessing (``linclass.features.spec.state``: each step's kind,
                           parameters and image shape)
``features_I_NAME``        optional, the learnt arrays of feature step I (the patches'
                           ``zca_mean``, ``zca`` and ``centroids``, float32)
``metadata``               optional, JSON: anything the caller adds (image shape, data set)
=========================  ===================================================================

Files are written atomically (``atomic_write``): to a new file in the same folder, then renamed
over the target, so an existing file is never replaced by a half-written one; a temporary
that a killed write leaves is removed by the next write to the folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._typing import PathArg
from .errors import ModelFileError

__all__ = ["save", "load", "load_metadata", "atomic_write", "ModelFileError", "FORMAT_VERSION"]

FORMAT = "linclass-model"
_ARRAYS = ("coef_", "intercept_", "classes_")  # stored as arrays; the rest of the state as JSON
FORMAT_VERSION = 1


def atomic_write(path: PathArg, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file_object)`` on a new file next to ``path``, then put it there in one
    rename, so ``path`` is always either the old file or the whole new one.

    Where Linux allows (``O_TMPFILE``), the new file has no name until it is complete: a
    process killed while writing leaves nothing behind (only a kill in the microseconds
    between naming the finished file and the rename can leave it under its temporary name).
    Elsewhere it is a hidden ``.NAME.PID.XXXX.tmp`` from the start, which an interrupted
    write removes. Either way the next write to the folder removes such a file once its
    process is gone (``kill -9``).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name for the model.")
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder, path.name)
    fd = _unnamed_file(folder)
    tmp = None
    try:
        if fd is None:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder
            )
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600: give what open() would
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:  # give the finished file a name, then the target's
                tmp = _link(f.fileno(), folder, path.name)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _umask():
    """The process's umask, read without changing it where Linux says it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unnamed_file(folder):
    """A file descriptor for a file with no name yet in ``folder`` (Linux ``O_TMPFILE``), or
    None where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:
        return None


def _link(fd, folder, name):
    """Give the unnamed file ``fd`` a fresh hidden name in ``folder`` and return it
    (``linkat`` with ``AT_SYMLINK_FOLLOW``: a directory descriptor makes Python call
    ``linkat`` rather than ``link``, which would not follow /proc's link)."""
    root = os.open("/", os.O_RDONLY)
    try:
        for _ in range(100):
            tmp = Path(folder) / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                os.link(f"/proc/self/fd/{fd}", tmp, src_dir_fd=root, follow_symlinks=True)
                return tmp
            except FileExistsError:  # another writer's name: draw again
                continue
        raise FileExistsError(f"no free temporary name in {folder}")
    finally:
        os.close(root)


def _remove_stale_temporaries(folder, name):
    """Remove ``.NAME.PID.*.tmp`` files whose writing process no longer exists."""
    prefix = f".{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        pid = entry.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _split_pipeline(model):
    """(estimator, MeanImage or None, features or None) from an estimator or a
    Pipeline([features,] [MeanImage,] estimator)."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    from .data.preprocess import MeanImage
    from .estimators import _LinearClassifier
    from .features.base import ImageFeature

    if isinstance(model, Pipeline):
        steps = [s for _, s in model.steps if s not in ("passthrough", None)]
        feat = (
            steps.pop(0) if steps and isinstance(steps[0], (ImageFeature, FeatureUnion)) else None
        )
        pre = steps.pop(0) if steps and isinstance(steps[0], MeanImage) else None
        if len(steps) == 1 and isinstance(steps[0], _LinearClassifier):
            return steps[0], pre, feat
        raise TypeError(
            "only a Pipeline of ([image features,] [MeanImage,] LinearSVM or "
            "SoftmaxClassifier) can be saved; save the classifier itself with "
            "model.save(path)."
        )
    if not isinstance(model, _LinearClassifier):
        raise TypeError(
            f"cannot save a {type(model).__name__}; linclass saves LinearSVM and "
            "SoftmaxClassifier models."
        )
    return model, None, None


def _classes_array(classes):
    arr = np.asarray(classes.tolist())
    if (
        arr.dtype.kind not in "biufU"
        or arr.shape != classes.shape
        or not np.array_equal(arr, classes)
    ):
        raise TypeError(
            "classes_ must be all numbers or all strings to be saved without pickle; "
            f"got {classes.tolist()[:5]}..."
        )
    return arr


def save(
    model: Any, path: PathArg, preprocessing: Any = None, metadata: dict | None = None
) -> None:
    """Save a fitted classifier (or a Pipeline(MeanImage, classifier)) to ``path``.

    Parameters
    ----------
    model : LinearSVM, SoftmaxClassifier or Pipeline
        A Pipeline may hold, before the classifier, image features (``linclass.features``:
        ``HOG``, ``ColorHistogram``, ``Patches``, or a FeatureUnion of them, fitted) and a
        ``MeanImage``, in that order.
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

    clf, pre, feat = _split_pipeline(model)
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
        "fitted": np.array(json.dumps({k: state[k] for k in FITTED_STATE if k not in _ARRAYS})),
    }
    if pre is not None:
        check_is_fitted(pre, "mean_")
        arrays["preprocessing"] = np.array(
            json.dumps({"kind": "mean_image", "standardize": bool(pre.standardize)})
        )
        arrays["preprocessing_mean"] = pre.mean_
        if pre.scale_ is not None:
            arrays["preprocessing_scale"] = pre.scale_
    if feat is not None:
        from .features import spec

        for _, step in spec.steps(feat):
            check_is_fitted(step, "image_shape_")
        info, learnt = spec.state(feat)
        arrays["features"] = np.array(json.dumps(info))
        arrays.update(learnt)
    if metadata is not None:
        arrays["metadata"] = np.array(json.dumps(metadata))
    atomic_write(path, lambda f: np.savez(f, **arrays))


# -- reading: every field checked against the schema before it is used ------------------------

_MAX_JSON = 64 * 2**20  # characters of one JSON field
_MAX_DEPTH = 20  # nesting of JSON values (the deepest in a real file is 3)


def _bad(path, what):
    return ModelFileError(f"{path} is damaged: {what}.")


def _open(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file (look for model.npz in it).")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a regular file (a device, a pipe or a socket).")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:  # no pickle: whatever np.load raises is about the bytes
        raise ModelFileError(
            f"{path} is not a linclass model file or is damaged ({e.__class__.__name__})."
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path} is a single NumPy array, not a linclass model file.")
    try:
        _check_format(data, path)
    except BaseException:
        data.close()
        raise
    return data


def _check_format(data, path):
    """The members' headers, the format marker and the version, before anything is used."""
    if "format" not in data.files:
        raise ModelFileError(f"{path} is not a linclass model file (no format marker).")
    _check_members(data, path)
    fmt = _text(data, "format", path)
    if fmt != FORMAT:
        raise ModelFileError(f"{path} is not a linclass model file (format {fmt!r}).")
    version = _array(data, "format_version", path)
    if version.dtype.kind not in "iu" or version.shape != ():
        raise _bad(path, "format_version is not an integer")
    if int(version) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {int(version)}; this linclass reads up to "
            f"{FORMAT_VERSION}. Upgrade linclass to read it."
        )


def _check_members(data, path):
    """Each member's declared shape and type, read from its .npy header, against the bytes the
    member holds and the memory cap, before any of it is loaded."""
    from numpy.lib import format as npy

    from .limits import check_bytes

    for info in data.zip.infolist():
        try:
            with data.zip.open(info) as f:
                major, _ = npy.read_magic(f)
                shape, _, dtype = (
                    npy.read_array_header_1_0(f) if major == 1 else npy.read_array_header_2_0(f)
                )
                header = f.tell() if hasattr(f, "tell") else 0
        except Exception as e:
            raise _bad(
                path, f"member {info.filename} is not a NumPy array ({type(e).__name__})"
            ) from None
        if dtype.hasobject:
            raise _bad(path, f"member {info.filename} holds Python objects")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size - header:
            raise _bad(
                path,
                f"member {info.filename} declares {nbytes:,} bytes but holds "
                f"{info.file_size - header:,}",
            )
        check_bytes(nbytes, f"member {info.filename}", path)


def _array(data, key, path):
    try:
        return data[key]
    except KeyError:
        raise _bad(path, f"it has no {key!r}") from None
    except Exception as e:
        raise _bad(path, f"cannot read {key!r} ({type(e).__name__}: {e})") from None


def _valid_unicode(arr):
    """Whether a unicode array holds only real characters: numpy stores UCS4 code units
    without checking them, and one past U+10FFFF (or a lone surrogate) makes a Python string
    that breaks whatever touches it."""
    order = arr.dtype.byteorder if arr.dtype.byteorder in "<>" else "="
    codes = np.frombuffer(arr.tobytes(), dtype=np.dtype(order + "u4"))
    return not np.any((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF)))


def _text(data, key, path, limit=_MAX_JSON):
    arr = _array(data, key, path)
    if (
        arr.dtype.kind != "U"
        or arr.shape != ()
        or arr.dtype.itemsize > 4 * limit
        or not _valid_unicode(arr)
    ):
        raise _bad(path, f"{key!r} is not a text")
    return str(arr[()])


def _json(data, key, path, kind=dict):
    text = _text(data, key, path)
    if _bracket_depth(text) > _MAX_DEPTH:
        raise _bad(path, f"{key!r} is nested more than {_MAX_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _bad(path, f"{key!r} is not JSON ({type(e).__name__})") from None
    if not isinstance(value, kind):
        raise _bad(path, f"{key!r} is not a JSON {kind.__name__}")
    return value


def _bracket_depth(text):
    """The deepest nesting of brackets outside strings (checked before json.loads, whose
    recursion a few thousand brackets would exhaust)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _number(value, name, path, kind=float, low=None):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind is int:
        ok = isinstance(value, int) or float(value).is_integer()
    if ok:
        ok = np.isfinite(value) and (low is None or value >= low)
    if not ok:
        raise _bad(
            path,
            f"{name} is {value!r}, not a finite "
            f"{'integer' if kind is int else 'number'}"
            f"{'' if low is None else f' >= {low}'}",
        )
    return kind(value)


def _check_fitted(fitted, coef, path):
    from .train import HISTORY_KEYS

    out = {}
    for k in ("n_iter_", "n_steps_"):
        out[k] = _number(fitted.get(k, 0), k, path, int, 0)
    for k in ("learning_rate_", "reg_", "intercept_step_"):
        out[k] = _number(fitted.get(k, 1.0), k, path, float, 0)
    if "n_features_in_" in fitted:
        n = _number(fitted["n_features_in_"], "n_features_in_", path, int, 1)
        if n != coef.shape[1]:
            raise _bad(path, f"n_features_in_ is {n} but the weights have {coef.shape[1]} features")
    out["n_features_in_"] = coef.shape[1]
    history = fitted.get("history_", {})
    if not (
        isinstance(history, dict)
        and set(history) <= set(HISTORY_KEYS)
        and all(
            isinstance(v, list) and all(x is None or isinstance(x, (int, float)) for x in v)
            for v in history.values()
        )
    ):
        raise _bad(path, "history_ is not lists of numbers under known names")
    out["history_"] = {k: list(history.get(k, [])) for k in HISTORY_KEYS}
    return out


def _check_weights(coef, intercept, classes, path):
    if coef.dtype not in (np.float32, np.float64) or coef.ndim != 2 or coef.shape[1] < 1:
        raise _bad(
            path, f"coef is {coef.dtype} {coef.shape}, not float32/float64 (n_classes, n_features)"
        )
    if intercept.dtype != coef.dtype:
        raise _bad(path, f"intercept is {intercept.dtype}, coef {coef.dtype}")
    if (
        classes.ndim != 1
        or classes.dtype.kind not in "biuU"
        or (classes.dtype.kind == "U" and not _valid_unicode(classes))
    ):
        raise _bad(path, f"classes are {classes.dtype} {classes.shape}, not numbers or text")
    C = len(classes)
    if coef.shape[0] != C or intercept.shape != (C,):
        raise ModelFileError(
            f"{path} is damaged: coef {coef.shape}, intercept {intercept.shape} and "
            f"{C} classes do not fit together."
        )
    if C < 2 or len(np.unique(classes)) != C:
        raise _bad(
            path,
            f"it has {C} classes ({len(np.unique(classes))} different); a "
            "classifier has at least 2, each once",
        )
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ModelFileError(f"{path} is damaged: its weights are not all finite.")


def load_metadata(path: PathArg) -> dict:
    """The ``metadata`` dict stored with a model (empty when there is none)."""
    data = _open(path)
    with data:
        return _json(data, "metadata", path) if "metadata" in data.files else {}


def load(path: PathArg) -> Any:
    """Load a model saved by :func:`save`.

    Every field is checked against the layout above (types, shapes, sizes, nesting) before it
    is used: a damaged or hand-made file ends in a ``ModelFileError`` that says what is wrong.

    Returns
    -------
    LinearSVM or SoftmaxClassifier, or a Pipeline([features,] [MeanImage,] classifier) when the
    file holds image features or preprocessing.
    """
    from sklearn.pipeline import Pipeline

    from .estimators import LinearSVM, SoftmaxClassifier

    kinds = {"LinearSVM": LinearSVM, "SoftmaxClassifier": SoftmaxClassifier}
    data = _open(path)
    with data:
        name = _text(data, "estimator", path, limit=100)
        params = _json(data, "params", path)
        fitted = _json(data, "fitted", path)
        coef = _array(data, "coef", path)
        intercept = _array(data, "intercept", path)
        classes = _array(data, "classes", path)
        pre_info = _json(data, "preprocessing", path) if "preprocessing" in data.files else None
        mean = _array(data, "preprocessing_mean", path) if pre_info is not None else None
        scale = (
            _array(data, "preprocessing_scale", path)
            if pre_info is not None and "preprocessing_scale" in data.files
            else None
        )
        feat_info = _json(data, "features", path) if "features" in data.files else None
        learnt = {k: _array(data, k, path) for k in data.files if k.startswith("features_")}
    if name not in kinds:
        raise ModelFileError(f"{path} holds an unknown estimator {name!r}.")
    _check_weights(coef, intercept, classes, path)
    state = _check_fitted(fitted, coef, path)
    clf = kinds[name]()
    if isinstance(params.get("class_weight"), list):
        pairs = params["class_weight"]
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise _bad(path, "class_weight is not [class, weight] pairs")
        params["class_weight"] = dict(pairs)
    try:
        clf.set_params(**params)
        clf._check_params()
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{path} has parameters this linclass does not take ({e}).") from None
    clf.set_fitted_state({**state, "coef_": coef, "intercept_": intercept, "classes_": classes})
    steps = []
    if feat_info is not None:
        from .features import spec

        feat = spec.from_state(feat_info, learnt, path)
        width = sum(s.n_features_out_ for _, s in spec.steps(feat))
        if width != coef.shape[1]:
            raise _bad(
                path, f"its features give {width:,} values but the weights take {coef.shape[1]:,}"
            )
        steps.append(("features", feat))
    if pre_info is not None:
        steps.append(("preprocess", _preprocessing(pre_info, mean, scale, coef.shape[1], path)))
    return Pipeline([*steps, ("classifier", clf)]) if steps else clf


def _preprocessing(pre_info, mean, scale, D, path):
    """The stored MeanImage, checked against the weights' D features."""
    from .data.preprocess import MeanImage

    if (
        set(pre_info) - {"kind", "standardize"}
        or pre_info.get("kind") != "mean_image"
        or not isinstance(pre_info.get("standardize", False), bool)
    ):
        raise ModelFileError(f"{path} has preprocessing this linclass cannot apply: {pre_info}.")
    for arr, what in ((mean, "preprocessing_mean"), (scale, "preprocessing_scale")):
        if arr is not None and (
            arr.shape != (D,) or arr.dtype.kind != "f" or not np.all(np.isfinite(arr))
        ):
            raise _bad(path, f"{what} is {arr.dtype} {arr.shape}, not {D} finite numbers")
    if scale is not None and not np.all(scale > 0):
        raise _bad(path, "preprocessing_scale has values <= 0")
    if pre_info.get("standardize", False) and scale is None:
        raise _bad(path, "standardize is set but preprocessing_scale is missing")
    pre = MeanImage(standardize=bool(pre_info.get("standardize", False)))
    pre.mean_, pre.scale_, pre.n_features_in_ = mean, scale, D
    return pre
