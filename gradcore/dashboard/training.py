"""The training behind the dashboard, apart from any web framework.

:func:`run_training` is the plain function a page's run executes: it builds the network of a
:class:`~gradcore.dashboard.settings.Settings`, trains it with :func:`gradcore.train` and
records every epoch's learning speeds and cost into a :class:`Feed`, plus, about ten times a
second, a :class:`Snapshot` (accuracy and the mean ∂C/∂b of the first neurons of every
hidden layer), and once, before training, the theory's speeds at initialisation
(:func:`predicted_speeds`). :class:`TrainingRun` runs it in a thread of its own with one
kernel thread, and can pause, resume and stop it from any thread. The page drains the feed at the
screen's pace; the training thread never waits for the page.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import datasets, theory
from .._core import StopFlag, thread_limit
from .._errors import DivergenceError, Stopped
from .._network import Network
from .._training import History, train
from .settings import LIMITS, Settings

__all__ = [
    "BAR_NEURONS",
    "SNAPSHOT_INTERVAL",
    "Snapshot",
    "Update",
    "Feed",
    "TooManyRuns",
    "TrainingRun",
    "embedded_images",
    "take_snapshot",
    "predicted_speeds",
    "run_training",
    "live_runs",
    "stop_all",
]

#: Neurons per hidden layer whose mean ∂C/∂b the bars show (the book's picture: six).
BAR_NEURONS = 6

#: Seconds between two snapshots (accuracy and bars) while training runs.
SNAPSHOT_INTERVAL = 0.1

#: How much lower than the server's a training thread's CPU priority is (Linux nice).
NICE_INCREMENT = 10

#: States of a run: still going, or how it ended.
RUNNING, PAUSED, FINISHED, STOPPED, DIVERGED = "running", "paused", "finished", "stopped", \
    "diverged"


@functools.cache
def embedded_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,000 embedded MNIST training images (float64) and labels, loaded once, read-only.

    Every run shares them: training only reads its inputs.
    """
    X, y = datasets.mnist_first_1000()
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


@dataclass(frozen=True)
class Snapshot:
    """The network after ``epoch`` epochs of training (0: as initialised).

    Attributes
    ----------
    epoch : int
    accuracy : float
        Fraction of the training images classified correctly.
    deltas : tuple of ndarray
        Per hidden layer, first layer first: the mean over the training images of ∂C/∂b of
        its first :data:`BAR_NEURONS` neurons (fewer if the layer is narrower).
    """

    epoch: int
    accuracy: float
    deltas: tuple[np.ndarray, ...]


def take_snapshot(net: Network, X: np.ndarray, y: np.ndarray, epoch: int) -> Snapshot:
    """Accuracy and the bars' mean ∂C/∂b of ``net`` on (X, y), at its current weights."""
    _, nabla_b = net.gradient(X, y)
    deltas = tuple(np.array(g[:BAR_NEURONS], dtype=np.float64) for g in nabla_b[:-1])
    return Snapshot(epoch=epoch, accuracy=net.accuracy(X, y), deltas=deltas)


@dataclass(frozen=True)
class Update:
    """What a run recorded since the last :meth:`Feed.drain`.

    Attributes
    ----------
    first : int
        Epoch (0-based) of the first row of ``speeds`` and ``cost``.
    speeds : ndarray (k, n_layers)
        Learning speed of every layer with weights (output last) in each new epoch.
    cost : ndarray (k,)
        Training cost of each new epoch (L2 term included).
    snapshot : Snapshot or None
        The latest snapshot, if one was taken since the last drain.
    state : str
        "running", "paused", "finished", "stopped" or "diverged".
    message : str
        Why it ended, when it diverged.
    theory : ndarray (hidden,) or None
        The theory's speed of every hidden layer at initialisation
        (:func:`predicted_speeds`), in the first drain after it was computed.
    """

    first: int
    speeds: np.ndarray
    cost: np.ndarray
    snapshot: Snapshot | None
    state: str
    message: str
    theory: np.ndarray | None = None


class Feed:
    """What a training thread records for the page, guarded by a lock.

    The arrays are allocated once for all the run's epochs, so a run holds at most
    ``epochs x n_layers`` numbers however long nobody drains it.
    """

    def __init__(self, epochs: int, n_layers: int) -> None:
        self._lock = threading.Lock()
        self._speeds = np.zeros((epochs, n_layers))
        self._cost = np.zeros(epochs)
        self._done = 0
        self._drained = 0
        self._snapshot: Snapshot | None = None
        self._state = RUNNING
        self._message = ""
        self._theory: np.ndarray | None = None

    def set_theory(self, speeds: np.ndarray) -> None:
        """Record the theory's speeds at initialisation (the next drain carries them)."""
        with self._lock:
            self._theory = np.array(speeds, dtype=np.float64)

    def add_epoch(self, speeds: np.ndarray, cost: float) -> None:
        """Record the epoch after the last one recorded."""
        with self._lock:
            self._speeds[self._done] = speeds
            self._cost[self._done] = cost
            self._done += 1

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the snapshot not yet drained (the page shows only the latest)."""
        with self._lock:
            self._snapshot = snapshot

    def set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            self._state, self._message = state, message

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    @property
    def epochs_done(self) -> int:
        with self._lock:
            return self._done

    def drain(self) -> Update:
        """Everything recorded since the last drain (copies: the run goes on writing)."""
        with self._lock:
            first, last = self._drained, self._done
            self._drained = last
            snapshot, self._snapshot = self._snapshot, None
            predicted, self._theory = self._theory, None
            return Update(first=first, speeds=self._speeds[first:last].copy(),
                          cost=self._cost[first:last].copy(), snapshot=snapshot,
                          state=self._state, message=self._message, theory=predicted)


def predicted_speeds(net: Network, X: np.ndarray, speeds: np.ndarray) -> np.ndarray | None:
    """The mean-field theory's speed of every hidden layer of ``net`` at initialisation.

    :func:`gradcore.theory.predicted_ratios` gives, from the net's own weights, biases,
    activations and inputs ``X``, the ratio of each hidden layer's gradient to the next's
    (Poole et al. 2016, "Exponential expressivity in deep neural networks through transient
    chaos"; Schoenholz et al. 2017, "Deep information propagation"). The theory says how
    the speeds fall off backwards, not their scale, which also depends on the cost and the
    output layer: the prediction is anchored at the measured speed of the last hidden layer
    (``speeds``, output last), and each layer below it is the layer above times its
    ratio. So the last hidden layer's line meets its curve at epoch 0 and the others show
    what the theory expects of them. It is the ratio of per-example gradient sizes; in the
    ordered phase it is also that of the chapter's speeds, in the chaotic phase the measured
    speeds fall below it.

    Returns
    -------
    ndarray (hidden,) or None
        First hidden layer first; None for one hidden layer, a zero or non-finite anchor,
        or a net the theory cannot take.
    """
    hidden = len(net.sizes) - 2
    anchor = float(speeds[hidden - 1])
    if hidden < 2 or not (np.isfinite(anchor) and anchor > 0):
        return None
    try:
        ratios = theory.predicted_ratios(net, X)
    except (ValueError, ArithmeticError):
        return None
    out = np.empty(hidden)
    out[-1] = anchor
    for j in range(hidden - 2, -1, -1):
        out[j] = out[j + 1] * ratios[j]
    return out if np.isfinite(out).all() else None


def run_training(settings: Settings, feed: Feed, *, stop: StopFlag | None = None,
                 between_epochs: Callable[[], None] | None = None) -> str:
    """Train as ``settings`` say and record into ``feed``; return how the run ended.

    This is the whole of what a page's run computes, in the calling thread: a snapshot of
    the fresh network, then :func:`gradcore.train` (full batch unless
    ``settings.batch_size``), recording each epoch's speeds and cost, and a snapshot at
    most every :data:`SNAPSHOT_INTERVAL` seconds and after the last epoch.

    Parameters
    ----------
    settings : Settings
    feed : Feed
        Sized for ``settings.epochs`` and ``settings.n_layers``.
    stop : StopFlag or None
        Setting it stops the run at the next mini-batch boundary.
    between_epochs : callable or None
        Called after every recorded epoch (the pause of :class:`TrainingRun` waits here).

    Returns
    -------
    str
        "finished", "stopped" or "diverged" (also set as the feed's state).
    """
    X_all, y_all = embedded_images()
    X, y = X_all[:settings.images], y_all[:settings.images]
    net = Network(settings.sizes, activation=settings.activation, cost=settings.cost,
                  init=settings.init, seed=settings.seed)
    feed.add_snapshot(take_snapshot(net, X, y, 0))
    predicted = predicted_speeds(net, X, net.learning_speeds(X, y))
    if predicted is not None:
        feed.set_theory(predicted)
    last = time.monotonic()

    def record(epoch: int, history: History) -> None:
        nonlocal last
        feed.add_epoch(history.learning_speeds[epoch], float(history.training_cost[epoch]))
        now = time.monotonic()
        if now - last >= SNAPSHOT_INTERVAL or epoch + 1 == settings.epochs:
            feed.add_snapshot(take_snapshot(net, X, y, epoch + 1))
            last = now
        if between_epochs is not None:
            between_epochs()

    state, message = FINISHED, ""
    try:
        train(net, X, y, epochs=settings.epochs, batch_size=settings.batch_size or len(X),
              eta=settings.eta, lmbda=settings.lmbda, seed=settings.seed, callback=record,
              stop=stop, momentum=settings.momentum, nesterov=settings.nesterov,
              momentum_schedule=settings.schedule, clip_norm=settings.clip_norm,
              dropout=settings.dropout)
    except Stopped:
        state = STOPPED
    except DivergenceError as exc:
        state, message = DIVERGED, (
            f"Training diverged in epoch {exc.epoch + 1}: the cost or the weights became "
            f"infinite. Try a smaller η, λ or weight scale.")
        feed.add_snapshot(take_snapshot(exc.network, X, y, exc.history.epochs))
    feed.set_state(state, message)
    return state


class TooManyRuns(RuntimeError):
    """The server already runs :attr:`Limits.max_runs` trainings."""


_live_lock = threading.Lock()
_live: set[TrainingRun] = set()
_ids = itertools.count(1)


def _yield_the_cpu() -> None:
    """Lower the calling thread's CPU priority (Linux: nice +10), so that when the CPU is
    short the server's event loop and the browser go first and the page stays responsive.
    Elsewhere (no per-thread priority) nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, nice + NICE_INCREMENT))
    except OSError:
        pass  # not permitted here: train at the usual priority


def live_runs() -> list[TrainingRun]:
    """The runs whose thread has started and not yet ended."""
    with _live_lock:
        return list(_live)


def stop_all(timeout: float = 10.0) -> bool:
    """Stop every live run and wait up to ``timeout`` s for their threads; True if all ended."""
    runs = live_runs()
    for run in runs:
        run.stop()
    deadline = time.monotonic() + timeout
    return all(run.join(max(0.0, deadline - time.monotonic())) for run in runs)


class TrainingRun:
    """One page's training, in a thread of its own that uses one kernel thread, at a lower
    CPU priority than the server (Linux).

    ``start()`` refuses with :class:`TooManyRuns` when :attr:`Limits.max_runs` runs that
    are not stopping already live. ``pause()`` holds the thread after the epoch in
    progress; ``stop()`` ends it at the next mini-batch boundary (paused or not). None of
    these wait for the thread, so they are safe to call from an event loop.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.feed = Feed(settings.epochs, settings.n_layers)
        self._flag = StopFlag()
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"gradcore-dashboard-run-{next(_ids)}")

    @property
    def name(self) -> str:
        """The name of the run's thread."""
        return self._thread.name

    def start(self, replacing: TrainingRun | None = None) -> None:
        """Start the thread, stopping ``replacing`` (the run this one takes the place of).

        Raises
        ------
        TooManyRuns
            :attr:`Limits.max_runs` other runs live (``replacing`` then goes on).
        """
        with _live_lock:
            others = sum(not r._stopping for r in _live if r is not replacing)
            if others >= LIMITS.max_runs:
                raise TooManyRuns(
                    f"This server already runs {LIMITS.max_runs} trainings (its limit): "
                    f"close another page, or wait for one to finish.")
            _live.add(self)
        if replacing is not None:
            replacing.stop()
        self._thread.start()

    def _main(self) -> None:
        _yield_the_cpu()
        try:
            with thread_limit(1):
                run_training(self.settings, self.feed, stop=self._flag,
                             between_epochs=self._hold_while_paused)
        finally:
            with _live_lock:
                _live.discard(self)

    def _hold_while_paused(self) -> None:
        with self._cond:
            if self._paused and not self._stopping:
                self.feed.set_state(PAUSED)
                while self._paused and not self._stopping:
                    self._cond.wait()
                self.feed.set_state(RUNNING)

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def stop(self) -> None:
        """Stop the training (at its next mini-batch boundary); does not wait."""
        self._flag.set()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (the thread may still be finishing its
        mini-batch)."""
        with self._cond:
            return self._stopping

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has (or never started)."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
