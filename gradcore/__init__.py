"""gradcore: fast dense networks that measure how fast each layer learns.

The instrument for the unstable gradient problem of "Neural Networks and Deep Learning",
chapter 5: in a deep sigmoid network the gradient reaching an early layer is a product of
factors w·σ'(z) from every later layer, so early layers learn much slower (vanishing) or
much faster (exploding) than late ones. The speed of layer l is ‖δˡ‖, the norm of the mean
of δˡ = ∂C/∂bˡ over the data.

Public API: :class:`Network`, :func:`train`, :class:`History`, :class:`TrainResult`,
:class:`TrainState`, :class:`Probe`, :class:`Gaussian`, :class:`Orthogonal`, :func:`load`,
:class:`StopFlag`, the exceptions :class:`DivergenceError`, :class:`Stopped` and
:class:`NetworkFileError`, and the modules :mod:`gradcore.init` (the initialisations),
:mod:`gradcore.reference` (the same semantics in plain NumPy),
:mod:`gradcore.datasets` (MNIST), :mod:`gradcore.experiments` (chapter 5),
:mod:`gradcore.theory` (the mean-field theory that predicts the learning speeds' ratios) and
:mod:`gradcore.sklearn` (a scikit-learn estimator, with the ``sklearn`` extra).
Everything under ``gradcore._*`` is private.
"""

import importlib as _importlib
import pathlib as _pathlib
from typing import Any as _Any


def _no_compiled_core(error: ImportError) -> ImportError:
    """The error for an import that finds no compiled core: most often Python found the
    source folder (the checkout's ``gradcore/``, first on ``sys.path`` when Python runs
    from the checkout) instead of the installed package."""
    here = _pathlib.Path(__file__).resolve().parent
    if any(p.suffix in (".so", ".pyd") for p in here.glob("_core*")):  # there but broken
        return error
    return ImportError(
        f"gradcore was imported from {here}, a source folder that holds no compiled core "
        f"(gradcore/_core*.so is built by 'pip install .'). Python looks in the current "
        f"folder first, so run Python from outside the checkout (cd elsewhere) to use the "
        f"installed gradcore, or install it first with 'pip install .' (from the checkout). "
        f"Original error: {error}")


try:
    from . import _core  # noqa: F401 (the compiled core, first: see _no_compiled_core)
except ImportError as _error:
    raise _no_compiled_core(_error) from None

from . import datasets, init, kernels, reference, theory  # noqa: E402 (after the core)
from ._core import (  # noqa: E402
    StopFlag,
    get_num_threads,
    kernel_level,
    set_num_threads,
    thread_limit,
)
from ._errors import DivergenceError, Stopped  # noqa: E402
from ._init import Gaussian, Orthogonal  # noqa: E402
from ._io import NetworkFileError  # noqa: E402
from ._network import Network, load  # noqa: E402
from ._training import History, Probe, TrainResult, train  # noqa: E402
from ._update import TrainState  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Network",
    "train",
    "load",
    "History",
    "TrainResult",
    "TrainState",
    "Probe",
    "Gaussian",
    "Orthogonal",
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
    "init",
    "kernels",
    "plotting",
    "reference",
    "theory",
]

#: Public modules imported when first used (matplotlib, scikit-learn: slow or optional).
_LAZY_MODULES = ("experiments", "plotting", "sklearn", "cli")


def __getattr__(name: str) -> _Any:
    if name in _LAZY_MODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names and the modules imported when first used (as ``dir`` shows them)."""
    return sorted(set(__all__) | set(_LAZY_MODULES))
