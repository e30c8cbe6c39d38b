"""Argument checks, declared once: one table of constraints per public function.

Every public function's scalar and option arguments are declared in :data:`CONSTRAINTS`;
the :func:`validated` decorator checks them (and normalises them: ``np.int64(3)`` becomes
``3``) before the function body runs, so before any kernel runs. A failed check raises
TypeError (a value of the wrong kind) or ValueError (the right kind, a value not allowed)
with a message that names the argument, says what is allowed and what came. The command
line builds its argument types from the same constraint objects (:meth:`Constraint.parse`).

Arrays (inputs X, targets y) have their own checks here, :func:`as_inputs` and
:func:`as_targets`: they depend on the network they go into.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any, ParamSpec, TypeVar

import numpy as np

from ._arch import ACTIVATIONS, OUTPUTS
from ._constraint import Constraint as Constraint  # (re-exported: the rules live there)
from ._constraint import Flag as Flag
from ._constraint import Integer as Integer
from ._constraint import Options as Options
from ._constraint import Real as Real
from ._constraint import _is_int
from ._init import INIT_NAMES, InitSpec
from ._layout import as_aligned, param_count

#: Largest layer accepted (a sanity bound: far beyond any dense sigmoid net one trains).
MAX_LAYER_SIZE = 1 << 20
#: Most layers accepted, inputs and outputs included (the deepest chain experiment has 101).
MAX_LAYERS = 1000
#: Largest number of parameters accepted (8 GiB of float64).
MAX_PARAMS = 1 << 30
#: Most epochs of one training (its history keeps a few numbers per layer and epoch).
MAX_EPOCHS = 1_000_000
#: Most trainings in one sweep of an experiment.
MAX_JOBS = 100_000
#: Most trainings side by side on one machine (a thread each).
MAX_THREADS = 1024

COSTS = ("cross_entropy", "quadratic", "log_likelihood")


class DType(Constraint):
    """numpy.float64 or numpy.float32, as a numpy dtype."""

    description = "float64 or float32"

    def check(self, name: str, value: Any) -> np.dtype[Any]:
        try:
            dt: np.dtype[Any] = np.dtype(value)
        except TypeError as exc:
            raise TypeError(f"{name} must be float64 or float32, got {value!r}") from exc
        if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise TypeError(f"{name} must be float64 or float32, got {dt}")
        return dt


class Sizes(Constraint):
    """Layer sizes: an ordered sequence of at least two positive integers, within limits;
    with ``inputs``/``outputs``, the first and last sizes must be those."""

    description = "a sequence of integers like [784, 30, 10]"

    def __init__(self, inputs: int | None = None, outputs: int | None = None) -> None:
        self.inputs, self.outputs = inputs, outputs

    def check(self, name: str, value: Any) -> tuple[int, ...]:
        sizes = self._check_layers(name, value)
        if ((self.inputs is not None and sizes[0] != self.inputs)
                or (self.outputs is not None and sizes[-1] != self.outputs)):
            raise ValueError(f"{name} must start with {self.inputs} and end with "
                             f"{self.outputs}, got {','.join(map(str, sizes))}")
        return sizes

    def _check_layers(self, name: str, value: Any) -> tuple[int, ...]:
        if (isinstance(value, (str, bytes, Set, Mapping))
                or not isinstance(value, (Sequence, np.ndarray, range))):
            raise self._type_error(name, value)
        sizes = list(value)
        if len(sizes) < 2:
            raise ValueError(f"{name} must have at least 2 layers (inputs and outputs), "
                             f"got {_short(sizes)}")
        if len(sizes) > MAX_LAYERS:
            raise ValueError(f"{name} has {len(sizes)} layers, more than the limit "
                             f"{MAX_LAYERS}")
        for i, s in enumerate(sizes):
            if not _is_int(s):
                raise TypeError(f"{name}[{i}] must be an integer, got {s!r} "
                                f"({type(s).__name__})")
            if s < 1:
                raise ValueError(f"{name}[{i}] must be >= 1, got {s}")
            if s > MAX_LAYER_SIZE:
                raise ValueError(f"{name}[{i}] = {s} is larger than the limit "
                                 f"{MAX_LAYER_SIZE}")
        n_params = param_count(sizes)
        if n_params > MAX_PARAMS:
            raise ValueError(f"{name} {sizes} need {n_params} parameters, more than the "
                             f"limit {MAX_PARAMS}")
        return tuple(int(s) for s in sizes)

    def parse(self, name: str, text: str) -> tuple[int, ...]:
        try:
            sizes = [int(p) for p in text.split(",")]
        except ValueError:
            raise ValueError(f"{name} must be comma-separated integers like 784,30,10, "
                             f"got {text!r}") from None
        return self.check(name, sizes)


class Instance(Constraint):
    """An instance of a class of gradcore's, named as ``"module:Class"`` and imported when
    first needed (so that this module loads without the compiled core)."""

    def __init__(self, where: str, description: str) -> None:
        self.where, self.description = where, description

    def check(self, name: str, value: Any) -> Any:
        module, cls = self.where.split(":")
        if not isinstance(value, getattr(importlib.import_module(module, __package__), cls)):
            raise self._type_error(name, value)
        return value


class IsCallable(Constraint):
    description = "callable"

    def check(self, name: str, value: Any) -> Any:
        if not callable(value):
            raise self._type_error(name, value)
        return value


class NoneOr(Constraint):
    """None, or what ``inner`` allows."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner
        self.description = f"None or {inner.description}"

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.inner.check(name, value)
        except TypeError:  # the wrong kind: say that None would do too
            raise self._type_error(name, value) from None

    def parse(self, name: str, text: str) -> Any:
        return self.inner.parse(name, text)


class Seed(Constraint):
    """None, an integer >= 0, or a numpy SeedSequence."""

    description = "None, an integer >= 0 or a numpy.random.SeedSequence"
    _int = Integer(0)

    def check(self, name: str, value: Any) -> Any:
        if value is None or isinstance(value, np.random.SeedSequence):
            return value
        if not _is_int(value):
            raise self._type_error(name, value)
        return self._int.check(name, value)

    def parse(self, name: str, text: str) -> int:
        return self._int.parse(name, text)


class Seeds(Constraint):
    """K >= 1 seeds (an integer), or a non-empty sequence of distinct seeds >= 0 (a list)."""

    description = "a number of seeds >= 1 or a non-empty sequence of distinct integers >= 0"
    _count = Integer(1, MAX_JOBS)

    def check(self, name: str, value: Any) -> int | list[int]:
        if _is_int(value):
            return self._count.check(name, value)
        return ListOf(Integer(0), distinct=True).check(name, value)

    def parse(self, name: str, text: str) -> int:
        return self._count.parse(name, text)


class ListOf(Constraint):
    """A non-empty sequence of values that ``inner`` allows (distinct if asked), as a list;
    on the command line, comma-separated."""

    def __init__(self, inner: Constraint, *, distinct: bool = False) -> None:
        self.inner, self.distinct = inner, distinct
        self.description = (f"a non-empty sequence of {'distinct ' if distinct else ''}"
                            f"values, each {inner.description}")

    def check(self, name: str, value: Any) -> list[Any]:
        if isinstance(value, (str, bytes, Set, Mapping)) or not isinstance(
                value, (Sequence, np.ndarray, range)):
            raise self._type_error(name, value)
        values = [self.inner.check(f"{name}[{i}]", v) for i, v in enumerate(value)]
        if not values:
            raise ValueError(f"{name} must not be empty")
        if self.distinct and len(set(values)) != len(values):
            raise ValueError(f"{name} must not repeat a value, got {values}")
        return values

    def parse(self, name: str, text: str) -> list[Any]:
        return self.check(name, [self.inner.parse(name, part) for part in text.split(",")])


class HostName(Constraint):
    """A host name or IP address as a browser writes it in a page's address, optionally
    with ``:PORT``: ``dash.lan``, ``192.168.1.5``, ``[fe80::1]:8080`` (an IPv6 address in
    brackets). No wildcards, no scheme or path; returned in lower case."""

    description = ("a host name or IP address, optionally with :PORT (e.g. dash.lan, "
                   "192.168.1.5:8080, [::1]; no wildcards)")
    _label = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._type_error(name, value)
        text = value.strip().lower()
        host, port = text, ""
        if text.startswith("["):
            host, bracket, port = text.partition("]")
            host += bracket
            ok = (bracket == "]" and self._ipv6(host[1:-1])
                  and (port == "" or port.startswith(":")))
            port = port[1:]
        else:
            if ":" in text:
                host, port = text.rsplit(":", 1)
            ok = (0 < len(host) <= 253
                  and all(self._label.fullmatch(p) for p in host.split(".")))
        if port:
            ok = ok and port.isdigit() and port.isascii() and 0 < int(port) <= 65535
        elif text.endswith(":"):
            ok = False
        if not ok:
            raise ValueError(f"{name} must be {self.description}, got {value!r}")
        return f"{host}:{int(port)}" if port else host

    @staticmethod
    def _ipv6(text: str) -> bool:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return True


class HiddenSizes(Constraint):
    """Hidden layer sizes: one integer >= 1, or a sequence of them (possibly empty)."""

    description = "an integer >= 1 or a sequence of them"
    _size = Integer(1)

    def check(self, name: str, value: Any) -> tuple[int, ...]:
        if _is_int(value):
            return (self._size.check(name, value),)
        if isinstance(value, (str, bytes, Set, Mapping)) or not isinstance(
                value, (Sequence, np.ndarray, range)):
            raise self._type_error(name, value)
        return tuple(self._size.check(f"{name}[{i}]", s) for i, s in enumerate(value))


class AutoOr(Constraint):
    """The string ``"auto"`` or what ``inner`` allows (scikit-learn's ``batch_size="auto"``)."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner
        self.description = f"'auto' or {inner.description}"

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            if value != "auto":
                raise ValueError(f"{name} must be {self.description}, got {value!r}")
            return value
        try:
            return self.inner.check(name, value)
        except TypeError:  # the wrong kind: say that "auto" would do too
            raise self._type_error(name, value) from None


class Activation(Constraint):
    """An activation name, or a sequence of one per hidden layer (how many is checked where
    the layers are known), as gradcore's names: each alias becomes the name it stands for."""

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self.aliases = dict(aliases or {})
        self.names = (*ACTIVATIONS, *self.aliases)
        self.description = ("one of " + ", ".join(map(repr, self.names))
                            + " or a sequence of them, one per hidden layer")

    def _one(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.names:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, self.names))}, "
                             f"got {value!r}")
        return self.aliases.get(value, value)

    def check(self, name: str, value: Any) -> str | tuple[str, ...]:
        if isinstance(value, str):
            return self._one(name, value)
        if isinstance(value, (bytes, Set, Mapping)) or not isinstance(
                value, (Sequence, np.ndarray)):
            raise self._type_error(name, value)
        return tuple(self._one(f"{name}[{i}]", v) for i, v in enumerate(value))


class CriticalOr(Constraint):
    """The string ``"critical"`` or what ``inner`` allows (a grid around a critical point)."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner
        self.description = f"'critical' or {inner.description}"

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            if value != "critical":
                raise ValueError(f"{name} must be {self.description}, got {value!r}")
            return value
        return self.inner.check(name, value)

    def parse(self, name: str, text: str) -> Any:
        return self.check(name, text.strip()) if text.strip() == "critical" \
            else self.inner.parse(name, text)


class SameAs(Constraint):
    """Whatever another function's constraint on an argument allows, looked up when a value
    is checked (so it follows that constraint as it grows)."""

    def __init__(self, function: str, argument: str) -> None:
        self.function, self.argument = function, argument

    @property
    def _rule(self) -> Constraint:
        return CONSTRAINTS[self.function][self.argument]

    @property
    def description(self) -> str:  # type: ignore[override]
        return self._rule.description

    def check(self, name: str, value: Any) -> Any:
        return self._rule.check(name, value)

    def parse(self, name: str, text: str) -> Any:
        return self._rule.parse(name, text)


# ------------------------------------------------------------------ the table

SIZES = Sizes()
COST = Options(*COSTS)
INIT = InitSpec()
DTYPE = DType()
SEED = Seed()
EPOCHS = Integer(0)
BATCH_SIZE = Integer(1)
ETA = Real(0.0, strict=True)
LMBDA = Real(0.0, strict=False)
STOP = NoneOr(Instance("._core:StopFlag", "a gradcore.StopFlag"))
#: Nets for MNIST: 784 pixels in, 10 digits out.
MNIST_SIZES = Sizes(inputs=784, outputs=10)
RUN_EPOCHS = Integer(1, MAX_EPOCHS)
#: Neurons in a one-neuron-per-layer chain (beyond 100 the gradients underflow anyway).
CHAIN_DEPTH = Integer(1, 100)
SEEDS = Seeds()
#: Numbers of hidden layers of the nets of an experiment.
HIDDEN_COUNTS = ListOf(Integer(0, MAX_LAYERS - 2), distinct=True)
#: scikit-learn's names of two of gradcore's activations (sklearn.neural_network).
SKLEARN_ACTIVATION_ALIASES = {"logistic": "sigmoid", "identity": "linear"}
#: Host names (and ports) besides its own address that the dashboard answers to.
ORIGINS = NoneOr(ListOf(HostName()))
#: Trainings side by side on this machine (None: one per core).
N_JOBS = NoneOr(Integer(1, MAX_THREADS))
#: The mean-field theory's arguments: an activation, variances of weights and biases, the
#: negative-side slope of a leaky ReLU, a correlation.
_THEORY = {"activation": Options(*ACTIVATIONS), "weight_var": Real(0.0),
           "bias_var": Real(0.0), "slope": NoneOr(Real())}
CORRELATION = Real(-1.0, 1.0)

#: What ``formats`` / ``--format`` lists: figure formats, and parquet (experiments.output).
FORMATS = ListOf(Options("png", "svg", "pdf", "parquet"), distinct=True)

#: The constraints of every public function, by its name.
CONSTRAINTS: dict[str, dict[str, Constraint]] = {
    "Network": {"sizes": SIZES, "cost": NoneOr(COST), "init": INIT, "seed": SEED,
                "dtype": DTYPE},
    "Network.from_params": {"sizes": SIZES, "cost": NoneOr(COST), "dtype": NoneOr(DTYPE)},
    "Network.total_cost": {"lmbda": LMBDA},
    "load": {"dtype": NoneOr(DTYPE)},
    "datasets.load_mnist": {"dtype": DTYPE},
    "datasets.mnist_first_1000": {"dtype": DTYPE},
    "datasets.download_mnist": {"timeout": Real(0.0, strict=True),
                                "deadline": Real(0.0, strict=True)},
    "train": {"epochs": EPOCHS, "batch_size": BATCH_SIZE, "eta": ETA, "lmbda": LMBDA,
              "seed": SEED, "cost": NoneOr(COST), "init": NoneOr(INIT),
              "dtype": NoneOr(DTYPE), "probe_every": NoneOr(Integer(1)),
              "callback": NoneOr(IsCallable()), "stop": STOP},
    "experiments.chapter5": {"seeds": SEEDS, "seed": Integer(0), "epochs": RUN_EPOCHS,
                             "eta": ETA, "lmbda": LMBDA, "hidden": HIDDEN_COUNTS,
                             "width": Integer(1), "n_jobs": N_JOBS, "formats": FORMATS},
    "experiments.depth": {"epochs": RUN_EPOCHS, "seeds": SEEDS, "batch_size": BATCH_SIZE,
                          "eta": ETA, "lmbda": LMBDA, "n_jobs": N_JOBS, "formats": FORMATS},
    "experiments.phase": {"depths": ListOf(Integer(1, MAX_LAYERS - 2), distinct=True),
                          "scales": NoneOr(ListOf(Real(0.0, strict=True), distinct=True)),
                          "weight_vars": NoneOr(CriticalOr(ListOf(Real(0.0, strict=True),
                                                                  distinct=True))),
                          "bias_var": NoneOr(Real(0.0)),
                          "seeds": SEEDS, "epochs": Integer(0, MAX_EPOCHS), "eta": ETA,
                          "lmbda": LMBDA, "n_jobs": N_JOBS, "formats": FORMATS},
    "experiments.momentum": {"setup": Options("deep", "autoencoder", "table1"),
                             "seeds": SEEDS, "seed": Integer(0),
                             "epochs": NoneOr(RUN_EPOCHS), "eta": NoneOr(ETA),
                             "batch_size": NoneOr(BATCH_SIZE),
                             "mu_max": Real(0.0, 1.0, strict=True),
                             "final_momentum": NoneOr(Real(0.0, 1.0)),
                             "final_updates": NoneOr(Integer(1)),
                             "methods": ListOf(Options("sgd", "momentum", "nesterov"),
                                               distinct=True),
                             "inits": ListOf(INIT), "n_jobs": N_JOBS, "formats": FORMATS},
    "experiments.remedies": {"seeds": SEEDS, "epochs": RUN_EPOCHS, "batch_size": BATCH_SIZE,
                             "eta": ETA, "momentum_eta": NoneOr(ETA), "lmbda": LMBDA,
                             "sizes": MNIST_SIZES, "heldout": Integer(1), "n_jobs": N_JOBS,
                             "formats": FORMATS},
    "experiments.predict": {"sizes": SIZES, "activation": Activation(), "init": INIT,
                            "bias_var": NoneOr(Real(0.0)), "seeds": SEEDS, "n_jobs": N_JOBS,
                            "formats": FORMATS},
    "experiments.trainability": {"weight_vars": ListOf(Real(0.0, strict=True), distinct=True),
                                 "depths": ListOf(Integer(1), distinct=True),
                                 "activation": Options(*ACTIVATIONS), "bias_var": Real(0.0),
                                 "width": Integer(1), "steps": Integer(1),
                                 "batch_size": BATCH_SIZE, "eta": ETA, "seeds": SEEDS,
                                 "n_jobs": N_JOBS, "formats": FORMATS},
    "experiments.saturation": {"activations": ListOf(Options(*ACTIVATIONS), distinct=True),
                               "width": Integer(1, 4096), "seeds": SEEDS,
                               "updates": Integer(1, 10**7), "batch_size": BATCH_SIZE,
                               "eta": ETA, "probe_every": Integer(1),
                               "jacobian_examples": Integer(1, 300), "n_jobs": N_JOBS,
                               "formats": FORMATS},
    "experiments.isometry": {"activations": ListOf(Options(*ACTIVATIONS), distinct=True),
                             "depths": ListOf(Integer(1, MAX_LAYERS - 2), distinct=True),
                             "widths": ListOf(Integer(1, 4096), distinct=True),
                             "seeds": SEEDS, "examples": Integer(1, 100), "n_jobs": N_JOBS,
                             "formats": FORMATS},
    "experiments.run_jobs": {"n_jobs": N_JOBS},
    "experiments.chapter5_sizes": {"hidden": Integer(0), "width": Integer(1)},
    "experiments.balance_window": {"weight": Real()},
    "experiments.chain": {"depth": CHAIN_DEPTH, "weight": Real(), "seed": SEED},
    "experiments.exploding_chain": {"depth": CHAIN_DEPTH, "weight": Real(), "x": Real()},
    "experiments.vanishing_chain": {"depth": CHAIN_DEPTH, "seed": SEED, "x": Real()},
    "experiments.train_mnist": {"sizes": MNIST_SIZES, "epochs": RUN_EPOCHS,
                                "batch_size": BATCH_SIZE, "eta": ETA, "lmbda": LMBDA,
                                "seed": SEED},
    "SigmoidMLPClassifier": {"hidden_layer_sizes": HiddenSizes(), "batch_size": BATCH_SIZE,
                             "learning_rate": ETA, "lmbda": LMBDA, "max_iter": RUN_EPOCHS,
                             "cost": COST, "init": INIT, "dtype": DTYPE},
    "MLPClassifier": {"hidden_layer_sizes": HiddenSizes(),
                      "activation": Activation(SKLEARN_ACTIVATION_ALIASES),
                      "output": Options(*OUTPUTS), "cost": NoneOr(COST),
                      "alpha": LMBDA, "batch_size": AutoOr(BATCH_SIZE),
                      "learning_rate_init": ETA, "max_iter": RUN_EPOCHS,
                      "init": SameAs("Network", "init"), "dtype": DTYPE,
                      "momentum": Real(0.0, 1.0), "nesterovs_momentum": Flag(),
                      "momentum_schedule": NoneOr(Options("sutskever")),
                      "clip_norm": NoneOr(Real(0.0, strict=True)), "dropout": Real(0.0, 1.0)},
    "dashboard.main": {"port": Integer(0, 65535), "allow_origin": ORIGINS},
    "dashboard.serve": {"port": Integer(0, 65535), "allow_origin": ORIGINS},
    # the dashboard's form: runs small enough to watch live (gradcore.dashboard.LIMITS)
    "dashboard.Settings": {"hidden": Integer(1, 8), "width": Integer(1, 100),
                           "init": Options("default", "large", "scale",
                                           *INIT_NAMES[2:]),
                           "activation": Options(*ACTIVATIONS),
                           "momentum": Real(0.0, 0.999), "nesterov": Options("no", "yes"),
                           "schedule": Options("none", "sutskever"),
                           "clip_norm": Real(0.0, 1e6, strict=True),
                           "dropout": Real(0.0, 0.9),
                           "scale": Real(0.0, 1000.0, strict=True),
                           "cost": Options("cross_entropy", "quadratic"),
                           "eta": Real(0.0, 100.0, strict=True), "lmbda": Real(0.0, 1000.0),
                           "epochs": Integer(1, 5000), "seed": Integer(0, 2**32 - 1),
                           "images": Integer(10, 1000)},
    "theory.q_star": _THEORY,
    "theory.chi1": _THEORY,
    "theory.correlation_map": {**_THEORY, "c": CORRELATION},
    "theory.c_star": _THEORY,
    "theory.chi_c": {**_THEORY, "c": NoneOr(CORRELATION)},
    "theory.depth_scales": _THEORY,
    "theory.critical_weight_var": {k: v for k, v in _THEORY.items() if k != "weight_var"},
    "kernels.param_count": {"sizes": SIZES},
    "kernels.layer_views": {"sizes": SIZES},
    "kernels.slope_views": {"sizes": SIZES},
    "kernels.feedforward": {"sizes": SIZES, "cost": NoneOr(COST)},
    "kernels.forward_layers": {"sizes": SIZES},
    "kernels.gradient": {"sizes": SIZES, "cost": NoneOr(COST), "stop": STOP},
    "kernels.gradient_rms": {"sizes": SIZES, "cost": NoneOr(COST)},
    "kernels.sgd_epoch": {"sizes": SIZES, "cost": NoneOr(COST), "batch_size": BATCH_SIZE,
                          "seed": Integer(0, 2**64 - 1), "epoch": Integer(0),
                          "eta": ETA, "lmbda": LMBDA, "max_batches": Integer(-1),
                          "stop": STOP},
}

P = ParamSpec("P")
R = TypeVar("R")


def validated(function: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the arguments a call passes against ``CONSTRAINTS[function]`` first."""
    rules = CONSTRAINTS[function]

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)
        missing = set(rules) - set(signature.parameters)
        if missing:  # pragma: no cover - a mistake in the table
            raise TypeError(f"{function} has no parameters {sorted(missing)}")

        @functools.wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                if name in rules:
                    bound.arguments[name] = rules[name].check(name, value)
            return func(*bound.args, **bound.kwargs)

        return call

    return decorate


def check(function: str, name: str, value: Any) -> Any:
    """One argument of ``function``, checked against its constraint."""
    return CONSTRAINTS[function][name].check(name, value)


# The single checks, for code that takes an argument through other means.
def check_sizes(sizes: Any) -> tuple[int, ...]:
    return SIZES.check("sizes", sizes)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    return Options(*choices).check(name, value)


def check_dtype(dtype: Any) -> np.dtype[Any]:
    return DTYPE.check("dtype", dtype)


def check_int(name: str, value: Any, minimum: int) -> int:
    return Integer(minimum).check(name, value)


def check_real(name: str, value: Any, *, positive: bool) -> float:
    return Real(0.0, strict=positive).check(name, value)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ------------------------------------------------------------------ arrays


def _all_finite(arr: np.ndarray, rows: int = 4096) -> bool:
    """np.isfinite(arr).all() in blocks of rows, so no temporary as large as arr is made."""
    return all(bool(np.isfinite(arr[i:i + rows]).all()) for i in range(0, arr.shape[0], rows))


def as_array(name: str, value: Any, shape: tuple[int, ...], dtype: np.dtype[Any]
             ) -> np.ndarray:
    """``value`` as an array of ``shape`` and ``dtype``, finite after the conversion."""
    if value is None:
        raise TypeError(f"{name} must hold real numbers, got None")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    with np.errstate(over="ignore"):  # values beyond float32's range are reported below
        out = arr.astype(dtype)
    if not np.isfinite(out).all():
        beyond = " (beyond the float32 range)" if np.isfinite(arr).all() else ""
        raise ValueError(f"{name} must be finite{beyond}")
    return out


def as_inputs(X: Any, n_in: int, dtype: np.dtype, name: str = "X") -> np.ndarray:
    """X as a C-contiguous (n, n_in) array of dtype, finite, n >= 1 (copied only if needed;
    a copy starts at a 64-byte boundary, ``_layout.ALIGNMENT``, where the kernels read it
    fastest)."""
    arr = np.asarray(X)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype "
                        f"{arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_examples, {n_in}), got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if arr.shape[1] != n_in:
        raise ValueError(f"{name} must have {n_in} columns (the network's input size), "
                         f"got shape {arr.shape}")
    out = arr
    if arr.dtype != dtype or not arr.flags.c_contiguous:  # a copy either way: an aligned one
        with np.errstate(over="ignore"):  # values beyond float32's range are reported below
            out = as_aligned(arr, dtype)
    if not _all_finite(out):
        bad = int(np.count_nonzero(~np.isfinite(out)))
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s)"
                         + (" (after conversion to float32)" if np.isfinite(arr).all() else ""))
    return out


def as_targets(y: Any, n: int, n_out: int, dtype: np.dtype, name: str = "y") -> np.ndarray:
    """y (integer labels (n,) or targets (n, n_out) in [0, 1]) as one-hot (n, n_out) dtype."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iuf" and arr.dtype.kind != "b":
        raise TypeError(f"{name} must be integer labels or one-hot rows, got dtype "
                        f"{arr.dtype}")
    if arr.ndim == 1:
        return _one_hot(name, arr, n, n_out, dtype)
    if arr.ndim == 2:
        if arr.shape != (n, n_out):
            raise ValueError(f"{name} as one-hot rows must have shape ({n}, {n_out}), "
                             f"got {arr.shape}")
        Y = np.ascontiguousarray(arr, dtype=dtype)
        check_targets(name, Y)
        return Y
    raise ValueError(f"{name} must be labels (n,) or one-hot rows (n, {n_out}), "
                     f"got shape {arr.shape}")


def check_targets(name: str, Y: np.ndarray) -> None:
    """Targets must be finite values in [0, 1] (what the costs are defined for)."""
    if not _all_finite(Y) or (Y.size and (Y.min() < 0 or Y.max() > 1)):
        raise ValueError(f"{name} one-hot targets must be finite values in [0, 1]")


def _one_hot(name: str, arr: np.ndarray, n: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels, X has {n} rows")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))):
            raise ValueError(f"{name} as 1-D labels must be whole numbers")
    elif arr.dtype.kind == "b":
        raise TypeError(f"{name} as 1-D labels must be integers, got dtype bool")
    if n and (arr.min() < 0 or arr.max() >= n_out):
        raise ValueError(f"{name} labels must be in [0, {n_out - 1}] (the network has "
                         f"{n_out} outputs), got values in [{arr.min()}, {arr.max()}]")
    Y = np.zeros((n, n_out), dtype=dtype)
    Y[np.arange(n), arr.astype(np.intp)] = 1
    return Y
