"""Mean-field theory of signal propagation: what a wide random net does to signals and
gradients, predicted before it is trained.

The theory is that of Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential
expressivity in deep neural networks through transient chaos" (NeurIPS), and of Schoenholz,
Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation" (ICLR). Its set-up:
a dense net whose weights are drawn from N(0, σ_w²/n_in) (``weight_var`` = σ_w²) and whose
biases are drawn from N(0, σ_b²) (``bias_var`` = σ_b²), activation φ, infinitely wide.
z, z₁, z₂ below are independent standard normals.

* **Length.** A pre-activation's second moment q goes from layer to layer as
  q ← σ_w²·E[φ(√q z)²] + σ_b², to a fixed point q* (:func:`q_star`).
* **Gradients.** Backpropagation multiplies E‖δ‖² by χ₁ = σ_w²·E[φ'(√q* z)²] per layer
  (:func:`chi1`): χ₁ < 1 is the *ordered* phase (the gradient vanishes), χ₁ > 1 the
  *chaotic* phase (it explodes), χ₁ = 1 the critical line (:func:`critical_weight_var`).
* **Correlation.** Two inputs whose pre-activations have correlation c go to
  c ← (σ_w²·E[φ(u₁)φ(u₂)] + σ_b²)/q*, with u₁ = √q*·z₁ and u₂ = √q*·(c z₁ + √(1−c²) z₂)
  (:func:`correlation_map`). c = 1 is always a fixed point; it attracts in the ordered phase,
  and in the chaotic phase a fixed point c* < 1 does (:func:`c_star`). The map's slope is
  χ_c(c) = σ_w²·E[φ'(u₁)φ'(u₂)] (:func:`chi_c`), and χ_c(1) = χ₁.
* **Depth scales** (Schoenholz et al. 2017): q approaches q* as e^(−l/ξ_q),
  ξ_q = −1/ln(χ₁ + σ_w²·E[φ(√q* z)·φ''(√q* z)]), the slope of the q map at q*; c approaches
  c* as e^(−l/ξ_c), ξ_c = −1/ln χ_c(c*) (:func:`depth_scales`). At the critical line ξ_c is
  infinite: signals and gradients then travel through any depth.
* **A real net** (:func:`predicted_ratios`): the theory applied layer by layer to a
  :class:`gradcore.Network`, with the variances of its actual parameters, predicts the ratio
  of the gradients of consecutive hidden layers, the quantity behind chapter 5's learning
  speeds. At the book's initialisation (sigmoid, σ_w² = 1, σ_b² = 1) √χ₁ = 0.205: each hidden
  layer learns about 5 times slower than the next.

Activations (:data:`ACTIVATIONS`): ``"sigmoid"``, ``"tanh"``, ``"softsign"`` (x/(1+|x|)),
``"relu"``, ``"leaky_relu"`` (slope 0.01 for x < 0), ``"elu"`` (α = 1: eˣ − 1 for x < 0),
``"prelu"`` (a leaky ReLU whose slope, 0.25 at initialisation, is learned: the theory takes
the slope it is given) and ``"linear"``. ``leaky_relu`` and ``prelu`` accept ``slope=`` for
another negative-side slope.

**Quadrature.** The expectations are Gauss–Legendre rules (8 points a panel) on panels that
split the Gaussian's range [−9, 9] at 0, ±1, ±2, ±3, ±4, ±5, ±6.5 and at every point where
an integrand is not smooth: the kink of ReLU, leaky ReLU, PReLU, ELU and softsign at 0 (a
Gauss–Hermite rule across a kink gets ReLU's χ₁ wrong by 9 %), and, for the two-dimensional
integrals (a product rule over z₁ and z₂), the line where u₂ changes sign. Panels shrink
geometrically toward those points, down to half the width on which the activation varies
(1/√q in z: at large q tanh and the sigmoid are steps) and, near c = ±1, on which the inner
integral over z₂ varies. Against adaptive quadrature the expectations agree to 1e-11
(relative): the one-dimensional ones for q from 1e-6 to 1e4, the two-dimensional ones for q
from 1e-2 to 1e3 and c from −0.9 to 0.999.

**Cost**, CPU time on a two-core AMD EPYC with NumPy 2.4, measured while other work kept
both cores busy: :func:`q_star` and :func:`chi1` take 0.3–0.6 ms (ReLU and its kin, in
closed form, 0.05 ms); :func:`c_star`, :func:`chi_c` and :func:`depth_scales` take as long
in the ordered phase (c* = 1: no two-dimensional integral), and in the chaotic phase, for q*
from 0.7 to 500, :func:`c_star` takes 3–7 ms and :func:`chi_c` 3.5–9 ms: Newton's method on
the correlation map, three steps with 4 points a panel and two with 8, each step one
two-dimensional integral of about 200 × 200 points, and for χ_c one integral more.
``benchmarks/test_bench_theory.py`` times them. Close to the critical line on the chaotic
side, and for q* above 1e4, :func:`c_star` can take twice as long.

**Degenerate points.** With no biases (σ_b² = 0) and φ(0) = 0 the ordered phase has
q* = 0: signals shrink to zero, and the quantities at q* are their limits as q → 0⁺ (for
tanh, χ₁ = σ_w²). With no biases a positively homogeneous activation (ReLU, leaky ReLU,
PReLU, linear) at its critical weight variance keeps every q: :func:`q_star` returns 0, and
nothing else depends on q. Where q grows without bound (ReLU with σ_w² > 2, or σ_w² = 2 and
σ_b² > 0; linear with σ_w² > 1, or σ_w² = 1 and σ_b² > 0; ELU with σ_w² ≥ 2) there is no
fixed point and the functions raise ValueError saying so. A ξ within 1e-10 of the critical
value χ = 1 is reported as ``math.inf``; no function returns NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._arch import ACTIVATIONS
from ._validation import as_inputs, validated

__all__ = [
    "ACTIVATIONS",
    "DepthScales",
    "q_star",
    "chi1",
    "correlation_map",
    "c_star",
    "chi_c",
    "depth_scales",
    "critical_weight_var",
    "predicted_ratios",
]

Fn = Callable[[np.ndarray], np.ndarray]
Fn2 = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: |χ − 1| below this counts as critical: c* = 1 and an infinite depth scale.
CRITICAL_TOLERANCE = 1e-10


class DepthScales(NamedTuple):
    """Depth scales of Schoenholz et al. (2017), in layers (``math.inf`` when critical)."""

    xi_q: float
    xi_c: float


# ------------------------------------------------------------------ the activations


@dataclass(frozen=True)
class _Activation:
    """φ, φ', φ'' and the facts about φ that the fixed-point searches use."""

    f: Fn
    df: Fn
    d2f: Fn
    kinked: bool  # not smooth at 0: a breakpoint of every quadrature rule
    graded: bool  # varies on a scale of 1 near 0 (not piecewise linear): panels shrink there
    at_zero: float  # φ(0)
    slope_at_zero: float  # (φ'(0⁻)² + φ'(0⁺)²)/2: the q map's slope at q = 0 is σ_w² times it
    growth: float  # lim E[φ(√q z)²]/q as q → ∞ (0: bounded)
    excess: float  # a bound on E[φ(√q z)²] − growth·q for every q
    homogeneous: bool  # φ(λx) = λφ(x) for λ > 0


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * u)  # exact to 1e-16 absolute, without overflow


def _sigmoid_d(u: np.ndarray) -> np.ndarray:
    return 0.25 * _tanh_d(0.5 * u)


def _sigmoid_d2(u: np.ndarray) -> np.ndarray:
    return -_sigmoid_d(u) * np.tanh(0.5 * u)  # σ'·(1 − 2σ)


def _tanh_d(u: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / np.cosh(np.minimum(np.abs(u), 350.0)) ** 2)


def _tanh_d2(u: np.ndarray) -> np.ndarray:
    return np.asarray(-2.0 * np.tanh(u) * _tanh_d(u))


def _elu(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, u, np.expm1(np.minimum(u, 0.0)))


def _elu_d(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, 1.0, np.exp(np.minimum(u, 0.0)))


def _elu_d2(u: np.ndarray) -> np.ndarray:
    return np.where(u > 0, 0.0, np.exp(np.minimum(u, 0.0)))


def _piecewise_linear(slope: float) -> _Activation:
    """x for x > 0, slope·x for x < 0 (ReLU: 0, linear: 1)."""
    mean_square = (1.0 + slope * slope) / 2
    return _Activation(
        f=lambda u: np.where(u > 0, u, slope * u),
        df=lambda u: np.where(u > 0, 1.0, slope),
        d2f=np.zeros_like, kinked=slope != 1.0, graded=False, at_zero=0.0,
        slope_at_zero=mean_square, growth=mean_square, excess=0.0, homogeneous=True)


def _bounded(f: Fn, df: Fn, d2f: Fn, at_zero: float, slope_at_zero: float, *,
             kinked: bool = False) -> _Activation:
    """An activation with |φ| ≤ 1."""
    return _Activation(f, df, d2f, kinked=kinked, graded=True, at_zero=at_zero,
                       slope_at_zero=slope_at_zero, growth=0.0, excess=1.0, homogeneous=False)


_FIXED: dict[str, _Activation] = {
    "sigmoid": _bounded(_sigmoid, _sigmoid_d, _sigmoid_d2, 0.5, 1 / 16),
    "tanh": _bounded(np.tanh, _tanh_d, _tanh_d2, 0.0, 1.0),
    "softsign": _bounded(lambda u: u / (1.0 + np.abs(u)), lambda u: 1.0 / (1.0 + np.abs(u)) ** 2,
                         lambda u: -2.0 * np.sign(u) / (1.0 + np.abs(u)) ** 3, 0.0, 1.0,
                         kinked=True),
    "elu": _Activation(_elu, _elu_d, _elu_d2, kinked=True, graded=True, at_zero=0.0,
                       slope_at_zero=1.0, growth=0.5, excess=0.5, homogeneous=False),
    "relu": _piecewise_linear(0.0),
    "linear": _piecewise_linear(1.0),
}
#: The negative-side slope of leaky_relu and prelu when none is given.
DEFAULT_SLOPES = {"leaky_relu": 0.01, "prelu": 0.25}


def _activation(name: str, slope: float | None) -> _Activation:
    """The activation called ``name`` (already checked to be one of ACTIVATIONS)."""
    if name in DEFAULT_SLOPES:
        return _piecewise_linear(DEFAULT_SLOPES[name] if slope is None else slope)
    if slope is not None:
        raise ValueError(f"slope applies to 'leaky_relu' and 'prelu' only, got slope={slope!r} "
                         f"for activation {name!r}")
    return _FIXED[name]


# ------------------------------------------------------------------ quadrature

#: Gauss–Legendre points and weights on [−1, 1]: 8 per panel, 4 for a first, rough pass.
_LEGENDRE = {n: np.polynomial.legendre.leggauss(n) for n in (4, 8)}
_EDGE = 9.0  # the Gaussian beyond ±9 holds 2e-19 of its mass
_GRID = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.5, _EDGE])
_GRID = np.concatenate([-_GRID[:0:-1], _GRID])
_RATIO = 2.0  # panels grow by this factor away from a break point
_FINEST = 0.5  # the smallest panel, in units of the width on which the integrand varies
_SMALLEST_Q = 1e-200  # q = 0 is evaluated here: the limit q → 0⁺, without underflow


def _rule(breaks: np.ndarray, width: float, points: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of E[g(z)], z ~ N(0, 1), one row per entry of ``breaks``: panels
    end at the fixed grid, at the row's break point and at break ± width·2^k/2 for k ≥ 0
    while that is below 1 (none for width ≥ 2); ``points`` Gauss–Legendre points a panel."""
    breaks = np.asarray(breaks, dtype=float).reshape(-1, 1)
    if _FINEST * width < 1.0:
        levels = math.ceil(math.log(1.0 / (_FINEST * width), _RATIO))
        steps = _FINEST * width * _RATIO ** np.arange(levels)
        marks = [breaks - steps, breaks, breaks + steps]
    else:
        marks = [breaks]
    grid = np.broadcast_to(_GRID, (breaks.shape[0], _GRID.size))
    ends = np.sort(np.clip(np.concatenate([grid, *marks], axis=1), -_EDGE, _EDGE), axis=1)
    half, mid = (ends[:, 1:] - ends[:, :-1]) / 2, (ends[:, 1:] + ends[:, :-1]) / 2
    nodes, weights = _LEGENDRE[points]
    z = (mid[..., None] + half[..., None] * nodes).reshape(breaks.shape[0], -1)
    w = (half[..., None] * weights).reshape(breaks.shape[0], -1)
    return z, w * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _line(act: _Activation, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Points u = √q·z and weights of E[g(√q z)]."""
    s = math.sqrt(max(q, _SMALLEST_Q))
    z, w = _rule(np.zeros(1), 1.0 / s if act.graded else math.inf)
    return s * z[0], w[0]


def _plane(act: _Activation, q: float, c: float, *fns: Fn2, points: int = 8) -> list[float]:
    """E[h(u₁, u₂)] for every h of fns, u₁ = √q z₁, u₂ = √q (c z₁ + √(1−c²) z₂): a rule
    over z₂ for every point z₁ of a rule over z₁, shared by the fns."""
    s, sine = math.sqrt(max(q, _SMALLEST_Q)), math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    if sine == 0.0:  # u₂ = ±u₁
        u, w = _line(act, q)
        return [float(np.sum(w * h(u, math.copysign(1.0, c) * u))) for h in fns]
    # the integral over z₂ is φ smoothed over a width of s·sine; as a function of z₁ it
    # varies over sine/|c| around z₁ = 0 where φ has a kink, over 1/s where φ is graded
    width = min(1.0 / s if act.graded else math.inf,
                sine / abs(c) if act.kinked and c != 0.0 else math.inf)
    z1, w1 = _rule(np.zeros(1), width, points)
    z2, w2 = _rule(-c * z1[0] / sine, 1.0 / (s * sine) if act.graded else math.inf, points)
    u1, u2 = s * z1.T, s * (c * z1.T + sine * z2)  # row i: φ's kink at u₂ = 0 in z₂
    w = w1.T * w2
    return [float(np.sum(w * h(u1, u2))) for h in fns]


def _mean(act: _Activation, q: float, g: Fn) -> float:
    u, w = _line(act, q)
    return float(np.sum(w * g(u)))


# ------------------------------------------------------------------ fixed points


def _solve(fun: Callable[[float], float], lo: float, hi: float, f_lo: float, f_hi: float,
           rtol: float = 4e-16) -> float:
    """A root of fun in [lo, hi], where fun changes sign (f_lo ≥ 0 ≥ f_hi or the reverse):
    regula falsi with the Illinois modification, then bisection if it stalls."""
    side = 0
    for _ in range(200):
        if f_lo == 0.0 or hi - lo <= rtol * max(abs(lo), abs(hi)):
            return lo if abs(f_lo) <= abs(f_hi) else hi
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        if not lo < x < hi:
            x = (lo + hi) / 2
        fx = fun(x)
        if fx == 0.0:
            return x
        if (fx > 0) == (f_lo > 0):
            lo, f_lo = x, fx
            f_hi = f_hi / 2 if side == -1 else f_hi
            side = -1
        else:
            hi, f_hi = x, fx
            f_lo = f_lo / 2 if side == 1 else f_lo
            side = 1
    return (lo + hi) / 2  # pragma: no cover - 200 steps halve any bracket of doubles


def _q_map(act: _Activation, weight_var: float, bias_var: float, q: float) -> float:
    return weight_var * _mean(act, q, lambda u: act.f(u) ** 2) + bias_var


def _no_fixed_point(act: _Activation, weight_var: float, bias_var: float) -> bool:
    """q grows without bound from every q > 0 (the q map's slope at infinity is ≥ 1)."""
    growth = weight_var * act.growth
    if act.homogeneous and bias_var == 0.0:
        return growth > 1.0
    return growth >= 1.0 and act.growth > 0.0


def _q_star(act: _Activation, weight_var: float, bias_var: float, name: str) -> float:
    if _no_fixed_point(act, weight_var, bias_var):
        raise ValueError(f"no fixed point of q for {name} with weight_var={weight_var:g}, "
                         f"bias_var={bias_var:g}: q grows without bound from layer to layer "
                         f"(it needs weight_var < {1 / act.growth:g}"
                         f"{', or <= with bias_var = 0' if act.homogeneous else ''})")
    if act.homogeneous and bias_var == 0.0:
        return 0.0  # q → 0 (or, at the critical weight_var, every q stays)

    def gap(q: float) -> float:
        return _q_map(act, weight_var, bias_var, q) - q

    # E[φ²] ≤ growth·q + excess, so the map is below q from hi on
    hi = (weight_var * act.excess + bias_var) / (1.0 - weight_var * act.growth)
    if act.homogeneous:
        return hi  # the map is q·σ_w²(1 + a²)/2 + σ_b²: hi is its fixed point
    if weight_var * act.at_zero**2 + bias_var > 0.0:
        lo = 0.0  # the map is above q at q = 0
    elif weight_var * act.slope_at_zero <= 1.0:
        return 0.0  # q = 0 attracts: |φ(x)| ≤ |x|·|φ'(0)| for these activations
    else:  # q = 0 repels: the fixed point is above a small q where the map is above q
        lo = hi / 1e3
        while gap(lo) <= 0.0:
            if lo < 1e-290:  # pragma: no cover - weight_var·φ'(0)² within 1e-13 of 1
                return 0.0
            lo /= 1e3
    f_hi = gap(hi)
    if f_hi >= 0.0:  # only when the bound is the fixed point (weight_var = 0)
        return hi
    return _solve(gap, lo, hi, gap(lo), f_hi)


def _correlation(act: _Activation, weight_var: float, bias_var: float, q: float,
                 c: float, points: int = 8) -> tuple[float, float]:
    """(1 − M(c), M'(c)) for the correlation map M at q = q*.

    M(c) = (σ_w²·E[φ(u₁)φ(u₂)] + σ_b²)/L with L the length map at q* (= q* when q* > 0,
    so M(1) = 1 exactly), and 1 − M(c) = σ_w²·E[(φ(u₁) − φ(u₂))²]/(2L): computed so, it
    keeps its relative precision as c → 1. M'(c) = σ_w²·q·E[φ'(u₁)φ'(u₂)]/L (Price's
    theorem: the derivative of a Gaussian expectation with respect to the covariance).
    """
    length = _q_map(act, weight_var, bias_var, q)
    if length == 0.0:  # no weights, no biases: every signal is 0
        return 0.0, 0.0
    apart, slope = _plane(act, q, c, lambda a, b: (act.f(a) - act.f(b)) ** 2,
                          lambda a, b: act.df(a) * act.df(b), points=points)
    return (weight_var * apart / (2 * length),
            weight_var * max(q, _SMALLEST_Q) * slope / length)


def _chi1(act: _Activation, weight_var: float, q: float) -> float:
    return weight_var * _mean(act, q, lambda u: act.df(u) ** 2)


def _c_star(act: _Activation, weight_var: float, bias_var: float, q: float) -> float:
    """The attracting fixed point of the correlation map M in [0, 1].

    By Mehler's formula M(c) = Σ b_k c^k with b_k ≥ 0, Σ b_k = M(1) = 1 and
    Σ k b_k = M'(1) = χ₁. So S(c) = (1 − M(c))/(1 − c) = Σ b_k (1 + c + … + c^(k−1)) is
    increasing and convex on [0, 1], from S(0) = 1 − M(0) ≤ 1 to S(1) = χ₁, and the fixed
    points M(c) = c below 1 are the roots of S(c) = 1: none if χ₁ ≤ 1 (c* = 1), exactly one
    if χ₁ > 1. Unlike M(c) − c, S − 1 has a simple root even as c* → 1. For large q, S
    grows like 1/√(1 − c) toward c = 1 (M tends to the map of a step, (2/π)·arcsin c), so
    Newton's method runs on 1/S in t = √(1 − c), where that is a straight line. It starts
    where the tangent to S at c = 1 reaches 1 (S'(1) = M''(1)/2 = σ_w²·q*·E[φ''(√q* z)²]/2),
    first with rules of 4 points a panel, then of 8.
    """
    chi = _chi1(act, weight_var, q)
    if chi <= 1.0 + CRITICAL_TOLERANCE:
        return 1.0
    length = _q_map(act, weight_var, bias_var, q)
    at_zero = 1.0 - (weight_var * _mean(act, q, act.f) ** 2 + bias_var) / length  # S(0)
    if at_zero >= 1.0:
        return 0.0
    curvature = weight_var * q * q * _mean(act, q, lambda u: act.d2f(u) ** 2) / (2 * length)
    below_one = (1.0 - at_zero) / (chi - at_zero)  # 1 − c where the chord of S reaches 1
    t = math.sqrt(min((chi - 1.0) / curvature, below_one) if curvature > 0.0 else below_one)
    t = _newton(act, weight_var, bias_var, q, t, 4, 1e-4)
    t = _newton(act, weight_var, bias_var, q, t, 8, 1e-10)
    return max(0.0, 1.0 - t * t)


def _newton(act: _Activation, weight_var: float, bias_var: float, q: float, t: float,
            points: int, tol: float) -> float:
    """Newton's method for 1/S(c) = 1 in t = √(1 − c) ∈ (0, 1], guarded by a bracket,
    until a step changes c by less than tol (the point after that step is returned)."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        c = 1.0 - t * t
        apart, slope = _correlation(act, weight_var, bias_var, q, c, points)
        ratio = apart / (1.0 - c)  # S(c), with 1 − c as rounded
        if ratio == 1.0:
            return t
        lo, hi = (lo, t) if ratio < 1.0 else (t, hi)  # 1/S rises with t
        # d(1/S)/dt = 2t·S'/S² and S' = (S − M')/(1 − c)
        newton = t - t * ratio * (1.0 - ratio) / (2.0 * (ratio - slope))
        nxt = newton if lo < newton < hi else (lo + hi) / 2
        if 2.0 * t * abs(nxt - t) <= tol or hi - lo <= 1e-15:
            return nxt
        t = nxt
    return t  # pragma: no cover - Newton's method converges in a few steps


def _depth_scale(slope: float) -> float:
    """−1/ln(slope) for a contraction factor slope in [0, 1]; inf when critical."""
    if slope >= 1.0 - CRITICAL_TOLERANCE:
        return math.inf
    return 0.0 if slope <= 0.0 else -1.0 / math.log(slope)


# ------------------------------------------------------------------ the public functions


@validated("theory.q_star")
def q_star(activation: str, weight_var: float, bias_var: float, *,
           slope: float | None = None) -> float:
    """The fixed point q* of the length map q ← σ_w²·E[φ(√q z)²] + σ_b².

    Poole et al. (2016): the second moment of a pre-activation that a deep enough
    random net settles to, whatever its input.

    Parameters
    ----------
    activation : str
        One of :data:`ACTIVATIONS`.
    weight_var : float
        σ_w² ≥ 0: weights are drawn from N(0, σ_w²/n_in).
    bias_var : float
        σ_b² ≥ 0: biases are drawn from N(0, σ_b²).
    slope : float or None
        The negative-side slope of ``"leaky_relu"`` (default 0.01) or ``"prelu"`` (default
        0.25); no other activation takes one.

    Returns
    -------
    float
        q* ≥ 0: the fixed point that the map reaches from any q > 0 (it is unique for these
        activations). 0 where signals die out (no biases, φ(0) = 0, ordered phase) and
        for a positively homogeneous activation at its critical point without biases
        (ReLU at σ_w² = 2), where every q is a fixed point.

    Raises
    ------
    ValueError
        For a bad argument, or where q grows without bound (ReLU with σ_w² > 2, or 2 with
        biases; linear with σ_w² > 1, or 1 with biases; ELU with σ_w² ≥ 2).

    Examples
    --------
    >>> round(q_star("relu", 1.0, 1.0), 12)  # σ_b²/(1 − σ_w²/2)
    2.0
    """
    return _q_star(_activation(activation, slope), weight_var, bias_var, activation)


@validated("theory.chi1")
def chi1(activation: str, weight_var: float, bias_var: float, *,
         slope: float | None = None) -> float:
    """χ₁ = σ_w²·E[φ'(√q* z)²]: the factor by which each layer multiplies E‖δ‖².

    Poole et al. (2016); Schoenholz et al. (2017). χ₁ < 1: ordered phase,
    gradients vanish going backwards; χ₁ > 1: chaotic phase, they explode. The gradient's
    norm changes by √χ₁ per layer. Parameters and errors as for :func:`q_star`.

    Examples
    --------
    >>> round(chi1("sigmoid", 1.0, 1.0) ** 0.5, 3)  # the book's initialisation
    0.205
    >>> round(chi1("relu", 1.5, 0.3), 12)  # σ_w²/2 for ReLU, at any q
    0.75
    """
    act = _activation(activation, slope)
    return _chi1(act, weight_var, _q_star(act, weight_var, bias_var, activation))


@validated("theory.correlation_map")
def correlation_map(activation: str, weight_var: float, bias_var: float, c: float, *,
                    slope: float | None = None) -> float:
    """The correlation of two inputs' pre-activations one layer on, given c in this one.

    Poole et al. (2016): (σ_w²·E[φ(u₁)φ(u₂)] + σ_b²)/q*, with u₁ = √q*·z₁ and
    u₂ = √q*·(c z₁ + √(1−c²) z₂), both at the fixed point q*. (The denominator is computed
    as the length map at q*, which is q* itself; at q* = 0 this gives the limit q → 0⁺.)

    Parameters
    ----------
    c : float
        The correlation, in [−1, 1].

    The other parameters and the errors are those of :func:`q_star`.

    Returns
    -------
    float
        The next layer's correlation; 1 at c = 1.
    """
    act = _activation(activation, slope)
    q = _q_star(act, weight_var, bias_var, activation)
    return 1.0 - _correlation(act, weight_var, bias_var, q, c)[0]


@validated("theory.c_star")
def c_star(activation: str, weight_var: float, bias_var: float, *,
           slope: float | None = None) -> float:
    """The correlation c* that two inputs reach deep in the net: the attracting fixed point
    of :func:`correlation_map` in [0, 1].

    Poole et al. (2016): c* = 1 in the ordered phase (χ₁ ≤ 1, within 1e-10), where all
    inputs end up alike; c* < 1 in the chaotic phase, where nearby inputs decorrelate.
    Parameters and errors as for :func:`q_star`.

    Examples
    --------
    >>> c_star("sigmoid", 1.0, 1.0)
    1.0
    >>> c_star("tanh", 4.0, 0.0)  # an odd φ without biases: c* = 0
    0.0
    """
    act = _activation(activation, slope)
    q = _q_star(act, weight_var, bias_var, activation)
    return _c_star(act, weight_var, bias_var, q)


@validated("theory.chi_c")
def chi_c(activation: str, weight_var: float, bias_var: float, c: float | None = None, *,
          slope: float | None = None) -> float:
    """χ_c = σ_w²·E[φ'(u₁)φ'(u₂)]: the slope of the correlation map at c (at c* by
    default).

    Poole et al. (2016); Schoenholz et al. (2017). At c = 1 it is χ₁
    exactly; at c* it sets the depth scale ξ_c = −1/ln χ_c(c*). Where q* = 0 it is the
    limit q → 0⁺ of this integral (for tanh: σ_w²).

    Parameters
    ----------
    c : float or None
        A correlation in [−1, 1]; None: c*.

    The other parameters and the errors are those of :func:`q_star`.
    """
    act = _activation(activation, slope)
    q = _q_star(act, weight_var, bias_var, activation)
    if c is None:
        c = _c_star(act, weight_var, bias_var, q)
    if c == 1.0:
        return _chi1(act, weight_var, q)
    return weight_var * _plane(act, q, c, lambda a, b: act.df(a) * act.df(b))[0]


@validated("theory.depth_scales")
def depth_scales(activation: str, weight_var: float, bias_var: float, *,
                 slope: float | None = None) -> DepthScales:
    """How many layers the length and the correlation of signals take to settle.

    Schoenholz et al. (2017): |q_l − q*| ~ e^(−l/ξ_q) with
    ξ_q⁻¹ = −ln(χ₁ + σ_w²·E[φ(√q* z)·φ''(√q* z)]) (the length map's slope at q*), and
    ``|c_l − c*|`` ~ e^(−l/ξ_c) with ξ_c⁻¹ = −ln χ_c(c*). ξ_c is also the depth over which
    gradients keep their size, and it diverges at the critical line: a slope within 1e-10
    of 1 gives ``math.inf``. Parameters and errors as for :func:`q_star`.

    Returns
    -------
    DepthScales
        ``(xi_q, xi_c)`` in layers; ``math.inf`` at criticality, 0 for a slope of 0.

    Examples
    --------
    >>> depth_scales("relu", 2.0, 0.0).xi_c  # He et al.'s initialisation is critical
    inf
    """
    act = _activation(activation, slope)
    q = _q_star(act, weight_var, bias_var, activation)
    length_slope = weight_var * _mean(act, q, lambda u: act.df(u) ** 2 + act.f(u) * act.d2f(u))
    c = _c_star(act, weight_var, bias_var, q)
    chi = (_chi1(act, weight_var, q) if c == 1.0 else
           weight_var * _plane(act, q, c, lambda a, b: act.df(a) * act.df(b))[0])
    return DepthScales(_depth_scale(length_slope), _depth_scale(chi))


@validated("theory.critical_weight_var")
def critical_weight_var(activation: str, bias_var: float, *,
                        slope: float | None = None) -> float:
    """The weight variance σ_w² at which χ₁ = 1 for this bias variance: the critical line
    between vanishing and exploding gradients (Poole et al. 2016; Schoenholz et al. 2017).

    Closed forms: ReLU 2 (the initialisation of He, Zhang, Ren & Sun 2015, "Delving deep
    into rectifiers"), leaky ReLU and PReLU 2/(1 + a²), linear 1, all only without biases;
    tanh, softsign and ELU without biases 1 (1/φ'(0)²: q* = 0 and χ₁ = σ_w² below it, chaos
    above it). Otherwise the root of χ₁(σ_w²) = 1, found by regula falsi (for the sigmoid
    with σ_b² = 1 it is 105.4, a weight scale of 10.3).

    Parameters
    ----------
    activation, bias_var, slope
        As for :func:`q_star`.

    Returns
    -------
    float
        σ_w² > 0 with χ₁ = 1.

    Raises
    ------
    ValueError
        For a bad argument, and for a positively homogeneous activation (ReLU, leaky ReLU,
        PReLU, linear) with bias_var > 0: its χ₁ = σ_w²·(1 + a²)/2 does not depend on q, and
        at the σ_w² where it is 1 the biases make q grow without bound, so no fixed point
        is critical.
    """
    act = _activation(activation, slope)
    if act.homogeneous:
        if bias_var > 0.0:
            raise ValueError(
                f"{activation} has no critical point with bias_var > 0 (got {bias_var:g}): "
                f"its chi1 = weight_var·{act.slope_at_zero:g} reaches 1 only at weight_var = "
                f"{1 / act.slope_at_zero:g}, where q grows without bound; it is critical "
                f"only with bias_var = 0")
        return 1.0 / act.slope_at_zero
    if bias_var == 0.0 and act.at_zero == 0.0:
        return 1.0 / act.slope_at_zero  # q* = 0 and χ₁ = σ_w²·φ'(0)² below, chaos above

    def excess(weight_var: float) -> float:
        return _chi1(act, weight_var, _q_star(act, weight_var, bias_var, activation)) - 1.0

    hi, f_hi = 1.0, excess(1.0)
    limit = 1.0 / act.growth if act.growth > 0.0 else 1e12  # ELU: q* exists below 2
    while f_hi <= 0.0:
        hi = (hi + limit) / 2 if act.growth > 0.0 else hi * 2.0
        if hi >= limit * (1.0 - 1e-12):  # pragma: no cover - not for these activations
            raise ValueError(f"no critical weight_var for {activation} with bias_var = "
                             f"{bias_var:g} below {limit:g}")
        f_hi = excess(hi)
    return _solve(excess, 0.0, hi, -1.0, f_hi, rtol=1e-14)


def _hidden_activations(network: Any, hidden: int) -> list[str]:
    """The activation of each hidden layer: ``network.activations`` (a name for the
    output layer after them is allowed and not used), or all sigmoid without it."""
    names = getattr(network, "activations", None)
    if names is None:
        return ["sigmoid"] * hidden
    names = list(names)
    if len(names) not in (hidden, hidden + 1):
        raise ValueError(f"network.activations must name the {hidden} hidden layers' "
                         f"activations, got {len(names)} names")
    for i, name in enumerate(names):
        if name not in ACTIVATIONS:
            raise ValueError(f"network.activations[{i}] must be one of "
                             f"{', '.join(map(repr, ACTIVATIONS))}, got {name!r}")
    return names[:hidden]


def _layer_variances(network: Any) -> tuple[tuple[int, ...], list[tuple[float, float]]]:
    """The sizes, and (σ_w², σ_b²) = (n_in·mean(W²), mean(b²)) of every layer."""
    try:
        sizes = tuple(int(n) for n in network.sizes)
        weights, biases = list(network.weights), list(network.biases)
    except (AttributeError, TypeError):
        raise TypeError(f"network must be a gradcore.Network (sizes, weights, biases), got "
                        f"{type(network).__name__}") from None
    if len(weights) != len(sizes) - 1 or len(biases) != len(weights):
        raise ValueError(f"network has {len(weights)} weight and {len(biases)} bias arrays "
                         f"for sizes {sizes}")
    variances = []
    for n_in, w, b in zip(sizes, weights, biases):
        w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ValueError("network has non-finite parameters")
        variances.append((n_in * float(np.mean(w * w)), float(np.mean(b * b))))
    return sizes, variances


def predicted_ratios(network: Any, X: Any = None) -> np.ndarray:
    """The theory's ratio of the gradients of consecutive hidden layers of a real net.

    For hidden layers l and l + 1 (counted from 1) it returns

        rms(δˡ)/rms(δˡ⁺¹) = √(σ_w²(l+1)·E[φ'ₗ(hₗ)²]),  hₗ ~ N(0, qₗ),

    where rms(δˡ) is the root mean square over examples of the norm ‖δˡ(x)‖ of the whole
    layer's δˡ = ∂C/∂bˡ, σ_w²(l+1) = n_l·mean(W²) is the weight variance of the layer fed
    by hidden layer l, φₗ the activation of hidden layer l and qₗ the second moment of its
    pre-activations hₗ.
    This is the mean-field backward step of Schoenholz et al. (2017),
    δˡ = (Wˡ⁺¹)ᵀδˡ⁺¹ ⊙ φ'ₗ(hˡ) with the weights taken independent of the signals, so that
    E‖(Wˡ⁺¹)ᵀδ‖² = σ_w²(l+1)·‖δ‖² whatever the widths. For a net whose layers all have the
    same variances, at q*, it is √χ₁ (0.205 at the book's initialisation). In the ordered
    phase, where the examples' gradients point alike, it is also the ratio of chapter 5's
    learning speeds ‖mean of δˡ‖; in the chaotic phase the examples' gradients point apart,
    their mean cancels, and the speeds' ratio falls below it.

    Parameters
    ----------
    network : gradcore.Network
        Its ``sizes``, ``weights`` and ``biases`` are read: each layer's σ_w² = n_in·mean(W²)
        and σ_b² = mean(b²) are those of its actual parameters. ``network.activations``,
        one name of :data:`ACTIVATIONS` per hidden layer (a last name, for the output
        layer, is allowed and not used), gives the activations; without it (or None) every
        layer is sigmoid, as in chapter 5. A ``"prelu"`` layer is taken with slope 0.25.
    X : array-like of shape (n, sizes[0]) or None
        Inputs. Given, q₁ = σ_w²(1)·mean(‖x‖²)/n_in + σ_b²(1) and each following qₗ comes
        from the length map with that layer's variances and the activation before it.
        None: every hidden layer is taken at the fixed point q* of its own variances and
        activation, as if the net before it were deep and made of such layers.

    Returns
    -------
    numpy.ndarray
        Shape (hidden layers − 1,): hidden 1 ÷ 2, 2 ÷ 3, …; empty for fewer than 2 hidden
        layers. The product of the first k is the predicted ratio of hidden layer 1's
        gradient to hidden layer k + 1's.

    Raises
    ------
    TypeError, ValueError
        For a network without sizes, weights and biases, unknown activation names, bad X;
        without X, for a layer whose q has no fixed point (it names the layer).
    """
    sizes, variances = _layer_variances(network)
    hidden = len(sizes) - 2
    names = _hidden_activations(network, max(hidden, 0))
    acts = [_activation(name, None) for name in names]
    qs = []
    if X is not None:
        X = as_inputs(X, sizes[0], np.dtype(np.float64))
        q = variances[0][0] * float(np.mean(np.sum(X * X, axis=1))) / sizes[0] + variances[0][1]
        for l in range(hidden):
            qs.append(q)
            if l + 1 < hidden:
                q = _q_map(acts[l], *variances[l + 1], q)
    else:
        for l in range(hidden):
            try:
                qs.append(_q_star(acts[l], *variances[l], names[l]))
            except ValueError as exc:
                raise ValueError(f"hidden layer {l + 1}: {exc}") from None
    return np.array([math.sqrt(_chi1(acts[l], variances[l + 1][0], qs[l]))
                     for l in range(hidden - 1)], dtype=np.float64)
