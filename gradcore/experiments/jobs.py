"""One training job: what to train (a :class:`Job`) and what it measured (a :class:`JobResult`).

A job names its data set by key (``"train"``, ``"validation"``, …); the runner
(:mod:`gradcore.experiments.runner`) hands :func:`run_job` the arrays, so a job spec is a
few numbers that cross a network cheaply and the data crosses at most once per worker.
:func:`run_job` runs the kernels of its job on one thread (no nested parallelism), so the
same job gives the same bits on any backend and with any number of jobs side by side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .._core import StopFlag, thread_limit
from .._errors import DivergenceError
from .._layout import param_count
from .._network import Network, speeds_of
from .._training import History, Probe, train

__all__ = ["Data", "Job", "JobResult", "run_job", "mean_deltas", "fingerprint", "prepare_data",
           "seed_list", "REMEDY_FIELDS", "check_remedy", "squared_error"]

Data = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Job:
    """One independent training run.

    Attributes
    ----------
    sizes : tuple of int
        Layer sizes, e.g. ``(784, 30, 30, 10)``.
    seed : int
        Seeds the initialisation (``Network(sizes, seed=seed)``) and train()'s shuffling.
    epochs : int
        Epochs of training (0: measure at initialisation only).
    init : str, float, Gaussian or Orthogonal
        ``"default"``, ``"large"``, a weight scale s (weights N(0, s²/n_in)), or any other
        initialisation :class:`gradcore.Network` takes.
    cost : str or None
        ``"cross_entropy"``, ``"quadratic"`` or ``"log_likelihood"``; None: the output's.
    activation, output : str (or a tuple of str), str
        The hidden layers' activation(s) and the output layer (:class:`gradcore.Network`).
    momentum, nesterov, schedule, clip_norm, dropout
        The update (:func:`gradcore.train`'s ``momentum``, ``nesterov``,
        ``momentum_schedule``, ``clip_norm`` and ``dropout``).
    batch_size : int or None
        Mini-batch size; None: the whole data set (full-batch gradient descent).
    eta, lmbda : float
        Learning rate and L2 strength.
    data : str
        Key of the training data in the mapping given to the runner.
    evaluation : str or None
        Key of the data to evaluate on after every epoch (accuracy and cost), or None.
    deltas : bool
        Record the initial mean δ of every neuron (:attr:`JobResult.initial_deltas`).
    final_momentum, final_updates : float or None, int
        μ for the last ``final_updates`` updates (:func:`gradcore.train`'s; None: no change).
    squared_error : bool
        Record the mean over the training examples of ‖output − target‖² at the final
        weights (:attr:`JobResult.squared_error`): an autoencoder's squared reconstruction
        error when the targets are the inputs.
    probe : str or None
        Key of fixed probe examples: their hidden activations' statistics are recorded
        every ``probe_every`` updates (:attr:`JobResult.probe`, Glorot & Bengio 2010).
    probe_every : int
        Mini-batch updates between probe records (with ``probe``).
    jacobian : int
        At the initial weights, on the first ``jacobian`` probe examples (else training
        examples), record the Jacobians' singular values (:attr:`JobResult.jacobian`,
        :attr:`JobResult.layer_jacobian`); 0: none.
    """

    sizes: tuple[int, ...]
    seed: int
    epochs: int = 0
    init: Any = "default"
    cost: str | None = "cross_entropy"
    batch_size: int | None = None
    eta: float = 0.1
    lmbda: float = 5.0
    data: str = "train"
    evaluation: str | None = None
    deltas: bool = False
    activation: str | tuple[str, ...] = "sigmoid"
    output: str = "sigmoid"
    momentum: float = 0.0
    nesterov: bool = False
    schedule: str | None = None
    clip_norm: float | None = None
    dropout: float = 0.0
    final_momentum: float | None = None
    final_updates: int = 1000
    squared_error: bool = False
    probe: str | None = None
    probe_every: int = 0
    jacobian: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; :meth:`from_dict` gives the job back."""
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        d["init"] = _init_to_json(self.init)
        if isinstance(self.activation, tuple):
            d["activation"] = list(self.activation)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        """The job of :meth:`to_dict` (a job file of an earlier gradcore, without the
        remedies' fields, is the book's net and SGD)."""
        d = dict(d)
        if isinstance(d.get("activation"), list):
            d["activation"] = tuple(d["activation"])
        if "init" in d:
            d["init"] = _init_from_json(d["init"])
        return cls(**{**d, "sizes": tuple(int(s) for s in d["sizes"])})

    def label(self) -> str:
        """A short description, e.g. ``[784,30,30,10] init 1 seed 3``."""
        extra = "".join(f" {k} {v}" for k, v in self.remedy().items() if k != "init")
        return (f"[{','.join(map(str, self.sizes))}] init {self.init}{extra} "
                f"seed {self.seed}")

    def remedy(self) -> dict[str, Any]:
        """The fields of ``REMEDY_FIELDS`` that differ from the book's."""
        book = Job(sizes=self.sizes, seed=0)
        return {k: getattr(self, k) for k in REMEDY_FIELDS
                if getattr(self, k) != getattr(book, k)}

    def remedy_json(self) -> dict[str, Any]:
        """:meth:`remedy` as JSON-ready data (for a sweep's settings)."""
        d = self.to_dict()
        return {k: d[k] for k in self.remedy()}

    def network(self) -> Network:
        """The job's initial network."""
        return Network(self.sizes, activation=self.activation, output=self.output,
                       cost=self.cost, init=self.init, seed=self.seed)

    def cost_estimate(self, n_examples: int) -> float:
        """Relative cost (multiply-adds), to start the longest jobs first."""
        return float(param_count(self.sizes)) * n_examples * (self.epochs + 1)


@dataclass
class JobResult:
    """What one :class:`Job` measured.

    Attributes
    ----------
    job : Job
    initial_speeds : ndarray (n_layers,)
        ‖mean δˡ‖ of every layer with weights at the initial weights, output last.
    final_speeds : ndarray (n_layers,)
        The same at the weights after the last completed epoch (= initial_speeds when
        ``epochs`` is 0).
    speeds : ndarray (epochs_done, n_layers)
        train()'s per-epoch learning speeds (for full-batch gradient descent: the speeds at
        the weights before each epoch's update).
    training_cost : ndarray (epochs_done,)
    evaluation_accuracy : ndarray (epochs_done,) or None
        Fraction correct on the evaluation data after each epoch.
    initial_deltas : list of ndarray or None
        Mean ∂C/∂b per neuron at the initial weights, one array per layer, output last.
    error : str or None
        None if the job completed; else why it stopped (it diverged). The arrays then hold
        the epochs completed before.
    initial_rms, final_rms : ndarray (n_layers,) or None
        The gradient rms √(mean over examples of ‖δˡₓ‖²) of every layer at the initial and
        the final weights (None in results stored by an earlier gradcore).
    gradient_rms : ndarray (epochs_done, n_layers) or None
        train()'s per-epoch gradient rms.
    squared_error : float or None
        With ``job.squared_error``: the mean over the training examples of
        Σⱼ (aⱼ − yⱼ)² at the final weights (else None).
    probe : Probe or None
        The hidden activations' statistics on the probe examples during training
        (:class:`gradcore.Probe`), for a job with ``probe``.
    jacobian : ndarray (k, r) or None
        For a job with ``jacobian`` = k: per example, the singular values (descending) of
        the Jacobian ∂aᴸ/∂x of the last hidden layer's activations with respect to the
        input, at the initial weights.
    layer_jacobian : ndarray (n_hidden - 1,) or None
        The same job's mean singular value of each layer Jacobian ∂zˡ⁺¹/∂zˡ =
        Wˡ⁺¹·diag(φ'(zˡ)) between consecutive hidden layers, averaged over the k examples
        (Glorot & Bengio 2010, section 4.2.2).
    """

    job: Job
    initial_speeds: np.ndarray
    final_speeds: np.ndarray
    speeds: np.ndarray
    training_cost: np.ndarray
    evaluation_accuracy: np.ndarray | None = None
    initial_deltas: list[np.ndarray] | None = field(default=None, repr=False)
    error: str | None = None
    initial_rms: np.ndarray | None = None
    final_rms: np.ndarray | None = None
    gradient_rms: np.ndarray | None = None
    squared_error: float | None = None
    probe: Probe | None = None
    jacobian: np.ndarray | None = None
    layer_jacobian: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """Whether the job completed all its epochs."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (floats round-trip exactly); see :meth:`from_dict`."""
        return {
            "job": self.job.to_dict(),
            "initial_speeds": self.initial_speeds.tolist(),
            "final_speeds": self.final_speeds.tolist(),
            "speeds": self.speeds.tolist(),
            "training_cost": self.training_cost.tolist(),
            "evaluation_accuracy": _list_or_none(self.evaluation_accuracy),
            "initial_deltas": (None if self.initial_deltas is None
                               else [d.tolist() for d in self.initial_deltas]),
            "error": self.error,
            "initial_rms": _list_or_none(self.initial_rms),
            "final_rms": _list_or_none(self.final_rms),
            "gradient_rms": _list_or_none(self.gradient_rms),
            "squared_error": self.squared_error,
            "probe": (None if self.probe is None
                      else {f.name: getattr(self.probe, f.name).tolist()
                            for f in fields(Probe)}),
            "jacobian": _list_or_none(self.jacobian),
            "layer_jacobian": _list_or_none(self.layer_jacobian),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobResult:
        """The result of :meth:`to_dict`; raises KeyError/ValueError on a bad document."""
        job = Job.from_dict(d["job"])
        n_layers = len(job.sizes) - 1
        speeds = np.array(d["speeds"], dtype=np.float64).reshape(-1, n_layers)
        deltas = d["initial_deltas"]
        return cls(
            job=job,
            initial_speeds=_vector(d["initial_speeds"], n_layers),
            final_speeds=_vector(d["final_speeds"], n_layers),
            speeds=speeds,
            training_cost=_vector(d["training_cost"], speeds.shape[0]),
            evaluation_accuracy=(None if d["evaluation_accuracy"] is None
                                 else _vector(d["evaluation_accuracy"], speeds.shape[0])),
            initial_deltas=(None if deltas is None
                            else [np.array(v, dtype=np.float64) for v in deltas]),
            error=d["error"],
            initial_rms=(None if d.get("initial_rms") is None
                         else _vector(d["initial_rms"], n_layers)),
            final_rms=(None if d.get("final_rms") is None
                       else _vector(d["final_rms"], n_layers)),
            gradient_rms=(None if d.get("gradient_rms") is None
                          else np.array(d["gradient_rms"], dtype=np.float64
                                        ).reshape(-1, n_layers)),
            squared_error=(None if d.get("squared_error") is None
                           else float(d["squared_error"])),
            probe=_probe_from(d.get("probe"), n_layers - 1),
            jacobian=(None if d.get("jacobian") is None
                      else np.array(d["jacobian"], dtype=np.float64).reshape(
                          len(d["jacobian"]), -1)),
            layer_jacobian=(None if d.get("layer_jacobian") is None
                            else _vector(d["layer_jacobian"], max(n_layers - 2, 0))))


def _probe_from(d: Mapping[str, Any] | None, n_hidden: int) -> Probe | None:
    if d is None:
        return None
    updates = np.array(d["updates"], dtype=np.int64).reshape(-1)
    stats = {f.name: np.array(d[f.name], dtype=np.float64).reshape(len(updates), n_hidden)
             for f in fields(Probe) if f.name != "updates"}
    return Probe(updates=updates, **stats)


def _list_or_none(a: np.ndarray | None) -> list[float] | None:
    return None if a is None else a.tolist()


def _vector(values: Any, n: int) -> np.ndarray:
    v = np.array(values, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"expected {n} numbers, got shape {v.shape}")
    return v


def prepare_data(data: Mapping[str, Data]) -> dict[str, Data]:
    """The data sets as float64 C-contiguous inputs and int64 labels, checked once.

    Every job then reads these arrays as they are (train() makes no copy of them).
    """
    out = {}
    for key, pair in data.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"data[{key!r}] must be a pair (X, y)")
        X = np.ascontiguousarray(pair[0], dtype=np.float64)
        y = np.ascontiguousarray(pair[1])
        if X.ndim != 2 or len(y) != len(X):
            raise ValueError(f"data[{key!r}]: X must be 2-D with one label per row, got "
                             f"shapes {X.shape} and {y.shape}")
        out[key] = (X, y)
    return out


def fingerprint(data: Mapping[str, Data]) -> str:
    """A digest of the data sets' shapes, types and bytes (to tell data sets apart)."""
    h = hashlib.blake2b(digest_size=16)
    for key in sorted(data):
        for a in data[key]:
            arr = np.ascontiguousarray(a)
            h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(arr.data.cast("B"))
    return h.hexdigest()


def mean_deltas(net: Network, X: np.ndarray, y: np.ndarray
                ) -> tuple[list[np.ndarray], np.ndarray]:
    """The mean δˡ = ∂C/∂bˡ over the data of every neuron at ``net``'s weights (one float64
    array per layer with weights, output last), and the norm of each: the layers' speeds."""
    deltas = [np.array(g, dtype=np.float64) for g in net.gradient(X, y)[1]]
    return deltas, speeds_of(deltas)


#: The fields of a Job that choose a remedy: the network's and the update's.
REMEDY_FIELDS = ("activation", "output", "init", "momentum", "nesterov", "schedule",
                 "clip_norm", "dropout")


def check_remedy(remedy: Mapping[str, Any] | None, sizes: Sequence[int] = (2, 2, 2)
                 ) -> dict[str, Any]:
    """``remedy`` (a mapping of ``REMEDY_FIELDS`` to values, None: the book's) checked
    as :class:`gradcore.Network` and :func:`gradcore.train` check them, before any job runs.
    An activation list must name one activation per hidden layer of ``sizes``."""
    from .._arch import architecture
    from .._update import Update
    from .._validation import CONSTRAINTS

    remedy = dict(remedy or {})
    unknown = sorted(set(remedy) - set(REMEDY_FIELDS))
    if unknown:
        raise ValueError(f"unknown remedy option(s) {unknown}: the options are "
                         f"{', '.join(REMEDY_FIELDS)}")
    if "activation" in remedy and not isinstance(remedy["activation"], str):
        remedy["activation"] = tuple(remedy["activation"])
    architecture(sizes, remedy.get("activation", "sigmoid"), remedy.get("output", "sigmoid"))
    if "init" in remedy:
        remedy["init"] = CONSTRAINTS["Network"]["init"].check("init", remedy["init"])
    Update.check(remedy.get("momentum", 0.0), remedy.get("nesterov", False),
                 remedy.get("schedule"), None, 1000, remedy.get("clip_norm"),
                 remedy.get("dropout", 0.0))
    if remedy.get("output") == "softmax":
        remedy.setdefault("cost", None)
    return remedy


def _init_to_json(init: Any) -> Any:
    if isinstance(init, (str, int, float)):
        return init
    from dataclasses import fields

    return {"kind": type(init).__name__, **{f.name: getattr(init, f.name) for f in fields(init)}}


def _init_from_json(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    from .. import _init

    kind = value["kind"]
    if kind not in ("Gaussian", "Orthogonal"):
        raise ValueError(f"unknown initialisation {kind!r}")
    return getattr(_init, kind)(**{k: v for k, v in value.items() if k != "kind"})


def run_job(job: Job, train_data: Data, evaluation_data: Data | None = None,
            stop: StopFlag | None = None, probe_data: Data | None = None) -> JobResult:
    """Run one job on one kernel thread and return what it measured.

    A divergence does not raise: the result carries the epochs completed and the error.
    ``stop.set()`` from another thread raises :class:`gradcore.Stopped` at the next
    mini-batch. ``probe_data`` is the data of ``job.probe``.
    """
    X, y = train_data
    if job.probe is not None and probe_data is None:
        raise ValueError(f"job {job.label()} names probe data {job.probe!r}: give probe_data")
    with thread_limit(1):
        net = job.network()
        deltas, initial = mean_deltas(net, X, y)
        initial_rms = net.gradient_rms(X, y)
        spectra = layer_means = None
        if job.jacobian:
            from .jacobian import jacobian_spectra

            at = (X if probe_data is None else probe_data[0])[:job.jacobian]
            spectra, layer_means = jacobian_spectra(net, at)
        history, error = _train(net, job, train_data, evaluation_data, stop,
                                None if probe_data is None else probe_data[0])
        final = net.learning_speeds(X, y) if history.epochs else initial
        final_rms = net.gradient_rms(X, y) if history.epochs else initial_rms
        squared = squared_error(net, X, y) if job.squared_error else None
    return JobResult(
        job=job, initial_speeds=initial, final_speeds=final,
        speeds=np.array(history.learning_speeds), training_cost=np.array(history.training_cost),
        evaluation_accuracy=(None if history.evaluation_accuracy is None
                             else np.array(history.evaluation_accuracy)),
        initial_deltas=deltas if job.deltas else None, error=error,
        initial_rms=initial_rms, final_rms=final_rms,
        gradient_rms=(None if history.gradient_rms is None
                      else np.array(history.gradient_rms)),
        squared_error=squared,
        probe=history.probe if job.probe is not None else None,
        jacobian=spectra, layer_jacobian=layer_means)


def squared_error(net: Network, X: np.ndarray, y: np.ndarray) -> float:
    """Mean over the examples of Σⱼ (aⱼ − yⱼ)², the output against the target rows (or the
    one-hot rows of labels), in blocks of 1,000 examples."""
    total = 0.0
    for i in range(0, len(X), 1000):
        a = np.asarray(net.feedforward(X[i:i + 1000]), dtype=np.float64)
        t = np.asarray(y[i:i + 1000])
        if t.ndim == 1:
            t = np.eye(a.shape[1])[t]
        total += float(np.sum((a - t) ** 2))
    return total / len(X)


def _train(net: Network, job: Job, train_data: Data, evaluation_data: Data | None,
           stop: StopFlag | None, probe: np.ndarray | None = None
           ) -> tuple[History, str | None]:
    X, y = train_data
    m = len(X) if job.batch_size is None else job.batch_size
    try:
        result = train(net, X, y, epochs=job.epochs, batch_size=m, eta=job.eta,
                       lmbda=job.lmbda, seed=job.seed, evaluation_data=evaluation_data,
                       stop=stop, momentum=job.momentum, nesterov=job.nesterov,
                       momentum_schedule=job.schedule, clip_norm=job.clip_norm,
                       dropout=job.dropout, final_momentum=job.final_momentum,
                       final_updates=job.final_updates, probe=probe,
                       probe_every=None if probe is None else max(job.probe_every, 1))
    except DivergenceError as exc:
        return exc.history, str(exc)
    return result.history, None


def seed_list(seeds: int | Sequence[int], first: int = 0) -> list[int]:
    """K (meaning seeds first … first+K−1) or the seeds themselves (checked by the table's
    ``Seeds``), as a list."""
    if isinstance(seeds, int):
        return list(range(first, first + seeds))
    return [int(s) for s in seeds]
