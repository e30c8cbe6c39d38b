"""train(): mini-batch SGD over whole epochs in the compiled core, and its history."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from . import kernels as _kernels
from . import reference as _ref
from ._core import StopFlag
from ._errors import DivergenceError, Stopped
from ._layout import bias_offsets
from ._network import Network, evaluate, l2_term
from ._validation import as_inputs, validated

__all__ = ["train", "TrainResult", "History", "Probe"]


@dataclass
class Probe:
    """Glorot & Bengio's saturation statistics of the hidden layers, taken on fixed probe
    examples every ``probe_every`` mini-batches of :func:`train` (Glorot & Bengio 2010,
    "Understanding the difficulty of training deep feedforward neural networks", Figures 2–4).

    Attributes
    ----------
    updates : ndarray (k,) int
        The number of mini-batch updates before each record (0: at the start).
    mean, std, p2, p98 : ndarray (k, n_hidden)
        Per record and hidden layer, the mean, standard deviation and 2nd and 98th
        percentiles of the activations over all (example, unit) pairs.
    saturated : ndarray (k, n_hidden)
        The fraction of (example, unit) pairs whose φ'(z) is below 1 % of φ''s largest
        value (sigmoid: σ' < 0.0025; for the ReLU, the dead units, φ' = 0).
    """

    updates: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    p2: np.ndarray
    p98: np.ndarray
    saturated: np.ndarray


#: The largest value of each activation's derivative (PReLU: max(1, its slope)).
_DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0, "softsign": 1.0, "relu": 1.0,
                   "leaky_relu": 1.0, "elu": 1.0, "prelu": 1.0, "linear": 1.0}


def probe_statistics(net: Network, X: np.ndarray) -> np.ndarray:
    """(5, n_hidden): mean, std, p2, p98 and saturated fraction of each hidden layer's
    activations on the rows of X (see :class:`Probe`)."""
    zs, outs = _kernels._forward_layers(net.architecture, net.params, X)
    stats = np.zeros((5, net.n_layers - 1))
    for l, name in enumerate(net.activations):
        a = np.asarray(outs[l], dtype=np.float64)
        slope = net.slopes[l]
        deriv = _ref.activation_derivative(name, a, np.asarray(zs[l], dtype=np.float64),
                                           None if slope is None else slope.astype(np.float64))
        top = _DERIVATIVE_MAX[name]
        if slope is not None:
            top = max(1.0, float(np.max(np.abs(slope))))
        p2, p98 = np.percentile(a, [2, 98])
        stats[:, l] = (a.mean(), a.std(), p2, p98, np.mean(np.abs(deriv) < 0.01 * top))
    return stats


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
    gradient_rms : ndarray (epochs, n_layers) or None
        In-epoch gradient rms of every layer, output last: √(mean over the epoch's examples
        of ‖δˡₓ‖²), each example's δ at the weights before its mini-batch's update. The
        per-example size that mean-field theory predicts (:mod:`gradcore.theory`); the
        learning speed is the size of the mean instead. For full-batch gradient descent it
        is :meth:`Network.gradient_rms` at the weights the epoch starts from.
    probe : Probe or None
        The saturation statistics, when ``train`` was given a probe.
    """

    learning_speeds: np.ndarray
    training_cost: np.ndarray
    evaluation_accuracy: np.ndarray | None = None
    evaluation_cost: np.ndarray | None = None
    gradient_rms: np.ndarray | None = None
    probe: Probe | None = None

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
        if self.gradient_rms is not None:
            d["gradient_rms"] = self.gradient_rms.tolist()
        if self.probe is not None:
            d["probe"] = {k: np.asarray(getattr(self.probe, k)).tolist()
                          for k in ("updates", "mean", "std", "p2", "p98", "saturated")}
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
        self.rms = np.zeros((epochs, n_layers))
        self.cost = np.zeros(epochs)
        self.acc = np.zeros(epochs) if with_eval else None
        self.eval_cost = np.zeros(epochs) if with_eval else None
        self.probe_updates: list[int] = []
        self.probe_stats: list[np.ndarray] = []

    def add(self, speeds: np.ndarray, rms: np.ndarray, cost: float,
            evaluation: tuple[float, float] | None) -> None:
        e = self.done
        self.speeds[e] = speeds
        self.rms[e] = rms
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

        probe = None
        if self.probe_stats:
            st = np.array(self.probe_stats)
            probe = Probe(np.array(self.probe_updates), st[:, 0], st[:, 1], st[:, 2],
                          st[:, 3], st[:, 4])
        return History(learning_speeds=view(self.speeds),  # type: ignore[arg-type]
                       training_cost=view(self.cost),  # type: ignore[arg-type]
                       evaluation_accuracy=view(self.acc), evaluation_cost=view(self.eval_cost),
                       gradient_rms=view(self.rms), probe=probe)


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
          cost: str | None = None, init: Any = None, dtype: Any = None,
          activation: str | Sequence[str] | None = None, output: str | None = None,
          probe: Any = None, probe_every: int | None = None,
          callback: Callable[[int, History], None] | None = None,
          stop: StopFlag | None = None) -> TrainResult:
    """Train a network with mini-batch SGD and L2 weight decay.

    For every mini-batch of m examples (the last of an epoch may be shorter):
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w`` and ``b ← b − (η/m)·Σ∇b``, n = len(X).
    Whole epochs run in compiled code without the GIL; Python runs once per epoch.

    Parameters
    ----------
    network_or_sizes : Network or sequence of int
        A network to train in place, or layer sizes to build one (with ``activation``,
        ``output``, ``cost``, ``init``, ``dtype`` and a seed derived from ``seed``; see
        :class:`Network`).
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
    probe, probe_every : array (k, sizes[0]) and int, or None
        Fixed examples (e.g. 300 test images) on which Glorot & Bengio's saturation
        statistics of every hidden layer are recorded at the start and then every
        ``probe_every`` mini-batch updates (counted across epochs): ``history.probe``, a
        :class:`Probe`. Training then runs in chunks of ``probe_every`` mini-batches, one
        compiled call each, with the same result bit for bit.
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
                             dtype=dtype, activation=activation, output=output,
                             evaluation_data=evaluation_data, stop=stop, probe=probe,
                             probe_every=probe_every)
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
    probe: np.ndarray | None = None
    probe_every: int = 0
    updates: int = 0  # mini-batch updates applied so far

    @classmethod
    def start(cls, network_or_sizes: Network | Sequence[int], X: Any, y: Any, *,
              epochs: int, batch_size: int, eta: float, lmbda: float, seed: Any,
              cost: str | None, init: Any, dtype: Any, activation: Any = None,
              output: Any = None,
              evaluation_data: tuple[Any, Any] | None, stop: Any, probe: Any = None,
              probe_every: int | None = None) -> _TrainingRun:
        init_seed, shuffle_seed = np.random.SeedSequence(seed).spawn(2)
        net = _network_to_train(network_or_sizes, cost, init, dtype, activation, output,
                                init_seed)
        probe_x = None
        if probe is not None or probe_every is not None:
            if probe is None or probe_every is None:
                raise ValueError("probe and probe_every go together: give both or neither")
            probe_x = as_inputs(probe, net.sizes[0], net.dtype, "probe")
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
        run = cls(net, Xc, Y, epochs, batch_size, eta, lmbda, evaluation, stop,
                  np.random.default_rng(shuffle_seed),
                  _Recorder(epochs, net.n_layers, evaluation is not None), probe_x,
                  probe_every or 0)
        run._record_probe()
        return run

    def _record_probe(self) -> None:
        if self.probe is not None:
            self.rec.probe_updates.append(self.updates)
            self.rec.probe_stats.append(probe_statistics(self.net, self.probe))

    def _run_epoch(self, perm: np.ndarray, speed_sum: np.ndarray, sq_sum: np.ndarray
                   ) -> tuple[int, float, int]:
        """The epoch's compiled call, or, with a probe, one call per chunk of mini-batches
        up to the next probe record: (status, cost_sum, batches done)."""
        net = self.net
        if self.probe is None:
            return _kernels._sgd_epoch(net.architecture, net.params, self.X, self.Y, perm,
                                       self.batch_size, self.eta, self.lmbda, speed_sum,
                                       sq_sum, -1, self.stop)
        m, k = self.batch_size, self.probe_every
        total = -(-perm.shape[0] // m)
        cost, done = 0.0, 0
        while done < total:
            chunk = min(k - self.updates % k, total - done)
            st, c, d = _kernels._sgd_epoch(net.architecture, net.params, self.X, self.Y,
                                           perm[done * m:], m, self.eta, self.lmbda,
                                           speed_sum, sq_sum, chunk, self.stop)
            cost, done = cost + c, done + d
            self.updates += d
            if st != _core.STATUS_OK:
                return st, cost, done
            if self.updates % k == 0:
                self._record_probe()
        return _core.STATUS_OK, cost, done

    def epoch(self, epoch: int) -> None:
        """Run one epoch and record it; raise what stopped it."""
        net, n = self.net, self.X.shape[0]
        perm = self.rng.permutation(n).astype(np.int64, copy=False)
        snapshot = net.params.copy()
        speed_sum = np.zeros(sum(net.sizes[1:]))
        sq_sum = np.zeros(net.n_layers)
        st, cost_sum, done = self._run_epoch(perm, speed_sum, sq_sum)
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
        self.rec.add(_speed_norms(speed_sum, net.sizes, done), np.sqrt(sq_sum / n),
                     epoch_cost, evaluation)

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
        st, _, _ = _kernels._sgd_epoch(self.net.architecture, params, self.X, self.Y,
                                       perm[first * m:], m, self.eta, self.lmbda,
                                       np.zeros(sum(self.net.sizes[1:])), None, count,
                                       self.stop)
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
                      init: Any, dtype: Any, activation: Any, output: Any,
                      seed: Any) -> Network:
    if isinstance(network_or_sizes, Network):
        given = [name for name, v in (("cost", cost), ("init", init), ("dtype", dtype),
                                      ("activation", activation), ("output", output))
                 if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply only when train() builds the network "
                             f"from sizes; this network already has them")
        return network_or_sizes
    return Network(network_or_sizes, activation=activation or "sigmoid",
                   output=output or "sigmoid", cost=cost,
                   init="default" if init is None else init,
                   seed=seed, dtype=np.float64 if dtype is None else dtype)
