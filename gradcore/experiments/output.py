"""Writing the experiments' results: CSV, JSON and figures, all in one place.

Every file is written atomically: the whole set of an experiment's outputs is first
written to temporary files in the destination folder and flushed to disk, then each is
renamed over its destination. A failure while writing (a full disk, say) leaves every
previous file as it was and no temporary file behind. The readers refuse files cut short.
Numbers are written with Python's shortest round-trip repr, so they read back to the same
floats.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from .._files import fsync_directory, regular_file_mode, write_temporary
from .book import BOOK_INITIAL_SPEEDS, book_speed_ratio
from .jobs import JobResult
from .results import Chapter5Result, DepthResult, PhaseResult, RemediesResult, SpeedsOverSeeds

__all__ = [
    "check_writable",
    "write_files",
    "remove_outputs",
    "publish",
    "speeds_csv",
    "read_speeds_csv",
    "SpeedsTable",
    "chapter5_document",
    "write_chapter5",
    "phase_csv",
    "read_phase_csv",
    "write_phase",
    "write_depth",
    "depth_csv",
    "remedies_csv",
    "remedies_speeds_csv",
    "write_remedies",
    "REMEDIES_COLUMNS",
    "FIGURE_FORMATS",
    "OUTPUT_FORMATS",
]

PathLike = str | os.PathLike[str]

#: The formats figures can be written in (``--format``).
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
#: Everything ``--format`` takes: the figure formats, and ``parquet`` for the results as a
#: Parquet table beside the CSV files (pandas and pyarrow: the ``pandas`` extra).
OUTPUT_FORMATS: tuple[str, ...] = (*FIGURE_FORMATS, "parquet")


def check_writable(folder: PathLike) -> pathlib.Path:
    """Create ``folder`` if needed and check a file can be written in it, before any work.

    Raises
    ------
    OSError
        Naming the folder and what went wrong (read-only, not a folder, full, …).
    """
    p = pathlib.Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
        write_files(p, {".gradcore-write-check": b"ok\n"})
        (p / ".gradcore-write-check").unlink()
    except OSError as exc:
        raise OSError(f"cannot write results to {p}: {exc.strerror or exc}") from None
    return p


def _write_bytes(content: bytes, f: BinaryIO) -> None:
    f.write(content)


def write_files(folder: PathLike, files: Mapping[str, bytes]) -> dict[str, pathlib.Path]:
    """Write ``{name: content}`` into ``folder`` atomically, as one set.

    All contents go to temporary files first (flushed to disk); only once every one is
    written are they renamed over their destinations. On failure the temporary files are
    removed and the destinations are as they were. A destination that exists must be a
    regular file: a directory, FIFO or device there is refused (OSError naming it); one
    that is replaced keeps its permission bits.
    """
    directory = os.path.abspath(folder)
    modes = {name: regular_file_mode(os.path.join(directory, name)) for name in files}
    staged: list[tuple[str, pathlib.Path]] = []
    try:
        for name, content in files.items():
            tmp = write_temporary(directory, functools.partial(_write_bytes, content),
                                  modes[name])
            staged.append((tmp, pathlib.Path(directory, name)))
        while staged:
            tmp, final = staged[0]
            os.replace(tmp, final)
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fsync_directory(directory)
    return {name: pathlib.Path(directory, name) for name in files}


#: The names of the files each experiment writes (glob patterns).
OUTPUTS = {
    "chapter5": ("speeds_*_hidden.csv", "speeds_*_hidden.png", "chapter5.json",
                 "initial_deltas.png", "speed_ratio.png"),
    "phase": ("phase.csv", "phase.json", "phase.png", "phase_epoch_*.png"),
}


def remove_outputs(folder: PathLike, experiment: str | None = None,
                   keep: Sequence[str] = ()) -> None:
    """Remove the files named like outputs of ``experiment`` (None: of any experiment) from
    ``folder``, but those named in ``keep``: what an earlier run of other settings wrote
    must not stay beside the new outputs, looking current."""
    patterns = [g for name, globs in OUTPUTS.items() if experiment in (None, name)
                for g in globs]
    for path in sorted({q for g in patterns for q in pathlib.Path(folder).glob(g)}):
        if path.name not in keep and (path.is_symlink() or path.is_file()):
            path.unlink()


def publish(folder: PathLike, files: Mapping[str, tuple[str, bytes]],
            paths: dict[str, pathlib.Path], experiment: str | None = None
            ) -> dict[str, pathlib.Path]:
    """Write ``files`` (name: (description, content)) into ``folder`` atomically, record
    each in ``paths`` by its description, and return ``paths``. With ``experiment``, files
    named like that experiment's outputs (:data:`OUTPUTS`) but not written now are removed
    (:func:`remove_outputs`)."""
    written = write_files(folder, {name: content for name, (_, content) in files.items()})
    if experiment is not None:
        remove_outputs(folder, experiment, keep=list(files))
    paths.update({desc: written[name] for name, (desc, _) in files.items()})
    return paths


def _csv_bytes(header: list[str], rows: Any) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _num(v: float) -> str:
    return repr(float(v))


# ------------------------------------------------------------------ chapter 5


def speeds_csv(net: SpeedsOverSeeds) -> bytes:
    """``seed,epoch,hidden_1,…,hidden_k,output`` and one row per seed and epoch.

    Every seed has a row for every epoch: those a diverged training did not reach hold
    ``nan``.
    """
    epochs = max(r.job.epochs for r in net.results)
    rows = ([seed, e, *(_num(v) for v in row)]
            for seed, r in zip(net.seeds, net.results)
            for e, row in enumerate(_padded(r.speeds, epochs)))
    return _csv_bytes(["seed", "epoch", *net.columns], rows)


def _padded(speeds: np.ndarray, epochs: int) -> np.ndarray:
    out = np.full((epochs, speeds.shape[1]), np.nan)
    out[:len(speeds)] = speeds
    return out


@dataclass
class SpeedsTable:
    """A speeds CSV read back: ``columns`` and per row ``seeds``, ``epochs``, ``speeds``."""

    columns: list[str]
    seeds: np.ndarray
    epochs: np.ndarray
    speeds: np.ndarray


def _read_csv(path: PathLike, first: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV written here; refuses a file cut short or of another kind."""
    raw = pathlib.Path(path).read_bytes()
    if not raw.endswith(b"\n"):
        raise ValueError(f"{path}: truncated (the last line is incomplete)")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    if not rows or rows[0][:len(first)] != first:
        raise ValueError(f"{path}: not a gradcore CSV (the header must start with "
                         f"{','.join(first)})")
    header, body = rows[0], rows[1:]
    bad = [n + 2 for n, r in enumerate(body) if len(r) != len(header)]
    if bad:
        raise ValueError(f"{path}: line {bad[0]} has not {len(header)} fields")
    return header, body


def read_speeds_csv(path: PathLike) -> SpeedsTable:
    """Read a file of :func:`speeds_csv` (``speeds_{k}_hidden.csv``).

    Raises
    ------
    ValueError
        Not such a file, or cut short: the last line incomplete, a row with fields
        missing, a number that does not parse, or a seed whose epochs do not run 0, 1, …
        as far as the first seed's. (A file cut exactly between two seeds reads as fewer
        seeds: ``chapter5.json`` lists them.)
    """
    header, body = _read_csv(path, ["seed", "epoch"])
    try:
        seeds = np.array([int(r[0]) for r in body], dtype=np.int64)
        epochs = np.array([int(r[1]) for r in body], dtype=np.int64)
        speeds = np.array([[float(v) for v in r[2:]] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: a field is not a number ({exc})") from None
    n = np.count_nonzero(seeds == seeds[0]) if len(seeds) else 0
    for s in dict.fromkeys(seeds.tolist()):
        if not np.array_equal(epochs[seeds == s], np.arange(n)):
            raise ValueError(f"{path}: the epochs of seed {s} do not run 0, 1, …, {n - 1} "
                             f"(cut short?)")
    return SpeedsTable(header[2:], seeds, epochs, speeds.reshape(len(body), -1))


def chapter5_document(result: Chapter5Result) -> dict[str, Any]:
    """Everything as plain JSON-ready data (the content of ``chapter5.json``).

    For each net: ``seeds`` and, always (also for one seed), ``speeds`` as one
    epochs × layers table per seed, ``initial_speeds`` one row per seed.
    """
    nets = []
    for k, net in result.nets.items():
        nets.append({
            "hidden_layers": k,
            "sizes": list(net.sizes),
            "columns": net.columns,
            "seeds": list(net.seeds),
            "book_initial_speeds": list(BOOK_INITIAL_SPEEDS.get(k, ())),
            "initial_speeds": [r.initial_speeds.tolist() for r in net.results],
            "initial_deltas": [[d.tolist() for d in (r.initial_deltas or [])]
                               for r in net.results],
            "speeds": [r.speeds.tolist() for r in net.results],
            "training_cost": [r.training_cost.tolist() for r in net.results],
            "errors": [r.error for r in net.results],
        })
    return {"experiment": "gradcore chapter5: learning speeds of the hidden layers",
            "settings": dict(result.settings),
            "book_initial_speeds": {str(k): list(v) for k, v in BOOK_INITIAL_SPEEDS.items()},
            "nets": nets}


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode("utf-8")


def _figure_formats(formats: Sequence[str]) -> list[str]:
    """The figure formats among ``formats`` (PNG when none is)."""
    return [f for f in formats if f in FIGURE_FORMATS] or ["png"]


def _figures(base: str, fig: Any, formats: Sequence[str]) -> dict[str, bytes]:
    """``{base.fmt: bytes}`` of one figure in each figure format asked for. PNG at 110
    dpi; SVG and PDF are vector files, written without a date so that the same results
    give the same bytes."""
    out = {}
    for fmt in _figure_formats(formats):
        buf = io.BytesIO()
        meta = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
        out[f"{base}.{fmt}"] = buf.getvalue()
    return out


def _described(desc: str, figures: Mapping[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """Each figure file with its description (the format added for all but PNG, so that
    every file of a set has a description of its own)."""
    out = {}
    for name, content in figures.items():
        fmt = name.rpartition(".")[2]
        out[name] = (desc if fmt == "png" else f"{desc} ({fmt.upper()})", content)
    return out


def _parquet(experiment: str, results: Sequence[JobResult],
             formats: Sequence[str]) -> dict[str, bytes]:
    """``{experiment.parquet: bytes}`` if ``formats`` asks for Parquet, else nothing."""
    if "parquet" not in formats:
        return {}
    from .frames import parquet_bytes, results_frame

    frame = results_frame(experiment, list(enumerate(results)))
    return {f"{experiment}.parquet": parquet_bytes(frame)}


def _chapter5_figures(result: Chapter5Result,
                      formats: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    from .. import plotting  # matplotlib: imported only when figures are drawn

    figs: dict[str, tuple[str, bytes]] = {}

    def add(base: str, desc: str, fig: Any) -> None:
        figs.update(_described(desc, _figures(base, fig, formats)))

    done = {k: net for k, net in result.nets.items() if net.ok.any()}
    for k, net in done.items():
        add(f"speeds_{k}_hidden", f"figure: speed of learning, {k} hidden layers",
            plotting.speeds_figure(net.speeds, hidden=k))
    first = {k: (net.sizes, net.results[0].initial_deltas or [])
             for k, net in result.nets.items()}
    add("initial_deltas",
        f"figure: initial delta of the first six neurons per hidden layer (seed "
        f"{next(iter(result.nets.values())).seeds[0]})",
        plotting.initial_deltas_figure(list(first.values())))
    ratios = {k: (net.ratio(), _book_ratio(k)) for k, net in done.items() if net.hidden > 1}
    if not ratios:
        return figs
    add("speed_ratio",
        "figure: last hidden / hidden 1 layer speed, median over seeds, beside the book's",
        plotting.ratio_figure(ratios))
    return figs


def _book_ratio(hidden: int) -> np.ndarray | None:
    try:
        return book_speed_ratio(hidden)
    except ValueError:
        return None


def write_chapter5(result: Chapter5Result, folder: PathLike, *, figures: bool = True,
                   formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write ``speeds_{k}_hidden.csv``, ``chapter5.json`` and the figures, as one set.

    ``formats`` (:data:`OUTPUT_FORMATS`): the figures in each of png, svg, pdf listed (png
    if none is), and ``chapter5.parquet`` (every job's speeds, tidy) if it lists parquet.
    Returns (and records in ``result.paths``) what was written: description → path.
    """
    files = {f"speeds_{k}_hidden.csv": (f"learning speeds per seed and epoch, {k} hidden "
                                        f"layers (CSV)", speeds_csv(net))
             for k, net in result.nets.items()}
    files["chapter5.json"] = ("all data and the run's settings (JSON)",
                              _json_bytes(chapter5_document(result)))
    results = [r for net in result.nets.values() for r in net.results]
    files.update({name: ("every job's speeds, tidy (Parquet)", content)
                  for name, content in _parquet("chapter5", results, formats).items()})
    if figures:
        files.update(_chapter5_figures(result, formats))
    return publish(folder, files, result.paths, "chapter5")


# ------------------------------------------------------------------ phase


def phase_csv(result: PhaseResult) -> bytes:
    """Tidy ``depth,scale,seed,epoch,layer,speed,rms`` (layer: 1 … depth, then output;
    ``weight_var`` in place of ``scale`` when that is the axis; ``nan``, ``inf`` as they
    come: a speed that underflowed is data)."""
    rows = ([d, _num(s), seed, e, layer, _num(v), _num(g)]
            for d, s, seed, e, layer, v, g in result.rows())
    return _csv_bytes(["depth", result.axis, "seed", "epoch", "layer", "speed", "rms"], rows)


def read_phase_csv(path: PathLike) -> list[tuple[int, float, int, int, str, float, float]]:
    """The rows of a :func:`phase_csv` file (one written before the rms column was added
    reads with an rms of NaN); refuses one cut short (ValueError)."""
    header, body = _read_csv(path, ["depth"])
    if header[1:6] not in (["scale", "seed", "epoch", "layer", "speed"],
                           ["weight_var", "seed", "epoch", "layer", "speed"]):
        raise ValueError(f"{path}: not a gradcore phase CSV (header {','.join(header)})")
    try:
        return [(int(r[0]), float(r[1]), int(r[2]), int(r[3]), r[4], float(r[5]),
                 float(r[6]) if len(r) > 6 else math.nan) for r in body]
    except ValueError as exc:
        raise ValueError(f"{path}: a field is not a number ({exc})") from None


def finite_or_none(values: Any) -> Any:
    """Nested lists with every number that is not finite as None (JSON's null)."""
    if isinstance(values, list):
        return [finite_or_none(v) for v in values]
    return float(values) if math.isfinite(values) else None


def phase_overlay(result: PhaseResult) -> dict[str, Any] | None:
    """The mean-field theory over the diagram (:func:`gradcore.experiments.meanfield.
    theory_overlay`), or None where it does not apply: an orthogonal init, or a different
    activation per layer."""
    remedy = result.settings.get("remedy", {})
    activation = remedy.get("activation", "sigmoid")
    if remedy.get("init", "gaussian") != "gaussian" or not isinstance(activation, str):
        return None
    from .meanfield import theory_overlay

    bias_var = float(result.settings.get("bias_var", 1.0))
    wv = result.scales if result.axis == "weight_var" else [s * s for s in result.scales]
    return theory_overlay(activation, bias_var, wv)


def write_phase(result: PhaseResult, folder: PathLike, *, figures: bool = True,
                formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write ``phase.csv``, ``phase.json`` (settings, the medians of both measures, null
    where not finite, and the theory: the critical σ_w² and ξ_c per column) and the heat
    map (``phase.png``, with the χ₁ = 1 line and the curves depth = ξ_c and 6·ξ_c; each
    format of ``formats`` listed, and ``phase.parquet`` if it lists parquet: see
    :func:`write_chapter5`)."""
    from .meanfield import for_figure, for_json

    overlay = phase_overlay(result)
    doc = {"experiment": "gradcore phase: log10(speed of hidden 1 / speed of the last "
                         "hidden layer), median over seeds",
           "settings": dict(result.settings), "axis": result.axis,
           "depths": result.depths, "scales": result.scales,
           "median_log10_ratio": {str(e): finite_or_none(result.log_ratio(e).tolist())
                                  for e in result.measured_epochs},
           "median_log10_rms_ratio": {str(e): finite_or_none(result.log_ratio(e, "rms")
                                                             .tolist())
                                      for e in result.measured_epochs},
           "theory": None if overlay is None else for_json(overlay),
           "null": "a median that is not finite: a speed of 0 (log10 of 0 or of 0/0), or a "
                   "speed that is not a number; phase.csv has every speed"}
    files = {"phase.csv": ("speeds and rms per depth, scale, seed, epoch and layer (tidy CSV)",
                           phase_csv(result)),
             "phase.json": ("settings and the median log10 ratios (JSON)", _json_bytes(doc))}
    results = [r for rs in result.results.values() for r in rs]
    files.update({name: ("every job's speeds, tidy (Parquet)", content)
                  for name, content in _parquet("phase", results, formats).items()})
    if figures:
        from .. import plotting

        label = ("σ_w² (weights ~ N(0, σ_w²/n_in), biases ~ N(0, "
                 f"{result.settings.get('bias_var', 1.0):g}))" if result.axis == "weight_var"
                 else "weight scale s (weights ~ N(0, s²/n_in))")
        theory = None if overlay is None else {
            **for_figure(overlay), "weight_vars": overlay["weight_vars"]}
        for e in result.measured_epochs:
            base = "phase" if e == 0 else f"phase_epoch_{e}"
            fig = plotting.phase_figure(result.depths, result.scales, result.log_ratio(e),
                                        epoch=e, n_seeds=len(result.seeds), axis_label=label,
                                        theory=theory)
            files.update(_described(f"figure: the phase diagram at epoch {e}",
                                    _figures(base, fig, formats)))
    return publish(folder, files, result.paths, "phase")


# ------------------------------------------------------------------ depth


def depth_csv(result: DepthResult) -> bytes:
    """Tidy ``net,seed,epoch,validation_accuracy,training_cost``: one row per net, seed
    and epoch (0-based: the accuracy after epoch index e, i.e. after e + 1 epochs);
    ``net`` is the sizes joined by ``-``."""
    rows = ([_net_name(r.job.sizes), r.job.seed, e, _num(acc), _num(cost)]
            for row in result.results for r in row
            for e, (acc, cost) in enumerate(zip(
                np.asarray(r.evaluation_accuracy if r.evaluation_accuracy is not None
                           else np.full(len(r.training_cost), np.nan)),
                r.training_cost)))
    return _csv_bytes(["net", "seed", "epoch", "validation_accuracy", "training_cost"], rows)


def _net_name(sizes: Sequence[int]) -> str:
    return "-".join(str(s) for s in sizes)


def write_depth(result: DepthResult, folder: PathLike, *, figures: bool = True,
                formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write ``depth.csv`` (:func:`depth_csv`), ``depth.json`` (settings and the table:
    last and best epoch's accuracy, mean and sd over seeds, beside the book's) and the
    figure ``depth.png`` (validation accuracy against the epoch, per net), as one set;
    ``formats`` as for :func:`write_chapter5` (``depth.parquet``)."""
    (last, last_sd), (best, best_sd) = result.last(), result.best()

    def finite(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    table = [{"sizes": list(s), "last_mean": finite(m), "last_sd": finite(sd),
              "best_mean": finite(bm), "best_sd": finite(bsd), "book": book}
             for s, m, sd, bm, bsd, book in zip(result.sizes, last, last_sd, best, best_sd,
                                                result.book)]
    doc = {"experiment": "gradcore depth: validation accuracy (%) against depth, after "
                         "the last epoch and at the best epoch, mean and sd over seeds",
           "settings": dict(result.settings), "seeds": list(result.seeds),
           "accuracy": table}
    files = {"depth.csv": ("validation accuracy per net, seed and epoch (tidy CSV)",
                           depth_csv(result)),
             "depth.json": ("settings and the accuracy table (JSON)", _json_bytes(doc))}
    results = [r for row in result.results for r in row]
    files.update({name: ("every job's speeds and accuracy, tidy (Parquet)", content)
                  for name, content in _parquet("depth", results, formats).items()})
    if figures:
        from .. import plotting

        curves = {_net_name(s): np.array([_padded_accuracy(r, result.epochs) for r in row])
                  for s, row in zip(result.sizes, result.results)}
        books = {_net_name(s): b for s, b in zip(result.sizes, result.book)}
        fig = plotting.depth_figure(curves, books)
        files.update(_described("figure: validation accuracy against the epoch, per net",
                                _figures("depth", fig, formats)))
    return publish(folder, files, result.paths)


def _padded_accuracy(r: JobResult, epochs: int) -> np.ndarray:
    out = np.full(epochs, np.nan)
    if r.evaluation_accuracy is not None:
        acc = np.asarray(r.evaluation_accuracy, dtype=np.float64)
        out[:len(acc)] = acc
    return out


# ------------------------------------------------------------------ remedies

#: The columns of ``remedies.csv``: one row per remedy and seed.
REMEDIES_COLUMNS: tuple[str, ...] = (
    "remedy", "seed", "accuracy", "speed_ratio_initial", "speed_ratio_final",
    "rms_ratio_initial", "rms_ratio_final", "predicted_rms_ratio", "diverged")


def remedies_csv(result: RemediesResult) -> bytes:
    """Tidy ``remedies.csv``: per remedy and seed, the held-out accuracy after the last
    epoch, the ratios hidden 1 ÷ last hidden layer of the speed and of the gradient rms at
    initialisation and after training, the theory's rms ratio, and whether it diverged."""
    rows = []
    for name in result.names:
        ratios, acc = result.ratios(name), result.accuracy(name)
        for i, (seed, r) in enumerate(zip(result.seeds, result.results[name])):
            rows.append([name, seed, _num(acc[i]), _num(ratios["speed_initial"][i]),
                         _num(ratios["speed_final"][i]), _num(ratios["rms_initial"][i]),
                         _num(ratios["rms_final"][i]), _num(ratios["predicted"][i]),
                         int(not r.ok)])
    return _csv_bytes(list(REMEDIES_COLUMNS), rows)


def remedies_speeds_csv(result: RemediesResult) -> bytes:
    """Tidy ``remedies_speeds.csv``: ``remedy,seed,epoch,layer,speed,gradient_rms``; epoch
    0 at the initial weights, epoch e ≥ 1 train()'s monitor during epoch e; layer
    ``hidden_1`` … ``output``."""
    from .book import layer_names

    rows = []
    for name in result.names:
        for seed, r in zip(result.seeds, result.results[name]):
            names = layer_names(len(r.job.sizes) - 1)
            speeds = np.vstack([r.initial_speeds[None], r.speeds])
            rms = (np.full_like(speeds, np.nan) if r.initial_rms is None
                   else np.vstack([r.initial_rms[None],
                                   r.gradient_rms if r.gradient_rms is not None
                                   else np.full_like(r.speeds, np.nan)]))
            for e in range(len(speeds)):
                for j, layer in enumerate(names):
                    rows.append([name, seed, e, layer, _num(speeds[e, j]), _num(rms[e, j])])
    return _csv_bytes(["remedy", "seed", "epoch", "layer", "speed", "gradient_rms"], rows)


def _remedy_curves(result: RemediesResult, name: str) -> np.ndarray:
    """(completed seeds, epochs + 1, hidden): the initial speeds, then those during each
    epoch, of the trainings that completed (a diverged one is left out, as from the
    medians; one row of NaN if none completed)."""
    rs = [r for r in result.results[name] if r.ok] or result.results[name][:1]
    hidden = len(rs[0].job.sizes) - 2
    epochs = rs[0].job.epochs
    out = np.full((len(rs), epochs + 1, hidden), np.nan)
    for i, r in enumerate(rs):
        if r.ok:
            out[i, 0] = r.initial_speeds[:hidden]
            out[i, 1:] = r.speeds[:, :hidden]
    return out


def _panel_title(result: RemediesResult, name: str) -> str:
    """The remedy's name, and how many of its seeds completed if not all did."""
    rs = result.results[name]
    done = sum(r.ok for r in rs)
    return name if done == len(rs) else f"{name} ({done} of {len(rs)} seeds)"


def write_remedies(result: RemediesResult, folder: PathLike, *, figures: bool = True,
                   formats: Sequence[str] = ("png",)) -> dict[str, pathlib.Path]:
    """Write ``remedies.csv`` (:func:`remedies_csv`), ``remedies_speeds.csv``
    (:func:`remedies_speeds_csv`), ``remedies.json`` (the settings, every remedy's fields,
    η and paper, the summary over seeds and the accuracy after every epoch) and the
    figures ``remedies.png`` (the ranking) and ``remedies_speeds.png`` (small multiples),
    as one set; ``formats`` as for :func:`write_chapter5` (``remedies.parquet``)."""
    def finite(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: finite(v) for k, v in x.items()}
        if isinstance(x, float):
            return x if np.isfinite(x) else None
        return x

    doc = {"experiment": "gradcore remedies: hidden 1 / last hidden layer ratios of the "
                         "speed and of the gradient rms, and held-out accuracy, per remedy",
           "settings": dict(result.settings), "seeds": list(result.seeds),
           "ranking": result.ranking(),
           "summary": [finite(row) for row in result.summary()],
           "accuracy_per_epoch": {
               name: [[finite(float(a)) for a in (r.evaluation_accuracy
                                                  if r.evaluation_accuracy is not None
                                                  else [])]
                      for r in result.results[name]] for name in result.names}}
    files = {"remedies.csv": ("ratios and accuracy per remedy and seed (tidy CSV)",
                              remedies_csv(result)),
             "remedies_speeds.csv": ("speeds and gradient rms per remedy, seed, epoch and "
                                     "layer (tidy CSV)", remedies_speeds_csv(result)),
             "remedies.json": ("settings, remedies and the summary over seeds (JSON)",
                               _json_bytes(doc))}
    results = [r for name in result.names for r in result.results[name]]
    files.update({name: ("every job's speeds and accuracy, tidy (Parquet)", content)
                  for name, content in _parquet("remedies", results, formats).items()})
    if figures:
        from .. import plotting

        order = result.ranking()
        ratios = {n: {k: v[[r.ok for r in result.results[n]]]  # completed trainings only
                      for k, v in result.ratios(n).items()} for n in order}
        fig = plotting.remedies_figure(
            order, {n: result.accuracy(n) for n in order},
            {n: ratios[n]["speed_initial"] for n in order},
            {n: ratios[n]["speed_final"] for n in order},
            {n: ratios[n]["predicted"] for n in order},
            epochs=int(result.settings.get("epochs", 0)))
        files.update(_described("figure: the remedies ranked by accuracy, with their speed "
                                "ratios", _figures("remedies", fig, formats)))
        fig = plotting.remedies_speeds_figure({_panel_title(result, n): _remedy_curves(result, n)
                                               for n in result.names})
        files.update(_described("figure: each remedy's speed of learning per hidden layer",
                                _figures("remedies_speeds", fig, formats)))
    return publish(folder, files, result.paths)
