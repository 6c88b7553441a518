"""linclass: linear image classification you can see through.

Score -> loss -> optimize::

    S = X @ W.T + b                      # linclass.scores
    loss, dS = multiclass_hinge(S, y)    # linclass.losses
    dW, db = dS.T @ X, dS.sum(0)         # the chain rule back through the scores
    W -= learning_rate * (dW + 2 * reg * W)   # linclass.optim

``LinearSVM`` and ``SoftmaxClassifier`` wrap these steps as scikit-learn classifiers.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ imports on first use, for type checkers
    from .data import load_dataset, load_digits
    from .estimators import LinearSVM, SoftmaxClassifier, TrainingDivergedError
    from .io import ModelFileError, load, save
    from .lecture import (
        softmax_loss,
        softmax_loss_naive,
        softmax_loss_vectorized,
        svm_loss,
        svm_loss_naive,
        svm_loss_vectorized,
    )
    from .losses import multiclass_hinge, softmax_cross_entropy
    from .scores import scores, scores_backward

# Public names and the module each lives in, imported on first use (PEP 562): ``import
# linclass`` stays instant, so the command line starts at once and can catch a Ctrl-C during
# the heavy imports (scikit-learn) instead of dying in a traceback.
_EXPORTS = {
    "LinearSVM": "estimators",
    "SoftmaxClassifier": "estimators",
    "TrainingDivergedError": "estimators",
    "ModelFileError": "io",
    "load": "io",
    "save": "io",
    "load_dataset": "data",
    "load_digits": "data",
    "scores": "scores",
    "scores_backward": "scores",
    "multiclass_hinge": "losses",
    "softmax_cross_entropy": "losses",
    "svm_loss_naive": "lecture",
    "svm_loss_vectorized": "lecture",
    "svm_loss": "lecture",
    "softmax_loss_naive": "lecture",
    "softmax_loss_vectorized": "lecture",
    "softmax_loss": "lecture",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    try:  # a submodule: linclass.data, linclass.train...
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'linclass' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """``linclass.scores`` is the function, though its module has the same name: importing a
    submodule binds it on the package, and this puts the function there instead."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "scores" and isinstance(value, types.ModuleType):
            value = value.scores
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__version__ = "0.1.0"

__all__ = [
    "LinearSVM",
    "SoftmaxClassifier",
    "TrainingDivergedError",
    "ModelFileError",
    "load",
    "save",
    "load_dataset",
    "load_digits",
    "scores",
    "scores_backward",
    "multiclass_hinge",
    "softmax_cross_entropy",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "svm_loss",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "softmax_loss",
    "__version__",
]
