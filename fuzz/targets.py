"""The readers linclass points at untrusted bytes, as fuzz targets: each takes bytes and must
either succeed or raise a ``LinclassError`` (one clear line in the command line). Anything
else -- a crash, a hang, a ``KeyError``, a ``MemoryError`` -- is a finding.

Used by ``fuzz/run.py`` (coverage-guided, atheris: ``make fuzz``) and by
``tests/test_fuzz_corpus.py`` (every file of the seed corpus and every past finding, replayed
in ``make test``).
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

# What any reader may refuse with: linclass's own errors, and a path that is not there.
from linclass.errors import LinclassError

EXPECTED = (LinclassError, FileNotFoundError)
CAP_BYTES = 64 * 2**20  # the fuzzers run with a small memory cap, so "allocate 4 GB" shows


@contextmanager
def _as_file(data, name):
    """``data`` written to a fresh folder as ``name``; the folder goes afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="linclass-fuzz-"))
    try:
        path = folder / name
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def idx(data):
    from linclass.data import read_idx

    with _as_file(data, "x-idx3-ubyte") as path:
        read_idx(path)


def cifar_python(data):
    """One batch of the python version (the pickle)."""
    from linclass.data.cifar10 import _python_batch

    _python_batch(data, "data_batch_1")


def cifar_meta(data):
    from linclass.data.cifar10 import _unpickle

    _unpickle(data, "batches.meta")


def cifar_binary(data):
    from linclass.data.cifar10 import _binary_batch

    _binary_batch(data, "data_batch_1.bin")


def archive(data):
    """A .tar(.gz/.bz2/.xz) or .zip of class folders of images."""
    from linclass.data import load_image_folder

    with _as_file(data, "a.zip" if data[:2] == b"PK" else "a.tar") as path:
        load_image_folder(path, workers=1)


def cifar_archive(data):
    from linclass.data import load_cifar10

    with _as_file(data, "cifar.tar.gz") as path:
        load_cifar10(path)


def image(data):
    from linclass.data.images import image_row, open_image

    im = open_image(data)
    image_row(im, (8, 8), "RGB")


def model(data):
    import numpy as np

    import linclass

    with _as_file(data, "model.npz") as path:
        m = linclass.load(path)
        linclass.io.load_metadata(path)
        m.predict(np.zeros((1, m.n_features_in_)))


def circuit(data):
    from linclass.graph import render
    from linclass.graph.expr import build_circuit

    text = data.decode("utf-8", "replace")
    expr, _, rest = text.partition("|")
    values = {}
    for i, name in enumerate(n for n in rest.split(",") if n.isidentifier()):
        values[name] = float(i + 1)
    c = build_circuit(expr, values)
    c.backward()
    render.to_dot(c)
    list(render.text_drawing(c))


TARGETS = {
    f.__name__: f
    for f in (
        idx,
        cifar_python,
        cifar_meta,
        cifar_binary,
        archive,
        cifar_archive,
        image,
        model,
        circuit,
    )
}


def run_one(name, data):
    """Run target ``name`` on ``data`` under the fuzzing caps; returns None when the input was
    handled (accepted or refused with a LinclassError), else the unexpected exception."""
    from linclass import limits

    with limits.caps(max_bytes=CAP_BYTES, max_image_pixels=4_000_000):
        try:
            TARGETS[name](bytes(data))
        except EXPECTED:
            return None
        except Exception as e:
            return e
    return None


__all__ = ["TARGETS", "run_one", "EXPECTED"]
