"""Under contention: another process keeps one core busy while gradcore runs with its
default threads and with one thread.

The requirement: with one core busy, the default settings are never more than 15 % slower
than one thread, for full-batch training on 1,000 and 50,000 images and for
``gradcore chapter5`` (here with fewer epochs). Run alone:

    pytest benchmarks/test_bench_contention.py --benchmark-only
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gradcore import experiments

CHAPTER5_EPOCHS = 50
FLOOR = 1 / 1.15  # default threads at most 15 % slower than one thread

pytestmark = [
    pytest.mark.speed_ratio(baseline="1-thread", floors={"default-threads": FLOOR}),
    pytest.mark.parametrize("impl", ["1-thread", "default-threads"]),
    pytest.mark.usefixtures("busy_core", "gradcore_threads"),
]


@pytest.fixture(scope="module")
def busy_core():
    """Another Python process spinning (one core's worth of work) for this module."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("default threads against one thread needs two cores")
    with subprocess.Popen([sys.executable, "-c", "print(flush=True)\nwhile True: pass"],
                          stdout=subprocess.PIPE) as spinner:
        try:
            spinner.stdout.readline()  # it is running
            yield spinner.pid
        finally:
            spinner.kill()


@pytest.mark.parametrize("n", [1_000, 50_000], ids=["1k", "50k"])
def test_full_batch_epoch(benchmark, n, full_batch_epoch):
    run, check = full_batch_epoch(n)
    benchmark.group = f"one core busy: full-batch epoch 784-30-30-10 ({n:,} images, m = n)"
    check(benchmark(run))


def test_chapter5(benchmark, impl, gradient_descent):
    # chapter5's trainings run as jobs side by side: its "1 thread" is one job at a time
    benchmark.group = f"one core busy: chapter5, {CHAPTER5_EPOCHS} epochs"
    result = benchmark(experiments.chapter5, None, epochs=CHAPTER5_EPOCHS, figures=False,
                       n_jobs=1 if impl == "1-thread" else None, progress=False)
    for net in result.nets.values():
        want = gradient_descent(net.sizes, 1_000, CHAPTER5_EPOCHS)
        np.testing.assert_allclose(net.speeds[0], want.speeds, rtol=1e-9)
