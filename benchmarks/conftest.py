"""Benchmark fixtures: the embedded 1,000 MNIST images, nets 784-30-10 to 784-30-30-30-30-10.

    pytest --benchmark-only                                     # every benchmark
    pytest benchmarks/test_bench_core.py --benchmark-only       # one file alone

Plain ``pytest`` deselects the benchmarks and ``pytest --benchmark-only`` deselects every
other test: pytest-benchmark alone would list the other kind as skipped, one line each.
Every benchmark checks its result against the NumPy reference, so a fast wrong answer fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.datasets import mnist_first_1000


def pytest_collection_modifyitems(config, items):
    """With --benchmark-only keep the benchmarks only; otherwise (--benchmark-skip, set in
    addopts) keep everything else. Deselected, not skipped: one word in the summary."""
    only = config.getoption("benchmark_only")
    if not (only or config.getoption("benchmark_skip")):
        return  # e.g. addopts overridden: pytest-benchmark decides alone
    keep, drop = [], []
    for item in items:
        is_benchmark = "benchmark" in getattr(item, "fixturenames", ())
        (keep if is_benchmark == only else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def mnist1000():
    X, y = mnist_first_1000()
    return X, y, np.eye(10)[y]
