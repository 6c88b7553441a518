"""A folder of images, one sub-folder per class, or a .tar/.tar.gz/.zip of one.

Layouts understood (a single top-level folder that wraps everything is looked through)::

    root/<class>/<image>                       one data set
    root/train/<class>/<image>, root/test/...  a training and a test split

Every image becomes the same size (``size``, or the most common size) and the same colour mode
(grey when every image is grey, else RGB), decoded in parallel worker processes when there are
many. An image that cannot be read is reported by its path; ``skip_bad=True`` skips such images
with a warning that counts them instead.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import limits
from .._typing import PathArg, Progress
from ..errors import DataFileError, InputError
from .archives import open_tree
from .dataset import Dataset
from .images import IMAGE_EXTENSIONS, UnreadableImage, image_row, is_grey, open_image

__all__ = ["load_image_folder"]

_PARALLEL_FROM = 4096  # below this many images, worker processes cost more than they save
_CHUNK = 2048


def _is_image(parts):
    return bool(parts) and (
        Path(parts[-1]).suffix.lower() in IMAGE_EXTENSIONS
        and not any(p.startswith(".") or p == "__MACOSX" for p in parts)
    )


def _images(source, progress):
    """(parts, key) of every image file, with the common wrapping folders stripped."""
    items = []
    for parts, key in source.entries():
        if _is_image(parts):
            items.append((parts, key))
            if len(items) % 1000 == 0:
                progress("read", len(items), None)
    while items and all(len(p) > 2 for p, _ in items) and len({p[0] for p, _ in items}) == 1:
        items = [(p[1:], k) for p, k in items]
    return items


def _group(items, where):
    """Split into {split: [(class, key), ...]} by the layout of the paths."""
    tops = {p[0] for p, _ in items if len(p) > 1}
    split_layout = {"train", "test"} <= tops and all(
        len(p) >= 3 and p[0] in ("train", "test") for p, _ in items
    )
    groups = {}
    loose = 0
    for parts, key in items:
        if split_layout:
            split, parts = parts[0], parts[1:]
        else:
            split = "all"
        if len(parts) < 2:
            loose += 1
            continue
        groups.setdefault(split, []).append((parts[0], key))
    if loose:
        warnings.warn(
            f"{where}: {loose} image(s) outside any class folder were ignored.", stacklevel=3
        )
    return groups


def _decode_chunk(blobs, size, mode):
    rows, errors = [], []
    for i, data in enumerate(blobs):
        try:
            rows.append(image_row(data, size, mode))
        except UnreadableImage as e:
            rows.append(None)
            errors.append((i, str(e)))
    width = size[0] * size[1] * (3 if mode == "RGB" else 1)
    out = np.zeros((len(blobs), width), dtype=np.uint8)
    for i, row in enumerate(rows):
        if row is not None:
            out[i] = row
    return out, errors


def load_image_folder(
    path: PathArg,
    size: int | tuple[int, int] | None = None,
    skip_bad: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load a tree of images (or an archive of one) as a data set.

    Parameters
    ----------
    path : str or Path
        A folder, ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip``.
    size : int or (width, height), optional
        Resize every image to this; by default to the most common size in the data.
    skip_bad : bool, default False
        Skip unreadable images with a warning (default: raise, naming them).
    workers : int, optional
        Decoding processes; by default one per core for large data sets.
    progress : callable, optional
        ``progress(stage, done, total)`` as it goes: ``("read", images found, None)`` every
        1,000 images, then ``("decode", images decoded, all images)`` after each chunk.

    Returns
    -------
    Dataset
        uint8 rows; ``class_names`` are the class folder names, sorted; where the tree has
        ``train/`` and ``test/``, the test images are ``X_test``/``y_test``.
    """
    path = Path(path)
    progress = progress or (lambda stage, done, total: None)
    source = open_tree(
        path,
        wanted=_is_image,
        files="image files",
        what="a folder, a .zip or a .tar(.gz) archive of images",
    )
    try:
        groups = _group(_images(source, progress), path)
        if not groups:
            raise DataFileError(
                f"{path} holds no images in class folders "
                f"(expected {path}/<class>/<image>.png or .jpg)."
            )
        train_key = "train" if "train" in groups else "all"
        class_names = sorted({c for c, _ in groups[train_key]})
        if len(class_names) < 2:
            raise DataFileError(
                f"{path} has images of only one class ({class_names}); a "
                "classifier needs at least two class folders."
            )
        unknown = sorted({c for c, _ in groups.get("test", [])} - set(class_names))
        if unknown:
            raise DataFileError(f"{path}: test classes {unknown} have no training images.")
        splits = [train_key] + (["test"] if "test" in groups else [])
        blobs, labels, wheres = {}, {}, {}
        for split in splits:
            pairs = sorted(groups[split], key=lambda ck: (ck[0], source.where(ck[1])))
            blobs[split] = [source.read(k) for _, k in pairs]
            labels[split] = np.array([class_names.index(c) for c, _ in pairs], dtype=np.intp)
            wheres[split] = [source.where(k) for _, k in pairs]
    finally:
        source.close()
    chosen, mode, bad = _choose_size_and_mode(blobs, wheres, size)
    arrays = {}
    total, done = sum(len(b) for b in blobs.values()), [0]

    def decoded(rows):
        done[0] += rows
        progress("decode", done[0], total)

    for split in splits:
        X, errors = _decode(
            blobs.pop(split),
            chosen,
            mode,
            workers,
            path,  # the bytes can go now
            decoded,
        )
        bad.update({wheres[split][i]: why for i, why in errors})
        keep = np.array([w not in bad for w in wheres[split]], dtype=bool)
        arrays[split] = (X, labels[split]) if keep.all() else (X[keep], labels[split][keep])
    if bad:
        listed = "; ".join(f"{w} ({why})" for w, why in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        if not skip_bad:
            raise DataFileError(
                f"{len(bad)} image(s) could not be read: {listed}{more}. Fix or "
                "remove them, or skip them (skip_bad=True, --skip-bad)."
            )
        warnings.warn(f"skipped {len(bad)} unreadable image(s): {listed}{more}", stacklevel=2)
    w, h = chosen
    shape = (h, w) if mode == "L" else (h, w, 3)
    X, y = arrays[train_key]
    test = arrays.get("test", (None, None))
    return Dataset(X, y, class_names, shape, name=f"folder:{path}", X_test=test[0], y_test=test[1])


def _choose_size_and_mode(blobs, wheres, size):
    """The target (width, height) and mode, from the images' headers; header failures."""
    sizes = Counter()
    grey = True
    bad = {}
    for split in blobs:
        for data, where in zip(blobs[split], wheres[split]):
            try:
                im = open_image(data)
            except UnreadableImage as e:
                bad[where] = str(e)
                continue
            sizes[im.size] += 1
            grey = grey and is_grey(im)
    if size is None:
        if not sizes:
            raise DataFileError("none of the images could be read.")
        size = sizes.most_common(1)[0][0]
    elif isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise InputError(f"size must be a positive int or (width, height); got {size}.")
    limits.check_image_side(max(size), "the image size")
    return size, ("L" if grey else "RGB"), bad


def _decode(blobs, size, mode, workers, where, decoded):
    n = len(blobs)
    limits.check_bytes(
        n * size[0] * size[1] * (3 if mode == "RGB" else 1),
        f"{n:,} images of {size[0]} x {size[1]} pixels",
        where,
    )
    if workers is None:
        workers = (os.cpu_count() or 1) if n >= _PARALLEL_FROM else 1
    if workers <= 1 or n < 2 * _CHUNK:
        X, errors = _decode_chunk(blobs, size, mode)
        decoded(n)
        return X, errors
    starts = range(0, n, _CHUNK)
    X = np.empty((n, size[0] * size[1] * (3 if mode == "RGB" else 1)), dtype=np.uint8)
    errors = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(
            _decode_chunk,
            [blobs[s : s + _CHUNK] for s in starts],
            [size] * len(starts),
            [mode] * len(starts),
        )
        for s, (rows, errs) in zip(starts, parts):  # each chunk goes into place as it comes
            X[s : s + len(rows)] = rows
            errors += [(s + i, why) for i, why in errs]
            decoded(len(rows))
    return X, errors
