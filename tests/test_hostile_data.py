"""Hostile and damaged data files: every one ends in one clear ``DataFileError`` (or a
``ResourceLimitError``) that names the file, never in a crash, a hang or a blow-up."""

import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from test_loaders import make_tree, save_image, write_cifar_python, write_mnist

from linclass import limits
from linclass.data import DataFileError, load_cifar10, load_image_folder, load_mnist, read_idx
from linclass.errors import LinclassError, ResourceLimitError

Image = pytest.importorskip("PIL.Image")


# -- CIFAR-10 python batches: what numpy would build is built by linclass --------------------


def _batch_bytes(X, labels, protocol=2):
    return pickle.dumps({b"data": X, b"labels": labels}, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batches_in_every_protocol_load(tmp_path, protocol):
    batches = write_cifar_python(tmp_path / "py", protocol=protocol)
    ds = load_cifar10(tmp_path / "py")
    X1, y1 = batches["data_batch_1"]
    assert ds.X.dtype == np.uint8 and ds.X.flags.owndata | (ds.X.base is not None)
    np.testing.assert_array_equal(ds.y[:20], y1)
    assert ds.X[0].reshape(32, 32, 3)[0, 1, 0] == X1[0, 1]


def _craft(tmp_path, name, blob):
    folder = tmp_path / "cifar-10-batches-py"
    if not folder.exists():
        write_cifar_python(folder)
    (folder / name).write_bytes(blob)
    return folder


@pytest.mark.parametrize("rows", [20, 2**24])
def test_an_array_without_its_bytes_is_refused(tmp_path, rows):
    """numpy's ``_reconstruct`` alone makes an array of any shape from uninitialised memory
    (gigabytes, for a few bytes of file); here it only describes one, which has no bytes."""

    class Hollow:
        def __reduce__(self):
            return (np._core.multiarray._reconstruct, (np.ndarray, (rows, 3072), b"B"))

    folder = _craft(tmp_path, "data_batch_2", _batch_bytes(Hollow(), [0]))
    with pytest.raises(DataFileError, match="data_batch_2"):
        load_cifar10(folder)


def test_a_dtype_state_is_not_numpys_to_take(tmp_path):
    """The dtype's state (item size, flags) is not handed to numpy: the pixels stay bytes."""
    X = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251
    blob = _batch_bytes(X, [1, 2])
    plain = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
    assert blob.count(plain) == 1
    evil = blob.replace(plain, b"J\x08\x00\x00\x00J\x08\x00\x00\x00K\x3ft")
    folder = _craft(tmp_path, "data_batch_2", evil)
    ds = load_cifar10(folder)
    assert ds.X.dtype == np.uint8 and len(ds.X) == 20 * 4 + 2


@pytest.mark.parametrize("dtype", ["O", "V8", "f8", "U1", "M8"])
def test_only_integer_arrays_are_described(tmp_path, dtype):
    blob = _batch_bytes(np.zeros((2, 3072), np.uint8), [1, 2]).replace(
        b"X\x02\x00\x00\x00u1", b"X\x02\x00\x00\x00" + dtype.encode().ljust(2)[:2]
    )
    folder = _craft(tmp_path, "data_batch_2", blob)
    with pytest.raises(DataFileError, match="data_batch_2"):
        load_cifar10(folder)


@pytest.mark.parametrize(
    "shape,nbytes", [((2, 3072), 10), ((2**30, 2**30), 6144), ((-1, 3072), 6144), ((3072,), 3072)]
)
def test_declared_shapes_must_match_the_bytes(tmp_path, shape, nbytes):
    class Fake:  # pickles as numpy's own array path, with a shape that lies
        def __reduce__(self):
            return (
                np._core.multiarray._reconstruct,
                (np.ndarray, (0,), b"b"),
                (1, shape, np.dtype("u1"), False, b"\x00" * nbytes),
            )

    folder = _craft(tmp_path, "data_batch_2", _batch_bytes(Fake(), [0]))
    with pytest.raises(DataFileError, match="data_batch_2"):
        load_cifar10(folder)


def test_billion_laughs_through_the_memo_is_refused(tmp_path):
    """One 1 MB text encoded to bytes 2,000 times would make 2 GB from a small file."""
    text = "a" * 2**20
    p = [b"\x80\x02]q\x00(", b"X" + struct.pack("<I", len(text)) + text.encode(), b"q\x01"]
    p += [b"c_codecs\nencode\nh\x01X\x06\x00\x00\x00latin1\x86R"] * 2000
    p.append(b"e.")
    folder = _craft(tmp_path, "data_batch_2", b"".join(p))
    with pytest.raises(DataFileError, match="expands into more bytes than the file holds"):
        load_cifar10(folder)


@pytest.mark.parametrize("labels", [[1.5], ["a"], [[1] * 3] * 2, [300], None, {1: 2}])
def test_labels_must_be_small_integers(tmp_path, labels):
    folder = _craft(tmp_path, "data_batch_2", _batch_bytes(np.zeros((1, 3072), np.uint8), labels))
    with pytest.raises(DataFileError, match="data_batch_2"):
        load_cifar10(folder)


def test_class_names_are_checked(tmp_path):
    folder = _craft(tmp_path, "batches.meta", pickle.dumps({b"label_names": [b"x" * 5000]}))
    with pytest.raises(DataFileError, match="class names"):
        load_cifar10(folder)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [1, 2]}))
    with pytest.raises(DataFileError, match="label_names"):
        load_cifar10(folder)


@pytest.mark.parametrize("cut", [0, 1, 100, 1000, -1000, -10])
def test_truncated_pickles_are_named(tmp_path, cut):
    blob = _batch_bytes(np.zeros((2, 3072), np.uint8), [1, 2])
    folder = _craft(tmp_path, "test_batch", blob[:cut])
    with pytest.raises(DataFileError, match="test_batch"):
        load_cifar10(folder)


# -- archives ---------------------------------------------------------------------------------


def _cifar_tar(tmp_path, mode="w:gz"):
    folder = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar_python(folder)
    target = tmp_path / (
        "cifar.tar" + {"w:gz": ".gz", "w": "", "w:bz2": ".bz2", "w:xz": ".xz"}[mode]
    )
    with tarfile.open(target, mode) as tar:
        tar.add(folder, arcname=folder.name)
    return target


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95, 0.999])
def test_archives_cut_short_are_named(tmp_path, mode, keep):
    target = _cifar_tar(tmp_path, mode)
    blob = target.read_bytes()
    target.write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(DataFileError, match="cifar.tar"):
        load_cifar10(target)


def test_a_plain_tar_cut_at_a_member_boundary_is_not_loaded_short(tmp_path):
    root = tmp_path / "imgs"
    make_tree(root, per_class=4)
    target = tmp_path / "imgs.tar"
    with tarfile.open(target, "w") as tar:
        tar.add(root, arcname="imgs")
    with tarfile.open(target) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
    last = members[-1]  # cut after the second-to-last member's data
    prev = members[-2]
    end = prev.offset_data + -(-prev.size // 512) * 512
    target.write_bytes(target.read_bytes()[:end])
    with pytest.raises(DataFileError, match="cut short"):
        load_image_folder(target)
    assert last.name


@pytest.mark.parametrize("damage", ["flip", "garbage-member", "zero-header"])
def test_damaged_tar_gz_is_named(tmp_path, damage):
    target = _cifar_tar(tmp_path)
    blob = bytearray(target.read_bytes())
    if damage == "flip":
        for i in range(200, len(blob) - 200, 997):
            blob[i] ^= 0xFF
    elif damage == "zero-header":
        blob[10:200] = bytes(190)
    else:
        blob = bytearray(gzip.compress(b"\x00" * 100 + b"ustar" + os.urandom(3000)))
    target.write_bytes(bytes(blob))
    with pytest.raises(LinclassError, match="cifar.tar.gz"):
        load_cifar10(target)


def _zip_tree(tmp_path, **kwargs):
    root = tmp_path / "imgs"
    make_tree(root, per_class=3)
    target = tmp_path / "imgs.zip"
    with zipfile.ZipFile(target, "w", **kwargs) as zf:
        for p in sorted(root.rglob("*.png")):
            zf.write(p, p.relative_to(tmp_path))
    return target


def test_damaged_zip_members_are_named(tmp_path):
    target = _zip_tree(tmp_path)
    blob = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as zf:
        info = zf.infolist()[1]
    start = info.header_offset + 30 + len(info.filename)
    blob[start : start + 20] = bytes(20)  # the member's compressed data: bad CRC or bad stream
    target.write_bytes(bytes(blob))
    with pytest.raises(DataFileError, match="imgs.zip"):
        load_image_folder(target)


def test_encrypted_or_unsupported_zip_members(tmp_path):
    target = _zip_tree(tmp_path)
    blob = bytearray(target.read_bytes())
    # flag bit 0 (encrypted) in every local and central header
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = blob.find(sig)
        while i >= 0:
            blob[i + flag_at] |= 1
            i = blob.find(sig, i + 4)
    target.write_bytes(bytes(blob))
    with pytest.raises(DataFileError, match="encrypted"):
        load_image_folder(target)
    target = _zip_tree(tmp_path / "b")
    blob = bytearray(target.read_bytes())
    for sig, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = blob.find(sig)
        while i >= 0:
            blob[i + method_at : i + method_at + 2] = (99).to_bytes(2, "little")
            i = blob.find(sig, i + 4)
    target.write_bytes(bytes(blob))
    with pytest.raises(DataFileError, match="imgs.zip"):
        load_image_folder(target)


def test_an_archive_member_past_the_memory_cap_is_not_read(tmp_path):
    target = _cifar_tar(tmp_path)
    with (
        limits.caps(max_bytes=1000),
        pytest.raises(ResourceLimitError, match=r"cifar.tar.gz:.*more than the cap"),
    ):
        load_cifar10(target)


# -- IDX --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_sizes_are_checked_before_reading(tmp_path, gz):
    head = bytes([0, 0, 8, 3]) + np.array([2**31, 2**31, 2**31], ">u4").tobytes()
    path = tmp_path / ("x.idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(head + b"\x00" * 100) if gz else head + b"\x00" * 100)
    with pytest.raises(DataFileError, match="x.idx") as e:
        read_idx(path)
    assert ("holds only" in str(e.value)) != gz  # a plain file: the header against its size
    assert gz <= isinstance(e.value, ResourceLimitError)  # gzip: the cap


def test_idx_within_the_file_but_past_the_cap(tmp_path):
    write_mnist(tmp_path, gz=True)
    with limits.caps(max_bytes=5000), pytest.raises(ResourceLimitError, match="LINCLASS_MAX"):
        load_mnist(tmp_path)


# -- special files and links ------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    root = tmp_path / "imgs"
    make_tree(root)
    os.mkfifo(root / "cat" / "stuck.png")
    with pytest.raises(DataFileError, match="stuck.png is not a regular file"):
        load_image_folder(root)
    os.mkfifo(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DataFileError, match="not a regular file"):
        read_idx(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DataFileError, match="not a regular file"):
        load_cifar10(tmp_path / "t10k-images-idx3-ubyte")


def test_dev_zero_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="/dev/zero is not a regular file"):
        read_idx("/dev/zero")
    with pytest.raises(DataFileError, match="/dev/zero is not a regular file"):
        load_image_folder("/dev/zero")


def test_symlinked_class_folders_are_followed_and_loops_stop(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    make_tree(elsewhere, classes=("bird",))
    root = tmp_path / "imgs"
    make_tree(root)
    (root / "bird").symlink_to(elsewhere / "bird", target_is_directory=True)
    (root / "cat" / "loop").symlink_to(root, target_is_directory=True)
    with pytest.warns(UserWarning, match="links back"):
        ds = load_image_folder(root)
    assert ds.class_names == ["bird", "cat", "dog"] and len(ds.y) == 9


# -- images -----------------------------------------------------------------------------------


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    root = tmp_path / "imgs"
    for cls, level in (("dark", 20000), ("light", 60000)):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4), level, np.uint16)).save(root / cls / f"{i}.png")
    ds = load_image_folder(root)
    assert ds.image_shape == (4, 4)
    assert set(ds.X[ds.y == 0].ravel()) == {round(20000 / 257)}
    assert set(ds.X[ds.y == 1].ravel()) == {round(60000 / 257)}


def test_an_image_past_the_pixel_cap_is_refused_before_decoding(tmp_path):
    root = tmp_path / "imgs"
    make_tree(root)
    save_image(root / "cat" / "huge.png", size=(300, 200))
    with limits.caps(max_image_pixels=50_000):
        with pytest.raises(DataFileError, match=r"huge.png \(300 x 200 pixels, more than the cap"):
            load_image_folder(root)
        with pytest.warns(UserWarning, match="skipped 1"):
            assert len(load_image_folder(root, skip_bad=True).y) == 6


def test_a_png_header_declaring_a_gigapixel_is_refused(tmp_path):
    root = tmp_path / "imgs"
    make_tree(root)
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    blob = bytearray(buf.getvalue())
    blob[16:24] = struct.pack(">II", 60000, 60000)  # IHDR width and height (CRC now wrong)
    (root / "dog" / "bomb.png").write_bytes(bytes(blob))
    with pytest.raises(DataFileError, match="bomb.png"):
        load_image_folder(root)


def test_image_size_beyond_sense_is_refused_before_reading(tmp_path):
    from linclass.data import load_dataset

    with pytest.raises(ResourceLimitError, match="100000 is more than the cap"):
        load_dataset(f"folder:{tmp_path / 'nothing'}", size=100_000)


def test_decoded_images_past_the_memory_cap(tmp_path):
    """Small files (flat colour compresses well) that decode to more than the cap."""
    root = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (64, 64), (i, 0, 0)).save(root / cls / f"{i}.png")
    assert sum(p.stat().st_size for p in root.rglob("*.png")) < 2000
    with (
        limits.caps(max_bytes=10_000),
        pytest.raises(ResourceLimitError, match="6 images of 64 x 64"),
    ):
        load_image_folder(root)


# -- the caps themselves ------------------------------------------------------------------------


def test_caps_from_the_environment_and_in_a_block(monkeypatch):
    assert limits.parse_size("8G") == 8 * 2**30 and limits.parse_size("1.5k") == 1536
    assert limits.parse_size("512MiB") == 512 * 2**20 and limits.parse_size("100") == 100
    with pytest.raises(ValueError, match="not a size"):
        limits.parse_size("lots")
    monkeypatch.setenv("LINCLASS_MAX_BYTES", "1M")
    assert limits.get("max_bytes") == 2**20
    with limits.caps(max_bytes=10):
        assert limits.get("max_bytes") == 10
    assert limits.get("max_bytes") == 2**20
    monkeypatch.setenv("LINCLASS_MAX_BYTES", "much")
    with pytest.raises(ValueError, match="LINCLASS_MAX_BYTES='much'"):
        limits.get("max_bytes")
    monkeypatch.delenv("LINCLASS_MAX_BYTES")
    assert limits.get("max_bytes") > 2**28
    with pytest.raises(KeyError):
        limits.get("max_things")


def test_pictures_of_a_thousand_classes_stay_a_sane_size(tmp_path):
    from linclass import plots

    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(1000)]
    y, p = rng.integers(0, 1000, 5000), rng.integers(0, 1000, 5000)
    path = plots.confusion_matrix(
        np.array(names)[y], np.array(names)[p], names, tmp_path / "cm.png"
    )
    with Image.open(path) as im:
        assert max(im.size) < 4000
    path = plots.weight_templates(
        rng.standard_normal((1000, 12)), (2, 2, 3), names, tmp_path / "w.png"
    )
    with Image.open(path) as im:
        assert max(im.size) < 4000


@pytest.mark.parametrize("index", [200_000_000, 20_000_000])
def test_a_memo_index_cannot_allocate_gigabytes(tmp_path, index):
    """The C unpickler grows its memo to the index a PUT names: 10 bytes asking for 1.6 GB (a
    finding of the fuzzer). The opcodes are walked first and such an index is refused."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    blob = b"\x80\x02K\x01r" + struct.pack("<I", index) + b"."
    folder = _craft(tmp_path, "data_batch_2", blob)
    with pytest.raises(DataFileError, match="data_batch_2"):
        load_cifar10(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_many_members_that_decompress_past_the_cap_together(tmp_path, kind):
    """Each member is small, but together they decompress past the memory cap: counted as they
    are read, refused before the sum is held."""
    blob = np.zeros((200, 200), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(blob).save(buf, format="BMP")  # 40 KB, compresses to almost nothing
    member = buf.getvalue()
    target = tmp_path / f"many.{kind}"
    names = [f"imgs/{c}/{i}.bmp" for c in ("a", "b") for i in range(50)]
    if kind == "zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for n in names:
                zf.writestr(n, member)
    else:
        with tarfile.open(target, "w:gz") as tar:
            for n in names:
                info = tarfile.TarInfo(n)
                info.size = len(member)
                tar.addfile(info, io.BytesIO(member))
    assert target.stat().st_size < 200_000
    with (
        limits.caps(max_bytes=2_000_000),
        pytest.raises(ResourceLimitError, match="image files read so far"),
    ):
        load_image_folder(target)
    assert len(load_image_folder(target).y) == 100


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_predict_refuses_a_fifo_where_an_image_should_be(tmp_path, capsys):
    from linclass import cli

    assert cli.main(["train", "--epochs", "2", "--no-plots", "--out", str(tmp_path / "run")]) == 0
    os.mkfifo(tmp_path / "stuck.png")
    capsys.readouterr()
    assert (
        cli.main(["predict", str(tmp_path / "run" / "model.npz"), str(tmp_path / "stuck.png")]) == 1
    )
    assert "stuck.png is not a regular file" in capsys.readouterr().err
