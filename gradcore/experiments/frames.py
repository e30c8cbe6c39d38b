"""Results as pandas DataFrames: any sweep's results folder, read back in one call.

Every sweep run with a results folder (``gradcore chapter5``, ``phase`` and ``depth`` with
``--out DIR``, or ``out_dir=`` in Python) keeps each finished training in ``DIR/jobs/``
(:mod:`gradcore.experiments.store`). :func:`read` turns that folder into one tidy
DataFrame, whatever the experiment; :func:`results_frame` does the same for results in
memory, and is what ``--format parquet`` writes. Needs pandas (the ``pandas`` extra);
Parquet also needs pyarrow.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import __version__
from .._pandas import require_pandas, require_pyarrow
from .book import layer_names
from .jobs import JobResult

__all__ = ["read", "results_frame", "parquet_bytes", "FRAME_COLUMNS"]

PathLike = str | os.PathLike[str]

#: The sweep's record in ``DIR/jobs/`` (:data:`gradcore.experiments.store.MANIFEST`; not
#: imported from there, since the store writes through the module that imports this one)
MANIFEST = "sweep.json"

#: The columns of :func:`read` and :func:`results_frame`, in order.
FRAME_COLUMNS: tuple[str, ...] = (
    "experiment", "job", "sizes", "hidden_layers", "activation", "init", "scale", "cost",
    "batch_size", "eta", "lmbda", "seed", "epoch", "layer", "speed", "gradient_rms",
    "training_cost", "evaluation_accuracy", "diverged")


def _scale(init: str | float) -> float:
    """The weight scale s of an initialisation (weights N(0, s²/n_in)); NaN for "large"."""
    if isinstance(init, str):
        return 1.0 if init == "default" else float("nan")
    return float(init)


def results_frame(experiment: str, results: Sequence[tuple[int, JobResult]]) -> Any:
    """A tidy DataFrame of job results: one row per job, epoch and layer.

    For each job, the rows of epochs 0 … E−1 (E the epochs it completed) hold the speeds
    that training recorded in that epoch (for full-batch gradient descent, exactly the
    speeds at the weights the epoch starts from), the training cost and, for jobs evaluated
    during training, the evaluation accuracy after that epoch. One more row, epoch E, holds
    the speeds at the final weights (cost and accuracy NaN): for a job of 0 epochs that is
    its only row, the speeds at initialisation.

    Parameters
    ----------
    experiment : str
        Written in the ``experiment`` column.
    results : sequence of (job index, JobResult)

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_COLUMNS`: ``sizes`` as text (``"784-30-30-10"``), ``init``
        as text (``"default"``, ``"large"`` or the scale), ``scale`` the weight scale s as
        a number (1 for the default initialisation, NaN for ``"large"``), ``layer``
        ``hidden_1`` … ``output``, ``diverged`` whether the job stopped early.
    """
    pd = require_pandas("gradcore.experiments.results_frame()")
    columns: dict[str, list[Any]] = {name: [] for name in FRAME_COLUMNS}
    for index, r in results:
        job = r.job
        names = layer_names(len(job.sizes) - 1)
        done = r.speeds.shape[0]
        acc = (np.full(done, np.nan) if r.evaluation_accuracy is None
               else np.asarray(r.evaluation_accuracy, dtype=np.float64))
        # (NaN for results stored before the gradient rms was recorded)
        rms = (np.full((done, len(names)), np.nan) if r.gradient_rms is None
               else np.asarray(r.gradient_rms))
        epochs = [(e, r.speeds[e], rms[e], float(r.training_cost[e]), float(acc[e]))
                  for e in range(done)]
        epochs.append((done, r.final_speeds,
                       np.full(len(names), np.nan) if r.final_rms is None else r.final_rms,
                       float("nan"), float("nan")))
        activation = (job.activation if isinstance(job.activation, str)
                      else ",".join(job.activation))
        for e, speeds, rms_e, cost, accuracy in epochs:
            for layer, speed, g in zip(names, speeds, rms_e):
                for name, value in (
                        ("experiment", experiment), ("job", index),
                        ("sizes", "-".join(map(str, job.sizes))),
                        ("hidden_layers", len(job.sizes) - 2), ("activation", activation),
                        ("init", str(job.init)),
                        ("scale", _scale(job.init)), ("cost", job.cost),
                        ("batch_size", job.batch_size if job.batch_size is not None
                         else -1),
                        ("eta", job.eta), ("lmbda", job.lmbda), ("seed", job.seed),
                        ("epoch", e), ("layer", layer), ("speed", float(speed)),
                        ("gradient_rms", float(g)),
                        ("training_cost", cost), ("evaluation_accuracy", accuracy),
                        ("diverged", not r.ok)):
                    columns[name].append(value)
    frame = pd.DataFrame(columns)
    return frame.astype({"job": "int64", "hidden_layers": "int64", "batch_size": "int64",
                         "seed": "int64", "epoch": "int64", "diverged": "bool"})


def read(out_dir: PathLike) -> Any:
    """Load a sweep's results folder (``--out DIR`` of chapter5, phase or depth).

    Parameters
    ----------
    out_dir : path
        The folder given as ``--out`` (or ``out_dir=``); its ``jobs/`` subfolder holds the
        sweep's settings and one file per finished training.

    Returns
    -------
    pandas.DataFrame
        :func:`results_frame` of the finished trainings, in job order (a sweep stopped
        early gives the ones it finished). ``frame.attrs`` holds ``experiment``,
        ``settings`` (as the sweep recorded them), ``jobs_total`` and ``jobs_finished``.
        ``batch_size`` is −1 for full-batch gradient descent.

    Raises
    ------
    FileNotFoundError
        ``out_dir`` does not exist.
    ValueError
        ``out_dir`` holds no gradcore results (the message names the folder and what it
        holds), a damaged record, or results of another gradcore version (which may
        compute them differently: run the sweep again with this version).
    ImportError
        pandas is not installed (the message names the extra).
    """
    require_pandas("gradcore.experiments.read()")
    folder = pathlib.Path(out_dir)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"out_dir {str(folder)!r} {what}")
    manifest_path = folder / "jobs" / MANIFEST
    if not manifest_path.is_file():
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
        shown = ", ".join(found[:8]) + (", …" if len(found) > 8 else "")
        raise ValueError(
            f"{folder} holds no gradcore results: no jobs/{MANIFEST} (a folder written "
            f"by gradcore chapter5, phase or depth with --out has one); found "
            f"{shown or 'nothing'}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        experiment = str(manifest["experiment"])
        settings = dict(manifest["settings"])
        jobs = list(manifest["jobs"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{manifest_path}: not a readable record of a sweep ({exc})") from None
    version = settings.get("gradcore_version")
    if version != __version__:
        raise ValueError(
            f"{folder} holds {experiment} results of gradcore {version or 'unknown'}, not "
            f"of this gradcore ({__version__}); run the sweep again with this version")
    finished = []
    for i in range(len(jobs)):
        path = folder / "jobs" / f"{i:05d}.json"
        if not path.exists():
            continue
        try:
            finished.append((i, JobResult.from_dict(json.loads(path.read_text("utf-8")))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: a damaged result ({exc})") from None
    frame = results_frame(experiment, finished)
    frame.attrs.update({"experiment": experiment, "settings": settings,
                        "jobs_total": len(jobs), "jobs_finished": len(finished)})
    return frame


def parquet_bytes(frame: Any) -> bytes:
    """``frame`` as the bytes of a Parquet file (written by pyarrow)."""
    require_pyarrow("--format parquet")
    frame = frame.copy()
    frame.attrs = {}  # settings are in the folder's JSON; Parquet keeps the table
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()
