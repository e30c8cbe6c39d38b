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
* ``activations`` names the activation of each hidden layer (None: all sigmoid, the book's
  networks); ``output`` is ``"sigmoid"`` or ``"softmax"``; ``slopes`` gives, per hidden
  layer, the PReLU slopes of a ``"prelu"`` layer (None elsewhere);
* ``cost`` is ``"cross_entropy"`` (δᴸ = aᴸ − y) or ``"quadratic"`` (δᴸ = (aᴸ − y)·σ'(zᴸ))
  with a sigmoid output, ``"log_likelihood"`` (C = Σⱼ yⱼ(log Σₖ e^{zₖ} − zⱼ),
  δᴸ = (Σⱼ yⱼ)·aᴸ − y) with a softmax output.

The activations (:data:`ACTIVATIONS`; each derivative is written from a = φ(z), as the
kernels take it):

==============  =============================  ==============================  ================
name            φ(z)                           φ'(z)                           paper
==============  =============================  ==============================  ================
``sigmoid``     1 / (1 + e^(−z))               a (1 − a)                       the book
``tanh``        tanh z                         1 − a²                          LeCun et al. 1998
``softsign``    z / (1 + |z|)                  (1 − |a|)²                      Glorot & Bengio 2010
``relu``        max(z, 0)                      1 if a > 0 else 0               Nair & Hinton 2010
``leaky_relu``  z if z ≥ 0 else 0.01 z         1 if a > 0 else 0.01            Maas et al. 2013
``elu``         z if z ≥ 0 else e^z − 1        1 if a > 0 else a + 1           Clevert et al. 2016
``prelu``       z if z ≥ 0 else s z            1 if z > 0 else s               He et al. 2015
``linear``      z                              1                               Saxe et al. 2014
==============  =============================  ==============================  ================

PReLU's slope s is learnt per neuron: ∂a/∂s = min(z, 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "sigmoid",
    "activate",
    "activation_derivative",
    "softmax",
    "feedforward",
    "forward",
    "output_delta",
    "cost_per_example",
    "backprop",
    "gradient",
    "full_gradient",
    "learning_speeds",
    "gradient_rms",
    "sgd_epoch",
    "momentum_at",
    "dropout_scale",
]

Arrays = Sequence[np.ndarray]
ArrayList = list[np.ndarray]
Slopes = Sequence[np.ndarray | None] | None

ACTIVATIONS = ("sigmoid", "tanh", "softsign", "relu", "leaky_relu", "elu", "prelu", "linear")
LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)); exp overflow for very negative z correctly gives 0."""
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def activate(name: str, z: np.ndarray, slope: np.ndarray | None = None) -> np.ndarray:
    """φ(z) for the activation ``name`` (``slope``: the PReLU slopes, per column)."""
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.asarray(np.tanh(z))
    if name == "softsign":
        return np.asarray(z / (1.0 + np.abs(z)))
    if name == "relu":
        return np.asarray(np.where(z < 0, 0.0, z)).astype(z.dtype, copy=False)
    if name == "leaky_relu":
        return np.asarray(np.where(z < 0, z.dtype.type(LEAKY_SLOPE) * z, z))
    if name == "elu":
        return np.asarray(np.where(z < 0, np.expm1(np.minimum(z, 0)), z))
    if name == "prelu":
        assert slope is not None, "prelu needs its slopes"
        return np.asarray(np.where(z < 0, slope * z, z))
    if name == "linear":
        return z
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name: str, a: np.ndarray, z: np.ndarray | None = None,
                          slope: np.ndarray | None = None) -> np.ndarray:
    """φ'(z), from a = φ(z) (and from z and the slopes for PReLU)."""
    one = a.dtype.type(1)
    if name == "sigmoid":
        return np.asarray(a * (one - a))
    if name == "tanh":
        return np.asarray(one - a * a)
    if name == "softsign":
        return np.asarray((one - np.abs(a)) ** 2)
    if name == "relu":
        return np.asarray(np.where(a > 0, one, a.dtype.type(0)))
    if name == "leaky_relu":
        return np.asarray(np.where(a > 0, one, a.dtype.type(LEAKY_SLOPE)))
    if name == "elu":
        return np.asarray(np.where(a > 0, one, a + one))
    if name == "prelu":
        assert z is not None and slope is not None, "prelu's derivative needs z and slopes"
        return np.asarray(np.where(z > 0, one, slope * np.ones_like(z)))
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


def softmax(z: np.ndarray) -> np.ndarray:
    """e^(zⱼ) / Σₖ e^(zₖ) along each row, shifted by the row's maximum (no overflow)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _hidden(activations: Sequence[str] | None, n_hidden: int) -> list[str]:
    return ["sigmoid"] * n_hidden if activations is None else list(activations)


def _slopes(slopes: Slopes, n_hidden: int) -> list[np.ndarray | None]:
    return [None] * n_hidden if slopes is None else list(slopes)


def forward(weights: Arrays, biases: Arrays, X: np.ndarray,
            activations: Sequence[str] | None = None, output: str = "sigmoid",
            slopes: Slopes = None) -> tuple[ArrayList, ArrayList]:
    """Forward pass. Returns (zs, activations): zs[l] is (n, sizes[l+1]); activations[0] is X."""
    L = len(weights)
    acts, sl = _hidden(activations, L - 1), _slopes(slopes, L - 1)
    outs = [X]
    zs = []
    a = X
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        if l < L - 1:
            a = activate(acts[l], z, sl[l])
        else:
            a = softmax(z) if output == "softmax" else sigmoid(z)
        zs.append(z)
        outs.append(a)
    return zs, outs


def feedforward(weights: Arrays, biases: Arrays, X: np.ndarray,
                activations: Sequence[str] | None = None, output: str = "sigmoid",
                slopes: Slopes = None) -> np.ndarray:
    """Output activations aᴸ, shape (n, n_out)."""
    return forward(weights, biases, X, activations, output, slopes)[1][-1]


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) without overflow
    return np.asarray(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))))


def cost_per_example(cost: str, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Cost of each example, shape (n,), from the output layer's z and a.

    Cross-entropy −Σ[y ln a + (1−y) ln(1−a)] is computed from z as
    Σ[y·softplus(−z) + (1−y)·softplus(z)], exact even where σ(z) rounds to 0 or 1.
    Quadratic is ½‖a − y‖². Log-likelihood −Σ y ln softmax(z) is Σ y (logsumexp(z) − z).
    """
    if cost == "cross_entropy":
        return np.asarray(np.sum(Y * _softplus(-z) + (1.0 - Y) * _softplus(z), axis=1))
    if cost == "quadratic":
        return np.asarray(0.5 * np.sum((a - Y) ** 2, axis=1))
    if cost == "log_likelihood":
        mx = z.max(axis=1, keepdims=True)
        lse = mx + np.log(np.exp(z - mx).sum(axis=1, keepdims=True))
        return np.asarray(np.sum(Y * (lse - z), axis=1))
    raise ValueError(f"unknown cost {cost!r}")


def output_delta(cost: str, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """δᴸ = ∂C/∂zᴸ for one example per row."""
    if cost == "cross_entropy":
        return np.asarray(a - Y)
    if cost == "quadratic":
        return np.asarray((a - Y) * a * (1.0 - a))
    if cost == "log_likelihood":
        return np.asarray(Y.sum(axis=1, keepdims=True) * a - Y)
    raise ValueError(f"unknown cost {cost!r}")


def _backprop(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, cost: str,
              activations: Sequence[str] | None, output: str, slopes: Slopes
              ) -> tuple[ArrayList, ArrayList, ArrayList, list[np.ndarray | None]]:
    """deltas, zs, activations and, per hidden layer, ∂C/∂a summed with min(z, 0) over the
    rows (the PReLU slopes' gradient, summed; None for other layers)."""
    L = len(weights)
    acts, sl = _hidden(activations, L - 1), _slopes(slopes, L - 1)
    zs, outs = forward(weights, biases, X, acts, output, sl)
    delta = output_delta(cost, outs[-1], Y)
    deltas = [delta]
    dslopes: list[np.ndarray | None] = [None] * (L - 1)
    for l in range(L - 1, 0, -1):
        da = delta @ weights[l]  # ∂C/∂a of hidden layer l − 1
        name = acts[l - 1]
        if name == "prelu":
            dslopes[l - 1] = np.sum(da * np.minimum(zs[l - 1], 0), axis=0)
        delta = da * activation_derivative(name, outs[l], zs[l - 1], sl[l - 1])
        deltas.append(delta)
    deltas.reverse()
    return deltas, zs, outs, dslopes


def backprop(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
             cost: str, activations: Sequence[str] | None = None, output: str = "sigmoid",
             slopes: Slopes = None) -> tuple[ArrayList, ArrayList, ArrayList]:
    """Per-layer deltas for every example: list of (n, sizes[l+1]) arrays, plus zs and
    activations.

    δᴸ from the cost, then δˡ = (δˡ⁺¹ · Wˡ⁺¹) ⊙ φ'(zˡ) (the book's σ'(z) = σ(z)(1 − σ(z))
    for sigmoid layers).
    """
    deltas, zs, outs, _ = _backprop(weights, biases, X, Y, cost, activations, output, slopes)
    return deltas, zs, outs


def full_gradient(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, cost: str,
                  activations: Sequence[str] | None = None, output: str = "sigmoid",
                  slopes: Slopes = None
                  ) -> tuple[ArrayList, ArrayList, list[np.ndarray | None]]:
    """(∂C/∂W list, ∂C/∂b list, ∂C/∂slopes per hidden layer or None) for C = mean cost."""
    n = X.shape[0]
    deltas, _, outs, dslopes = _backprop(weights, biases, X, Y, cost, activations, output,
                                         slopes)
    nabla_w = [d.T @ a / n for d, a in zip(deltas, outs[:-1])]
    nabla_b = [d.sum(axis=0) / n for d in deltas]
    return nabla_w, nabla_b, [None if g is None else g / n for g in dslopes]


def gradient(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
             cost: str, activations: Sequence[str] | None = None, output: str = "sigmoid",
             slopes: Slopes = None) -> tuple[ArrayList, ArrayList]:
    """(∂C/∂W list, ∂C/∂b list) for C = mean cost over the rows of X (no regularisation)."""
    nabla_w, nabla_b, _ = full_gradient(weights, biases, X, Y, cost, activations, output,
                                        slopes)
    return nabla_w, nabla_b


def learning_speeds(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
                    cost: str, activations: Sequence[str] | None = None,
                    output: str = "sigmoid", slopes: Slopes = None) -> np.ndarray:
    """‖(1/N) Σₓ δˡ(x)‖₂ for every layer with weights, output last."""
    _, nabla_b = gradient(weights, biases, X, Y, cost, activations, output, slopes)
    return np.array([np.linalg.norm(g) for g in nabla_b])


def gradient_rms(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray,
                 cost: str, activations: Sequence[str] | None = None,
                 output: str = "sigmoid", slopes: Slopes = None) -> np.ndarray:
    """√((1/N) Σₓ ‖δˡ(x)‖²) for every layer with weights, output last: the per-example size
    of the gradient, one example at a time."""
    out = np.zeros(len(weights))
    for i in range(X.shape[0]):
        deltas, _, _ = backprop(weights, biases, X[i:i + 1], Y[i:i + 1], cost, activations,
                                output, slopes)
        out += [float(np.sum(np.square(d, dtype=np.float64))) for d in deltas]
    return np.asarray(np.sqrt(out / X.shape[0]))


def total_cost(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, cost: str,
               lmbda: float = 0.0, activations: Sequence[str] | None = None,
               output: str = "sigmoid", slopes: Slopes = None) -> float:
    """Mean cost over X plus the L2 term λ/(2n)·Σ‖w‖²."""
    zs, outs = forward(weights, biases, X, activations, output, slopes)
    c = cost_per_example(cost, zs[-1], outs[-1], Y).mean()
    n = X.shape[0]
    return float(c + 0.5 * (lmbda / n) * sum(np.sum(w * w) for w in weights))


def momentum_at(t: int, momentum: float, schedule: str | None = None,
                final_from: int = -1, final_momentum: float = 0.0) -> float:
    """The momentum μ of update t (counted from the start of training).

    Constant ``momentum``, or with ``schedule="sutskever"`` the schedule of Sutskever,
    Martens, Dahl & Hinton (2013), "On the importance of initialization and momentum in
    deep learning", eq. (5): μₜ = min(1 − 2^(−1 − log₂(⌊t/250⌋ + 1)), μ_max), written as
    1 − 1/(2(⌊t/250⌋ + 1)), the same number without a logarithm. From update
    ``final_from`` on (when >= 0), ``final_momentum``: the paper's last 1,000 updates at 0.9.
    """
    if 0 <= final_from <= t:
        return final_momentum
    if schedule == "sutskever":
        return min(1.0 - 1.0 / (2.0 * (t // 250 + 1)), momentum)
    return momentum


_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    # SplitMix64's finaliser on Python integers, wrapped to 64 bits
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def dropout_scale(p: float, seed: int, epoch: int, batch: int, layer: int,
                  n_units: int) -> np.ndarray:
    """Inverted dropout's factors for the units of one hidden layer in one mini-batch:
    1/(1 − p) for a kept unit, 0 for a dropped one (Srivastava, Hinton, Krizhevsky, Sutskever
    & Salakhutdinov 2014, "Dropout: a simple way to prevent neural networks from
    overfitting"; one subset per mini-batch, as the book's chapter 3 describes it).

    Unit j is kept when u ≥ p, u ∈ [0, 1) the 53 high bits of
    mix(mix(mix(mix(mix(seed) ⊕ epoch) ⊕ batch) ⊕ layer) ⊕ j), mix SplitMix64's finaliser
    (Steele, Lea & Flood 2014): a counter-based generator, so the masks are the same on
    every machine and for every thread count.
    """
    key = _mix64(_mix64(_mix64(_mix64(seed & _MASK64) ^ epoch) ^ batch) ^ layer)
    u = np.array([(_mix64(key ^ j) >> 11) * 2.0 ** -53 for j in range(n_units)])
    return np.where(u >= p, 1.0 / (1.0 - p), 0.0)


def sgd_epoch(weights: ArrayList, biases: ArrayList, X: np.ndarray, Y: np.ndarray,
              perm: np.ndarray, batch_size: int, eta: float, lmbda: float,
              cost: str, activations: Sequence[str] | None = None, output: str = "sigmoid",
              slopes: Slopes = None, *, momentum: float = 0.0, nesterov: bool = False,
              schedule: str | None = None, t0: int = 0, final_from: int = -1,
              final_momentum: float = 0.0, clip_norm: float | None = None,
              dropout: float = 0.0, seed: int = 0, epoch: int = 0, batch0: int = 0,
              velocity: tuple[ArrayList, ArrayList, list[np.ndarray | None]] | None = None,
              report: dict[str, int] | None = None) -> tuple[ArrayList, float, int]:
    """One epoch of mini-batch SGD with L2 weight decay, updating weights/biases in place.

    Mini-batches are ``perm[k:k+batch_size]`` (the last one may be shorter); for each,
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w`` and ``b ← b − (η/m)·Σ∇b`` with n = len(X) and m the
    mini-batch's length; PReLU slopes ``s ← s − (η/m)·Σ∇s`` (never decayed).

    With ``momentum`` μ > 0 (Sutskever, Martens, Dahl & Hinton 2013, §2), every parameter
    θ has a velocity v (``velocity``: lists like weights, biases and slopes, updated in
    place) and g = (1/m)·Σ∇θ + (λ/n)·θ for weights, (1/m)·Σ∇θ for biases and slopes:

    * classical momentum: v ← μv − ηg, θ ← θ + v;
    * ``nesterov``: Nesterov's accelerated gradient, v ← μv − ηg, θ ← θ + μv − ηg. Here θ is
      the look-ahead point φ + μv of the paper's θ' = φ: from φ' = φ + v' and
      v' = μv − η∇f(φ + μv), the look-ahead moves by φ' + μv' − (φ + μv) = μv' − η∇f(θ),
      the gradient taken where θ is. PyTorch's and scikit-learn's Nesterov are this form.

    μ of update t0 + i is :func:`momentum_at`. ``clip_norm`` (Pascanu, Mikolov & Bengio
    2013, "On the difficulty of training recurrent neural networks"): a mini-batch whose
    mean gradient (1/m)·Σ∇, all parameters together, has a norm above it is scaled down to
    it (the weight decay is the update's, not clipped); ``report["clipped"]`` counts them.
    ``dropout`` p: hidden activations times :func:`dropout_scale` of (seed, epoch,
    batch0 + i, layer), in the forward and the backward pass.

    Returns ``(speeds_sum, cost_sum, n_batches)``: the per-layer sum over mini-batches of the
    mean ∇b (the in-epoch learning-speed monitor is ``‖speeds_sum[l] / n_batches‖``) and the
    sum over examples of the cost, each evaluated at the weights before its mini-batch's update.
    """
    n, L = X.shape[0], len(weights)
    wd = eta * lmbda / n
    decay = 1.0 - wd
    acts, sl = _hidden(activations, L - 1), _slopes(slopes, L - 1)
    speeds_sum = [np.zeros_like(b) for b in biases]
    cost_sum = 0.0
    n_batches = clipped = 0
    for k in range(0, len(perm), batch_size):
        idx = perm[k:k + batch_size]
        xb, yb = X[idx], Y[idx]
        m = len(idx)
        scales = None
        if dropout > 0:
            scales = [dropout_scale(dropout, seed, epoch, batch0 + n_batches, l,
                                    weights[l].shape[0]) for l in range(L - 1)]
        deltas, zs, outs, dslopes = _backprop_dropout(weights, biases, xb, yb, cost, acts,
                                                      output, sl, scales)
        cost_sum += float(cost_per_example(cost, zs[-1], outs[-1][:, :], yb).sum())
        gws = [d.T @ a for d, a in zip(deltas, outs[:-1])]
        gbs = [d.sum(axis=0) for d in deltas]
        step = eta / m
        if clip_norm is not None:
            norm = np.sqrt(sum(float(np.sum(g * g)) for g in
                               gws + gbs + [g for g in dslopes if g is not None])) / m
            if norm > clip_norm:
                step = eta / m * (clip_norm / norm)
                clipped += 1
        mu = momentum_at(t0 + n_batches, momentum, schedule, final_from, final_momentum)
        for l in range(L):
            speeds_sum[l] += gbs[l] / m
            if momentum > 0:
                assert velocity is not None, "momentum needs a velocity"
                _momentum_step(weights[l], velocity[0][l], gws[l], step, wd, mu, nesterov)
                _momentum_step(biases[l], velocity[1][l], gbs[l], step, 0.0, mu, nesterov)
            else:
                weights[l][...] = decay * weights[l] - step * gws[l]
                biases[l][...] = biases[l] - step * gbs[l]
        for l, (s, g) in enumerate(zip(sl, dslopes)):
            if s is not None and g is not None:
                if momentum > 0:
                    vs = velocity[2][l]  # type: ignore[index]
                    assert vs is not None
                    _momentum_step(s, vs, g, step, 0.0, mu, nesterov)
                else:
                    s[...] = s - step * g
        n_batches += 1
    if report is not None:
        report["clipped"] = clipped
    return speeds_sum, cost_sum, n_batches


def _momentum_step(p: np.ndarray, v: np.ndarray, g: np.ndarray, step: float, wd: float,
                   mu: float, nesterov: bool) -> None:
    d = step * g + wd * p
    v[...] = mu * v - d
    p[...] = p + mu * v - d if nesterov else p + v


def _backprop_dropout(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, cost: str,
                      acts: list[str], output: str, sl: list[np.ndarray | None],
                      scales: list[np.ndarray] | None
                      ) -> tuple[ArrayList, ArrayList, ArrayList, list[np.ndarray | None]]:
    """_backprop with inverted dropout on the hidden layers (scales None: none); the
    activations returned are the ones the next layer saw (after dropout)."""
    if scales is None:
        return _backprop(weights, biases, X, Y, cost, acts, output, sl)
    L = len(weights)
    outs, zs, raw = [X], [], []
    a = X
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        zs.append(z)
        if l < L - 1:
            a = activate(acts[l], z, sl[l])
            raw.append(a)
            a = a * scales[l]
        else:
            a = softmax(z) if output == "softmax" else sigmoid(z)
        outs.append(a)
    delta = output_delta(cost, outs[-1], Y)
    deltas = [delta]
    dslopes: list[np.ndarray | None] = [None] * (L - 1)
    for l in range(L - 1, 0, -1):
        da = (delta @ weights[l]) * scales[l - 1]
        if acts[l - 1] == "prelu":
            dslopes[l - 1] = np.sum(da * np.minimum(zs[l - 1], 0), axis=0)
        delta = da * activation_derivative(acts[l - 1], raw[l - 1], zs[l - 1], sl[l - 1])
        deltas.append(delta)
    deltas.reverse()
    return deltas, zs, outs, dslopes
