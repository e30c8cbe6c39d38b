"""The unstable gradient as a phase diagram: depth × weight scale (or weight variance).

For every depth (hidden layers of 30), weight scale s (weights N(0, s²/n_in), biases
N(0, 1)) or weight variance σ_w² (weights N(0, σ_w²/n_in), biases N(0, σ_b²)) and seed, the
speed of learning and the gradient rms of every layer on the embedded 1,000 MNIST images,
at initialisation and, if T > 0, after T epochs of the chapter's full-batch gradient
descent (m = 1,000, η = 0.1, λ = 5.0). The summary is the median over seeds of
log10(speed of hidden 1 ÷ speed of the last hidden layer): negative where the gradient
vanishes, positive where it explodes, 0 on the line of balance.

Over it the figure draws mean-field theory (Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli
2016, "Exponential expressivity in deep neural networks through transient chaos";
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, "Deep information propagation"): the
critical line χ₁ = 1 and the curves depth = ξ_c and depth = 6·ξ_c
(:mod:`gradcore.experiments.meanfield`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import __version__
from .._validation import validated
from .book import chapter5_sizes
from .jobs import Data, Job, check_remedy, fingerprint, seed_list
from .output import write_phase
from .results import PhaseResult
from .runner import check_sweep_size, sweep
from .speeds import embedded_or
from .store import hold_folder

__all__ = ["phase", "PHASE_DEPTHS", "PHASE_SCALES", "check_memory", "job_bytes"]

PathLike = str | os.PathLike[str]

#: Default depths (numbers of hidden layers) of :func:`phase`.
PHASE_DEPTHS: tuple[int, ...] = tuple(range(1, 11))
#: Default weight scales of :func:`phase`: 0.25, 0.5, 1, 2, …, 32.
PHASE_SCALES: tuple[float, ...] = tuple(2.0 ** e for e in range(-2, 6))


@validated("experiments.phase")
def phase(depths: Sequence[int] = PHASE_DEPTHS, scales: Sequence[float] | None = None, *,
          weight_vars: Sequence[float] | str | None = None, bias_var: float | None = None,
          seeds: int | Sequence[int] = 5, epochs: int = 0, eta: float = 0.1,
          lmbda: float = 5.0, data: Data | None = None, out_dir: PathLike | None = None,
          figures: bool = True, n_jobs: int | None = None, scheduler: Any = None,
          force: bool = False, progress: bool = True,
          formats: Sequence[str] = ("png",),
          remedy: Mapping[str, Any] | None = None) -> PhaseResult:
    """Every layer's learning speed and gradient rms over depth × weight scale × seed.

    Parameters
    ----------
    depths : sequence of int
        Numbers of hidden layers of 30 neurons (default 1 … 10).
    scales : sequence of float or None
        Weight scales s (default 0.25, 0.5, 1, …, 32); s = 1 is the default initialisation.
    weight_vars : sequence of float, "critical" or None
        Instead of ``scales``: weight variances σ_w², each cell initialised as
        :class:`gradcore.Gaussian` ``(σ_w², bias_var)``, the parametrisation of mean-field
        theory. ``"critical"``: σ_c²·2^k for k = −3 … 3 around the critical point of the
        activation and ``bias_var`` (:func:`gradcore.theory.critical_weight_var`; refused
        where there is none, as for ReLU with bias_var > 0).
    bias_var : float or None
        σ_b² of the biases (None: 1, the book's N(0, 1)). With ``scales`` and a bias_var
        other than None, each cell is ``Gaussian(s², bias_var)``.
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
        rerun); at the end ``phase.csv`` (tidy: ``depth,scale,seed,epoch,layer,speed,rms``,
        with ``weight_var`` for ``scale`` when that is the axis), ``phase.json`` and
        ``phase.png`` (:func:`gradcore.experiments.output.write_phase`).
    figures : bool
        Draw the heat map when writing to ``out_dir``.
    n_jobs, scheduler, force, progress, formats
        As for :func:`gradcore.experiments.chapter5` (``phase.parquet``).
    remedy : mapping or None
        As for :func:`gradcore.experiments.chapter5`, but for ``init``: the weight scale is
        this diagram's axis. ``{"init": "orthogonal"}`` makes the axis an orthogonal
        matrix's gain s (:class:`gradcore.Orthogonal` ``(s, 1.0)``: biases N(0, 1) as the
        book's) instead of the Gaussian N(0, s²/n_in). ``{"activation": "tanh"}`` sets the
        hidden layers' activation (and the theory drawn).

    Returns
    -------
    PhaseResult
        ``log_ratio(epoch)`` is the heat map's (depths × scales) table,
        ``log_ratio(epoch, "rms")`` the same of the gradient rms.

    Raises
    ------
    ValueError
        For a bad argument; for both ``scales`` and ``weight_vars``; for ``"critical"``
        where there is no critical point; for a sweep whose jobs would not fit in this
        machine's memory (``check_memory``, naming the limit).
    """
    d_list, T = list(depths), epochs  # checked by the table
    seed_values = seed_list(seeds)
    X, y = embedded_or(data)
    others = {k: v for k, v in (remedy or {}).items() if k != "init"}
    choices = {d: check_remedy(others, chapter5_sizes(d)) for d in d_list}
    family = str((remedy or {}).get("init", "gaussian"))
    if family not in ("gaussian", "orthogonal"):
        raise ValueError(f"init of a phase diagram must be 'gaussian' or 'orthogonal' (the "
                         f"weight scale is the axis), got {family!r}")
    axis, s_list, init = _axis(scales, weight_vars, bias_var, family,
                               others.get("activation", "sigmoid"))
    check_sweep_size(len(d_list) * len(s_list) * (seeds if isinstance(seeds, int)
                                                  else len(seeds)))
    b = 1.0 if bias_var is None else float(bias_var)
    jobs = [Job(sizes=tuple(chapter5_sizes(d)), seed=seed, epochs=T, eta=float(eta),
                lmbda=float(lmbda), **{**choices[d], "init": init(s)})
            for d in d_list for s in s_list for seed in seed_values]
    check_memory(jobs, len(X), n_jobs, scheduler)
    settings = {"depths": d_list, "scales": s_list, "seeds": seed_values, "epochs": T,
                "eta": float(eta), "lmbda": float(lmbda), "batch_size": len(X),
                "data_fingerprint": fingerprint({"train": (X, y)}),
                "gradcore_version": __version__}
    if axis != "scale" or bias_var is not None:
        settings.update({"axis": axis, "bias_var": b})
    remedy_fields = {k: v for k, v in jobs[0].remedy_json().items() if k != "init"}
    if remedy_fields or family != "gaussian":
        settings["remedy"] = {**remedy_fields, "init": family}
    lock = hold_folder(out_dir)  # from the first job to the last file written
    results = sweep("phase", settings, jobs, {"train": (X, y)}, out_dir=out_dir,
                    force=force, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    cells = [(d, s) for d in d_list for s in s_list]
    result = PhaseResult(depths=d_list, scales=s_list, seeds=seed_values, epochs=T,
                         results={c: results[i * K:(i + 1) * K] for i, c in enumerate(cells)},
                         settings=settings, axis=axis)
    if out_dir is not None:
        write_phase(result, out_dir, figures=figures, formats=formats)
    lock.release()  # (or when lock is garbage, if this raised)
    return result


def job_bytes(job: Job, n_examples: int) -> int:
    """A bound on the memory one job takes while it runs, in bytes: its parameters, their
    gradient and the optimizer's state (4 copies), and every layer's pre-activations,
    activations and δ for all ``n_examples`` at once (the speeds and the rms are measured on
    the whole data in one pass), all float64."""
    from .._layout import param_count

    units = sum(job.sizes[1:]) + job.sizes[0]
    return 8 * (4 * param_count(job.sizes) + 3 * n_examples * units)


def _memory_limit() -> int | None:
    """Memory this machine has available (MemAvailable), else its physical memory; None if
    neither is known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_memory(jobs: Sequence[Job], n_examples: int, n_jobs: int | None = None,
                 scheduler: Any = None, *, limit: int | None = None) -> None:
    """Refuse, before any work, a sweep whose jobs would not fit in memory.

    The jobs that run side by side here (``n_jobs``, default one per core; one on a Dask
    cluster, whose workers are elsewhere) each take :func:`job_bytes`; the results of all
    jobs are kept (their speeds and rms, a few numbers a layer and epoch). Their sum must
    be below ``limit`` (default: the memory this machine has available).

    Raises
    ------
    ValueError
        Naming what the sweep needs and the limit.
    """
    if not jobs:
        return
    limit = _memory_limit() if limit is None else limit
    if limit is None:  # pragma: no cover - an unknown machine
        return
    from .runner import default_jobs

    side = 1 if scheduler is not None else min(n_jobs or default_jobs(), len(jobs))
    running = sorted((job_bytes(j, n_examples) for j in jobs), reverse=True)[:side]
    kept = sum(8 * 6 * (len(j.sizes) - 1) * (j.epochs + 2) for j in jobs)
    need = sum(running) + kept
    if need > limit:
        biggest = max(jobs, key=lambda j: job_bytes(j, n_examples))
        raise ValueError(
            f"this sweep would need about {_gib(need)} of memory ({len(jobs)} jobs; the "
            f"largest, {len(biggest.sizes) - 2} hidden layers of "
            f"{max(biggest.sizes[1:-1], default=0)}, takes {_gib(job_bytes(biggest, n_examples))} "
            f"on {n_examples} examples, {side} side by side), more than the limit of "
            f"{_gib(limit)} available: fewer or shallower layers, fewer jobs side by side "
            f"(n_jobs) or a cluster (scheduler)")


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def _axis(scales: Sequence[float] | None, weight_vars: Any, bias_var: float | None,
          family: str, activation: Any) -> tuple[str, list[float], Callable[[float], Any]]:
    """The diagram's axis (``"scale"`` or ``"weight_var"``), its values, and the
    initialisation of a cell from its value: a scale s (N(0, s²/n_in), biases N(0, 1); with
    ``bias_var``, Gaussian(s², bias_var)), an orthogonal matrix's gain s, or a weight
    variance (Gaussian(σ_w², bias_var))."""
    b = 1.0 if bias_var is None else float(bias_var)
    if weight_vars is None:
        values = list(PHASE_SCALES if scales is None else scales)
        if family == "orthogonal":
            return "scale", values, lambda s: _init_of("orthogonal", s, b)
        return "scale", values, (lambda s: s) if bias_var is None else (
            lambda s: _init_of("gaussian", s * s, b))
    if scales is not None:
        raise ValueError("give scales or weight_vars, not both: each is the diagram's axis")
    if family != "gaussian":
        raise ValueError("weight_vars are the variances of Gaussian weights; with init "
                         "'orthogonal' the axis is the gain (scales)")
    if isinstance(weight_vars, str):
        if weight_vars != "critical" or not isinstance(activation, str):
            raise ValueError(f"weight_vars must be a sequence of variances or 'critical' "
                             f"(with one activation), got {weight_vars!r}")
        from .meanfield import critical_grid

        weight_vars = critical_grid(activation, b)
    return "weight_var", list(weight_vars), lambda w: _init_of("gaussian", w, b)


def _init_of(kind: str, value: float, bias_var: float) -> Any:
    from .._init import Gaussian, Orthogonal

    return Gaussian(value, bias_var) if kind == "gaussian" else Orthogonal(value, bias_var)
