"""Learning speeds of one network: at initialisation, and during one training run.

The speed of learning of layer l is ‖(1/N) Σₓ δˡ(x)‖₂, the norm of the mean over the N
examples of δˡ = ∂C/∂bˡ (see :meth:`gradcore.Network.learning_speeds`). These are the
single-run building blocks; the experiments over seeds are in
:mod:`gradcore.experiments.chapter5` and :mod:`gradcore.experiments.phase`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import datasets
from .._network import Network
from .._training import History, train
from .book import layer_names
from .jobs import Data, mean_deltas

__all__ = ["SpeedsRun", "initial_speeds", "initial_deltas", "speeds_during_training",
           "embedded_or"]


def embedded_or(data: Data | None) -> Data:
    """The given (X, y), or the embedded first 1,000 MNIST training images."""
    if data is None:
        return datasets.mnist_first_1000()
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("data must be a pair (X, y) or None")
    return data[0], data[1]


def initial_speeds(sizes: Sequence[int], data: Data | None = None, *, seed: int | None = 0,
                   cost: str = "cross_entropy", init: str = "default") -> np.ndarray:
    """Learning speeds of a freshly initialised network.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes, e.g. ``[784, 30, 30, 10]``.
    data : (X, y) or None
        Inputs (n, sizes[0]) and labels; default the embedded first 1,000 MNIST training
        images (:func:`gradcore.datasets.mnist_first_1000`).
    seed : int or None
        Seed of the initialisation (``Network(sizes, seed=seed)``).
    cost, init : str
        As for :class:`gradcore.Network`.

    Returns
    -------
    ndarray (len(sizes) - 1,)
        ‖mean over the data of δˡ‖ for every layer with weights, output last.
    """
    X, y = embedded_or(data)
    return Network(sizes, cost=cost, init=init, seed=seed).learning_speeds(X, y)


def initial_deltas(sizes: Sequence[int], data: Data | None = None, *, seed: int | None = 0,
                   cost: str = "cross_entropy", init: str = "default") -> list[np.ndarray]:
    """Mean δˡ = ∂C/∂bˡ over the data, per neuron, of a freshly initialised network.

    Same parameters as :func:`initial_speeds`. Returns one array (sizes[l+1],) per layer
    with weights, output last; the norm of each is that layer's speed.
    """
    X, y = embedded_or(data)
    return mean_deltas(Network(sizes, cost=cost, init=init, seed=seed), X, y)[0]


@dataclass
class SpeedsRun:
    """Learning speeds of one network before and during training.

    Attributes
    ----------
    sizes : tuple of int
    seed : int or None
        Seed of the initialisation and of train()'s shuffling.
    initial_speeds : ndarray (n_layers,)
        Speeds at the initial weights, output last.
    initial_deltas : list of ndarray
        Mean ∂C/∂b per neuron at the initial weights, one array per layer, output last.
    speeds : ndarray (epochs, n_layers)
        Row e: the speeds during epoch e. With full-batch gradient descent (the default)
        these are exactly the speeds at the weights before epoch e's update, so row 0 equals
        ``initial_speeds`` up to rounding.
    training_cost : ndarray (epochs,)
    network : Network
        The network after training.
    """

    sizes: tuple[int, ...]
    seed: int | None
    initial_speeds: np.ndarray
    initial_deltas: list[np.ndarray]
    speeds: np.ndarray
    training_cost: np.ndarray
    network: Network = field(repr=False)

    @property
    def hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.sizes) - 2

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return int(self.speeds.shape[0])

    @property
    def columns(self) -> list[str]:
        """``["hidden_1", …, "output"]``, the names of the columns of :attr:`speeds`."""
        return layer_names(len(self.sizes) - 1)


def speeds_during_training(sizes: Sequence[int], data: Data | None = None, *,
                           epochs: int = 500, eta: float = 0.1, lmbda: float = 5.0,
                           batch_size: int | None = None, seed: int | None = 0,
                           cost: str = "cross_entropy", init: str = "default",
                           callback: Callable[[int, History], None] | None = None
                           ) -> SpeedsRun:
    """Train with gradient descent and record every layer's speed before each update.

    Parameters
    ----------
    sizes : sequence of int
    data : (X, y) or None
        Default: the embedded first 1,000 MNIST training images.
    epochs, eta, lmbda
        As for :func:`gradcore.train`; the book uses 500, 0.1 and 5.0.
    batch_size : int or None
        None (default): the whole data set, i.e. full-batch gradient descent, for which the
        recorded speeds are exactly those at the weights each epoch starts from. A smaller
        mini-batch records train()'s in-epoch monitor instead (weights move in the epoch).
    seed : int or None
        Seeds the initialisation (``Network(sizes, seed=seed)``, so the initial speeds are
        those of :func:`initial_speeds` with the same seed) and train()'s shuffling.
    cost, init : str
    callback : callable(epoch, history) or None
        Passed to :func:`gradcore.train` (called after every epoch).

    Returns
    -------
    SpeedsRun
    """
    X, y = embedded_or(data)
    net = Network(sizes, cost=cost, init=init, seed=seed)
    deltas, speeds0 = mean_deltas(net, X, y)
    m = len(X) if batch_size is None else batch_size
    result = train(net, X, y, epochs=epochs, batch_size=m, eta=eta, lmbda=lmbda, seed=seed,
                   callback=callback)
    h = result.history
    return SpeedsRun(sizes=tuple(net.sizes), seed=seed, initial_speeds=speeds0,
                     initial_deltas=deltas, speeds=np.asarray(h.learning_speeds),
                     training_cost=np.asarray(h.training_cost), network=net)
