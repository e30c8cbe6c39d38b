"""One training run on full MNIST with the book's splits (``gradcore train``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import datasets
from .._network import Network
from .._training import History, train
from .._validation import validated
from .jobs import check_remedy

__all__ = ["MNISTTraining", "TrainingInterrupted", "train_mnist", "load_mnist_data"]

PathLike = str | os.PathLike[str]


def load_mnist_data(data: Any, path: PathLike | None) -> Any:
    """``data`` if given, else :func:`gradcore.datasets.load_mnist` of ``path``."""
    if data is not None:
        return data
    return datasets.load_mnist(path)


@dataclass
class MNISTTraining:
    """A training run on full MNIST (:func:`train_mnist`).

    Attributes
    ----------
    network : Network
    history : History
        Per epoch: validation accuracy and cost (``evaluation_*``), training cost,
        learning speeds.
    test_accuracy : float
        Fraction of the 10,000 test images classified correctly after training.
    """

    network: Network
    history: History
    test_accuracy: float


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train_mnist`; carries what was kept.

    Attributes
    ----------
    network : Network
        The network with every update applied before the interruption.
    history : History or None
        The epochs completed (None if none was).
    epochs_completed : int
    """

    def __init__(self, network: Network, history: History | None) -> None:
        n = 0 if history is None else history.epochs
        super().__init__(f"training interrupted after {n} complete epoch(s)")
        self.network = network
        self.history = history
        self.epochs_completed = n


@validated("experiments.train_mnist")
def train_mnist(sizes: Sequence[int], data: Any = None, *, path: PathLike | None = None,
                epochs: int = 30, batch_size: int = 10, eta: float = 0.1,
                lmbda: float = 5.0, seed: int | None = None,
                callback: Callable[[int, History], None] | None = None,
                remedy: Mapping[str, Any] | None = None) -> MNISTTraining:
    """Train on the 50,000 training images, validating after every epoch; then test.

    Parameters
    ----------
    sizes : sequence of int
        Must start with 784 and end with 10.
    data : object with ``training``, ``validation``, ``test`` (X, y) pairs, or None
        Default: :func:`gradcore.datasets.load_mnist` of ``path``.
    path : path or None
        The folder of the four IDX files, passed to load_mnist.
    epochs, batch_size, eta, lmbda
        As for :func:`gradcore.train`.
    seed : int or None
        Seeds the initialisation and the shuffling.
    callback : callable(epoch, history) or None
        Called after every epoch.
    remedy : mapping or None
        The network's and the update's choices beside the book's
        (:data:`gradcore.experiments.jobs.REMEDY_FIELDS`), as for
        :func:`gradcore.experiments.chapter5`.

    Returns
    -------
    MNISTTraining

    Raises
    ------
    TrainingInterrupted
        On Ctrl-C (a KeyboardInterrupt); carries the network and the epochs completed.
    gradcore.DivergenceError
        If training diverged.
    FileNotFoundError, ValueError, gradcore.datasets.MNISTDownloadError
        From loading the data.
    """
    choices = check_remedy(remedy, sizes)
    update: dict[str, Any] = {k: choices.pop(k) for k in ("momentum", "nesterov",
                                                          "clip_norm", "dropout")
                              if k in choices}
    if "schedule" in choices:
        update["momentum_schedule"] = choices.pop("schedule")
    net = Network(sizes, seed=seed, **choices)
    mnist = load_mnist_data(data, path)
    last: list[History] = []

    def cb(epoch: int, history: History) -> None:
        last[:] = [history]
        if callback is not None:
            callback(epoch, history)

    X, y = mnist.training
    try:
        result = train(net, X, y, epochs=epochs, batch_size=batch_size, eta=eta,
                       lmbda=lmbda, seed=seed, evaluation_data=mnist.validation, callback=cb,
                       **update)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(net, last[0] if last else None) from exc
    Xt, yt = mnist.test
    return MNISTTraining(network=net, history=result.history,
                         test_accuracy=net.accuracy(Xt, yt))
