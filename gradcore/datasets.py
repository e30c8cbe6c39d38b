"""MNIST loading: IDX files, the embedded first 1,000 images, and a verified download.

MNIST is the database of handwritten digits by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges (http://yann.lecun.com/exdb/mnist/), distributed under
the Creative Commons Attribution-Share Alike 3.0 licence (CC BY-SA 3.0).
gradcore ships the first 1,000 training images and their labels, unchanged,
in ``gradcore/data/mnist_first_1000.npz`` under that licence (see
``gradcore/data/MNIST-LICENSE.txt``).

Three ways to get data:

* :func:`mnist_first_1000` -- the embedded images, always available offline.
  They are the ones the gradient experiments of chapter 5 of Nielsen's
  "Neural Networks and Deep Learning" use.
* :func:`load_mnist` -- the full data set with the book's splits, read from a
  folder of the four IDX files (an explicit ``path``, ``$GRADCORE_DATA`` or
  the user cache), downloading them into the cache once if needed.
* :func:`download_mnist` -- fetch the four files from public mirrors.

Every IDX file is checked against the SHA-256 of its *decompressed* bytes
(:data:`SHA256`), so gzipped and uncompressed copies, and archives recompressed
by someone else, are all accepted as long as their content is the original.
Files are read as streams, never further than their IDX header declares, and
only regular files are opened; downloads stop once a mirror sends more than
the file can be. Pixels are scaled as ``byte / 256``, exactly like the book's
``mnist.pkl.gz``, so they lie in ``[0, 255/256]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import importlib.resources
import io
import logging
import math
import os
import pathlib
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import DTypeLike

from ._files import create_temporary, open_regular
from ._layout import as_aligned
from ._validation import validated

__all__ = [
    "MNIST",
    "MNISTChecksumError",
    "MNISTDownloadError",
    "MIRRORS",
    "MD5",
    "SHA256",
    "FILENAMES",
    "MAX_IDX_BYTES",
    "default_cache_dir",
    "download_mnist",
    "load_mnist",
    "mnist_first_1000",
    "read_idx",
]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_log = logging.getLogger(__name__)

#: Base names of the four MNIST IDX files (without the ``.gz`` suffix).
FILENAMES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: MD5 of the decompressed files, as published by most MNIST loaders.
MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: SHA-256 of the decompressed files; this is what every file is verified against.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors serving ``<base>/<name>.gz`` for the four original archives,
#: tried in order.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Seconds to wait for a mirror to connect or to send more data.
DEFAULT_TIMEOUT: float = 30.0

#: Seconds one file may take from the request to its last byte (the largest, 9.9 MB, at
#: 17 kB/s): a mirror that sends a byte now and then never trips ``timeout``.
DEFAULT_DEADLINE: float = 600.0

_ENV_VAR = "GRADCORE_DATA"
_GZIP_MAGIC = b"\x1f\x8b"
_N_TRAIN = 50_000

#: Largest amount of IDX data :func:`read_idx` accepts by default (1 GiB).
MAX_IDX_BYTES: int = 1 << 30

# Bytes of data after the header of the four MNIST files: never more is read from them.
_DATA_BYTES: dict[str, int] = {
    "train-images-idx3-ubyte": 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 60_000,
    "t10k-images-idx3-ubyte": 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 10_000,
}
# Deflate expands at most 1032-fold: a bound on the content of a gzip file.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20

# IDX type code -> big-endian NumPy dtype.
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


class MNISTChecksumError(ValueError):
    """An MNIST file's decompressed content does not match the published checksum."""


class MNISTDownloadError(OSError):
    """No mirror delivered a verified copy of an MNIST file.

    Attributes
    ----------
    attempts : list of tuple of str
        ``(url, reason)`` for every failed attempt, in the order tried.
    unreachable : bool
        Whether no mirror could be reached at all (no network, a name that does not
        resolve, a refused connection, no answer within ``timeout``): every attempt
        failed before an answer came.
    """

    def __init__(self, message: str, attempts: Sequence[tuple[str, str]] = (),
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.attempts = list(attempts)
        self.unreachable = unreachable

    def __str__(self) -> str:
        return str(self.args[0])


@dataclasses.dataclass(frozen=True, eq=False)
class MNIST:
    """MNIST with the splits of "Neural Networks and Deep Learning".

    Attributes
    ----------
    training : tuple of ndarray
        ``(X, y)`` for the first 50,000 training images: ``X`` is float with
        shape (50000, 784) and values ``byte / 256``, ``y`` is int64 (50000,).
    validation : tuple of ndarray
        ``(X, y)`` for the last 10,000 training images.
    test : tuple of ndarray
        ``(X, y)`` for the 10,000 test (``t10k``) images.
    directory : pathlib.Path or None
        The folder the IDX files were read from.
    """

    training: tuple[np.ndarray, np.ndarray] = dataclasses.field(repr=False)
    validation: tuple[np.ndarray, np.ndarray] = dataclasses.field(repr=False)
    test: tuple[np.ndarray, np.ndarray] = dataclasses.field(repr=False)
    directory: pathlib.Path | None = None

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{name}={len(getattr(self, name)[1])}"
            for name in ("training", "validation", "test")
        )
        dtype = self.training[0].dtype
        return f"MNIST({parts}, dtype={dtype}, directory={self.directory!r})"


# --------------------------------------------------------------------------- IDX


@contextlib.contextmanager
def _idx_stream(path: str) -> Iterator[tuple[io.BufferedIOBase, int, bool]]:
    """Open the regular file ``path`` as a stream of its content, gunzipped if need be.

    Yields the stream, the file's size on disk and whether it starts with the gzip magic.
    """
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if fh.peek(2)[:2] != _GZIP_MAGIC:
            yield fh, size, False
        else:
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz, size, True


def _read_header(stream: io.BufferedIOBase, source: str
                 ) -> tuple[bytes, np.dtype, tuple[int, ...]]:
    """Read an IDX header: its bytes, the (big-endian) data type and the shape."""
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(f"{source}: not an IDX file (only {len(head)} bytes)")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{source}: not an IDX file (magic number starts with "
            f"0x{head[0]:02x}{head[1]:02x}, expected 0x0000)"
        )
    type_code, ndim = head[2], head[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{source}: unknown IDX data type code 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError(f"{source}: IDX header declares 0 dimensions")
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{source}: truncated IDX header ({4 + len(dims)} bytes, "
            f"{ndim} dimensions need {4 + 4 * ndim})"
        )
    return head + dims, np.dtype(_IDX_TYPES[type_code]), struct.unpack(f">{ndim}I", dims)


def _size_error(source: str, shape: tuple[int, ...], dtype: np.dtype, expected: int,
                truncated: bool, held: str) -> ValueError:
    what = "truncated" if truncated else "has trailing bytes"
    return ValueError(
        f"{source}: IDX data {what}: header says shape {shape} of {dtype.name} "
        f"({expected} bytes) but the file holds {held} bytes of data"
    )


def _read_into(stream: io.BufferedIOBase, buf: np.ndarray) -> int:
    """Fill ``buf`` from ``stream`` a chunk at a time; return the bytes read."""
    view = buf.data
    pos = 0
    while pos < len(view):
        n = stream.readinto(view[pos:pos + _CHUNK])
        if not n:
            break
        pos += n
    return pos


def _read_idx_bytes(path: str, source: str, limit: int
                    ) -> tuple[bytes, np.ndarray, np.dtype, tuple[int, ...]]:
    """The header, data bytes, type and shape of the IDX file ``path``.

    Nothing is read beyond what the header declares (and one byte more, to tell trailing
    data), and a header declaring more than ``limit`` bytes of data is refused: a gzip
    bomb or an endless file costs no more memory than a valid file. Errors name
    ``source``.
    """
    try:
        with _idx_stream(path) as (stream, size, gz):
            header, dtype, shape = _read_header(stream, source)
            n_bytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if n_bytes > limit:
                raise ValueError(f"{source}: IDX header declares shape {shape} of "
                                 f"{dtype.name}: {n_bytes} bytes of data, more than the "
                                 f"limit of {limit} bytes")
            held = size * _MAX_DEFLATE_RATIO if gz else size - len(header)
            if n_bytes > held or (n_bytes < held and not gz):
                raise _size_error(source, shape, dtype, n_bytes, n_bytes > held,
                                  f"at most {held}" if gz else str(held))
            data = np.empty(n_bytes, dtype=np.uint8)
            got = _read_into(stream, data)
            if got < n_bytes:
                raise _size_error(source, shape, dtype, n_bytes, True, str(got))
            if stream.read(1):
                raise _size_error(source, shape, dtype, n_bytes, False, f"more than {got}")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{source}: corrupt or truncated gzip data ({exc})") from exc
    return header, data, dtype, shape


def _to_native(data: np.ndarray, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """The IDX data bytes as an array of ``shape`` in native byte order (in place)."""
    arr = data.view(dtype)
    if not dtype.isnative:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return arr.reshape(shape)


def read_idx(path: PathLike, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (the format of the MNIST distribution).

    The file is read as a stream, never further than its header declares, so a
    corrupt or malicious file (a gzip bomb, say) costs no more memory than the
    array it claims to hold.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The file, gzipped or not; compression is detected from the gzip magic
        bytes, not from the file name. It must be a regular file (or a symbolic
        link to one).
    max_bytes : int, default :data:`MAX_IDX_BYTES` (1 GiB)
        Largest amount of data accepted: a header declaring more is refused
        before any data is read.

    Returns
    -------
    numpy.ndarray
        A writable array in native byte order with the shape given in the
        header, e.g. uint8 (60000, 28, 28) for ``train-images-idx3-ubyte``.
        Supported types: uint8, int8, int16, int32, float32, float64.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    OSError
        If ``path`` is not a regular file (a directory, a FIFO, a device such
        as /dev/zero): it is refused without reading from it.
    ValueError
        If the file is not a valid IDX file: bad magic number, unknown type
        code, truncated header or data, trailing bytes, corrupt gzip data, or
        a header declaring more than ``max_bytes`` bytes. The message names
        the file.
    """
    source = os.fsdecode(path)
    _, data, dtype, shape = _read_idx_bytes(source, source, max_bytes)
    return _to_native(data, dtype, shape)


# --------------------------------------------------------------- verified files


def _find_file(directory: pathlib.Path, name: str) -> pathlib.Path | None:
    """Return ``directory/name`` or ``directory/name.gz``, whichever exists.

    Whatever it is: one that is not a regular file is refused when read, which
    says more than calling it missing.
    """
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def _check_sha256(actual: str, name: str, source: str) -> None:
    expected = SHA256[name]
    if actual != expected:
        raise MNISTChecksumError(
            f"{source}: checksum mismatch for the decompressed content of {name}: "
            f"expected SHA-256 {expected}, got {actual}. The file is damaged or is "
            f"not the original MNIST file; delete it and get a fresh copy."
        )


def _read_known(path: str, name: str, source: str) -> np.ndarray:
    """Read the MNIST file ``name`` from ``path`` and check its SHA-256.

    No more than the known size of that file is read; errors name ``source``.
    """
    header, data, dtype, shape = _read_idx_bytes(path, source, _DATA_BYTES[name])
    digest = hashlib.sha256(header)
    digest.update(data.data)
    _check_sha256(digest.hexdigest(), name, source)
    return _to_native(data, dtype, shape)


def _read_verified(directory: pathlib.Path, name: str) -> np.ndarray:
    """Read the IDX file ``name`` from ``directory``, checking its checksum."""
    path = _find_file(pathlib.Path(directory), name)
    if path is None:
        raise FileNotFoundError(f"{name}[.gz] not found in {directory}")
    return _read_known(os.fspath(path), name, os.fspath(path))


def _missing(directory: pathlib.Path) -> list[str]:
    return [name for name in FILENAMES if _find_file(directory, name) is None]


def _how_to_point_at_local_files() -> str:
    return (
        "To use local copies of the four MNIST files "
        f"({', '.join(n + '[.gz]' for n in FILENAMES)}), put them in a folder and "
        f"pass it as load_mnist(path=...) (on the command line: --data DIR), or set "
        f"${_ENV_VAR} to it; "
        "`gradcore download --dir DIR` downloads them into DIR."
    )


def _to_float(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Flatten uint8 images to (n, pixels) and scale them as ``byte / 256``, in an array
    at a 64-byte boundary (``_layout.ALIGNMENT``: the kernels read it fastest so)."""
    X = as_aligned(images.reshape(len(images), -1), dtype)
    X *= dtype.type(1.0 / 256.0)  # a power of two: exact in every float type
    return X


def _folder(path: PathLike) -> pathlib.Path:
    """A folder argument (str, bytes or os.PathLike of either) as a Path."""
    return pathlib.Path(os.fsdecode(path))


def default_cache_dir() -> pathlib.Path:
    """Return the folder where downloaded MNIST files are kept.

    Returns
    -------
    pathlib.Path
        ``pooch.os_cache("gradcore")``, e.g. ``~/.cache/gradcore`` on Linux
        (``$XDG_CACHE_HOME/gradcore`` if that variable is set). The folder is
        not created.
    """
    import pooch

    return pathlib.Path(pooch.os_cache("gradcore")).expanduser()


@validated("datasets.load_mnist")
def load_mnist(
    path: PathLike | None = None,
    *,
    download: bool = True,
    cache_dir: PathLike | None = None,
    dtype: DTypeLike = np.float64,
) -> MNIST:
    """Load MNIST with the splits of "Neural Networks and Deep Learning".

    The four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped with a
    ``.gz`` suffix or uncompressed) are looked for in the first of:

    1. ``path``, if given;
    2. ``$GRADCORE_DATA``, if set;
    3. the cache folder ``cache_dir`` (default :func:`default_cache_dir`).

    A folder given explicitly (1 or 2) must hold all four files. Files missing
    from the cache are downloaded into it when ``download`` is true.

    Parameters
    ----------
    path : str, bytes or os.PathLike, optional
        Folder holding the four IDX files.
    download : bool, default True
        Download files missing from the cache (see :func:`download_mnist`).
    cache_dir : str, bytes or os.PathLike, optional
        Cache folder to use instead of :func:`default_cache_dir`.
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        Floating-point type of the images.

    Returns
    -------
    MNIST
        ``training`` (first 50,000 training images), ``validation`` (last
        10,000 training images) and ``test`` (the 10,000 t10k images), each an
        ``(X, y)`` tuple with ``X`` of shape (n, 784) holding ``byte / 256`` and
        ``y`` int64 labels 0..9.

    Raises
    ------
    FileNotFoundError
        If files are missing and cannot be downloaded (``download=False`` or an
        explicit folder); the message says where gradcore looked.
    MNISTChecksumError
        If a file's decompressed content differs from the original; the message
        names the file and gives the expected and actual SHA-256.
    MNISTDownloadError
        If a download was needed and no mirror delivered a verified file.
    OSError
        If one of the files is not a regular file (a FIFO, a device, a
        directory): it is refused without reading from it.
    ValueError
        If a file is not valid IDX.
    TypeError
        If ``dtype`` is neither float64 nor float32.
    """
    dt = np.dtype(dtype)  # float64 or float32, checked
    env = os.environ.get(_ENV_VAR)
    if path is not None:
        directory, origin = _folder(path), "given as the path argument"
    elif env:
        directory, origin = pathlib.Path(env), f"from ${_ENV_VAR}"
    else:
        directory = _folder(cache_dir) if cache_dir is not None else default_cache_dir()
        origin = None  # the cache: the only place downloads go

    missing = _missing(directory)
    if missing and origin is None and download:
        download_mnist(directory)
    elif missing:
        if origin is None:
            problem = (
                f"MNIST files missing from the cache folder {directory}: {', '.join(missing)} "
                "(gzipped or not), and download=False. Call load_mnist(download=True) to "
                "download them once."
            )
        else:
            problem = (
                f"MNIST files missing from {directory} ({origin}): {', '.join(missing)} "
                "(gzipped or not). A folder you point at is used as it is, never "
                "downloaded into."
            )
        raise FileNotFoundError(f"{problem} {_how_to_point_at_local_files()}")

    train_images = _read_verified(directory, "train-images-idx3-ubyte")
    train_labels = _read_verified(directory, "train-labels-idx1-ubyte")
    test_images = _read_verified(directory, "t10k-images-idx3-ubyte")
    test_labels = _read_verified(directory, "t10k-labels-idx1-ubyte")
    for images, labels, what in (
        (train_images, train_labels, "training"),
        (test_images, test_labels, "test"),
    ):
        if len(images) != len(labels):
            raise ValueError(
                f"{directory}: {len(images)} {what} images but {len(labels)} labels"
            )

    X_train = _to_float(train_images, dt)
    y_train = train_labels.astype(np.int64)
    return MNIST(
        training=(X_train[:_N_TRAIN], y_train[:_N_TRAIN]),
        validation=(X_train[_N_TRAIN:], y_train[_N_TRAIN:]),
        test=(_to_float(test_images, dt), test_labels.astype(np.int64)),
        directory=directory,
    )


# ------------------------------------------------------------- embedded images


@functools.lru_cache(maxsize=1)
def _embedded_bytes() -> tuple[np.ndarray, np.ndarray]:
    resource = importlib.resources.files(__package__).joinpath("data/mnist_first_1000.npz")
    with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        images = npz["images"]
        labels = npz["labels"]
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@validated("datasets.mnist_first_1000")
def mnist_first_1000(dtype: DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Return the first 1,000 MNIST training images, shipped inside gradcore.

    These are the images the chapter's gradient experiments use. No file or
    network access beyond the package itself is needed.

    Parameters
    ----------
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        Floating-point type of the images.

    Returns
    -------
    X : numpy.ndarray
        Shape (1000, 784), values ``byte / 256`` in ``[0, 1)``.
    y : numpy.ndarray
        Shape (1000,), int64 labels 0..9.

    Notes
    -----
    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
    CC BY-SA 3.0; see ``gradcore/data/MNIST-LICENSE.txt``.
    """
    dt = np.dtype(dtype)  # float64 or float32, checked
    images, labels = _embedded_bytes()
    return _to_float(images, dt), labels.astype(np.int64)


# -------------------------------------------------------------------- download


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _CappedFile:
    """A binary file that takes at most ``limit`` bytes, and none after ``deadline``: a
    mirror may send for ever, or slowly."""

    def __init__(self, fh: io.BufferedWriter, limit: int, source: str,
                 deadline: _Deadline) -> None:
        self.fh, self.limit, self.source, self.size = fh, limit, source, 0
        self.deadline = deadline

    def write(self, data: bytes) -> int:
        self.deadline.check()
        self.size += len(data)
        if self.size > self.limit:
            raise ValueError(f"{self.source}: more than {self.limit} bytes received, more "
                             f"than the file can be; stopped")
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


class _Deadline:
    """The deadline of one download: ``seconds`` after it starts, the connection is cut.

    A mirror that sends a byte now and then never trips the timeout of each read, so a
    timer shuts the socket down (which wakes the read blocked on it) once the answer's
    headers have come and the time is up; the file also refuses data after it
    (:class:`_CappedFile`), should the socket not be at hand.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = threading.Event()
        self.timer: threading.Timer | None = None
        self.sock: socket.socket | None = None

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A ``requests`` response hook: start the timer on the answer's socket (a
        duplicate of its descriptor, so that no other file ever gets it in between)."""
        with contextlib.suppress(OSError, AttributeError, ValueError):
            self.sock = socket.socket(fileno=os.dup(response.raw.fileno()))
        self.timer = threading.Timer(max(self.end - time.monotonic(), 0.0), self._cut)
        self.timer.daemon = True
        self.timer.start()
        return response

    def _cut(self) -> None:
        self.expired.set()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        """Raise TimeoutError once the deadline has passed."""
        if self.expired.is_set() or time.monotonic() > self.end:
            self.expired.set()
            raise self.error()

    def error(self) -> TimeoutError:
        return TimeoutError(f"not complete at the deadline of {self.seconds:g} s (the mirror "
                            f"sends too slowly); stopped")

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        if self.sock is not None:
            self.sock.close()


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server was never reached (no network, no such host, a
    refused connection, no answer to connect within the timeout)."""
    import requests

    return (isinstance(exc, requests.exceptions.ConnectionError)
            and not isinstance(exc, requests.exceptions.ReadTimeout))


def _fetch_one(
    name: str,
    directory: pathlib.Path,
    mirrors: Sequence[str],
    downloader: Callable[[_Deadline], Callable[[str, _CappedFile, None], object]],
    deadline: float,
    attempts: list[tuple[str, str, bool]],
) -> pathlib.Path | None:
    """Try each mirror for ``name``, each within ``deadline`` seconds; return the verified
    file or None. ``downloader(deadline)`` makes the function that fetches a URL."""
    limit = _DATA_BYTES[name] * 65 // 64 + (1 << 16)  # the file plain or in any gzip
    for base in mirrors:
        url = f"{base.rstrip('/')}/{name}.gz"
        fd, tmp = create_temporary(os.fspath(directory))
        cut = _Deadline(deadline)
        try:
            _log.info("downloading %s", url)
            with os.fdopen(fd, "wb") as fh:  # open: its lock keeps it from clean-ups
                try:
                    downloader(cut)(url, _CappedFile(fh, limit, url, cut), None)
                except Exception as exc:
                    if cut.expired.is_set():  # the connection cut at the deadline
                        raise cut.error() from exc
                    raise
                finally:
                    cut.cancel()
                fh.flush()
                _read_known(tmp, name, url)
            # Some servers send the archive with Content-Encoding: gzip and the
            # client then stores it decompressed: keep the name honest.
            with open(tmp, "rb") as check:
                gzipped = check.read(2) == _GZIP_MAGIC
            final = directory / (f"{name}.gz" if gzipped else name)
            os.replace(tmp, final)
            return final
        except Exception as exc:  # any failure: try the next mirror
            _log.info("failed: %s: %s", url, exc)
            attempts.append((url, _short(exc), _unreachable(exc)))
        finally:
            pathlib.Path(tmp).unlink(missing_ok=True)
    return None


@validated("datasets.download_mnist")
def download_mnist(
    directory: PathLike | None = None,
    *,
    mirrors: Iterable[str] | None = None,
    progress: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
) -> pathlib.Path:
    """Download the MNIST files missing from a folder.

    For each of the four files not already present (gzipped or not), the
    mirrors are tried in order; a mirror that refuses the connection, answers
    with an HTTP error, drops the connection, sends more than the file can be
    (a little more than its uncompressed size) or serves a file whose
    decompressed content fails the checksum is skipped. Each file is streamed
    to a temporary file in ``directory`` and renamed into place only once
    verified, so no partial or corrupt file is ever left behind (the
    temporary file of a process killed outright is removed by the next
    download or save in that folder).

    Parameters
    ----------
    directory : str, bytes or os.PathLike, optional
        Destination folder, created if needed (default :func:`default_cache_dir`);
        if the download fails, the folders created for it are removed again while
        they are empty (a folder that existed before never is).
    mirrors : iterable of str, optional
        Base URLs serving ``<base>/<file>.gz``; default :data:`MIRRORS`.
    progress : bool, default False
        Show a progress bar (tqdm) for each file.
    timeout : float, default 30
        Seconds to wait for a connection or for more data before giving up on
        a mirror.
    deadline : float, default 600
        Seconds one file may take from the request to its last byte before
        the mirror is given up (a mirror that sends a byte now and then never
        trips ``timeout``).

    Returns
    -------
    pathlib.Path
        The folder, now holding the four files.

    Raises
    ------
    MNISTDownloadError
        If every mirror failed for some file; the message lists each URL
        tried with the reason, and how to use local files instead. Its
        ``unreachable`` is true when no mirror could be reached at all.
    ValueError
        If ``mirrors`` is empty, or ``timeout`` or ``deadline`` is not a
        positive number.

    Notes
    -----
    Files already present are not re-verified here; :func:`load_mnist` checks
    every file it reads.
    """
    import pooch

    folder = _folder(directory) if directory is not None else default_cache_dir()
    bases = list(MIRRORS if mirrors is None else mirrors)
    if not bases:
        raise ValueError("no mirrors given")
    missing = _missing(folder)
    if not missing:
        return folder
    created: list[pathlib.Path] = []
    try:
        _make_folders(folder, created)
        def downloader(cut: _Deadline) -> Callable[[str, _CappedFile, None], object]:
            return pooch.HTTPDownloader(progressbar=progress, chunk_size=1 << 16,  # type: ignore[no-any-return]
                                        timeout=timeout, hooks={"response": [cut.hook]})

        attempts: list[tuple[str, str, bool]] = []
        for name in missing:
            if _fetch_one(name, folder, bases, downloader, deadline, attempts) is None:
                tried = "\n".join(f"  - {url}: {reason}" for url, reason, _ in attempts)
                raise MNISTDownloadError(
                    f"Could not download {name}.gz into {folder} from any mirror "
                    f"(check the network connection or proxy settings).\n"
                    f"Attempts:\n{tried}\n" + _how_to_point_at_local_files(),
                    [(url, reason) for url, reason, _ in attempts],
                    unreachable=all(no_answer for _, _, no_answer in attempts),
                )
    except BaseException:
        for path in reversed(created):  # deepest first, while they are empty
            try:
                path.rmdir()
            except OSError:
                break
        raise
    return folder


def _make_folders(folder: pathlib.Path, created: list[pathlib.Path]) -> None:
    """Create ``folder`` and its missing parents, appending each one made to ``created``."""
    missing = []
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made meanwhile by someone else, or not a folder
            if not path.is_dir():
                raise
        else:
            created.append(path)
