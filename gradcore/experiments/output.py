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
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from .._files import fsync_directory, regular_file_mode, write_temporary
from .book import BOOK_INITIAL_SPEEDS, book_speed_ratio
from .results import Chapter5Result, PhaseResult, SpeedsOverSeeds

__all__ = [
    "check_writable",
    "write_files",
    "remove_outputs",
    "speeds_csv",
    "read_speeds_csv",
    "SpeedsTable",
    "chapter5_document",
    "write_chapter5",
    "phase_csv",
    "read_phase_csv",
    "write_phase",
]

PathLike = str | os.PathLike[str]


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


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _chapter5_figures(result: Chapter5Result) -> dict[str, tuple[str, bytes]]:
    from .. import plotting  # matplotlib: imported only when figures are drawn

    figs = {}
    done = {k: net for k, net in result.nets.items() if net.ok.any()}
    for k, net in done.items():
        figs[f"speeds_{k}_hidden.png"] = (
            f"figure: speed of learning, {k} hidden layers",
            _png(plotting.speeds_figure(net.speeds, hidden=k)))
    first = {k: (net.sizes, net.results[0].initial_deltas or [])
             for k, net in result.nets.items()}
    figs["initial_deltas.png"] = (
        f"figure: initial delta of the first six neurons per hidden layer (seed "
        f"{next(iter(result.nets.values())).seeds[0]})",
        _png(plotting.initial_deltas_figure(list(first.values()))))
    ratios = {k: (net.ratio(), _book_ratio(k)) for k, net in done.items() if net.hidden > 1}
    if not ratios:
        return figs
    figs["speed_ratio.png"] = (
        "figure: hidden 1 / last hidden layer speed, median and band, beside the book's",
        _png(plotting.ratio_figure(ratios)))
    return figs


def _book_ratio(hidden: int) -> np.ndarray | None:
    try:
        return book_speed_ratio(hidden)
    except ValueError:
        return None


def write_chapter5(result: Chapter5Result, folder: PathLike, *,
                   figures: bool = True) -> dict[str, pathlib.Path]:
    """Write ``speeds_{k}_hidden.csv``, ``chapter5.json`` and the figures, as one set.

    Returns (and records in ``result.paths``) what was written: description → path.
    """
    files = {f"speeds_{k}_hidden.csv": (f"learning speeds per seed and epoch, {k} hidden "
                                        f"layers (CSV)", speeds_csv(net))
             for k, net in result.nets.items()}
    files["chapter5.json"] = ("all data and the run's settings (JSON)",
                              _json_bytes(chapter5_document(result)))
    if figures:
        files.update(_chapter5_figures(result))
    paths = write_files(folder, {name: content for name, (_, content) in files.items()})
    remove_outputs(folder, "chapter5", keep=list(files))
    result.paths.update({desc: paths[name] for name, (desc, _) in files.items()})
    return result.paths


# ------------------------------------------------------------------ phase


def phase_csv(result: PhaseResult) -> bytes:
    """Tidy ``depth,scale,seed,epoch,layer,speed`` (layer: 1 … depth, then output)."""
    rows = ([d, _num(s), seed, e, layer, _num(v)]
            for d, s, seed, e, layer, v in result.rows())
    return _csv_bytes(["depth", "scale", "seed", "epoch", "layer", "speed"], rows)


def read_phase_csv(path: PathLike) -> list[tuple[int, float, int, int, str, float]]:
    """The rows of a :func:`phase_csv` file; refuses one cut short (ValueError)."""
    _, body = _read_csv(path, ["depth", "scale", "seed", "epoch", "layer", "speed"])
    try:
        return [(int(d), float(s), int(seed), int(e), layer, float(v))
                for d, s, seed, e, layer, v in body]
    except ValueError as exc:
        raise ValueError(f"{path}: a field is not a number ({exc})") from None


def _finite_or_null(table: np.ndarray) -> list[list[float | None]]:
    """The rows of ``table``, with None (JSON null) for every value that is not finite."""
    return [[float(v) if np.isfinite(v) else None for v in row] for row in table]


def write_phase(result: PhaseResult, folder: PathLike, *,
                figures: bool = True) -> dict[str, pathlib.Path]:
    """Write ``phase.csv``, ``phase.json`` (settings and the medians) and ``phase.png``."""
    doc = {"experiment": "gradcore phase: log10(speed of hidden 1 / speed of the last "
                         "hidden layer), median over seeds",
           "settings": dict(result.settings),
           "depths": result.depths, "scales": result.scales,
           "median_log10_ratio": {str(e): _finite_or_null(result.log_ratio(e))
                                  for e in result.measured_epochs},
           "null": "a median that is not finite: a speed of 0 (log10 of 0 or of 0/0), or a "
                   "speed that is not a number; phase.csv has every speed"}
    files = {"phase.csv": ("speeds per depth, scale, seed, epoch and layer (tidy CSV)",
                           phase_csv(result)),
             "phase.json": ("settings and the median log10 ratios (JSON)", _json_bytes(doc))}
    if figures:
        from .. import plotting

        for e in result.measured_epochs:
            name = "phase.png" if e == 0 else f"phase_epoch_{e}.png"
            fig = plotting.phase_figure(result.depths, result.scales, result.log_ratio(e),
                                        epoch=e, n_seeds=len(result.seeds))
            files[name] = (f"figure: the phase diagram at epoch {e}", _png(fig))
    paths = write_files(folder, {name: content for name, (_, content) in files.items()})
    remove_outputs(folder, "phase", keep=list(files))
    result.paths.update({desc: paths[name] for name, (desc, _) in files.items()})
    return result.paths
