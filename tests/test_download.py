"""Tests for gradcore.datasets.download_mnist against a local HTTP server.

The server runs in a thread on 127.0.0.1 and serves, by the first part of the
URL path:

* ``/real/``     copies of the real MNIST archives from ``$GRADCORE_DATA``;
* ``/fake/``     small valid IDX archives (the tests patch the checksum table);
* ``/corrupt/``  the fake archives with one byte of content changed;
* ``/html/``     an HTML page served with status 200 instead of each archive;
* ``/drop/``     the fake archives, but the connection is closed half-way
                 through while ``Content-Length`` promises the whole file;
* ``/encoded/``  the fake archives sent with ``Content-Encoding: gzip``;
* anything else  404.

No test contacts the real mirrors.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gradcore import datasets
from gradcore.datasets import MNISTDownloadError, download_mnist, load_mnist

NAMES = datasets.FILENAMES
TIMEOUT = 5.0  # seconds; every request here is local


# ----------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX file."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def fake_contents(seed: int = 0) -> dict[str, bytes]:
    """Decompressed contents of four small valid MNIST-like files (2x2 images)."""
    rng = np.random.default_rng(seed)
    n_train, n_test = 50_003, 5
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 2, 2), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_train, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 2, 2), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_test, dtype=np.uint8)),
    }


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _send_body(self, body: bytes, *, length: int | None = None,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        mode, _, name = self.path.lstrip("/").partition("/")
        fake = Path(self.directory) / "fake" / name
        if mode == "drop" and fake.is_file():
            body = fake.read_bytes()
            self._send_body(body[: len(body) // 2], length=len(body))
            self.close_connection = True
        elif mode == "html" and name.endswith(".gz"):
            self._send_body(b"<html><body>Moved to a new home!</body></html>\n")
        elif mode == "encoded" and fake.is_file():
            self._send_body(fake.read_bytes(), headers={"Content-Encoding": "gzip"})
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the server serves, with its sub-folders filled once."""
    root = tmp_path_factory.mktemp("served")
    (root / "fake").mkdir()
    (root / "corrupt").mkdir()
    for name, content in fake_contents().items():
        (root / "fake" / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
        bad = bytearray(content)
        bad[-1] ^= 0x01
        (root / "corrupt" / f"{name}.gz").write_bytes(gzip.compress(bytes(bad), mtime=0))
    env = os.environ.get("GRADCORE_DATA")
    if env and all((Path(env) / f"{n}.gz").is_file() for n in NAMES):
        (root / "real").mkdir()
        for name in NAMES:
            shutil.copyfile(Path(env) / f"{name}.gz", root / "real" / f"{name}.gz")
    return root


@pytest.fixture(scope="module")
def server(served: Path):
    """A threaded HTTP server on 127.0.0.1; yields its base URL."""
    handler = functools.partial(_Handler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base_url(server) -> str:
    server.requests.clear()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def fake_sums(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make the module accept the fake files (and only them)."""
    sums = {name: hashlib.sha256(c).hexdigest() for name, c in fake_contents().items()}
    for name, digest in sums.items():
        monkeypatch.setitem(datasets.SHA256, name, digest)
    return sums


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a local port nobody listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -------------------------------------------------------------------- tests


def test_download_real_files_then_load_offline(served: Path, base_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if not (served / "real").is_dir():
        pytest.skip("GRADCORE_DATA is not set to a folder with the four real MNIST .gz files")
    cache = tmp_path / "cache"
    result = download_mnist(cache, mirrors=[f"{base_url}/real/"], timeout=TIMEOUT)
    assert result == cache
    assert _files(cache) == sorted(f"{n}.gz" for n in NAMES)
    for name in NAMES:
        assert (cache / f"{name}.gz").read_bytes() == (served / "real" / f"{name}.gz").read_bytes()

    # Everything is local now: no network, no $GRADCORE_DATA.
    env = os.environ["GRADCORE_DATA"]
    monkeypatch.delenv("GRADCORE_DATA")
    monkeypatch.setattr(datasets, "MIRRORS", ("http://127.0.0.1:9/unreachable/",))
    monkeypatch.setattr(datasets, "download_mnist",
                        lambda *a, **k: pytest.fail("unexpected download"))
    data = load_mnist(cache_dir=cache, download=True)
    assert data.directory == cache
    assert data.training[0].shape == (50_000, 784)
    np.testing.assert_array_equal(
        data.test[1], datasets.read_idx(Path(env) / "t10k-labels-idx1-ubyte.gz"))


def test_good_download_with_fake_files(base_url: str, fake_sums, tmp_path: Path,
                                       server) -> None:
    cache = tmp_path / "deep" / "cache"
    download_mnist(cache, mirrors=[f"{base_url}/fake"], timeout=TIMEOUT)
    assert _files(cache) == sorted(f"{n}.gz" for n in NAMES)
    assert sorted(server.requests) == sorted(f"/fake/{n}.gz" for n in NAMES)
    # A second call finds everything and makes no request.
    server.requests.clear()
    assert download_mnist(cache, mirrors=[f"{base_url}/fake"], timeout=TIMEOUT) == cache
    assert server.requests == []


def test_load_mnist_downloads_into_cache_once(base_url: str, fake_sums, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, server) -> None:
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    monkeypatch.setattr(datasets, "MIRRORS", (f"{base_url}/fake/",))
    cache = tmp_path / "cache"
    monkeypatch.setattr(datasets, "default_cache_dir", lambda: cache)
    data = load_mnist()
    assert data.directory == cache
    assert data.training[0].shape == (50_000, 4)
    assert data.validation[0].shape == (3, 4)
    assert len(server.requests) == 4
    expected = np.frombuffer(fake_contents()["t10k-labels-idx1-ubyte"][8:], dtype=np.uint8)
    np.testing.assert_array_equal(data.test[1], expected)
    server.requests.clear()
    load_mnist()
    assert server.requests == []


def test_only_missing_files_are_downloaded(base_url: str, fake_sums, tmp_path: Path,
                                           served: Path, server) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(served / "fake" / "train-images-idx3-ubyte.gz",
                    cache / "train-images-idx3-ubyte.gz")
    (cache / "t10k-labels-idx1-ubyte").write_bytes(fake_contents()["t10k-labels-idx1-ubyte"])
    download_mnist(cache, mirrors=[f"{base_url}/fake/"], timeout=TIMEOUT)
    assert sorted(server.requests) == ["/fake/t10k-images-idx3-ubyte.gz",
                                       "/fake/train-labels-idx1-ubyte.gz"]
    assert datasets._missing(cache) == []


@pytest.mark.parametrize("mode", ["corrupt", "html"])
def test_corrupt_download_leaves_nothing(base_url: str, fake_sums, tmp_path: Path,
                                         mode: str) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(cache, mirrors=[f"{base_url}/{mode}/"], timeout=TIMEOUT)
    assert _files(cache) == []  # no file, no temporary file
    message = str(info.value)
    assert f"{base_url}/{mode}/train-images-idx3-ubyte.gz" in message
    expected = "checksum" if mode == "corrupt" else "not an IDX file|checksum"
    assert any(word in message for word in expected.split("|"))


def test_dropped_connection_leaves_nothing(base_url: str, fake_sums, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(cache, mirrors=[f"{base_url}/drop/"], timeout=TIMEOUT)
    assert time.monotonic() - start < TIMEOUT  # detected at once, not by timing out
    assert _files(cache) == []
    assert len(info.value.attempts) == 1
    url, reason = info.value.attempts[0]
    assert url == f"{base_url}/drop/train-images-idx3-ubyte.gz"
    assert re.search("IncompleteRead|Connection broken|checksum|gzip", reason), reason


def test_content_encoding_gzip_is_stored_decompressed(base_url: str, fake_sums,
                                                      tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    download_mnist(cache, mirrors=[f"{base_url}/encoded/"], timeout=TIMEOUT)
    # The client undid the transfer encoding: the files are stored as plain IDX.
    assert _files(cache) == sorted(NAMES)
    assert load_mnist(cache).test[0].shape == (5, 4)


@pytest.mark.parametrize("first", ["closed port", "404"])
def test_first_mirror_down_second_good(base_url: str, fake_sums, tmp_path: Path,
                                       closed_port_url: str, first: str, server) -> None:
    bad = closed_port_url if first == "closed port" else f"{base_url}/missing/"
    cache = tmp_path / "cache"
    download_mnist(cache, mirrors=[bad, f"{base_url}/fake/"], timeout=TIMEOUT)
    assert _files(cache) == sorted(f"{n}.gz" for n in NAMES)
    good_requests = [r for r in server.requests if r.startswith("/fake/")]
    assert len(good_requests) == 4
    if first == "404":
        assert len([r for r in server.requests if r.startswith("/missing/")]) == 4


def test_bad_mirror_then_corrupt_then_good(base_url: str, fake_sums, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mirrors = [f"{base_url}/drop/", f"{base_url}/corrupt/", f"{base_url}/fake/"]
    download_mnist(cache, mirrors=mirrors, timeout=TIMEOUT)
    assert _files(cache) == sorted(f"{n}.gz" for n in NAMES)
    assert load_mnist(cache).training[1].shape == (50_000,)


def test_all_mirrors_down(base_url: str, fake_sums, tmp_path: Path,
                          closed_port_url: str) -> None:
    cache = tmp_path / "cache"
    mirrors = [closed_port_url, f"{base_url}/missing/"]
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(cache, mirrors=mirrors, timeout=TIMEOUT)
    err = info.value
    assert isinstance(err, (OSError, RuntimeError))
    assert [url for url, _ in err.attempts] == [
        f"{closed_port_url}train-images-idx3-ubyte.gz",
        f"{base_url}/missing/train-images-idx3-ubyte.gz",
    ]
    message = str(err)
    for needle in (closed_port_url, f"{base_url}/missing/", "404", str(cache),
                   "path=", "$GRADCORE_DATA", "gradcore download --dir DIR"):
        assert needle in message, needle
    assert _files(cache) == []


def test_load_mnist_reports_download_failure(tmp_path: Path, fake_sums,
                                             monkeypatch: pytest.MonkeyPatch,
                                             closed_port_url: str) -> None:
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    monkeypatch.setattr(datasets, "MIRRORS", (closed_port_url,))
    with pytest.raises(MNISTDownloadError, match="GRADCORE_DATA"):
        load_mnist(cache_dir=tmp_path / "cache")


def test_no_mirrors_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mirror"):
        download_mnist(tmp_path, mirrors=[])


def test_default_mirrors_are_https_constants() -> None:
    assert len(datasets.MIRRORS) >= 2
    assert all(url.startswith("https://") for url in datasets.MIRRORS)
    assert any("ossci-datasets" in url for url in datasets.MIRRORS)
