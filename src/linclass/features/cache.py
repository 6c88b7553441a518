"""Features kept on disk, so that the same features of the same images are computed once: a
second ``linclass train`` or a ``tune`` on the same data loads them in seconds where the patches
take minutes.

Two kinds of entry, each one ``.npz`` file (no pickle) named by a hash:

* ``fit-KEY.npz``: a fitted feature transformer (``spec.state``), KEY from its parameters and
  the training images' bytes;
* ``features-KEY.npz``: the features of some images, KEY from the fitted transformer's state
  and those images' bytes.

Both keys also hash ``CACHE_VERSION`` and linclass's version, so a cache written by another
version is never used. An entry that cannot be read, is damaged, or does not hold what its key
promises is computed again and rewritten (``on_event`` says so); a cache folder that cannot be
written costs the speed-up, never the run.

The folder is ``$LINCLASS_FEATURE_CACHE``, by default ``features`` in linclass's data cache
(``$LINCLASS_DATA``, ``~/.cache/linclass``); ``LINCLASS_FEATURE_CACHE=off`` turns caching off.
Entries are as large as the features (patches with K = 1,600 on CIFAR-10: 1.5 GB); delete the
folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._typing import Data, PathArg
from ..errors import InputError, ModelFileError
from . import spec

__all__ = ["CACHE_VERSION", "ENV", "FeatureCache", "cache_dir", "digest"]

CACHE_VERSION = 1
ENV = "LINCLASS_FEATURE_CACHE"
FORMAT = "linclass-features"
_OFF = ("off", "none", "0", "no", "false")


def cache_dir() -> Path | None:
    """The cache folder, or None when ``$LINCLASS_FEATURE_CACHE`` turns caching off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value)
    from ..data.downloads import cache_dir as data_cache

    return data_cache() / "features"


def digest(X: Data) -> str:
    """A hash of an array's dtype, shape and values (read in slices of rows: no copy of X)."""
    X = np.asarray(X)
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps([X.dtype.str, list(X.shape)]).encode())
    step = max(1, (64 << 20) // max(1, X[:1].nbytes))
    for start in range(0, max(1, X.shape[0]), step):
        h.update(np.ascontiguousarray(X[start : start + step]).data)
    return h.hexdigest()


def _key(*parts):
    from .. import __version__

    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps([FORMAT, CACHE_VERSION, __version__, *parts]).encode())
    return h.hexdigest()


def _request(feature):
    """What an unfitted transformer is asked to compute: its kinds and stored parameters."""
    return [[name, type(step).__name__, spec.params(step)] for name, step in spec.steps(feature)]


def _fitted_digest(feature):
    info, arrays = spec.state(feature)
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps(info, sort_keys=True).encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).data)
    return h.hexdigest()


class FeatureCache:
    """Fit and transform feature transformers through the cache folder.

    Parameters
    ----------
    directory : path, optional
        The folder (default ``cache_dir()``); ``False`` turns caching off.
    on_event : callable, optional
        ``on_event(text)`` for what the cache did that a user should know: an entry used, one
        found damaged and recomputed, one that could not be written.
    """

    def __init__(
        self, directory: PathArg | None = None, on_event: Callable[[str], object] | None = None
    ) -> None:
        self.directory = (
            cache_dir() if directory is None else (None if directory is False else Path(directory))
        )
        self.on_event = on_event or (lambda text: None)

    def fit(self, feature: spec.Feature, X: Data) -> spec.Feature:
        """``feature`` fitted on X, or the fitted one the cache holds for the same request (an
        unseeded one is always fitted: each fit of it draws anew)."""
        if self.directory is None or not spec.seeded(feature):
            return feature.fit(X)
        key = _key("fit", _request(feature), digest(X))
        path = self.directory / f"fit-{key}.npz"
        found = self._read(path, key, lambda data: self._fitted(data, path, feature))
        if found is not None:
            self.on_event(f"fitted features from the cache ({path.name})")
            return found
        feature.fit(X)
        info, arrays = spec.state(feature)
        self._write(path, key, {"state": np.array(json.dumps(info)), **arrays})
        return feature

    def transform(self, feature: spec.Feature, X: Data) -> np.ndarray:
        """``feature.transform(X)``, from the cache when it holds the same features."""
        if self.directory is None:
            return feature.transform(X)
        key = _key("transform", _fitted_digest(feature), digest(X))
        path = self.directory / f"features-{key}.npz"
        width = sum(s.n_features_out_ for _, s in spec.steps(feature))
        found = self._read(path, key, lambda data: _features(data, path, (len(X), width)))
        if found is not None:
            self.on_event(f"{len(found):,} images' features from the cache ({path.name})")
            return found
        F = feature.transform(X)
        self._write(path, key, {"features": F})
        return F

    # -- files --------------------------------------------------------------------------------
    def _read(self, path, key, use):
        """``use(data)`` of the entry at ``path`` when it is there, readable and for ``key``;
        None (after saying why, unless it is simply not there) otherwise."""
        from ..io import _check_members, _text

        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise ModelFileError(f"{path} is not an .npz archive")
                _check_members(data, path)
                if _text(data, "format", path) != FORMAT or _text(data, "key", path) != key:
                    raise ModelFileError(f"{path} is not the entry its name says")
                return use(data)
        except (
            ModelFileError,
            InputError,
            OSError,
            ValueError,
            KeyError,
            EOFError,
            zipfile.BadZipFile,
        ) as e:
            self.on_event(
                f"the feature cache entry {path.name} is damaged or from another "
                f"version ({str(e)[:120]}): computing it again"
            )
            return None

    def _fitted(self, data, path, feature):
        from ..io import _json

        info = _json(data, "state", path)
        arrays = {k: data[k] for k in data.files if k.startswith("features_")}
        fitted = spec.from_state(info, arrays, path)
        if _request(fitted) != _request(feature):
            raise ModelFileError(f"{path} holds other features than its key says")
        return fitted

    def _write(self, path, key, arrays):
        from ..io import atomic_write

        try:
            atomic_write(
                path, lambda f: np.savez(f, format=np.array(FORMAT), key=np.array(key), **arrays)
            )
        except OSError as e:
            self.on_event(
                f"could not write the feature cache entry {path} ({e.strerror or e}): "
                "going on without it"
            )


def _features(data, path, shape):
    F = data["features"]
    if F.dtype != np.float32 or F.shape != shape or not np.all(np.isfinite(F)):
        raise ModelFileError(
            f"{path} holds {F.dtype} {F.shape} features, not {shape} finite float32"
        )
    return F
