"""train() over short epochs: the chapter's shape (the embedded 1,000 images, many epochs),
against the bare compiled epochs on the same rows in the same order, one kernel thread.

Two shapes: 50 epochs of m = 10 mini-batches, and 200 full-batch epochs (m = 1,000). The
bare side is ``_core.sgd_epoch`` called once per epoch on row orders made beforehand: the
kernels' work and nothing else. train() adds what a run records (the shuffle, the learning
speeds, the gradient rms, the cost with its L2 term, the history) and runs its epochs up to
64 to a compiled call. Floor (bare / train, ratio of medians): 1/1.03, train() within 3 %.

Each round checks that train() and the bare epochs end with the same parameters, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import _core
from gradcore.datasets import mnist_first_1000

SIZES = [784, 30, 30, 10]
ETA, LMBDA, SEED = 0.5, 5.0, 0
SHAPES = {"m=10 x 50 epochs": (10, 50), "full batch x 200 epochs": (1000, 200)}


@pytest.fixture(scope="module")
def chapter_data():
    X, y = mnist_first_1000()
    X = np.ascontiguousarray(X, dtype=np.float64)
    return X, y, np.eye(10)[y]


def _row_orders(n, epochs):
    """The row orders train() draws for seed SEED (its shuffling stream)."""
    rng = np.random.default_rng(np.random.SeedSequence(SEED).spawn(3)[1])
    return [rng.permutation(n).astype(np.int64) for _ in range(epochs)]


@pytest.mark.speed_ratio(baseline="bare-epochs", floors={"train": 1 / 1.03})
@pytest.mark.parametrize("impl", ["bare-epochs", "train"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_train_over_short_epochs(benchmark, impl, shape, chapter_data):
    m, epochs = SHAPES[shape]
    benchmark.group = f"train() against bare epochs, 1,000 images, {shape}"
    X, y, Y = chapter_data
    net = gradcore.Network(SIZES, seed=1)
    start = net.params.copy()
    arch = net.architecture.core()
    perms = _row_orders(len(X), epochs)
    n_biases = sum(SIZES[1:])

    def reset():
        net.params[...] = start

    def bare():
        for perm in perms:
            _core.sgd_epoch(arch, net.params, X, Y, perm, m, ETA, LMBDA, np.zeros(n_biases),
                            np.zeros(len(SIZES) - 1))

    def train():
        gradcore.train(net, X, y, epochs=epochs, batch_size=m, eta=ETA, lmbda=LMBDA,
                       seed=SEED)

    with gradcore.thread_limit(1):
        benchmark.pedantic(bare if impl == "bare-epochs" else train, setup=reset, rounds=11,
                           warmup_rounds=1)
    got = net.params.copy()
    reset()
    (train if impl == "bare-epochs" else bare)()
    np.testing.assert_array_equal(got, net.params)
