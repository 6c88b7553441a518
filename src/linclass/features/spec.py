"""The named feature pipelines of ``linclass train --features``, and a fitted pipeline as JSON
and arrays (what a model file and the feature cache store: no pickle).

=================  ==========================================================================
name               features
=================  ==========================================================================
``raw``            the pixels themselves (no feature step)
``hog``            the course's HOG: 8 x 8-pixel cells, 9 orientations, no blocks
``hog+color``      the course's HOG and a 10-bin hue histogram (CIFAR-10: about 0.52)
``hog+hsv``        a finer HOG (4 x 4 cells, 2 x 2 blocks, L2-Hys) and a 12 x 4 x 4 HSV
                   histogram (about 0.57)
``patches[:K]``    Coates-Lee-Ng patches with a K-centroid dictionary (default 1,600: about
                   0.72; 4 K features)
=================  ==========================================================================

``build(name, image_shape, pixel_max, seed)`` makes the (unfitted) transformer; ``state`` and
``from_state`` turn a fitted one into ``(JSON dict, {name: array})`` and back, checking
everything a file could get wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
from sklearn.pipeline import FeatureUnion

from ..choices import FEATURES, feature_name
from ..errors import InputError, ModelFileError
from .base import ImageFeature
from .color import ColorHistogram
from .hog import HOG
from .patches import Patches

#: A feature transformer: one of the image features, or a FeatureUnion of them.
Feature: TypeAlias = "ImageFeature | FeatureUnion"

__all__ = ["NAMES", "build", "from_state", "params", "parse", "seeded", "state", "steps"]

NAMES = FEATURES
KINDS = {"HOG": HOG, "ColorHistogram": ColorHistogram, "Patches": Patches}
_ARRAYS = {"Patches": ("zca_mean_", "zca_", "centroids_")}  # fitted arrays of each kind
_NOT_STORED = ("batch_size", "n_jobs", "progress")  # how it runs, not what it computes


def parse(name: str) -> str:
    """The canonical form of a feature pipeline's name (``"patches"`` is
    ``"patches:1600"``); an unknown name is an InputError listing the known ones."""
    try:
        return feature_name(name)
    except ValueError as e:
        raise InputError(str(e)) from None


def build(
    name: str, image_shape: tuple[int, ...], pixel_max: float = 255, seed: int | None = 0
) -> Feature | None:
    """The unfitted transformer ``name`` describes for images of ``image_shape`` whose
    channels go up to ``pixel_max``, seeded; None for ``"raw"``."""
    name = parse(name)
    shape = tuple(int(s) for s in image_shape)
    if name == "raw":
        return None
    if name == "hog":
        return HOG(shape)
    if name == "hog+color":
        return FeatureUnion(
            [("hog", HOG(shape)), ("hue", ColorHistogram(shape, bins=10, pixel_max=pixel_max))]
        )
    if name == "hog+hsv":
        return FeatureUnion(
            [
                ("hog", HOG(shape, cell_size=4, block_size=2)),
                ("hsv", ColorHistogram(shape, bins=(12, 4, 4), pixel_max=pixel_max)),
            ]
        )
    k = int(name.split(":")[1])
    return Patches(
        shape, n_centroids=k, n_patches=max(400_000, 10 * k), pixel_max=pixel_max, random_state=seed
    )


def steps(feature: Feature) -> list[tuple[str, Any]]:
    """``[(name, transformer), ...]``: the parts of a FeatureUnion, or the one transformer."""
    if isinstance(feature, FeatureUnion):
        return list(feature.transformer_list)
    return [("features", feature)]


def _plain(value: Any) -> Any:
    """A parameter as JSON: tuples as lists, numpy numbers as Python ones."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def params(step: Any) -> dict[str, Any]:
    """A step's parameters as stored (JSON-ready; not how it runs: batch size, threads,
    progress). A random_state that is not an int or None is stored as None."""
    out = {k: _plain(v) for k, v in step.get_params(deep=False).items() if k not in _NOT_STORED}
    if not (out.get("random_state") is None or isinstance(out["random_state"], int)):
        out["random_state"] = None
    return out


def seeded(feature: Feature) -> bool:
    """Whether fitting ``feature`` again gives the same result: every step that draws at
    random has an int random_state."""
    return all(
        isinstance(step.get_params(deep=False).get("random_state", 0), (int, np.integer))
        for _, step in steps(feature)
    )


def state(feature: Feature) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted feature transformer as ``(info, arrays)``: ``info`` JSON-ready (each step's
    kind, parameters and image shape), ``arrays`` the learnt arrays named
    ``features_{step}_{attribute}``."""
    info, arrays = [], {}
    for i, (name, step) in enumerate(steps(feature)):
        kind = type(step).__name__
        if kind not in KINDS:
            raise TypeError(
                f"cannot store a {kind} as a feature step; linclass stores "
                f"{', '.join(KINDS)} (alone or in a FeatureUnion)."
            )
        entry = {
            "name": name,
            "kind": kind,
            "params": params(step),
            "image_shape": list(step.image_shape_),
        }
        if kind == "Patches":
            entry["inertia"] = step.inertia_
        for attr in _ARRAYS.get(kind, ()):
            arrays[f"features_{i}_{attr.rstrip('_')}"] = getattr(step, attr)
        info.append(entry)
    return {"steps": info}, arrays


def from_state(info: Any, arrays: Mapping[str, np.ndarray], path: object) -> Feature:
    """The fitted transformer ``state`` described; anything that does not fit together is a
    ``ModelFileError`` naming ``path``."""

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path} is damaged: its features {what}.")

    entries = info.get("steps") if isinstance(info, dict) else None
    if not (isinstance(entries, list) and 1 <= len(entries) <= 8):
        raise bad("are not a list of 1 to 8 steps")
    built, width = [], None
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and entry.get("kind") in KINDS
            and isinstance(entry.get("params"), dict)
            and isinstance(entry.get("name"), str)
            and 0 < len(entry["name"]) <= 100
            and "__" not in entry["name"]
        ):
            raise bad(f"step {i} is not a known kind with a name and parameters")
        cls = KINDS[entry["kind"]]
        params = dict(entry["params"])
        allowed = set(cls().get_params(deep=False)) - set(_NOT_STORED)
        if set(params) - allowed:
            raise bad(f"step {i} has unknown parameters {sorted(set(params) - allowed)[:5]}")
        for key in ("image_shape", "bins"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        shape = entry.get("image_shape")
        if not (
            isinstance(shape, list)
            and len(shape) in (2, 3)
            and all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 2**16 for s in shape
            )
        ):
            raise bad(f"step {i}'s image shape is {str(shape)[:40]}")
        shape = tuple(shape)
        step = cls(**params)
        try:
            step._check_params()
            step._check_images(shape)
        except (InputError, TypeError, ValueError) as e:
            raise bad(f"step {i} cannot be used ({e})") from None
        step.image_shape_ = shape
        step.n_features_in_ = int(np.prod(shape))
        step.n_features_out_ = step._n_out(shape)
        if width not in (None, step.n_features_in_):
            raise bad("steps take images of different sizes")
        width = step.n_features_in_
        if entry["kind"] == "Patches":
            _patches_state(step, entry, arrays, i, bad)
        built.append((entry["name"], step))
    if len({name for name, _ in built}) != len(built):
        raise bad("have two steps of the same name")
    if len(built) == 1 and built[0][0] == "features":
        return built[0][1]
    return FeatureUnion(built)


def _patches_state(step, entry, arrays, i, bad):
    shape = step.image_shape_
    d = step.patch_size**2 * (shape[2] if len(shape) == 3 else 1)
    want = {"zca_mean_": (d,), "zca_": (d, d), "centroids_": (step.n_centroids, d)}
    for attr, dims in want.items():
        key = f"features_{i}_{attr.rstrip('_')}"
        arr = arrays.get(key)
        if arr is None:
            raise bad(f"step {i} lacks {key}")
        if arr.dtype != np.float32 or arr.shape != dims or not np.all(np.isfinite(arr)):
            raise bad(f"{key} is {arr.dtype} {arr.shape}, not {dims} finite float32")
        setattr(step, attr, arr)
    inertia = entry.get("inertia")
    if not (
        inertia is None
        or (
            isinstance(inertia, (int, float))
            and not isinstance(inertia, bool)
            and np.isfinite(inertia)
            and inertia >= 0
        )
    ):
        raise bad(f"step {i}'s inertia is {str(inertia)[:40]}")
    step.inertia_ = None if inertia is None else float(inertia)
