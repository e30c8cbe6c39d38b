"""The mean-field theory (gradcore.theory): one call per point, in the ordered phase at the
book's initialisation and in the chaotic phase, where c* < 1 takes Newton's method on a
two-dimensional integral. Each aims at well under 10 ms (the module's docstring gives the
measured times). Each result is checked: the fixed points against the maps integrated by
Simpson's rule here, and the book's √χ₁ = 0.205.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcore import theory

POINTS = {"sigmoid 1, 1 (ordered)": ("sigmoid", 1.0, 1.0),
          "tanh 4, 0.5 (chaotic)": ("tanh", 4.0, 0.5),
          "sigmoid 1024, 1 (chaotic)": ("sigmoid", 1024.0, 1.0)}
PHI = {"sigmoid": (lambda u: 1 / (1 + np.exp(-u)), lambda u: np.exp(-u) / (1 + np.exp(-u)) ** 2),
       "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2)}


def gaussian_mean(g, q: float, n: int = 40_000) -> float:
    """E[g(u)], u ~ N(0, q), by Simpson's rule on [−12√q, 12√q]."""
    u = np.linspace(-12 * math.sqrt(q), 12 * math.sqrt(q), n + 1)
    w = np.full(n + 1, 2.0)
    w[1::2], w[0], w[-1] = 4.0, 1.0, 1.0
    w *= (u[1] - u[0]) / 3 * np.exp(-u * u / (2 * q)) / math.sqrt(2 * math.pi * q)
    return float(np.sum(w * g(u)))


def check(function: str, name: str, wv: float, bv: float, result: float) -> None:
    q = theory.q_star(name, wv, bv)
    phi, slope = PHI[name]
    if function == "q_star":
        assert result == pytest.approx(wv * gaussian_mean(lambda u: phi(u) ** 2, q) + bv,
                                       rel=1e-9)
        return
    chi = wv * gaussian_mean(lambda u: slope(u) ** 2, q)
    if (name, wv, bv) == ("sigmoid", 1.0, 1.0):
        assert round(math.sqrt(result if function != "c_star" else chi), 3) == 0.205
    if function == "chi1" or chi < 1:  # ordered: c* = 1 and χ_c(c*) = χ₁
        assert result == pytest.approx(chi if function != "c_star" else 1.0, rel=1e-9)
    elif function == "c_star":
        assert 0 < result < 1
        assert theory.correlation_map(name, wv, bv, result) == pytest.approx(result, abs=1e-14)
    else:  # χ_c(c*): the slope of the correlation map there, below 1
        c, h = theory.c_star(name, wv, bv), 1e-6
        fd = (theory.correlation_map(name, wv, bv, c + h)
              - theory.correlation_map(name, wv, bv, c - h)) / (2 * h)
        assert result == pytest.approx(fd, rel=1e-6) and result < 1


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("function", ["q_star", "chi1", "c_star", "chi_c"])
def test_theory(benchmark, function, point):
    benchmark.group = f"theory.{function}"
    name, wv, bv = POINTS[point]
    result = benchmark(getattr(theory, function), name, wv, bv)
    check(function, name, wv, bv, result)
