"""train(): mini-batch SGD over whole epochs in the compiled core, and its history."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._core import StopFlag
from ._errors import DivergenceError, Stopped
from ._layout import bias_offsets
from ._network import Network, evaluate, l2_term
from ._validation import validated

__all__ = ["train", "TrainResult", "History"]


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

    def to_frame(self) -> Any:
        """The history as a tidy pandas DataFrame: one row per epoch and layer.

        Columns: ``epoch`` (0-based, as the callback's), ``layer`` (``hidden_1``, …,
        ``output``), ``speed`` (from ``learning_speeds``) and every other per-layer
        record under its own name, then the per-epoch records repeated on each of their
        epoch's rows: ``training_cost`` and, when there was evaluation data,
        ``evaluation_accuracy`` and ``evaluation_cost``. Needs pandas (the ``pandas``
        extra).

        Returns
        -------
        pandas.DataFrame
            ``epochs × layers`` rows; ``frame.pivot(index="epoch", columns="layer",
            values="speed")`` gives ``learning_speeds`` back.

        Raises
        ------
        ImportError
            pandas is not installed (the message names the extra to install).
        """
        from dataclasses import fields

        from ._pandas import require_pandas

        pd = require_pandas("History.to_frame()")
        per_layer: dict[str, np.ndarray] = {"speed": np.asarray(self.learning_speeds)}
        per_epoch: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "learning_speeds":
                continue
            target = per_layer if np.ndim(value) == 2 else per_epoch
            target[f.name] = np.asarray(value)
        epochs, n_layers = per_layer["speed"].shape
        names = [f"hidden_{i + 1}" for i in range(n_layers - 1)] + ["output"]
        columns: dict[str, Any] = {
            "epoch": np.repeat(np.arange(epochs, dtype=np.int64), n_layers),
            "layer": pd.Categorical(np.tile(names, epochs), categories=names, ordered=True),
        }
        columns.update({name: a.reshape(-1) for name, a in per_layer.items()})
        columns.update({name: np.repeat(a, n_layers) for name, a in per_epoch.items()})
        return pd.DataFrame(columns)


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
    """Per layer, ‖its part of speed_sum / n_batches‖: the in-epoch learning speed."""
    return np.array([np.linalg.norm(speed_sum[start:end] / max(n_batches, 1))
                     for start, end in bias_offsets(sizes)])


@validated("train")
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
        batch_size = min(batch_size, Xc.shape[0])  # m >= n is full batch: one of n
        return cls(net, Xc, Y, epochs, batch_size, eta, lmbda, evaluation, stop,
                   np.random.default_rng(shuffle_seed),
                   _Recorder(epochs, net.n_layers, evaluation is not None))

    def epoch(self, epoch: int) -> None:
        """Run one epoch and record it; raise what stopped it."""
        net, n = self.net, self.X.shape[0]
        perm = self.rng.permutation(n).astype(np.int64, copy=False)
        snapshot = net.params.copy()
        speed_sum = np.zeros(sum(net.sizes[1:]))
        st, cost_sum, done = _core.sgd_epoch(net.params, net._sizes32, net._cost_code(),
                                             self.X, self.Y, perm, self.batch_size, self.eta,
                                             self.lmbda, speed_sum, -1, self.stop)
        if st == _core.STATUS_NONFINITE:
            self._diverged(epoch, snapshot, perm, done)
        self._check_stopped(st, epoch, done)
        epoch_cost = cost_sum / n + l2_term(net, self.lmbda, n)
        if not np.isfinite(epoch_cost):
            raise DivergenceError(
                f"training diverged in epoch {epoch} (0-based): the parameters are finite "
                f"but so large that the cost overflows (eta={self.eta}, lmbda={self.lmbda}, "
                f"n={n}); the network is kept as it is at the end of that epoch",
                epoch=epoch, batch=done, history=self.rec.history(), network=net)
        evaluation = None
        if self.evaluation is not None:
            Xe, Ye, labels = self.evaluation
            eval_cost, a = evaluate(net, Xe, Ye, self.lmbda)
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
