"""The update as a choice: momentum, Nesterov, Sutskever's schedule, clipping, dropout, and
the optimizer state that lets a training continue exactly.

:func:`gradcore.train` checks its update options into an :class:`Update` and hands the
kernels the options of each call (``Update.options``); the velocity lives in
:class:`TrainState`, with the parameters' layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arch import Architecture

__all__ = ["Update", "TrainState", "SCHEDULES"]

#: Momentum schedules: None (constant μ) or Sutskever et al.'s (2013) rising one.
SCHEDULES = (None, "sutskever")


def _unit(name: str, value: Any) -> float:
    """A real number in [0, 1), for momentum and dropout."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    if not (0.0 <= v < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


@dataclass(frozen=True)
class Update:
    """The checked update options of one :func:`gradcore.train` call (see its docstring)."""

    momentum: float = 0.0
    nesterov: bool = False
    schedule: str | None = None
    final_momentum: float | None = None
    final_updates: int = 1000
    clip_norm: float | None = None
    dropout: float = 0.0

    @classmethod
    def check(cls, momentum: Any = 0.0, nesterov: Any = False, schedule: Any = None,
              final_momentum: Any = None, final_updates: Any = 1000, clip_norm: Any = None,
              dropout: Any = 0.0) -> Update:
        mu = _unit("momentum", momentum)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"momentum_schedule must be None or 'sutskever', got {schedule!r}")
        if mu == 0 and (nesterov or schedule is not None or final_momentum is not None):
            what = "nesterov" if nesterov else ("momentum_schedule" if schedule is not None
                                                else "final_momentum")
            raise ValueError(f"{what} needs momentum > 0 (the largest μ), got momentum=0")
        final = None if final_momentum is None else _unit("final_momentum", final_momentum)
        if isinstance(final_updates, (bool, np.bool_)) or not isinstance(
                final_updates, (int, np.integer)) or final_updates < 1:
            raise ValueError(f"final_updates must be an integer >= 1, got {final_updates!r}")
        clip = None
        if clip_norm is not None:
            if isinstance(clip_norm, (bool, np.bool_)) or not isinstance(
                    clip_norm, (int, float, np.number)):
                raise TypeError(f"clip_norm must be None or a number > 0, got {clip_norm!r}")
            clip = float(clip_norm)
            if not (math.isfinite(clip) and clip > 0):
                raise ValueError(f"clip_norm must be finite and > 0, got {clip_norm!r}")
        return cls(mu, bool(nesterov), schedule, final, int(final_updates), clip,
                   _unit("dropout", dropout))

    @property
    def is_sgd(self) -> bool:
        """The book's plain SGD: no option set."""
        return self == Update()

    def options(self, *, t0: int, final_from: int, seed: int, epoch: int,
                batch0: int) -> dict[str, Any] | None:
        """The kernels' update options for one call (None: the book's SGD)."""
        if self.is_sgd:
            return None
        return {"momentum": self.momentum, "nesterov": self.nesterov,
                "schedule": 1 if self.schedule == "sutskever" else 0, "t0": t0,
                "final_from": final_from if self.final_momentum is not None else -1,
                "final_momentum": self.final_momentum or 0.0,
                "clip_norm": self.clip_norm or 0.0, "dropout": self.dropout,
                "seed": seed, "epoch": epoch, "batch0": batch0}


@dataclass
class TrainState:
    """What a training needs to go on exactly where it stopped:
    ``train(net, ..., state=result.state)`` continues a run, and two calls of 5 epochs give
    the same bits as one of 10.

    Attributes
    ----------
    velocity : ndarray or None
        The momentum's velocity, with the parameters' layout (weights, biases, then the PReLU
        slopes' own); None until momentum is used.
    updates : int
        Mini-batch updates made so far (the momentum schedule's t).
    epochs : int
        Epochs completed so far (the dropout masks' epoch).
    shuffle : dict
        The state of the generator that shuffles each epoch's examples.
    dropout_seed : int
        The key of the dropout masks.
    architecture : Architecture
        The network's architecture, which the velocity's layout and dtype follow.
    """

    velocity: np.ndarray | None
    updates: int
    epochs: int
    shuffle: dict[str, Any]
    dropout_seed: int
    architecture: Architecture

    def copy(self) -> TrainState:
        import copy

        return TrainState(None if self.velocity is None else self.velocity.copy(),
                          self.updates, self.epochs, copy.deepcopy(self.shuffle),
                          self.dropout_seed, self.architecture)

    def check_for(self, arch: Architecture) -> None:
        """Refuse a state made for another network's layout or dtype."""
        mine = self.architecture
        if (mine.sizes, mine.activations, mine.output, mine.dtype) != (
                arch.sizes, arch.activations, arch.output, arch.dtype):
            raise ValueError(f"state belongs to a network of sizes {list(mine.sizes)} "
                             f"({mine.describe()}, {mine.dtype.name}); this one has sizes "
                             f"{list(arch.sizes)} ({arch.describe()}, {arch.dtype.name})")
        if self.velocity is not None and (self.velocity.shape != (arch.n_params,)
                                          or self.velocity.dtype != arch.dtype):
            raise ValueError(f"state's velocity must be ({arch.n_params},) {arch.dtype.name}, "
                             f"got {self.velocity.shape} {self.velocity.dtype}")
