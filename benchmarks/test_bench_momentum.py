"""``gradcore momentum``'s default run: 3 updates × 2 initialisations × 5 seeds of sigmoid
[784, 30×8, 10] on the embedded 1,000 images, 2,000 updates of 100 images each (30
trainings side by side). The momentum page of the docs quotes its time.

The result is checked against the paper's claims (Sutskever, Martens, Dahl & Hinton 2013):
from the sparse initialisation, momentum with the rising schedule trains the deep sigmoid
net far further than plain SGD at the same η; from the Gaussian N(0, 1/n_in) weights with
N(0, 1) biases no update gets past the cost of predicting the class frequencies. And one
training against the same one done with gradcore.train directly.
"""

from __future__ import annotations

import numpy as np

import gradcore
from gradcore import experiments as ex
from gradcore.datasets import mnist_first_1000


def _default() -> ex.MomentumResult:
    return ex.momentum(progress=False)


def test_momentum_default(benchmark):
    benchmark.group = "gradcore momentum, the default run"
    result = benchmark.pedantic(_default, rounds=1, iterations=1)
    assert not result.failures
    final = {key: np.median(result.costs(*key)[:, -1]) for key in result.results}
    assert final["sparse", "momentum"] < 0.1 * final["sparse", "sgd"]
    assert final["sparse", "nesterov"] < 0.1 * final["sparse", "sgd"]
    # the cost of outputs at the class frequencies, Σ_j H(p_j): what a net that learned
    # nothing about the images can reach
    X, y = mnist_first_1000()
    p = np.bincount(y, minlength=10) / len(y)
    floor = float(-np.sum(p * np.log(p) + (1 - p) * np.log(1 - p)))
    for method in result.methods:
        assert final["default", method] > 0.95 * floor
        assert final["sparse", "nesterov"] < 0.05 * floor
    job = result.results["sparse", "nesterov"][0].job
    net = job.network()
    history = gradcore.train(net, X, y, epochs=job.epochs, batch_size=job.batch_size,
                             eta=job.eta, lmbda=0.0, seed=job.seed, momentum=job.momentum,
                             nesterov=True, momentum_schedule="sutskever",
                             final_momentum=job.final_momentum,
                             final_updates=job.final_updates).history
    np.testing.assert_array_equal(result.costs("sparse", "nesterov")[0],
                                  history.training_cost)
