"""The chain of one sigmoid neuron per layer: the exploding and the vanishing gradient.

∂C/∂b₁ = σ'(z₁)·w₂σ'(z₂)·…·w_dσ'(z_d)·∂C/∂a_d: a product of one factor w·σ'(z) per layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import reference as _ref
from .._network import Network
from .._validation import validated

__all__ = ["ChainResult", "Chain", "chain", "chain_gradients", "exploding_chain",
           "vanishing_chain", "balance_window"]


@dataclass
class ChainResult:
    """A chain of one sigmoid neuron per layer, x → neuron 1 → … → neuron d → C.

    All arrays have one entry per neuron j = 1 … d (index j − 1). The cost is quadratic,
    C = (a_d − y)²/2, so that, as in the book,
    ∂C/∂b₁ = σ'(z₁)·w₂σ'(z₂)·w₃σ'(z₃)·…·w_dσ'(z_d)·∂C/∂a_d.

    Attributes
    ----------
    x, target : float
        The input and the target y.
    weights, biases, z, activations, sigma_prime : ndarray (d,)
        w_j, b_j, z_j = w_j·a_{j−1} + b_j, a_j = σ(z_j), σ'(z_j).
    factors : ndarray (d,)
        w_j·σ'(z_j), the book's factor of each layer.
    grad_b : ndarray (d,)
        ∂C/∂b_j, computed by :meth:`gradcore.Network.gradient`.
    """

    x: float
    target: float
    weights: np.ndarray
    biases: np.ndarray
    z: np.ndarray
    activations: np.ndarray
    sigma_prime: np.ndarray
    factors: np.ndarray
    grad_b: np.ndarray

    @property
    def depth(self) -> int:
        """Number of neurons in the chain."""
        return int(self.weights.shape[0])

    @property
    def ratios(self) -> np.ndarray:
        """∂C/∂b_{j−1} / ∂C/∂b_j for j = 2 … d (= w_j·σ'(z_{j−1})): the growth per layer
        going backwards."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.grad_b[:-1] / self.grad_b[1:])


@dataclass
class Chain:
    """The exploding and the vanishing chain of :func:`chain`.

    ``window`` is :func:`balance_window` of the exploding chain's weight: the width of the
    interval of inputs a for which a neuron with that weight has |w·σ'(w·a + b)| ≥ 1.
    """

    exploding: ChainResult
    vanishing: ChainResult
    window: float


@validated("experiments.balance_window")
def balance_window(weight: float) -> float:
    """Width of the set of inputs a with |w·σ'(w·a + b)| ≥ 1, for any bias b.

    The chapter's closing argument: a factor |w·σ'(z)| ≥ 1 needs |w| ≥ 4 (σ' ≤ 1/4), yet a
    large w pushes z = w·a + b far from 0, where σ' is tiny. For |w| ≥ 4 the inputs that
    keep the factor at least 1 form one interval, of width
    (2/|w|)·ln(|w|(1 + √(1 − 4/|w|))/2 − 1): at most about 0.45 (at |w| ≈ 6.9), and
    shrinking like (2/|w|)·ln|w| beyond. For |w| < 4 the set is empty (width 0).

    Parameters
    ----------
    weight : float
        The weight w (its sign does not matter).

    Returns
    -------
    float
        The width of the interval (0 for |w| ≤ 4).
    """
    w = abs(weight)
    if w <= 4.0:
        return 0.0
    r = math.sqrt(1.0 - 4.0 / w)
    if w > 1e300:  # w·(1 + r)/2 would overflow: the log of the product as a sum
        return (2.0 / w) * (math.log(w) + math.log((1.0 + r) / 2.0 - 1.0 / w))
    return (2.0 / w) * math.log(w * (1.0 + r) / 2.0 - 1.0)


def chain_gradients(weights: Sequence[float], biases: Sequence[float], x: float = 1.0,
                    target: float = 0.0) -> ChainResult:
    """Forward values, factors w·σ'(z) and ∂C/∂b of a chain of one neuron per layer.

    The gradient comes from gradcore's own :meth:`~gradcore.Network.gradient` on a
    ``Network([1] * (d + 1), cost="quadratic")`` holding these weights and biases.

    Parameters
    ----------
    weights, biases : sequence of float, length d >= 1
    x : float
        The input.
    target : float in [0, 1]
        The target y of the quadratic cost.

    Returns
    -------
    ChainResult
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    b = np.asarray(biases, dtype=np.float64).reshape(-1)
    if w.size < 1 or w.shape != b.shape:
        raise ValueError(f"weights and biases must have the same length >= 1, got "
                         f"{w.size} and {b.size}")
    if not (np.isfinite(w).all() and np.isfinite(b).all() and math.isfinite(x)):
        raise ValueError("weights, biases and x must be finite")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be in [0, 1], got {target}")
    d = int(w.size)
    net = Network([1] * (d + 1), cost="quadratic", seed=0)
    for j in range(d):
        net.weights[j] = w[j].reshape(1, 1)
        net.biases[j] = b[j].reshape(1)
    X = np.array([[float(x)]])
    zs, acts = _ref.forward(list(net.weights), list(net.biases), X)
    z = np.array([float(v[0, 0]) for v in zs])
    a = np.array([float(v[0, 0]) for v in acts[1:]])
    sp = a * (1.0 - a)
    _, nabla_b = net.gradient(X, np.array([[float(target)]]))
    grad_b = np.array([float(g[0]) for g in nabla_b])
    return ChainResult(x=float(x), target=float(target), weights=w, biases=b, z=z,
                       activations=a, sigma_prime=sp, factors=w * sp, grad_b=grad_b)


@validated("experiments.exploding_chain")
def exploding_chain(depth: int = 4, weight: float = 100.0, x: float = 1.0) -> ChainResult:
    """Every weight ``weight``, biases chosen so that every z is 0 (σ'(0) = 1/4).

    b₁ = −w·x and b_j = −w·σ(0) = −w/2 for j ≥ 2, so every factor w·σ'(z) is w/4 (25 for
    w = 100) and ∂C/∂b grows by that factor per layer going backwards.
    """
    biases = [-weight * x] + [-weight * 0.5] * (depth - 1)
    return chain_gradients([weight] * depth, biases, x)


@validated("experiments.vanishing_chain")
def vanishing_chain(depth: int = 4, seed: int | None = 0, x: float = 1.0) -> ChainResult:
    """Weights and biases ~ N(0, 1), the default initialisation of a one-input neuron.

    The parameters are those of ``Network([1] * (depth + 1), seed=seed)``. Since σ' ≤ 1/4,
    every factor satisfies |w·σ'(z)| ≤ |w|/4, below 1/4 whenever |w| < 1 (about two thirds
    of the draws), so ∂C/∂b typically shrinks going backwards.
    """
    net = Network([1] * (depth + 1), seed=seed)
    return chain_gradients([float(v[0, 0]) for v in net.weights],
                           [float(v[0]) for v in net.biases], x)


@validated("experiments.chain")
def chain(depth: int = 4, weight: float = 100.0, *, seed: int | None = 0) -> Chain:
    """The book's exploding and vanishing chains of ``depth`` neurons.

    Returns
    -------
    Chain
        ``.exploding`` (:func:`exploding_chain` with ``weight``) and ``.vanishing``
        (:func:`vanishing_chain` with ``seed``), and ``.window``
        (:func:`balance_window` of ``weight``).
    """
    return Chain(exploding=exploding_chain(depth, weight),
                 vanishing=vanishing_chain(depth, seed), window=balance_window(weight))
