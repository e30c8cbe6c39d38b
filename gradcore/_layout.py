"""The parameter layout: the one place that knows where each layer's numbers live.

A network with sizes ``(n_0, n_1, …, n_L)`` keeps all its parameters in one flat buffer:
for l = 0 … L−1, Wₗ of shape (n_{l+1}, n_l) row-major, then bₗ of shape (n_{l+1},). The C
kernels use the same layout (``gc_param_count`` in ``src/kernels.h``).

It also owns where such buffers start in memory: at a multiple of :data:`ALIGNMENT` bytes
(:func:`aligned_zeros`, :func:`as_aligned`). With AVX-512 the kernels load 64 bytes at a
time; rows of 784 numbers are a whole number of 64-byte lines, so when a buffer starts on a
line every vector does, and when it does not, every vector load touches two lines. NumPy
places large arrays 16 bytes past a line (what that costs: ``gradcore.kernels`` and the
the performance page of the docs, docs/performance.md). Results do not depend on alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["param_count", "layer_offsets", "layer_views", "bias_offsets", "ALIGNMENT",
           "aligned_empty", "aligned_zeros", "is_aligned", "as_aligned"]

#: Bytes: the start of every buffer gradcore allocates for the kernels is a multiple of it
#: (a cache line, and the widest vector the kernels load).
ALIGNMENT = 64


def layer_offsets(sizes: Sequence[int]) -> list[tuple[int, int, int]]:
    """Per layer ``(start of Wₗ, start of bₗ, end of bₗ)`` in the flat buffer."""
    out, off = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = off
        b = w + int(n_out) * int(n_in)
        off = b + int(n_out)
        out.append((w, b, off))
    return out


def param_count(sizes: Sequence[int]) -> int:
    """Number of weights and biases of a network with these layer sizes."""
    return sum(int(n_out) * (int(n_in) + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def layer_views(buf: np.ndarray,
                sizes: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(weights, biases): per-layer views into ``buf``; writing a view writes ``buf``."""
    ws, bs = [], []
    for (w, b, end), n_in, n_out in zip(layer_offsets(sizes), sizes[:-1], sizes[1:]):
        ws.append(buf[w:b].reshape(int(n_out), int(n_in)))
        bs.append(buf[b:end])
    return ws, bs


def bias_offsets(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Per layer ``(start, end)`` of its biases in the concatenation of all the biases
    (the layout of the kernels' learning-speed sums)."""
    out, off = [], 0
    for n_out in sizes[1:]:
        out.append((off, off + int(n_out)))
        off += int(n_out)
    return out


def aligned_empty(shape: int | tuple[int, ...], dtype: object) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts at a multiple of ALIGNMENT."""
    dt: np.dtype[Any] = np.dtype(dtype)  # type: ignore[call-overload]
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dt.itemsize + ALIGNMENT, dtype=np.uint8)
    start = int(-raw.ctypes.data % ALIGNMENT)
    out: np.ndarray = raw[start:start + count * dt.itemsize].view(dt).reshape(shape)
    return out


def aligned_zeros(shape: int | tuple[int, ...], dtype: object) -> np.ndarray:
    """Zeros in a C-contiguous array whose data starts at a multiple of ALIGNMENT."""
    out = aligned_empty(shape, dtype)
    out.fill(0)
    return out


def is_aligned(arr: np.ndarray) -> bool:
    """Whether ``arr``'s data starts at a multiple of ALIGNMENT bytes."""
    return arr.ctypes.data % ALIGNMENT == 0


def as_aligned(arr: np.ndarray, dtype: object = None) -> np.ndarray:
    """``arr`` as a C-contiguous, aligned array of ``dtype`` (None: its own): ``arr`` itself
    if it already is one, else a copy converted straight into an aligned buffer."""
    dt = arr.dtype if dtype is None else np.dtype(dtype)  # type: ignore[call-overload]
    if arr.dtype == dt and arr.flags.c_contiguous and is_aligned(arr):
        return arr
    out = aligned_empty(arr.shape, dt)
    out[...] = arr
    return out
