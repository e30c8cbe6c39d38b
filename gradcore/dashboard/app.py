"""One page of the dashboard: its form, its plots and the training run behind them.

:func:`make_document` is the Bokeh application: the server calls it once per browser page
(session). The page starts the book's run as soon as the browser has drawn it, which it
says over the page's websocket (Bokeh's ``DocumentReady`` event): a request for the page
alone, from a browser that never opens the websocket, costs no training. A periodic
callback, every :data:`TICK_MS` ms, drains what the run's thread recorded and streams it to
the plots in one batch; button callbacks only start, pause or stop threads, never wait for
them, so nothing here blocks the server's event loop. When the page's websocket closes (the
page was closed or left: Bokeh's ``ConnectionLost`` event) its run is stopped at once, and
again when its session is destroyed, a few seconds later.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.document import Document
from bokeh.events import ConnectionLost, DocumentReady, Event
from bokeh.layouts import column, row
from bokeh.models.widgets import Div

from .controls import Controls
from .figures import KEPT_DASHES, Figures
from .settings import LIMITS, Settings, SettingsError, parse_settings
from .training import (
    PAUSED,
    RUNNING,
    STOPPED,
    Snapshot,
    TooManyRuns,
    TrainingRun,
    Update,
)

__all__ = ["TICK_MS", "Dashboard", "make_document", "ratio_text"]

#: Milliseconds between two screen updates.
TICK_MS = 200

_INTRO = (
    "<h2 style='margin:4px 0'>gradcore: the unstable gradient, live</h2>"
    "<p style='margin:2px 0; max-width:1060px'>The speed of learning of layer l is "
    "‖δˡ‖, the norm of the mean over the training images of δˡ = ∂C/∂bˡ (chapter 5 of "
    "Nielsen's <i>Neural Networks and Deep Learning</i>). In a deep sigmoid network the early "
    "layers learn far slower than the late ones. With full-batch training each point is the "
    "exact speed at the weights the epoch starts from; with mini-batches it is the norm of "
    "the mean bias gradient over the epoch's mini-batches.</p>")


def ratio_text(speeds: np.ndarray | None) -> tuple[str, str]:
    """The first/last hidden-layer speed ratio of a row of speeds (output last), and in words.

    ``("0.2", "hidden layer 1 learns 5x slower than hidden layer 3")``; ``("–", why)`` when
    there is no ratio (no speeds yet, one hidden layer, a speed of zero).
    """
    if speeds is None or len(speeds) < 2:
        return "–", "no speeds yet"
    hidden = speeds[:-1]
    if len(hidden) < 2:
        return "–", "one hidden layer"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(hidden[0] / hidden[-1])
    if not np.isfinite(ratio) or ratio <= 0:
        return "–", "a speed is zero or not finite"
    k = len(hidden)
    how = (f"hidden layer 1 learns {1 / ratio:.3g}x slower than hidden layer {k}" if ratio < 1
           else f"hidden layer 1 learns {ratio:.3g}x faster than hidden layer {k}")
    return f"{ratio:.3g}", how


@dataclass
class RunRecord:
    """What the table of runs shows about one run, current or kept."""

    settings: Settings
    epochs: int = 0
    speeds: np.ndarray | None = None
    cost: float = float("nan")
    snapshot: Snapshot | None = None
    state: str = RUNNING
    theory: np.ndarray | None = None

    def add(self, update: Update) -> None:
        if len(update.cost):
            self.epochs = update.first + len(update.cost)
            self.speeds = update.speeds[-1]
            self.cost = float(update.cost[-1])
        if update.snapshot is not None:
            self.snapshot = update.snapshot
        self.state = update.state

    def row_html(self, name: str) -> str:
        acc = "–" if self.snapshot is None else f"{100 * self.snapshot.accuracy:.1f} %"
        cost = f"{self.cost:.4g}" if np.isfinite(self.cost) else "–"
        cells = (name, self.settings.label(), f"{self.epochs} / {self.settings.epochs}",
                 self.state, cost, acc, "{} ({})".format(*ratio_text(self.speeds)))
        return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


class Dashboard:
    """The controller of one page: reads the form, drives the run, feeds the plots."""

    def __init__(self, doc: Document) -> None:
        self.controls = Controls()
        self.figures = Figures()
        self.run: TrainingRun | None = None
        self.record: RunRecord | None = None
        self.kept: list[RunRecord] = []
        self.opened = False  # the browser has drawn the page (its websocket is open)
        self.ratio = Div(text="", name="ratio", css_classes=["gc-ratio"], width=780,
                         styles={"font-size": "20px"})
        self.table = Div(text="", name="runs", css_classes=["gc-runs"], width=1060)
        c = self.controls
        c.start.on_click(self.on_start)
        c.pause.on_click(self.on_pause)
        c.reset.on_click(self.on_reset)
        c.keep.on_click(self.on_keep)
        c.inputs["init"].on_change("value", self._on_init)
        f = self.figures
        doc.add_root(column(
            Div(text=_INTRO, width=1060),
            row(c.layout(), column(self.ratio, f.speed, f.bars, row(f.cost, f.accuracy))),
            self.table))
        doc.title = "gradcore dashboard"
        doc.add_periodic_callback(self.tick, TICK_MS)
        doc.on_event(DocumentReady, self._on_ready)
        doc.on_event(ConnectionLost, self._on_connection_lost)
        doc.on_session_destroyed(self._on_destroyed)

    # ---------------------------------------------------------------- runs
    def launch(self, settings: Settings) -> bool:
        """Replace the current run by a new one of ``settings``; False if refused."""
        run = self._start(settings)
        if run is None:
            return False
        self._show_new(run)
        return True

    def _start(self, settings: Settings) -> TrainingRun | None:
        """Start a run of ``settings`` in place of the current one (which stops)."""
        run = TrainingRun(settings)
        try:
            run.start(replacing=self.run)
        except TooManyRuns as exc:
            self.controls.say([str(exc)])
            return None
        return run

    def _show_new(self, run: TrainingRun) -> None:
        self.run, self.record = run, RunRecord(run.settings)
        self.figures.start_current(run.settings)
        self.controls.pause.label = "Pause"
        self.controls.pause.disabled = False

    def _read_form(self) -> Settings | None:
        try:
            settings = parse_settings(self.controls.values())
        except SettingsError as exc:
            self.controls.say(exc.messages)
            return None
        self.controls.say([])
        return settings

    def tick(self) -> None:
        """Drain what the run recorded since the last tick and show it, in one batch."""
        if self.run is None or self.record is None:
            return
        update = self.run.feed.drain()
        ended = update.state != self.record.state and update.message
        self.record.add(update)
        self.figures.current.stream(update)
        if update.snapshot is not None:
            self.figures.show_snapshot(update.snapshot)
        if update.theory is not None:
            self.figures.show_theory(update.theory, self.record.settings.epochs)
            self.record.theory = update.theory
        if ended:  # why the run ended, once (a later refusal may replace it)
            self.controls.say([update.message])
        self.controls.pause.disabled = update.state not in (RUNNING, PAUSED)
        r = self.record
        ratio, how = ratio_text(r.speeds)
        predicted = ("" if r.theory is None else
                     f"; theory at initialisation {r.theory[0] / r.theory[-1]:.3g}")
        self.ratio.text = (f"First / last hidden-layer speed: <b>{html.escape(ratio)}</b>"
                           f"{html.escape(predicted)}<br>"
                           f"<span style='font-size:13px'>{html.escape(how)}; epoch "
                           f"{r.epochs} of {r.settings.epochs}, {r.state}</span>")
        self._show_table()

    def _show_table(self) -> None:
        head = ("<tr><th>run</th><th>settings</th><th>epochs</th><th>state</th><th>cost</th>"
                "<th>accuracy</th><th>first / last hidden-layer speed</th></tr>")
        rows = [] if self.record is None else [self.record.row_html("current (solid)")]
        rows += [k.row_html(f"kept {i + 1} ({d})") for i, (k, d) in
                 enumerate(zip(self.kept, KEPT_DASHES))]
        self.table.text = ("<table class='gc-table' style='font-size:12px' cellpadding='3'>"
                           + head + "".join(rows) + "</table>")

    # ---------------------------------------------------------------- buttons
    def on_start(self) -> None:
        settings = self._read_form()
        if settings is not None:
            self.launch(settings)

    def on_pause(self) -> None:
        if self.run is None or self.run.feed.state not in (RUNNING, PAUSED):
            return
        if self.run.paused:
            self.run.resume()
            self.controls.pause.label = "Pause"
        else:
            self.run.pause()
            self.controls.pause.label = "Resume"

    def on_reset(self) -> None:
        """Forget the kept runs and start the book's run again, as on a new page."""
        self.controls.show(Settings())
        self.controls.say([])
        self.kept = []
        self._show_kept()
        self.launch(Settings())

    def on_keep(self) -> None:
        """Keep the current run's curves on the plots and start the form's run beside it."""
        settings = self._read_form()
        if settings is None or self.record is None:
            return
        self.tick()  # everything recorded so far goes into the kept curves
        kept = self.record
        run = self._start(settings)
        if run is None:
            return
        if kept.state in (RUNNING, PAUSED):
            kept.state = STOPPED
        if len(self.kept) == LIMITS.max_kept:
            self.kept.pop(0)
            for older, newer in zip(self.figures.kept, self.figures.kept[1:]):
                older.copy_from(newer)
        self.kept.append(kept)
        self.figures.kept[len(self.kept) - 1].copy_from(self.figures.current)
        self._show_new(run)
        self._show_kept()

    def _show_kept(self) -> None:
        self.figures.show_kept([(k.settings, k.snapshot) for k in self.kept])
        self._show_table()

    def _on_init(self, attr: str, old: Any, new: Any) -> None:
        self.controls.inputs["scale"].disabled = new != "scale"

    def _on_ready(self, event: Event) -> None:
        """The browser has drawn the page: start the book's run (once per page)."""
        if not self.opened:
            self.opened = True
            if self.run is None:
                self.launch(Settings())

    def _on_connection_lost(self, event: Event) -> None:
        """The page's websocket closed: nobody watches the run any more, stop it.

        The page was closed or left, or its connection dropped; in that last case Bokeh's
        page tries to connect again, but (Bokeh 3.9) cannot fetch this page's plots anew:
        reloading the page starts a new run. Called outside the document's lock: it only
        sets the run's stop flag.
        """
        if self.run is not None:
            self.run.stop()

    def _on_destroyed(self, session_context: Any) -> None:
        if self.run is not None:
            self.run.stop()


def make_document(doc: Document) -> None:
    """The Bokeh application: build one dashboard page into ``doc``."""
    Dashboard(doc)
