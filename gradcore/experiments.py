"""The experiments of chapter 5 of "Neural Networks and Deep Learning", as library calls.

Every function here returns the numbers; the command line (:mod:`gradcore.cli`) only prints
and plots them. The experiments:

* :func:`initial_speeds` -- the speed of learning of every layer of a freshly initialised
  network, on the first 1,000 MNIST training images (the book: 0.07, 0.31 for two hidden
  layers; 0.012, 0.060, 0.283 for three; 0.003, 0.017, 0.070, 0.285 for four).
* :func:`speeds_during_training` -- the speeds before each epoch's update during full-batch
  gradient descent (m = 1,000, η = 0.1, λ = 5.0) on those images.
* :func:`chapter5` -- both for 2, 3 and 4 hidden layers of 30 neurons, optionally written to
  a folder as CSV, JSON and PNG figures.
* :func:`chain` -- the one-neuron-per-layer chain, exploding (every factor w·σ'(z) = 25 for
  w = 100) and vanishing (w ~ N(0, 1)).
* :func:`depth` -- validation accuracy against depth on full MNIST (the book: 96.48, 96.90,
  96.57, 96.53 % for 1 to 4 hidden layers).
* :func:`train_mnist` -- one training run on full MNIST with the book's splits.

The speed of learning of layer l is ‖(1/N) Σₓ δˡ(x)‖₂, the norm of the mean over the N
examples of δˡ = ∂C/∂bˡ (see :meth:`gradcore.Network.learning_speeds`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from . import __version__, datasets
from . import reference as _ref
from ._network import Network
from ._training import History, train
from ._validation import check_sizes, validated

__all__ = [
    "BOOK_INITIAL_SPEEDS",
    "BOOK_DEPTH_ACCURACY",
    "CHAPTER5_HIDDEN",
    "DEPTH_SIZES",
    "SpeedsRun",
    "Chapter5Result",
    "ChainResult",
    "Chain",
    "DepthResult",
    "MNISTTraining",
    "TrainingInterrupted",
    "chapter5_sizes",
    "layer_names",
    "initial_speeds",
    "initial_deltas",
    "speeds_during_training",
    "chapter5",
    "write_speeds_csv",
    "read_speeds_csv",
    "chain",
    "chain_gradients",
    "exploding_chain",
    "vanishing_chain",
    "depth",
    "train_mnist",
]

PathLike = Union[str, "os.PathLike[str]"]
Data = tuple[np.ndarray, np.ndarray]

#: The book's initial speeds of the hidden layers, by number of hidden layers (one run,
#: first 1,000 training images, default initialisation, cross-entropy).
BOOK_INITIAL_SPEEDS: dict[int, tuple[float, ...]] = {
    2: (0.07, 0.31),
    3: (0.012, 0.060, 0.283),
    4: (0.003, 0.017, 0.070, 0.285),
}

#: The numbers of hidden layers of the chapter's speed experiments.
CHAPTER5_HIDDEN: tuple[int, ...] = (2, 3, 4)

#: The nets of the chapter's accuracy-vs-depth experiment.
DEPTH_SIZES: tuple[tuple[int, ...], ...] = (
    (784, 30, 10),
    (784, 30, 30, 10),
    (784, 30, 30, 30, 10),
    (784, 30, 30, 30, 30, 10),
)

#: The book's validation accuracy (%) of the nets of :data:`DEPTH_SIZES` after 30 epochs
#: (m = 10, η = 0.1, λ = 5.0; one run each).
BOOK_DEPTH_ACCURACY: dict[tuple[int, ...], float] = dict(
    zip(DEPTH_SIZES, (96.48, 96.90, 96.57, 96.53)))


def chapter5_sizes(hidden: int, width: int = 30) -> list[int]:
    """Layer sizes ``[784, width, …, width, 10]`` with ``hidden`` hidden layers."""
    if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 0:
        raise ValueError(f"hidden must be an integer >= 0, got {hidden!r}")
    return [784] + [int(width)] * int(hidden) + [10]


def layer_names(n_layers: int) -> list[str]:
    """Column names of the layers with weights: ``hidden_1``, …, ``hidden_k``, ``output``."""
    return [f"hidden_{i + 1}" for i in range(n_layers - 1)] + ["output"]


def _data(data: Data | None) -> Data:
    """The given (X, y), or the embedded first 1,000 MNIST training images."""
    if data is None:
        return datasets.mnist_first_1000()
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("data must be a pair (X, y) or None")
    return data[0], data[1]


# --------------------------------------------------------------------- speeds


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
    X, y = _data(data)
    return Network(sizes, cost=cost, init=init, seed=seed).learning_speeds(X, y)


def initial_deltas(sizes: Sequence[int], data: Data | None = None, *, seed: int | None = 0,
                   cost: str = "cross_entropy", init: str = "default") -> list[np.ndarray]:
    """Mean δˡ = ∂C/∂bˡ over the data, per neuron, of a freshly initialised network.

    Same parameters as :func:`initial_speeds`. Returns one array (sizes[l+1],) per layer
    with weights, output last; the norm of each is that layer's speed.
    """
    X, y = _data(data)
    _, nabla_b = Network(sizes, cost=cost, init=init, seed=seed).gradient(X, y)
    return [np.array(g, dtype=np.float64) for g in nabla_b]


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
    X, y = _data(data)
    net = Network(sizes, cost=cost, init=init, seed=seed)
    _, nabla_b = net.gradient(X, y)
    deltas = [np.array(g, dtype=np.float64) for g in nabla_b]
    speeds0 = np.array([np.linalg.norm(g) for g in deltas])
    m = len(X) if batch_size is None else batch_size
    result = train(net, X, y, epochs=epochs, batch_size=m, eta=eta, lmbda=lmbda, seed=seed,
                   callback=callback)
    h = result.history
    return SpeedsRun(sizes=tuple(net.sizes), seed=seed, initial_speeds=speeds0,
                     initial_deltas=deltas, speeds=np.asarray(h.learning_speeds),
                     training_cost=np.asarray(h.training_cost), network=net)


# ------------------------------------------------------------------ chapter 5


@dataclass
class Chapter5Result:
    """What :func:`chapter5` computed and wrote.

    Attributes
    ----------
    runs : dict of int to SpeedsRun
        By number of hidden layers (2, 3, 4).
    settings : dict
        The run's settings (seed, epochs, eta, lmbda, batch size, data, gradcore version).
    paths : dict of str to pathlib.Path
        What was written (a description) and where; empty when no folder was given.
    """

    runs: dict[int, SpeedsRun]
    settings: dict[str, Any]
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    def initial_table(self) -> list[tuple[int, str, float, float | None]]:
        """Rows ``(hidden layers, layer name, gradcore's speed, the book's or None)``."""
        rows = []
        for k, run in self.runs.items():
            book = BOOK_INITIAL_SPEEDS.get(k, ())
            for i, (name, s) in enumerate(zip(run.columns, run.initial_speeds)):
                rows.append((k, name, float(s), book[i] if i < len(book) else None))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data (the content of ``chapter5.json``)."""
        nets = []
        for k, run in self.runs.items():
            nets.append({
                "hidden_layers": k,
                "sizes": list(run.sizes),
                "columns": run.columns,
                "initial_speeds": run.initial_speeds.tolist(),
                "book_initial_speeds": list(BOOK_INITIAL_SPEEDS.get(k, ())),
                "initial_deltas": {name: d.tolist()
                                   for name, d in zip(run.columns, run.initial_deltas)},
                "epochs": list(range(run.epochs)),
                "speeds": run.speeds.tolist(),
                "training_cost": run.training_cost.tolist(),
            })
        return {"experiment": "gradcore chapter5: learning speeds of the hidden layers",
                "settings": dict(self.settings),
                "book_initial_speeds": {str(k): list(v)
                                        for k, v in BOOK_INITIAL_SPEEDS.items()},
                "nets": nets}


def write_speeds_csv(run: SpeedsRun, path: PathLike) -> pathlib.Path:
    """Write ``epoch,hidden_1,…,hidden_k,output`` and one row per epoch.

    Numbers are written with Python's shortest round-trip repr, so reading them back gives
    the same floats.
    """
    p = pathlib.Path(path)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["epoch", *run.columns])
        for e, row in enumerate(run.speeds):
            w.writerow([e, *(repr(float(v)) for v in row)])
    return p


def read_speeds_csv(path: PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read a file of :func:`write_speeds_csv`: (column names, epochs (n,), speeds (n, k))."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or not rows[0] or rows[0][0] != "epoch":
        raise ValueError(f"{path}: not a speeds CSV (header must start with 'epoch')")
    header = rows[0][1:]
    body = rows[1:]
    if any(len(r) != len(header) + 1 for r in body):
        raise ValueError(f"{path}: rows do not all have {len(header) + 1} fields")
    epochs = np.array([int(r[0]) for r in body], dtype=np.int64)
    speeds = np.array([[float(v) for v in r[1:]] for r in body],
                      dtype=np.float64).reshape(len(body), len(header))
    return header, epochs, speeds


@validated("experiments.chapter5")
def chapter5(out_dir: PathLike | None = None, *, seed: int | None = 0, epochs: int = 500,
             eta: float = 0.1, lmbda: float = 5.0, hidden: Sequence[int] = CHAPTER5_HIDDEN,
             width: int = 30, data: Data | None = None, figures: bool = True,
             progress: Callable[[Sequence[int], int, History], None] | None = None
             ) -> Chapter5Result:
    """The chapter's learning-speed experiments for 2, 3 and 4 hidden layers.

    For each net ``[784, 30, …, 30, 10]`` (default initialisation seeded with ``seed``,
    cross-entropy): the initial speeds, then ``epochs`` of full-batch gradient descent on
    the data (m = len(data), η, λ) recording the speeds before each epoch's update.

    Parameters
    ----------
    out_dir : path or None
        If given, the folder (created if needed) receives ``speeds_{k}_hidden.csv`` per net,
        ``chapter5.json`` (all the data and the settings), and the figures
        ``speeds_{k}_hidden.png`` and ``initial_deltas.png`` when ``figures`` is true.
    seed : int or None
        The same seed initialises every net.
    epochs, eta, lmbda
        Default 500, 0.1, 5.0, as in the book.
    hidden : sequence of int
        Numbers of hidden layers, default (2, 3, 4).
    width : int
        Neurons per hidden layer (30).
    data : (X, y) or None
        Default: the embedded first 1,000 MNIST training images.
    figures : bool
        Draw the PNG figures (needs matplotlib) when writing to ``out_dir``.
    progress : callable(sizes, epoch, history) or None
        Called after every epoch of every net.

    Returns
    -------
    Chapter5Result
    """
    X, y = _data(data)
    hidden = [int(k) for k in hidden]
    if not hidden:
        raise ValueError("hidden must name at least one number of hidden layers")
    settings: dict[str, Any] = {
        "seed": seed, "epochs": int(epochs), "eta": float(eta), "lmbda": float(lmbda),
        "batch_size": len(X), "n_examples": len(X),
        "data": ("first 1,000 MNIST training images (embedded)" if data is None
                 else "user data"),
        "cost": "cross_entropy", "init": "default",
        "sizes": {str(k): chapter5_sizes(k, width) for k in hidden},
        "gradcore_version": __version__,
    }
    runs: dict[int, SpeedsRun] = {}
    for k in hidden:
        sizes = chapter5_sizes(k, width)
        cb = None
        if progress is not None:
            def cb(epoch: int, history: History, _sizes: list[int] = sizes) -> None:
                progress(_sizes, epoch, history)
        runs[k] = speeds_during_training(sizes, (X, y), epochs=epochs, eta=eta, lmbda=lmbda,
                                         seed=seed, callback=cb)
    result = Chapter5Result(runs=runs, settings=settings)
    if out_dir is not None:
        _write_chapter5(result, pathlib.Path(out_dir), figures)
    return result


def _write_chapter5(result: Chapter5Result, out: pathlib.Path, figures: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for k, run in result.runs.items():
        result.paths[f"learning speeds per epoch, {k} hidden layers (CSV)"] = \
            write_speeds_csv(run, out / f"speeds_{k}_hidden.csv")
    json_path = out / "chapter5.json"
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(), fh, indent=1, allow_nan=False)
        fh.write("\n")
    result.paths["all data and the run's settings (JSON)"] = json_path
    if figures:
        from . import plotting

        for k, run in result.runs.items():
            fig = plotting.speeds_figure(run)
            result.paths[f"figure: speed of learning, {k} hidden layers (PNG)"] = \
                plotting.save_figure(fig, out / f"speeds_{k}_hidden.png")
        fig = plotting.initial_deltas_figure(list(result.runs.values()))
        result.paths["figure: initial delta of the first six neurons per hidden layer (PNG)"] = \
            plotting.save_figure(fig, out / "initial_deltas.png")


# ---------------------------------------------------------------------- chain


@dataclass
class ChainResult:
    """A chain of one sigmoid neuron per layer, x → neuron 1 → … → neuron d → C.

    All arrays have one entry per neuron j = 1 … d (index j − 1). The cost is quadratic,
    C = (a_d − y)²/2, so that, as in the book,
    ∂C/∂b₁ = σ'(z₁)·w₂σ'(z₂)·w₃σ'(z₃)·…·w_dσ'(z_d)·∂C/∂a_d.

    Attributes
    ----------
    x, target : float
        The input and the target y.
    weights, biases, z, activations, sigma_prime : ndarray (d,)
        w_j, b_j, z_j = w_j·a_{j−1} + b_j, a_j = σ(z_j), σ'(z_j).
    factors : ndarray (d,)
        w_j·σ'(z_j), the book's factor of each layer.
    grad_b : ndarray (d,)
        ∂C/∂b_j, computed by :meth:`gradcore.Network.gradient`.
    """

    x: float
    target: float
    weights: np.ndarray
    biases: np.ndarray
    z: np.ndarray
    activations: np.ndarray
    sigma_prime: np.ndarray
    factors: np.ndarray
    grad_b: np.ndarray

    @property
    def depth(self) -> int:
        """Number of neurons in the chain."""
        return int(self.weights.shape[0])

    @property
    def ratios(self) -> np.ndarray:
        """∂C/∂b_{j−1} / ∂C/∂b_j for j = 2 … d (= w_j·σ'(z_{j−1})): the growth per layer
        going backwards."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.grad_b[:-1] / self.grad_b[1:])


@dataclass
class Chain:
    """The exploding and the vanishing chain of :func:`chain`."""

    exploding: ChainResult
    vanishing: ChainResult


def chain_gradients(weights: Sequence[float], biases: Sequence[float], x: float = 1.0,
                    target: float = 0.0) -> ChainResult:
    """Forward values, factors w·σ'(z) and ∂C/∂b of a chain of one neuron per layer.

    The gradient comes from gradcore's own :meth:`~gradcore.Network.gradient` on a
    ``Network([1] * (d + 1), cost="quadratic")`` holding these weights and biases.

    Parameters
    ----------
    weights, biases : sequence of float, length d >= 1
    x : float
        The input.
    target : float in [0, 1]
        The target y of the quadratic cost.

    Returns
    -------
    ChainResult
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    b = np.asarray(biases, dtype=np.float64).reshape(-1)
    if w.size < 1 or w.shape != b.shape:
        raise ValueError(f"weights and biases must have the same length >= 1, got "
                         f"{w.size} and {b.size}")
    if not (np.isfinite(w).all() and np.isfinite(b).all() and math.isfinite(x)):
        raise ValueError("weights, biases and x must be finite")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be in [0, 1], got {target}")
    d = int(w.size)
    net = Network([1] * (d + 1), cost="quadratic", seed=0)
    for j in range(d):
        net.weights[j] = w[j].reshape(1, 1)
        net.biases[j] = b[j].reshape(1)
    X = np.array([[float(x)]])
    zs, acts = _ref.forward(list(net.weights), list(net.biases), X)
    z = np.array([float(v[0, 0]) for v in zs])
    a = np.array([float(v[0, 0]) for v in acts[1:]])
    sp = a * (1.0 - a)
    _, nabla_b = net.gradient(X, np.array([[float(target)]]))
    grad_b = np.array([float(g[0]) for g in nabla_b])
    return ChainResult(x=float(x), target=float(target), weights=w, biases=b, z=z,
                       activations=a, sigma_prime=sp, factors=w * sp, grad_b=grad_b)


@validated("experiments.exploding_chain")
def exploding_chain(depth: int = 4, weight: float = 100.0, x: float = 1.0) -> ChainResult:
    """Every weight ``weight``, biases chosen so that every z is 0 (σ'(0) = 1/4).

    b₁ = −w·x and b_j = −w·σ(0) = −w/2 for j ≥ 2, so every factor w·σ'(z) is w/4 (25 for
    w = 100) and ∂C/∂b grows by that factor per layer going backwards.
    """
    biases = [-weight * x] + [-weight * 0.5] * (depth - 1)
    return chain_gradients([weight] * depth, biases, x)


@validated("experiments.vanishing_chain")
def vanishing_chain(depth: int = 4, seed: int | None = 0, x: float = 1.0) -> ChainResult:
    """Weights and biases ~ N(0, 1), the default initialisation of a one-input neuron.

    The parameters are those of ``Network([1] * (depth + 1), seed=seed)``. Since σ' ≤ 1/4,
    every factor satisfies |w·σ'(z)| ≤ |w|/4, below 1/4 whenever |w| < 1 (about two thirds
    of the draws), so ∂C/∂b typically shrinks going backwards.
    """
    net = Network([1] * (depth + 1), seed=seed)
    return chain_gradients([float(v[0, 0]) for v in net.weights],
                           [float(v[0]) for v in net.biases], x)


@validated("experiments.chain")
def chain(depth: int = 4, weight: float = 100.0, *, seed: int | None = 0) -> Chain:
    """The book's exploding and vanishing chains of ``depth`` neurons.

    Returns
    -------
    Chain
        ``.exploding`` (:func:`exploding_chain` with ``weight``) and ``.vanishing``
        (:func:`vanishing_chain` with ``seed``).
    """
    return Chain(exploding=exploding_chain(depth, weight),
                 vanishing=vanishing_chain(depth, seed))


# --------------------------------------------------------------- full MNIST


def _mnist(data: Any, path: PathLike | None) -> Any:
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
                callback: Callable[[int, History], None] | None = None) -> MNISTTraining:
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
    net = Network(sizes, seed=seed)
    mnist = _mnist(data, path)
    last: list[History] = []

    def cb(epoch: int, history: History) -> None:
        last[:] = [history]
        if callback is not None:
            callback(epoch, history)

    X, y = mnist.training
    try:
        result = train(net, X, y, epochs=epochs, batch_size=batch_size, eta=eta,
                       lmbda=lmbda, seed=seed, evaluation_data=mnist.validation, callback=cb)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(net, last[0] if last else None) from exc
    Xt, yt = mnist.test
    return MNISTTraining(network=net, history=result.history,
                         test_accuracy=net.accuracy(Xt, yt))


@dataclass
class DepthResult:
    """Validation accuracy against depth (:func:`depth`).

    Attributes
    ----------
    sizes : list of tuple of int
    seeds : list of int
    epochs : int
    accuracy : ndarray (n_nets, n_seeds)
        Validation accuracy (fraction) after the last epoch.
    best_accuracy : ndarray (n_nets, n_seeds)
        Best validation accuracy over the epochs.
    """

    sizes: list[tuple[int, ...]]
    seeds: list[int]
    epochs: int
    accuracy: np.ndarray
    best_accuracy: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean final validation accuracy per net, in %."""
        return np.asarray(100.0 * self.accuracy.mean(axis=1))

    @property
    def sd(self) -> np.ndarray:
        """Sample standard deviation (ddof 1) over seeds per net, in %; NaN with one seed."""
        if self.accuracy.shape[1] < 2:
            return np.full(len(self.sizes), np.nan)
        return np.asarray(100.0 * self.accuracy.std(axis=1, ddof=1))

    @property
    def book(self) -> list[float | None]:
        """The book's accuracy (%) of each net, None for nets the book did not train."""
        return [BOOK_DEPTH_ACCURACY.get(tuple(s)) for s in self.sizes]


@validated("experiments.depth")
def depth(data: Any = None, *, path: PathLike | None = None, epochs: int = 30,
          seeds: int | Sequence[int] = 1, sizes: Sequence[Sequence[int]] = DEPTH_SIZES,
          batch_size: int = 10, eta: float = 0.1, lmbda: float = 5.0,
          callback: Callable[[tuple[int, ...], int, int, History], None] | None = None
          ) -> DepthResult:
    """Validation accuracy of nets of increasing depth, over several seeds.

    Parameters
    ----------
    data : object with ``training`` and ``validation`` (X, y) pairs, or None
        Default: :func:`gradcore.datasets.load_mnist` of ``path``.
    path : path or None
        The folder of the four IDX files.
    epochs, batch_size, eta, lmbda
        The book: 30, 10, 0.1, 5.0.
    seeds : int or sequence of int
        K (meaning seeds 0 … K−1) or the seeds themselves.
    sizes : sequence of sizes
        Default :data:`DEPTH_SIZES` (1 to 4 hidden layers of 30).
    callback : callable(sizes, seed, epoch, history) or None
        Called after every epoch of every run.

    Returns
    -------
    DepthResult
    """
    seed_list: list[int] = seeds  # type: ignore[assignment]  # a list once validated
    if not sizes:
        raise ValueError("sizes is empty")
    nets = [check_sizes(s) for s in sizes]  # every net checked before any training
    mnist = _mnist(data, path)
    X, y = mnist.training
    final = np.zeros((len(nets), len(seed_list)))
    best = np.zeros_like(final)
    for i, s in enumerate(nets):
        for j, seed in enumerate(seed_list):
            cb = None
            if callback is not None:
                def cb(epoch: int, history: History, _s: tuple[int, ...] = s,
                       _seed: int = seed) -> None:
                    callback(_s, _seed, epoch, history)
            h = train(s, X, y, epochs=epochs, batch_size=batch_size, eta=eta, lmbda=lmbda,
                      seed=seed, evaluation_data=mnist.validation, callback=cb).history
            acc = np.asarray(h.evaluation_accuracy)
            final[i, j] = acc[-1] if acc.size else np.nan
            best[i, j] = acc.max() if acc.size else np.nan
    return DepthResult(sizes=nets, seeds=seed_list, epochs=int(epochs), accuracy=final,
                       best_accuracy=best)
