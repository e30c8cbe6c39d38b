"""Momentum and initialisation in deep sigmoid nets: Sutskever, Martens, Dahl & Hinton
(2013), "On the importance of initialization and momentum in deep learning" (ICML).

The paper trains deep sigmoid nets from random initialisations with SGD, classical momentum
(CM: v ← μv − ηg(θ), θ ← θ + v) and Nesterov's accelerated gradient (NAG: the gradient
taken at θ + μv), with the momentum rising on the schedule
μₜ = min(1 − 2^(−1 − log₂(⌊t/250⌋ + 1)), μ_max) and lowered to 0.9 for the last 1,000
updates, from Martens's (2010) sparse initialisation (15 nonzero N(0, 1) weights into each
unit, biases 0). Its Table 1 reports, for the MNIST autoencoder 784-1000-500-250-30 with its
mirror (sigmoid units, a linear 30-unit code layer, cross-entropy on the pixels, 750,000
updates of 200 images), the training set's squared reconstruction error (per image, summed
over the 784 pixels, averaged over the images): 2.1 with SGD, 0.77 with CM and 0.73 with
NAG at μ_max = 0.99.

:func:`momentum` runs every update × initialisation × seed as one job of the runner
(:mod:`gradcore.experiments.runner`). Its default is a set-up that runs here in about a
minute; the paper's is ``setup="table1"``, a job for a Dask cluster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from .._band import band
from .._validation import validated
from .jobs import Data, Job, JobResult, fingerprint, seed_list
from .output import _csv_bytes, _described, _figures, _json_bytes, _num, publish
from .runner import sweep
from .speeds import embedded_or

__all__ = ["momentum", "momentum_jobs", "MomentumResult", "MOMENTUM_METHODS",
           "MOMENTUM_INITS", "MOMENTUM_SETUPS", "SUTSKEVER_TABLE1"]

PathLike = str | os.PathLike[str]

#: The updates compared: plain SGD, classical momentum and Nesterov's accelerated gradient.
MOMENTUM_METHODS: tuple[str, ...] = ("sgd", "momentum", "nesterov")
#: The initialisations compared: Martens's sparse one and the book's Gaussian N(0, 1/n_in).
MOMENTUM_INITS: tuple[str, ...] = ("sparse", "default")

#: The paper's Table 1, MNIST autoencoder, training squared reconstruction error at
#: μ_max = 0.99 (SGD: μ = 0), each with its best learning rate and the sparse init.
SUTSKEVER_TABLE1: dict[str, float] = {"sgd": 2.1, "momentum": 0.77, "nesterov": 0.73}

_TABLE1_ENCODER = (784, 1000, 500, 250, 30)
_SMALL_ENCODER = (784, 100, 50, 25, 10)


def _autoencoder(encoder: Sequence[int]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """An encoder's sizes with its mirror, and the hidden activations: sigmoid, except a
    linear code layer (Hinton & Salakhutdinov 2006)."""
    sizes = tuple(encoder) + tuple(reversed(encoder))[1:]
    hidden = len(sizes) - 2
    code = len(encoder) - 2
    return sizes, tuple("linear" if i == code else "sigmoid" for i in range(hidden))


#: Each set-up's net, data and training; ``epochs`` × updates per epoch is the updates.
MOMENTUM_SETUPS: dict[str, dict[str, Any]] = {
    "deep": {"sizes": (784,) + (30,) * 8 + (10,), "activation": "sigmoid",
             "autoencoder": False, "batch_size": 100, "epochs": 200, "eta": 0.05,
             "final_updates": 100,
             "description": "sigmoid [784, 30x8, 10] on the first 1,000 MNIST training "
                            "images (embedded), digit labels"},
    "autoencoder": {**dict(zip(("sizes", "activation"), _autoencoder(_SMALL_ENCODER))),
                    "autoencoder": True, "batch_size": 100, "epochs": 200, "eta": 0.01,
                    "final_updates": 100,
                    "description": "autoencoder 784-100-50-25-10 and its mirror on the "
                                   "first 1,000 MNIST training images (embedded)"},
    "table1": {**dict(zip(("sizes", "activation"), _autoencoder(_TABLE1_ENCODER))),
               "autoencoder": True, "batch_size": 200, "epochs": 2500, "eta": 0.005,
               "final_updates": 1000,
               "description": "the paper's Table 1: autoencoder 784-1000-500-250-30 and "
                              "its mirror on the 60,000 MNIST training images, 750,000 "
                              "updates of 200 images"},
}


@dataclass
class MomentumResult:
    """What :func:`momentum` measured.

    Attributes
    ----------
    setup : str
    inits, methods : list of str
    seeds : list of int
    results : dict of (init, method) to list of JobResult
        One per seed, in the order of ``seeds``.
    updates_per_epoch : int
    settings : dict
    paths : dict of str to path
        What was written (description → path), filled by the writer.
    """

    setup: str
    inits: list[str]
    methods: list[str]
    seeds: list[int]
    results: dict[tuple[str, str], list[JobResult]]
    updates_per_epoch: int
    settings: dict[str, Any]
    paths: dict[str, Any] = field(default_factory=dict)

    def costs(self, init: str, method: str) -> np.ndarray:
        """(seeds, epochs) training cost after each epoch; NaN after a divergence."""
        epochs = int(self.settings["epochs"])
        out = np.full((len(self.seeds), epochs), np.nan)
        for i, r in enumerate(self.results[init, method]):
            c = np.asarray(r.training_cost, dtype=np.float64)
            out[i, :len(c)] = c
        return out

    def squared_errors(self, init: str, method: str) -> np.ndarray:
        """(seeds,) mean squared error Σⱼ(aⱼ − yⱼ)² per example at the final weights (NaN
        for a training that diverged)."""
        return np.array([r.squared_error if r.ok and r.squared_error is not None else np.nan
                         for r in self.results[init, method]])

    def table(self) -> list[dict[str, Any]]:
        """Per initialisation and method: the final training cost and squared error, median
        and 10–90 % band over seeds, the diverged seeds, and the paper's number."""
        rows = []
        for init in self.inits:
            for method in self.methods:
                cost = self.costs(init, method)[:, -1]
                sq = self.squared_errors(init, method)
                ok = np.isfinite(sq)
                c_mid, c_lo, c_hi = (band(cost[ok]) if ok.any() else (np.nan,) * 3)
                s_mid, s_lo, s_hi = (band(sq[ok]) if ok.any() else (np.nan,) * 3)
                paper = SUTSKEVER_TABLE1[method] if init == "sparse" else None
                rows.append({"init": init, "method": method, "cost": _finite(c_mid),
                             "cost_p10": _finite(c_lo), "cost_p90": _finite(c_hi),
                             "squared_error": _finite(s_mid), "squared_error_p10": _finite(s_lo),
                             "squared_error_p90": _finite(s_hi),
                             "diverged": int((~ok).sum()), "paper_table1": paper})
        return rows

    @property
    def failures(self) -> list[JobResult]:
        """The trainings that diverged."""
        return [r for rs in self.results.values() for r in rs if not r.ok]


def _finite(x: Any) -> float | None:
    return float(x) if np.isfinite(x) else None


def momentum_jobs(setup: str, seeds: Sequence[int], *, epochs: int, eta: float,
                  batch_size: int, mu_max: float = 0.99, final_momentum: float | None = 0.9,
                  final_updates: int = 1000, methods: Sequence[str] = MOMENTUM_METHODS,
                  inits: Sequence[str] = MOMENTUM_INITS) -> list[Job]:
    """The jobs of :func:`momentum`, init-major, then method, then seed."""
    spec = MOMENTUM_SETUPS[setup]
    jobs = []
    for init in inits:
        for method in methods:
            update: dict[str, Any] = {}
            if method != "sgd":
                update = {"momentum": float(mu_max), "nesterov": method == "nesterov",
                          "schedule": "sutskever", "final_momentum": final_momentum,
                          "final_updates": int(final_updates)}
            jobs += [Job(sizes=tuple(spec["sizes"]), seed=s, epochs=int(epochs), init=init,
                         cost="cross_entropy", batch_size=int(batch_size), eta=float(eta),
                         lmbda=0.0, data="autoencoder" if spec["autoencoder"] else "train",
                         activation=spec["activation"], squared_error=True, **update)
                     for s in seeds]
    return jobs


@validated("experiments.momentum")
def momentum(out_dir: PathLike | None = None, *, setup: str = "deep",
             seeds: int | Sequence[int] = 5, seed: int = 0, epochs: int | None = None,
             eta: float | None = None, batch_size: int | None = None, mu_max: float = 0.99,
             final_momentum: float | None = 0.9, final_updates: int | None = None,
             methods: Sequence[str] = MOMENTUM_METHODS,
             inits: Sequence[str] = MOMENTUM_INITS, data: Any = None,
             path: PathLike | None = None, figures: bool = True, n_jobs: int | None = None,
             scheduler: Any = None, force: bool = False, progress: bool = True,
             formats: Sequence[str] = ("png",)) -> MomentumResult:
    """SGD, classical momentum and Nesterov's accelerated gradient with Sutskever's
    schedule, from the sparse and from a Gaussian initialisation, over seeds.

    Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization and
    momentum in deep learning". Every (initialisation, update, seed) is one job of the
    runner; the training cost after every epoch and the squared error Σⱼ(aⱼ − yⱼ)² per
    example at the end are recorded. For an autoencoder the latter is the paper's measure,
    the squared reconstruction error per image; its Table 1 is quoted beside
    (:data:`SUTSKEVER_TABLE1`), measured on its own set-up.

    Parameters
    ----------
    out_dir : path or None
        If given: the results folder, created and checked before any training; each
        finished training is stored at once (a stopped run resumes). At the end it receives
        ``momentum.csv`` (tidy: init, method, seed, epoch, updates, training_cost),
        ``momentum.json`` (the settings and the table) and, with ``figures``, the figure
        ``momentum.png`` (training cost against updates, median and 10–90 % band).
    setup : ``"deep"``, ``"autoencoder"`` or ``"table1"``
        ``"deep"`` (default): sigmoid [784, 30×8, 10] on the embedded 1,000 images with
        their labels, 200 epochs of mini-batches of 100 (2,000 updates), η = 0.05.
        ``"autoencoder"``: 784-100-50-25-10 and its mirror (linear code layer), targets =
        inputs, same data and updates, η = 0.01. ``"table1"``: the paper's
        784-1000-500-250-30 autoencoder and its mirror on the 60,000 MNIST training images
        (``data`` or ``path``), 2,500 epochs of 200 images (750,000 updates), η = 0.005: a
        job for a Dask cluster (``scheduler``), some 10¹⁵ multiply-adds per training.
    seeds : int or sequence of int
        K (seeds ``seed`` … ``seed`` + K − 1) or the seeds (default 5).
    seed : int
        The first seed when ``seeds`` is a number.
    epochs, eta, batch_size : int, float, int or None
        None: the set-up's. The learning rate is the same for every update, so the
        comparison is at a fixed η (the paper took the best η of each).
    mu_max : float in (0, 1)
        The schedule's largest μ (0.99, the paper's best for MNIST).
    final_momentum, final_updates : float or None, int or None
        μ for the last ``final_updates`` updates (the paper: 0.9 for the last 1,000 of
        750,000; the small set-ups: for the last 100 of 2,000, None: the set-up's);
        ``final_momentum=None`` keeps the schedule to the end.
    methods : sequence of ``"sgd"``, ``"momentum"``, ``"nesterov"``
    inits : sequence of initialisations
        Names :class:`gradcore.Network` takes; default ``("sparse", "default")``: Martens's
        sparse init against the Gaussian N(0, 1/n_in) weights and N(0, 1) biases.
    data : (X, y) or object with ``training`` and ``validation`` pairs, or None
        ``"deep"``/``"autoencoder"``: an (X, y) pair (default: the embedded 1,000 images).
        ``"table1"``: MNIST as :func:`gradcore.datasets.load_mnist` gives it (default: that
        of ``path``); its training and validation images together are the 60,000.
    figures, formats, n_jobs, scheduler, force, progress
        As for :func:`gradcore.experiments.chapter5`.

    Returns
    -------
    MomentumResult
    """
    from .._update import Update
    from .jobs import check_remedy

    spec = MOMENTUM_SETUPS[setup]
    methods, inits = list(methods), list(inits)
    if mu_max >= 1.0:
        raise ValueError(f"mu_max must be < 1, got {mu_max!r}")
    final_updates = int(spec["final_updates"] if final_updates is None else final_updates)
    Update.check(mu_max, True, "sutskever", final_momentum, final_updates)
    for init in inits:  # every init checked before any training
        check_remedy({"init": init}, spec["sizes"])
    X, y = _setup_data(setup, data, path)
    sets = {"autoencoder": (X, X)} if spec["autoencoder"] else {"train": (X, y)}
    epochs = int(spec["epochs"] if epochs is None else epochs)
    eta = float(spec["eta"] if eta is None else eta)
    batch_size = int(spec["batch_size"] if batch_size is None else batch_size)
    seed_values = seed_list(seeds, seed)
    jobs = momentum_jobs(setup, seed_values, epochs=epochs, eta=eta, batch_size=batch_size,
                         mu_max=mu_max, final_momentum=final_momentum,
                         final_updates=final_updates, methods=methods, inits=inits)
    per_epoch = -(-len(X) // batch_size)
    settings = {
        "setup": setup, "description": spec["description"], "sizes": list(spec["sizes"]),
        "activation": (spec["activation"] if isinstance(spec["activation"], str)
                       else list(spec["activation"])),
        "output": "sigmoid", "cost": "cross_entropy", "seeds": seed_values,
        "methods": methods, "inits": inits, "epochs": epochs, "batch_size": batch_size,
        "updates": epochs * per_epoch, "eta": eta, "lmbda": 0.0, "mu_max": float(mu_max),
        "schedule": "sutskever", "final_momentum": final_momentum,
        "final_updates": int(final_updates), "n_examples": len(X),
        "data_fingerprint": fingerprint(sets), "gradcore_version": __version__,
    }
    results = sweep("momentum", settings, jobs, sets, out_dir=out_dir, force=force,
                    n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    grid = {}
    i = 0
    for init in inits:
        for method in methods:
            grid[init, method] = results[i:i + K]
            i += K
    result = MomentumResult(setup=setup, inits=inits, methods=methods, seeds=seed_values,
                            results=grid, updates_per_epoch=per_epoch, settings=settings)
    if out_dir is not None:
        write_momentum(result, out_dir, figures=figures, formats=formats)
    return result


def _setup_data(setup: str, data: Any, path: PathLike | None) -> Data:
    if setup != "table1":
        if path is not None:
            raise ValueError(f"path is for setup='table1' (full MNIST), got setup={setup!r}")
        return embedded_or(data)
    from .mnist import load_mnist_data

    mnist = load_mnist_data(data, path)
    X = np.concatenate([mnist.training[0], mnist.validation[0]])
    y = np.concatenate([mnist.training[1], mnist.validation[1]])
    return X, y


def momentum_csv(result: MomentumResult) -> bytes:
    """Tidy ``init,method,seed,epoch,updates,training_cost``: one row per completed epoch."""
    rows = ([init, method, r.job.seed, e + 1, (e + 1) * result.updates_per_epoch, _num(c)]
            for (init, method), rs in result.results.items() for r in rs
            for e, c in enumerate(np.asarray(r.training_cost, dtype=np.float64)))
    return _csv_bytes(["init", "method", "seed", "epoch", "updates", "training_cost"], rows)


def write_momentum(result: MomentumResult, folder: PathLike, *, figures: bool = True,
                   formats: Sequence[str] = ("png",)) -> dict[str, Any]:
    """Write ``momentum.csv``, ``momentum.json`` and the figure, as one set; returns (and
    records in ``result.paths``) description → path."""
    doc = {"experiment": "gradcore momentum: Sutskever, Martens, Dahl & Hinton (2013), "
                         "training cost and squared error per example, median and 10-90 % "
                         "band over seeds",
           "settings": dict(result.settings),
           "paper_table1": {"what": "MNIST autoencoder 784-1000-500-250-30 and its mirror, "
                                    "training squared reconstruction error per image, "
                                    "mu_max = 0.99, 750,000 updates of 200 images",
                            **SUTSKEVER_TABLE1},
           "table": result.table()}
    files = {"momentum.csv": ("training cost per init, method, seed and epoch (tidy CSV)",
                              momentum_csv(result)),
             "momentum.json": ("settings and the table (JSON)", _json_bytes(doc))}
    if figures:
        from .. import plotting

        curves = {init: {m: result.costs(init, m) for m in result.methods}
                  for init in result.inits}
        x = np.arange(1, int(result.settings["epochs"]) + 1) * result.updates_per_epoch
        fig = plotting.momentum_figure(x, curves, title=result.settings["description"])
        files.update(_described("figure: training cost against updates, per init and "
                                 "method", _figures("momentum", fig, formats)))
    return publish(folder, files, result.paths)
