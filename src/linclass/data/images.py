"""Decoding one image and converting it the way a data set's images were converted.

The same two steps serve loading a folder of images and ``linclass predict``: an image becomes
the colour mode of the data set (``"L"`` grey or ``"RGB"``; transparent pixels are composited
over white) and its size (resized with Pillow's antialiased bilinear filter), then a flat row
of uint8 pixels in height x width (x channel) order. 16-bit grey images are scaled into 0..255
(65,535 becomes 255), not clipped.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .. import limits
from .._typing import PathArg
from ..errors import LinclassError

__all__ = ["IMAGE_EXTENSIONS", "open_image", "image_row", "is_grey", "UnreadableImage"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}  # 16-bit grey (PNG, TIFF)


class UnreadableImage(LinclassError, ValueError):
    """Pillow could not decode the bytes as an image."""


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise ImportError("reading images needs Pillow: pip install pillow") from None
    return Image


def open_image(data: bytes | PathArg) -> Any:
    """Open image bytes (or a path) with Pillow and check them, without decoding the pixels:
    the header must be readable and the image within ``max_image_pixels``
    (``linclass.limits``), so a few bytes that declare a gigapixel image are refused before
    anything is allocated."""
    Image = _pil()
    try:
        im = Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
        width, height = im.size
    except Exception as e:  # Pillow raises many types for damaged files
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
    cap = limits.get("max_image_pixels")
    if width * height > cap:
        raise UnreadableImage(
            f"{width} x {height} pixels, more than the cap of {cap:,} "
            "(raise it with LINCLASS_MAX_IMAGE_PIXELS=... if it is right)"
        )
    return im


def is_grey(im: Any) -> bool:
    """Whether an opened image has no colour (palette images count as colour)."""
    return im.mode in _GREY_MODES


def image_row(data: Any, size: tuple[int, int], mode: str) -> np.ndarray:
    """Decode one image into a flat uint8 row of ``size`` (width, height) in ``mode``.

    Parameters
    ----------
    data : bytes, path, or an opened PIL image
    size : tuple (width, height)
    mode : {"L", "RGB"}

    Returns
    -------
    ndarray of uint8, shape (height * width,) for "L" or (height * width * 3,) for "RGB"
    """
    Image = _pil()
    im = data if isinstance(data, Image.Image) else open_image(data)
    try:
        im.load()
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(background, rgba)
        if im.mode in _WIDE_MODES:  # 16-bit grey: scale, not clip, into 0..255
            wide = np.asarray(im, dtype=np.float64)
            im = Image.fromarray(np.rint(np.clip(wide, 0, 65535) / 257).astype(np.uint8), "L")
        if im.mode != mode:
            im = im.convert(mode)
        if im.size != tuple(size):
            im = im.resize(tuple(size), Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8).reshape(-1)
    except UnreadableImage:
        raise
    except Exception as e:
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
