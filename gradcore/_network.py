"""Network, train() and the training history: the public API over the compiled core."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from . import _core
from . import reference as _ref
from ._validation import (
    COSTS,
    as_inputs,
    as_targets,
    check_choice,
    check_dtype,
    check_init,
    check_int,
    check_real,
    check_sizes,
)

__all__ = ["Network", "train", "TrainResult", "History", "DivergenceError", "Stopped",
           "StopFlag"]

StopFlag = _core.StopFlag


class Stopped(Exception):
    """A call was stopped because its :class:`StopFlag` was set.

    Raised by :func:`train` and the kernels of :mod:`gradcore.kernels` given ``stop=flag``
    once ``flag.set()`` was called (from any thread). From :func:`train` it carries what
    was kept; elsewhere those attributes are None.

    Attributes
    ----------
    epoch : int or None
        The epoch (0-based) in which training stopped.
    batch : int or None
        Mini-batches of that epoch whose update was applied before it stopped.
    history : History or None
        The epochs completed.
    network : Network or None
        The network, with every update applied before the stop.
    """

    def __init__(self, message: str, *, epoch: int | None = None, batch: int | None = None,
                 history: History | None = None, network: Network | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history
        self.network = network


class DivergenceError(ArithmeticError):
    """Training produced a non-finite cost or non-finite parameters.

    Attributes
    ----------
    epoch : int
        The epoch (0-based) in which it happened.
    batch : int
        The mini-batch (0-based, within that epoch) whose update left non-finite values
        behind or whose cost was not finite.
    history : History
        What was recorded up to the last complete epoch.
    network : Network
        The network, restored to the last state in which all its parameters were finite
        (the state after ``batch`` mini-batches of ``epoch``).
    """

    def __init__(self, message: str, *, epoch: int, batch: int, history: History,
                 network: Network) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history
        self.network = network


def layer_views(buf: np.ndarray,
                sizes: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-layer (weights, biases) views into a buffer laid out as W₀, b₀, W₁, b₁, …"""
    ws, bs = [], []
    off = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        ws.append(buf[off:off + n_out * n_in].reshape(n_out, n_in))
        off += n_out * n_in
        bs.append(buf[off:off + n_out])
        off += n_out
    return ws, bs


class _LayerArrays(Sequence[np.ndarray]):
    """The per-layer views of a network's parameter buffer (``net.weights``/``net.biases``).

    Indexing gives the view itself, so ``net.weights[0][...] = w`` or
    ``net.weights[0] = w`` both write into the network; an array of the wrong shape is
    refused. The list itself cannot grow or shrink.
    """

    def __init__(self, views: list[np.ndarray], what: str) -> None:
        self._views = views
        self._what = what

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...
    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self._views[i]

    def __setitem__(self, i: int, value: Any) -> None:
        view = self._views[i]
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{self._what}[{i}] must hold real numbers, got dtype {arr.dtype}")
        if arr.shape != view.shape:
            raise ValueError(f"{self._what}[{i}] must have shape {view.shape}, "
                             f"got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{self._what}[{i}] must be finite")
        view[...] = arr

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._views)

    def __repr__(self) -> str:
        return f"[{', '.join(f'array{v.shape}' for v in self._views)}]"


class Network:
    """A fully connected network of sigmoid neurons (output layer included).

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, inputs first, e.g. ``[784, 30, 30, 10]``.
    cost : {"cross_entropy", "quadratic"}
        Cross-entropy (δᴸ = aᴸ − y) or quadratic (δᴸ = (aᴸ − y)·σ'(zᴸ)).
    init : {"default", "large"} or float
        "default": weights of a layer with n_in inputs ~ N(0, 1/n_in), biases ~ N(0, 1).
        "large": weights ~ N(0, 1), biases ~ N(0, 1).
        A number s > 0: weights ~ N(0, s²/n_in), biases ~ N(0, 1) (s = 1 is "default").
    seed : int or None
        Seed of the initialisation (None: fresh entropy).
    dtype : numpy.float64 or numpy.float32
        Precision of parameters and computation.

    Attributes
    ----------
    sizes : tuple of int
    weights : sequence of arrays
        ``weights[l]`` is ``(sizes[l+1], sizes[l])``, a view on the parameter buffer.
    biases : sequence of arrays
        ``biases[l]`` is ``(sizes[l+1],)``, a view on the parameter buffer.
    params : ndarray
        The whole parameter buffer (W₀, b₀, W₁, b₁, … flattened), shared with the views.
    """

    def __init__(self, sizes: Sequence[int], *, cost: str = "cross_entropy",
                 init: str | float = "default",
                 seed: int | np.random.SeedSequence | None = None,
                 dtype: Any = np.float64) -> None:
        self.sizes = check_sizes(sizes)
        self.cost = check_choice("cost", cost, COSTS)
        init = check_init(init)
        self.dtype = check_dtype(dtype)
        self._sizes32 = np.array(self.sizes, dtype=np.int32)
        self._bind(np.zeros(int(_core.param_count(self._sizes32)), dtype=self.dtype))
        rng = np.random.default_rng(seed)
        for w, b in zip(self.weights, self.biases):
            scale = 1.0 if init == "large" else _weight_scale(init) / np.sqrt(w.shape[1])
            w[...] = rng.standard_normal(w.shape) * scale
            b[...] = rng.standard_normal(b.shape)

    # ------------------------------------------------------------------ helpers
    @property
    def n_layers(self) -> int:
        """Number of layers with weights (len(sizes) − 1)."""
        return len(self.sizes) - 1

    def _cost_code(self) -> int:
        return _core.COST_CODES[self.cost]

    def _inputs(self, X: Any, name: str = "X") -> np.ndarray:
        return as_inputs(X, self.sizes[0], self.dtype, name)

    def _targets(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        return as_targets(y, n, self.sizes[-1], self.dtype, name)

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = X.shape[0]
        z = np.empty((n, self.sizes[-1]), dtype=self.dtype)
        a = np.empty_like(z)
        _core.feedforward(self.params, self._sizes32, self._cost_code(), X, z, a)
        return z, a

    def _bind(self, params: np.ndarray) -> None:
        """Make ``params`` the parameter buffer and build the per-layer views on it."""
        self.params = params
        w_views, b_views = layer_views(params, self.sizes)
        self.weights = _LayerArrays(w_views, "weights")
        self.biases = _LayerArrays(b_views, "biases")

    def copy(self) -> Network:
        """An independent network with the same sizes, cost, dtype and parameters."""
        net = Network.__new__(Network)
        net.__setstate__(self.__getstate__())
        return net

    def __getstate__(self) -> dict[str, Any]:
        # the views are rebuilt on unpickling, so they point into the restored buffer
        return {"sizes": self.sizes, "cost": self.cost, "dtype": self.dtype.str,
                "params": self.params.copy()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sizes = tuple(state["sizes"])
        self.cost = state["cost"]
        self.dtype = np.dtype(state["dtype"])
        self._sizes32 = np.array(self.sizes, dtype=np.int32)
        self._bind(np.ascontiguousarray(state["params"], dtype=self.dtype))

    def __deepcopy__(self, memo: dict[int, Any]) -> Network:
        return self.copy()

    def save(self, path: Any) -> None:
        """Write the network as JSON in network2's layout (see :func:`gradcore.load`)."""
        from ._io import save_network

        save_network(self, path)

    def __repr__(self) -> str:
        return (f"Network(sizes={list(self.sizes)}, cost={self.cost!r}, "
                f"dtype={self.dtype.name})")

    # ------------------------------------------------------------------ evaluation
    def feedforward(self, X: Any) -> np.ndarray:
        """Output activations, shape (n, sizes[-1]), for the rows of X (n, sizes[0])."""
        return self._forward(self._inputs(X))[1]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (n,): the index of the most active output neuron."""
        return np.asarray(np.argmax(self.feedforward(X), axis=1))

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of the rows of X whose predicted label equals y (labels or one-hot)."""
        Xc = self._inputs(X)
        labels = np.argmax(self._targets(y, Xc.shape[0]), axis=1)
        return float(np.mean(np.argmax(self._forward(Xc)[1], axis=1) == labels))

    def total_cost(self, X: Any, y: Any, lmbda: float = 0.0) -> float:
        """Mean cost over the rows of X plus the L2 term λ/(2n)·Σ‖w‖² (n = len(X))."""
        lmbda = check_real("lmbda", lmbda, positive=False)
        Xc = self._inputs(X)
        Y = self._targets(y, Xc.shape[0])
        return _total_cost(self, Xc, Y, lmbda)

    def gradient(self, X: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(∂C/∂W per layer, ∂C/∂b per layer) for C = mean cost over X, no regularisation."""
        return layer_views(self._gradient_buffer(X, y), self.sizes)

    def learning_speeds(self, X: Any, y: Any) -> np.ndarray:
        """‖mean over X of δˡ‖ for every layer with weights, output last, at these weights.

        δˡ = ∂C/∂bˡ, so this is the norm of each layer's mean bias gradient: the speed at
        which layer l learns ("Neural Networks and Deep Learning", chapter 5).
        """
        _, nabla_b = self.gradient(X, y)
        return np.array([np.linalg.norm(g.astype(np.float64)) for g in nabla_b])

    def _gradient_buffer(self, X: Any, y: Any) -> np.ndarray:
        Xc = self._inputs(X)
        Y = self._targets(y, Xc.shape[0])
        grad = np.empty_like(self.params)
        st, _ = _core.gradient(self.params, self._sizes32, self._cost_code(), Xc, Y, grad)
        if st == _core.STATUS_INTERRUPTED:
            raise KeyboardInterrupt("gradient computation interrupted")
        return grad


def _weight_scale(init: str | float) -> float:
    return 1.0 if init == "default" else float(init)


def _evaluate(net: Network, X: np.ndarray, Y: np.ndarray,
              lmbda: float) -> tuple[float, np.ndarray]:
    """(mean cost + L2 term with n = len(X), output activations) in one forward pass."""
    z, a = net._forward(X)
    f64 = [np.asarray(v, dtype=np.float64) for v in (z, a, Y)]
    c = float(np.mean(_ref.cost_per_example(net.cost, *f64)))
    return c + _l2_term(net, lmbda, int(X.shape[0])), a


def _total_cost(net: Network, X: np.ndarray, Y: np.ndarray, lmbda: float) -> float:
    return _evaluate(net, X, Y, lmbda)[0]


def _l2_term(net: Network, lmbda: float, n: int) -> float:
    """λ/(2n)·Σ‖w‖² (exactly 0 for λ = 0, even when the weights overflow)."""
    return 0.5 * (lmbda / n) * _sum_sq_weights(net) if lmbda else 0.0


def _sum_sq_weights(net: Network) -> float:
    # Not np.dot: a BLAS call here wakes BLAS's worker threads, whose spinning steals the
    # second core from a network training in another thread.
    with np.errstate(over="ignore"):  # huge weights give inf, which train() reports
        return float(sum(np.sum(np.square(w, dtype=np.float64)) for w in net.weights))


@dataclass
class History:
    """Per-epoch record of a training run (one row or entry per completed epoch).

    Attributes
    ----------
    learning_speeds : ndarray (epochs, n_layers)
        In-epoch learning speed of every layer with weights, output last: the norm of the
        mean, over the epoch's mini-batches, of each mini-batch's mean ∂C/∂b (weights move
        during the epoch). For full-batch gradient descent it is exactly the speed at the
        weights the epoch starts from.
    training_cost : ndarray (epochs,)
        Mean cost of the training examples as the epoch saw them (each at the weights
        before its mini-batch's update), plus λ/(2n)·Σ‖w‖² at the epoch's end.
    evaluation_accuracy, evaluation_cost : ndarray (epochs,) or None
        On ``evaluation_data`` after each epoch, when it was given (cost includes the L2
        term with n = len(evaluation data), as in network2).
    """

    learning_speeds: np.ndarray
    training_cost: np.ndarray
    evaluation_accuracy: np.ndarray | None = None
    evaluation_cost: np.ndarray | None = None

    @property
    def epochs(self) -> int:
        """Number of completed epochs recorded."""
        return int(self.training_cost.shape[0])

    def as_dict(self) -> dict[str, Any]:
        """Plain lists, ready for JSON."""
        d: dict[str, Any] = {
            "learning_speeds": self.learning_speeds.tolist(),
            "training_cost": self.training_cost.tolist(),
        }
        if self.evaluation_accuracy is not None:
            d["evaluation_accuracy"] = self.evaluation_accuracy.tolist()
            d["evaluation_cost"] = self.evaluation_cost.tolist()  # type: ignore[union-attr]
        return d


class _Recorder:
    """The history of a run, in arrays allocated once for all its epochs.

    ``history()`` gives read-only views of the epochs recorded so far, so handing the
    history to a callback after every epoch costs the same at epoch 10 and at epoch 10⁶.
    """

    def __init__(self, epochs: int, n_layers: int, with_eval: bool) -> None:
        self.done = 0
        self.speeds = np.zeros((epochs, n_layers))
        self.cost = np.zeros(epochs)
        self.acc = np.zeros(epochs) if with_eval else None
        self.eval_cost = np.zeros(epochs) if with_eval else None

    def add(self, speeds: np.ndarray, cost: float,
            evaluation: tuple[float, float] | None) -> None:
        e = self.done
        self.speeds[e] = speeds
        self.cost[e] = cost
        if evaluation is not None:
            self.acc[e], self.eval_cost[e] = evaluation  # type: ignore[index]
        self.done = e + 1

    def history(self) -> History:
        def view(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            v = a[:self.done]
            v.flags.writeable = False
            return v

        return History(learning_speeds=view(self.speeds),  # type: ignore[arg-type]
                       training_cost=view(self.cost),  # type: ignore[arg-type]
                       evaluation_accuracy=view(self.acc), evaluation_cost=view(self.eval_cost))


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained ``network`` and its ``history``."""

    network: Network
    history: History


def _speed_norms(speed_sum: np.ndarray, sizes: tuple[int, ...], n_batches: int) -> np.ndarray:
    out = np.empty(len(sizes) - 1)
    off = 0
    for l, n_out in enumerate(sizes[1:]):
        out[l] = np.linalg.norm(speed_sum[off:off + n_out] / max(n_batches, 1))
        off += n_out
    return out


def train(network_or_sizes: Network | Sequence[int], X: Any, y: Any, *, epochs: int,
          batch_size: int, eta: float, lmbda: float = 0.0,
          seed: int | None = None, evaluation_data: tuple[Any, Any] | None = None,
          cost: str | None = None, init: str | float | None = None, dtype: Any = None,
          callback: Callable[[int, History], None] | None = None,
          stop: StopFlag | None = None) -> TrainResult:
    """Train a sigmoid network with mini-batch SGD and L2 weight decay.

    For every mini-batch of m examples (the last of an epoch may be shorter):
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w`` and ``b ← b − (η/m)·Σ∇b``, n = len(X).
    Whole epochs run in compiled code without the GIL; Python runs once per epoch.

    Parameters
    ----------
    network_or_sizes : Network or sequence of int
        A network to train in place, or layer sizes to build one (with ``cost``, ``init``,
        ``dtype`` and a seed derived from ``seed``).
    X : array (n, sizes[0])
        Training inputs (converted once to the network's dtype if needed).
    y : array (n,) of int labels or (n, sizes[-1]) one-hot rows
    epochs, batch_size, eta, lmbda
        Number of epochs (>= 0), mini-batch size m (>= 1; m >= n is full-batch gradient
        descent), learning rate η > 0, L2 strength λ >= 0.
    seed : int or None
        Fixes the initialisation (when sizes are given) and the shuffling: the same seed
        gives the same result, bit for bit.
    evaluation_data : (X_eval, y_eval) or None
        Evaluated after every epoch (accuracy and cost).
    callback : callable(epoch, history) or None
        Called after every epoch with the 0-based epoch index and the history so far (its
        arrays are read-only views, valid until train() returns).
    stop : StopFlag or None
        ``stop.set()``, from any thread, stops training at the next mini-batch boundary.

    Returns
    -------
    TrainResult
        ``.network`` (the trained network) and ``.history`` (a :class:`History`).

    Raises
    ------
    DivergenceError
        A cost or parameter became non-finite; the network is restored to its last finite
        state and the exception carries the history.
    Stopped
        ``stop`` was set; the network keeps every update applied so far, and the exception
        carries it and the history.
    KeyboardInterrupt
        Ctrl-C while training runs in the main thread: training stops at the next
        mini-batch boundary; the network keeps every update applied so far. (Training in
        other threads goes on; stop it with its ``stop`` flag.)
    """
    run = _TrainingRun.start(network_or_sizes, X, y, epochs=epochs, batch_size=batch_size,
                             eta=eta, lmbda=lmbda, seed=seed, cost=cost, init=init,
                             dtype=dtype, evaluation_data=evaluation_data, stop=stop)
    for epoch in range(run.epochs):
        run.epoch(epoch)
        if callback is not None:
            callback(epoch, run.rec.history())
    return TrainResult(network=run.net, history=run.rec.history())


@dataclass
class _TrainingRun:
    """The checked inputs of one train() call and what it recorded so far."""

    net: Network
    X: np.ndarray
    Y: np.ndarray
    epochs: int
    batch_size: int
    eta: float
    lmbda: float
    evaluation: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # X, Y, labels
    stop: StopFlag | None
    rng: np.random.Generator
    rec: _Recorder

    @classmethod
    def start(cls, network_or_sizes: Network | Sequence[int], X: Any, y: Any, *,
              epochs: int, batch_size: int, eta: float, lmbda: float, seed: Any,
              cost: str | None, init: str | float | None, dtype: Any,
              evaluation_data: tuple[Any, Any] | None, stop: Any) -> _TrainingRun:
        epochs = check_int("epochs", epochs, 0)
        batch_size = check_int("batch_size", batch_size, 1)
        eta = check_real("eta", eta, positive=True)
        lmbda = check_real("lmbda", lmbda, positive=False)
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer or None, got {seed!r}")
        if stop is not None and not isinstance(stop, StopFlag):
            raise TypeError(f"stop must be a gradcore.StopFlag or None, got {stop!r}")
        init_seed, shuffle_seed = np.random.SeedSequence(seed).spawn(2)
        net = _network_to_train(network_or_sizes, cost, init, dtype, init_seed)
        Xc = net._inputs(X)
        Y = net._targets(y, Xc.shape[0])
        evaluation = None
        if evaluation_data is not None:
            if not isinstance(evaluation_data, (tuple, list)) or len(evaluation_data) != 2:
                raise TypeError("evaluation_data must be a pair (X_eval, y_eval)")
            Xe = net._inputs(evaluation_data[0], "evaluation_data[0]")
            Ye = net._targets(evaluation_data[1], Xe.shape[0], "evaluation_data[1]")
            evaluation = (Xe, Ye, np.argmax(Ye, axis=1))
        return cls(net, Xc, Y, epochs, batch_size, eta, lmbda, evaluation, stop,
                   np.random.default_rng(shuffle_seed),
                   _Recorder(epochs, net.n_layers, evaluation is not None))

    def epoch(self, epoch: int) -> None:
        """Run one epoch and record it; raise what stopped it."""
        net, n = self.net, self.X.shape[0]
        perm = self.rng.permutation(n).astype(np.int64)
        snapshot = net.params.copy()
        speed_sum = np.zeros(sum(net.sizes[1:]))
        st, cost_sum, done = _core.sgd_epoch(net.params, net._sizes32, net._cost_code(),
                                             self.X, self.Y, perm, self.batch_size, self.eta,
                                             self.lmbda, speed_sum, -1, self.stop)
        if st == _core.STATUS_NONFINITE:
            self._diverged(epoch, snapshot, perm, done)
        self._check_stopped(st, epoch, done)
        epoch_cost = cost_sum / n + _l2_term(net, self.lmbda, n)
        if not np.isfinite(epoch_cost):
            raise DivergenceError(
                f"training diverged in epoch {epoch} (0-based): the parameters are finite "
                f"but so large that the cost overflows (eta={self.eta}, lmbda={self.lmbda}, "
                f"n={n}); the network is kept as it is at the end of that epoch",
                epoch=epoch, batch=done, history=self.rec.history(), network=net)
        evaluation = None
        if self.evaluation is not None:
            Xe, Ye, labels = self.evaluation
            eval_cost, a = _evaluate(net, Xe, Ye, self.lmbda)
            evaluation = (float(np.mean(np.argmax(a, axis=1) == labels)), eval_cost)
        self.rec.add(_speed_norms(speed_sum, net.sizes, done), epoch_cost, evaluation)

    def _check_stopped(self, st: int, epoch: int, done: int) -> None:
        if st == _core.STATUS_INTERRUPTED:
            raise KeyboardInterrupt(
                f"training interrupted in epoch {epoch} (0-based) after {done} complete "
                f"mini-batches; the network keeps those updates")
        if st == _core.STATUS_STOPPED:
            raise Stopped(f"training stopped in epoch {epoch} (0-based) after {done} "
                          f"complete mini-batches; the network keeps those updates",
                          epoch=epoch, batch=done, history=self.rec.history(),
                          network=self.net)

    def _diverged(self, epoch: int, snapshot: np.ndarray, perm: np.ndarray,
                  done: int) -> None:
        net, n = self.net, self.X.shape[0]
        if not np.isfinite(snapshot).all():
            net.params[...] = snapshot
            raise DivergenceError(
                f"the parameters held NaN or infinite values at the start of epoch {epoch} "
                f"(0-based): they were changed outside training (by the callback?); the "
                f"network is left as it was then",
                epoch=epoch, batch=0, history=self.rec.history(), network=net)
        batch = self._restore_last_finite(epoch, snapshot, perm, done)
        raise DivergenceError(
            f"training diverged in epoch {epoch} (0-based), mini-batch {batch}: the cost "
            f"or the parameters became NaN or infinite (eta={self.eta}, lmbda={self.lmbda}, "
            f"n={n}, decay factor 1 - eta*lmbda/n = {1 - self.eta * self.lmbda / n:.6g}); "
            f"the network is restored to its state before that mini-batch's update",
            epoch=epoch, batch=batch, history=self.rec.history(), network=net)

    def _replay(self, params: np.ndarray, perm: np.ndarray, first: int, count: int,
                epoch: int) -> None:
        """Apply mini-batches first … first+count−1 of the epoch to params."""
        m = self.batch_size
        st, _, _ = _core.sgd_epoch(params, self.net._sizes32, self.net._cost_code(),
                                   self.X, self.Y, perm[first * m:], m, self.eta, self.lmbda,
                                   np.zeros(sum(self.net.sizes[1:])), count, self.stop)
        self._check_stopped(st, epoch, first)

    def _restore_last_finite(self, epoch: int, snapshot: np.ndarray, perm: np.ndarray,
                             done: int) -> int:
        """Put the last finite state of the failed epoch back; return its mini-batch count.

        The kernels are deterministic, so replaying r mini-batches from the snapshot gives
        exactly the state the failed run had after r. Mini-batch ``done − 1`` failed, so the
        state wanted is the one after the largest r ≤ done − 1 with finite parameters. Once
        a parameter is NaN or infinite every later update keeps it so, so the replay runs
        in segments of about √done mini-batches, checking after each, and goes one
        mini-batch at a time only through the segment where the parameters stop being
        finite: about one extra epoch in all. Ctrl-C and ``stop`` work during it (the
        network then holds the last finite state found so far).
        """
        params, state = self.net.params, snapshot.copy()  # state: after r finite batches
        r, target = 0, done - 1
        seg = max(1, math.isqrt(target))
        try:
            while r < target:
                k = min(seg, target - r)
                params[...] = state
                self._replay(params, perm, r, k, epoch)
                if np.isfinite(params).all():
                    state[...] = params
                    r += k
                elif k == 1:
                    break
                else:
                    seg = 1  # the parameters stop being finite in this segment
        finally:
            params[...] = state
        return r


def _network_to_train(network_or_sizes: Network | Sequence[int], cost: str | None,
                      init: str | float | None, dtype: Any, seed: Any) -> Network:
    if isinstance(network_or_sizes, Network):
        if cost is not None or init is not None or dtype is not None:
            raise ValueError("cost, init and dtype apply only when train() builds the "
                             "network from sizes; this network already has them")
        return network_or_sizes
    return Network(network_or_sizes, cost=cost or "cross_entropy", init=init or "default",
                   seed=seed, dtype=np.float64 if dtype is None else dtype)
