"""Saturation of the hidden layers during training and the layers' Jacobians at
initialisation: Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (AISTATS), Figures 2, 3, 6 and 7 and section 4.2.2.

* Figure 2: a sigmoid net's activations on fixed probe images during training. The top
  hidden layer is driven to 0 within a few hundred updates (its units saturate, so the
  softmax layer learns from its biases alone), while the layers below drift above 0.5.
* Figure 3: the 98th (and 2nd) percentiles of the activations of tanh and softsign nets;
  tanh layers saturate one after the other, first layer first; softsign less.
* Figures 6–7: histograms of every hidden layer's activations and back-propagated
  gradients at initialisation, their "standard" initialisation U[±1/√n_in] against their
  "normalized" one U[±√6/√(n_in + n_out)], tanh. With the standard one the gradients shrink
  going down the layers (each layer multiplies their variance by about 1/3).
* Section 4.2.2: the mean singular value of each layer Jacobian Wˡ⁺¹·diag(φ'(zˡ)), tanh:
  they report about 0.5 (standard) and 0.8 (normalized). For square random matrices it is
  the quarter-circle law's 8/(3π)·σ√n ≈ 0.849·σ√n (σ² the weights' variance, n the width):
  0.49 for the standard init, 0.85 less what φ' < 1 takes for the normalized one.

Their set-up (``paper=True`` sizes): 4 hidden layers of 1,000 for the sigmoid, 5 for tanh
and softsign, a softmax output with the log-likelihood cost, mini-batches of 10, biases 0.
They trained on their synthetic Shapeset-3×2 images; gradcore trains on MNIST.
The default is smaller (hidden layers of 300) and trains on the embedded first 1,000 MNIST
training images (700 to train on, the last 300 as the fixed probe images), so that it runs
in a few minutes on two cores.

The trainings and the Jacobians are jobs of the runner (:mod:`~.runner`); the histograms
(one net per initialisation, cheap) are computed here, per example, with
:func:`gradcore.reference.backprop`.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from .. import reference as _ref
from .._band import band
from .._validation import validated
from .jacobian import one_blas_thread
from .jobs import Data, Job, JobResult, check_remedy, fingerprint, seed_list
from .output import _csv_bytes, _described, _figures, _json_bytes, _num, _parquet, publish
from .runner import sweep

__all__ = ["saturation", "SaturationResult", "SATURATION_ACTIVATIONS", "STANDARD",
           "NORMALIZED", "quarter_circle_mean", "write_saturation", "saturation_csv",
           "saturation_document"]

PathLike = str | os.PathLike[str]

#: The activations Glorot & Bengio compare.
SATURATION_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "tanh", "softsign")
#: Their standard and normalized initialisations, by gradcore's names.
STANDARD, NORMALIZED = "glorot_standard", "glorot"
#: Their widths and depths: 1,000 per hidden layer; 4 hidden layers for the sigmoid, 5 else.
PAPER_WIDTH = 1000
PROBE_IMAGES = 300
_STATS = ("mean", "std", "p2", "p98", "saturated")


def hidden_layers(activation: str) -> int:
    """Glorot & Bengio's depth: 4 hidden layers for the sigmoid, 5 for the others."""
    return 4 if activation == "sigmoid" else 5


def quarter_circle_mean(weight_var_times_n: float) -> float:
    """The mean singular value of a large square matrix of i.i.d. entries of variance
    σ² = ``weight_var_times_n``/n: (8/(3π))·√(σ²n), by the quarter-circle law (the limit of
    Marchenko–Pastur's at aspect ratio 1)."""
    return 8.0 / (3.0 * math.pi) * math.sqrt(weight_var_times_n)


@dataclass
class SaturationResult:
    """What :func:`saturation` measured.

    Attributes
    ----------
    training : dict of str to list of JobResult
        Per activation, one training per seed; ``result.probe`` holds the statistics.
    jacobian : dict of str to list of JobResult
        Per initialisation (``STANDARD``, ``NORMALIZED``), one tanh net per seed at
        initialisation: ``layer_jacobian`` and the probe statistics at update 0.
    histograms : dict
        ``{init: {"activation" | "gradient": (edges, fractions (n_hidden, bins))}}`` of the
        first seed's tanh net at initialisation, and ``gradient_std`` ``{init: (n_hidden,)}``.
    settings : dict
    paths : dict of str to path
        What was written: description → path.
    """

    training: dict[str, list[JobResult]]
    jacobian: dict[str, list[JobResult]]
    histograms: dict[str, Any]
    settings: dict[str, Any]
    paths: dict[str, Any] = field(default_factory=dict)

    def probe_band(self, activation: str, stat: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(updates, median, p10, p90) over seeds of one probe statistic (``mean``, ``std``,
        ``p2``, ``p98``, ``saturated``): arrays (records, n_hidden). Records a diverged
        training did not reach are NaN and left out of the band."""
        runs = [r.probe for r in self.training[activation] if r.probe is not None]
        n = max(len(p.updates) for p in runs)
        updates = next(p.updates for p in runs if len(p.updates) == n)
        values = np.full((len(runs), n, runs[0].mean.shape[1]), np.nan)
        for i, p in enumerate(runs):
            values[i, :len(p.updates)] = getattr(p, stat)
        with np.errstate(all="ignore"):
            lo, mid, hi = np.nanpercentile(values, [10.0, 50.0, 90.0], axis=0)
        return updates, mid, lo, hi

    def at(self, activation: str, stat: str, update: int) -> np.ndarray:
        """The seed median of a probe statistic per hidden layer at the last record at or
        before ``update``."""
        updates, mid, _, _ = self.probe_band(activation, stat)
        i = int(np.searchsorted(updates, update, side="right")) - 1
        return np.asarray(mid[max(i, 0)])

    def layer_jacobian(self, init: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, p10, p90) over seeds of each layer Jacobian's mean singular value."""
        return band(np.array([r.layer_jacobian for r in self.jacobian[init]]))

    def mean_singular_value(self, init: str) -> float:
        """The mean over layers and seeds of the layer Jacobians' mean singular values
        (the number Glorot & Bengio quote)."""
        return float(np.mean([r.layer_jacobian for r in self.jacobian[init]]))

    @property
    def failures(self) -> list[JobResult]:
        return [r for rs in self.training.values() for r in rs if not r.ok]


def _split_data(data: Any) -> tuple[Data, Data, str]:
    """(training data, probe images, description)."""
    from ..datasets import mnist_first_1000

    if data is None:
        X, y = mnist_first_1000()
        return ((X[:-PROBE_IMAGES], y[:-PROBE_IMAGES]), (X[-PROBE_IMAGES:], y[-PROBE_IMAGES:]),
                "MNIST: the embedded first 1,000 training images, 700 to train on and the "
                "last 300 as the fixed probe images")
    if hasattr(data, "training") and hasattr(data, "test"):
        Xt, yt = data.test
        return (data.training, (Xt[:PROBE_IMAGES], yt[:PROBE_IMAGES]),
                f"MNIST: {len(data.training[0]):,} training images, the first 300 test "
                f"images as the fixed probe images")
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], tuple):
        return data[0], data[1], "user data: training set and probe images"
    raise TypeError("data must be None, an MNIST object with .training and .test (as "
                    "gradcore.datasets.load_mnist gives), or ((X, y), (X_probe, y_probe))")


@validated("experiments.saturation")
def saturation(out_dir: PathLike | None = None, *,
               activations: Sequence[str] = SATURATION_ACTIVATIONS, width: int = 300,
               seeds: int | Sequence[int] = 3, updates: int = 3000, batch_size: int = 10,
               eta: float = 0.1, probe_every: int = 50, jacobian_examples: int = 10,
               data: Any = None, figures: bool = True, n_jobs: int | None = None,
               scheduler: Any = None, force: bool = False, progress: bool = True,
               formats: Sequence[str] = ("png",)) -> SaturationResult:
    """Glorot & Bengio's (2010) saturation and Jacobian measurements (module docstring).

    Parameters
    ----------
    out_dir : path or None
        Results folder (checked first; each job stored as it finishes, skipped on a
        rerun); at the end ``saturation.csv`` (tidy: activation, init, seed, update, layer
        and the five probe statistics), ``saturation_jacobian.csv``,
        ``saturation_histograms.csv``, ``saturation.json`` and the figures
        ``saturation_sigmoid.png`` (Figure 2), ``saturation_percentiles.png`` (Figure 3)
        and ``saturation_histograms.png`` (Figures 6–7).
    activations : sequence of str
        Trained with the standard initialisation: 4 hidden layers for the sigmoid, 5 for
        every other (default sigmoid, tanh, softsign).
    width : int
        Units per hidden layer (the paper: 1,000; default 300).
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 3) or the seeds.
    updates : int
        Mini-batch updates of SGD (η = ``eta``, m = ``batch_size``, no weight decay),
        rounded up to whole epochs of the training data.
    batch_size, eta : int, float
        The paper's m = 10; η = 0.1.
    probe_every : int
        Updates between two records of the probe statistics.
    jacobian_examples : int
        Probe images at which the tanh nets' layer Jacobians are taken (1 … 300).
    data : None, MNIST or ((X, y), (X_probe, y_probe))
        None: the embedded first 1,000 MNIST images (700 to train, 300 to probe); the
        object of :func:`gradcore.datasets.load_mnist`: its 50,000 training images, and
        the first 300 test images to probe.
    figures, n_jobs, scheduler, force, progress, formats
        As for :func:`gradcore.experiments.chapter5` (``saturation.parquet``).

    Returns
    -------
    SaturationResult
    """
    train_data, probe_data, described = _split_data(data)
    if jacobian_examples > len(probe_data[0]):
        raise ValueError(f"jacobian_examples must be at most the {len(probe_data[0])} probe "
                         f"images, got {jacobian_examples}")
    seed_values = seed_list(seeds)
    n = len(train_data[0])
    per_epoch = -(-n // batch_size)
    epochs = max(1, -(-updates // per_epoch))
    common: dict[str, Any] = {"output": "softmax", "cost": None, "batch_size": int(batch_size),
              "eta": float(eta), "lmbda": 0.0, "probe": "probe",
              "probe_every": int(probe_every)}
    jobs: list[Job] = []
    for act in activations:
        sizes = (784, *([width] * hidden_layers(act)), 10)
        check_remedy({"activation": act, "output": "softmax", "init": STANDARD}, sizes)
        jobs += [Job(sizes=sizes, seed=s, epochs=epochs, init=STANDARD, activation=act,
                     **common) for s in seed_values]
    tanh_sizes = (784, *([width] * hidden_layers("tanh")), 10)
    for init in (STANDARD, NORMALIZED):
        jobs += [Job(sizes=tanh_sizes, seed=s, epochs=0, init=init, activation="tanh",
                     jacobian=int(jacobian_examples), **common) for s in seed_values]
    sets = {"train": train_data, "probe": probe_data}
    settings = {"activations": list(activations), "width": int(width), "seeds": seed_values,
                "updates": epochs * per_epoch, "epochs": epochs, "batch_size": int(batch_size),
                "eta": float(eta), "lmbda": 0.0, "probe_every": int(probe_every),
                "probe_images": len(probe_data[0]), "jacobian_examples": int(jacobian_examples),
                "output": "softmax", "cost": "log_likelihood", "init": STANDARD,
                "data": described, "data_fingerprint": fingerprint(sets),
                "paper": ("Glorot & Bengio 2010: hidden layers of 1,000 (4 for the sigmoid, "
                          "5 for tanh and softsign), softmax and log-likelihood, m = 10, "
                          "biases 0, on their Shapeset-3x2 images"),
                "gradcore_version": __version__}
    with one_blas_thread():
        results = sweep("saturation", settings, jobs, sets, out_dir=out_dir, force=force,
                        n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    training = {act: results[i * K:(i + 1) * K] for i, act in enumerate(activations)}
    base = len(activations) * K
    jac = {init: results[base + i * K:base + (i + 1) * K]
           for i, init in enumerate((STANDARD, NORMALIZED))}
    hist = initial_histograms({init: jac[init][0].job for init in jac}, probe_data)
    result = SaturationResult(training=training, jacobian=jac, histograms=hist,
                              settings=settings)
    if out_dir is not None:
        write_saturation(result, out_dir, figures=figures, formats=formats)
    return result


def initial_histograms(jobs: Mapping[str, Job], probe: Data, bins: int = 50
                       ) -> dict[str, Any]:
    """Figures 6–7's histograms: per job (by name), every hidden layer's activations and
    back-propagated gradients δˡ = ∂C/∂zˡ (per example, :func:`gradcore.reference.backprop`)
    on the probe images at the initial weights. Activations on [−1, 1] for tanh and
    softsign (else their range); gradients on ±the largest 99.5th percentile of |δ| over
    the jobs and layers. Fractions of the (example, unit) pairs per bin."""
    X, y = probe
    acts: dict[str, list[np.ndarray]] = {}
    grads: dict[str, list[np.ndarray]] = {}
    for name, job in jobs.items():
        net = job.network()
        W = [np.asarray(w, dtype=np.float64) for w in net.weights]
        b = [np.asarray(v, dtype=np.float64) for v in net.biases]
        Y = np.zeros((len(X), net.sizes[-1]))
        Y[np.arange(len(X)), np.asarray(y, dtype=np.intp)] = 1.0
        deltas, _, outs = _ref.backprop(W, b, np.asarray(X, dtype=np.float64), Y, net.cost,
                                        list(net.activations), net.output)
        acts[name] = [np.asarray(a) for a in outs[1:-1]]
        grads[name] = [np.asarray(d) for d in deltas[:-1]]
    bounded = all(j.activation in ("tanh", "softsign") for j in jobs.values())
    lo_a, hi_a = ((-1.0, 1.0) if bounded else
                  (min(float(a.min()) for v in acts.values() for a in v),
                   max(float(a.max()) for v in acts.values() for a in v)))
    g = max(float(np.percentile(np.abs(d), 99.5)) for v in grads.values() for d in v)
    a_edges = np.linspace(lo_a, hi_a, bins + 1)
    g_edges = np.linspace(-g, g, bins + 1)
    out: dict[str, Any] = {"gradient_std": {}}
    for name in jobs:
        out[name] = {
            "activation": (a_edges, np.array([np.histogram(a, a_edges)[0] / a.size
                                              for a in acts[name]])),
            "gradient": (g_edges, np.array([np.histogram(d, g_edges)[0] / d.size
                                            for d in grads[name]])),
        }
        out["gradient_std"][name] = np.array([d.std() for d in grads[name]])
    return out


# ------------------------------------------------------------------ output

_INIT_LABEL = {STANDARD: "standard U[±1/√n_in]", NORMALIZED: "normalized U[±√6/√(n_in+n_out)]"}


def saturation_csv(result: SaturationResult) -> bytes:
    """Tidy ``activation,init,seed,update,layer,mean,std,p2,p98,saturated``: one row per
    training (and per initial tanh net), probe record and hidden layer."""
    rows = []
    groups = [*result.training.values(), *result.jacobian.values()]
    for rs in groups:
        for r in rs:
            if r.probe is None:
                continue
            p = r.probe
            for k, u in enumerate(p.updates):
                for layer in range(p.mean.shape[1]):
                    rows.append([r.job.activation, r.job.init, r.job.seed, int(u), layer + 1,
                                 *(_num(getattr(p, s)[k, layer]) for s in _STATS)])
    return _csv_bytes(["activation", "init", "seed", "update", "layer", *_STATS], rows)


def _jacobian_csv(result: SaturationResult) -> bytes:
    rows = [[init, r.job.seed, l + 1, _num(v)]
            for init, rs in result.jacobian.items() for r in rs
            for l, v in enumerate(r.layer_jacobian if r.layer_jacobian is not None else [])]
    return _csv_bytes(["init", "seed", "layer", "mean_singular_value"], rows)


def _histograms_csv(result: SaturationResult) -> bytes:
    rows = []
    for init in (STANDARD, NORMALIZED):
        for quantity in ("activation", "gradient"):
            edges, frac = result.histograms[init][quantity]
            for layer, row in enumerate(frac):
                rows += [[init, quantity, layer + 1, _num(edges[i]), _num(edges[i + 1]),
                          _num(v)] for i, v in enumerate(row)]
    return _csv_bytes(["init", "quantity", "layer", "bin_left", "bin_right", "fraction"], rows)


def saturation_document(result: SaturationResult) -> dict[str, Any]:
    """The settings and the summary: per activation the seed medians of the top hidden
    layer's mean activation at each record, the Jacobians' mean singular values beside
    Glorot & Bengio's 0.5 and 0.8, and the gradients' standard deviation per layer."""
    doc: dict[str, Any] = {
        "experiment": "gradcore saturation: Glorot & Bengio (2010), Figures 2, 3, 6-7 and "
                      "the layer Jacobians' mean singular values",
        "settings": dict(result.settings), "activations": {}}
    for act in result.training:
        updates = result.probe_band(act, "mean")[0]
        doc["activations"][act] = {
            stat: {"updates": updates.tolist(), "median": result.probe_band(act, stat)[1]
                   .tolist()} for stat in _STATS}
    doc["jacobian"] = {
        init: {"median": result.layer_jacobian(init)[0].tolist(),
               "p10": result.layer_jacobian(init)[1].tolist(),
               "p90": result.layer_jacobian(init)[2].tolist(),
               "mean": result.mean_singular_value(init)}
        for init in result.jacobian}
    doc["jacobian"]["paper"] = {STANDARD: 0.5, NORMALIZED: 0.8}
    doc["jacobian"]["quarter_circle"] = {STANDARD: quarter_circle_mean(1 / 3),
                                         NORMALIZED: quarter_circle_mean(1.0)}
    doc["gradient_std"] = {k: v.tolist() for k, v in result.histograms["gradient_std"].items()}
    doc["errors"] = [r.error for r in result.failures]
    return doc


def write_saturation(result: SaturationResult, folder: PathLike, *, figures: bool = True,
                     formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write the CSV files, ``saturation.json`` and the figures as one set; returns (and
    records in ``result.paths``) description → path."""
    files = {
        "saturation.csv": ("probe statistics per activation, seed, update and hidden layer "
                           "(tidy CSV)", saturation_csv(result)),
        "saturation_jacobian.csv": ("mean singular value of each layer Jacobian, tanh at "
                                    "initialisation (tidy CSV)", _jacobian_csv(result)),
        "saturation_histograms.csv": ("histograms of activations and gradients at "
                                      "initialisation (tidy CSV)", _histograms_csv(result)),
        "saturation.json": ("settings and the summary (JSON)",
                            _json_bytes(saturation_document(result))),
    }
    every = [r for rs in [*result.training.values(), *result.jacobian.values()] for r in rs]
    files.update({name: ("every job's speeds, tidy (Parquet)", content)
                  for name, content in _parquet("saturation", every, formats).items()})
    if figures:
        figs = {}
        if "sigmoid" in result.training:
            figs["saturation_sigmoid"] = ("figure: the sigmoid's activations during "
                                          "training (Glorot & Bengio's Figure 2)",
                                          _probe_figure(result, ["sigmoid"], ("mean", "std")))
        others = [a for a in result.training if a != "sigmoid"]
        if others:
            figs["saturation_percentiles"] = ("figure: 2nd and 98th percentiles of the "
                                              "activations (Figure 3)",
                                              _probe_figure(result, others, ("p98", "p2")))
        figs["saturation_histograms"] = ("figure: activations and gradients at "
                                         "initialisation (Figures 6-7)",
                                         _histogram_figure(result))
        for base, (desc, fig) in figs.items():
            files.update(_described(desc, _figures(base, fig, formats)))
    return publish(folder, files, result.paths)


def _probe_figure(result: SaturationResult, activations: list[str],
                  stats: tuple[str, str]) -> Any:
    from ..plotting import _colour, _new_figure

    fig = _new_figure(6.4, 2.6 * len(activations) + 0.4)
    axes = fig.subplots(len(activations), 1, squeeze=False)[:, 0]
    K = len(result.settings["seeds"])
    for ax, act in zip(axes, activations):
        for style, stat in zip(("-", "--"), stats):
            updates, mid, lo, hi = result.probe_band(act, stat)
            for j in range(mid.shape[1]):
                label = f"layer {j + 1}" if style == "-" else None
                if K > 1:
                    ax.fill_between(updates, lo[:, j], hi[:, j], color=_colour(j), alpha=0.2,
                                    linewidth=0)
                ax.plot(updates, mid[:, j], style, color=_colour(j), linewidth=1.4,
                        label=label)
        ax.set_title(f"{act}: {stats[0]} (solid) and {stats[1]} (dashed) of the activations"
                     f" on {result.settings['probe_images']} probe images", fontsize=9)
        ax.set_ylabel("activation")
        ax.legend(fontsize=7, ncol=3)
    axes[-1].set_xlabel(f"mini-batch updates (m = {result.settings['batch_size']}); "
                        f"median{' and 10-90 % band over ' + str(K) + ' seeds' if K > 1 else ''}")
    return fig


def _histogram_figure(result: SaturationResult) -> Any:
    from ..plotting import _colour, _new_figure

    fig = _new_figure(9.0, 5.2)
    axes = fig.subplots(2, 2)
    for col, init in enumerate((STANDARD, NORMALIZED)):
        for row, quantity in enumerate(("activation", "gradient")):
            ax = axes[row, col]
            edges, frac = result.histograms[init][quantity]
            centres = (edges[:-1] + edges[1:]) / 2
            for j, f in enumerate(frac):
                ax.plot(centres, f, color=_colour(j), linewidth=1.2, label=f"layer {j + 1}")
            ax.set_title(f"tanh, {_INIT_LABEL[init]}: {quantity}s", fontsize=9)
            ax.set_xlabel("activation value" if quantity == "activation"
                          else "back-propagated gradient dC/dz")
            ax.set_ylabel("fraction")
            if quantity == "gradient":
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    axes[0, 0].legend(fontsize=7)
    return fig


