"""The theory beside the measurement: each hidden layer's gradient at initialisation,
predicted by mean-field theory and measured, over seeds.

For a net and an initialisation, each seed's fresh network gives three ratios for every
pair of consecutive hidden layers l, l + 1:

* the theory's, :func:`gradcore.theory.predicted_ratios` of that very network (its
  layers' actual weight and bias variances, each hidden layer at its fixed point q*): the
  mean-field backward step of Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep
  information propagation" (ICLR), after Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli
  (2016), "Exponential expressivity in deep neural networks through transient chaos"
  (NeurIPS);
* the chapter's: the ratio of the speeds of learning ‖mean δˡ‖ ÷ ‖mean δˡ⁺¹‖ on the data;
* the gradient rms's: √(mean ‖δˡₓ‖²) ÷ √(mean ‖δˡ⁺¹ₓ‖²).

Where the initialisation has one weight and one bias variance for every layer (the book's,
a weight scale, a :class:`gradcore.Gaussian`), the nominal √χ₁ of those variances
(:func:`gradcore.theory.chi1`) is reported too. At the book's initialisation of
[784, 30, 30, 30, 30, 10] it is 0.205: each hidden layer learns about a fifth as fast as
the next, and the first about χ₁^(−3/2) ≈ 116 times slower than the last.

The measurements are jobs of the runner with no training (``epochs=0``), so they run on
threads or a Dask cluster, resume, and store each seed's result as it finishes.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from .._band import band
from .._validation import validated
from .jobs import Data, Job, JobResult, check_remedy, fingerprint, seed_list
from .runner import sweep
from .speeds import embedded_or

__all__ = ["predict", "PredictResult", "PREDICT_SIZES", "nominal_variances", "write_predict",
           "with_bias_var",
           "MEASURES"]

PathLike = str | os.PathLike[str]

#: The chapter's deepest net, the default of :func:`predict`.
PREDICT_SIZES: tuple[int, ...] = (784, 30, 30, 30, 30, 10)
#: The three ratios, in the order of the CSV's columns and the table's.
MEASURES: tuple[str, ...] = ("theory", "speed", "rms")


def nominal_variances(init: Any, activation: str = "sigmoid") -> tuple[float, float] | None:
    """(σ_w², σ_b²) shared by every layer of an initialisation, or None if it has none.

    ``"default"``: (1, 1); a weight scale s: (s², 1); ``Gaussian(wv, bv)``: (wv, bv);
    ``"lecun"``: (1, 0); ``"he"``: (2/(1 + a²), 0) for the ``activation``'s negative-side
    slope a (0 for ReLU, 0.01 for leaky ReLU, 0.25 for PReLU). The others (uniform,
    orthogonal, sparse, ``"large"``, whose σ_w² = n_in changes with the layer) have no
    single pair and give None.
    """
    from .._init import Gaussian

    if isinstance(init, Gaussian):
        return float(init.weight_var), float(init.bias_var)
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        return float(init) ** 2, 1.0
    if init == "he":
        a = {"leaky_relu": 0.01, "prelu": 0.25}.get(activation, 0.0)
        return 2.0 / (1.0 + a * a), 0.0
    return {"default": (1.0, 1.0), "lecun": (1.0, 0.0)}.get(init) if isinstance(init, str) \
        else None


@dataclass
class PredictResult:
    """What :func:`predict` computed (and wrote).

    Attributes
    ----------
    sizes : tuple of int
    seeds : list of int
    ratios : dict of str to ndarray (seeds, hidden layers − 1)
        ``"theory"``, ``"speed"`` and ``"rms"``: the ratio of hidden layer l to l + 1,
        l = 1, 2, … (columns), for every seed (rows). A ratio of two zeros, or of numbers
        that overflowed, is NaN: it is kept as data.
    nominal : float or None
        √χ₁ of the initialisation's shared (σ_w², σ_b²) (``nominal_variances``), or
        None where it has none or the theory has no fixed point for it.
    results : list of JobResult
        One per seed.
    settings : dict
    paths : dict of str to pathlib.Path
        What was written and where (empty without a folder).
    """

    sizes: tuple[int, ...]
    seeds: list[int]
    ratios: dict[str, np.ndarray]
    nominal: float | None
    results: list[JobResult] = field(repr=False, default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def pairs(self) -> list[str]:
        """``["1/2", "2/3", …]``: the pairs of hidden layers, the ratios' columns."""
        return [f"{i + 1}/{i + 2}" for i in range(len(self.sizes) - 3)]

    def summary(self, measure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Median, 10th and 90th percentile over seeds of each pair's ratio (NaN where a
        seed's is: the band of a pair with a non-finite ratio is reported as such)."""
        r = self.ratios[measure]
        if r.shape[1] == 0:
            empty = np.zeros(0)
            return empty, empty, empty
        return band(r)

    def table(self) -> list[dict[str, Any]]:
        """One row per pair: ``pair`` and, per measure, ``median``, ``p10``, ``p90``
        (None where not finite), and ``nominal``."""
        rows = []
        for j, pair in enumerate(self.pairs):
            row: dict[str, Any] = {"pair": pair, "nominal": self.nominal}
            for m in MEASURES:
                med, lo, hi = self.summary(m)
                row[m] = {"median": _finite(med[j]), "p10": _finite(lo[j]),
                          "p90": _finite(hi[j])}
            rows.append(row)
        return rows

    def rows(self) -> list[tuple[int, str, float, float, float]]:
        """Tidy rows ``(seed, pair, theory, speed, rms)``."""
        t, s, g = (self.ratios[m] for m in MEASURES)
        return [(seed, pair, float(t[i, j]), float(s[i, j]), float(g[i, j]))
                for i, seed in enumerate(self.seeds) for j, pair in enumerate(self.pairs)]


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def _consecutive(values: np.ndarray, hidden: int) -> np.ndarray:
    """(seeds, hidden − 1): values[:, l] ÷ values[:, l + 1] over the hidden layers."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(values[:, :hidden - 1] / values[:, 1:hidden], dtype=np.float64)


@validated("experiments.predict")
def predict(sizes: Sequence[int] = PREDICT_SIZES, *, activation: Any = "sigmoid",
            init: Any = "default", bias_var: float | None = None,
            seeds: int | Sequence[int] = 10, data: Data | None = None,
            out_dir: PathLike | None = None, figures: bool = True,
            n_jobs: int | None = None, scheduler: Any = None, force: bool = False,
            progress: bool = True, formats: Sequence[str] = ("png",)) -> PredictResult:
    """The theory's ratio of consecutive hidden layers' gradients beside the measured ones.

    Mean-field theory (Poole et al. 2016, "Exponential expressivity in deep neural
    networks through transient chaos"; Schoenholz et al. 2017, "Deep information
    propagation") predicts the factor √χ₁ by which the gradient changes from one hidden
    layer to the one before it, from the weight and bias variances alone. This measures,
    for every seed's fresh network, the chapter's speeds ‖mean δˡ‖ and the gradient rms
    √(mean ‖δˡₓ‖²) of every layer on the data, and sets their ratios beside
    :func:`gradcore.theory.predicted_ratios` of the same network.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes with at least two hidden layers (default [784, 30, 30, 30, 30, 10]).
    activation : str or sequence of str
        The hidden layers' activation (``"sigmoid"``, as the book), or one per hidden
        layer.
    init : str, float, Gaussian
        As for :class:`gradcore.Network` (``"default"``: the book's). With ``bias_var``
        it must be a weight scale s or a :class:`gradcore.Gaussian`, and becomes
        ``Gaussian(s², bias_var)`` or ``Gaussian(weight_var, bias_var)``.
    bias_var : float or None
        σ_b² of the biases, replacing that of ``init`` (None: the init's own).
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 10) or the seeds.
    data : (X, y) or None
        Default: the embedded first 1,000 MNIST training images.
    out_dir : path or None
        Results folder (each seed's measurement is stored as it finishes, skipped on a
        rerun); at the end ``predict.csv`` (tidy: ``seed,pair,theory,speed,rms``),
        ``predict.json`` (settings and the table) and the figure ``predict.png``.
    figures, n_jobs, scheduler, force, progress, formats
        As for :func:`gradcore.experiments.chapter5`.

    Returns
    -------
    PredictResult

    Raises
    ------
    ValueError
        For fewer than two hidden layers, an init that ``bias_var`` cannot apply to, or
        a layer whose variances have no fixed point q* (the theory says which).

    Examples
    --------
    >>> from gradcore import experiments as ex
    >>> r = ex.predict(seeds=3, progress=False)
    >>> round(r.nominal, 3)
    0.205
    """
    sizes = tuple(sizes)
    if len(sizes) < 4:
        raise ValueError(f"sizes must have at least 2 hidden layers to compare, got "
                         f"{list(sizes)}")
    hidden = len(sizes) - 2
    if bias_var is not None:
        init = with_bias_var(init, bias_var)
    choices = check_remedy({"activation": activation, "init": init}, sizes)
    seed_values = seed_list(seeds)
    X, y = embedded_or(data)
    jobs = [Job(sizes=sizes, seed=s, epochs=0, **choices) for s in seed_values]
    nets = [job.network() for job in jobs]
    from ..theory import chi1, predicted_ratios

    theory = np.array([predicted_ratios(net) for net in nets], dtype=np.float64)
    nominal = None
    names = {choices["activation"]} if isinstance(choices["activation"], str) \
        else set(choices["activation"])
    name = names.pop() if len(names) == 1 else None
    pair = None if name is None else nominal_variances(choices["init"], name)
    if name is not None and pair is not None:
        try:
            nominal = math.sqrt(chi1(name, *pair))
        except ValueError:
            nominal = None
    settings = {"sizes": list(sizes), "seeds": seed_values, "epochs": 0,
                "n_examples": len(X), "data": ("first 1,000 MNIST training images "
                                               "(embedded)" if data is None else "user data"),
                "data_fingerprint": fingerprint({"train": (X, y)}),
                "gradcore_version": __version__, **jobs[0].remedy_json()}
    results = sweep("predict", settings, jobs, {"train": (X, y)}, out_dir=out_dir,
                    force=force, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    speeds = np.array([r.initial_speeds for r in results])
    rms = np.array([r.initial_rms for r in results])
    result = PredictResult(sizes=sizes, seeds=seed_values,
                           ratios={"theory": theory.reshape(len(seed_values), hidden - 1),
                                   "speed": _consecutive(speeds, hidden),
                                   "rms": _consecutive(rms, hidden)},
                           nominal=nominal, results=results, settings=settings)
    if out_dir is not None:
        write_predict(result, out_dir, figures=figures, formats=formats)
    return result


def with_bias_var(init: Any, bias_var: float) -> Any:
    """``init`` with biases N(0, bias_var): ``Gaussian(s², bias_var)`` for a weight scale s
    (``"default"`` is s = 1), ``Gaussian(weight_var, bias_var)`` for a Gaussian; ValueError
    for any other init."""
    from .._init import Gaussian

    if isinstance(init, Gaussian):
        return Gaussian(init.weight_var, bias_var)
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        return Gaussian(float(init) ** 2, bias_var)
    if init == "default":
        return Gaussian(1.0, bias_var)
    raise ValueError(f"bias_var applies to init 'default', a weight scale s or a "
                     f"Gaussian(weight_var, bias_var), got init={init!r}")


def write_predict(result: PredictResult, folder: PathLike, *, figures: bool = True,
                  formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write ``predict.csv`` (one row per seed and pair of hidden layers: the theory's,
    the speeds' and the rms's ratio; ``nan`` where not finite), ``predict.json``
    (settings and the table of medians and 10–90 % bands; null where not finite) and the
    figure ``predict.png`` (each format of ``formats``), as one set."""
    from .output import _csv_bytes, _described, _figures, _json_bytes, _num, publish

    rows = ([seed, pair, *(_num(v) for v in vals)] for seed, pair, *vals in result.rows())
    doc = {"experiment": "gradcore predict: the ratio of the gradients of consecutive hidden "
                         "layers at initialisation, mean-field theory beside the measurement",
           "settings": dict(result.settings), "pairs": result.pairs,
           "nominal_sqrt_chi1": result.nominal, "table": result.table()}
    files = {"predict.csv": ("ratios per seed and pair of hidden layers (tidy CSV)",
                             _csv_bytes(["seed", "pair", *MEASURES], rows)),
             "predict.json": ("settings and the table (JSON)", _json_bytes(doc))}
    if figures:
        from .. import plotting

        fig = plotting.predict_figure(result.pairs, result.ratios, nominal=result.nominal,
                                      title=f"[{','.join(map(str, result.sizes))}], "
                                            f"{len(result.seeds)} seeds")
        files.update(_described("figure: the theory's ratio beside the measured ones",
                                _figures("predict", fig, formats)))
    return publish(folder, files, result.paths)
