"""Write the seed corpus (small valid inputs, one folder per target) into fuzz/corpus/.

    python fuzz/make_corpus.py

The files are committed; run this again only to change the seeds. Regression inputs (past
findings) live beside them under names starting with ``regression-`` and are kept.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent / "corpus"


def _idx(array):
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes() + array.tobytes()


def _png(arr, **kw):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=kw.pop("fmt", "PNG"), **kw)
    return buf.getvalue()


def _tar(files, mode):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def seeds():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    X = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
    batch = {
        b"batch_label": b"b1",
        b"labels": [3, 7],
        b"data": X,
        b"filenames": [b"a.png", b"b.png"],
    }
    meta = {b"label_names": [b"cat", b"dog"], b"num_vis": 3072}
    tree = {
        "pets/cat/0.png": _png(img),
        "pets/dog/0.png": _png(img[::-1]),
        "pets/dog/1.jpg": _png(img, fmt="JPEG"),
    }
    cifar = {
        f"cifar-10-batches-py/{n}": pickle.dumps(
            {b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]}, protocol=2
        )
        for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    }
    from linclass import LinearSVM, save

    clf = LinearSVM(max_epochs=2, random_state=0).fit(
        rng.standard_normal((20, 4)), np.arange(20) % 2
    )
    with tempfile.TemporaryDirectory() as tmp:
        save(clf, Path(tmp) / "model.npz")
        model = (Path(tmp) / "model.npz").read_bytes()
    return {
        "idx": {
            "images": _idx(rng.integers(0, 256, (2, 3, 3))),
            "labels": _idx([1, 2, 3]),
            "images.gz": gzip.compress(_idx(np.zeros((1, 2, 2)))),
        },
        "cifar_python": {f"protocol{p}": pickle.dumps(batch, protocol=p) for p in (2, 4, 5)},
        "cifar_meta": {"meta": pickle.dumps(meta, protocol=2)},
        "cifar_binary": {
            "records": np.concatenate([[[3]], X[:1]], axis=1).astype(np.uint8).tobytes()
        },
        "archive": {
            "tree.tar": _tar(tree, "w"),
            "tree.tgz": _tar(tree, "w:gz"),
            "tree.zip": _zip(tree),
        },
        "cifar_archive": {"cifar.tar.gz": _tar(cifar, "w:gz")},
        "image": {
            "rgb.png": _png(img),
            "grey.png": _png(grey),
            "rgb.jpg": _png(img, fmt="JPEG"),
            "rgb.gif": _png(img, fmt="GIF"),
            "rgb.bmp": _png(img, fmt="BMP"),
            "wide.png": _png(grey.astype(np.uint16) * 257),
            "rgba.png": _png(np.dstack([img, grey])),
        },
        "model": {"model.npz": model},
        "circuit": {
            "neuron": b"1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))|w0,x0,w1,x1,w2",
            "lecture": b"(x + y) * z|x,y,z",
            "functions": b"max(x, y) + relu(x) * tanh(y) - log(abs(x))|x,y",
        },
    }


def main():
    for target, files in seeds().items():
        folder = HERE / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            if not old.name.startswith("regression-"):
                old.unlink()
        for name, data in files.items():
            (folder / name).write_bytes(data)
    print(f"wrote the seed corpus into {HERE}")


if __name__ == "__main__":
    main()
