"""Decoding one image and converting it the way a data set's images were converted.

The same two steps serve loading a folder of images and ``linclass predict``: an image becomes
the colour mode of the data set (``"L"`` grey or ``"RGB"``; transparent pixels are composited
over white) and its size (resized with Pillow's antialiased bilinear filter), then a flat row
of uint8 pixels in height x width (x channel) order.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "open_image", "image_row", "is_grey", "UnreadableImage"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


class UnreadableImage(ValueError):
    """Pillow could not decode the bytes as an image."""


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise ImportError("reading images needs Pillow: pip install pillow") from None
    return Image


def open_image(data):
    """Open image bytes (or a path) with Pillow and check them, without decoding the pixels."""
    Image = _pil()
    try:
        im = Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
        im.size  # noqa: B018 - the header must be readable
    except Exception as e:  # Pillow raises many types for damaged files
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
    return im


def is_grey(im):
    """Whether an opened image has no colour (palette images count as colour)."""
    return im.mode in _GREY_MODES


def image_row(data, size, mode):
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
        if im.mode != mode:
            im = im.convert(mode)
        if im.size != tuple(size):
            im = im.resize(tuple(size), Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8).reshape(-1)
    except UnreadableImage:
        raise
    except Exception as e:
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
