"""Threads, as users run them: full-batch training on 1 thread and on all threads, and two
networks trained in two Python threads against one after the other.

A speed-up from threads needs idle cores: the two-thread floor holds on a quiet machine.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import gradcore

SIZES = [784, 30, 30, 10]
ETA, LMBDA = 0.1, 5.0
TWO_NETS_EPOCHS = 20
TWO_THREADS_FLOOR = 1.3  # two nets in two threads against one after the other


@pytest.mark.speed_ratio(baseline="1-thread")
@pytest.mark.parametrize("impl", ["1-thread", "all-threads"])
@pytest.mark.parametrize("n", [1_000, 50_000], ids=["1k", "50k"])
def test_full_batch_epoch(benchmark, n, impl, gradcore_threads, full_batch_epoch):
    run, check = full_batch_epoch(n)
    benchmark.group = f"full-batch epoch 784-30-30-10 ({n:,} images, m = n)"
    check(benchmark(run))


def _train_two(X, y, in_threads: bool) -> dict[int, np.ndarray]:
    """Two nets (seeds 1 and 2), in two threads or one after the other: their parameters."""
    out: dict[int, np.ndarray] = {}

    def job(seed: int) -> None:
        out[seed] = gradcore.train(SIZES, X, y, epochs=TWO_NETS_EPOCHS, batch_size=10,
                                   eta=ETA, lmbda=LMBDA, seed=seed).network.params

    if in_threads:
        threads = [threading.Thread(target=job, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        job(1)
        job(2)
    return out


@pytest.mark.speed_ratio(baseline="one-after-the-other",
                         floors={"two-threads": TWO_THREADS_FLOOR})
@pytest.mark.parametrize("impl", ["one-after-the-other", "two-threads"])
def test_two_nets(benchmark, impl, mnist):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("two threads in parallel need two cores")
    X, y, _ = mnist(1_000)
    want = _train_two(X, y, in_threads=False)
    benchmark.group = (f"two nets 784-30-30-10, {TWO_NETS_EPOCHS} epochs each "
                       "(1,000 images, m = 10)")
    got = benchmark(_train_two, X, y, in_threads=impl == "two-threads")
    for seed in (1, 2):  # bit for bit: each net's results do not depend on the other thread
        assert np.array_equal(got[seed], want[seed])

