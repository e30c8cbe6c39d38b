"""Validation accuracy against depth on full MNIST, over seeds (the book: 96.48, 96.90,
96.57 and 96.53 % for 1 to 4 hidden layers of 30, one run each).

All the nets × seeds trainings run side by side as jobs of the runner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import __version__
from .._validation import check_sizes, validated
from .book import DEPTH_SIZES
from .jobs import Job, check_remedy, fingerprint, seed_list
from .mnist import load_mnist_data
from .output import write_depth
from .results import DepthResult
from .runner import check_sweep_size, sweep

__all__ = ["depth"]

PathLike = str | os.PathLike[str]


@validated("experiments.depth")
def depth(data: Any = None, *, path: PathLike | None = None, epochs: int = 30,
          seeds: int | Sequence[int] = 1, sizes: Sequence[Sequence[int]] = DEPTH_SIZES,
          batch_size: int = 10, eta: float = 0.1, lmbda: float = 5.0,
          n_jobs: int | None = None, scheduler: Any = None, out_dir: PathLike | None = None,
          force: bool = False, progress: bool = True, figures: bool = True,
          formats: Sequence[str] = ("png",),
          remedy: Mapping[str, Any] | None = None) -> DepthResult:
    """Validation accuracy of nets of increasing depth, over several seeds.

    Every net is trained with every seed (``len(sizes) × K`` jobs, run side by side), and
    evaluated on the validation images after every epoch. Two accuracies are reported:
    the *last* epoch's (``last_accuracy``) and the *best* epoch's (``best_accuracy``, the
    highest over the epochs).

    Parameters
    ----------
    data : object with ``training`` and ``validation`` (X, y) pairs, or None
        Default: :func:`gradcore.datasets.load_mnist` of ``path``.
    path : path or None
        The folder of the four IDX files.
    epochs, batch_size, eta, lmbda
        The book: 30, 10, 0.1, 5.0.
    seeds : int or sequence of int
        K (seeds 0 … K−1) or the seeds themselves.
    sizes : sequence of sizes
        Default :data:`~gradcore.experiments.book.DEPTH_SIZES` (1 to 4 hidden layers of 30).
    n_jobs, scheduler
        Where the trainings run (:func:`gradcore.experiments.runner.run_jobs`).
    out_dir : path or None
        Results folder: each finished training is stored at once and skipped on a rerun;
        at the end it receives ``depth.csv`` (tidy: net, seed, epoch, validation accuracy,
        training cost), ``depth.json`` and the figure ``depth.png``
        (:func:`gradcore.experiments.output.write_depth`).
    force : bool
        Replace results of other settings in ``out_dir`` instead of refusing them.
    progress : bool
        A progress bar over the trainings (on a terminal).
    figures, formats
        As for :func:`gradcore.experiments.chapter5` (``depth.parquet``).
    remedy : mapping or None
        The network's and the update's choices beside the book's sigmoid net and plain SGD
        (:data:`gradcore.experiments.jobs.REMEDY_FIELDS`), as for
        :func:`gradcore.experiments.chapter5`.

    Returns
    -------
    DepthResult
    """
    if not sizes:
        raise ValueError("sizes is empty")
    check_sweep_size(len(sizes) * (seeds if isinstance(seeds, int) else len(seeds)))
    seed_values = seed_list(seeds)
    nets = [check_sizes(s) for s in sizes]  # every net checked before any training
    mnist = load_mnist_data(data, path)
    sets = {"train": mnist.training, "validation": mnist.validation}
    choices = [check_remedy(remedy, s) for s in nets]  # every net's, before any training
    jobs = [Job(sizes=s, seed=seed, epochs=int(epochs), batch_size=int(batch_size),
                eta=float(eta), lmbda=float(lmbda), evaluation="validation", **c)
            for s, c in zip(nets, choices) for seed in seed_values]
    settings = {"sizes": [list(s) for s in nets], "seeds": seed_values, "epochs": int(epochs),
                "batch_size": int(batch_size), "eta": float(eta), "lmbda": float(lmbda),
                "data_fingerprint": fingerprint(sets), "gradcore_version": __version__}
    if jobs[0].remedy():
        settings["remedy"] = jobs[0].remedy_json()
    results = sweep("depth", settings, jobs, sets, out_dir=out_dir, force=force,
                    n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    grid = [results[i * K:(i + 1) * K] for i in range(len(nets))]
    acc = [[np.asarray(r.evaluation_accuracy) for r in row] for row in grid]
    last = np.array([[a[-1] if a.size else np.nan for a in row] for row in acc])
    best = np.array([[a.max() if a.size else np.nan for a in row] for row in acc])
    result = DepthResult(sizes=nets, seeds=seed_values, epochs=int(epochs),
                         last_accuracy=last, best_accuracy=best, results=grid,
                         settings=settings)
    if out_dir is not None:
        write_depth(result, out_dir, figures=figures, formats=formats)
    return result
