"""Figures of the chapter's experiments, drawn with matplotlib's Agg canvas.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing
here touches a global figure state or needs a display; :func:`save_figure` writes it.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .experiments import SpeedsRun

__all__ = ["speeds_figure", "initial_deltas_figure", "save_figure", "LAYER_COLOURS"]

PathLike = Union[str, "os.PathLike[str]"]

#: One colour per hidden layer, first layer first.
LAYER_COLOURS: tuple[str, ...] = ("#1f5fa8", "#e8a21b", "#d9472b", "#3d9a4b", "#7b4fa6",
                                  "#5b5b5b")


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def speeds_figure(run: SpeedsRun, *, title: str | None = None) -> Figure:
    """The speed of learning of each hidden layer against the epoch, log scale.

    Parameters
    ----------
    run : gradcore.experiments.SpeedsRun
        Its ``speeds`` (epochs, n_layers); the output layer (last column) is not drawn, as
        in the book.
    title : str, optional
        Default "Speed of learning: k hidden layers".

    Returns
    -------
    matplotlib.figure.Figure
    """
    speeds = np.asarray(run.speeds, dtype=np.float64)
    k = speeds.shape[1] - 1
    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    epochs = np.arange(speeds.shape[0])
    for j in range(k):
        ax.plot(epochs, speeds[:, j], color=LAYER_COLOURS[j % len(LAYER_COLOURS)],
                linewidth=1.6, label=f"Hidden layer {j + 1}")
    ax.set_yscale("log")
    ax.set_xlim(0, max(speeds.shape[0] - 1, 1))
    ax.set_xlabel("Number of epochs of training")
    ax.set_ylabel(r"Speed of learning $\|\delta^l\|$")
    ax.set_title(title or f"Speed of learning: {k} hidden layer{'s' if k != 1 else ''}")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(loc="upper right")
    return fig


def initial_deltas_figure(runs: Sequence[SpeedsRun], n_neurons: int = 6) -> Figure:
    """Bars of the initial δ = ∂C/∂b (mean over the data) of the first neurons per layer.

    One panel per network, one group of ``n_neurons`` bars per hidden layer (first layer on
    the left), like the book's picture of the first six neurons of each hidden layer. The
    shrinking bars of the early layers are the vanishing gradient.

    Parameters
    ----------
    runs : sequence of gradcore.experiments.SpeedsRun
        Their ``initial_deltas``.
    n_neurons : int
        Neurons shown per hidden layer (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not runs:
        raise ValueError("no runs to draw")
    fig = _new_figure(8.0, 2.6 * len(runs) + 0.6)
    axes = fig.subplots(len(runs), 1, squeeze=False)[:, 0]
    for ax, run in zip(axes, runs):
        hidden = [np.asarray(d, dtype=np.float64) for d in run.initial_deltas[:-1]]
        ticks, labels = [], []
        for j, d in enumerate(hidden):
            vals = d[:n_neurons]
            x = j * (n_neurons + 2) + np.arange(len(vals))
            ax.bar(x, vals, width=0.8, color=LAYER_COLOURS[j % len(LAYER_COLOURS)],
                   label=f"Hidden layer {j + 1} (speed {np.linalg.norm(d):.3g})")
            ticks.append(float(x.mean()))
            labels.append(f"layer {j + 1}")
        ax.axhline(0.0, color="black", linewidth=0.7)
        ax.set_xticks(ticks, labels)
        ax.set_ylabel(r"$\delta = \partial C / \partial b$")
        ax.set_title(f"{list(run.sizes)}: initial δ of the first {n_neurons} neurons "
                     f"of each hidden layer", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def save_figure(fig: Figure, path: PathLike, *, dpi: int = 110) -> pathlib.Path:
    """Write ``fig`` (format from the file's suffix, e.g. ``.png``) and return the path."""
    p = pathlib.Path(path)
    fig.savefig(p, dpi=dpi)
    return p
