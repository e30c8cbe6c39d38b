"""Dynamical isometry: the singular values of a deep net's input–output Jacobian at
initialisation, Gaussian against orthogonal weights, each activation at its critical point.

A net has *dynamical isometry* when every singular value of its input–output Jacobian
J = ∂aᴸ/∂x = Dᴸ Wᴸ ⋯ D¹ W¹ (Dˡ = diag(φ'(zˡ))) is close to 1, so that every direction of the
gradient, not just its norm on average, is passed back through the depth unchanged.

* Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning
  in deep linear neural networks": a linear net with orthogonal weights is exactly
  isometric at any depth; with Gaussian weights its spectrum spreads as the depth grows.
* Pennington, Schoenholz & Ganguli (2017), "Resurrecting the sigmoid in deep learning through
  dynamical isometry: theory and practice": at the critical point (χ₁ = 1, the mean of the
  squared singular values stays 1), free probability gives the variance of the squared
  singular values, normalised by their squared mean, as

      σ²_JJᵀ = L · (v_W + v_D),  v_D = E[φ'(h)⁴] / E[φ'(h)²]² − 1,  h ~ N(0, q*),

  with v_W = 1 for Gaussian weights (the quarter-circle law) and 0 for orthogonal ones. For
  the ReLU, half of the φ' are 0 and v_D = 1 whatever q*: its spread grows linearly with the
  depth even with orthogonal weights, so it cannot reach isometry. For tanh, v_D → 0 as
  q* → 0: with orthogonal weights and a small q* (small bias variance) the spread stays
  small; with Gaussian weights v_W = 1 remains. Linear nets: v_D = 0.

Every net has ``depth`` hidden layers of ``width`` units, weights at the activation's
critical weight variance (:func:`gradcore.theory.critical_weight_var`) for the chosen bias
variance: :class:`gradcore.Gaussian` ``(σ_w², σ_b²)`` or :class:`gradcore.Orthogonal`
``(σ_w, σ_b²)``. The Jacobian is taken at inputs x whose first pre-activations have second
moment q* (x ~ N(0, (q* − σ_b²)/σ_w²); N(0, 1) for activations without a unique q*). Every
net is a job of the runner (:mod:`~.runner`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from .. import reference as _ref
from .._band import band
from .._init import Gaussian, Orthogonal
from .._validation import validated
from .jacobian import one_blas_thread
from .jobs import Job, JobResult, fingerprint, seed_list
from .runner import sweep

__all__ = ["isometry", "IsometryResult", "ISOMETRY_ACTIVATIONS", "ISOMETRY_DEPTHS",
           "ISOMETRY_BIAS_VAR", "predicted_spread", "spread", "write_isometry"]

PathLike = str | os.PathLike[str]

#: Default activations of :func:`isometry`.
ISOMETRY_ACTIVATIONS: tuple[str, ...] = ("linear", "relu", "tanh")
#: Default depths (hidden layers).
ISOMETRY_DEPTHS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
#: Default bias variance per activation: 0 where the critical point needs it (the
#: positively homogeneous ones), a small one for the others (a small q*).
ISOMETRY_BIAS_VAR: dict[str, float] = {"tanh": 1e-3, "softsign": 1e-3, "elu": 1e-3,
                                       "sigmoid": 1e-3}
WEIGHTS = ("gaussian", "orthogonal")
#: Most multiply-adds of one Jacobian (width² · depth · width), a bound that keeps a job
#: in memory and minutes: width 1,000 at depth 1,000.
MAX_WORK = 10**12
_INPUT_SEED = 20170101


def _critical(activation: str, bias_var: float) -> tuple[float, float]:
    """(σ_w², q*) at the critical point; q* = 1 for activations that have no unique one."""
    from .. import theory

    w = theory.critical_weight_var(activation, bias_var)
    q = theory.q_star(activation, w, bias_var)
    return w, (q if q > 0.0 else 1.0)


def _moments(activation: str, q: float) -> tuple[float, float]:
    """(E[φ'(h)²], E[φ'(h)⁴]), h ~ N(0, q): Gauss–Legendre on each half-line (the kinks of
    the ReLU family, ELU and softsign are at h = 0), 96 nodes on [0, 12] standard
    deviations."""
    u, w = np.polynomial.legendre.leggauss(96)
    u, w = 6.0 * (u + 1.0), 6.0 * w
    pdf = np.exp(-u * u / 2) / math.sqrt(2 * math.pi)
    out = []
    for k in (2, 4):
        total = 0.0
        for sign in (1.0, -1.0):
            z = sign * math.sqrt(q) * u
            a = _ref.activate(activation, z) if activation != "prelu" else z
            d = _ref.activation_derivative(activation, a, z)
            total += float(np.sum(w * pdf * d ** k))
        out.append(total)
    return out[0], out[1]


def predicted_spread(activation: str, weights: str, depth: int, bias_var: float) -> float:
    """Pennington et al.'s (2017) σ²_JJᵀ / (mean)² = depth·(v_W + v_D) (module docstring)."""
    _, q = _critical(activation, bias_var)
    m2, m4 = _moments(activation, q)
    v_d = m4 / (m2 * m2) - 1.0
    v_d = 0.0 if v_d < 1e-12 else v_d  # φ' constant (linear): 0 up to rounding
    return depth * ((1.0 if weights == "gaussian" else 0.0) + v_d)


def _spectra(r: JobResult) -> np.ndarray:
    """A job's singular values, one row per input."""
    if r.jacobian is None:
        raise ValueError(f"job {r.job.label()} recorded no Jacobian")
    return np.atleast_2d(r.jacobian)


def spread(singular_values: np.ndarray) -> float:
    """The variance of the squared singular values over their squared mean: 0 exactly for
    an isometry (all equal)."""
    lam = np.asarray(singular_values, dtype=np.float64) ** 2
    return float(lam.var() / lam.mean() ** 2)


@dataclass
class IsometryResult:
    """What :func:`isometry` measured.

    Attributes
    ----------
    results : dict of (activation, weights, width, depth) to list of JobResult
        One net per seed; ``result.jacobian`` holds the singular values (one row per input).
    settings : dict
    paths : dict of str to path
    """

    results: dict[tuple[str, str, int, int], list[JobResult]]
    settings: dict[str, Any]
    paths: dict[str, Any] = field(default_factory=dict)

    def singular_values(self, activation: str, weights: str, width: int, depth: int
                        ) -> np.ndarray:
        """Every singular value of every seed and input of one cell, pooled."""
        return np.concatenate([np.ravel(_spectra(r)) for r in
                               self.results[(activation, weights, width, depth)]])

    def spreads(self, activation: str, weights: str, width: int) -> np.ndarray:
        """(depths, seeds × inputs): ``spread`` of every Jacobian."""
        return np.array([[spread(row) for r in self.results[(activation, weights, width, d)]
                          for row in _spectra(r)]
                         for d in self.settings["depths"]])

    def spread_band(self, activation: str, weights: str, width: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, p10, p90) over seeds of ``spread`` per depth."""
        return band(self.spreads(activation, weights, width), axis=1)

    def predicted(self, activation: str, weights: str) -> np.ndarray:
        """``predicted_spread`` per depth."""
        bv = self.settings["bias_var"][activation]
        return np.array([predicted_spread(activation, weights, d, bv)
                         for d in self.settings["depths"]])


def _inputs(activation: str, width: int, bias_var: float, weight_var: float, q: float,
            examples: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([_INPUT_SEED, width, examples])
    var = (q - bias_var) / weight_var if q > bias_var else 1.0
    X = rng.standard_normal((examples, width)) * math.sqrt(var)
    return X, np.zeros(examples, dtype=np.int64)


@validated("experiments.isometry")
def isometry(out_dir: PathLike | None = None, *,
             activations: Sequence[str] = ISOMETRY_ACTIVATIONS,
             depths: Sequence[int] = ISOMETRY_DEPTHS, widths: Sequence[int] = (100,),
             seeds: int | Sequence[int] = 3, examples: int = 1,
             bias_var: Mapping[str, float] | None = None, figures: bool = True,
             n_jobs: int | None = None, scheduler: Any = None, force: bool = False,
             progress: bool = True, formats: Sequence[str] = ("png",)) -> IsometryResult:
    """Singular values of the input–output Jacobian at initialisation, Gaussian against
    orthogonal weights, for every activation at its critical point, depth and width.

    Parameters
    ----------
    out_dir : path or None
        Results folder (checked first; each net stored as it finishes, skipped on a rerun);
        at the end ``isometry.csv`` (tidy: activation, weights, width, depth, seed, input,
        index, singular value), ``isometry_spread.csv`` (per net: the spread, the largest and
        smallest singular value, the prediction), ``isometry.json`` and the figures
        ``isometry_spectra.png`` and ``isometry_spread.png``.
    activations : sequence of str
        Each must have a critical point at its bias variance (default linear, relu, tanh).
    depths : sequence of int
        Hidden layers (default 1, 2, 4, …, 64; the papers go to 200 and beyond).
    widths : sequence of int
        Units per hidden layer (default 100; the papers' figures use 100–1,000).
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 3) or the seeds: one net each.
    examples : int
        Inputs at which each net's Jacobian is taken (default 1).
    bias_var : mapping of activation to float, or None
        σ_b² per activation; default ``ISOMETRY_BIAS_VAR`` (0 for linear, relu, leaky
        relu and prelu, which are critical only without biases).
    figures, n_jobs, scheduler, force, progress, formats
        As for :func:`gradcore.experiments.chapter5` (``isometry.parquet``).

    Returns
    -------
    IsometryResult

    Raises
    ------
    ValueError
        An activation without a critical point at its bias variance (ReLU with σ_b² > 0),
        or a net whose Jacobian would take more than ``MAX_WORK`` multiply-adds.
    """
    given = dict(bias_var or {})
    unknown = sorted(set(given) - set(activations))
    if unknown:
        raise ValueError(f"bias_var names activations not in activations: {unknown}")
    bvs = {a: float(given.get(a, ISOMETRY_BIAS_VAR.get(a, 0.0))) for a in activations}
    for a, v in bvs.items():
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"bias_var[{a!r}] must be a finite number >= 0, got {v}")
    big = max(widths) ** 3 * max(depths)
    if big > MAX_WORK:
        raise ValueError(f"width {max(widths)} at depth {max(depths)} needs {big:.3g} "
                         f"multiply-adds per Jacobian, beyond the limit of {MAX_WORK:.0e}")
    critical = {}
    for a in activations:
        try:
            critical[a] = _critical(a, bvs[a])
        except ValueError as exc:
            raise ValueError(f"activation {a!r} at bias_var {bvs[a]:g}: {exc}") from None
    seed_values = seed_list(seeds)
    data = {}
    jobs = []
    cells = []
    for a in activations:
        wv, q = critical[a]
        for width in widths:
            key = f"input-{a}-{width}"
            data[key] = _inputs(a, width, bvs[a], wv, q, examples)
            for weights in WEIGHTS:
                init = (Gaussian(wv, bvs[a]) if weights == "gaussian"
                        else Orthogonal(math.sqrt(wv), bvs[a]))
                for d in depths:
                    cells.append((a, weights, width, d))
                    jobs += [Job(sizes=(width,) * (d + 1) + (10,), seed=s, epochs=0,
                                 init=init, activation=a, data=key, jacobian=int(examples),
                                 lmbda=0.0) for s in seed_values]
    settings = {"activations": list(activations), "depths": list(depths),
                "widths": list(widths), "seeds": seed_values, "examples": int(examples),
                "bias_var": bvs,
                "weight_var": {a: critical[a][0] for a in activations},
                "q_star": {a: critical[a][1] for a in activations},
                "inputs_fingerprint": fingerprint(data), "gradcore_version": __version__}
    with one_blas_thread():
        results = sweep("isometry", settings, jobs, data, out_dir=out_dir, force=force,
                        n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    result = IsometryResult({c: results[i * K:(i + 1) * K] for i, c in enumerate(cells)},
                            settings)
    if out_dir is not None:
        write_isometry(result, out_dir, figures=figures, formats=formats)
    return result


# ------------------------------------------------------------------ output


def _spread_rows(result: IsometryResult) -> list[list[Any]]:
    from .output import _num

    rows = []
    for (a, weights, width, d), rs in result.results.items():
        pred = predicted_spread(a, weights, d, result.settings["bias_var"][a])
        for r in rs:
            for e, sv in enumerate(_spectra(r)):
                rows.append([a, weights, width, d, r.job.seed, e, _num(spread(sv)),
                             _num(sv.max()), _num(sv.min()), _num(np.mean(sv ** 2)),
                             _num(pred)])
    return rows


def write_isometry(result: IsometryResult, folder: PathLike, *, figures: bool = True,
                   formats: Sequence[str] = ("png",)) -> dict[str, Any]:
    """Write ``isometry.csv``, ``isometry_spread.csv``, ``isometry.json`` and the figures,
    as one set; returns (and records in ``result.paths``) description → path."""
    from .output import _csv_bytes, _described, _figures, _json_bytes, _num, _parquet, publish

    rows = ([a, weights, width, d, r.job.seed, e, i, _num(v)]
            for (a, weights, width, d), rs in result.results.items() for r in rs
            for e, sv in enumerate(_spectra(r)) for i, v in enumerate(sv))
    doc = {"experiment": "gradcore isometry: singular values of the input-output Jacobian at "
                         "initialisation (Saxe et al. 2014; Pennington et al. 2017)",
           "settings": dict(result.settings),
           "spread": [{"activation": a, "weights": w, "width": width,
                       "median": m.tolist(), "p10": lo.tolist(), "p90": hi.tolist(),
                       "predicted": result.predicted(a, w).tolist()}
                      for a in result.settings["activations"] for w in WEIGHTS
                      for width in result.settings["widths"]
                      for m, lo, hi in [result.spread_band(a, w, width)]]}
    files = {
        "isometry.csv": ("singular values per activation, weights, width, depth, seed and "
                         "input (tidy CSV)",
                         _csv_bytes(["activation", "weights", "width", "depth", "seed",
                                     "input", "index", "singular_value"], rows)),
        "isometry_spread.csv": ("spread of every Jacobian beside the prediction (CSV)",
                                _csv_bytes(["activation", "weights", "width", "depth", "seed",
                                            "input", "spread", "max", "min", "mean_square",
                                            "predicted_spread"], _spread_rows(result))),
        "isometry.json": ("settings and the spreads (JSON)", _json_bytes(doc)),
    }
    every = [r for rs in result.results.values() for r in rs]
    files.update({name: ("every net's speeds, tidy (Parquet)", content)
                  for name, content in _parquet("isometry", every, formats).items()})
    if figures:
        files.update(_described("figure: singular value histograms",
                                _figures("isometry_spectra", _spectra_figure(result),
                                         formats)))
        files.update(_described("figure: spread against depth",
                                _figures("isometry_spread", _spread_figure(result), formats)))
    return publish(folder, files, result.paths)


def _spectra_figure(result: IsometryResult) -> Any:
    from ..plotting import _colour, _new_figure

    s = result.settings
    acts, width = s["activations"], s["widths"][-1]
    shown = sorted({s["depths"][0], s["depths"][len(s["depths"]) // 2], s["depths"][-1]})
    fig = _new_figure(8.0, 2.1 * len(acts) + 0.5)
    axes = fig.subplots(len(acts), 2, squeeze=False, sharex=True)
    edges = np.linspace(-4.0, 2.0, 61)
    for i, a in enumerate(acts):
        for j, w in enumerate(WEIGHTS):
            ax = axes[i, j]
            for k, d in enumerate(shown):
                sv = np.log10(np.maximum(result.singular_values(a, w, width, d), 1e-4))
                ax.hist(sv, edges, density=True, histtype="step", color=_colour(k),
                        linewidth=1.3, label=f"depth {d}")
            ax.set_title(f"{a}, {w} weights (sigma_b^2 = {s['bias_var'][a]:g})", fontsize=9)
            ax.set_yticks([])
        axes[i, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel(f"log10 singular value of the Jacobian (width {width}; values below "
                      f"1e-4 at -4)", fontsize=8)
    return fig


def _spread_figure(result: IsometryResult) -> Any:
    from ..plotting import _colour, _new_figure

    s = result.settings
    fig = _new_figure(6.4, 4.2)
    ax = fig.subplots()
    depths = np.array(s["depths"], dtype=float)
    width = s["widths"][-1]
    for i, a in enumerate(s["activations"]):
        for w, style in zip(WEIGHTS, ("--", "-")):
            mid, lo, hi = result.spread_band(a, w, width)
            if len(s["seeds"]) * s["examples"] > 1:
                ax.fill_between(depths, lo, hi, color=_colour(i), alpha=0.2, linewidth=0)
            ax.plot(depths, mid, style, marker="o", markersize=3, color=_colour(i),
                    label=f"{a}, {w}")
            ax.plot(depths, result.predicted(a, w), ":", color=_colour(i), linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel("var(sigma^2) / mean(sigma^2)^2")
    ax.set_title(f"Spread of the Jacobian's spectrum, width {width} (dotted: free "
                 f"probability, L (v_W + v_D))", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return fig
