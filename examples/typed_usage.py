"""A small program using gradcore's public API; `mypy --strict` checks it in the tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import gradcore
from gradcore import kernels
from gradcore.datasets import mnist_first_1000


def speeds_before_and_after(epochs: int) -> tuple[npt.NDArray[np.float64], float]:
    X, y = mnist_first_1000()
    net = gradcore.Network([784, 30, 30, 10], seed=0)
    before: npt.NDArray[np.float64] = net.learning_speeds(X, y)
    result: gradcore.TrainResult = gradcore.train(net, X, y, epochs=epochs, batch_size=10,
                                                  eta=0.1, lmbda=5.0, seed=0)
    history: gradcore.History = result.history
    assert history.learning_speeds.shape == (epochs, 3)
    grad, cost_sum = kernels.gradient(net.params, net.sizes, X, np.eye(10)[y])
    assert grad.shape == net.params.shape and cost_sum > 0
    return before, net.accuracy(X, y)


if __name__ == "__main__":
    speeds, accuracy = speeds_before_and_after(2)
    print(speeds, accuracy)
