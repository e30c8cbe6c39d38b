"""Training does not copy the data set: peak memory stays within the data's size + 50 MB."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent("""
    import resource
    import numpy as np
    import gradcore
    from gradcore.datasets import mnist_first_1000

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

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


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in kB is Linux's convention")
def test_training_adds_at_most_50_mb_to_the_data(tmp_path):
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    data_mb, before, after = map(float, out.stdout.split())
    assert data_mb > 250
    assert after - before <= 50, f"training raised the peak by {after - before:.0f} MB"
