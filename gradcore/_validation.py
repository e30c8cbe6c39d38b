"""Argument checks shared by the public API.

Everything a kernel relies on is checked here, before any kernel runs, and a failed check
raises ValueError or TypeError naming the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

#: Largest layer accepted (a sanity bound: far beyond any dense sigmoid net one trains).
MAX_LAYER_SIZE = 1 << 20
#: Largest number of parameters accepted (8 GiB of float64).
MAX_PARAMS = 1 << 30
#: Most layers accepted, inputs and outputs included (the deepest chain experiment has 101).
MAX_LAYERS = 1000

COSTS = ("cross_entropy", "quadratic")
INITS = ("default", "large")


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def check_sizes(sizes: Any) -> tuple[int, ...]:
    """Layer sizes: a sequence of 2 to MAX_LAYERS positive integers."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of integers like [784, 30, 10], "
                        f"got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least 2 layers (inputs and outputs), "
                         f"got {sizes!r}")
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"sizes has {len(sizes)} layers, more than the limit {MAX_LAYERS}")
    for i, s in enumerate(sizes):
        if not _is_int(s):
            raise TypeError(f"sizes[{i}] must be an integer, got {s!r} "
                            f"({type(s).__name__})")
        if s < 1:
            raise ValueError(f"sizes[{i}] must be >= 1, got {s}")
        if s > MAX_LAYER_SIZE:
            raise ValueError(f"sizes[{i}] = {s} is larger than the limit {MAX_LAYER_SIZE}")
    n_params = sum(int(b) * (int(a) + 1) for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMS:
        raise ValueError(f"sizes {sizes} need {n_params} parameters, more than the limit "
                         f"{MAX_PARAMS}")
    return tuple(int(s) for s in sizes)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _all_finite(arr: np.ndarray, rows: int = 4096) -> bool:
    """np.isfinite(arr).all() in blocks of rows, so no temporary as large as arr is made."""
    return all(bool(np.isfinite(arr[i:i + rows]).all()) for i in range(0, arr.shape[0], rows))


def as_inputs(X: Any, n_in: int, dtype: np.dtype, name: str = "X") -> np.ndarray:
    """X as a C-contiguous (n, n_in) array of dtype, finite, n >= 1 (copied only if needed)."""
    arr = np.asarray(X)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype "
                        f"{arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_examples, {n_in}), got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if arr.shape[1] != n_in:
        raise ValueError(f"{name} must have {n_in} columns (the network's input size), "
                         f"got shape {arr.shape}")
    with np.errstate(over="ignore"):  # values beyond float32's range are reported below
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not _all_finite(out):
        bad = int(np.count_nonzero(~np.isfinite(out)))
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s)"
                         + (" (after conversion to float32)" if np.isfinite(arr).all() else ""))
    return out


def as_targets(y: Any, n: int, n_out: int, dtype: np.dtype, name: str = "y") -> np.ndarray:
    """y (integer labels (n,) or targets (n, n_out) in [0, 1]) as one-hot (n, n_out) dtype."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iuf" and arr.dtype.kind != "b":
        raise TypeError(f"{name} must be integer labels or one-hot rows, got dtype "
                        f"{arr.dtype}")
    if arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} labels, X has {n} rows")
        if arr.dtype.kind == "f":
            if not (np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))):
                raise ValueError(f"{name} as 1-D labels must be whole numbers")
        elif arr.dtype.kind == "b":
            raise TypeError(f"{name} as 1-D labels must be integers, got dtype bool")
        if n and (arr.min() < 0 or arr.max() >= n_out):
            raise ValueError(f"{name} labels must be in [0, {n_out - 1}] (the network has "
                             f"{n_out} outputs), got values in [{arr.min()}, {arr.max()}]")
        Y = np.zeros((n, n_out), dtype=dtype)
        Y[np.arange(n), arr.astype(np.intp)] = 1
        return Y
    if arr.ndim == 2:
        if arr.shape != (n, n_out):
            raise ValueError(f"{name} as one-hot rows must have shape ({n}, {n_out}), "
                             f"got {arr.shape}")
        Y = np.ascontiguousarray(arr, dtype=dtype)
        if not np.isfinite(Y).all() or Y.min() < 0 or Y.max() > 1:
            raise ValueError(f"{name} one-hot targets must be finite values in [0, 1]")
        return Y
    raise ValueError(f"{name} must be labels (n,) or one-hot rows (n, {n_out}), "
                     f"got shape {arr.shape}")


def check_int(name: str, value: Any, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value: Any, *, positive: bool) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if not positive and v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v
