"""Which nets train: test accuracy after T steps over weight variance × depth, with the depth
scale of mean-field theory over it.

Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation"
(ICLR), found that a random net trains only if signals can cross it: roughly, if its depth
is below 6·ξ_c, where ξ_c (:func:`gradcore.theory.depth_scales`) is the number of layers
over which two inputs' correlation relaxes. ξ_c diverges at the critical line χ₁ = 1, so
only near it do very deep nets train. Their experiments: tanh, σ_b² = 0.05, σ_w² from 1 to
4, width 300, depths from 10 to 300, on MNIST and CIFAR-10, trained with SGD and with
RMSProp.

Here: tanh (or any activation of the core) with weights N(0, σ_w²/n_in) and biases
N(0, σ_b²) (:class:`gradcore.Gaussian`), a softmax output with the log-likelihood cost,
plain mini-batch SGD, on MNIST. The default is sized for a laptop: width 100, 2 to 30
hidden layers, σ_w² from 0.25 to 4, 300 steps of 20 images from the embedded 1,000 (the
first 800 to train on, the last 200 to test). In 300 steps the deepest nets near the
critical point have not trained yet: the region that trains grows with the steps toward
depth 6·ξ_c, as in the paper's figure. :data:`PAPER` is the paper's size on full MNIST, a
job for a cluster.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from .._validation import validated
from .jobs import Data, Job, JobResult, check_remedy, fingerprint, seed_list
from .phase import check_memory
from .runner import sweep

__all__ = ["trainability", "TrainabilityResult", "TRAIN_WEIGHT_VARS", "TRAIN_DEPTHS", "PAPER",
           "write_trainability"]

PathLike = str | os.PathLike[str]

#: Default σ_w² of :func:`trainability`: the paper's 1 to 4 and below it, where the ordered
#: phase's short depth scale brings the boundary 6·ξ_c within the default depths.
TRAIN_WEIGHT_VARS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: Default numbers of hidden layers of :func:`trainability`.
TRAIN_DEPTHS: tuple[int, ...] = (2, 5, 10, 15, 20, 30)
#: The paper's size (Schoenholz et al. 2017): width 300, depths 10 to 300, σ_w² 1 to 4,
#: σ_b² = 0.05, tanh; use with full MNIST (``data``) on a cluster (``scheduler``).
PAPER: dict[str, Any] = {
    "weight_vars": tuple(1.0 + 0.25 * k for k in range(13)),
    "depths": (10, 25, 50, 75, 100, 150, 200, 250, 300),
    "width": 300, "bias_var": 0.05, "activation": "tanh", "steps": 3000,
    "batch_size": 128,
}


@dataclass
class TrainabilityResult:
    """What :func:`trainability` computed (and wrote).

    Attributes
    ----------
    depths : list of int
    weight_vars : list of float
    seeds : list of int
    accuracy : ndarray (depths, weight_vars, seeds)
        Test accuracy (a fraction) after the last step; NaN for a training that diverged.
    steps : int
        The SGD steps each net took (whole epochs of the training data).
    theory : dict
        :func:`gradcore.experiments.meanfield.theory_overlay`: the critical σ_w² and ξ_c
        per column.
    results : dict of (depth, weight_var) to list of JobResult
    """

    depths: list[int]
    weight_vars: list[float]
    seeds: list[int]
    accuracy: np.ndarray
    steps: int
    theory: dict[str, Any]
    results: dict[tuple[int, float], list[JobResult]] = field(repr=False,
                                                              default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, pathlib.Path] = field(default_factory=dict)

    def median(self) -> np.ndarray:
        """(depths, weight_vars): the median test accuracy over seeds (NaN if one is)."""
        return np.asarray(np.median(self.accuracy, axis=2))

    def trainable_depth(self) -> list[float | None]:
        """6·ξ_c per σ_w²: the depth below which the paper expects a net to train (None
        where the theory has no fixed point; inf at the critical point)."""
        return [None if x is None else 6.0 * x for x in self.theory["xi_c"]]


def _split(data: Any) -> tuple[Data, Data, str]:
    """(training, test, description) of ``data``: None (the embedded 1,000 images, 800 to
    train and 200 to test), an object with ``training`` and ``test`` pairs
    (:func:`gradcore.datasets.load_mnist`) or a pair of (X, y) pairs."""
    from .. import datasets

    if data is None:
        X, y = datasets.mnist_first_1000()
        return (X[:800], y[:800]), (X[800:], y[800:]), \
            "the embedded first 1,000 MNIST training images: 800 to train, 200 to test"
    if hasattr(data, "training") and hasattr(data, "test"):
        return tuple(data.training), tuple(data.test), "MNIST: training set, test set"
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in data):
        return tuple(data[0]), tuple(data[1]), "user data"
    raise TypeError(f"data must be None, an MNIST data set (gradcore.datasets.load_mnist) or "
                    f"a pair ((X_train, y_train), (X_test, y_test)), got "
                    f"{type(data).__name__}")


@validated("experiments.trainability")
def trainability(weight_vars: Sequence[float] = TRAIN_WEIGHT_VARS,
                 depths: Sequence[int] = TRAIN_DEPTHS, *, activation: str = "tanh",
                 bias_var: float = 0.05, width: int = 100, steps: int = 300,
                 batch_size: int = 20, eta: float = 0.05, seeds: int | Sequence[int] = 1,
                 data: Any = None, out_dir: PathLike | None = None, figures: bool = True,
                 n_jobs: int | None = None, scheduler: Any = None, force: bool = False,
                 progress: bool = True, formats: Sequence[str] = ("png",)
                 ) -> TrainabilityResult:
    """Test accuracy after ``steps`` of SGD over σ_w² × depth (Schoenholz et al. 2017).

    Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation":
    nets train where their depth is below about 6·ξ_c. Each cell is a net of ``depth``
    hidden layers of ``width`` with ``activation``, weights N(0, σ_w²/n_in) and biases
    N(0, ``bias_var``) (:class:`gradcore.Gaussian`), a softmax output with the
    log-likelihood cost, trained by mini-batch SGD (no weight decay) for ``steps`` steps of
    ``batch_size`` images, then tested.

    Parameters
    ----------
    weight_vars : sequence of float
        σ_w², the columns (default 0.25, 0.5, 1, 1.5, 2, 3, 4).
    depths : sequence of int
        Numbers of hidden layers, the rows (default 2, 5, 10, 15, 20, 30).
    activation : str
        The hidden layers' activation (``"tanh"``, as the paper).
    bias_var : float
        σ_b² (0.05, as the paper).
    width : int
        Neurons per hidden layer (100; the paper's is 300).
    steps, batch_size, eta
        SGD: steps are taken in whole passes over the training data, so the steps taken
        are ``steps`` rounded up to a whole number of epochs (reported in the result).
    seeds : int or sequence of int
        K (seeds 0 … K−1, default 1) or the seeds.
    data : None, MNIST data, or ((X_train, y_train), (X_test, y_test))
        None: the embedded first 1,000 MNIST training images, the first 800 to train on
        and the last 200 to test on. ``gradcore.datasets.load_mnist()``: its 50,000
        training and 10,000 test images.
    out_dir, figures, n_jobs, scheduler, force, progress, formats
        As for :func:`gradcore.experiments.phase`; the files are ``trainability.csv``
        (tidy: ``depth,weight_var,seed,steps,test_accuracy,training_cost``),
        ``trainability.json`` and the heat map ``trainability.png`` with the curve
        depth = 6·ξ_c and the critical line.

    Returns
    -------
    TrainabilityResult

    Raises
    ------
    ValueError
        For a bad argument (a variance that is not finite, a depth below 1), or a sweep
        that would not fit in memory (:func:`gradcore.experiments.phase.check_memory`).
    """
    from .._init import Gaussian
    from .meanfield import theory_overlay

    wv_list, d_list = list(weight_vars), list(depths)
    seed_values = seed_list(seeds)
    train_set, test_set, described = _split(data)
    n_train = len(train_set[0])
    per_epoch = math.ceil(n_train / batch_size)
    epochs = max(1, math.ceil(steps / per_epoch))
    jobs = []
    for d in d_list:
        sizes = (int(train_set[0].shape[1]), *([width] * d), 10)
        choices = check_remedy({"activation": activation, "output": "softmax"}, sizes)
        jobs += [Job(sizes=sizes, seed=seed, epochs=epochs, batch_size=int(batch_size),
                     eta=float(eta), lmbda=0.0, evaluation="test",
                     **{**choices, "init": Gaussian(w, bias_var)})
                 for w in wv_list for seed in seed_values]
    check_memory(jobs, n_train, n_jobs, scheduler)
    sets = {"train": train_set, "test": test_set}
    settings = {"weight_vars": wv_list, "depths": d_list, "activation": activation,
                "bias_var": float(bias_var), "width": int(width), "steps": epochs * per_epoch,
                "steps_asked": int(steps), "batch_size": int(batch_size), "eta": float(eta),
                "lmbda": 0.0, "output": "softmax", "cost": "log_likelihood",
                "seeds": seed_values, "data": described, "data_fingerprint": fingerprint(sets),
                "gradcore_version": __version__}
    results = sweep("trainability", settings, jobs, sets, out_dir=out_dir, force=force,
                    n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    K, W = len(seed_values), len(wv_list)
    grid: dict[tuple[int, float], list[JobResult]] = {}
    acc = np.full((len(d_list), W, K), np.nan)
    for i, d in enumerate(d_list):
        for j, w in enumerate(wv_list):
            start = (i * W + j) * K
            grid[(d, w)] = results[start:start + K]
            for k, r in enumerate(grid[(d, w)]):
                a = r.evaluation_accuracy
                if r.ok and a is not None and len(a):
                    acc[i, j, k] = float(a[-1])
    result = TrainabilityResult(depths=d_list, weight_vars=wv_list, seeds=seed_values,
                                accuracy=acc, steps=epochs * per_epoch,
                                theory=theory_overlay(activation, bias_var, wv_list),
                                results=grid, settings=settings)
    if out_dir is not None:
        write_trainability(result, out_dir, figures=figures, formats=formats)
    return result


def write_trainability(result: TrainabilityResult, folder: PathLike, *,
                       figures: bool = True, formats: Sequence[str] = ("png",)
                       ) -> dict[str, pathlib.Path]:
    """Write ``trainability.csv``, ``trainability.json`` (settings, the median accuracy,
    null where a training diverged, and the theory) and ``trainability.png``, as one
    set."""
    from .meanfield import for_figure, for_json
    from .output import (
        _csv_bytes,
        _described,
        _figures,
        _json_bytes,
        _num,
        finite_or_none,
        publish,
    )

    rows = ([d, _num(w), seed, result.steps, _num(result.accuracy[i, j, k]),
             _num(r.training_cost[-1]) if len(r.training_cost) else "nan"]
            for i, d in enumerate(result.depths) for j, w in enumerate(result.weight_vars)
            for k, (seed, r) in enumerate(zip(result.seeds, result.results[(d, w)])))
    doc = {"experiment": "gradcore phase --trainability: test accuracy after training over "
                         "weight variance x depth (Schoenholz et al. 2017)",
           "settings": dict(result.settings), "depths": result.depths,
           "weight_vars": result.weight_vars,
           "median_test_accuracy": finite_or_none(result.median().tolist()),
           "theory": for_json(result.theory)}
    files = {"trainability.csv": ("test accuracy per depth, weight variance and seed (tidy "
                                  "CSV)",
                                  _csv_bytes(["depth", "weight_var", "seed", "steps",
                                              "test_accuracy", "training_cost"], rows)),
             "trainability.json": ("settings, the median accuracy and the theory (JSON)",
                                   _json_bytes(doc))}
    if figures:
        from .. import plotting

        s = result.settings
        fig = plotting.trainability_figure(
            result.depths, result.weight_vars, result.median(), theory=for_figure(
                {**result.theory, "multiples": [6.0]}),
            title=f"test accuracy (%) after {result.steps} steps: {s['activation']}, width "
                  f"{s['width']}, σ_b² = {s['bias_var']:g}, median of {len(result.seeds)}")
        files.update(_described("figure: test accuracy over depth x weight variance",
                                _figures("trainability", fig, formats)))
    return publish(folder, files, result.paths)
