"""Plain-NumPy reference implementation: the specification of gradcore's kernels.

Every function here computes, in the most readable NumPy we could write, what the compiled
core computes fast. Who uses it:

* the tests (``tests/test_core.py``, ``test_kernels_api.py``, ``test_kernels_naive.py``,
  ``test_experiments.py``, ``test_chapter5.py``) hold the kernels to it on the same
  weights;
* the benchmarks (``benchmarks/``) time it beside the kernels, as the baseline;
* two places in gradcore where speed does not matter: :func:`cost_per_example` gives the
  evaluation cost from the output activations (``Network.total_cost``, the evaluation data
  of ``train``), and :func:`forward` gives the z and σ(z) of every neuron of the
  one-neuron-per-layer chain (``gradcore.experiments.chain_gradients``).

The training itself (forward, backprop, update, the learning-speed sums) never runs here.

Conventions (identical to :class:`gradcore.Network`):

* ``weights[l]`` has shape ``(n_out, n_in)``, ``biases[l]`` has shape ``(n_out,)``;
* ``X`` is ``(n, n_in)``, one example per row; ``Y`` is one-hot ``(n, n_out)``;
* every neuron is sigmoid, the output layer too;
* ``cost`` is ``"cross_entropy"`` (δᴸ = aᴸ − y) or ``"quadratic"`` (δᴸ = (aᴸ − y)·σ'(zᴸ)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "sigmoid",
    "feedforward",
    "forward",
    "output_delta",
    "cost_per_example",
    "backprop",
    "gradient",
    "learning_speeds",
    "sgd_epoch",
]

Arrays = Sequence[np.ndarray]
ArrayList = list[np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)); exp overflow for very negative z correctly gives 0."""
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def forward(weights: Arrays, biases: Arrays, X: np.ndarray) -> tuple[ArrayList, ArrayList]:
    """Forward pass. Returns (zs, activations): zs[l] is (n, sizes[l+1]); activations[0] is X."""
    activations = [X]
    zs = []
    a = X
    for w, b in zip(weights, biases):
        z = a @ w.T + b
        a = sigmoid(z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def feedforward(weights: Arrays, biases: Arrays, X: np.ndarray) -> np.ndarray:
    """Output activations aᴸ, shape (n, n_out)."""
    return forward(weights, biases, X)[1][-1]


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) without overflow
    return np.asarray(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))))


def cost_per_example(cost: str, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Cost of each example, shape (n,), from the output layer's z and a.

    Cross-entropy −Σ[y ln a + (1−y) ln(1−a)] is computed from z as
    Σ[y·softplus(−z) + (1−y)·softplus(z)], exact even where σ(z) rounds to 0 or 1.
    Quadratic is ½‖a − y‖².
    """
    if cost == "cross_entropy":
        return np.asarray(np.sum(Y * _softplus(-z) + (1.0 - Y) * _softplus(z), axis=1))
    if cost == "quadratic":
        return np.asarray(0.5 * np.sum((a - Y) ** 2, axis=1))
    raise ValueError(f"unknown cost {cost!r}")


def output_delta(cost: str, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """δᴸ = ∂C/∂zᴸ for one example per row."""
    if cost == "cross_entropy":
        return np.asarray(a - Y)
    if cost == "quadratic":
        return np.asarray((a - Y) * a * (1.0 - a))
    raise ValueError(f"unknown cost {cost!r}")


def backprop(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
             cost: str) -> tuple[ArrayList, ArrayList, ArrayList]:
    """Per-layer deltas for every example: list of (n, sizes[l+1]) arrays, plus activations.

    δᴸ from the cost, then δˡ = (δˡ⁺¹ · Wˡ⁺¹) ⊙ σ'(zˡ) with σ'(z) = σ(z)(1 − σ(z)).
    """
    zs, activations = forward(weights, biases, X)
    delta = output_delta(cost, activations[-1], Y)
    deltas = [delta]
    for l in range(len(weights) - 1, 0, -1):
        a = activations[l]
        delta = (delta @ weights[l]) * a * (1.0 - a)
        deltas.append(delta)
    deltas.reverse()
    return deltas, zs, activations


def gradient(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
             cost: str) -> tuple[ArrayList, ArrayList]:
    """(∂C/∂W list, ∂C/∂b list) for C = mean cost over the rows of X (no regularisation)."""
    n = X.shape[0]
    deltas, _, activations = backprop(weights, biases, X, Y, cost)
    nabla_w = [d.T @ a / n for d, a in zip(deltas, activations[:-1])]
    nabla_b = [d.sum(axis=0) / n for d in deltas]
    return nabla_w, nabla_b


def learning_speeds(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
                    cost: str) -> np.ndarray:
    """‖(1/N) Σₓ δˡ(x)‖₂ for every layer with weights, output last."""
    _, nabla_b = gradient(weights, biases, X, Y, cost)
    return np.array([np.linalg.norm(g) for g in nabla_b])


def total_cost(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, cost: str,
               lmbda: float = 0.0) -> float:
    """Mean cost over X plus the L2 term λ/(2n)·Σ‖w‖²."""
    zs, activations = forward(weights, biases, X)
    c = cost_per_example(cost, zs[-1], activations[-1], Y).mean()
    n = X.shape[0]
    return float(c + 0.5 * (lmbda / n) * sum(np.sum(w * w) for w in weights))


def sgd_epoch(weights: ArrayList, biases: ArrayList, X: np.ndarray, Y: np.ndarray,
              perm: np.ndarray, batch_size: int, eta: float, lmbda: float,
              cost: str) -> tuple[ArrayList, float, int]:
    """One epoch of mini-batch SGD with L2 weight decay, updating weights/biases in place.

    Mini-batches are ``perm[k:k+batch_size]`` (the last one may be shorter); for each,
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w`` and ``b ← b − (η/m)·Σ∇b`` with n = len(X) and m the
    mini-batch's length.

    Returns ``(speeds_sum, cost_sum, n_batches)``: the per-layer sum over mini-batches of the
    mean ∇b (the in-epoch learning-speed monitor is ``‖speeds_sum[l] / n_batches‖``) and the
    sum over examples of the cost, each evaluated at the weights before its mini-batch's update.
    """
    n = X.shape[0]
    decay = 1.0 - eta * lmbda / n
    speeds_sum = [np.zeros_like(b) for b in biases]
    cost_sum = 0.0
    n_batches = 0
    for k in range(0, len(perm), batch_size):
        idx = perm[k:k + batch_size]
        xb, yb = X[idx], Y[idx]
        m = len(idx)
        deltas, zs, activations = backprop(weights, biases, xb, yb, cost)
        cost_sum += float(cost_per_example(cost, zs[-1], activations[-1], yb).sum())
        for l, (d, a) in enumerate(zip(deltas, activations[:-1])):
            gw = d.T @ a
            gb = d.sum(axis=0)
            weights[l][...] = decay * weights[l] - (eta / m) * gw
            biases[l][...] = biases[l] - (eta / m) * gb
            speeds_sum[l] += gb / m
        n_batches += 1
    return speeds_sum, cost_sum, n_batches
