"""The unstable gradient as a phase diagram: depth × weight scale.

For every depth (hidden layers of 30), weight scale s (weights N(0, s²/n_in), biases
N(0, 1)) and seed, the speed of learning of every layer on the embedded 1,000 MNIST images,
at initialisation and, if T > 0, after T epochs of the chapter's full-batch gradient
descent (m = 1,000, η = 0.1, λ = 5.0). The summary is the median over seeds of
log10(speed of hidden 1 ÷ speed of the last hidden layer): negative where the gradient
vanishes, positive where it explodes, 0 on the line of balance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._validation import validated
from .book import chapter5_sizes
from .jobs import Data, Job, fingerprint, seed_list
from .output import write_phase
from .results import PhaseResult
from .runner import check_sweep_size, sweep
from .speeds import embedded_or
from .store import hold_folder

__all__ = ["phase", "PHASE_DEPTHS", "PHASE_SCALES"]

PathLike = str | os.PathLike[str]

#: Default depths (numbers of hidden layers) of :func:`phase`.
PHASE_DEPTHS: tuple[int, ...] = tuple(range(1, 11))
#: Default weight scales of :func:`phase`: 0.25, 0.5, 1, 2, …, 32.
PHASE_SCALES: tuple[float, ...] = tuple(2.0 ** e for e in range(-2, 6))


@validated("experiments.phase")
def phase(depths: Sequence[int] = PHASE_DEPTHS, scales: Sequence[float] = PHASE_SCALES, *,
          seeds: int | Sequence[int] = 5, epochs: int = 0, eta: float = 0.1,
          lmbda: float = 5.0, data: Data | None = None, out_dir: PathLike | None = None,
          figures: bool = True, n_jobs: int | None = None, scheduler: Any = None,
          force: bool = False, progress: bool = True) -> PhaseResult:
    """Every layer's learning speed over depth × weight scale × seed.

    Parameters
    ----------
    depths : sequence of int
        Numbers of hidden layers of 30 neurons (default 1 … 10).
    scales : sequence of float
        Weight scales s (default 0.25, 0.5, 1, …, 32); s = 1 is the default initialisation.
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 5) or the seeds.
    epochs : int
        T: also measure after T epochs of full-batch gradient descent (0: initialisation
        only).
    eta, lmbda : float
        Of that training (the chapter's 0.1 and 5.0).
    data : (X, y) or None
        Default: the embedded first 1,000 MNIST training images.
    out_dir : path or None
        Results folder (checked first; each job stored as it finishes, skipped on a
        rerun); at the end ``phase.csv`` (tidy: ``depth,scale,seed,epoch,layer,speed``),
        ``phase.json`` and ``phase.png`` (:func:`gradcore.experiments.output.write_phase`).
    figures : bool
        Draw the heat map when writing to ``out_dir``.
    n_jobs, scheduler, force, progress
        As for :func:`gradcore.experiments.chapter5`.

    Returns
    -------
    PhaseResult
        ``log_ratio(epoch)`` is the heat map's (depths × scales) table.
    """
    d_list, s_list, T = list(depths), list(scales), epochs  # checked by the table
    check_sweep_size(len(d_list) * len(s_list) * (seeds if isinstance(seeds, int)
                                                  else len(seeds)))
    seed_values = seed_list(seeds)
    X, y = embedded_or(data)
    jobs = [Job(sizes=tuple(chapter5_sizes(d)), seed=seed, epochs=T, init=s, eta=float(eta),
                lmbda=float(lmbda)) for d in d_list for s in s_list for seed in seed_values]
    settings = {"depths": d_list, "scales": s_list, "seeds": seed_values, "epochs": T,
                "eta": float(eta), "lmbda": float(lmbda), "batch_size": len(X),
                "data_fingerprint": fingerprint({"train": (X, y)}),
                "gradcore_version": __version__}
    lock = hold_folder(out_dir)  # from the first job to the last file written
    results = sweep("phase", settings, jobs, {"train": (X, y)}, out_dir=out_dir,
                    force=force, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    cells = [(d, s) for d in d_list for s in s_list]
    result = PhaseResult(depths=d_list, scales=s_list, seeds=seed_values, epochs=T,
                         results={c: results[i * K:(i + 1) * K] for i, c in enumerate(cells)},
                         settings=settings)
    if out_dir is not None:
        write_phase(result, out_dir, figures=figures)
    lock.release()  # (or when lock is garbage, if this raised)
    return result
