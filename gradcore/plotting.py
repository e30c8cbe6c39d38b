"""Figures of the chapter's experiments, drawn with matplotlib's Agg canvas.

Every function takes plain arrays and returns a :class:`matplotlib.figure.Figure` built
without pyplot, so nothing here touches a global figure state or needs a display, and
nothing here depends on how the numbers were computed. Over several seeds a figure shows
the median and the 10–90 % band; over one seed, the one line.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ._band import BAND, band

__all__ = ["speeds_figure", "initial_deltas_figure", "ratio_figure", "phase_figure",
           "depth_figure", "momentum_figure", "remedies_figure", "remedies_speeds_figure",
           "predict_figure", "trainability_figure", "save_figure", "LAYER_COLOURS", "BAND"]

PathLike = Union[str, "os.PathLike[str]"]

#: One colour per hidden layer, first layer first.
LAYER_COLOURS: tuple[str, ...] = ("#1f5fa8", "#e8a21b", "#d9472b", "#3d9a4b", "#7b4fa6",
                                  "#5b5b5b")


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colour(j: int) -> str:
    return LAYER_COLOURS[j % len(LAYER_COLOURS)]


def _median_band(ax: object, x: np.ndarray, runs: np.ndarray, colour: str,
                 label: str) -> None:
    """One line for one run; else the median and the 10–90 % band over runs (axis 0)."""
    if runs.shape[0] == 1:
        ax.plot(x, runs[0], color=colour, linewidth=1.6, label=label)  # type: ignore[attr-defined]
        return
    mid, lo, hi = band(runs)
    ax.fill_between(x, lo, hi, color=colour, alpha=0.25, linewidth=0)  # type: ignore[attr-defined]
    ax.plot(x, mid, color=colour, linewidth=1.6, label=label)  # type: ignore[attr-defined]


def speeds_figure(speeds: np.ndarray, *, hidden: int | None = None,
                  title: str | None = None) -> Figure:
    """The speed of learning of each hidden layer against the epoch, log scale.

    Parameters
    ----------
    speeds : array (epochs, layers) or (seeds, epochs, layers)
        Output layer last; it is not drawn, as in the book.
    hidden : int, optional
        Number of hidden layers (default: layers − 1).
    title : str, optional
        Default "Speed of learning: k hidden layers" (and the number of seeds).

    Returns
    -------
    matplotlib.figure.Figure
        One line per hidden layer ("Hidden layer j"; for several seeds the median, with
        the 10–90 % band over seeds shaded).
    """
    s = np.asarray(speeds, dtype=np.float64)
    s = s[None] if s.ndim == 2 else s
    k = hidden if hidden is not None else s.shape[2] - 1
    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    epochs = np.arange(s.shape[1])
    for j in range(k):
        _median_band(ax, epochs, s[:, :, j], _colour(j), f"Hidden layer {j + 1}")
    ax.set_yscale("log")
    ax.set_xlim(0, max(s.shape[1] - 1, 1))
    ax.set_xlabel("Number of epochs of training")
    ax.set_ylabel(r"Speed of learning $\|\delta^l\|$")
    seeds = "" if s.shape[0] == 1 else f" (median and {BAND[0]:g}–{BAND[1]:g} % band, " \
                                      f"{s.shape[0]} seeds)"
    ax.set_title(title or f"Speed of learning: {k} hidden layer{'s' if k != 1 else ''}{seeds}")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(loc="upper right")
    return fig


def initial_deltas_figure(nets: Sequence[tuple[Sequence[int], Sequence[np.ndarray]]],
                          n_neurons: int = 6) -> Figure:
    """Bars of the initial δ = ∂C/∂b (mean over the data) of the first neurons per layer.

    One panel per network, one group of ``n_neurons`` bars per hidden layer (first layer on
    the left), like the book's picture of the first six neurons of each hidden layer. The
    shrinking bars of the early layers are the vanishing gradient.

    Parameters
    ----------
    nets : sequence of (sizes, deltas)
        ``deltas``: the mean δ per neuron of every layer with weights, output last.
    n_neurons : int
        Neurons shown per hidden layer (the first ones).
    """
    if not nets:
        raise ValueError("no networks to draw")
    fig = _new_figure(8.0, 2.6 * len(nets) + 0.6)
    axes = fig.subplots(len(nets), 1, squeeze=False)[:, 0]
    for ax, (sizes, deltas) in zip(axes, nets):
        ticks, labels = [], []
        for j, d in enumerate(np.asarray(v, dtype=np.float64) for v in deltas[:-1]):
            x = j * (n_neurons + 2) + np.arange(len(d[:n_neurons]))
            ax.bar(x, d[:n_neurons], width=0.8, color=_colour(j),
                   label=f"Hidden layer {j + 1} (speed {np.linalg.norm(d):.3g})")
            ticks.append(float(x.mean()))
            labels.append(f"layer {j + 1}")
        ax.axhline(0.0, color="black", linewidth=0.7)
        ax.set_xticks(ticks, labels)
        ax.set_ylabel(r"$\delta = \partial C / \partial b$")
        ax.set_title(f"{list(sizes)}: initial δ of the first {n_neurons} neurons "
                     f"of each hidden layer", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def ratio_figure(ratios: Mapping[int, tuple[np.ndarray, np.ndarray | None]]) -> Figure:
    """How many times faster the last hidden layer learns than the first, over epochs: the
    speed of the last hidden layer ÷ that of hidden layer 1, one panel per net.

    Parameters
    ----------
    ratios : mapping of hidden layers k to (ours, book)
        ``ours`` (seeds, epochs): each seed's ratio
        (:meth:`gradcore.experiments.SpeedsOverSeeds.ratio`); ``book`` (epochs,) the book's
        single run (:func:`gradcore.experiments.book_speed_ratio`), or None.

    Returns
    -------
    matplotlib.figure.Figure
        Per panel, log scale labelled 1x, 10x, 100x: gradcore's median over seeds of each
        seed's ratio (and the 10–90 % band of the seeds' ratios) and the book's run, dashed.
    """
    if not ratios:
        raise ValueError("no ratios to draw")
    fig = _new_figure(4.0 * len(ratios), 4.0)
    axes = fig.subplots(1, len(ratios), squeeze=False)[0]
    for ax, (k, (ours, book)) in zip(axes, ratios.items()):
        r = np.asarray(ours, dtype=np.float64)
        label = ("gradcore" if r.shape[0] == 1 else
                 f"gradcore: median over {r.shape[0]} seeds of\neach seed's ratio, "
                 f"{BAND[0]:g}–{BAND[1]:g} % band")
        _median_band(ax, np.arange(r.shape[1]), r, LAYER_COLOURS[0], label)
        if book is not None:
            ax.plot(np.arange(len(book)), book, color="black", linestyle="--",
                    linewidth=1.2, label="the book's run")
        ax.set_yscale("log")
        _times_axis(ax)
        ax.set_xlabel("Number of epochs of training")
        ax.set_title(f"{k} hidden layers")
        ax.grid(True, which="major", alpha=0.4)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel("speed of the last hidden layer ÷ hidden layer 1")
    return fig


def _times(value: float, pos: object = None) -> str:
    """A ratio as a plain label: 1x, 20x, 1,000x, 1.5x, 0.5x."""
    whole = value >= 1 and abs(value - round(value)) <= 1e-9 * value
    return f"{value:,.0f}x" if whole else f"{value:.3g}x"


def _times_axis(ax: Any) -> None:
    """Label the log-scale y axis of ratios plainly (1x, 10x, 100x; never 6×10⁻¹): ticks
    at the powers of ten where the axis spans a factor 30 or more, else also at 2 and 5
    times them, and below a factor 4 at every multiple of them."""
    low, high = ax.get_ylim()
    span = high / low if low > 0 else np.inf
    subs: tuple[float, ...] = ((1.0,) if span >= 30 else (1.0, 2.0, 5.0) if span >= 4
                               else tuple(float(m) for m in range(1, 10)))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(_times))
    ax.yaxis.set_minor_formatter(NullFormatter())


def phase_figure(depths: Sequence[int], scales: Sequence[float], values: np.ndarray, *,
                 epoch: int = 0, n_seeds: int | None = None,
                 axis_label: str = "weight scale s (weights ~ N(0, s²/n_in))",
                 title: str | None = None, theory: Mapping[str, object] | None = None
                 ) -> Figure:
    """Heat map of log10(speed of hidden 1 ÷ speed of the last hidden) over depth × scale.

    Parameters
    ----------
    depths : sequence of int
        Rows: numbers of hidden layers.
    scales : sequence of float
        Columns: weight scales s (weights N(0, s²/n_in)) or weight variances σ_w², drawn
        as equal steps.
    values : array (len(depths), len(scales))
        The median log10 ratios; a cell that is not finite is left blank and labelled
        (``nan``, ``-inf``).
    epoch : int
        When they were measured (0: at initialisation), for the title.
    n_seeds : int, optional
        Seeds behind each median, for the title.
    axis_label, title : str
        The x axis' label; the title (default: what the cells are, when and over how many
        seeds).
    theory : mapping, optional
        Mean-field theory over the heat map (``theory_overlay``): ``"weight_vars"``,
        σ_w² of each column; ``"critical"``, the σ_w² where χ₁ = 1 (None: none, drawn as a
        note saying so); ``"xi_c"``, ξ_c at each column (NaN where the theory has no
        fixed point); ``"multiples"``, the k of the curves depth = k·ξ_c drawn
        (default (1, 6)); ``"note"``, a line of text under the axis.

    Returns
    -------
    matplotlib.figure.Figure
        A diverging colour map centred on 0 (blue: vanishing, white: balance, red:
        exploding), each side scaled to its own extreme (at least ±1), every cell
        annotated with its value. A value that is not finite (a speed of 0: -inf or inf;
        0/0: nan) is a grey cell annotated so.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (len(depths), len(scales)):
        raise ValueError(f"values must be {len(depths)} x {len(scales)}, got {v.shape}")
    fig = _new_figure(1.0 + 0.8 * len(scales), 1.2 + 0.45 * len(depths)
                      + (0.3 if theory else 0.0))
    ax = fig.add_subplot()
    # each side scaled on its own (at least ±1, a factor 10), so a small exploding region
    # is as red as a large vanishing one is blue; cells that are not finite do not count
    finite = v[np.isfinite(v)]
    lo = min(float(finite.min()) if finite.size else 0.0, -1.0)
    hi = max(float(finite.max()) if finite.size else 0.0, 1.0)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.6")
    im = ax.imshow(np.ma.masked_invalid(v), cmap=cmap, norm=norm, aspect="auto",
                   origin="lower")
    for (i, j), x in np.ndenumerate(v):
        if not np.isfinite(x):
            ax.text(j, i, f"{x:.0f}" if np.isinf(x) else "nan", ha="center", va="center",
                    fontsize=7, color="#777777", style="italic")
            continue
        text = f"{x:.1f}" if round(x, 1) != 0 else "0.0"
        dark = np.isfinite(x) and abs(norm(x) - 0.5) > 0.3
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                color="white" if dark else "black")
    ax.set_xticks(range(len(scales)), [f"{s:g}" for s in scales])
    ax.set_yticks(range(len(depths)), [str(d) for d in depths])
    ax.set_xlabel(axis_label)
    ax.set_ylabel("hidden layers")
    when = "at initialisation" if epoch == 0 else f"after {epoch} epoch{'s' if epoch != 1 else ''}"
    seeds = "" if n_seeds is None else f", median of {n_seeds} seed{'s' if n_seeds != 1 else ''}"
    ax.set_title(title or f"log10(speed of hidden 1 ÷ last hidden), {when}{seeds}", fontsize=10)
    if theory:
        _draw_theory(ax, depths, theory)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("< 0: vanishing    0: balance    > 0: exploding")
    return fig


def _column_of(weight_vars: np.ndarray, wv: np.ndarray) -> np.ndarray:
    """The (fractional) column of each σ_w² in ``wv``, interpolating log σ_w² between the
    columns (NaN outside them, or if the columns are not increasing)."""
    logs = np.log(weight_vars)
    if weight_vars.size < 2 or np.any(np.diff(logs) <= 0):
        return np.full(np.shape(wv), np.nan)
    x = np.log(np.asarray(wv, dtype=np.float64))
    cols = np.interp(x, logs, np.arange(weight_vars.size, dtype=np.float64))
    return np.where((x < logs[0]) | (x > logs[-1]), np.nan, cols)


def _row_of(depths: Sequence[int], d: np.ndarray) -> np.ndarray:
    """The (fractional) row of each depth, interpolating between the rows (NaN outside)."""
    rows = np.asarray(depths, dtype=np.float64)
    if rows.size < 2 or np.any(np.diff(rows) <= 0):
        return np.full(np.shape(d), np.nan)
    d = np.asarray(d, dtype=np.float64)
    out = np.interp(d, rows, np.arange(rows.size, dtype=np.float64))
    return np.where((d < rows[0]) | (d > rows[-1]) | ~np.isfinite(d), np.nan, out)


def _draw_theory(ax: Any, depths: Sequence[int], theory: Mapping[str, object]) -> None:
    """The χ₁ = 1 line and the curves depth = k·ξ_c over a depth × σ_w² map."""
    wv = np.asarray(theory["weight_vars"], dtype=np.float64)
    critical = theory.get("critical")
    if critical is not None:
        col = float(_column_of(wv, np.array([float(critical)]))[0])  # type: ignore[arg-type]
        if np.isfinite(col):
            ax.axvline(col, color="black", linestyle="--", linewidth=1.2,
                       label=f"χ₁ = 1 (σ_w² = {float(critical):.3g})")  # type: ignore[arg-type]
    xi = np.asarray(theory.get("xi_c", np.full(wv.size, np.nan)), dtype=np.float64)
    fine = np.exp(np.linspace(np.log(wv[0]), np.log(wv[-1]), 200)) if wv.size > 1 else wv
    xi_fine = np.interp(np.log(fine), np.log(wv), xi) if wv.size > 1 else xi
    # interpolating through an infinite ξ_c (the critical point) gives NaN: a gap
    styles = ("-", ":", "-.")
    multiples: Sequence[float] = theory.get("multiples", (1, 6))  # type: ignore[assignment]
    for n, k in enumerate(multiples):
        rows = _row_of(depths, k * xi_fine)
        cols = _column_of(wv, fine)
        if np.any(np.isfinite(rows) & np.isfinite(cols)):
            ax.plot(cols, rows, color="black", linestyle=styles[n % 3], linewidth=1.2,
                    label=f"depth = {k:g}·ξ_c" if k != 1 else "depth = ξ_c")
    note = theory.get("note")
    if note:  # under the title, where constrained layout makes room for it
        ax.set_title(f"{ax.get_title()}\n{note}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.8)


def depth_figure(accuracy: Mapping[str, np.ndarray],
                 book: Mapping[str, float | None] | None = None) -> Figure:
    """Validation accuracy against the epoch, one line (and band) per net.

    Parameters
    ----------
    accuracy : mapping of a net's name to an array (seeds, epochs)
        Fraction correct after each epoch, per seed.
    book : mapping of a net's name to the book's last-epoch accuracy in %, optional
        Drawn as a marker after the last epoch, in the net's colour.

    Returns
    -------
    matplotlib.figure.Figure
        Accuracy in %, epochs from 1; over several seeds the median and the 10–90 % band.
    """
    if not accuracy:
        raise ValueError("no nets to draw")
    fig = _new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    for j, (name, acc) in enumerate(accuracy.items()):
        a = 100.0 * np.atleast_2d(np.asarray(acc, dtype=np.float64))
        x = np.arange(1, a.shape[1] + 1)
        _median_band(ax, x, a, _colour(j), f"[{name.replace('-', ',')}]")
        b = None if book is None else book.get(name)
        if b is not None:
            ax.plot([x[-1] + 0.6], [b], marker="D", color=_colour(j), linestyle="none",
                    markersize=5)
    if book is not None and any(v is not None for v in book.values()):
        ax.plot([], [], marker="D", color="black", linestyle="none", markersize=5,
                label="the book's run (last epoch)")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Validation accuracy (%)")
    ax.set_title("Validation accuracy against depth", fontsize=10)
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def momentum_figure(updates: np.ndarray,
                    costs: Mapping[str, Mapping[str, np.ndarray]], *,
                    title: str | None = None) -> Figure:
    """Training cost against updates, one panel per initialisation and one line (and band)
    per update rule: Sutskever, Martens, Dahl & Hinton (2013), "On the importance of
    initialization and momentum in deep learning".

    Parameters
    ----------
    updates : array (epochs,)
        Updates made by the end of each epoch (the x axis, log scale).
    costs : mapping of an initialisation to a mapping of a method to an array (seeds, epochs)
        Training cost after each epoch, per seed (NaN where a training stopped).
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
        Log-log axes; over several seeds the median and the 10–90 % band.
    """
    if not costs:
        raise ValueError("no initialisations to draw")
    fig = _new_figure(3.4 * len(costs) + 0.6, 3.6)
    axes = fig.subplots(1, len(costs), sharey=True, squeeze=False)[0]
    x = np.asarray(updates, dtype=np.float64)
    for ax, (init, by_method) in zip(axes, costs.items()):
        for j, (method, c) in enumerate(by_method.items()):
            runs = np.atleast_2d(np.asarray(c, dtype=np.float64))
            runs = runs[np.isfinite(runs).all(axis=1)]
            if runs.shape[0]:
                _median_band(ax, x, runs, _colour(j), method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Updates")
        ax.set_title(f"init {init}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("Training cost")
    axes[0].legend(fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def save_figure(fig: Figure, path: PathLike, *, dpi: int = 110) -> pathlib.Path:
    """Write ``fig`` (format from the file's suffix, e.g. ``.png``) and return the path."""
    p = pathlib.Path(path)
    fig.savefig(p, dpi=dpi)
    return p


def _point_band(ax: object, y: float, values: np.ndarray, colour: str, marker: str,
                filled: bool, label: str | None) -> None:
    """The median of ``values`` at height ``y``, with a bar from the 10th to the 90th
    percentile (NaN values left out; nothing drawn if none is left)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return
    mid, lo, hi = (float(x) for x in band(v))
    ax.plot([lo, hi], [y, y], color=colour, linewidth=2.2, alpha=0.45,  # type: ignore[attr-defined]
            solid_capstyle="butt")
    ax.plot([mid], [y], marker=marker, color=colour, linestyle="none",  # type: ignore[attr-defined]
            markersize=6, markerfacecolor=colour if filled else "white", label=label)


def remedies_figure(names: Sequence[str], accuracy: Mapping[str, np.ndarray],
                    speed_initial: Mapping[str, np.ndarray],
                    speed_final: Mapping[str, np.ndarray],
                    predicted: Mapping[str, np.ndarray], *, epochs: int) -> Figure:
    """The remedies ranked: held-out accuracy, and the first ÷ last hidden layer's speed.

    Parameters
    ----------
    names : sequence of str
        The remedies, best first (drawn top to bottom).
    accuracy : mapping of name to array (seeds,)
        Held-out accuracy (fraction) after the last epoch.
    speed_initial, speed_final : mapping of name to array (seeds,)
        Speed of hidden layer 1 ÷ the last hidden layer's, at initialisation and after
        training.
    predicted : mapping of name to array (seeds,)
        The theory's rms ratio at initialisation (NaN where it gives none).
    epochs : int
        For the titles.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the rows: accuracy in %, and log10 of the ratios (0: balance,
        below: the first layer slower), each the median over seeds with a 10–90 % bar.
    """
    if not names:
        raise ValueError("no remedies to draw")
    fig = _new_figure(9.0, 1.3 + 0.3 * len(names))
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[1.0, 1.4])
    rows = np.arange(len(names))[::-1]
    for y, name in zip(rows, names):
        _point_band(left, y, 100.0 * np.asarray(accuracy[name]), "#333333", "o", True, None)
        first = y == rows[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            _point_band(right, y + 0.15, np.log10(speed_initial[name]), _colour(0), "o",
                        False, "at initialisation" if first else None)
            _point_band(right, y - 0.15, np.log10(speed_final[name]), _colour(2), "o",
                        True, f"after {epochs} epoch{'s' if epochs != 1 else ''}"
                        if first else None)
            _point_band(right, y + 0.15, np.log10(predicted[name]), "black", "x", True,
                        "theory (gradient rms), at initialisation" if first else None)
    left.set_yticks(rows, list(names))
    left.set_xlabel("held-out accuracy (%)")
    left.set_title(f"Accuracy after {epochs} epoch{'s' if epochs != 1 else ''}",
                   fontsize=10)
    right.axvline(0.0, color="#888888", linewidth=0.8)
    right.set_xlabel("log10(speed of hidden 1 ÷ speed of the last hidden layer)")
    right.set_title("The unstable gradient: 0 is balance, < 0 vanishing", fontsize=10)
    right.legend(fontsize=7, loc="upper left")
    for ax in (left, right):
        ax.grid(True, axis="x", alpha=0.4)
        ax.set_ylim(-0.6, len(names) - 0.4)
    fig.suptitle(f"Remedies, ranked by accuracy (median and {BAND[0]:g}–{BAND[1]:g} % "
                 f"over seeds)", fontsize=11)
    return fig


def remedies_speeds_figure(curves: Mapping[str, np.ndarray], *,
                           columns: int = 5) -> Figure:
    """Each remedy's speed of learning per hidden layer against the epoch, one small
    panel per remedy, on one shared log scale.

    Parameters
    ----------
    curves : mapping of name to array (seeds, epochs + 1, hidden layers)
        Point 0: at the initial weights; point e: during epoch e (train()'s monitor).
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One line per hidden layer in each panel (over several seeds the median and the
        10–90 % band); the shared scale spans the medians, so a band that reaches far
        beyond them is cut at the edge.
    """
    if not curves:
        raise ValueError("no remedies to draw")
    n = len(curves)
    cols = min(columns, n)
    nrows = -(-n // cols)
    fig = _new_figure(2.3 * cols, 0.6 + 1.9 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False)
                         ).ravel()
    for ax, (name, c) in zip(axes, curves.items()):
        s = np.asarray(c, dtype=np.float64)
        x = np.arange(s.shape[1])
        for j in range(s.shape[2]):
            _median_band(ax, x, s[:, :, j], _colour(j), f"hidden {j + 1}")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    # the shared scale spans the medians: a seed that blew up (ELU's can reach 1e18 before
    # it recovers or dies) would otherwise squash every panel into a line
    mids = np.concatenate([np.median(np.asarray(c, dtype=np.float64), axis=0).ravel()
                           for c in curves.values()])
    mids = mids[np.isfinite(mids) & (mids > 0)]
    if mids.size:
        axes[0].set_ylim(mids.min() / 3.0, mids.max() * 3.0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), fontsize=8)
    fig.supxlabel("epoch (0: the initial weights)", fontsize=9)
    fig.supylabel(r"speed of learning $\|\delta^l\|$", fontsize=9)
    return fig


def predict_figure(pairs: Sequence[str], ratios: Mapping[str, np.ndarray], *,
                   nominal: float | None = None, title: str | None = None) -> Figure:
    """The ratio of consecutive hidden layers' gradients: theory beside the measurement.

    Parameters
    ----------
    pairs : sequence of str
        ``"1/2"``, ``"2/3"``, …: the x axis.
    ratios : mapping of str to array (seeds, pairs)
        ``"theory"`` (:func:`gradcore.theory.predicted_ratios` of each seed's net),
        ``"speed"`` (the chapter's ‖mean δ‖) and ``"rms"`` (the gradient rms); each drawn
        as its median over seeds with the 10–90 % band. Seeds whose ratio is not finite are
        left out of the band.
    nominal : float, optional
        √χ₁ of the initialisation's variances, drawn as a dashed line.
    title : str, optional
        Added to the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(pairs), dtype=np.float64)
    styles = {"theory": ("#5b5b5b", "s", "theory (each seed's net)"),
              "speed": (_colour(0), "o", "speed ‖mean δ‖ (the chapter's)"),
              "rms": (_colour(2), "^", "gradient rms √mean‖δₓ‖²")}
    for n, (name, (colour, marker, label)) in enumerate(styles.items()):
        if name not in ratios:
            continue
        r = np.asarray(ratios[name], dtype=np.float64)
        xs = x + 0.12 * (n - 1)
        mid, lo, hi = (np.full(len(pairs), np.nan) for _ in range(3))
        for j in range(len(pairs)):
            col = r[:, j][np.isfinite(r[:, j])]
            if col.size:
                mid[j], lo[j], hi[j] = (float(v) for v in band(col))
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, linewidth=0)
        ax.errorbar(xs, mid, yerr=[mid - lo, hi - mid], color=colour, marker=marker,
                    linestyle="none", capsize=3, label=f"{label}, median, 10–90 %")
    if nominal is not None:
        ax.axhline(nominal, color="black", linestyle="--", linewidth=1.0,
                   label=f"√χ₁ = {nominal:.3g} at q*")
    ax.set_xticks(x, [f"hidden {p}" for p in pairs])
    ax.set_ylabel("ratio of hidden layer l to l + 1")
    ax.set_title("Gradient of each hidden layer ÷ the next, at initialisation"
                 + (f"\n{title}" if title else ""), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


def trainability_figure(depths: Sequence[int], weight_vars: Sequence[float],
                        accuracy: np.ndarray, *, theory: Mapping[str, object] | None = None,
                        title: str | None = None) -> Figure:
    """Test accuracy after training over depth × σ_w², with depth = 6·ξ_c over it.

    Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation",
    Figure 5: a net trains where depth < 6·ξ_c. ``accuracy`` is (depths, weight_vars) in
    [0, 1] (a NaN cell, a training that did not finish, is blank and labelled);
    ``theory`` as for :func:`phase_figure`.
    """
    a = np.asarray(accuracy, dtype=np.float64)
    if a.shape != (len(depths), len(weight_vars)):
        raise ValueError(f"accuracy must be {len(depths)} x {len(weight_vars)}, got {a.shape}")
    fig = _new_figure(1.6 + 0.7 * len(weight_vars), 1.6 + 0.4 * len(depths))
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(a), cmap="viridis", vmin=0.0, vmax=1.0,
                   aspect="auto", origin="lower")
    for (i, j), x in np.ndenumerate(a):
        ax.text(j, i, "nan" if not np.isfinite(x) else f"{100 * x:.0f}", ha="center",
                va="center", fontsize=7, color="white" if not x > 0.6 else "black")
    ax.set_xticks(range(len(weight_vars)), [f"{w:g}" for w in weight_vars])
    ax.set_yticks(range(len(depths)), [str(d) for d in depths])
    ax.set_xlabel("σ_w² (weights ~ N(0, σ_w²/n_in))")
    ax.set_ylabel("hidden layers")
    ax.set_title(title or "test accuracy (%) after training", fontsize=10)
    if theory:
        _draw_theory(ax, depths, theory)
    fig.colorbar(im, ax=ax).set_label("test accuracy")
    return fig
