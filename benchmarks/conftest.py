"""Benchmark fixtures: the embedded 1,000 MNIST images, nets 784-30-10 to 784-30-30-30-30-10.

Run with ``pytest benchmarks --benchmark-only`` (about a minute). Every benchmark checks its
result against the NumPy reference, so a fast wrong answer fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.datasets import mnist_first_1000

@pytest.fixture(scope="session")
def mnist1000():
    X, y = mnist_first_1000()
    return X, y, np.eye(10)[y]
