"""The parameter layout: the one place that knows where each layer's numbers live.

A network with sizes ``(n_0, n_1, …, n_L)`` keeps all its parameters in one flat buffer:
for l = 0 … L−1, Wₗ of shape (n_{l+1}, n_l) row-major, then bₗ of shape (n_{l+1},). The C
kernels use the same layout (``gc_param_count`` in ``src/kernels.h``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["param_count", "layer_offsets", "layer_views", "bias_offsets"]


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
