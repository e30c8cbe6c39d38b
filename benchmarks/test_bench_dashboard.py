"""The dashboard's training step: what a page's run costs beyond plain training.

run_training (the whole of a page's run: train() plus recording every epoch and a snapshot
of the bars a few times a second) against train() with the same settings, both on one
kernel thread as a page runs them; and one snapshot alone.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore.dashboard import Settings, run_training
from gradcore.dashboard.training import Feed, take_snapshot
from gradcore.datasets import mnist_first_1000

SETTINGS = Settings(epochs=100)  # the book's [784,30,30,30,10], full batch on 1,000 images
RECORDING_FLOOR = 0.85  # a page's run at least 85 % of plain train()'s speed


def _plain_train() -> np.ndarray:
    X, y = mnist_first_1000()
    net = gradcore.Network(SETTINGS.sizes, init=SETTINGS.init, seed=SETTINGS.seed)
    with gradcore.thread_limit(1):
        result = gradcore.train(net, X, y, epochs=SETTINGS.epochs, batch_size=len(X),
                                eta=SETTINGS.eta, lmbda=SETTINGS.lmbda, seed=SETTINGS.seed)
    return result.history.learning_speeds


def _page_run() -> np.ndarray:
    feed = Feed(SETTINGS.epochs, SETTINGS.n_layers)
    with gradcore.thread_limit(1):  # as a page's training thread runs it
        assert run_training(SETTINGS, feed) == "finished"
    return feed.drain().speeds


@pytest.mark.speed_ratio(baseline="train", floors={"run_training": RECORDING_FLOOR})
@pytest.mark.parametrize("impl", ["train", "run_training"])
def test_training_step(benchmark, impl):
    benchmark.group = f"dashboard run, {SETTINGS.epochs} epochs of [784,30,30,30,10]"
    speeds = benchmark.pedantic(_plain_train if impl == "train" else _page_run, rounds=9,
                                iterations=1)
    np.testing.assert_allclose(speeds, _plain_train(), rtol=1e-12)


def test_snapshot(benchmark):
    X, y = mnist_first_1000()
    net = gradcore.Network(SETTINGS.sizes, seed=0)
    benchmark.group = "dashboard snapshot (gradient and accuracy, 1,000 images)"
    snap = benchmark(take_snapshot, net, X, y, 0)
    _, nabla_b = net.gradient(X, y)
    assert np.array_equal(snap.deltas[0], nabla_b[0][:len(snap.deltas[0])])
    assert snap.accuracy == net.accuracy(X, y)
