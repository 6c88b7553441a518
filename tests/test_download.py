"""``linclass download``: checksums, resuming, retries and the offline message, against a
small HTTP server on 127.0.0.1 (nothing here leaves this machine)."""

import gzip
import hashlib
import http.server
import socket
import threading
import time

import numpy as np
import pytest

import linclass.data.downloads as dl
from linclass import cli
from linclass.data import load_dataset


def idx_gz(array):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(head + array.tobytes())


class Server:
    """Serves ``files`` (name -> bytes), honours Range, and logs the requests it got."""

    def __init__(self, files):
        self.files = dict(files)
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                outer.requests.append((name, self.headers.get("Range")))
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mnist_files():
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 20), ("t10k", 10)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_gz(rng.integers(0, 256, (n, 28, 28)))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_gz(rng.integers(0, 10, n))
    return files


@pytest.fixture
def server(mnist_files, monkeypatch):
    srv = Server(mnist_files)
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in mnist_files.items()}
    monkeypatch.setitem(
        dl.SOURCES,
        "mnist",
        tuple(
            dl.Remote(name, (srv.url + "missing/" + name, srv.url + name), md5[name])
            for name in mnist_files
        ),
    )
    yield srv
    srv.close()


def test_download_verifies_and_loads(server, tmp_path, monkeypatch):
    seen = []
    path = dl.download("mnist", tmp_path / "d", progress=lambda *a: seen.append(a), backoff=0)
    assert path == tmp_path / "d"
    assert {p.name for p in path.iterdir()} == set(server.files)
    assert any(done == total for _, done, total in seen)
    # the first mirror answered 404, so every file came from the second
    assert sum(1 for name, _ in server.requests if name.startswith("missing/")) == 4
    monkeypatch.setenv("LINCLASS_DATA", str(tmp_path))
    (tmp_path / "mnist").symlink_to(tmp_path / "d")
    ds = load_dataset("mnist")
    assert ds.X.shape == (20, 784) and ds.X_test.shape == (10, 784)
    # a second call finds the verified files and fetches nothing
    n = len(server.requests)
    dl.download("mnist", tmp_path / "d", backoff=0)
    assert len(server.requests) == n


def test_download_resumes_a_partial_file(server, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    name = "train-images-idx3-ubyte.gz"
    data = server.files[name]
    (folder / (name + ".part")).write_bytes(data[: len(data) // 2])
    dl.download("mnist", folder, backoff=0)
    assert (folder / name).read_bytes() == data
    assert (name, f"bytes={len(data) // 2}-") in server.requests
    assert not list(folder.glob("*.part"))


def test_a_wrong_checksum_keeps_nothing(server, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    server.files[name] = b"tampered"
    with pytest.raises(dl.DownloadError, match="checksum mismatch"):
        dl.download("mnist", tmp_path, retries=2, backoff=0)
    assert not (tmp_path / name).exists() and not (tmp_path / (name + ".part")).exists()


def test_offline_fails_fast_and_says_where_to_put_the_files(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(
        dl.SOURCES,
        "cifar10",
        (
            dl.Remote(
                "cifar-10-python.tar.gz",
                (f"http://127.0.0.1:{port}/cifar-10-python.tar.gz",),
                "0" * 32,
            ),
        ),
    )
    t = time.perf_counter()
    with pytest.raises(dl.DownloadError, match=r"cannot reach.*Download by hand.*cifar-10-python"):
        dl.download("cifar10", tmp_path, backoff=0)
    assert time.perf_counter() - t < 10
    code = cli.main(["download", "cifar10", "--dir", str(tmp_path)])
    assert code == 1


def test_download_command(server, tmp_path, capsys):
    assert cli.main(["download", "mnist", "--dir", str(tmp_path)]) == 0
    assert f"--dataset mnist:{tmp_path}" in capsys.readouterr().out.replace("\n", "")


def test_not_downloaded_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("LINCLASS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="linclass download cifar10"):
        load_dataset("cifar10")
    assert dl.cache_dir() == tmp_path
    with pytest.raises(ValueError, match="unknown download"):
        dl.download("imagenet")
