"""Reading files and archives that may be damaged or hostile, in one place.

Every loader opens its input through here: a path must be a folder or a regular file (a FIFO
or ``/dev/zero`` would hang or never end), every error an archive library can raise on bad
bytes becomes one ``DataFileError`` that names the file, a member is read only after its
declared size passed the memory cap, and a plain ``.tar`` cut short is refused instead of
loading silently with fewer files.
"""

from __future__ import annotations

import lzma
import os
import stat
import struct
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .. import limits
from .._typing import PathArg
from ..errors import DataFileError, LinclassError

__all__ = [
    "reading",
    "check_input_path",
    "read_file",
    "read_tar_member",
    "read_zip_member",
    "check_tar_complete",
    "open_tar",
    "open_zip",
    "is_tar",
    "is_zip",
    "ARCHIVE_ERRORS",
    "open_tree",
    "Tree",
]

# What tarfile, zipfile and the decompressors raise on damaged bytes (an encrypted zip member
# is a RuntimeError, an unsupported compression a NotImplementedError).
ARCHIVE_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
)
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@contextmanager
def reading(where: object) -> Iterator[None]:
    """Turn whatever reading ``where`` raises on bad bytes into one ``DataFileError``."""
    try:
        yield
    except LinclassError:
        raise
    except FileNotFoundError:
        raise FileNotFoundError(f"{where} does not exist.") from None
    except PermissionError:
        raise PermissionError(f"{where}: permission denied.") from None
    except MemoryError:
        raise DataFileError(
            f"{where}: reading it ran out of memory (it is too large or damaged)."
        ) from None
    except ARCHIVE_ERRORS as e:
        why = str(e) or type(e).__name__
        if "encrypted" in why or "password" in why:
            why = "it is encrypted; linclass reads only archives without a password"
        raise DataFileError(
            f"{where} cannot be read: it is damaged or not in its format "
            f"({type(e).__name__}: {why})."
        ) from None


def check_input_path(path: PathArg) -> Path:
    """A folder or a regular file (following links), else a clear error."""
    checked = Path(path)
    try:
        mode = checked.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{checked} does not exist.") from None
    except OSError as e:
        raise DataFileError(f"{checked} cannot be read ({e.strerror}).") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise DataFileError(
            f"{checked} is not a regular file or a folder (a device, a pipe or a "
            "socket): give a file or a folder of files."
        )
    return checked


def read_file(path: PathArg, what: str = "the file") -> bytes:
    """A regular file's bytes, after its size passed the memory cap."""
    file = check_input_path(path)
    if file.is_dir():
        raise DataFileError(f"{file} is a folder; expected a file.")
    with reading(file):
        limits.check_bytes(file.stat().st_size, what, file)
        return file.read_bytes()


def read_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo, where: object) -> bytes:
    """A tar member's bytes, after its declared size passed the cap; a member cut short is
    a ``DataFileError``."""
    limits.check_bytes(member.size, "an archive member", where)
    with reading(where):
        f = tar.extractfile(member)
        data = f.read() if f is not None else b""
    if len(data) != member.size:
        raise DataFileError(f"{where} is cut short ({len(data):,} of {member.size:,} bytes).")
    return data


def read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: object) -> bytes:
    """A zip member's bytes, after its declared size passed the cap (zipfile itself stops at
    the declared size, so a lying header cannot decompress past it)."""
    limits.check_bytes(info.file_size, "an archive member", where)
    with reading(where):
        return zf.read(info)


def open_tar(path: PathArg, mode: Literal["r:*", "r|*"] = "r:*") -> tarfile.TarFile:
    with reading(path):
        return tarfile.open(path, mode)


def open_zip(path: PathArg) -> zipfile.ZipFile:
    with reading(path):
        return zipfile.ZipFile(path)


def is_zip(path: PathArg) -> bool:
    with reading(path):
        return zipfile.is_zipfile(path)


def is_tar(path: PathArg) -> bool:
    with reading(path):
        return tarfile.is_tarfile(path)


def check_tar_complete(path: PathArg) -> None:
    """A plain (uncompressed) .tar ends with two zero blocks; one cut short at a member
    boundary would otherwise load without a word, missing files. (Compressed archives carry
    their own end marker and checksum, which the decompressor checks.)"""
    with reading(path), open(path, "rb") as f:
        if f.read(6).startswith(_COMPRESSED):
            return
        size = os.fstat(f.fileno()).st_size
        if size < 1024:
            tail = b"x"
        else:
            f.seek(size - 1024)
            tail = f.read(1024)
    if tail.strip(b"\x00"):
        raise DataFileError(
            f"{path} ends without the end-of-archive marker: it was cut short "
            "(an interrupted copy or download). Copy or download it again."
        )


# -- a tree of files: a folder, a .tar(.gz) or a .zip, read the same way ---------------------


def open_tree(
    path: PathArg,
    wanted: Callable[[tuple[str, ...]], bool] | None = None,
    what: str = "a folder, a .zip or a .tar(.gz) archive",
    files: str = "files",
) -> Tree:
    """The files under ``path``, whether a folder, a zip or a tar archive (compressed or not),
    as one ``Tree``. ``wanted(parts)`` says which files the caller will read (a tar is read
    as a stream, so the others' bytes are skipped as it passes); by default all of them.
    ``what`` and ``files`` word the messages: what ``path`` should be, what its files are."""
    root = check_input_path(Path(path))
    kind: type[Tree] | None = (
        Tree if root.is_dir() else _ZipTree if is_zip(root) else _TarTree if is_tar(root) else None
    )
    if kind is None:
        raise DataFileError(f"{root} is not {what}.")
    return kind(root, wanted, files)


class Tree:
    """Files of a folder tree: ``entries()`` yields ``(parts, key)`` for each file (``parts``
    its path below the root, split), ``read(key)`` its bytes, ``where(key)`` its name for a
    message. Every byte read counts against the memory cap, as the callers hold what they
    read until they are done with it. Symbolic links are followed, to folders as to files (a
    class folder may be a link into another data set); a link back up the tree is skipped with
    a warning instead of walking it for ever."""

    def __init__(
        self,
        path: Path,
        wanted: Callable[[tuple[str, ...]], bool] | None = None,
        files: str = "files",
    ) -> None:
        self.path, self.wanted, self.files = path, wanted or (lambda parts: True), files
        self.total = 0  # bytes read so far
        self._open()

    def _open(self) -> None:
        """Check and open what the tree reads from (an archive); a folder needs nothing."""

    def _take(self, data: bytes) -> bytes:
        self.total += len(data)
        limits.check_bytes(self.total, f"the {self.files} read so far", self.path)
        return data

    def entries(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        seen = set()
        for dirpath, dirnames, filenames in os.walk(self.path, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                warnings.warn(
                    f"{dirpath} links back to a folder already read; skipped.", stacklevel=4
                )
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                full = Path(dirpath) / name
                yield full.relative_to(self.path).parts, full

    def read(self, key: Any) -> bytes:
        return self._take(read_file(key, f"one of the {self.files}"))

    def where(self, key: Any) -> str:
        return str(key)

    def close(self) -> None:
        pass

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TarTree(Tree):
    """Read as a stream, in archive order (seeking back in a .tar.gz restarts decompression):
    the wanted members' bytes are read as they pass."""

    def _open(self) -> None:
        check_tar_complete(self.path)

    def entries(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        with open_tar(self.path, "r|*") as tar, reading(self.path):
            for m in tar:
                if m.isfile():
                    parts = PurePosixPath(m.name).parts
                    where = f"{self.path}:{m.name}"
                    data = read_tar_member(tar, m, where) if self.wanted(parts) else b""
                    yield parts, (m.name, self._take(data))

    def read(self, key: Any) -> bytes:
        return key[1]

    def where(self, key: Any) -> str:
        return f"{self.path}:{key[0]}"


class _ZipTree(Tree):
    def _open(self) -> None:
        self.zip = open_zip(self.path)

    def entries(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        with reading(self.path):
            infos = self.zip.infolist()
        for info in infos:
            if info.filename and not info.filename.endswith("/"):  # a nameless member: skip
                yield PurePosixPath(info.filename).parts, info

    def read(self, key: Any) -> bytes:
        return self._take(read_zip_member(self.zip, key, self.where(key)))

    def where(self, key: Any) -> str:
        return f"{self.path}:{key.filename}"

    def close(self) -> None:
        self.zip.close()
