"""Shared fixtures. The tests run against the installed package, never the source folder."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import gradcore
from gradcore import datasets
from gradcore import experiments as ex
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


def _chapter5_ctrl_c_then_resume(out: pathlib.Path, *extra: str, presses: int = 1) -> None:
    """`gradcore chapter5 ... --out out *extra` gets Ctrl-C (``presses`` times, a few ms
    apart) once a job is saved: it must exit 130 within 60 s keeping the finished jobs; the
    same command then finishes without running them again, with the bits of a run in one
    go."""

    def chapter5() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "gradcore", "chapter5", "--epochs", "60", "--seeds", "3",
             "--no-figures", "--out", str(out), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out.parent)

    proc = chapter5()
    deadline = time.monotonic() + 120
    while not list((out / "jobs").glob("0*.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for i in range(presses):
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGINT)
        time.sleep(0.002 * (i % 7))
    _, stderr = proc.communicate(timeout=60)  # the jobs still running stop or are left
    # 130; or killed by SIGINT, which a shell reports as 130 too: a Ctrl-C that comes once
    # Python has begun to exit meets the default action, restored by then
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert "interrupted:" in stderr and "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    kept = {p.name: p.stat().st_ino for p in (out / "jobs").glob("0*.json")}
    assert 1 <= len(kept) < 9
    assert not (out / "chapter5.json").exists()
    assert not list(out.rglob("*.tmp"))

    proc = chapter5()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert (f"chapter5: {len(kept)} of 9 trainings were already done in {out / 'jobs'}: "
            f"reused") in stderr
    for name, inode in kept.items():  # the finished jobs were not run again
        assert (out / "jobs" / name).stat().st_ino == inode
    doc = json.loads((out / "chapter5.json").read_text())
    whole = ex.chapter5(None, seeds=3, epochs=60, n_jobs=1, progress=False)
    for net in doc["nets"]:
        assert net["speeds"] == whole.nets[net["hidden_layers"]].speeds.tolist()


@pytest.fixture
def chapter5_ctrl_c_then_resume():
    """check(out, *extra_args): Ctrl-C in `gradcore chapter5`, then the same command again
    (see _chapter5_ctrl_c_then_resume)."""
    return _chapter5_ctrl_c_then_resume
