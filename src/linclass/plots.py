"""Pictures of training and of what was learned, as PNG files (matplotlib, Agg backend).

* ``loss_curve``: the loss and the train/validation accuracy per epoch;
* ``weight_templates``: each row of W reshaped to the image and rescaled to 0-255, one tile
  per class (the course's figure of class templates);
* ``confusion_matrix``: counts of true vs predicted classes on the test split;
* ``misclassified``: a gallery of test images with their true and predicted labels;
* ``tune_results``: training and validation accuracy over (log learning rate, log reg).

Every function writes one file atomically and returns its path.
"""

from __future__ import annotations

import io as _io
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ._typing import Data, PathArg
from .io import atomic_write

#: The path a figure is written to, handed back as given.
P = TypeVar("P", bound=PathArg)

__all__ = [
    "loss_curve",
    "weight_templates",
    "confusion_matrix",
    "misclassified",
    "template_images",
    "tune_results",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: P) -> P:
    plt = _pyplot()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path


def loss_curve(history: Mapping[str, Sequence[Any]], path: P, title: str | None = None) -> P:
    """Loss and accuracy per epoch, training and validation, side by side."""
    plt = _pyplot()
    epochs = history["epoch"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(epochs, history["train_loss"], label="train: data loss + penalty")
    if history.get("penalty"):
        data = np.asarray(history["train_loss"]) - np.asarray(history["penalty"])
        ax1.plot(epochs, data, label="train: data loss (approx.)", linestyle="--")
    if history.get("val_loss"):
        ax1.plot(epochs, history["val_loss"], label="validation: data loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.legend()
    ax2.plot(epochs, history["train_accuracy"], label="train (running mean)")
    if history.get("val_accuracy"):
        ax2.plot(epochs, history["val_accuracy"], label="validation")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def template_images(coef: ArrayLike, image_shape: Sequence[int]) -> np.ndarray:
    """Rows of W as uint8 images: each template rescaled to 0-255 by the min and max of all
    of W, as in the course (so the tiles can be compared with each other)."""
    W = np.asarray(coef, dtype=np.float64)
    lo, hi = W.min(), W.max()
    scaled = 255.0 * (W - lo) / (hi - lo if hi > lo else 1.0)
    return scaled.reshape((len(W), *image_shape)).astype(np.uint8)


def _grid(n):
    cols = min(n, 10)
    return math.ceil(n / cols), cols


MAX_TEMPLATES = 100  # tiles in one picture; more classes: the first ones, said in the title
MAX_MATRIX_INCHES = 16  # a confusion matrix of many classes shrinks its cells, not grows


def weight_templates(
    coef: np.ndarray,
    image_shape: Sequence[int],
    class_names: Sequence[object],
    path: P,
    title: str | None = None,
) -> P:
    """One tile per class: its row of W (without bias) as an image (the first
    ``MAX_TEMPLATES`` classes where there are more)."""
    plt = _pyplot()
    n_classes = len(coef)
    if n_classes > MAX_TEMPLATES:
        coef, class_names = coef[:MAX_TEMPLATES], list(class_names)[:MAX_TEMPLATES]
        title = title or (
            f"learned weights as class templates (the first {MAX_TEMPLATES} of "
            f"{n_classes:,} classes)"
        )
    images = template_images(coef, image_shape)
    rows, cols = _grid(len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, name in zip(axes.ravel(), images, class_names):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_title(str(name), fontsize=9)
    fig.suptitle(title or "learned weights as class templates", y=1.03)
    return _save(fig, path)


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    class_names: Sequence[object],
    path: P,
    title: str | None = None,
) -> P:
    """A heat map of counts: rows are true classes, columns predicted ones."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    plt = _pyplot()
    labels = np.asarray(class_names)
    cm = sk_confusion(y_true, y_pred, labels=labels)
    n = len(labels)
    fig, ax = plt.subplots(
        figsize=(min(1.0 + 0.55 * n, MAX_MATRIX_INCHES), min(0.8 + 0.5 * n, MAX_MATRIX_INCHES - 1))
    )
    im = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    if n <= 60:  # beyond, the names would overprint each other
        ax.set_xticks(range(n), [str(c) for c in labels], rotation=45, ha="right")
        ax.set_yticks(range(n), [str(c) for c in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2 if cm.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if cm[i, j] > threshold else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title or f"confusion matrix (accuracy {acc:.3f})")
    return _save(fig, path)


def misclassified(
    images: Data,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    image_shape: Sequence[int],
    path: P,
    n: int = 24,
    pixel_max: float = 255,
    seed: int = 0,
) -> P:
    """A gallery of up to ``n`` wrongly classified images, each titled 'true -> predicted'."""
    plt = _pyplot()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    if len(wrong) > n:
        wrong = np.sort(np.random.default_rng(seed).choice(wrong, n, replace=False))
    rows, cols = _grid(max(len(wrong), 1))
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        img = np.asarray(images[i], dtype=np.float64).reshape(image_shape) / pixel_max
        ax.imshow(
            np.clip(img, 0, 1),
            cmap="gray" if img.ndim == 2 else None,
            interpolation="nearest",
            vmin=0,
            vmax=1,
        )
        ax.set_title(f"{y_true[i]}\n→ {y_pred[i]}", fontsize=8)
    if not len(wrong):
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle(f"misclassified test images (true → predicted), {len(wrong)} shown", y=1.02)
    return _save(fig, path)


def tune_results(results: Sequence[Mapping[str, Any]], path: P, title: str | None = None) -> P:
    """The course's search figure: training and validation accuracy over (log lr, log reg)."""
    plt = _pyplot()
    ok = [r for r in results if np.isfinite(r["val_accuracy"])]
    lr = np.log10([r["learning_rate"] for r in ok])
    reg = np.log10([r["reg"] for r in ok])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, name in (
        (axes[0], "train_accuracy", "training"),
        (axes[1], "val_accuracy", "validation"),
    ):
        acc = np.array([r[key] for r in ok])
        sc = ax.scatter(lr, reg, c=acc, s=90, cmap="viridis")
        fig.colorbar(sc, ax=ax)
        ax.set_xlabel("log10 learning rate")
        ax.set_ylabel("log10 regularization strength")
        ax.set_title(f"{name} accuracy")
    if ok:
        best = max(ok, key=lambda r: r["val_accuracy"])
        axes[1].scatter(
            [np.log10(best["learning_rate"])],
            [np.log10(best["reg"])],
            s=260,
            facecolors="none",
            edgecolors="red",
            linewidths=2,
            label="best",
        )
        axes[1].legend(loc="best")
    if title:
        fig.suptitle(title)
    return _save(fig, path)
