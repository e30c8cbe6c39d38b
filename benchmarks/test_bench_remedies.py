"""``gradcore remedies`` at its defaults: every remedy x 3 seeds x 30 epochs of m = 10 on
800 of the embedded images, all jobs side by side.

The run is timed whole (figures left out), and its result is checked: the book's first
hidden layer learns far slower than its last at initialisation, as the chapter and the
theory say; ReLU with He's initialisation starts balanced; and every ratio and accuracy of
the first seed of one remedy is that of the same net trained alone.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import gradcore
from gradcore import experiments
from gradcore.datasets import mnist_first_1000

rm = importlib.import_module("gradcore.experiments.remedies")  # the module


def _default() -> experiments.RemediesResult:
    return experiments.remedies(progress=False)


def test_remedies_default(benchmark):
    benchmark.group = "gradcore remedies, the default (15 remedies x 3 seeds x 30 epochs)"
    res = benchmark.pedantic(_default, rounds=1, iterations=1)
    assert res.names == list(rm.REMEDIES) and res.seeds == [0, 1, 2]
    assert not res.failures
    book, relu = res.ratios("book"), res.ratios("relu+he")
    assert np.all(book["speed_initial"] < 0.05) and np.all(book["predicted"] < 0.03)
    assert np.all(np.abs(np.log10(relu["rms_initial"])) < 0.5)
    # the first seed of tanh + glorot against the same net trained alone
    X, y = mnist_first_1000()
    net = gradcore.Network(rm.REMEDIES_SIZES, activation="tanh", init="glorot", seed=0)
    with gradcore.thread_limit(1):
        gradcore.train(net, X[:800], y[:800], epochs=30, batch_size=10, eta=0.1, seed=0)
        s = net.learning_speeds(X[:800], y[:800])
    assert res.ratios("tanh+glorot")["speed_final"][0] == pytest.approx(s[0] / s[3],
                                                                         rel=1e-12)
    assert res.accuracy("tanh+glorot")[0] == net.accuracy(X[800:], y[800:])
