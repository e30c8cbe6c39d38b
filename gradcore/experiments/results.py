"""What the experiments return: plain data, with the summaries over seeds they report.

Kept apart from the computing (the experiment modules) and from the writing
(:mod:`gradcore.experiments.output`), which both use these types.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._band import BAND, band
from .book import BOOK_DEPTH_ACCURACY, BOOK_INITIAL_SPEEDS, layer_names
from .jobs import JobResult

__all__ = ["SpeedsOverSeeds", "Chapter5Result", "DepthResult", "PhaseResult", "Remedy",
           "RemediesResult", "band", "BAND"]


@dataclass
class SpeedsOverSeeds:
    """One net's learning speeds before and during training, for every seed.

    Attributes
    ----------
    sizes : tuple of int
    seeds : list of int
    results : list of JobResult
        One per seed, in the order of ``seeds``.
    """

    sizes: tuple[int, ...]
    seeds: list[int]
    results: list[JobResult]

    @property
    def hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.sizes) - 2

    @property
    def columns(self) -> list[str]:
        """``["hidden_1", …, "output"]``: the layers of the speeds' last axis."""
        return layer_names(len(self.sizes) - 1)

    @property
    def ok(self) -> np.ndarray:
        """Mask of the seeds whose training completed (did not diverge)."""
        return np.array([r.ok for r in self.results], dtype=bool)

    @property
    def initial_speeds(self) -> np.ndarray:
        """(seeds, layers): speeds at the initial weights."""
        return np.array([r.initial_speeds for r in self.results])

    @property
    def speeds(self) -> np.ndarray:
        """(completed seeds, epochs, layers): speeds before each epoch's update."""
        return np.array([r.speeds for r in self.results if r.ok])

    def initial_summary(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Median, 10th and 90th percentile over seeds of every layer's initial speed."""
        return band(self.initial_speeds)

    def ratio(self) -> np.ndarray:
        """(completed seeds, epochs): each seed's speed of the last hidden layer ÷ that of
        hidden layer 1, how many times faster the last hidden layer learns (the chapter's
        "about 100 times" for 4 hidden layers). Summaries over seeds take the median of
        these ratios, which is not the ratio of the median speeds."""
        s = self.speeds
        return np.asarray(s[:, :, self.hidden - 1] / s[:, :, 0])


@dataclass
class Chapter5Result:
    """What :func:`gradcore.experiments.chapter5` computed (and wrote).

    Attributes
    ----------
    nets : dict of int to SpeedsOverSeeds
        By number of hidden layers (2, 3, 4).
    settings : dict
        The run's settings (seeds, epochs, eta, lmbda, batch size, data, version).
    paths : dict of str to pathlib.Path
        What was written (a description) and where; empty when no folder was given.
    """

    nets: dict[int, SpeedsOverSeeds]
    settings: dict[str, Any]
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def failures(self) -> list[JobResult]:
        """The jobs that diverged."""
        return [r for net in self.nets.values() for r in net.results if not r.ok]

    def initial_table(self) -> list[tuple[int, str, float, float, float, float | None]]:
        """Rows ``(hidden layers, layer, median, p10, p90, the book's speed or None)``."""
        rows = []
        for k, net in self.nets.items():
            book = BOOK_INITIAL_SPEEDS.get(k, ())
            med, lo, hi = net.initial_summary()
            for i, name in enumerate(net.columns):
                rows.append((k, name, float(med[i]), float(lo[i]), float(hi[i]),
                             book[i] if i < len(book) else None))
        return rows


@dataclass
class DepthResult:
    """Validation accuracy against depth (:func:`gradcore.experiments.depth`).

    Attributes
    ----------
    sizes : list of tuple of int
    seeds : list of int
    epochs : int
    last_accuracy : ndarray (n_nets, n_seeds)
        Validation accuracy (fraction) after the last epoch.
    best_accuracy : ndarray (n_nets, n_seeds)
        Best validation accuracy over the epochs (the best epoch's).
    results : list of list of JobResult
        ``results[i][j]``: net i, seed j.
    """

    sizes: list[tuple[int, ...]]
    seeds: list[int]
    epochs: int
    last_accuracy: np.ndarray
    best_accuracy: np.ndarray
    results: list[list[JobResult]] = field(repr=False, default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    @staticmethod
    def _mean_sd(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = 100.0 * acc.mean(axis=1)
        if acc.shape[1] < 2:
            return np.asarray(mean), np.full(acc.shape[0], np.nan)
        return np.asarray(mean), np.asarray(100.0 * acc.std(axis=1, ddof=1))

    def last(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd (ddof 1; NaN with one seed) over seeds of the last epoch's
        accuracy, per net, in %."""
        return self._mean_sd(self.last_accuracy)

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd over seeds of the best epoch's accuracy, per net, in %."""
        return self._mean_sd(self.best_accuracy)

    @property
    def book(self) -> list[float | None]:
        """The book's accuracy (%) of each net, None for nets the book did not train."""
        return [BOOK_DEPTH_ACCURACY.get(tuple(s)) for s in self.sizes]


@dataclass
class PhaseResult:
    """Learning speeds over depth × weight scale × seed (:func:`gradcore.experiments.phase`).

    Attributes
    ----------
    depths : list of int
        Numbers of hidden layers (30 neurons each).
    scales : list of float
        The axis: weight scales s (weights N(0, s²/n_in)), or weight variances σ_w² when
        ``axis`` is ``"weight_var"``.
    seeds : list of int
    epochs : int
        T: speeds were measured at initialisation (epoch 0) and, if T > 0, after T epochs.
    results : dict of (depth, scale) to list of JobResult
        One per seed.
    axis : str
        ``"scale"`` or ``"weight_var"``: what ``scales`` are.
    """

    depths: list[int]
    scales: list[float]
    seeds: list[int]
    epochs: int
    results: dict[tuple[int, float], list[JobResult]]
    settings: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, pathlib.Path] = field(default_factory=dict)
    axis: str = "scale"

    @property
    def failures(self) -> list[JobResult]:
        """The jobs whose training diverged (their speeds after T epochs are those of the
        last finite state)."""
        return [r for rs in self.results.values() for r in rs if not r.ok]

    @property
    def measured_epochs(self) -> list[int]:
        """The epochs at which speeds were measured: ``[0]`` or ``[0, T]``."""
        return [0] if self.epochs == 0 else [0, self.epochs]

    def speeds(self, depth: int, scale: float, epoch: int = 0) -> np.ndarray:
        """(seeds, depth + 1): every layer's speed, output last, at ``epoch`` (0 or T)."""
        rs = self.results[(depth, scale)]
        if epoch not in self.measured_epochs:
            raise ValueError(f"speeds were measured at epochs {self.measured_epochs}")
        return np.array([r.initial_speeds if epoch == 0 else r.final_speeds for r in rs])

    def rms(self, depth: int, scale: float, epoch: int = 0) -> np.ndarray:
        """(seeds, depth + 1): every layer's gradient rms √(mean ‖δˡₓ‖²), output last, at
        ``epoch`` (0 or T); NaN for results stored without it by an earlier gradcore."""
        rs = self.results[(depth, scale)]
        if epoch not in self.measured_epochs:
            raise ValueError(f"the rms was measured at epochs {self.measured_epochs}")
        return np.array([_rms(r, epoch) for r in rs])

    def log_ratio(self, epoch: int = 0, measure: str = "speed") -> np.ndarray:
        """(depths, scales): median over seeds of log10(hidden 1 ÷ the last hidden layer)
        at ``epoch``, of the speed (``measure="speed"``, the chapter's ‖mean δ‖) or of the
        gradient rms (``"rms"``); negative: vanishing, positive: exploding. A cell whose
        ratio is not finite (speeds that underflowed to 0) is kept as it comes: −inf, inf
        or NaN."""
        if measure not in ("speed", "rms"):
            raise ValueError(f"measure must be 'speed' or 'rms', got {measure!r}")
        get = self.speeds if measure == "speed" else self.rms
        out = np.empty((len(self.depths), len(self.scales)))
        for i, d in enumerate(self.depths):
            for j, s in enumerate(self.scales):
                sp = get(d, s, epoch)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[i, j] = np.median(np.log10(sp[:, 0] / sp[:, d - 1]))
        return out

    def rows(self) -> Iterator[tuple[int, float, int, int, str, float, float]]:
        """Tidy rows ``(depth, scale, seed, epoch, layer, speed, rms)``; layer is ``"1"`` …
        ``str(depth)`` for the hidden layers, then ``"output"``."""
        for (d, s), rs in self.results.items():
            names = [str(i + 1) for i in range(d)] + ["output"]
            for seed, r in zip(self.seeds, rs):
                for e in self.measured_epochs:
                    sp = r.initial_speeds if e == 0 else r.final_speeds
                    for name, v, g in zip(names, sp, _rms(r, e)):
                        yield d, s, seed, e, name, float(v), float(g)


def _rms(r: JobResult, epoch: int) -> np.ndarray:
    v = r.initial_rms if epoch == 0 else r.final_rms
    return np.full(len(r.initial_speeds), np.nan) if v is None else np.asarray(v)


@dataclass(frozen=True)
class Remedy:
    """A named remedy: the :data:`~gradcore.experiments.jobs.REMEDY_FIELDS` that differ
    from the book's, and the paper it comes from.

    Attributes
    ----------
    name : str
        e.g. ``"relu+he"``.
    fields : mapping
        e.g. ``{"activation": "relu", "init": "he"}``; empty for the book's.
    paper : str
        Authors, year, title.
    """

    name: str
    fields: Mapping[str, Any]
    paper: str

    @property
    def momentum(self) -> bool:
        """Whether the update has momentum (it then trains at the momentum's η)."""
        return float(self.fields.get("momentum", 0.0)) > 0.0


@dataclass
class RemediesResult:
    """What :func:`remedies` measured, per remedy and seed.

    Attributes
    ----------
    remedies : list of Remedy
    seeds : list of int
    results : dict of str to list of JobResult
        By remedy name, one per seed.
    predicted : dict of str to ndarray (seeds,)
        The theory's rms ratio of the first to the last hidden layer at each seed's initial
        network (NaN where the theory gives none).
    settings : dict
    paths : dict of str to pathlib.Path
        What was written, and where.
    """

    remedies: list[Remedy]
    seeds: list[int]
    results: dict[str, list[JobResult]]
    predicted: dict[str, np.ndarray]
    settings: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The remedies' names, in the order run."""
        return [r.name for r in self.remedies]

    @property
    def failures(self) -> list[JobResult]:
        """The jobs whose training diverged."""
        return [r for rs in self.results.values() for r in rs if not r.ok]

    def ratios(self, name: str) -> dict[str, np.ndarray]:
        """Per seed, first ÷ last hidden layer: ``speed_initial``, ``speed_final``,
        ``rms_initial``, ``rms_final``, and ``predicted`` (the theory's rms ratio)."""
        rs = self.results[name]
        last = len(rs[0].job.sizes) - 3

        def ratio(vectors: list[np.ndarray | None]) -> np.ndarray:
            return np.array([np.nan if v is None else float(v[0] / v[last])
                             for v in vectors])

        return {"speed_initial": ratio([r.initial_speeds for r in rs]),
                "speed_final": ratio([r.final_speeds for r in rs]),
                "rms_initial": ratio([r.initial_rms for r in rs]),
                "rms_final": ratio([r.final_rms for r in rs]),
                "predicted": np.asarray(self.predicted[name], dtype=np.float64)}

    def accuracy(self, name: str) -> np.ndarray:
        """(seeds,): held-out accuracy after the last epoch (NaN for a training that
        diverged before it)."""
        out = []
        for r in self.results[name]:
            acc = np.asarray(r.evaluation_accuracy if r.evaluation_accuracy is not None
                             else [], dtype=np.float64)
            out.append(float(acc[-1]) if r.ok and acc.size else np.nan)
        return np.array(out)

    def summary(self) -> list[dict[str, Any]]:
        """One row per remedy: the median and the 10–90 % band over the seeds whose
        training completed of the final accuracy and of every ratio (NaN values left out),
        as plain floats, and how many diverged."""
        rows = []
        for name in self.names:
            row: dict[str, Any] = {"remedy": name}
            ok = np.array([r.ok for r in self.results[name]], dtype=bool)
            values = {"accuracy": self.accuracy(name), **self.ratios(name)}
            for key, v in values.items():
                v = v[np.isfinite(v) & ok]
                if v.size:
                    mid, lo, hi = (float(x) for x in band(v))
                else:
                    mid = lo = hi = float("nan")
                row[key] = {"median": mid, "p10": lo, "p90": hi}
            row["diverged"] = sum(not r.ok for r in self.results[name])
            rows.append(row)
        return rows

    def ranking(self) -> list[str]:
        """The remedies' names from the best median final accuracy to the worst."""
        acc = {row["remedy"]: row["accuracy"]["median"] for row in self.summary()}
        return sorted(self.names, key=lambda n: -acc[n] if np.isfinite(acc[n]) else np.inf)
