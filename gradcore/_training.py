"""train(): mini-batch SGD over whole epochs in the compiled core, and its history."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from . import kernels as _kernels
from . import reference as _ref
from ._core import StopFlag
from ._errors import DivergenceError, Stopped
from ._layout import aligned_zeros, bias_offsets
from ._network import Network, evaluate, l2_from, l2_term
from ._update import TrainState, Update
from ._validation import as_inputs, validated

__all__ = ["train", "TrainResult", "History", "Probe", "TrainState"]


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
    clipped : ndarray (epochs,) int or None
        Per epoch, the mini-batches whose gradient was clipped (with ``clip_norm``).
    """

    learning_speeds: np.ndarray
    training_cost: np.ndarray
    evaluation_accuracy: np.ndarray | None = None
    evaluation_cost: np.ndarray | None = None
    gradient_rms: np.ndarray | None = None
    probe: Probe | None = None
    clipped: np.ndarray | None = None

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
        if self.clipped is not None:
            d["clipped"] = self.clipped.tolist()
        if self.probe is not None:
            d["probe"] = {k: np.asarray(getattr(self.probe, k)).tolist()
                          for k in ("updates", "mean", "std", "p2", "p98", "saturated")}
        if self.evaluation_accuracy is not None:
            d["evaluation_accuracy"] = self.evaluation_accuracy.tolist()
            d["evaluation_cost"] = self.evaluation_cost.tolist()  # type: ignore[union-attr]
        return d

    def to_frame(self) -> Any:
        """The history as a tidy pandas DataFrame: one row per epoch and layer.

        Columns: ``epoch`` (0-based, as the callback's), ``layer`` (``hidden_1``, …,
        ``output``), ``speed`` (from ``learning_speeds``) and every other per-layer
        record under its own name (``gradient_rms``), then the per-epoch records repeated on
        each of their epoch's rows: ``training_cost``, ``clipped`` and, when there was
        evaluation data, ``evaluation_accuracy`` and ``evaluation_cost``. Needs pandas (the
        ``pandas`` extra).

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
            if value is None or f.name in ("learning_speeds", "probe"):
                continue  # (the probe's records are per update, not per epoch)
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
        self.rms = np.zeros((epochs, n_layers))
        self.clipped = np.zeros(epochs, dtype=np.int64)
        self.cost = np.zeros(epochs)
        self.acc = np.zeros(epochs) if with_eval else None
        self.eval_cost = np.zeros(epochs) if with_eval else None
        self.probe_updates: list[int] = []
        self.probe_stats: list[np.ndarray] = []

    def add(self, speeds: np.ndarray, rms: np.ndarray, clipped: int, cost: float,
            evaluation: tuple[float, float] | None) -> None:
        e = self.done
        self.speeds[e] = speeds
        self.rms[e] = rms
        self.clipped[e] = clipped
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
                       gradient_rms=view(self.rms), probe=probe, clipped=view(self.clipped))


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained ``network``, its ``history``, and the
    ``state`` that ``train(network, ..., state=result.state)`` continues from."""

    network: Network
    history: History
    state: TrainState | None = None


def _speed_norms(speed_sum: np.ndarray, sizes: tuple[int, ...], n_batches: int) -> np.ndarray:
    """Per layer, ‖its part of speed_sum / n_batches‖: the in-epoch learning speed (inf
    where huge but finite gradients overflow the norm; train() reports what follows)."""
    with np.errstate(over="ignore"):
        return np.array([np.linalg.norm(speed_sum[start:end] / max(n_batches, 1))
                         for start, end in bias_offsets(sizes)])


@validated("train")
def train(network_or_sizes: Network | Sequence[int], X: Any, y: Any, *, epochs: int,
          batch_size: int, eta: float, lmbda: float = 0.0,
          seed: int | None = None, evaluation_data: tuple[Any, Any] | None = None,
          cost: str | None = None, init: Any = None, dtype: Any = None,
          activation: str | Sequence[str] | None = None, output: str | None = None,
          probe: Any = None, probe_every: int | None = None,
          momentum: float = 0.0, nesterov: bool = False, momentum_schedule: str | None = None,
          final_momentum: float | None = None, final_updates: int = 1000,
          clip_norm: float | None = None, dropout: float = 0.0,
          state: TrainState | None = None,
          callback: Callable[[int, History], None] | None = None,
          stop: StopFlag | None = None) -> TrainResult:
    """Train a network with mini-batch SGD and L2 weight decay, or another update.

    For every mini-batch of m examples (the last of an epoch may be shorter):
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w`` and ``b ← b − (η/m)·Σ∇b``, n = len(X).
    Whole epochs run in compiled code without the GIL, up to 64 to a call when nothing has
    to happen between them (one per call with a ``callback``, ``evaluation_data`` or a
    ``probe``: the same bits either way).
    With every update option at its default, this is the book's SGD bit for bit.

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
    momentum : float in [0, 1)
        Classical momentum (Sutskever, Martens, Dahl & Hinton 2013, "On the importance of
        initialization and momentum in deep learning", §2): v ← μv − ηg, θ ← θ + v, where g
        is the mini-batch's mean gradient plus (λ/n)·w for weights (biases and PReLU slopes
        are never decayed). 0: plain SGD.
    nesterov : bool
        Nesterov's accelerated gradient (NAG, ibid.), the gradient taken at θ + μv, in the
        form libraries use (see :func:`gradcore.reference.sgd_epoch` for why it is the
        same update).
    momentum_schedule : None or "sutskever"
        μₜ = min(1 − 2^(−1 − log₂(⌊t/250⌋ + 1)), momentum), t counting updates from the
        start of training (ibid., eq. 5): 0.5, 0.75, 0.9 … rising to ``momentum``.
    final_momentum, final_updates : float or None, int
        μ for the last ``final_updates`` updates of this call (the paper lowers μ to 0.9
        for its last 1,000).
    clip_norm : float > 0 or None
        Gradient clipping (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
        recurrent neural networks"): a mini-batch whose mean gradient, all layers together,
        has a larger norm is scaled down to it before any weight moves.
        ``history.clipped`` counts them per epoch.
    dropout : float in [0, 1)
        Inverted dropout on the hidden layers (Srivastava et al. 2014; the book's chapter
        3): each hidden unit is dropped for a whole mini-batch with this probability, the
        kept ones scaled by 1/(1 − p). The masks come from a counter-based generator keyed
        by (seed, epoch, mini-batch, layer, unit): the same bits for any thread count.
        Evaluation, accuracy and :meth:`Network.learning_speeds` never drop; the in-epoch
        monitors are those of the gradients the updates used.
    state : TrainState or None
        ``result.state`` of an earlier call on this network: the velocity, the update count
        (the schedule's t), the epoch count and the shuffling continue, so two calls of 5
        epochs equal one of 10 bit for bit. ``seed`` then seeds nothing.
    callback : callable(epoch, history) or None
        Called after every epoch with the 0-based epoch index and the history so far (its
        arrays are read-only views, valid until train() returns).
    stop : StopFlag or None
        ``stop.set()``, from any thread, stops training at the next mini-batch boundary.

    Returns
    -------
    TrainResult
        ``.network`` (the trained network), ``.history`` (a :class:`History`) and
        ``.state`` (a :class:`TrainState`).

    Raises
    ------
    DivergenceError
        A cost or parameter became non-finite; the network (and its velocity) is restored
        to its last finite state and the exception carries the history.
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
                             probe_every=probe_every,
                             update=Update.check(momentum, nesterov, momentum_schedule,
                                                 final_momentum, final_updates, clip_norm,
                                                 dropout), state=state)
    # Epochs run several to a compiled call, unless something must happen between them
    # (a callback, an evaluation, a probe): the same bits either way.
    between = callback is not None or run.evaluation is not None or run.probe is not None
    per_call = 1 if between else run.chunk()
    epoch = 0
    while epoch < run.epochs:
        count = min(per_call, run.epochs - epoch)
        if run.probe is not None:
            run.epoch(epoch)
        else:
            run.run_epochs(epoch, count)
        if callback is not None:
            callback(epoch, run.rec.history())
        epoch += count
    return TrainResult(network=run.net, history=run.rec.history(), state=run.state())


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
    updates: int = 0  # mini-batch updates applied so far (with the state's)
    update: Update = field(default_factory=Update)
    velocity: np.ndarray | None = None
    epoch0: int = 0  # epochs before this call (the state's)
    dropout_seed: int = 0
    final_from: int = -1  # the first update of the final momentum
    _epoch_start: tuple[int, np.ndarray | None] = (0, None)  # updates and velocity before

    def state(self) -> TrainState:
        """What a later call continues from."""
        return TrainState(None if self.velocity is None else self.velocity.copy(),
                          self.updates, self.epoch0 + self.rec.done,
                          dict(self.rng.bit_generator.state), self.dropout_seed,
                          self.net.architecture)

    @classmethod
    def start(cls, network_or_sizes: Network | Sequence[int], X: Any, y: Any, *,
              epochs: int, batch_size: int, eta: float, lmbda: float, seed: Any,
              cost: str | None, init: Any, dtype: Any, activation: Any = None,
              output: Any = None,
              evaluation_data: tuple[Any, Any] | None, stop: Any, probe: Any = None,
              probe_every: int | None = None, update: Update | None = None,
              state: TrainState | None = None) -> _TrainingRun:
        init_seed, shuffle_seed, dropout_seed = np.random.SeedSequence(seed).spawn(3)
        if state is not None and not isinstance(state, TrainState):
            raise TypeError(f"state must be a gradcore.TrainState (result.state), got "
                            f"{type(state).__name__}")
        if state is not None and not isinstance(network_or_sizes, Network):
            raise ValueError("state continues the training of a network: pass the network, "
                             "not sizes")
        net = _network_to_train(network_or_sizes, cost, init, dtype, activation, output,
                                init_seed)
        if state is not None:
            state.check_for(net.architecture)
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
        update = update or Update()
        rng = np.random.default_rng(shuffle_seed)
        velocity, updates, epoch0 = None, 0, 0
        drop_key = int(dropout_seed.generate_state(1, np.uint64)[0])
        if state is not None:
            rng.bit_generator.state = state.shuffle
            velocity = None if state.velocity is None else state.velocity.copy()
            updates, epoch0, drop_key = state.updates, state.epochs, state.dropout_seed
        if update.momentum > 0 and velocity is None:
            velocity = aligned_zeros(net.architecture.n_params, net.dtype)
        per_epoch = -(-Xc.shape[0] // batch_size)
        final_from = max(0, updates + epochs * per_epoch - update.final_updates)
        run = cls(net, Xc, Y, epochs, batch_size, eta, lmbda, evaluation, stop, rng,
                  _Recorder(epochs, net.n_layers, evaluation is not None), probe_x,
                  probe_every or 0, updates, update, velocity, epoch0, drop_key, final_from)
        run._record_probe()
        return run

    def _options(self, epoch: int, t0: int, batch0: int) -> dict[str, Any] | None:
        return self.update.options(t0=t0, final_from=self.final_from, seed=self.dropout_seed,
                                   epoch=self.epoch0 + epoch, batch0=batch0)

    def _record_probe(self) -> None:
        if self.probe is not None:
            self.rec.probe_updates.append(self.updates)
            self.rec.probe_stats.append(probe_statistics(self.net, self.probe))

    def _run_epoch(self, epoch: int, perm: np.ndarray, speed_sum: np.ndarray,
                   sq_sum: np.ndarray, clipped: list[int]) -> tuple[int, float, int]:
        """The epoch's compiled call, or, with a probe, one call per chunk of mini-batches
        up to the next probe record: (status, cost_sum, batches done)."""
        net, m = self.net, self.batch_size
        total = -(-perm.shape[0] // m)
        k = self.probe_every if self.probe is not None else total
        cost, done = 0.0, 0
        while done < total:
            chunk = min(k - self.updates % k, total - done) if self.probe is not None else -1
            st, c, d = _kernels._sgd_epoch(net.architecture, net.params, self.X, self.Y,
                                           perm[done * m:], m, self.eta, self.lmbda,
                                           speed_sum, sq_sum, chunk, self.stop,
                                           self.velocity,
                                           self._options(epoch, self.updates, done), clipped)
            cost, done = cost + c, done + d
            self.updates += d
            if st != _core.STATUS_OK:
                return st, cost, done
            if self.probe is not None and self.updates % k == 0:
                self._record_probe()
        return _core.STATUS_OK, cost, done

    def chunk(self) -> int:
        """Epochs per compiled call: up to 64, their row orders within 8 MiB. (A divergence
        replays the epochs of its call before the one that failed: at most 63.)"""
        return max(1, min(64, (1 << 20) // int(self.X.shape[0])))

    def run_epochs(self, first: int, count: int) -> None:
        """Run epochs first … first+count−1 in one compiled call and record them; raise what
        stopped them (as :meth:`epoch` does for one)."""
        net, n = self.net, self.X.shape[0]
        perms = np.empty((count, n), dtype=np.int64)
        for i in range(count):
            perms[i] = self.rng.permutation(n)
        snapshot = net.params.copy()
        vel0 = None if self.velocity is None else self.velocity.copy()
        t0 = self.updates
        speed = np.zeros((count, sum(net.sizes[1:])))
        sq = np.zeros((count, net.n_layers))
        st, costs, done, clipped, weights_sq = _kernels._sgd_epochs(
            net.architecture, net.params, self.X, self.Y, perms, self.batch_size, self.eta,
            self.lmbda, speed, sq, self.stop, self.velocity, self._options(first, t0, 0))
        ran = len(costs)
        for i in range(ran):
            epoch = first + i
            if i == ran - 1 and st != _core.STATUS_OK:
                if st == _core.STATUS_NONFINITE:
                    # back to the start of the failed epoch: the call's first state and the
                    # epochs before it replayed
                    self._rewind(first, perms[:i], snapshot, vel0, t0)
                    self._epoch_start = (self.updates, None if self.velocity is None
                                         else self.velocity.copy())
                    self._diverged(epoch, net.params.copy(), perms[i], int(done[i]))
                self.updates += int(done[i])
                self._check_stopped(st, epoch, int(done[i]))
            self.updates += int(done[i])
            epoch_cost = float(costs[i]) / n + l2_from(float(weights_sq[i]), self.lmbda, n)
            if not np.isfinite(epoch_cost):
                if i < ran - 1:  # the network as at the end of this epoch
                    self._rewind(first, perms[:i + 1], snapshot, vel0, t0)
                self._overflowed(epoch, int(done[i]))
            self.rec.add(_speed_norms(speed[i], net.sizes, int(done[i])), np.sqrt(sq[i] / n),
                         int(clipped[i]), epoch_cost, self._evaluate() if count == 1 else None)

    def _rewind(self, first: int, perms: np.ndarray, snapshot: np.ndarray,
                vel0: np.ndarray | None, t0: int) -> None:
        """The parameters (and velocity) after the epochs of perms from the state
        (snapshot, vel0, t0) before epoch first, replayed as they ran."""
        self.net.params[...] = snapshot
        if self.velocity is not None and vel0 is not None:
            self.velocity[...] = vel0
        self.updates = t0
        if len(perms) == 0:
            return
        count, nb = len(perms), sum(self.net.sizes[1:])
        st, _, done, _, _ = _kernels._sgd_epochs(
            self.net.architecture, self.net.params, self.X, self.Y, perms, self.batch_size,
            self.eta, self.lmbda, np.zeros((count, nb)), None, self.stop, self.velocity,
            self._options(first, t0, 0))
        self.updates = t0 + int(done.sum())
        self._check_stopped(st, first + len(done) - 1, int(done[-1]))

    def _overflowed(self, epoch: int, done: int) -> None:
        net, n = self.net, self.X.shape[0]
        raise DivergenceError(
            f"training diverged in epoch {epoch} (0-based): the parameters are finite "
            f"but so large that the cost overflows (eta={self.eta}, lmbda={self.lmbda}, "
            f"n={n}); the network is kept as it is at the end of that epoch",
            epoch=epoch, batch=done, history=self.rec.history(), network=net,
            state=self.state())

    def epoch(self, epoch: int) -> None:
        """Run one epoch and record it; raise what stopped it."""
        net, n = self.net, self.X.shape[0]
        perm = self.rng.permutation(n).astype(np.int64, copy=False)
        snapshot = net.params.copy()
        vel0 = None if self.velocity is None else self.velocity.copy()
        t0 = self.updates
        speed_sum = np.zeros(sum(net.sizes[1:]))
        sq_sum = np.zeros(net.n_layers)
        clipped: list[int] = []
        st, cost_sum, done = self._run_epoch(epoch, perm, speed_sum, sq_sum, clipped)
        if st == _core.STATUS_NONFINITE:
            self._epoch_start = (t0, vel0)
            self._diverged(epoch, snapshot, perm, done)
        self._check_stopped(st, epoch, done)
        epoch_cost = cost_sum / n + l2_term(net, self.lmbda, n)
        if not np.isfinite(epoch_cost):
            self._overflowed(epoch, done)
        self.rec.add(_speed_norms(speed_sum, net.sizes, done), np.sqrt(sq_sum / n),
                     sum(clipped), epoch_cost, self._evaluate())

    def _evaluate(self) -> tuple[float, float] | None:
        """(accuracy, cost) on the evaluation data now, or None without it."""
        if self.evaluation is None:
            return None
        Xe, Ye, labels = self.evaluation
        eval_cost, a = evaluate(self.net, Xe, Ye, self.lmbda)
        return float(np.mean(np.argmax(a, axis=1) == labels)), eval_cost

    def _check_stopped(self, st: int, epoch: int, done: int) -> None:
        if st == _core.STATUS_INTERRUPTED:
            raise KeyboardInterrupt(
                f"training interrupted in epoch {epoch} (0-based) after {done} complete "
                f"mini-batches; the network keeps those updates")
        if st == _core.STATUS_STOPPED:
            raise Stopped(f"training stopped in epoch {epoch} (0-based) after {done} "
                          f"complete mini-batches; the network keeps those updates",
                          epoch=epoch, batch=done, history=self.rec.history(),
                          network=self.net, state=self.state())

    def _diverged(self, epoch: int, snapshot: np.ndarray, perm: np.ndarray,
                  done: int) -> None:
        net, n = self.net, self.X.shape[0]
        if not np.isfinite(snapshot).all():
            net.params[...] = snapshot
            if self.velocity is not None and self._epoch_start[1] is not None:
                self.velocity[...] = self._epoch_start[1]
            raise DivergenceError(
                f"the parameters held NaN or infinite values at the start of epoch {epoch} "
                f"(0-based): they were changed outside training (by the callback?); the "
                f"network is left as it was then",
                epoch=epoch, batch=0, history=self.rec.history(), network=net,
                state=self.state())
        batch = self._restore_last_finite(epoch, snapshot, perm, done)
        raise DivergenceError(
            f"training diverged in epoch {epoch} (0-based), mini-batch {batch}: the cost "
            f"or the parameters became NaN or infinite (eta={self.eta}, lmbda={self.lmbda}, "
            f"n={n}, decay factor 1 - eta*lmbda/n = {1 - self.eta * self.lmbda / n:.6g}); "
            f"the network is restored to its state before that mini-batch's update",
            epoch=epoch, batch=batch, history=self.rec.history(), network=net,
                state=self.state())

    def _replay(self, params: np.ndarray, perm: np.ndarray, first: int, count: int,
                epoch: int) -> None:
        """Apply mini-batches first … first+count−1 of the epoch to params (and the
        velocity), as the epoch applied them."""
        m, t0 = self.batch_size, self._epoch_start[0]
        st, _, _ = _kernels._sgd_epoch(self.net.architecture, params, self.X, self.Y,
                                       perm[first * m:], m, self.eta, self.lmbda,
                                       np.zeros(sum(self.net.sizes[1:])), None, count,
                                       self.stop, self.velocity,
                                       self._options(epoch, t0 + first, first))
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
        vel, vel_state = self.velocity, self._epoch_start[1]
        r, target = 0, done - 1
        seg = max(1, math.isqrt(target))

        def put_back() -> None:
            params[...] = state
            if vel is not None and vel_state is not None:
                vel[...] = vel_state

        try:
            while r < target:
                k = min(seg, target - r)
                put_back()
                self._replay(params, perm, r, k, epoch)
                if np.isfinite(params).all() and (vel is None or np.isfinite(vel).all()):
                    state[...] = params
                    if vel is not None and vel_state is not None:
                        vel_state[...] = vel
                    r += k
                elif k == 1:
                    break
                else:
                    seg = 1  # the parameters stop being finite in this segment
        finally:
            put_back()
            self.updates = self._epoch_start[0] + r
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
