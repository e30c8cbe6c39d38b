"""Shared fixtures. The tests run against the installed package, never the source folder."""

from __future__ import annotations

import os
import pathlib
import signal

import numpy as np
import pytest

import gradcore
from gradcore import datasets
from gradcore.datasets import mnist_first_1000

_SOURCE = pathlib.Path(__file__).resolve().parent.parent / "gradcore"
if pathlib.Path(gradcore.__file__).resolve().parent == _SOURCE:  # pragma: no cover
    raise RuntimeError("tests imported gradcore from the source folder, not the installed "
                       "package: install it (pip install .) and run pytest from the checkout")

# The tests that press Ctrl-C send SIGINT to a child process, as a terminal would. A run
# started in the background by a script (`pytest &`, nohup) has SIGINT ignored, and an
# ignored signal stays ignored in every child; a handler does not (exec resets it to the
# default). So with a handler here every child sees Ctrl-C as in a terminal. (Nothing here
# sends SIGINT to this process.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def mnist1000() -> tuple[np.ndarray, np.ndarray]:
    """The embedded first 1,000 MNIST training images and labels."""
    return mnist_first_1000()


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
    """Folder of the full MNIST IDX files ($GRADCORE_DATA); skips when absent."""
    path = os.environ.get("GRADCORE_DATA")
    if not path or not pathlib.Path(path).is_dir():
        pytest.skip("full MNIST not available: set GRADCORE_DATA to the folder of the four "
                    "IDX files")
    return pathlib.Path(path)


# tools/sanitize.sh preloads the AddressSanitizer runtime. It reserves terabytes of address
# space up front and holds freed memory back in a quarantine, so a child under RLIMIT_AS
# dies in ASan's own mmap, and a peak-memory measurement measures ASan. And its allocator's
# lock is not made safe across fork() as glibc's malloc is: a child forked while another
# thread allocates can wait on it forever.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")
_ASAN_SKIPS = {
    "memory_limits": "memory limits and peaks are ASan's own under AddressSanitizer",
    "fork_with_busy_threads": "ASan's allocator lock may stay held in a forked child",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not UNDER_ASAN:
        return
    for item in items:
        for marker, reason in _ASAN_SKIPS.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"{reason} (tools/sanitize.sh)"))


def small_mnist() -> datasets.MNIST:
    """The embedded images split like MNIST (small: what uses the data is tested, not the
    data)."""
    X, y = datasets.mnist_first_1000()
    return datasets.MNIST(training=(X[:200], y[:200]), validation=(X[200:260], y[200:260]),
                          test=(X[260:300], y[260:300]))


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path) -> list:
    """load_mnist gives :func:`small_mnist`; returns the folders it was asked for.

    tmp_path gets four empty files named like the MNIST files, so that it passes as a
    command line's --data folder (the names are checked before anything runs)."""
    asked: list = []
    for name in datasets.FILENAMES:
        (tmp_path / name).write_bytes(b"")

    def load(path=None, **kwargs):
        asked.append(path)
        return small_mnist()

    monkeypatch.setattr(datasets, "load_mnist", load)
    return asked
