"""Memory: training does not copy the data set, and many calls leave memory flat."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcore

_CHILD = textwrap.dedent("""
    import numpy as np
    import gradcore
    from gradcore.datasets import mnist_first_1000

    def peak_mb():
        # this process's own high-water mark (ru_maxrss would start at the parent's peak)
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    X1, y1 = mnist_first_1000()
    X = np.tile(X1, (50, 1))           # 50,000 x 784 float64: 314 MB
    y = np.tile(y1, 50)
    net = gradcore.Network([784, 30, 30, 10], seed=0)
    net.feedforward(X[:10])            # load the kernels before the baseline
    before = peak_mb()
    gradcore.train(net, X, y, epochs=3, batch_size=10, eta=0.1, lmbda=5.0, seed=0)
    gradcore.train(net, X, y, epochs=1, batch_size=50_000, eta=0.1, lmbda=5.0, seed=0)
    print(X.nbytes / 2**20, before, peak_mb())
""")


@pytest.mark.memory_limits
@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM of /proc/self/status")
def test_training_adds_at_most_50_mb_to_the_data(tmp_path):
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    data_mb, before, after = map(float, out.stdout.split())
    assert data_mb > 250
    assert before >= data_mb  # the measurement is real: the baseline holds the data
    assert after - before <= 50, f"training raised the peak by {after - before:.0f} MB"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.memory_limits
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_ten_thousand_calls_do_not_leak():
    rng = np.random.default_rng(0)
    X = rng.random((5, 8))
    y = rng.integers(0, 3, 5)
    net = gradcore.Network([8, 6, 3], seed=0)

    def calls(k: int) -> None:
        for _ in range(k):
            net.feedforward(X)
            net.gradient(X, y)
            gradcore.train(net, X, y, epochs=1, batch_size=2, eta=0.01, seed=0)

    calls(1000)  # warm up caches and allocator pools
    before = _rss_bytes()
    calls(10000)
    grown = _rss_bytes() - before
    assert grown < 5 * 2**20, f"RSS grew by {grown / 2**20:.1f} MB"
