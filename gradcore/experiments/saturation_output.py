"""The files of :func:`gradcore.experiments.saturation`: tidy CSV, JSON and the figures of
Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural
networks" (Figures 2, 3 and 6–7), written as one atomic set
(:func:`gradcore.experiments.output.write_files`)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

from .output import _csv_bytes, _described, _figures, _json_bytes, _num, _parquet, write_files
from .saturation import _STATS, NORMALIZED, STANDARD, SaturationResult, quarter_circle_mean

__all__ = ["write_saturation", "saturation_csv", "saturation_document"]

PathLike = str | os.PathLike[str]

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
    paths = write_files(folder, {name: content for name, (_, content) in files.items()})
    result.paths.update({desc: paths[name] for name, (desc, _) in files.items()})
    return result.paths


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


