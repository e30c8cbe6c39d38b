"""The dashboard's plots: Bokeh figures and the data sources the page streams into.

* the speed of learning of every layer against the epoch, log scale, in the book's style
  (one colour per hidden layer, the output layer grey);
* the chapter's bars: mean ∂C/∂b of the first six neurons of every hidden layer;
* the training cost and the accuracy on the training images.

The current run is drawn solid; each kept run dashed (or dotted), in the same colours, so
layer j of two runs can be compared at a glance. Over the current run's speeds, thin
long-dashed lines in the same colours show the theory's speed of each hidden layer at
initialisation (:func:`gradcore.dashboard.training.predicted_speeds`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, FactorRange, PrintfTickFormatter
from bokeh.models.annotations import Legend, LegendItem, Title
from bokeh.models.renderers import GlyphRenderer
from bokeh.plotting import figure

from ..plotting import LAYER_COLOURS
from .settings import LIMITS, Settings
from .training import BAR_NEURONS, Snapshot, Update

__all__ = ["HIDDEN_COLOURS", "OUTPUT_COLOUR", "KEPT_DASHES", "THEORY_DASH", "RunCurves",
           "Figures", "speed_columns"]

#: One colour per hidden layer, the first six the book-style figures' own.
HIDDEN_COLOURS: tuple[str, ...] = (*LAYER_COLOURS, "#c2577f", "#2a9d9d")
OUTPUT_COLOUR = "#9a9a9a"
#: Line styles of kept runs, first kept first.
KEPT_DASHES: tuple[str, ...] = ("dashed", "dotted", "dashdot")
#: Line style of the theory's speeds at initialisation: long dashes, unlike any kept run's.
THEORY_DASH: list[int] = [10, 5]

_WIDE, _NARROW = 780, 385


def speed_columns() -> list[str]:
    """The speed columns of a run's source: ``hidden_1`` … ``hidden_8``, ``output``."""
    return [f"hidden_{j + 1}" for j in range(LIMITS.max_hidden)] + ["output"]


def _empty_epochs() -> dict[str, Any]:
    return {name: [] for name in ("epoch", *speed_columns(), "cost")}


def _empty_theory() -> dict[str, Any]:
    return {name: [] for name in ("epoch", *speed_columns()[:-1])}


def _figure(title: str, width: int, height: int, *,
            toolbar: Literal["above"] | None = None, **kw: Any) -> Any:
    fig = figure(title=Title(text=title, text_font_size="13px"), width=width, height=height,
                 tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location=toolbar, **kw)
    fig.grid.grid_line_alpha = 0.4
    return fig


class RunCurves:
    """The curves of one run in the speed, cost and accuracy figures.

    Its sources are named ``{tag}-epochs`` (epoch, one column per layer, cost) and
    ``{tag}-accuracy``; its speed renderers ``{tag}-speed-hidden_j`` / ``-output``.
    """

    def __init__(self, figs: Figures, tag: str, dash: str) -> None:
        self.source = ColumnDataSource(_empty_epochs(), name=f"{tag}-epochs")
        self.acc_source = ColumnDataSource({"epoch": [], "accuracy": []},
                                           name=f"{tag}-accuracy")
        solid = dash == "solid"
        colours = [*HIDDEN_COLOURS, OUTPUT_COLOUR]
        self.speed: list[GlyphRenderer[Any]] = [
            figs.speed.line("epoch", col, source=self.source, color=colour, line_dash=dash,
                            line_width=2.0 if solid else 1.6, name=f"{tag}-speed-{col}",
                            visible=False)
            for col, colour in zip(speed_columns(), colours)]
        line = {"line_dash": dash, "line_width": 2.0 if solid else 1.6, "visible": False}
        self.cost = figs.cost.line("epoch", "cost", source=self.source, color="#333333",
                                   **line)
        self.accuracy = figs.accuracy.line("epoch", "accuracy", source=self.acc_source,
                                           color="#1f5fa8", **line)
        self.hidden = 0

    def renderers(self) -> list[GlyphRenderer[Any]]:
        return [*self.speed, self.cost, self.accuracy]

    def show(self, hidden: int) -> None:
        """Show the curves of a run with ``hidden`` hidden layers (0: hide them all)."""
        self.hidden = hidden
        for j, r in enumerate(self.speed[:-1]):
            r.visible = j < hidden
        for r in (self.speed[-1], self.cost, self.accuracy):
            r.visible = hidden > 0

    def clear(self) -> None:
        self.source.data = _empty_epochs()
        self.acc_source.data = {"epoch": [], "accuracy": []}

    def stream(self, update: Update) -> None:
        """Append the epochs and the snapshot's accuracy of ``update``."""
        k = len(update.cost)
        if k:
            speeds = np.full((k, LIMITS.max_hidden + 1), np.nan)
            speeds[:, :update.speeds.shape[1] - 1] = update.speeds[:, :-1]
            speeds[:, -1] = update.speeds[:, -1]
            speeds[~(speeds > 0)] = np.nan  # the log axis has no place for zero
            new: dict[str, Any] = dict(zip(speed_columns(), speeds.T))
            new["epoch"] = np.arange(update.first, update.first + k)
            new["cost"] = update.cost
            self.source.stream(new)
        if update.snapshot is not None:
            s = update.snapshot
            self.acc_source.stream({"epoch": [s.epoch], "accuracy": [100 * s.accuracy]})

    def copy_from(self, other: RunCurves) -> None:
        self.source.data = {k: list(v) for k, v in other.source.data.items()}
        self.acc_source.data = {k: list(v) for k, v in other.acc_source.data.items()}
        self.show(other.hidden)


def _bar_data(snapshot: Snapshot | None, factors: set[tuple[str, str]] | None = None
              ) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = {"x": [], "top": [], "colour": []}
    if snapshot is None:
        return data
    for j, d in enumerate(snapshot.deltas):
        for i, v in enumerate(d):
            x = (f"hidden {j + 1}", str(i + 1))
            if factors is None or x in factors:
                data["x"].append(x)
                data["top"].append(float(v) if np.isfinite(v) else 0.0)
                data["colour"].append(HIDDEN_COLOURS[j])
    return data


class Figures:
    """All the plots of one page, with the current run's and the kept runs' curves."""

    def __init__(self) -> None:
        self.speed = _figure("Speed of learning ‖δˡ‖ of each layer", _WIDE, 380,
                             y_axis_type="log", toolbar="above", name="speed-figure")
        self.speed.xaxis.axis_label = "Number of epochs of training"
        self.speed.yaxis.axis_label = "Speed of learning"
        self.cost = _figure("Training cost (with the L2 term)", _NARROW, 230)
        self.accuracy = _figure("Accuracy on the training images (%)", _NARROW, 230)
        for fig in (self.cost, self.accuracy):
            fig.xaxis.axis_label = "Epoch"
        self.bars = _figure("Mean ∂C/∂b of the first six neurons of each hidden layer",
                            _WIDE, 250, x_range=FactorRange(factors=[]), name="bars-figure")
        self.bar_source = ColumnDataSource(_bar_data(None), name="current-bars")
        self.kept_bar_source = ColumnDataSource(_bar_data(None), name="kept-bars")
        self.bars.vbar(x="x", top="top", width=0.8, source=self.bar_source,
                       fill_color="colour", line_color="colour")
        self.bars.vbar(x="x", top="top", width=0.8, source=self.kept_bar_source,
                       fill_alpha=0.0, line_color="colour", line_dash="dashed",
                       line_width=1.5)
        self.bars.xaxis.group_text_font_size = "12px"
        self.bars.yaxis.formatter = PrintfTickFormatter(format="%.2g")
        self.bars.xgrid.grid_line_color = None
        self._kept_snapshot: Snapshot | None = None
        self.theory_source = ColumnDataSource(_empty_theory(), name="current-theory")
        self.theory = [
            self.speed.line("epoch", col, source=self.theory_source, color=colour,
                            line_dash=THEORY_DASH, line_width=1.3, line_alpha=0.8,
                            name=f"current-theory-{col}", visible=False)
            for col, colour in zip(speed_columns()[:-1], HIDDEN_COLOURS)]
        self.current = RunCurves(self, "current", "solid")
        self.kept = [RunCurves(self, f"kept{i + 1}", KEPT_DASHES[i])
                     for i in range(LIMITS.max_kept)]
        self._legend()

    def _legend(self) -> None:
        labels = [f"Hidden layer {j + 1}" for j in range(LIMITS.max_hidden)] + ["Output layer"]
        self.current_items = [LegendItem(label=lab, renderers=[r], visible=False)
                              for lab, r in zip(labels, self.current.speed)]
        self.kept_items = [LegendItem(label=f"kept {i + 1}", renderers=list(c.speed),
                                      visible=False) for i, c in enumerate(self.kept)]
        self.theory_item = LegendItem(label="theory at init", renderers=list(self.theory),
                                      visible=False)
        legend = Legend(items=[*self.current_items, self.theory_item, *self.kept_items],
                        click_policy="hide", label_text_font_size="11px", spacing=1)
        self.speed.add_layout(legend, "right")

    def start_current(self, settings: Settings) -> None:
        """Clear the current run's curves and bars for a new run of ``settings``."""
        self.current.clear()
        self.current.show(settings.hidden)
        for j, item in enumerate(self.current_items[:-1]):
            item.visible = j < settings.hidden
        self.current_items[-1].visible = True
        self.show_theory(None, settings.epochs)
        n = min(settings.width, BAR_NEURONS)
        self.bars.x_range.factors = [(f"hidden {j + 1}", str(i + 1))
                                     for j in range(settings.hidden) for i in range(n)]
        self.bar_source.data = _bar_data(None)
        self._filter_kept_bars()

    def show_theory(self, speeds: np.ndarray | None, epochs: int) -> None:
        """Draw the theory's speed of each hidden layer at initialisation (first layer
        first) as a line across the run's ``epochs``; None: no lines."""
        data = _empty_theory()
        if speeds is not None:
            data["epoch"] = [0, max(epochs - 1, 1)]
            for j, v in enumerate(speeds):
                data[f"hidden_{j + 1}"] = [float(v), float(v)]
            for col in speed_columns()[len(speeds):-1]:
                data[col] = [np.nan, np.nan]
        self.theory_source.data = data
        n = 0 if speeds is None else len(speeds)
        for j, r in enumerate(self.theory):
            r.visible = j < n
        self.theory_item.visible = n > 0
        self.theory_item.renderers = [r for r in self.theory if r.visible] or self.theory[:1]

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.bar_source.data = _bar_data(snapshot)
        self.bars.title.text = (f"Mean ∂C/∂b of the first six neurons of each hidden layer, "
                                f"after {snapshot.epoch} epochs")

    def show_kept(self, runs: list[tuple[Settings, Snapshot | None]]) -> None:
        """Show the kept runs, oldest first: (settings, last snapshot) of each.

        Their curves must already be in :attr:`kept` (see :meth:`RunCurves.copy_from`).
        The bars show the newest kept run's last snapshot, as outlines.
        """
        for i, (c, item) in enumerate(zip(self.kept, self.kept_items)):
            if i < len(runs):
                c.show(runs[i][0].hidden)
                item.label = value(f"kept {i + 1}: {runs[i][0].short_label()}")
                item.renderers = [r for r in c.speed if r.visible]
                item.visible = True
            else:
                c.show(0)
                c.clear()
                item.visible = False
        self._kept_snapshot = runs[-1][1] if runs else None
        self._filter_kept_bars()

    def _filter_kept_bars(self) -> None:
        factors = set(self.bars.x_range.factors)
        self.kept_bar_source.data = _bar_data(self._kept_snapshot, factors)
