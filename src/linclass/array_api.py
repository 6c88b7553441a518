"""The objective in any array API namespace: training where the data live (a GPU with CuPy or
PyTorch), with no copy of X to the host.

scikit-learn's convention decides when: with ``sklearn.set_config(array_api_dispatch=True)``
(or ``sklearn.config_context``), ``fit`` and ``predict`` given a PyTorch tensor, a CuPy array or
any array of the array API standard compute in that array's namespace and on its device, and
the fitted ``coef_`` and ``intercept_`` are arrays of that namespace on that device; without
it, such inputs are converted to numpy first, as scikit-learn does. numpy stays the default and
the reference: these functions give the numbers ``linclass.losses`` and ``linclass.objective``
give, written with the standard's operations only (a one-hot mask where numpy indexes, so that
every namespace can run them), through ``array_api_compat``.

What crosses to the host per step: the loss and the count of right answers (two numbers); the
labels are encoded once on the host, then sent to the device once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._typing import Data, Sums

if TYPE_CHECKING:
    from .losses import Loss

__all__ = [
    "all_finite",
    "check_same_namespace",
    "copy",
    "dispatching",
    "float_dtypes",
    "is_array_api",
    "log_softmax",
    "loss_and_gradient",
    "namespace",
    "numpy_dtype",
    "on_device_of",
    "scores",
    "softmax",
    "sqrt",
    "take_classes",
    "take_rows",
    "to_numpy",
    "zeros_like",
]


def namespace(*arrays: Data) -> Any:
    """The array API namespace of ``arrays`` (numpy's for numpy arrays and anything else)."""
    import array_api_compat

    given = [a for a in arrays if a is not None]
    try:
        return array_api_compat.array_namespace(*given)
    except TypeError:
        return array_api_compat.array_namespace(np.empty(0))


def is_array_api(X: object) -> bool:
    """Whether X is an array of a non-numpy array API namespace (torch, cupy, ...)."""
    if X is None or isinstance(X, np.ndarray) or hasattr(X, "tocsr"):
        return False
    import array_api_compat

    return (
        array_api_compat.is_array_api_obj(X)
        and not array_api_compat.is_numpy_array(X)
        and type(X).__module__.split(".")[0] != "dask"
    )


def dispatching(X: object) -> bool:
    """Whether a fit or predict on X computes in X's own namespace: scikit-learn's
    ``array_api_dispatch`` is on and X is a non-numpy array API array."""
    return is_array_api(X) and _dispatch_on()


def _dispatch_on() -> bool:
    import sklearn

    return bool(sklearn.get_config().get("array_api_dispatch", False))


def check_same_namespace(X: Data, fitted: Data, where: str) -> None:
    """Under ``array_api_dispatch``, raise a ValueError when X is not of the namespace and on
    the device of the fitted array ``fitted`` (as scikit-learn's estimators do): a model
    fitted on a GPU predicts on arrays there, one fitted on numpy on numpy arrays."""
    if not _dispatch_on():
        return
    x_api, f_api = is_array_api(X), is_array_api(fitted)
    if not x_api and not f_api:  # numpy, lists, sparse matrices: numpy's
        return
    if x_api and f_api and namespace(X) is namespace(fitted) and _device(X) == _device(fitted):
        return

    def what(a: Data, api: bool) -> str:
        return f"{namespace(a).__name__} on {_device(a)}" if api else "numpy (or array-like)"

    raise ValueError(
        f"Inputs passed to {where} must use the same namespace and the same device as those "
        f"passed to fit(): the model was fitted on {what(fitted, f_api)}, X is "
        f"{what(X, x_api)}. Move X there (for PyTorch: X.to(device)), or fit on X's kind of "
        "array."
    )


def to_numpy(a: Data) -> Any:
    """A numpy copy of an array of any namespace, on the host (numpy arrays as they are)."""
    if a is None or isinstance(a, np.ndarray):
        return a
    import array_api_compat

    if array_api_compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(a):
        return a.get()
    try:
        return np.asarray(a)
    except (TypeError, RuntimeError, ValueError):  # array-api-strict refuses __array__
        xp = namespace(a)
        return np.from_dlpack(xp.asarray(a, device=_cpu(xp, a), copy=True))


def _cpu(xp: Any, a: Data) -> Any:
    import array_api_compat

    if array_api_compat.is_array_api_strict_namespace(xp):
        import array_api_strict

        return array_api_strict.Device("CPU_DEVICE")
    return array_api_compat.device(a)


def numpy_dtype(X: Data) -> np.dtype:
    """X's dtype as a numpy dtype (``torch.float32`` -> ``float32``)."""
    dtype = X.dtype
    return dtype if isinstance(dtype, np.dtype) else np.dtype(str(dtype).split(".")[-1])


def float_dtypes(X: Data) -> list[Any]:
    """The float dtypes X may keep (float64 first: anything else becomes float64, as in
    scikit-learn), in X's namespace when a fit or predict computes there (``dispatching``)."""
    if not dispatching(X):
        return [np.float64, np.float32]
    xp = namespace(X)
    return [xp.float64, xp.float32]


def on_device_of(a: Data, X: Data, dtype: Any = None, copy: bool | None = None) -> Data:
    """``a`` (numpy or already X's) as an array of X's namespace on X's device, in ``dtype``
    (a namespace dtype) if given."""
    import array_api_compat

    xp = namespace(X)
    dev = array_api_compat.device(X)
    if not isinstance(a, np.ndarray) and not np.isscalar(a) and namespace(a) is not xp:
        a = to_numpy(a)
    return xp.asarray(a, dtype=dtype, device=dev, copy=copy)


def take_rows(X: Data, rows: ArrayLike) -> Data:
    """``X[rows]`` for integer positions ``rows`` (numpy), in X's namespace."""
    if isinstance(X, np.ndarray) or hasattr(X, "tocsr"):
        return X[rows]
    xp = namespace(X)
    return xp.take(X, on_device_of(np.asarray(rows, dtype=np.int64), X), axis=0)


def all_finite(*arrays: Data) -> bool:
    """Whether every value of every array is finite (one number to the host per array)."""
    for a in arrays:
        if a is None:
            continue
        xp = namespace(a)
        if not bool(xp.all(xp.isfinite(a))):
            return False
    return True


def copy(a: Data) -> Data:
    """A copy of ``a`` in its own namespace and device."""
    return a.copy() if isinstance(a, np.ndarray) else namespace(a).asarray(a, copy=True)


def zeros_like(a: Data) -> Data:
    return np.zeros_like(a) if isinstance(a, np.ndarray) else namespace(a).zeros_like(a)


def sqrt(a: Data) -> Data:
    return np.sqrt(a) if isinstance(a, np.ndarray) else namespace(a).sqrt(a)


def scores(W: Data, b: Data | None, X: Data) -> Data:
    """``X @ W.T + b`` in X's namespace (b may be None)."""
    S = X @ W.T
    return S if b is None else S + b


def log_softmax(S: Data) -> Data:
    """Row-wise ``log(softmax(S))``, shifted by the row maximum so it never overflows."""
    xp = namespace(S)
    z = S - xp.max(S, axis=1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))


def softmax(S: Data) -> Data:
    """Row-wise softmax probabilities, numerically stable for any finite scores."""
    return namespace(S).exp(log_softmax(S))


def take_classes(classes: np.ndarray, S: Data) -> Data:
    """``classes[argmax(S, axis=1)]``: on S's device for numeric classes, else (strings) a
    numpy array on the host."""
    xp = namespace(S)
    idx = xp.argmax(S, axis=1)
    if classes.dtype.kind in "iufb":
        return xp.take(on_device_of(classes, S), idx, axis=0)
    return classes[to_numpy(idx)]


def _onehot(idx: Data, C: int, like: Data) -> Data:
    xp = namespace(like)
    classes = xp.arange(C, device=_device(like))
    return xp.reshape(idx, (-1, 1)) == xp.reshape(classes, (1, -1))


def _device(a: Data) -> Any:
    import array_api_compat

    return array_api_compat.device(a)


def _loss_terms(S: Data, y: Data, loss: Any) -> tuple[Data, Data]:
    """Per-row losses and the unweighted ``dS`` (n x C) of a ``Hinge`` or the softmax."""
    from .losses import SoftmaxCrossEntropy

    xp = namespace(S)
    C = S.shape[1]
    Y = _onehot(y, C, S)
    zero = xp.zeros((), dtype=S.dtype, device=_device(S))
    true = xp.sum(xp.where(Y, S, zero), axis=1)
    if type(loss) is SoftmaxCrossEntropy:
        z = S - xp.max(S, axis=1, keepdims=True)
        e = xp.exp(z)
        total = xp.sum(e, axis=1, keepdims=True)
        per_row = xp.log(xp.reshape(total, (-1,))) - (true - xp.max(S, axis=1))
        P = e / total
        # p_y - 1 as minus the other probabilities (as linclass.losses does)
        others = xp.where(Y, zero, P)
        dS = xp.where(Y, -xp.sum(others, axis=1, keepdims=True), P)
        return per_row, dS
    d = S - xp.reshape(true, (-1, 1)) + loss.margin
    d = xp.where(Y, zero, d)  # the true class's entry is not a margin
    if loss.variant == "crammer_singer":
        worst = xp.argmax(d, axis=1)  # ties: the first
        h = xp.maximum(xp.max(d, axis=1), zero)
        per_row = h * h if loss.squared else h
        g = 2 * h if loss.squared else xp.astype(h > 0, S.dtype)
        Wm = _onehot(worst, C, S)
        g = xp.reshape(g, (-1, 1))
        dS = xp.where(Wm, g, zero) - xp.where(Y, g, zero)
        return per_row, dS
    pos = xp.maximum(d, zero)
    if loss.squared:
        per_row = xp.sum(pos * pos, axis=1)
        G = 2 * pos
    else:
        per_row = xp.sum(pos, axis=1)
        G = xp.astype(d > 0, S.dtype)
    dS = xp.where(Y, -xp.sum(G, axis=1, keepdims=True), G)
    return per_row, dS


def loss_and_gradient(
    W: Data,
    b: Data | None,
    X: Data,
    y: Data,
    loss: Loss,
    reg: float = 0.0,
    sample_weight: Data | None = None,
) -> Sums:
    """``(loss, dW, db, n_correct)`` as ``linclass.objective.loss_and_gradient`` gives them,
    computed in X's namespace and on its device: dW and db are arrays there, the loss a float.

    ``y`` holds class indices (an integer array of X's namespace), ``sample_weight`` is None or
    a float array of X's namespace.
    """
    from .errors import InputError
    from .losses import is_builtin
    from .objective import with_penalty

    if not is_builtin(loss):
        raise InputError(f"array API inputs train with a hinge or the softmax; got {loss!r}.")
    xp = namespace(X)
    n = X.shape[0]
    if n == 0:
        raise InputError("loss_and_gradient needs at least one sample; X has 0 rows.")
    S = scores(W, b, X)
    n_correct = int(xp.sum(xp.astype(xp.argmax(S, axis=1) == y, xp.int64)))
    per_row, dS = _loss_terms(S, y, loss)
    if sample_weight is None:
        total = float(n)
        data_loss = float(xp.sum(per_row)) / total
        dS = dS / xp.asarray(total, dtype=S.dtype, device=_device(S))
    else:
        total = float(xp.sum(xp.astype(sample_weight, xp.float64)))
        if total <= 0:
            data_loss, dS = 0.0, dS * 0
        else:
            w = xp.astype(sample_weight, S.dtype)
            data_loss = float(xp.sum(xp.astype(per_row * w, xp.float64))) / total
            dS = dS * xp.reshape(w / total, (-1, 1))
    dW = dS.T @ X
    db = None if b is None else xp.sum(dS, axis=0)
    return with_penalty(W, (data_loss, dW, db, n_correct), reg)
