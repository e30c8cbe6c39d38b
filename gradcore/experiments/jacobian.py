"""The Jacobians of a network's hidden layers at its current weights, and their spectra.

For a net with hidden layers 1 … L (pre-activations zˡ = Wˡaˡ⁻¹ + bˡ, activations
aˡ = φ(zˡ), a⁰ = x), at one input x:

* the layer Jacobian ∂zˡ⁺¹/∂zˡ = Wˡ⁺¹·diag(φ'(zˡ)), whose mean singular value Glorot & Bengio
  (2010), "Understanding the difficulty of training deep feedforward neural networks",
  section 4.2.2, report: about 0.5 with their standard initialisation and 0.8 with the
  normalized one, for tanh;
* the input–output Jacobian J = ∂aᴸ/∂x = Dᴸ Wᴸ ⋯ D¹ W¹ (Dˡ = diag(φ'(zˡ))), whose
  singular values all equal 1 in a net with *dynamical isometry* (Saxe, McClelland &
  Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in deep linear neural
  networks"; Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid in deep
  learning through dynamical isometry: theory and practice").

Computed in float64 NumPy from the pre-activations of :meth:`gradcore.Network.forward_layers`
and the derivatives of :mod:`gradcore.reference`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import reference as _ref

__all__ = ["layer_factors", "input_output_jacobian", "jacobian_spectra", "one_blas_thread"]


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """While active, NumPy's BLAS and LAPACK (the SVDs here) run on one thread, when
    threadpoolctl is installed: the runner already runs one job per core, and BLAS threads
    on top of them only compete for the cores (an SVD of 100 × 100 then takes 20 times
    longer on a busy machine). Without threadpoolctl nothing changes."""
    try:
        from threadpoolctl import (  # type: ignore[import-untyped,unused-ignore]
            threadpool_limits,
        )
    except ImportError:  # pragma: no cover - the test extra installs it
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def layer_factors(net: Any, X: Any) -> list[np.ndarray]:
    """φ'(zˡ) of every hidden layer at the rows of X: one (k, sizes[l+1]) array per hidden
    layer, float64."""
    zs, outs = net.forward_layers(X)
    out = []
    for l, name in enumerate(net.activations):
        slope = net.slopes[l]
        out.append(_ref.activation_derivative(
            name, np.asarray(outs[l], dtype=np.float64), np.asarray(zs[l], dtype=np.float64),
            None if slope is None else np.asarray(slope, dtype=np.float64)))
    return out


def input_output_jacobian(net: Any, x: Any) -> np.ndarray:
    """J = ∂aᴸ/∂x at the input x (a vector of sizes[0]): (sizes[L], sizes[0]), aᴸ the last
    hidden layer's activations."""
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    factors = layer_factors(net, x)
    J = np.eye(net.sizes[0])
    for w, d in zip(net.weights, factors):
        J = d[0][:, None] * (np.asarray(w, dtype=np.float64) @ J)
    return J


def jacobian_spectra(net: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """At every row of X: the singular values of :func:`input_output_jacobian` (descending,
    one row per example: (k, min(sizes[0], sizes[L]))) and the mean singular value of each
    layer Jacobian Wˡ⁺¹·diag(φ'(zˡ)) between hidden layers, averaged over the rows
    ((n_hidden − 1,)).
    """
    X = np.asarray(X, dtype=np.float64)
    factors = layer_factors(net, X)
    weights = [np.asarray(w, dtype=np.float64) for w in net.weights[:len(factors)]]
    spectra = []
    layer = np.zeros(max(len(factors) - 1, 0))
    for i in range(X.shape[0]):
        J = np.eye(net.sizes[0])
        for w, d in zip(weights, factors):
            J = d[i][:, None] * (w @ J)
        spectra.append(np.linalg.svd(J, compute_uv=False))
        for l in range(len(factors) - 1):
            layer[l] += np.linalg.svd(weights[l + 1] * factors[l][i], compute_uv=False).mean()
    return np.array(spectra), layer / max(X.shape[0], 1)
