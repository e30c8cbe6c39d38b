"""The architecture of a network: sizes, activations, output, cost and dtype, checked once.

An :class:`Architecture` is what every layer of gradcore agrees on: :class:`gradcore.Network`
holds one, :mod:`gradcore.kernels` hands its compiled form (``_core.Arch``, checked again by
the C core's ``gc_arch_check``) to the kernels, and :mod:`gradcore.reference` reads the same
names. It also owns the parameter layout beyond the weights and biases (``_layout``): the
PReLU slopes, which follow the last layer's biases in the one parameter buffer.

Adding an activation means one entry in :data:`ACTIVATIONS` here (its C code in
``_core.ACT_CODES``), its formula in ``src/activations.h`` and ``src/vmath.h``, and its
formula in ``gradcore.reference``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._layout import layer_offsets
from ._layout import param_count as _wb_count

__all__ = ["ACTIVATIONS", "OUTPUTS", "COSTS_FOR_OUTPUT", "Architecture", "architecture",
           "PRELU_INITIAL_SLOPE", "LEAKY_SLOPE"]

#: Activations of hidden layers, by name. Papers: sigmoid (the book); tanh and softsign
#: (Glorot & Bengio 2010); relu (Nair & Hinton 2010; Glorot, Bordes & Bengio 2011);
#: leaky_relu (Maas, Hannun & Ng 2013); elu (Clevert, Unterthiner & Hochreiter 2016); prelu
#: (He, Zhang, Ren & Sun 2015); linear (deep linear nets, Saxe, McClelland & Ganguli 2014).
ACTIVATIONS = ("sigmoid", "tanh", "softsign", "relu", "leaky_relu", "elu", "prelu", "linear")
#: Output layers, and the costs each goes with.
OUTPUTS = ("sigmoid", "softmax")
COSTS_FOR_OUTPUT = {"sigmoid": ("cross_entropy", "quadratic"), "softmax": ("log_likelihood",)}
#: The slope every PReLU unit starts from (He et al. 2015, §2.1).
PRELU_INITIAL_SLOPE = 0.25
#: The leaky ReLU's slope below 0.
LEAKY_SLOPE = 0.01

# the C core's codes (src/kernels.h, GC_ACT_*); kept here so this module loads without it
_ACT_CODES = {"sigmoid": 0, "tanh": 1, "softsign": 2, "relu": 3, "leaky_relu": 4, "elu": 5,
              "prelu": 6, "linear": 7, "softmax": 8}
_COST_CODES = {"cross_entropy": 0, "quadratic": 1, "log_likelihood": 2}


def _choices(values: Sequence[str]) -> str:
    return ", ".join(map(repr, values))


def check_activations(activation: Any, n_hidden: int, name: str = "activation"
                      ) -> tuple[str, ...]:
    """One activation name per hidden layer, from one name or a sequence of them."""
    if isinstance(activation, str):
        names = [activation] * n_hidden
    elif isinstance(activation, (bytes, dict, set, frozenset)) or not isinstance(
            activation, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be an activation name or a sequence of one per hidden "
                        f"layer, got {activation!r} ({type(activation).__name__})")
    else:
        names = list(activation)
        if len(names) != n_hidden:
            raise ValueError(f"{name} must name one activation per hidden layer ({n_hidden}), "
                             f"got {len(names)}: {names!r}")
    for i, a in enumerate(names):
        if not isinstance(a, str) or a not in ACTIVATIONS:
            where = name if isinstance(activation, str) else f"{name}[{i}]"
            raise ValueError(f"{where} must be one of {_choices(ACTIVATIONS)}, got {a!r}")
    return tuple(names)


def check_output_cost(output: Any, cost: Any) -> tuple[str, str]:
    """(output, cost), the cost defaulting to the output's first (None: its default)."""
    if not isinstance(output, str) or output not in OUTPUTS:
        raise ValueError(f"output must be one of {_choices(OUTPUTS)}, got {output!r}")
    allowed = COSTS_FOR_OUTPUT[output]
    if cost is None:
        return output, allowed[0]
    if not isinstance(cost, str) or cost not in _COST_CODES:
        raise ValueError(f"cost must be one of {_choices(tuple(_COST_CODES))}, got {cost!r}")
    if cost not in allowed:
        raise ValueError(f"cost {cost!r} does not go with output {output!r}: a {output} output "
                         f"takes the cost {_choices(allowed)}")
    return output, cost


@dataclass(frozen=True)
class Architecture:
    """What a network is, apart from its numbers.

    Attributes
    ----------
    sizes : tuple of int
        Neurons per layer, inputs first.
    activations : tuple of str
        One activation per hidden layer (len(sizes) − 2 of them).
    output : str
        ``"sigmoid"`` or ``"softmax"``.
    cost : str
        ``"cross_entropy"`` or ``"quadratic"`` (sigmoid output), ``"log_likelihood"``
        (softmax output).
    dtype : numpy.dtype
        float64 or float32.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    output: str
    cost: str
    dtype: np.dtype[Any]
    _core: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def n_layers(self) -> int:
        """Layers with weights (len(sizes) − 1)."""
        return len(self.sizes) - 1

    @property
    def layer_activations(self) -> tuple[str, ...]:
        """The activation of every layer with weights, the output's last."""
        return (*self.activations, self.output)

    @property
    def codes(self) -> np.ndarray:
        """The C core's activation code of every layer with weights (int8)."""
        return np.array([_ACT_CODES[a] for a in self.layer_activations], dtype=np.int8)

    @property
    def cost_code(self) -> int:
        return _COST_CODES[self.cost]

    @property
    def prelu_layers(self) -> tuple[int, ...]:
        """The hidden layers (0-based) whose activation is PReLU."""
        return tuple(i for i, a in enumerate(self.activations) if a == "prelu")

    def slope_offsets(self) -> list[tuple[int, int] | None]:
        """Per hidden layer, (start, end) of its PReLU slopes in the parameter buffer, or
        None: the slopes of the PReLU layers follow the last layer's biases, in order."""
        off = _wb_count(self.sizes)
        out: list[tuple[int, int] | None] = []
        for i, a in enumerate(self.activations):
            if a == "prelu":
                out.append((off, off + self.sizes[i + 1]))
                off += self.sizes[i + 1]
            else:
                out.append(None)
        return out

    @property
    def n_params(self) -> int:
        """Weights, biases and PReLU slopes."""
        return _wb_count(self.sizes) + sum(self.sizes[i + 1] for i in self.prelu_layers)

    def slope_views(self, buf: np.ndarray) -> list[np.ndarray | None]:
        """Per hidden layer, the view of its slopes in ``buf`` (None: not a PReLU layer)."""
        return [None if o is None else buf[o[0]:o[1]] for o in self.slope_offsets()]

    def bias_offsets(self) -> list[tuple[int, int]]:
        """Per layer, (start of bₗ, end of bₗ) in the parameter buffer."""
        return [(b, end) for _, b, end in layer_offsets(self.sizes)]

    def core(self) -> Any:
        """The compiled form, made once (``_core.Arch``, checked by the C core)."""
        if self._core is None:
            from . import _core

            object.__setattr__(self, "_core", _core.Arch(self.sizes, self.codes, self.cost_code))
        return self._core

    def replace(self, **changes: Any) -> Architecture:
        """A checked copy with some fields changed (e.g. ``cost``, ``dtype``)."""
        if "activations" in changes:
            changes["activation"] = changes.pop("activations")
        return architecture(changes.get("sizes", self.sizes),
                            changes.get("activation", self.activations),
                            changes.get("output", self.output), changes.get("cost", self.cost),
                            changes.get("dtype", self.dtype))

    def describe(self) -> str:
        """A short label: ``sigmoid``, ``tanh+softmax``, ``relu,relu,tanh``."""
        acts = set(self.activations)
        hidden = (self.activations[0] if len(acts) == 1 else ",".join(self.activations)
                  ) if self.activations else ""
        parts = [p for p in (hidden, "softmax" if self.output == "softmax" else "") if p]
        return "+".join(parts) or "sigmoid"


@functools.lru_cache(maxsize=256)
def _cached(sizes: tuple[int, ...], activations: tuple[str, ...], output: str, cost: str,
            dtype: str) -> Architecture:
    return Architecture(sizes, activations, output, cost, np.dtype(dtype))


def architecture(sizes: Sequence[int], activation: Any = "sigmoid", output: Any = "sigmoid",
                 cost: Any = None, dtype: Any = np.float64) -> Architecture:
    """A checked :class:`Architecture` (sizes already checked by the caller's constraints).

    ``activation``: one name for every hidden layer or a sequence of one per hidden layer;
    ``cost`` None: the output's usual cost (cross-entropy for sigmoid, log-likelihood for
    softmax). Raises ValueError or TypeError naming the argument.
    """
    sizes = tuple(int(s) for s in sizes)
    acts = check_activations(activation, len(sizes) - 2)
    output, cost = check_output_cost(output, cost)
    return _cached(sizes, acts, output, cost, np.dtype(dtype).str)
