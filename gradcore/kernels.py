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
    Wₗ of shape (sizes[l+1], sizes[l]) row-major, then bₗ of shape (sizes[l+1],).
    :func:`layer_views` gives the per-layer views. Kernels that train write into it.
``X``
    (n, sizes[0]), C-contiguous, the dtype of ``params``; one example per row.
``Y``
    (n, sizes[-1]), C-contiguous, the dtype of ``params``: targets in [0, 1], usually one-hot.
``perm``
    1-D int64 row indices into X and Y.
``cost``
    ``"cross_entropy"`` or ``"quadratic"``.

Speed: the kernels read arrays fastest when their data starts at a 64-byte boundary, where
a 64-byte vector load touches one cache line instead of two. NumPy places large arrays 16
bytes past one; :func:`aligned` gives an aligned copy. The arrays gradcore makes are aligned
(the images of ``gradcore.datasets``, :attr:`gradcore.Network.params`, the copies
:func:`gradcore.train` makes to convert data); an array of the right type is used as it is.
On an Intel Xeon with AVX-512, an SGD epoch of [784, 30, 30, 10] took 1.29x as long with X
16 bytes off (float32: 1.24x). Results are the same bits either way.

Every neuron is sigmoid. The kernels release the GIL while they run; calls on different
``params`` buffers may run in parallel threads. A kernel must not run while another thread
writes the same arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import _core, _layout
from ._core import StopFlag
from ._errors import Stopped
from ._validation import check_targets, validated

__all__ = [
    "param_count",
    "layer_views",
    "feedforward",
    "gradient",
    "learning_speeds",
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


def _params(params: object, sizes: Sequence[int]) -> np.ndarray:
    p = _check_array("params", params, 1, None)
    if p.dtype not in (np.float64, np.float32):
        raise TypeError(f"params must be float64 or float32, got {p.dtype}")
    want = _layout.param_count(sizes)
    if p.shape[0] != want:
        raise ValueError(f"params must have {want} values for sizes {list(sizes)}, "
                         f"got {p.shape[0]}")
    return p


def _rows(name: str, arr: object, cols: int, dtype: np.dtype, n: int | None = None) -> np.ndarray:
    a = _check_array(name, arr, 2, dtype)
    if a.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows (as many as X), got {a.shape[0]}")
    return a


def _inputs(params: object, sizes: Sequence[int], X: object
            ) -> tuple[np.ndarray, np.ndarray]:
    """params and X checked against the contract of the module docstring."""
    p = _params(params, sizes)
    return p, _rows("X", X, sizes[0], p.dtype)


def _targets(Y: object, sizes: Sequence[int], p: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    """Y checked against the contract: one row per row of X, targets in [0, 1]."""
    Yc = _rows("Y", Y, sizes[-1], p.dtype, Xc.shape[0])
    check_targets("Y", Yc)
    return Yc


def _sizes32(sizes: Sequence[int]) -> np.ndarray:
    return np.array(sizes, dtype=np.int32)


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
def param_count(sizes: Sequence[int]) -> int:
    """Number of weights and biases of a network with these layer sizes."""
    return _layout.param_count(sizes)


@validated("kernels.layer_views")
def layer_views(params: np.ndarray,
                sizes: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(weights, biases): per-layer views into ``params`` (writing them writes params)."""
    return _layout.layer_views(_params(params, sizes), sizes)


@validated("kernels.feedforward")
def feedforward(params: np.ndarray, sizes: Sequence[int], X: np.ndarray,
                cost: str = "cross_entropy") -> tuple[np.ndarray, np.ndarray]:
    """Forward pass: (zᴸ, aᴸ), the output layer's pre-activations and activations, each
    (n, sizes[-1]) of the dtype of params. (``cost`` does not change the result; it is
    accepted for symmetry with the other kernels.)"""
    p, Xc = _inputs(params, sizes, X)
    z = np.empty((Xc.shape[0], sizes[-1]), dtype=p.dtype)
    a = np.empty_like(z)
    _core.feedforward(p, _sizes32(sizes), _core.COST_CODES[cost], Xc, z, a)
    return z, a


@validated("kernels.gradient")
def gradient(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
             cost: str = "cross_entropy", *, stop: StopFlag | None = None
             ) -> tuple[np.ndarray, float]:
    """Backprop over all rows: (grad, cost_sum).

    ``grad`` has the layout of params and holds ∂C/∂params for C = the mean cost over the
    rows (no regularisation); its bias part for layer l is the mean of δˡ. ``cost_sum`` is
    the sum (not the mean) of the cost over the rows. ``stop.set()`` (any thread) or Ctrl-C
    (main thread) stops it: :class:`gradcore.Stopped` or KeyboardInterrupt.
    """
    p, Xc = _inputs(params, sizes, X)
    Yc = _targets(Y, sizes, p, Xc)
    grad = np.empty_like(p)
    st, cost_sum = _core.gradient(p, _sizes32(sizes), _core.COST_CODES[cost], Xc,
                                  Yc, grad, stop)
    _raise_if_stopped(st, "gradient computation")
    return grad, float(cost_sum)


def learning_speeds(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
                    cost: str = "cross_entropy") -> np.ndarray:
    """‖mean over the rows of δˡ‖ for every layer with weights, output last (float64)."""
    grad, _ = gradient(params, sizes, X, Y, cost)
    _, biases = layer_views(grad, sizes)
    return np.array([np.linalg.norm(b.astype(np.float64)) for b in biases])


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
    """

    speed_sum: np.ndarray
    cost_sum: float
    batches: int
    finite: bool


@validated("kernels.sgd_epoch")
def sgd_epoch(params: np.ndarray, sizes: Sequence[int], X: np.ndarray, Y: np.ndarray,
              perm: np.ndarray, *, batch_size: int, eta: float, lmbda: float = 0.0,
              cost: str = "cross_entropy", max_batches: int = -1,
              stop: StopFlag | None = None) -> EpochResult:
    """One epoch of mini-batch SGD with L2 weight decay, in place on ``params``.

    Mini-batches are ``perm[k:k+batch_size]`` (the last may be shorter); for each, of
    length m: ``W ← (1 − ηλ/n)·W − (η/m)·Σ∇W`` and ``b ← b − (η/m)·Σ∇b``, n = len(X).
    ``max_batches`` ≥ 0 stops after that many mini-batches. ``stop.set()`` (any thread)
    or Ctrl-C (main thread) stops at a mini-batch boundary and raises
    :class:`gradcore.Stopped` or KeyboardInterrupt (params hold every update applied).
    """
    p, Xc = _inputs(params, sizes, X)
    Yc = _targets(Y, sizes, p, Xc)
    pc = _check_array("perm", perm, 1, np.dtype(np.int64))
    n = Xc.shape[0]
    if pc.size and (pc.min() < 0 or pc.max() >= n):
        raise ValueError(f"perm must hold row indices in [0, {n})")
    batch_size = min(batch_size, n)  # a mini-batch of more than n rows is one of n
    max_batches = min(max_batches, pc.size)  # more than there are is all of them
    speed_sum = np.zeros(sum(sizes[1:]))
    st, cost_sum, done = _core.sgd_epoch(p, _sizes32(sizes), _core.COST_CODES[cost],
                                         Xc, Yc, pc, batch_size, eta, lmbda, speed_sum,
                                         max_batches, stop)
    _raise_if_stopped(st, f"epoch after {done} mini-batches:")
    return EpochResult(speed_sum, float(cost_sum), int(done), st != _core.STATUS_NONFINITE)
