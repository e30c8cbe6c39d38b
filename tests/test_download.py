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
* ``/bomb/``     1 MB of gzip that unpacks to an MNIST header and 1 GiB of zeros;
* ``/encoded-bomb/`` the same sent with ``Content-Encoding: gzip``;
* ``/endless/``  zeros without ``Content-Length``, until the client hangs up
                 (or 256 MiB);
* ``/stall/``    half of each fake archive, then nothing until the test says so;
* ``/slow/``     each fake archive a byte every 0.1 s (never a read timeout), for at most
                 60 s;
* anything else  404.

No test contacts the real mirrors.
"""

from __future__ import annotations

import collections
import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gradcore import datasets
from gradcore.datasets import MNISTDownloadError, download_mnist, load_mnist

NAMES = datasets.FILENAMES
TIMEOUT = 5.0  # seconds; every request here is local
ENDLESS_CAP = 256 << 20  # an endless stream ends here, so a client without limit ends too
SLOW_BYTES = 600  # a slow stream ends after 60 s, so a client without deadline ends too


# ----------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX file."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def bomb_bytes() -> bytes:
    """1 MB of gzip members that unpack to the header of MNIST's training images followed
    by 1 GiB of zeros (one member of 1 MiB of zeros, 1024 times)."""
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 60_000, 28, 28)
    return gzip.compress(header, mtime=0) + gzip.compress(bytes(1 << 20), mtime=0) * 1024


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

    def _send_endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        zeros = bytes(1 << 16)
        sent = self.server.sent  # type: ignore[attr-defined]
        try:
            while sent[self.path] < ENDLESS_CAP:
                self.wfile.write(zeros)
                sent[self.path] += len(zeros)
        except OSError:  # the client hung up
            pass
        self.close_connection = True

    def _send_stalled(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.server.stalled.set()  # type: ignore[attr-defined]
        self.server.release.wait(60)  # type: ignore[attr-defined]
        self.close_connection = True

    def _send_slowly(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        try:
            for i in range(min(len(body), SLOW_BYTES)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client hung up
            pass
        self.close_connection = True

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        mode, _, name = self.path.lstrip("/").partition("/")
        fake = Path(self.directory) / "fake" / name
        bomb = Path(self.directory) / "bomb" / name
        if mode == "drop" and fake.is_file():
            body = fake.read_bytes()
            self._send_body(body[: len(body) // 2], length=len(body))
            self.close_connection = True
        elif mode == "html" and name.endswith(".gz"):
            self._send_body(b"<html><body>Moved to a new home!</body></html>\n")
        elif mode == "encoded" and fake.is_file():
            self._send_body(fake.read_bytes(), headers={"Content-Encoding": "gzip"})
        elif mode == "encoded-bomb" and bomb.is_file():
            self._send_body(bomb.read_bytes(), headers={"Content-Encoding": "gzip"})
        elif mode == "endless" and name in {f"{n}.gz" for n in NAMES}:
            self._send_endless()
        elif mode == "slow" and fake.is_file():
            self._send_slowly(fake.read_bytes())
        elif mode == "stall" and fake.is_file():
            self._send_stalled(fake.read_bytes())
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the server serves, with its sub-folders filled once."""
    root = tmp_path_factory.mktemp("served")
    (root / "fake").mkdir()
    (root / "corrupt").mkdir()
    (root / "bomb").mkdir()
    (root / "bomb" / "train-images-idx3-ubyte.gz").write_bytes(bomb_bytes())
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
    httpd.sent = collections.Counter()  # type: ignore[attr-defined]
    httpd.stalled = threading.Event()  # type: ignore[attr-defined]
    httpd.release = threading.Event()  # type: ignore[attr-defined]
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


_LIMIT = datasets._DATA_BYTES["train-images-idx3-ubyte"] * 65 // 64 + (1 << 16)


@pytest.mark.parametrize("mode, reason", [
    ("bomb", "IDX data has trailing bytes: header says shape (60000, 28, 28) of uint8 "
             "(47040000 bytes) but the file holds more than 47040000 bytes of data"),
    ("encoded-bomb", f"more than {_LIMIT} bytes received"),
    ("endless", f"more than {_LIMIT} bytes received"),
])
def test_hostile_mirror_costs_bounded_memory_and_disk(base_url: str, tmp_path: Path, server,
                                                      mode: str, reason: str) -> None:
    cache = tmp_path / "cache"
    url = f"{base_url}/{mode}/train-images-idx3-ubyte.gz"
    tracemalloc.start()
    try:
        with pytest.raises(MNISTDownloadError) as info:
            download_mnist(cache, mirrors=[f"{base_url}/{mode}/"], timeout=TIMEOUT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [(attempted, why)] = info.value.attempts
    assert attempted == url and url in str(info.value)
    assert reason in why, why
    assert peak < 150 << 20, f"{peak >> 20} MB"  # the bomb unpacks to 1 GiB
    assert _files(cache) == []
    if mode == "endless":  # the client hung up long before the stream's end
        assert 0 < server.sent[f"/{mode}/train-images-idx3-ubyte.gz"] < ENDLESS_CAP // 2


_KILLED_DOWNLOAD = textwrap.dedent("""
    import sys

    from gradcore.datasets import download_mnist

    download_mnist(sys.argv[1], mirrors=[sys.argv[2]], timeout=60)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and pids of POSIX")
def test_download_killed_midway_leaves_nothing_for_long(base_url: str, fake_sums,
                                                        tmp_path: Path, server) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    server.stalled.clear()
    server.release.clear()
    child = subprocess.Popen([sys.executable, "-c", _KILLED_DOWNLOAD, str(cache),
                              f"{base_url}/stall/"], cwd=tmp_path)
    try:
        assert server.stalled.wait(60), "the child never asked for a file"
        [partial] = _files(cache)  # created before the request was sent
        assert str(child.pid) in partial
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        server.release.set()
    download_mnist(cache, mirrors=[f"{base_url}/fake/"], timeout=TIMEOUT)
    assert _files(cache) == sorted(f"{n}.gz" for n in NAMES)


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


def test_failed_download_removes_only_folders_it_made(tmp_path: Path,
                                                     closed_port_url: str) -> None:
    def fail(folder: Path) -> None:
        with pytest.raises(MNISTDownloadError):
            download_mnist(folder, mirrors=[closed_port_url], timeout=TIMEOUT)

    fail(tmp_path / "made" / "for" / "it")
    assert os.listdir(tmp_path) == []
    existing = tmp_path / "existing"
    existing.mkdir()
    fail(existing / "sub")
    fail(existing)
    assert os.listdir(tmp_path) == ["existing"]
    assert os.listdir(existing) == []


def test_failed_download_keeps_the_files_it_got(base_url: str, fake_sums, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(datasets.SHA256, NAMES[1], "0" * 64)
    cache = tmp_path / "new" / "cache"
    with pytest.raises(MNISTDownloadError, match=NAMES[1]):
        download_mnist(cache, mirrors=[f"{base_url}/fake/"], timeout=TIMEOUT)
    assert _files(cache) == [f"{NAMES[0]}.gz"]


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


def test_a_mirror_that_sends_a_byte_now_and_then_is_given_up_at_the_deadline(
        base_url: str, fake_sums, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"{base_url}/slow/train-images-idx3-ubyte.gz"
    start = time.monotonic()
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(cache, mirrors=[f"{base_url}/slow/"], timeout=TIMEOUT, deadline=1.5)
    elapsed = time.monotonic() - start
    # a read never waited TIMEOUT: only the deadline ended it (the stream lasts 60 s)
    assert 1.5 <= elapsed < 1.5 + TIMEOUT, elapsed
    [(attempted, why)] = info.value.attempts
    assert attempted == url and "deadline of 1.5 s" in why, why
    assert not info.value.unreachable
    line = next(x for x in str(info.value).splitlines() if url in x)
    assert "deadline of 1.5 s" in line
    assert _files(cache) == []


def test_the_deadline_is_a_positive_number(tmp_path: Path) -> None:
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="deadline"):
            download_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], deadline=bad)


def test_mirrors_that_cannot_be_reached_are_told_apart_from_a_mirror_that_answers(
        base_url: str, tmp_path: Path, closed_port_url: str) -> None:
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(tmp_path / "a", mirrors=[closed_port_url, closed_port_url + "b/"],
                       timeout=TIMEOUT)
    assert info.value.unreachable
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(tmp_path / "b", mirrors=[closed_port_url, f"{base_url}/missing/"],
                       timeout=TIMEOUT)
    assert not info.value.unreachable  # the second answered: 404


# ------------------------------------------------------------ the command line's report


def _short_report(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3 and all(len(x) < 100 for x in lines), lines
    return lines


def test_download_offline_says_so_in_three_short_lines_with_the_way_out(
        tmp_path: Path, closed_port_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gradcore.cli import main

    monkeypatch.setattr(datasets, "MIRRORS", (closed_port_url, "http://127.0.0.1:9/x/"))
    assert main(["download", "--dir", str(tmp_path / "d")]) == 1
    lines = _short_report(capsys.readouterr().err)
    assert lines[0] == ("gradcore download: error: no network, or the MNIST mirrors could "
                        "not be reached")
    assert f"{closed_port_url}train-images-idx3-ubyte.gz and 1 more" in lines[1]
    assert "GRADCORE_DATA=DIR" in lines[-1] and "--data" not in lines[-1]


@pytest.mark.parametrize("command", [["train", "--epochs", "1"],
                                     ["depth", "--epochs", "1", "--seeds", "1"]])
def test_train_and_depth_offline_name_the_data_option(
        tmp_path: Path, closed_port_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    from gradcore.cli import main

    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    monkeypatch.setattr(datasets, "MIRRORS", (closed_port_url,))
    monkeypatch.setattr(datasets, "default_cache_dir", lambda: tmp_path / "cache")
    assert main(command) == 1
    lines = _short_report(capsys.readouterr().err)
    assert lines[0].startswith(f"gradcore {command[0]}: error: no network")
    assert closed_port_url in lines[1]
    assert "--data DIR or GRADCORE_DATA=DIR" in lines[-1]


def test_download_from_a_slow_mirror_is_reported_with_the_url_and_the_deadline(
        base_url: str, fake_sums, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gradcore.cli import main

    monkeypatch.setattr(datasets, "MIRRORS", (f"{base_url}/slow/",))
    assert main(["download", "--dir", str(tmp_path / "d"), "--deadline", "1"]) == 1
    err = capsys.readouterr().err  # after the progress bar
    lines = err[err.index("gradcore download: error:"):].strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == ("gradcore download: error: could not download "
                        "train-images-idx3-ubyte.gz from any mirror:")
    assert lines[1].startswith(f"  {base_url}/slow/train-images-idx3-ubyte.gz: ")
    assert "deadline of 1 s" in lines[1]


@pytest.mark.parametrize("command", ["download", "train"])
def test_the_offline_report_of_the_default_mirrors_fits_in_short_lines(command: str) -> None:
    import argparse

    from gradcore.cli import _download_failed

    attempts = [(f"{base}{name}.gz", "ConnectionError: Max retries exceeded " + "x" * 300)
                for base in datasets.MIRRORS for name in NAMES[:1]]
    exc = MNISTDownloadError("Could not download", attempts, unreachable=True)
    args = argparse.Namespace(data=None) if command == "train" else argparse.Namespace()
    lines = _short_report(_download_failed(f"gradcore {command}", exc, args))
    assert datasets.MIRRORS[0] in lines[1] and "GRADCORE_DATA=DIR" in lines[2]
