"""The data set loaders, on small files the tests write in exactly the official formats, on
damaged ones, and on the real data in ../shared/data where it is present."""

import gzip
import os
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from conftest import SHARED_DATA

from linclass.data import (
    DataFileError,
    load_cifar10,
    load_dataset,
    load_image_folder,
    load_mnist,
    read_idx,
)

Image = pytest.importorskip("PIL.Image")

# The official class names, written into the fixture files (not taken from the loader it tests).
CIFAR_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


# -- MNIST ------------------------------------------------------------------------------------


def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return head + array.tobytes()


def write_mnist(folder, n_train=30, n_test=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        for kind, arr in (("images-idx3", X), ("labels-idx1", y)):
            path = folder / f"{prefix}-{kind}-ubyte{'.gz' if gz else ''}"
            raw = idx_bytes(arr)
            path.write_bytes(gzip.compress(raw) if gz else raw)
        data[prefix] = (X, y)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_folder_with_train_and_test(tmp_path, gz):
    data = write_mnist(tmp_path, gz=gz)
    ds = load_mnist(tmp_path)
    np.testing.assert_array_equal(ds.X, data["train"][0].reshape(30, 784))
    np.testing.assert_array_equal(ds.y, data["train"][1])
    np.testing.assert_array_equal(ds.X_test, data["t10k"][0].reshape(12, 784))
    assert ds.image_shape == (28, 28) and ds.class_names[3] == "3"
    assert load_mnist(tmp_path, fashion=True).class_names[0] == "T-shirt/top"


def test_mnist_single_file_and_test_set_only(tmp_path):
    data = write_mnist(tmp_path)
    ds = load_mnist(tmp_path / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(ds.y, data["t10k"][1])
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    ds = load_dataset(f"mnist:{tmp_path}")
    assert ds.X.shape == (12, 784) and ds.X_test is None


def test_mnist_damaged_files_are_named(tmp_path):
    write_mnist(tmp_path, gz=False)
    images = tmp_path / "t10k-images-idx3-ubyte"
    good = images.read_bytes()
    images.write_bytes(good[:-100])
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)
    images.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(DataFileError, match="t10k-images-idx3-ubyte is not an IDX file"):
        read_idx(images)
    images.write_bytes(good)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.full(12, 11)))
    with pytest.raises(DataFileError, match="label 11"):
        load_mnist(tmp_path)
    labels.write_bytes(idx_bytes(np.zeros(5)))
    with pytest.raises(DataFileError, match="12 images but .* 5 labels"):
        load_mnist(tmp_path)
    labels.unlink()
    with pytest.raises(FileNotFoundError, match="only one of"):
        load_mnist(tmp_path)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(DataFileError, match="bad.gz cannot be read"):
        read_idx(tmp_path / "bad.gz")


@pytest.mark.skipif(
    not os.path.isdir(os.path.join(SHARED_DATA, "mnist")), reason="../shared/data/mnist is not here"
)
def test_real_mnist_test_set():
    ds = load_dataset(f"mnist:{os.path.join(SHARED_DATA, 'mnist')}")
    assert ds.X.shape == (10000, 784) and ds.X.dtype == np.uint8
    assert np.bincount(ds.y).tolist()[:3] == [980, 1135, 1032]


# -- CIFAR-10 ---------------------------------------------------------------------------------


def cifar_arrays(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, 10, size=n)


def write_cifar_python(folder, n=20, protocol=2):
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        X, y = cifar_arrays(n, seed=len(batches))
        batch = {
            b"batch_label": name.encode(),
            b"labels": y.tolist(),
            b"data": X,
            b"filenames": [f"{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        batches[name] = (X, y)
    meta = {
        b"label_names": [c.encode() for c in CIFAR_NAMES],
        b"num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return batches


def write_cifar_binary(folder, n=20):
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        X, y = cifar_arrays(n, seed=len(batches) + 10)
        rec = np.concatenate([y[:, None].astype(np.uint8), X], axis=1)
        (folder / f"{name}.bin").write_bytes(rec.tobytes())
        batches[name] = (X, y)
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR_NAMES) + "\n\n")
    return batches


def tar_gz(folder, target):
    with tarfile.open(target, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return target


@pytest.mark.parametrize("version", ["python", "python-protocol-4", "binary"])
@pytest.mark.parametrize("packed", [False, True])
def test_cifar10_both_versions_from_folder_or_archive(tmp_path, version, packed):
    folder = tmp_path / f"cifar-10-batches-{'bin' if version == 'binary' else 'py'}"
    if version == "binary":
        batches = write_cifar_binary(folder)
    else:
        batches = write_cifar_python(folder, protocol=4 if version.endswith("4") else 2)
    source = tar_gz(folder, tmp_path / "cifar.tar.gz") if packed else tmp_path
    ds = load_cifar10(source)
    assert ds.X.shape == (100, 3072) and ds.X_test.shape == (20, 3072)
    assert ds.image_shape == (32, 32, 3) and ds.class_names[-1] == "truck"
    X1, y1 = batches["data_batch_1"]
    np.testing.assert_array_equal(ds.y[:20], y1)
    # channel-major rows (1,024 red, green, blue) become height x width x channel
    img = ds.X[0].reshape(32, 32, 3)
    assert img[0, 1, 0] == X1[0, 1] and img[0, 1, 1] == X1[0, 1024 + 1]
    assert img[2, 3, 2] == X1[0, 2048 + 2 * 32 + 3]


def test_cifar10_malicious_pickle_runs_nothing(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_python(folder)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataFileError, match=r"data_batch_3.*system is not allowed"):
        load_cifar10(folder)
    assert not marker.exists()
    (folder / "data_batch_3").write_bytes(pickle.dumps(np.array([object()], dtype=object)))
    with pytest.raises(DataFileError, match="data_batch_3"):
        load_cifar10(folder)


def test_cifar10_damaged_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar_binary(folder)
    (folder / "data_batch_2.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(DataFileError, match="data_batch_2.bin has 3000 bytes"):
        load_cifar10(folder)
    (folder / "data_batch_2.bin").unlink()
    with pytest.raises(DataFileError, match="not a CIFAR-10 download"):
        load_cifar10(folder)
    py = tmp_path / "py" / "cifar-10-batches-py"
    write_cifar_python(py)
    (py / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataFileError, match="test_batch is not a valid CIFAR-10 python batch"):
        load_cifar10(py)
    with pytest.raises(FileNotFoundError):
        load_cifar10(tmp_path / "nowhere")


# -- image folders ----------------------------------------------------------------------------


def save_image(path, size=(8, 6), mode="RGB", seed=0, fmt=None):
    rng = np.random.default_rng(seed)
    w, h = size
    shape = (h, w) if mode in ("L",) else (h, w, len(mode))
    arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path, format=fmt)
    return arr


def make_tree(root, classes=("cat", "dog"), per_class=3, size=(8, 6), mode="RGB", ext=".png"):
    for c in classes:
        for i in range(per_class):
            save_image(root / c / f"{i}{ext}", size=size, mode=mode, seed=hash((c, i)) % 1000)
    return root


def test_image_folder_basic(tmp_path):
    make_tree(tmp_path / "pets")
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image")
    ds = load_image_folder(tmp_path / "pets")
    assert ds.class_names == ["cat", "dog"]
    assert ds.X.shape == (6, 6 * 8 * 3) and ds.X.dtype == np.uint8
    assert ds.image_shape == (6, 8, 3)
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    expected = np.asarray(Image.open(tmp_path / "pets" / "cat" / "0.png")).reshape(-1)
    np.testing.assert_array_equal(ds.X[0], expected)


def test_sizes_and_modes_are_made_consistent(tmp_path):
    root = tmp_path / "mixed"
    make_tree(root, per_class=3, size=(8, 6))
    save_image(root / "cat" / "big.png", size=(16, 12))
    save_image(root / "dog" / "grey.png", mode="L")
    save_image(root / "dog" / "alpha.png", mode="RGBA")
    ds = load_image_folder(root)
    assert ds.image_shape == (6, 8, 3) and ds.X.shape[0] == 9  # the most common size wins
    grey_row = ds.X[ds.y == 1][-1].reshape(6, 8, 3)  # sorted names: 0,1,2,alpha,grey
    assert np.all(grey_row[..., 0] == grey_row[..., 1])
    ds = load_image_folder(root, size=4)
    assert ds.image_shape == (4, 4, 3)
    only_grey = tmp_path / "grey"
    make_tree(only_grey, mode="L")
    assert load_image_folder(only_grey).image_shape == (6, 8)


def test_transparent_pixels_become_white(tmp_path):
    root = tmp_path / "t"
    arr = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.fromarray(arr, mode="RGBA").save(root / c / "x.png")
    ds = load_image_folder(root)
    assert np.all(ds.X == 255)


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_archives_and_train_test_layout(tmp_path, kind):
    root = tmp_path / "data" / "wrapped"
    make_tree(root / "train", per_class=4, ext=".jpg")
    make_tree(root / "test", per_class=2, ext=".jpg")
    target = tmp_path / f"images.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(target, "w") as z:
            for p in sorted(root.rglob("*.jpg")):
                z.write(p, p.relative_to(tmp_path / "data"))
    else:
        with tarfile.open(target, "w:gz" if kind == "tar.gz" else "w") as t:
            t.add(root, arcname="wrapped")
    ds = load_image_folder(target)
    assert ds.X.shape[0] == 8 and ds.X_test.shape[0] == 4
    assert ds.class_names == ["cat", "dog"] and ds.y_test.tolist() == [0, 0, 1, 1]
    assert load_dataset(f"folder:{target}").X.shape == ds.X.shape


def test_unreadable_images_are_named_or_skipped(tmp_path):
    root = make_tree(tmp_path / "pets")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataFileError, match=r"1 image\(s\) could not be read: .*broken.jpg"):
        load_image_folder(root)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\).*broken.jpg"):
        ds = load_image_folder(root, skip_bad=True)
    assert ds.X.shape[0] == 6


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match="no images"):
        load_image_folder(tmp_path / "empty")
    make_tree(tmp_path / "one", classes=("cat",))
    with pytest.raises(DataFileError, match="only one class"):
        load_image_folder(tmp_path / "one")
    (tmp_path / "file.bin").write_bytes(b"1234")
    with pytest.raises(DataFileError, match="not a folder"):
        load_image_folder(tmp_path / "file.bin")


def test_parallel_decoding_gives_the_same_rows(tmp_path, monkeypatch):
    import linclass.data.folder as folder

    root = make_tree(tmp_path / "many", per_class=40, ext=".jpg")
    monkeypatch.setattr(folder, "_CHUNK", 16)
    serial = load_image_folder(root, workers=1)
    parallel = load_image_folder(root, workers=2)
    np.testing.assert_array_equal(serial.X, parallel.X)
    np.testing.assert_array_equal(serial.y, parallel.y)
    # A file that opens but cannot be decoded (cut short), in a later chunk: both skip it.
    whole = (root / "dog" / "7.jpg").read_bytes()
    (root / "dog" / "7.jpg").write_bytes(whole[: len(whole) // 2])
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable"):
        serial = load_image_folder(root, workers=1, skip_bad=True)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable.*7.jpg"):
        parallel = load_image_folder(root, workers=2, skip_bad=True)
    assert parallel.X.shape[0] == 79
    np.testing.assert_array_equal(serial.X, parallel.X)
    np.testing.assert_array_equal(serial.y, parallel.y)


CIFAR_JPG = os.path.join(SHARED_DATA, "cifar10", "cifar10-jpg.tar.gz")


@pytest.mark.skipif(not os.path.exists(CIFAR_JPG), reason="../shared/data/cifar10 is not here")
def test_real_cifar10_jpeg_tree():
    ds = load_dataset(f"folder:{CIFAR_JPG}")
    assert ds.X.shape == (50000, 3072) and ds.X_test.shape == (10000, 3072)
    assert ds.class_names[0] == "airplane" and ds.image_shape == (32, 32, 3)
    assert abs(float(ds.X.mean()) - 120.7) < 0.1  # the mean the data's README gives
    assert np.bincount(ds.y).tolist() == [5000] * 10


@pytest.mark.parametrize(
    "spec,message",
    [
        ("digits:/tmp/x", "digits is built in and takes no path"),
        ("folder", r"folder needs a path: --dataset folder:PATH"),
        ("mnist:", r"--dataset mnist: needs a path after the colon"),
        ("imagenet", r"unknown data set 'imagenet'; use digits, mnist:PATH"),
    ],
)
def test_a_data_set_named_wrongly_says_how_to_name_it(spec, message):
    from linclass.errors import InputError

    with pytest.raises(InputError, match=message):
        load_dataset(spec)
