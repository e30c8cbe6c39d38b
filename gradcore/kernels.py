"""The compiled kernels on NumPy arrays: gradcore's stable low-level API.

For tools that want the pieces rather than :class:`gradcore.Network` (an interactive
visualiser, another framework's layer, a custom training loop). Names and signatures here
follow semantic versioning; everything under ``gradcore._*`` is private.

Array contract (checked on every call; nothing is converted or copied behind your back,
a mismatch raises TypeError or ValueError naming the argument):

``sizes``
    Layer sizes, inputs first, e.g. ``(784, 30, 10)``; L = len(sizes) − 1 layers with weights.
``params``
    1-D, C-contiguous, float64 or float32, length :func:`param_count`: for l = 0 … L−1,
    Wₗ of shape (sizes[l+1], sizes[l]) row-major, then bₗ of shape (sizes[l+1],); then the
    slopes of each PReLU layer.
    :func:`layer_views` gives the per-layer views. Kernels that train write into it.
``X``
    (n, sizes[0]), C-contiguous, the dtype of ``params``; one example per row.
``Y``
    (n, sizes[-1]), C-contiguous, the dtype of ``params``: targets in [0, 1], usually one-hot.
``perm``
    1-D int64 row indices into X and Y.
``cost``
    ``"cross_entropy"`` or ``"quadratic"`` with a sigmoid output, ``"log_likelihood"`` with a
    softmax output; None (the default): the output's first.
``activation``, ``output``
    The activation of every hidden layer (one name, or a sequence of one per hidden layer:
    ``"sigmoid"`` (the default), ``"tanh"``, ``"softsign"``, ``"relu"``, ``"leaky_relu"``,
    ``"elu"``, ``"prelu"``, ``"linear"``) and of the output layer (``"sigmoid"`` or
    ``"softmax"``). A PReLU layer's slopes follow the last layer's biases in ``params``
    (:func:`param_count` counts them, :func:`slope_views` gives their views).

Speed: the kernels read arrays fastest when their data starts at a 64-byte boundary, where
a 64-byte vector load touches one cache line instead of two. NumPy places large arrays 16
bytes past one; :func:`aligned` gives an aligned copy. The arrays gradcore makes are aligned
(the images of ``gradcore.datasets``, :attr:`gradcore.Network.params`, the copies
:func:`gradcore.train` makes to convert data); an array of the right type is used as it is.
On an Intel Xeon with AVX-512, an SGD epoch of [784, 30, 30, 10] took 1.29x as long with X
16 bytes off (float32: 1.24x). Results are the same bits either way.

The kernels release the GIL while they run; calls on different
``params`` buffers may run in parallel threads. A kernel must not run while another thread
writes the same arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core, _layout
from ._arch import Architecture, architecture
from ._core import StopFlag
from ._errors import Stopped
from ._validation import check_targets, validated

__all__ = [
    "param_count",
    "layer_views",
    "slope_views",
    "feedforward",
    "forward_layers",
    "gradient",
    "learning_speeds",
    "gradient_rms",
    "sgd_epoch",
    "EpochResult",
    "aligned",
]


def _check_array(name: str, arr: object, ndim: int, dtype: np.dtype | None) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of params), "
                        f"got {arr.dtype}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")
    return arr


def _params(params: object, arch: Architecture) -> np.ndarray:
    p = _check_array("params", params, 1, None)
    if p.dtype not in (np.float64, np.float32):
        raise TypeError(f"params must be float64 or float32, got {p.dtype}")
    if p.shape[0] != arch.n_params:
        raise ValueError(f"params must have {arch.n_params} values for sizes "
                         f"{list(arch.sizes)} ({arch.describe()}), got {p.shape[0]}")
    return p


def _rows(name: str, arr: object, cols: int, dtype: np.dtype, n: int | None = None) -> np.ndarray:
    a = _check_array(name, arr, 2, dtype)
    if a.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows (as many as X), got {a.shape[0]}")
    return a


def _arch(sizes: Sequence[int], activation: Any, output: Any, cost: Any) -> Architecture:
    return architecture(sizes, activation, output, cost)


def _inputs(params: object, arch: Architecture, X: object) -> tuple[np.ndarray, np.ndarray]:
    """params and X checked against the contract of the module docstring."""
    p = _params(params, arch)
    return p, _rows("X", X, arch.sizes[0], p.dtype)


def _targets(Y: object, arch: Architecture, p: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    """Y checked against the contract: one row per row of X, targets in [0, 1]."""
    Yc = _rows("Y", Y, arch.sizes[-1], p.dtype, Xc.shape[0])
    check_targets("Y", Yc)
    return Yc


def _raise_if_stopped(st: int, what: str) -> None:
    if st == _core.STATUS_INTERRUPTED:
        raise KeyboardInterrupt(f"{what} interrupted")
    if st == _core.STATUS_STOPPED:
        raise Stopped(f"{what} stopped by its StopFlag")


def aligned(arr: object, dtype: object = None) -> np.ndarray:
    """``arr`` as a C-contiguous array of ``dtype`` (None: its own) whose data starts at a
    64-byte boundary: ``arr`` itself if it already is one, else a copy.

    For X (and params) that the kernels read many times, e.g. every epoch of a training loop.
    """
    return _layout.as_aligned(np.asarray(arr), dtype)


@validated("kernels.param_count")
def param_count(sizes: Sequence[int], *, activation: str | Sequence[str] = "sigmoid") -> int:
    """Number of weights, biases and PReLU slopes of a network with these layer sizes."""
    return _arch(sizes, activation, "sigmoid", None).n_params


@validated("kernels.layer_views")
def layer_views(params: np.ndarray, sizes: Sequence[int], *,
                activation: str | Sequence[str] = "sigmoid"
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(weights, biases): per-layer views into ``params`` (writing them writes params)."""
    arch = _arch(sizes, activation, "sigmoid", None)
    return _layout.layer_views(_params(params, arch), sizes)


@validated("kernels.slope_views")
def slope_views(params: np.ndarray, sizes: Sequence[int], *,
                activation: str | Sequence[str] = "sigmoid") -> list[np.ndarray | None]:
    """Per hidden layer, the view of its PReLU slopes in ``params`` (None for other layers)."""
    arch = _arch(sizes, activation, "sigmoid", None)
    return arch.slope_views(_params(params, arch))


# ------------------------------------------------------------------ the calls
# The private forms take a checked Architecture and arrays already checked by their caller
# (gradcore.Network, gradcore.train); the public ones below check everything first.

def _feedforward(arch: Architecture, params: np.ndarray, X: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    z = np.empty((X.shape[0], arch.sizes[-1]), dtype=params.dtype)
    a = np.empty_like(z)
    _core.feedforward(arch.core(), params, X, z, a)
    return z, a


def _forward_layers(arch: Architecture, params: np.ndarray, X: np.ndarray
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    width = sum(arch.sizes[1:])
    z = np.empty((X.shape[0], width), dtype=params.dtype)
    a = np.empty_like(z)
    _core.forward_layers(arch.core(), params, X, z, a)
    bounds = np.cumsum((0, *arch.sizes[1:]))
    return ([z[:, s:e] for s, e in zip(bounds[:-1], bounds[1:])],
            [a[:, s:e] for s, e in zip(bounds[:-1], bounds[1:])])


def _gradient(arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray, *,
              sq_sum: np.ndarray | None = None, stop: StopFlag | None = None
              ) -> tuple[np.ndarray, float]:
    grad = np.empty_like(params)
    st, cost_sum = _core.gradient(arch.core(), params, X, Y, grad, sq_sum, stop)
    _raise_if_stopped(st, "gradient computation")
    return grad, float(cost_sum)


def _sgd_epoch(arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
               perm: np.ndarray, batch_size: int, eta: float, lmbda: float,
               speed_sum: np.ndarray, sq_sum: np.ndarray | None = None,
               max_batches: int = -1, stop: StopFlag | None = None,
               velocity: np.ndarray | None = None, update: dict[str, Any] | None = None,
               clipped: list[int] | None = None) -> tuple[int, float, int]:
    """The compiled epoch: (status, cost_sum, batches_done), the status left to the caller;
    the number of clipped mini-batches is appended to ``clipped`` when given."""
    st, cost_sum, done, n_clipped = _core.sgd_epoch(arch.core(), params, X, Y, perm,
                                                    batch_size, eta, lmbda, speed_sum, sq_sum,
                                                    max_batches, stop, velocity, update)
    if clipped is not None:
        clipped.append(int(n_clipped))
    return int(st), float(cost_sum), int(done)


def _sgd_epochs(arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                perms: np.ndarray, batch_size: int, eta: float, lmbda: float,
                speed_sums: np.ndarray, sq_sums: np.ndarray | None = None,
                stop: StopFlag | None = None, velocity: np.ndarray | None = None,
                update: dict[str, Any] | None = None
                ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """len(perms) compiled epochs in one call: (status, cost_sums, batches_done, clipped,
    weights_sq), one entry per epoch begun, the status left to the caller."""
    st, *per_epoch = _core.sgd_epochs(arch.core(), params, X, Y, perms, batch_size, eta,
                                      lmbda, speed_sums, sq_sums, stop, velocity, update)
    return (int(st), *per_epoch)  # type: ignore[return-value]


def _weights_sum_squares(arch: Architecture, params: np.ndarray) -> float:
    """Σ w² over every weight of params (not biases or slopes), in float64, from the core:
    the L2 term's sum, the same bits as :func:`_sgd_epochs` records."""
    return float(_core.weights_sum_squares(arch.core(), params))


def _speeds(arch: Architecture, grad: np.ndarray) -> np.ndarray:
    """‖mean δˡ‖ per layer (float64) from a mean gradient's bias parts."""
    return np.array([np.linalg.norm(grad[b:e].astype(np.float64))
                     for b, e in arch.bias_offsets()])


@validated("kernels.feedforward")
def feedforward(params: np.ndarray, sizes: Sequence[int], X: np.ndarray,
                cost: str | None = None, *, activation: str | Sequence[str] = "sigmoid",
                output: str = "sigmoid") -> tuple[np.ndarray, np.ndarray]:
    """Forward pass: (zᴸ, aᴸ), the output layer's pre-activations and activations, each
    (n, sizes[-1]) of the dtype of params. (``cost`` does not change the result; it is
    accepted for symmetry with the other kernels.)"""
    arch = _arch(sizes, activation, output, cost)
    p, Xc = _inputs(params, arch, X)
    return _feedforward(arch, p, Xc)


@validated("kernels.forward_layers")
def forward_layers(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, *,
                   activation: str | Sequence[str] = "sigmoid", output: str = "sigmoid"
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every layer's (zˡ, aˡ): two lists with one (n, sizes[l+1]) array per layer with
    weights, the output's last (the inputs of saturation probes and histograms)."""
    arch = _arch(sizes, activation, output, None)
    p, Xc = _inputs(params, arch, X)
    return _forward_layers(arch, p, Xc)


@validated("kernels.gradient")
def gradient(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
             cost: str | None = None, *, activation: str | Sequence[str] = "sigmoid",
             output: str = "sigmoid", stop: StopFlag | None = None
             ) -> tuple[np.ndarray, float]:
    """Backprop over all rows: (grad, cost_sum).

    ``grad`` has the layout of params and holds ∂C/∂params for C = the mean cost over the
    rows (no regularisation); its bias part for layer l is the mean of δˡ. ``cost_sum`` is
    the sum (not the mean) of the cost over the rows. ``stop.set()`` (any thread) or Ctrl-C
    (main thread) stops it: :class:`gradcore.Stopped` or KeyboardInterrupt.
    """
    arch = _arch(sizes, activation, output, cost)
    p, Xc = _inputs(params, arch, X)
    return _gradient(arch, p, Xc, _targets(Y, arch, p, Xc), stop=stop)


def learning_speeds(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
                    cost: str | None = None, *, activation: str | Sequence[str] = "sigmoid",
                    output: str = "sigmoid") -> np.ndarray:
    """‖mean over the rows of δˡ‖ for every layer with weights, output last (float64)."""
    grad, _ = gradient(params, sizes, X, Y, cost, activation=activation, output=output)
    return _speeds(_arch(sizes, activation, output, cost), grad)


@validated("kernels.gradient_rms")
def gradient_rms(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
                 cost: str | None = None, *, activation: str | Sequence[str] = "sigmoid",
                 output: str = "sigmoid") -> np.ndarray:
    """√(mean over the rows of ‖δˡₓ‖²) for every layer with weights, output last (float64):
    the per-example size of the gradient that mean-field theory predicts (beside
    :func:`learning_speeds`, the size of its mean)."""
    arch = _arch(sizes, activation, output, cost)
    p, Xc = _inputs(params, arch, X)
    sq = np.zeros(arch.n_layers)
    _gradient(arch, p, Xc, _targets(Y, arch, p, Xc), sq_sum=sq)
    return np.asarray(np.sqrt(sq / Xc.shape[0]))


class EpochResult(NamedTuple):
    """What :func:`sgd_epoch` returns.

    speed_sum : ndarray (sum(sizes[1:]),) float64
        Per layer (concatenated, output last), the sum over the mini-batches applied of each
        mini-batch's mean ∂C/∂b. ``‖speed_sum[layer] / batches‖`` is the in-epoch learning
        speed.
    cost_sum : float
        Sum of the cost of every example seen, each at the parameters before its
        mini-batch's update (no L2 term).
    batches : int
        Mini-batches whose update was applied.
    finite : bool
        False if a cost or the parameters became NaN or infinite (training diverged; the
        parameters are then unusable).
    sq_sum : ndarray (len(sizes) − 1,) float64
        Per layer, the sum over the examples seen of ‖δˡₓ‖², each at the parameters before
        its mini-batch's update: ``√(sq_sum[l] / examples)`` is the in-epoch gradient rms.
    clipped : int
        Mini-batches whose gradient was clipped (with ``clip_norm``).
    """

    speed_sum: np.ndarray
    cost_sum: float
    batches: int
    finite: bool
    sq_sum: np.ndarray
    clipped: int = 0


@validated("kernels.sgd_epoch")
def sgd_epoch(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
              perm: np.ndarray, *, batch_size: int, eta: float, lmbda: float = 0.0,
              cost: str | None = None, activation: str | Sequence[str] = "sigmoid",
              output: str = "sigmoid", max_batches: int = -1,
              stop: StopFlag | None = None, momentum: float = 0.0, nesterov: bool = False,
              momentum_schedule: str | None = None, t0: int = 0,
              clip_norm: float | None = None, dropout: float = 0.0, seed: int = 0,
              epoch: int = 0, velocity: np.ndarray | None = None) -> EpochResult:
    """One epoch of mini-batch SGD with L2 weight decay, in place on ``params``.

    Mini-batches are ``perm[k:k+batch_size]`` (the last may be shorter); for each, of
    length m: ``W ← (1 − ηλ/n)·W − (η/m)·Σ∇W`` and ``b ← b − (η/m)·Σ∇b``, n = len(X);
    PReLU slopes take the biases' step (never decayed). ``max_batches`` ≥ 0 stops after that
    many mini-batches. ``stop.set()`` (any thread) or Ctrl-C (main thread) stops at a
    mini-batch boundary and raises :class:`gradcore.Stopped` or KeyboardInterrupt (params
    hold every update applied).

    The update's options are :func:`gradcore.train`'s (``momentum``, ``nesterov``,
    ``momentum_schedule``, ``clip_norm``, ``dropout``; papers there), with what ``train``
    keeps between epochs given explicitly: ``velocity`` (the params' layout and dtype,
    updated in place; needed with momentum), ``t0`` (updates made before this epoch: the
    schedule's t), and the dropout masks' key ``seed`` and ``epoch``.
    """
    arch = _arch(sizes, activation, output, cost)
    p, Xc = _inputs(params, arch, X)
    Yc = _targets(Y, arch, p, Xc)
    pc = _check_array("perm", perm, 1, np.dtype(np.int64))
    n = Xc.shape[0]
    if pc.size and (pc.min() < 0 or pc.max() >= n):
        raise ValueError(f"perm must hold row indices in [0, {n})")
    batch_size = min(batch_size, n)  # a mini-batch of more than n rows is one of n
    max_batches = min(max_batches, pc.size)  # more than there are is all of them
    from ._update import Update

    update = Update.check(momentum, nesterov, momentum_schedule, None, 1000, clip_norm,
                          dropout)
    if update.momentum > 0:
        if velocity is None:
            raise ValueError("momentum needs velocity: an array of params' shape and dtype")
        _check_array("velocity", velocity, 1, p.dtype)
        if velocity.shape != p.shape:
            raise ValueError(f"velocity must have {p.shape[0]} values, got {velocity.shape[0]}")
    if isinstance(t0, bool) or not isinstance(t0, (int, np.integer)) or t0 < 0:
        raise ValueError(f"t0 must be an integer >= 0, got {t0!r}")
    options = update.options(t0=int(t0), final_from=-1, seed=int(seed), epoch=int(epoch),
                             batch0=0)
    speed_sum = np.zeros(sum(sizes[1:]))
    sq_sum = np.zeros(arch.n_layers)
    clipped: list[int] = []
    st, cost_sum, done = _sgd_epoch(arch, p, Xc, Yc, pc, batch_size, eta, lmbda, speed_sum,
                                    sq_sum, max_batches, stop,
                                    velocity if update.momentum > 0 else None, options, clipped)
    _raise_if_stopped(st, f"epoch after {done} mini-batches:")
    return EpochResult(speed_sum, cost_sum, done, st != _core.STATUS_NONFINITE, sq_sum,
                       clipped[0])
