"""Mean-field theory over a diagram of weight variances: the critical line χ₁ = 1 and the
depth scale ξ_c of every column, for the figures of :func:`~gradcore.experiments.phase`
and :func:`~gradcore.experiments.trainability`.

Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein
(2017), "Deep information propagation". The functions are those of :mod:`gradcore.theory`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["theory_overlay", "critical_grid"]


def theory_overlay(activation: str, bias_var: float, weight_vars: Sequence[float],
                   multiples: Sequence[float] = (1.0, 6.0)) -> dict[str, Any]:
    """The theory to draw over a depth × σ_w² diagram, as plain JSON-ready data.

    Returns
    -------
    dict
        ``activation``, ``bias_var``, ``weight_vars``; ``critical``: the σ_w² with χ₁ = 1
        (:func:`gradcore.theory.critical_weight_var`), or None where there is none (ReLU and
        its kin with σ_b² > 0) with ``note`` saying why; ``chi1`` and ``xi_c`` per column
        (None where the theory has no fixed point q*, e.g. ReLU with σ_w² ≥ 2 and biases;
        ``math.inf`` for ξ_c at the critical point); ``multiples``: the k of the curves
        depth = k·ξ_c.
    """
    from ..theory import chi1, critical_weight_var, depth_scales

    out: dict[str, Any] = {"activation": activation, "bias_var": float(bias_var),
                           "weight_vars": [float(w) for w in weight_vars],
                           "multiples": [float(k) for k in multiples], "note": None}
    try:
        out["critical"] = critical_weight_var(activation, bias_var)
    except ValueError as exc:
        out["critical"] = None
        out["note"] = (f"no chi1 = 1 line: {activation} has no critical point with "
                       f"bias_var = {bias_var:g}") if "no critical point" in str(exc) \
            else f"no chi1 = 1 line: {exc}"
    chis: list[float | None] = []
    xis: list[float | None] = []
    for w in weight_vars:
        try:
            chis.append(chi1(activation, w, bias_var))
            xis.append(depth_scales(activation, w, bias_var).xi_c)
        except ValueError:
            chis.append(None)
            xis.append(None)
    out["chi1"], out["xi_c"] = chis, xis
    if any(x is None for x in xis):
        gone = ", ".join(f"{w:g}" for w, x in zip(weight_vars, xis) if x is None)
        extra = f"no fixed point q* at weight_var {gone}"
        out["note"] = extra if out["note"] is None else f"{out['note']}; {extra}"
    return out


def for_figure(overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` with ``xi_c`` as floats (NaN for None), as the figures take it."""
    return {**overlay, "xi_c": [math.nan if x is None else float(x) for x in overlay["xi_c"]]}


def for_json(overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` with every infinite number written as the string ``"inf"`` (``"-inf"``)
    and every NaN as None: JSON has neither (an infinite ξ_c at the critical point, an
    infinite σ_w² where a scale's square overflows)."""
    def plain(x: Any) -> Any:
        if isinstance(x, list):
            return [plain(v) for v in x]
        if isinstance(x, float) and not math.isfinite(x):
            return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
        return x

    return {k: plain(v) for k, v in overlay.items()}


def critical_grid(activation: str, bias_var: float, steps: int = 3) -> list[float]:
    """σ_w² around the critical point: σ_c²·2^k for k = −steps … steps.

    Raises
    ------
    ValueError
        Where the activation has no critical point (ReLU, leaky ReLU, PReLU, linear with
        bias_var > 0), naming it.
    """
    from ..theory import critical_weight_var

    c = critical_weight_var(activation, bias_var)
    return [c * 2.0 ** k for k in range(-steps, steps + 1)]
