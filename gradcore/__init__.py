"""gradcore: fast dense sigmoid networks that measure how fast each layer learns.

The instrument for the unstable gradient problem of "Neural Networks and Deep Learning",
chapter 5: in a deep sigmoid network the gradient reaching an early layer is a product of
factors w·σ'(z) from every later layer, so early layers learn much slower (vanishing) or
much faster (exploding) than late ones. The speed of layer l is ‖δˡ‖, the norm of the mean
of δˡ = ∂C/∂bˡ over the data.

Public API: :class:`Network`, :func:`train`, :class:`History`, :class:`TrainResult`,
:func:`load`, :class:`StopFlag`, the exceptions :class:`DivergenceError`, :class:`Stopped` and
:class:`NetworkFileError`, and the
modules :mod:`gradcore.reference` (the same semantics in plain NumPy),
:mod:`gradcore.datasets` (MNIST), :mod:`gradcore.experiments` (chapter 5),
:mod:`gradcore.theory` (the mean-field theory that predicts the learning speeds' ratios) and
:mod:`gradcore.sklearn` (a scikit-learn estimator, with the ``sklearn`` extra).
Everything under ``gradcore._*`` is private.
"""

import importlib
from typing import Any

from . import datasets, kernels, reference, theory
from ._core import StopFlag, get_num_threads, kernel_level, set_num_threads, thread_limit
from ._errors import DivergenceError, Stopped
from ._io import NetworkFileError
from ._network import Network, load
from ._training import History, TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "Network",
    "train",
    "load",
    "History",
    "TrainResult",
    "DivergenceError",
    "NetworkFileError",
    "StopFlag",
    "Stopped",
    "set_num_threads",
    "get_num_threads",
    "thread_limit",
    "kernel_level",
    "__version__",
    "datasets",
    "experiments",
    "kernels",
    "plotting",
    "reference",
    "theory",
]

#: Public modules imported when first used (matplotlib, scikit-learn: slow or optional).
_LAZY_MODULES = ("experiments", "plotting", "sklearn", "cli")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
