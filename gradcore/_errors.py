"""The exceptions training raises (public through :mod:`gradcore`).

This module imports nothing of gradcore's, so that every other module may raise them
(the low-level :mod:`gradcore.kernels` among them) without depending on the network or
the training modules; the network and history they carry are typed ``Any`` for that.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DivergenceError", "Stopped"]


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
        (the state after ``batch`` mini-batches of ``epoch``), unless the message says
        the parameters were not finite when the epoch began.
    state : TrainState or None
        The optimizer's state at that same point (its velocity restored with the
        network), to continue from with ``train(..., state=error.state)``.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, history: Any,
                 network: Any, state: Any = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history
        self.network = network
        self.state = state


class Stopped(Exception):
    """A call was stopped because its :class:`gradcore.StopFlag` was set.

    Raised by :func:`gradcore.train` and the kernels of :mod:`gradcore.kernels` given
    ``stop=flag`` once ``flag.set()`` was called (from any thread). From ``train`` it
    carries what was kept; elsewhere those attributes are None.

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
    state : TrainState or None
        The optimizer's state at that point (from ``train``).
    """

    def __init__(self, message: str, *, epoch: int | None = None, batch: int | None = None,
                 history: Any = None, network: Any = None, state: Any = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history
        self.network = network
        self.state = state
