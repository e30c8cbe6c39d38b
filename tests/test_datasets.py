"""Tests for gradcore.datasets: IDX reading, checksums, splits, embedded images."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from gradcore import datasets
from gradcore.datasets import MNISTChecksumError, load_mnist, mnist_first_1000, read_idx

NAMES = datasets.FILENAMES
# SHA-256 of the raw label bytes of the first 1,000 training images.
FIRST_1000_LABELS_SHA256 = "b03ead2884240483d956c7feac7a9b39d28685062da0a980bb73d2196dc506b8"
FIRST_1000_IMAGES_SHA256 = "2304e0137aea1f236247daacc2dcaf275996895e40c4bb0760c448434d361d1a"
FIRST_1000_LABEL_COUNTS = [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]

_IDX_CODES = {
    np.dtype("u1"): 0x08,
    np.dtype("i1"): 0x09,
    np.dtype("i2"): 0x0B,
    np.dtype("i4"): 0x0C,
    np.dtype("f4"): 0x0D,
    np.dtype("f8"): 0x0E,
}


# ----------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode an array as an (uncompressed) IDX file."""
    arr = np.asarray(arr)
    code = _IDX_CODES[arr.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_fake_mnist(folder: Path, *, n_train: int = 50_005, n_test: int = 7, seed: int = 0,
                     gz: bool = True) -> dict[str, str]:
    """Write four small, valid IDX files with 2x2 images; return their SHA-256s."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 2, 2), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 2, 2), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        sums[name] = hashlib.sha256(data).hexdigest()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return sums


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    env = os.environ.get("GRADCORE_DATA")
    if not env:
        pytest.skip("GRADCORE_DATA is not set: no folder with the real MNIST IDX files")
    folder = Path(env)
    missing = [n for n in NAMES
               if not (folder / f"{n}.gz").is_file() and not (folder / n).is_file()]
    if missing:
        pytest.skip(f"GRADCORE_DATA={folder} lacks the MNIST files {missing}")
    return folder


def _real(folder: Path, name: str) -> Path:
    path = folder / name
    return path if path.is_file() else folder / f"{name}.gz"


@pytest.fixture(scope="module")
def real_mnist(mnist_dir: Path) -> datasets.MNIST:
    return load_mnist(mnist_dir)


@pytest.fixture(scope="module")
def real_train_raw(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return (read_idx(_real(mnist_dir, "train-images-idx3-ubyte")),
            read_idx(_real(mnist_dir, "train-labels-idx1-ubyte")))


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of small fake MNIST files whose checksums the module accepts."""
    folder = tmp_path / "fake"
    for name, digest in write_fake_mnist(folder).items():
        monkeypatch.setitem(datasets.SHA256, name, digest)
    return folder


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("load_mnist must not download here")

    monkeypatch.setattr(datasets, "download_mnist", forbidden)


# ------------------------------------------------------------------ read_idx


def test_read_idx_real_gzipped(mnist_dir: Path, real_train_raw) -> None:
    images, labels = real_train_raw
    assert images.dtype == np.uint8 and images.shape == (60_000, 28, 28)
    assert labels.dtype == np.uint8 and labels.shape == (60_000,)
    assert labels.min() == 0 and labels.max() == 9
    assert images.flags.writeable and images.flags.c_contiguous
    test_images = read_idx(_real(mnist_dir, "t10k-images-idx3-ubyte"))
    test_labels = read_idx(_real(mnist_dir, "t10k-labels-idx1-ubyte"))
    assert test_images.shape == (10_000, 28, 28)
    assert test_labels.shape == (10_000,)
    # Well-known first digits of each set.
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_read_idx_uncompressed_copy_and_name_independence(mnist_dir: Path, tmp_path: Path) -> None:
    source = _real(mnist_dir, "t10k-images-idx3-ubyte")
    expected = read_idx(source)
    with open(source, "rb") as fh:
        raw = fh.read()
    content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    plain = tmp_path / "t10k-images-idx3-ubyte"
    plain.write_bytes(content)
    np.testing.assert_array_equal(read_idx(plain), expected)

    # Compression is recognised by its magic bytes, not by the suffix.
    misnamed_plain = tmp_path / "plain-but-called.gz"
    misnamed_plain.write_bytes(content)
    misnamed_gzip = tmp_path / "gzip-without-suffix"
    misnamed_gzip.write_bytes(gzip.compress(content, compresslevel=1))
    np.testing.assert_array_equal(read_idx(misnamed_plain), expected)
    np.testing.assert_array_equal(read_idx(misnamed_gzip), expected)


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", "<i4", "f4", "f8"])
def test_read_idx_type_codes_roundtrip(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(arr))
    out = read_idx(str(path))
    assert out.shape == (3, 4, 5)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


_GOOD_LABELS = idx_bytes(np.arange(10, dtype=np.uint8))
_GOOD_IMAGES = idx_bytes(np.zeros((4, 3, 3), dtype=np.uint8))

MALFORMED = {
    "empty": b"",
    "three bytes": b"\x00\x00\x08",
    "bad magic": b"\x12\x34\x08\x01" + _GOOD_LABELS[4:],
    "unknown type code": b"\x00\x00\x07\x01" + _GOOD_LABELS[4:],
    "zero dimensions": b"\x00\x00\x08\x00",
    "truncated header": _GOOD_IMAGES[:10],
    "truncated data": _GOOD_IMAGES[:-1],
    "trailing bytes": _GOOD_LABELS + b"\x00",
    "labels claim too many": b"\x00\x00\x08\x01" + struct.pack(">I", 11) + bytes(10),
    "truncated gzip": gzip.compress(_GOOD_IMAGES)[:-12],
    "corrupt gzip": b"\x1f\x8b" + b"\xff" * 40,
}


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_read_idx_malformed_raises_valueerror_naming_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken-file-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken-file-idx1-ubyte"):
        read_idx(path)


def test_read_idx_truncated_real_gzip(mnist_dir: Path, tmp_path: Path) -> None:
    raw = _real(mnist_dir, "t10k-labels-idx1-ubyte").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)[:2000])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz"):
        read_idx(path)


def test_bytes_paths_are_accepted(fake_mnist: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    folder = os.fsencode(fake_mnist)
    assert load_mnist(folder).directory == fake_mnist
    assert load_mnist(cache_dir=folder, download=False).directory == fake_mnist
    labels = os.fsencode(fake_mnist / "t10k-labels-idx1-ubyte.gz")
    assert read_idx(labels).shape == (7,)
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x07\x01")
    with pytest.raises(ValueError) as info:
        read_idx(os.fsencode(bad))
    assert str(info.value).startswith(f"{bad}: ")  # the path as text, never b'...'
    # Nothing is missing: no mirror is contacted.
    assert datasets.download_mnist(folder, mirrors=["http://127.0.0.1:9/"]) == fake_mnist


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_read_idx_header_sizes_beyond_int64(tmp_path: Path, gz: bool) -> None:
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 4)
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(gzip.compress(header) if gz else header)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: IDX header declares shape "
                                      f"(2147483648, 2147483648, 4) of uint8: "
                                      f"{2**64} bytes of data, more than the limit")


def test_read_idx_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(_GOOD_LABELS)
    with pytest.raises(ValueError, match="10 bytes of data, more than the limit of 9 bytes"):
        read_idx(path, max_bytes=9)
    assert read_idx(path, max_bytes=10).tolist() == list(range(10))
    assert datasets.MAX_IDX_BYTES == 1 << 30


_LIMITED_READS = textwrap.dedent("""
    import json
    import resource
    import sys

    limit = 512 << 20  # half of what the bombs unpack to
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from gradcore import datasets

    results = []
    for call, path in zip(sys.argv[1::2], sys.argv[2::2]):
        try:
            if call == "read_idx":
                datasets.read_idx(path)
            else:
                datasets.load_mnist(path, download=False)
            results.append("no error")
        except Exception as exc:
            results.append(f"{type(exc).__name__}: {exc}")
    # VmHWM, not ru_maxrss: that one starts from the parent's peak, kept across exec
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    results.append(peak_kb / 1024)
    print(json.dumps(results))
""")


def _in_limited_child(cwd: Path, *calls: tuple[str, object]) -> tuple[list[str], float]:
    """Run read_idx(path) or load_mnist(path) for each (name, path) in a child process
    limited to 512 MB of address space; return what each raised and its peak RSS in MB.
    """
    args = [str(arg) for call in calls for arg in call]
    out = subprocess.run([sys.executable, "-c", _LIMITED_READS, *args], capture_output=True,
                         text=True, cwd=cwd, timeout=60)  # all of it takes about a second
    assert out.returncode == 0, out.stderr
    *results, peak_mb = json.loads(out.stdout)
    return results, peak_mb


def _gzip_of_zeros(path: Path, head: bytes, n_zeros: int) -> Path:
    """Write ``head`` and ``n_zeros`` zero bytes gzipped to ``path``, a MiB at a time."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    with open(path, "wb") as fh:
        fh.write(compressor.compress(head))
        for _ in range(n_zeros // len(zeros)):
            fh.write(compressor.compress(zeros))
        fh.write(compressor.flush())
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 MB that gunzip to the header of MNIST's training images and 1 GiB of zeros."""
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 60_000, 28, 28)
    folder = tmp_path_factory.mktemp("bomb")
    return _gzip_of_zeros(folder / "train-images-idx3-ubyte.gz", header, 1 << 30)


@pytest.mark.memory_limits
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc of Linux")
def test_gzip_bomb_is_read_no_further_than_its_header(bomb: Path, tmp_path: Path) -> None:
    assert bomb.stat().st_size < 6_000_000
    folder = tmp_path / "mnist"
    write_fake_mnist(folder)
    (folder / bomb.name).unlink()
    (folder / bomb.name).symlink_to(bomb)
    results, peak_mb = _in_limited_child(tmp_path, ("read_idx", bomb), ("load_mnist", folder))
    for result, path in zip(results, (bomb, folder / bomb.name)):
        assert result.startswith(f"ValueError: {path}: IDX data has trailing bytes: header "
                                 f"says shape (60000, 28, 28) of uint8 (47040000 bytes) but "
                                 f"the file holds more than 47040000 bytes"), result
    assert peak_mb < 250, f"{peak_mb:.0f} MB for 47 MB of data"


@pytest.mark.memory_limits
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS, /dev/zero and FIFOs of Linux")
def test_special_files_are_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    folder = tmp_path / "mnist"
    write_fake_mnist(folder)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    (folder / fifo.name).symlink_to(fifo)
    results, _ = _in_limited_child(tmp_path, ("read_idx", "/dev/zero"), ("read_idx", fifo),
                                   ("load_mnist", folder), ("read_idx", tmp_path))
    kinds = ["a character device", "a FIFO (named pipe)", "a FIFO (named pipe)",
             "a directory"]
    paths = ["/dev/zero", fifo, folder / fifo.name, tmp_path]
    for result, kind, path in zip(results, kinds, paths):
        assert result.startswith("OSError: " if kind != "a directory" else
                                 "IsADirectoryError: "), result
        assert f"is {kind}, not a regular file: '{path}'" in result


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ---------------------------------------------------------------- load_mnist


def test_load_mnist_splits(real_mnist: datasets.MNIST, real_train_raw, mnist_dir: Path) -> None:
    images, labels = real_train_raw
    expected_sizes = {"training": 50_000, "validation": 10_000, "test": 10_000}
    for split, n in expected_sizes.items():
        X, y = getattr(real_mnist, split)
        assert X.shape == (n, 784), split
        assert y.shape == (n,), split
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert X.ctypes.data % 64 == 0 and X.flags.c_contiguous, split  # read fastest so
        assert X.min() >= 0.0 and X.max() < 1.0
        assert X.max() == 255 / 256  # byte/256, like the book's mnist.pkl.gz
        assert set(np.unique(y).tolist()) == set(range(10))

    flat = images.reshape(60_000, 784)
    X_val, y_val = real_mnist.validation
    np.testing.assert_array_equal(X_val, flat[50_000:] / 256.0)
    np.testing.assert_array_equal(y_val, labels[50_000:])
    X_tr, y_tr = real_mnist.training
    np.testing.assert_array_equal(X_tr[:100], flat[:100] / 256.0)
    np.testing.assert_array_equal(X_tr[-1], flat[49_999] / 256.0)
    np.testing.assert_array_equal(y_tr, labels[:50_000])
    _, y_te = real_mnist.test
    test_labels = read_idx(_real(mnist_dir, "t10k-labels-idx1-ubyte"))
    np.testing.assert_array_equal(y_te, test_labels)
    assert real_mnist.directory == mnist_dir


def test_mnist_dataclass_is_frozen_with_short_repr(real_mnist: datasets.MNIST) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        real_mnist.training = real_mnist.test  # type: ignore[misc]
    text = repr(real_mnist)
    assert "training=50000" in text and "test=10000" in text
    assert len(text) < 300


def test_load_mnist_accepts_recompressed_and_uncompressed(mnist_dir: Path, tmp_path: Path,
                                                           real_mnist: datasets.MNIST,
                                                           no_download) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        src = _real(mnist_dir, name)
        os.symlink(src, folder / src.name)
    raw_images = _real(mnist_dir, "t10k-images-idx3-ubyte").read_bytes()
    raw_labels = _real(mnist_dir, "t10k-labels-idx1-ubyte").read_bytes()
    # One recompressed with other settings, one stored uncompressed.
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(gzip.decompress(raw_images), compresslevel=1, mtime=12345))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(raw_labels))
    data = load_mnist(folder, dtype=np.float32)
    assert data.test[0].dtype == np.float32
    np.testing.assert_array_equal(data.test[0], real_mnist.test[0].astype(np.float32))
    np.testing.assert_array_equal(data.test[1], real_mnist.test[1])


def test_wrong_checksum_is_refused(mnist_dir: Path, tmp_path: Path, no_download) -> None:
    folder = tmp_path / "tampered"
    folder.mkdir()
    for name in NAMES[:3]:
        src = _real(mnist_dir, name)
        os.symlink(src, folder / src.name)
    raw = _real(mnist_dir, "t10k-labels-idx1-ubyte").read_bytes()
    content = bytearray(gzip.decompress(raw))
    content[100] = (content[100] + 1) % 10  # still a perfectly valid IDX file
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(content)))
    actual = hashlib.sha256(bytes(content)).hexdigest()

    with pytest.raises(MNISTChecksumError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert datasets.SHA256["t10k-labels-idx1-ubyte"] in message
    assert actual in message
    assert isinstance(info.value, ValueError)


def test_published_checksum_tables_are_consistent(mnist_dir: Path) -> None:
    assert set(datasets.MD5) == set(datasets.SHA256) == set(NAMES)
    # The label files are small: check both published digests against the real data.
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        raw = _real(mnist_dir, name).read_bytes()
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        assert hashlib.md5(content).hexdigest() == datasets.MD5[name]
        assert hashlib.sha256(content).hexdigest() == datasets.SHA256[name]


def test_fake_folder_float32_and_env_var(fake_mnist: Path, monkeypatch: pytest.MonkeyPatch,
                                         no_download) -> None:
    monkeypatch.setenv("GRADCORE_DATA", str(fake_mnist))
    data = load_mnist(dtype=np.float32)
    assert data.directory == fake_mnist
    assert data.training[0].shape == (50_000, 4)
    assert data.validation[0].shape == (5, 4)
    assert data.test[0].shape == (7, 4)
    assert data.training[0].dtype == np.float32
    raw = read_idx(fake_mnist / "train-images-idx3-ubyte.gz").reshape(-1, 4)
    np.testing.assert_array_equal(data.validation[0], (raw[50_000:] / 256).astype(np.float32))


def test_path_argument_wins_over_env(fake_mnist: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, no_download) -> None:
    monkeypatch.setenv("GRADCORE_DATA", str(tmp_path / "does-not-exist"))
    assert load_mnist(fake_mnist).directory == fake_mnist


def test_explicit_folder_missing_a_file_is_an_error(fake_mnist: Path, no_download) -> None:
    (fake_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte") as info:
        load_mnist(fake_mnist, download=True)
    assert "train-images" not in str(info.value).split("(gzipped")[0]


def test_env_folder_missing_files_does_not_download(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    no_download) -> None:
    monkeypatch.setenv("GRADCORE_DATA", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"\$GRADCORE_DATA"):
        load_mnist()


def test_offline_with_nothing_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       no_download) -> None:
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr(datasets, "default_cache_dir", lambda: cache)
    for kwargs in ({}, {"cache_dir": tmp_path / "other-cache"}):
        with pytest.raises(FileNotFoundError) as info:
            load_mnist(download=False, **kwargs)
        message = str(info.value)
        assert str(kwargs.get("cache_dir", cache)) in message
        assert "download=False" in message
        assert "path=" in message
        assert "$GRADCORE_DATA" in message
        assert "gradcore download --dir DIR" in message
        assert "train-images-idx3-ubyte" in message
    assert not cache.exists()


def test_cache_dir_is_used_when_complete(fake_mnist: Path, monkeypatch: pytest.MonkeyPatch,
                                         no_download) -> None:
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    data = load_mnist(cache_dir=fake_mnist, download=False)
    assert data.directory == fake_mnist
    assert len(data.test[1]) == 7


def test_dtypes_gradcore_does_not_compute_in_are_rejected(fake_mnist: Path) -> None:
    # the same rule as Network(dtype=...): the data comes in a dtype a network can take
    for dtype in (np.int32, np.float16, np.longdouble):
        with pytest.raises(TypeError, match="dtype must be float64 or float32"):
            load_mnist(fake_mnist, dtype=dtype)
    with pytest.raises(TypeError, match="dtype must be float64 or float32"):
        mnist_first_1000(dtype=np.uint8)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = datasets.default_cache_dir()
    assert isinstance(path, Path)
    assert path.name == "gradcore"
    assert "~" not in str(path)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert datasets.default_cache_dir() == tmp_path / "gradcore"


# ----------------------------------------------------------- embedded images


def test_mnist_first_1000_values() -> None:
    X, y = mnist_first_1000()
    assert X.shape == (1000, 784) and X.dtype == np.float64
    assert y.shape == (1000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 255 / 256
    raw = np.round(X * 256)
    np.testing.assert_array_equal(raw / 256, X)  # exactly byte/256
    assert hashlib.sha256(raw.astype(np.uint8).tobytes()).hexdigest() == FIRST_1000_IMAGES_SHA256
    assert hashlib.sha256(y.astype(np.uint8).tobytes()).hexdigest() == FIRST_1000_LABELS_SHA256
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y, minlength=10).tolist() == FIRST_1000_LABEL_COUNTS


def test_mnist_first_1000_returns_fresh_arrays() -> None:
    X1, y1 = mnist_first_1000(np.float32)
    assert X1.dtype == np.float32
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = mnist_first_1000()
    assert X2.min() == 0.0 and y2.min() == 0


def test_mnist_first_1000_equals_real_file(real_train_raw) -> None:
    images, labels = real_train_raw
    X, y = mnist_first_1000()
    np.testing.assert_array_equal(X, images[:1000].reshape(1000, 784) / 256.0)
    np.testing.assert_array_equal(y, labels[:1000])


def test_mnist_first_1000_matches_load_mnist(real_mnist: datasets.MNIST) -> None:
    X, y = mnist_first_1000()
    np.testing.assert_array_equal(X, real_mnist.training[0][:1000])
    np.testing.assert_array_equal(y, real_mnist.training[1][:1000])


def test_embedded_files_small_and_credited() -> None:
    data_dir = Path(datasets.__file__).parent / "data"
    npz = data_dir / "mnist_first_1000.npz"
    assert npz.stat().st_size < 1_000_000
    with np.load(npz, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["images", "labels"]
        assert archive["images"].dtype == np.uint8 and archive["images"].shape == (1000, 784)
        assert archive["labels"].dtype == np.uint8 and archive["labels"].shape == (1000,)
    text = (data_dir / "MNIST-LICENSE.txt").read_text(encoding="utf-8")
    for needle in ("Yann LeCun", "Corinna Cortes", "CC BY-SA 3.0", "first 1,000"):
        assert needle in text
    assert "CC BY-SA 3.0" in datasets.__doc__ and "LeCun" in datasets.__doc__


def test_rebuild_script_reproduces_embedded_arrays(mnist_dir: Path, tmp_path: Path) -> None:
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "tools" / "make_embedded_mnist.py"
    spec = importlib.util.spec_from_file_location("make_embedded_mnist", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "rebuilt.npz"
    assert module.main([str(mnist_dir), "-o", str(out), "-n", "1000"]) == 0
    X, y = mnist_first_1000()
    with np.load(out, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["images"] / 256.0, X)
        np.testing.assert_array_equal(archive["labels"], y)

