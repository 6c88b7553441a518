"""Data: loaders that return pixels and class names, splits, and preprocessing.

Every loader returns a :class:`Dataset`: pixels as uint8 (or float32) rows, one per image,
integer labels indexing ``class_names``, and the image shape to draw them again.
``load_dataset`` picks the loader from a data set named as on the command line. The loaders
import ``dataset`` (the record) and nothing imports them but this package's face.
"""

from collections.abc import Callable

from .. import limits
from .._typing import PathArg, Progress
from ..errors import InputError
from .cifar10 import load_cifar10
from .dataset import DataFileError, Dataset
from .digits import load_digits
from .downloads import SOURCES, cache_dir, cached_path, download
from .folder import load_image_folder
from .mnist import load_mnist, read_idx
from .preprocess import MeanImage
from .splits import Split, dev_subset, train_val_test_split

__all__ = [
    "Dataset",
    "DataFileError",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "read_idx",
    "load_cifar10",
    "load_image_folder",
    "download",
    "cache_dir",
    "MeanImage",
    "Split",
    "train_val_test_split",
    "dev_subset",
]


def load_dataset(
    spec: str,
    size: int | tuple[int, int] | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> Dataset:
    """Load a data set named as on the command line.

    Parameters
    ----------
    spec : str
        ``digits`` (scikit-learn's bundled 8x8 digits); ``mnist:PATH``, ``fashion-mnist:PATH``
        (IDX files), ``cifar10:PATH`` (an official CIFAR-10 download, python or binary, archive
        or folder), ``folder:PATH`` (a tree or archive of images, one folder per class); or
        ``cifar10``, ``mnist``, ``fashion-mnist`` alone for the copy ``linclass download`` put
        in the cache.
    size : int or (width, height), optional
        For ``folder:``: the size to resize images to (default: the most common size).
    skip_bad : bool, default False
        For ``folder:``: skip unreadable images with a warning instead of failing.
    progress : callable, optional
        For ``folder:``: ``progress(stage, done, total)`` as images are read and decoded
        (``load_image_folder``).
    """
    loaders: dict[str, Callable[[PathArg], Dataset]] = {
        "digits": lambda _: load_digits(),
        "mnist": load_mnist,
        "fashion-mnist": lambda p: load_mnist(p, fashion=True),
        "cifar10": load_cifar10,
        "folder": lambda p: load_image_folder(p, size=size, skip_bad=skip_bad, progress=progress),
    }
    if size is not None:  # refused before anything is read
        for side in (size,) if isinstance(size, int) else tuple(size):
            limits.check_image_side(int(side))
    kind, sep, given = str(spec).partition(":")
    if kind not in loaders:
        raise InputError(
            f"unknown data set {spec!r}; use digits, mnist:PATH, "
            "fashion-mnist:PATH, cifar10:PATH or folder:PATH (or cifar10, mnist, "
            "fashion-mnist after `linclass download`)."
        )
    if kind == "digits":
        if sep:
            raise InputError("digits is built in and takes no path.")
        return load_digits()
    path: PathArg = given
    if not sep:
        if kind not in SOURCES:
            raise InputError(f"{kind} needs a path: --dataset {kind}:PATH.")
        path = cached_path(kind)
    elif not given:
        raise InputError(f"--dataset {kind}: needs a path after the colon.")
    ds = loaders[kind](path)
    ds.name = str(spec)
    return ds
