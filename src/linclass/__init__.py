"""linclass: linear image classification you can see through.

Score -> loss -> optimize::

    S = X @ W.T + b                      # linclass.scores
    loss, dS = multiclass_hinge(S, y)    # linclass.losses
    dW, db = dS.T @ X, dS.sum(0)         # the chain rule back through the scores
    W -= learning_rate * (dW + 2 * reg * W)   # linclass.optim

``LinearSVM`` and ``SoftmaxClassifier`` wrap these steps as scikit-learn classifiers.
"""

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
