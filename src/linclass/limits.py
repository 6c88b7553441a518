"""Resource caps: the one place where a reader checks what a file *declares* (a header's
shape, an archive member's size, an image's pixel count) before it allocates anything.

A file can claim any size in a few bytes. Every reader in linclass asks here first, so a
hostile or damaged file ends in a ``ResourceLimitError`` that names the file, the size and the
cap, never in a machine that swaps itself to death. The caps are generous for real data and
each can be raised (or lowered):

==========================  ===============================  ===================================
cap                         default                          environment variable
==========================  ===============================  ===================================
``max_bytes``               3/4 of this machine's memory     ``LINCLASS_MAX_BYTES`` (``8G``...)
``max_image_pixels``        100,000,000 pixels an image      ``LINCLASS_MAX_IMAGE_PIXELS``
``max_image_side``          1,024 (``--image-size``)         ``LINCLASS_MAX_IMAGE_SIDE``
==========================  ===============================  ===================================

In Python, ``with linclass.limits.caps(max_bytes=2**30): ...`` sets them for a block.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import DataFileError, InputError, ResourceLimitError

__all__ = [
    "get",
    "caps",
    "check_bytes",
    "check_image_side",
    "check_declared",
    "parse_size",
    "human",
]

_ENV = {
    "max_bytes": "LINCLASS_MAX_BYTES",
    "max_image_pixels": "LINCLASS_MAX_IMAGE_PIXELS",
    "max_image_side": "LINCLASS_MAX_IMAGE_SIDE",
}
_local = threading.local()
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 2**30


def _default(name):
    return {
        "max_bytes": _memory() * 3 // 4,
        "max_image_pixels": 100_000_000,
        "max_image_side": 1024,
    }[name]


def parse_size(text: object) -> int:
    """``"8G"``, ``"512M"``, ``"1.5G"``, ``"1000000"`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not m:
        raise InputError(f"{text!r} is not a size: write a number of bytes, or 512M, 8G...")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def get(name: str) -> int:
    """The cap in force: set by ``caps()`` in this thread, else by the environment, else the
    default."""
    if name not in _ENV:
        raise KeyError(f"no cap named {name!r}; the caps are {sorted(_ENV)}")
    override = getattr(_local, "caps", {})
    if name in override:
        return override[name]
    text = os.environ.get(_ENV[name])
    if text:
        try:
            return parse_size(text)
        except ValueError:
            raise InputError(
                f"{_ENV[name]}={text!r} is not a size: write a number of bytes, or 512M, 8G..."
            ) from None
    return _default(name)


@contextmanager
def caps(**values: int) -> Iterator[None]:
    """Set caps for the block (in this thread): ``with caps(max_bytes=2**30): ...``."""
    for name in values:
        get(name)  # the name must exist
    before = getattr(_local, "caps", {})
    _local.caps = {**before, **{k: int(v) for k, v in values.items()}}
    try:
        yield
    finally:
        _local.caps = before


def human(n: float) -> str:
    """Bytes in binary units, as people read them: ``1.5 GiB``."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_bytes(nbytes: int, what: str, where: object) -> None:
    """Refuse to allocate ``nbytes`` for ``what`` of ``where`` past ``max_bytes``."""
    cap = get("max_bytes")
    if nbytes < 0 or nbytes > cap:
        raise ResourceLimitError(
            f"{where}: {what} would take {human(max(nbytes, 0))} of memory, more than the cap of "
            f"{human(cap)}. If the file is right, raise the cap (LINCLASS_MAX_BYTES=...)."
        )


def check_image_side(side: int, what: str = "--image-size") -> None:
    """Refuse an image side past ``max_image_side`` before any image is resized to it."""
    cap = get("max_image_side")
    if side > cap:
        raise ResourceLimitError(
            f"{what} {side} is more than the cap of {cap} pixels a side (a linear classifier "
            f"on {side} x {side} colour images has {3 * side * side:,} weights per class). "
            "Use a smaller size (--image-size), or raise the cap (LINCLASS_MAX_IMAGE_SIDE=...)."
        )


def check_declared(declared: int, actual: int, where: object, what: str = "its header") -> None:
    """A file whose header declares more bytes than the file holds is truncated or lying:
    refuse it before allocating the declared size."""
    if declared > actual:
        raise DataFileError(
            f"{where}: {what} declares {declared:,} bytes of data but the file holds only "
            f"{actual:,}: it is truncated or damaged. Download or write it again."
        )
