"""Downloading the official data files: the one place linclass touches the network.

``download(name)`` fetches CIFAR-10 (python version), MNIST or Fashion-MNIST from their
canonical addresses (with a mirror where one is well known) into the cache folder
(``$LINCLASS_DATA``, default ``~/.cache/linclass``), verifies each file against its published
MD5 checksum, resumes a partial download where the server allows, retries passing failures,
and reports progress through a callback. Without a network it fails at once with a message
saying where to put the files by hand. Nothing is downloaded anywhere else in linclass.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .._typing import PathArg, Progress
from ..errors import InputError, LinclassError

__all__ = ["SOURCES", "DownloadError", "cache_dir", "download", "cached_path", "md5sum"]


class DownloadError(LinclassError, OSError):
    """A download that could not be completed; the message says what to do instead."""


@dataclass(frozen=True)
class Remote:
    filename: str
    urls: tuple
    md5: str


def _mnist_like(bases, md5s):
    return tuple(Remote(f, tuple(b + f for b in bases), m) for f, m in md5s.items())


SOURCES = {
    "cifar10": (
        Remote(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            "c58f30108f718f92721af3b95e74349a",
        ),
    ),
    "mnist": _mnist_like(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": _mnist_like(
        (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where downloads go: ``$LINCLASS_DATA``, or ``~/.cache/linclass``."""
    return Path(os.environ.get("LINCLASS_DATA") or Path.home() / ".cache" / "linclass")


def md5sum(path: PathArg) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_path(name: str, directory: PathArg | None = None) -> Path:
    """The path a downloaded data set is loaded from (its file or folder), checked to exist."""
    if name not in SOURCES:
        raise InputError(f"unknown download {name!r}; choose from {', '.join(SOURCES)}.")
    folder = Path(directory) if directory else cache_dir() / name
    missing = [r.filename for r in SOURCES[name] if not (folder / r.filename).exists()]
    if missing:
        raise FileNotFoundError(
            f"{name} is not downloaded (no {missing[0]} in {folder}): run "
            f"`linclass download {name}`, or name a local copy with --dataset {name}:PATH."
        )
    return folder / SOURCES[name][0].filename if name == "cifar10" else folder


def _manual_help(name, folder):
    lines = "; ".join(f"{r.filename} from {r.urls[0]}" for r in SOURCES[name])
    return (
        f"Download by hand: {lines}; put the file(s) in {folder} (or anywhere, and use "
        f"--dataset {name}:PATH)."
    )


def _is_unreachable(error):
    reason = getattr(error, "reason", error)
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError)) or (
        isinstance(reason, OSError) and reason.errno in (101, 111, 113)
    )  # no route/refused


def _fetch(url, part, progress, timeout):
    """Append the rest of ``url`` to ``part`` (resuming from its size)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "linclass"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if have and response.status != 206:  # the server ignored the range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as f:
            done = have
            if progress:
                progress(done, total)
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise urllib.error.URLError(f"connection closed after {done} of {total} bytes")


def download(
    name: str,
    directory: PathArg | None = None,
    progress: Progress | None = None,
    retries: int = 3,
    timeout: float = 20,
    backoff: float = 1.0,
) -> Path:
    """Download a data set's official files into the cache (or ``directory``).

    Parameters
    ----------
    name : {"cifar10", "mnist", "fashion-mnist"}
    directory : str or Path, optional
        Where to put the files (default: ``cache_dir() / name``).
    progress : callable, optional
        ``progress(filename, bytes_done, bytes_total_or_None)``, called as data arrives.
    retries : int, default 3
        Attempts per address for passing failures (timeouts, resets, server errors).
    timeout : float, default 20
        Seconds to wait for a connection or for data.

    Returns
    -------
    Path
        What ``load_dataset(name)`` will read (the archive or the folder).
    """
    if name not in SOURCES:
        raise InputError(f"unknown download {name!r}; choose from {', '.join(SOURCES)}.")
    folder = Path(directory) if directory else cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    for remote in SOURCES[name]:
        target = folder / remote.filename
        if target.exists() and md5sum(target) == remote.md5:
            if progress:
                size = target.stat().st_size
                progress(remote.filename, size, size)
            continue
        part = folder / (remote.filename + ".part")
        _download_one(name, remote, part, folder, progress, retries, timeout, backoff)
        os.replace(part, target)
    return cached_path(name, folder)


def _download_one(name, remote, part, folder, progress, retries, timeout, backoff):
    def report(done, total):
        if progress:
            progress(remote.filename, done, total)

    errors = []
    for url in remote.urls:
        for attempt in range(retries):
            try:
                _fetch(url, part, report, timeout)
            except urllib.error.HTTPError as e:
                errors.append(f"{url}: HTTP {e.code}")
                if e.code == 416:  # the partial file is complete or bad: start over
                    part.unlink(missing_ok=True)
                    continue
                if e.code < 500:
                    break  # not found / forbidden here: try the next address
            except (urllib.error.URLError, OSError) as e:
                if _is_unreachable(e):  # no network or no such host: no point in retrying
                    errors.append(f"cannot reach {url.split('/')[2]} (no network?)")
                    break
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
            else:
                if md5sum(part) == remote.md5:
                    return
                errors.append(f"{url}: checksum mismatch")
                part.unlink()
            if attempt + 1 < retries:
                time.sleep(backoff * 2**attempt)
    raise DownloadError(
        f"could not download {remote.filename}: {'; '.join(errors[-3:])}. "
        + _manual_help(name, folder)
    )
