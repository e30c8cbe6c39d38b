"""The chapter's learning-speed experiment, over seeds: 2, 3 and 4 hidden layers of 30.

For each net and seed: the speed of every layer at initialisation, then ``epochs`` of
full-batch gradient descent on the first 1,000 MNIST training images (m = 1,000, η = 0.1,
λ = 5.0), recording the speeds before each epoch's update, as the book's
``generate_gradient.py``. All the trainings are independent jobs of the runner
(:mod:`gradcore.experiments.runner`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from .._validation import validated
from .book import CHAPTER5_HIDDEN, chapter5_sizes
from .jobs import Data, Job, check_remedy, fingerprint, seed_list
from .output import write_chapter5
from .results import Chapter5Result, SpeedsOverSeeds
from .runner import check_sweep_size, sweep
from .speeds import embedded_or
from .store import hold_folder

__all__ = ["chapter5", "chapter5_jobs"]

PathLike = str | os.PathLike[str]


def chapter5_jobs(seeds: Sequence[int], *, epochs: int = 500, eta: float = 0.1,
                  lmbda: float = 5.0, hidden: Sequence[int] = CHAPTER5_HIDDEN,
                  width: int = 30, remedy: Mapping[str, Any] | None = None) -> list[Job]:
    """The jobs of :func:`chapter5`: for each number of hidden layers, one per seed."""
    jobs = []
    for k in hidden:
        sizes = tuple(chapter5_sizes(k, width))
        choices = check_remedy(remedy, sizes)
        jobs += [Job(sizes=sizes, seed=s, epochs=int(epochs), batch_size=None,
                     eta=float(eta), lmbda=float(lmbda), deltas=True, **choices)
                 for s in seeds]
    return jobs


@validated("experiments.chapter5")
def chapter5(out_dir: PathLike | None = None, *, seeds: int | Sequence[int] = 1,
             seed: int = 0, epochs: int = 500, eta: float = 0.1, lmbda: float = 5.0,
             hidden: Sequence[int] = CHAPTER5_HIDDEN, width: int = 30,
             data: Data | None = None, figures: bool = True, n_jobs: int | None = None,
             scheduler: Any = None, force: bool = False, progress: bool = True,
             formats: Sequence[str] = ("png",),
             remedy: Mapping[str, Any] | None = None) -> Chapter5Result:
    """The chapter's learning-speed experiments for 2, 3 and 4 hidden layers, over seeds.

    Parameters
    ----------
    out_dir : path or None
        If given: the results folder, created and checked before any training. Each
        finished training is stored there at once (``jobs/``), so a run stopped by Ctrl-C
        resumes; at the end it receives ``speeds_{k}_hidden.csv`` (``seed,epoch,hidden_1,
        …,output``), ``chapter5.json`` and, with ``figures``, the PNG figures
        (:func:`gradcore.experiments.output.write_chapter5`).
    seeds : int or sequence of int
        K (seeds ``seed`` … ``seed`` + K − 1) or the seeds; 1 (default) is the book's
        single run.
    seed : int
        The first seed when ``seeds`` is a number.
    epochs, eta, lmbda
        Default 500, 0.1, 5.0, as in the book; full-batch gradient descent.
    hidden : sequence of int
        Numbers of hidden layers, default (2, 3, 4).
    width : int
        Neurons per hidden layer (30).
    data : (X, y) or None
        Default: the embedded first 1,000 MNIST training images.
    figures : bool
        Draw the PNG figures when writing to ``out_dir``.
    n_jobs, scheduler
        Where the trainings run (:func:`gradcore.experiments.runner.run_jobs`): default
        one thread per core of this machine.
    force : bool
        Replace results of other settings found in ``out_dir`` instead of refusing them.
        Other seeds alone are not other settings: the trainings of the seeds already in
        ``out_dir`` are kept and only the new seeds run (e.g. ``seeds=8`` after the
        default 1 trains seeds 1 to 7).
    progress : bool
        A progress bar over the trainings (on a terminal).
    formats : sequence of str
        What to write besides CSV and JSON: the figures in each of ``"png"``, ``"svg"``,
        ``"pdf"`` listed (PNG if none is), and ``chapter5.parquet`` if ``"parquet"`` is
        listed (the ``pandas`` extra).
    remedy : mapping or None
        The network's and the update's choices beside the book's sigmoid net and plain SGD
        (:data:`gradcore.experiments.jobs.REMEDY_FIELDS`: ``activation``, ``output``,
        ``init``, ``momentum``, ``nesterov``, ``schedule``, ``clip_norm``, ``dropout``),
        e.g. ``{"activation": "relu", "init": "he"}``; checked before any training.

    Returns
    -------
    Chapter5Result
        ``nets[k]``: the speeds of every seed of the net with k hidden layers.
    """
    check_sweep_size(len(hidden) * (seeds if isinstance(seeds, int) else len(seeds)))
    X, y = embedded_or(data)
    seed_values = seed_list(seeds, seed)
    jobs = chapter5_jobs(seed_values, epochs=epochs, eta=eta, lmbda=lmbda, hidden=hidden,
                         width=width, remedy=remedy)
    settings = _settings(seed_values, epochs, eta, lmbda, list(hidden), width, (X, y), data)
    if jobs and jobs[0].remedy():
        settings["remedy"] = jobs[0].remedy_json()
    lock = hold_folder(out_dir)  # from the first job to the last file written
    results = sweep("chapter5", settings, jobs, {"train": (X, y)}, out_dir=out_dir,
                    force=force, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    nets = {k: SpeedsOverSeeds(sizes=jobs[i * K].sizes, seeds=seed_values,
                               results=results[i * K:(i + 1) * K])
            for i, k in enumerate(hidden)}
    result = Chapter5Result(nets=nets, settings=settings)
    if out_dir is not None:
        write_chapter5(result, out_dir, figures=figures, formats=formats)
    lock.release()  # (or when lock is garbage, if this raised)
    return result


def _settings(seeds: list[int], epochs: int, eta: float, lmbda: float, hidden: list[int],
              width: int, data: Data, given: Data | None) -> dict[str, Any]:
    return {
        "seeds": seeds, "epochs": int(epochs), "eta": float(eta), "lmbda": float(lmbda),
        "batch_size": len(data[0]), "n_examples": len(data[0]),
        "data": ("first 1,000 MNIST training images (embedded)" if given is None
                 else "user data"),
        "data_fingerprint": fingerprint({"train": data}),
        "cost": "cross_entropy", "init": "default",
        "sizes": {str(k): chapter5_sizes(k, width) for k in hidden},
        "gradcore_version": __version__,
    }
