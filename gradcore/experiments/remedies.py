"""The remedies of the unstable gradient, side by side on the chapter's net.

The chapter's [784,30,30,30,30,10] (sigmoid output, cross-entropy) is trained under each
named remedy of :data:`REMEDIES` (an activation, an initialisation, an update) with the
same data, the same number of updates and the same learning rate, over K seeds. For every
remedy and seed it measures

* the ratio of the first hidden layer's speed of learning ‖mean δ¹‖ to the last hidden
  layer's, at initialisation and after training;
* the same ratio of the per-example gradient rms;
* the mean-field theory's prediction of the rms ratio at initialisation
  (:func:`gradcore.theory.predicted_ratios` on the initial network, the product of its
  per-layer ratios);
* the accuracy on held-out images after every epoch.

The remedies and their papers:

* ``book``: sigmoid, weights N(0, 1/n_in), biases N(0, 1), plain SGD (Nielsen 2015,
  "Neural Networks and Deep Learning", chapter 5);
* ``sigmoid+glorot``, ``tanh+glorot``, ``softsign+glorot``, ``tanh+glorot_standard``:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
  neural networks" (the normalized and the standard initialisation; softsign from the same
  paper);
* ``sigmoid+orthogonal``: Saxe, McClelland & Ganguli (2014), "Exact solutions to the
  nonlinear dynamics of learning in deep linear neural networks";
* ``relu+he``, ``prelu+he``: He, Zhang, Ren & Sun (2015), "Delving deep into
  rectifiers"; ``leaky_relu+he``: Maas, Hannun & Ng (2013), "Rectifier nonlinearities
  improve neural network acoustic models"; ``elu+he``: Clevert, Unterthiner & Hochreiter
  (2016), "Fast and accurate deep network learning by exponential linear units (ELUs)";
* ``sigmoid+momentum``, ``sigmoid+nesterov``, ``sigmoid+sparse+nesterov``: Sutskever,
  Martens, Dahl & Hinton (2013), "On the importance of initialization and momentum in deep
  learning" (classical momentum 0.9; Nesterov's accelerated gradient with their schedule
  rising to μ_max = 0.99; their sparse initialisation);
* ``sigmoid+clipping``: Pascanu, Mikolov & Bengio (2013), "On the difficulty of training
  recurrent neural networks";
* ``sigmoid+dropout``: Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014),
  "Dropout: a simple way to prevent neural networks from overfitting".

The training is the same for all (:func:`remedies`' defaults): mini-batches of m = 10,
η = 0.1, λ = 0, for E epochs. The updates with momentum take η·(1 − 0.9) = 0.01 instead:
classical momentum μ moves the weights by η/(1 − μ) times the gradient once its velocity
has built up, so with η = 0.01 and μ = 0.9 its steady step is plain SGD's. Any gain it
shows is then the smoothing and the acceleration along consistent directions, not a
larger learning rate in disguise. Sutskever's schedule starts at μ = 0.5 (a step of half
plain SGD's) and rises by one step every 250 updates (0.75, 0.833, 0.875, 0.9, …).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import __version__
from .._validation import validated
from .book import chapter5_sizes
from .jobs import Data, Job, check_remedy, fingerprint, seed_list
from .output import write_remedies
from .results import RemediesResult, Remedy
from .runner import sweep

__all__ = ["remedies", "Remedy", "REMEDIES", "DEFAULT_REMEDIES", "RemediesResult",
           "remedy_jobs", "check_remedy_names", "REMEDIES_SIZES", "MOMENTUM_ETA_FACTOR"]

PathLike = str | os.PathLike[str]

#: The chapter's net: 4 hidden layers of 30.
REMEDIES_SIZES: tuple[int, ...] = tuple(chapter5_sizes(4))

#: The learning rate of the updates with momentum, as a fraction of plain SGD's: 1 − 0.9.
MOMENTUM_ETA_FACTOR = 0.1

_NAG = {"momentum": 0.99, "nesterov": True, "schedule": "sutskever"}


_GLOROT = ("Glorot & Bengio 2010, Understanding the difficulty of training deep "
           "feedforward neural networks")
_SUTSKEVER = ("Sutskever, Martens, Dahl & Hinton 2013, On the importance of initialization "
              "and momentum in deep learning")
_HE = "He, Zhang, Ren & Sun 2015, Delving deep into rectifiers"

#: Every named remedy, in the order they are run and listed.
REMEDIES: dict[str, Remedy] = {r.name: r for r in (
    Remedy("book", {}, "Nielsen 2015, Neural Networks and Deep Learning, chapter 5"),
    Remedy("sigmoid+glorot", {"init": "glorot"}, _GLOROT),
    Remedy("sigmoid+orthogonal", {"init": "orthogonal"},
           "Saxe, McClelland & Ganguli 2014, Exact solutions to the nonlinear dynamics of "
           "learning in deep linear neural networks"),
    Remedy("tanh+glorot_standard", {"activation": "tanh", "init": "glorot_standard"},
           _GLOROT),
    Remedy("tanh+glorot", {"activation": "tanh", "init": "glorot"}, _GLOROT),
    Remedy("softsign+glorot", {"activation": "softsign", "init": "glorot"}, _GLOROT),
    Remedy("relu+he", {"activation": "relu", "init": "he"}, _HE),
    Remedy("leaky_relu+he", {"activation": "leaky_relu", "init": "he"},
           "Maas, Hannun & Ng 2013, Rectifier nonlinearities improve neural network "
           "acoustic models"),
    Remedy("elu+he", {"activation": "elu", "init": "he"},
           "Clevert, Unterthiner & Hochreiter 2016, Fast and accurate deep network "
           "learning by exponential linear units (ELUs)"),
    Remedy("prelu+he", {"activation": "prelu", "init": "he"}, _HE),
    Remedy("sigmoid+momentum", {"momentum": 0.9}, _SUTSKEVER),
    Remedy("sigmoid+nesterov", dict(_NAG), _SUTSKEVER),
    Remedy("sigmoid+sparse+nesterov", {"init": "sparse", **_NAG}, _SUTSKEVER),
    Remedy("sigmoid+clipping", {"clip_norm": 1.0},
           "Pascanu, Mikolov & Bengio 2013, On the difficulty of training recurrent "
           "neural networks"),
    Remedy("sigmoid+dropout", {"dropout": 0.2},
           "Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014, Dropout: a "
           "simple way to prevent neural networks from overfitting"),
)}

#: The remedies run by default: all of them.
DEFAULT_REMEDIES: tuple[str, ...] = tuple(REMEDIES)


def check_remedy_names(names: Any) -> list[str]:
    """``names`` (a sequence of names of :data:`REMEDIES`, or one comma-separated string)
    as a list, checked: an unknown or repeated name raises ValueError listing the
    choices."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    if isinstance(names, (bytes, Mapping)) or not isinstance(names, Sequence):
        raise TypeError(f"remedies must be a sequence of remedy names, got "
                        f"{type(names).__name__}")
    out = []
    for i, n in enumerate(names):
        if not isinstance(n, str) or n not in REMEDIES:
            raise ValueError(f"remedies[{i}] must be one of {', '.join(REMEDIES)}, "
                             f"got {n!r}")
        if n in out:
            raise ValueError(f"remedies must not repeat a name, got {n!r} twice")
        out.append(n)
    if not out:
        raise ValueError(f"remedies must not be empty (the choices: {', '.join(REMEDIES)})")
    return out


def _catalogue(remedies: Any, sizes: Sequence[int]) -> list[Remedy]:
    """The remedies to run: names of :data:`REMEDIES`, or a mapping of new names to
    remedy fields (checked with :func:`~gradcore.experiments.jobs.check_remedy`)."""
    if isinstance(remedies, Mapping):
        if not remedies:
            raise ValueError("remedies must not be empty")
        out = []
        for name, fields in remedies.items():
            if not isinstance(name, str) or not name or "," in name:
                raise ValueError(f"a remedy's name must be a non-empty string without "
                                 f"commas, got {name!r}")
            try:
                checked = check_remedy(fields, sizes)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"remedy {name!r}: {exc}") from None
            if checked.get("output", "sigmoid") != "sigmoid":
                raise ValueError(f"remedy {name!r}: every remedy keeps the book's sigmoid "
                                 f"output and cross-entropy, got output "
                                 f"{checked['output']!r}")
            out.append(Remedy(name, dict(fields or {}), "user-defined"))
        return out
    return [REMEDIES[n] for n in check_remedy_names(remedies)]


def remedy_jobs(remedies: Sequence[Remedy], seeds: Sequence[int], *, sizes: Sequence[int],
                epochs: int, batch_size: int, eta: float, momentum_eta: float,
                lmbda: float) -> list[Job]:
    """One job per remedy and seed (remedy-major): trained on ``"train"``, evaluated on
    ``"heldout"`` after every epoch; the remedies with momentum at ``momentum_eta``."""
    jobs = []
    for r in remedies:
        fields = check_remedy(r.fields, sizes)
        fields.pop("cost", None)
        for s in seeds:
            jobs.append(Job(sizes=tuple(sizes), seed=int(s), epochs=int(epochs),
                            batch_size=int(batch_size),
                            eta=float(momentum_eta if r.momentum else eta),
                            lmbda=float(lmbda), evaluation="heldout", **fields))
    return jobs


def _embedded_split(heldout: int) -> tuple[Data, Data]:
    from ..datasets import mnist_first_1000

    X, y = mnist_first_1000()
    return (X[:-heldout], y[:-heldout]), (X[-heldout:], y[-heldout:])


def _predicted(job: Job, X: np.ndarray) -> float:
    """The theory's rms ratio, first ÷ last hidden layer, of the job's initial network."""
    from ..theory import predicted_ratios

    try:
        per_layer = predicted_ratios(job.network(), X)
    except ValueError:
        return float("nan")
    value = float(np.prod(per_layer))
    return value if np.isfinite(value) else float("nan")


@validated("experiments.remedies")
def remedies(remedies: Any = DEFAULT_REMEDIES, *, seeds: int | Sequence[int] = 3,
             epochs: int = 30, batch_size: int = 10, eta: float = 0.1,
             momentum_eta: float | None = None, lmbda: float = 0.0,
             sizes: Sequence[int] = REMEDIES_SIZES, data: Any = None,
             path: PathLike | None = None, heldout: int = 200,
             out_dir: PathLike | None = None, figures: bool = True,
             formats: Sequence[str] = ("png",), n_jobs: int | None = None,
             scheduler: Any = None, force: bool = False,
             progress: bool = True) -> RemediesResult:
    """The chapter's net under every named remedy of the unstable gradient, over seeds.

    Each remedy (an activation, an initialisation, an update; see :data:`REMEDIES` and the
    module's docstring for the papers) is trained with every seed, all side by side as
    jobs of the runner. The ratios are hidden layer 1 ÷ the last hidden layer: below 1 the
    first layer learns slower (the vanishing gradient), 1 is balance.

    Parameters
    ----------
    remedies : sequence of str, or mapping of str to mapping
        Names of :data:`REMEDIES` (default: all of them, in that order), or new remedies:
        ``{"tanh+orthogonal": {"activation": "tanh", "init": "orthogonal"}}`` (fields of
        :data:`~gradcore.experiments.jobs.REMEDY_FIELDS`; the output stays the book's
        sigmoid).
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 3) or the seeds.
    epochs, batch_size, eta, lmbda
        E epochs (default 30) of mini-batches of m = 10 at η = 0.1 with λ = 0, the same for
        every remedy.
    momentum_eta : float or None
        η of the remedies with momentum; None: η·(1 − 0.9) (0.01), so that classical
        momentum 0.9's steady step is plain SGD's (see the module's docstring).
    sizes : sequence of int
        The net, 784 inputs, 10 outputs and at least 2 hidden layers (default
        [784,30,30,30,30,10]).
    data : object with ``training`` and ``validation`` (X, y) pairs, or None
        Full MNIST (e.g. :func:`gradcore.datasets.load_mnist`): train on ``training``, the
        accuracy on ``validation``. None and no ``path``: the embedded first 1,000 MNIST
        training images, trained on the first 1000 − ``heldout`` and the accuracy on the
        last ``heldout``.
    path : path or None
        A folder of the four MNIST IDX files (read with :func:`gradcore.datasets.load_mnist`).
    heldout : int
        Images of the embedded 1,000 held out for the accuracy (default 200).
    out_dir : path or None
        Results folder (checked first; each job stored as it finishes, skipped on a rerun);
        at the end ``remedies.csv``, ``remedies_speeds.csv``, ``remedies.json`` and the
        figures ``remedies.png`` (the ranking) and ``remedies_speeds.png`` (each remedy's
        per-layer speeds) (:func:`gradcore.experiments.output.write_remedies`).
    figures, formats, n_jobs, scheduler, force, progress
        As for :func:`gradcore.experiments.chapter5` (``remedies.parquet``).

    Returns
    -------
    RemediesResult

    Raises
    ------
    ValueError, TypeError
        An unknown remedy name (the message lists the choices), a bad remedy field, bad
        sizes or settings: before any training.
    """
    if len(sizes) < 4:
        raise ValueError(f"sizes must have at least 2 hidden layers (a ratio of the first "
                         f"to the last), got {list(sizes)}")
    catalogue = _catalogue(remedies, sizes)
    seed_values = seed_list(seeds)
    if data is None and path is None:
        if heldout >= 1000:
            raise ValueError(f"heldout must be below 1000 (the embedded images), got "
                             f"{heldout}")
        train_data, heldout_data = _embedded_split(heldout)
        described = (f"first {1000 - heldout} of the embedded 1,000 MNIST training images; "
                     f"accuracy on the last {heldout}")
    else:
        from .mnist import load_mnist_data

        mnist = load_mnist_data(data, path)
        train_data, heldout_data = mnist.training, mnist.validation
        described = (f"MNIST: {len(train_data[1])} training images; accuracy on the "
                     f"{len(heldout_data[1])} validation images")
    m_eta = float(eta) * MOMENTUM_ETA_FACTOR if momentum_eta is None else float(momentum_eta)
    jobs = remedy_jobs(catalogue, seed_values, sizes=sizes, epochs=epochs,
                       batch_size=batch_size, eta=eta, momentum_eta=m_eta, lmbda=lmbda)
    sets = {"train": train_data, "heldout": heldout_data}
    settings = {
        "sizes": list(sizes), "seeds": seed_values, "epochs": int(epochs),
        "batch_size": int(batch_size), "eta": float(eta), "momentum_eta": m_eta,
        "lmbda": float(lmbda), "data": described, "data_fingerprint": fingerprint(sets),
        "remedies": {r.name: {**jobs[i * len(seed_values)].remedy_json(),
                              "eta": jobs[i * len(seed_values)].eta, "paper": r.paper}
                     for i, r in enumerate(catalogue)},
        "gradcore_version": __version__,
    }
    results = sweep("remedies", settings, jobs, sets, out_dir=out_dir, force=force,
                    n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K = len(seed_values)
    X = np.ascontiguousarray(train_data[0], dtype=np.float64)
    by_name = {r.name: results[i * K:(i + 1) * K] for i, r in enumerate(catalogue)}
    predicted = {r.name: np.array([_predicted(j, X) for j in jobs[i * K:(i + 1) * K]])
                 for i, r in enumerate(catalogue)}
    result = RemediesResult(remedies=catalogue, seeds=seed_values, results=by_name,
                            predicted=predicted, settings=settings)
    if out_dir is not None:
        write_remedies(result, out_dir, figures=figures, formats=formats)
    return result
