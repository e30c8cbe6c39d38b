"""Network: a fully connected network over one contiguous parameter buffer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np

from . import kernels as _kernels
from . import reference as _ref
from ._arch import PRELU_INITIAL_SLOPE, Architecture, architecture
from ._init import initialize
from ._io import NetworkRecord, read_network, save_network
from ._layout import aligned_zeros, layer_views
from ._validation import as_array, as_inputs, as_targets, check, validated

__all__ = ["Network", "load"]


class _LayerArrays(Sequence[np.ndarray]):
    """The per-layer views of a network's parameter buffer (``net.weights``/``net.biases``).

    Indexing gives the view itself, so ``net.weights[0][...] = w`` or
    ``net.weights[0] = w`` both write into the network; an array of the wrong shape, or
    values that are not finite in the network's dtype, are refused. The list itself cannot
    grow or shrink.
    """

    def __init__(self, views: list[np.ndarray], what: str) -> None:
        self._views = views
        self._what = what

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...
    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self._views[i]

    def __setitem__(self, i: int, value: Any) -> None:
        view = self._views[i]
        view[...] = as_array(f"{self._what}[{i}]", value, view.shape, view.dtype)

    def assign(self, values: Any) -> None:
        """Write every layer at once (all checked before any is written)."""
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{self._what} must be a sequence of {len(self)} arrays, "
                            f"got {values!r}")
        values = list(values)
        if len(values) != len(self):
            raise ValueError(f"{self._what} must have {len(self)} layers, got {len(values)}")
        arrays = [as_array(f"{self._what}[{i}]", v, view.shape, view.dtype)
                  for i, (v, view) in enumerate(zip(values, self._views))]
        for view, arr in zip(self._views, arrays):
            view[...] = arr

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._views)

    def __repr__(self) -> str:
        return f"[{', '.join(f'array{v.shape}' for v in self._views)}]"


class Network:
    """A fully connected network: sigmoid neurons by default, or another activation.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, inputs first, e.g. ``[784, 30, 30, 10]``.
    activation : str or sequence of str
        The activation of every hidden layer, or one per hidden layer: ``"sigmoid"`` (the
        default, the book's), ``"tanh"``, ``"softsign"`` (z/(1+|z|)), ``"relu"``,
        ``"leaky_relu"`` (slope 0.01 below 0), ``"elu"`` (α = 1), ``"prelu"`` (one learnt
        slope per neuron, starting at 0.25, never decayed by λ) or ``"linear"``. Their
        formulas and papers: :mod:`gradcore.reference`.
    output : {"sigmoid", "softmax"}
        The output layer: sigmoid neurons (the book's chapters 1–3 and 5), or a softmax
        layer (chapter 3; Glorot & Bengio 2010's set-up).
    cost : {"cross_entropy", "quadratic", "log_likelihood"} or None
        Cross-entropy (δᴸ = aᴸ − y) or quadratic (δᴸ = (aᴸ − y)·σ'(zᴸ)) with a sigmoid output;
        log-likelihood (C = −ln aᴸ_y, δᴸ = aᴸ − y) with a softmax output. None: cross-entropy,
        or log-likelihood for a softmax output.
    init : str, float, Gaussian or Orthogonal
        "default": weights of a layer with n_in inputs ~ N(0, 1/n_in), biases ~ N(0, 1).
        "large": weights ~ N(0, 1), biases ~ N(0, 1).
        A number s > 0: weights ~ N(0, s²/n_in), biases ~ N(0, 1) (s = 1 is "default").
        Also "glorot", "glorot_standard", "lecun", "he", "orthogonal", "sparse" and the
        mean-field forms :class:`gradcore.Gaussian` and :class:`gradcore.Orthogonal`: see
        :mod:`gradcore.init` for each scheme and its paper.
    seed : int, numpy.random.SeedSequence or None
        Seed of the initialisation (None: fresh entropy).
    dtype : numpy.float64 or numpy.float32
        Precision of parameters and computation.

    :meth:`from_params` builds a network from existing numbers instead.

    Attributes
    ----------
    sizes : tuple of int
        Read-only, as are ``dtype``, ``n_layers``, ``activations`` (one name per hidden
        layer), ``output`` and ``architecture``.
    cost : str
        May be changed to another cost its output takes.
    params : ndarray
        The whole parameter buffer (W₀, b₀, W₁, b₁, … flattened). Assigning an array of
        the same length writes its values into the buffer (checked first).
    weights : sequence of arrays
        ``weights[l]`` is ``(sizes[l+1], sizes[l])``, a view on the parameter buffer.
        Assigning one layer (``net.weights[l] = w``) or all of them (``net.weights = [...]``)
        writes into the buffer (checked first).
    biases : sequence of arrays
        ``biases[l]`` is ``(sizes[l+1],)``, a view on the parameter buffer, assigned the same
        way.
    slopes : list of arrays or None
        Per hidden layer, the view of its PReLU slopes ``(sizes[l+1],)`` on the parameter
        buffer (after the last layer's biases), or None for a layer that is not PReLU.
    """

    @validated("Network")
    def __init__(self, sizes: Sequence[int], *, activation: str | Sequence[str] = "sigmoid",
                 output: str = "sigmoid", cost: str | None = None, init: Any = "default",
                 seed: int | np.random.SeedSequence | None = None,
                 dtype: Any = np.float64) -> None:
        self._setup(architecture(sizes, activation, output, cost, dtype))
        _initialize(self, init, np.random.default_rng(seed))

    @classmethod
    @validated("Network.from_params")
    def from_params(cls, sizes: Sequence[int], params: Any, *,
                    activation: str | Sequence[str] = "sigmoid", output: str = "sigmoid",
                    cost: str | None = None, dtype: Any = None) -> Network:
        """A network holding a copy of ``params`` (W₀, b₀, W₁, b₁, … flattened, then the
        slopes of the PReLU layers).

        ``dtype`` None keeps the dtype of ``params`` if it is float32, else float64. The
        numbers are checked (length, real, finite in the network's dtype) first.
        """
        if dtype is None:
            dtype = np.float32 if np.asarray(params).dtype == np.float32 else np.float64
        net = cls.__new__(cls)
        net._setup(architecture(sizes, activation, output, cost, dtype))
        net.params = params
        return net

    def _setup(self, arch: Architecture) -> None:
        """An all-zero buffer of the right length, and the views on it."""
        self._arch = arch
        self._sizes = arch.sizes
        self._dtype: np.dtype[Any] = arch.dtype
        self._params = aligned_zeros(arch.n_params, self._dtype)
        w_views, b_views = layer_views(self._params, self._sizes)
        self._weights = _LayerArrays(w_views, "weights")
        self._biases = _LayerArrays(b_views, "biases")
        self._slopes = arch.slope_views(self._params)

    # ------------------------------------------------------------------ attributes
    @property
    def sizes(self) -> tuple[int, ...]:
        return self._sizes

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def n_layers(self) -> int:
        """Number of layers with weights (len(sizes) − 1)."""
        return len(self._sizes) - 1

    @property
    def activations(self) -> tuple[str, ...]:
        """The activation of each hidden layer."""
        return self._arch.activations

    @property
    def output(self) -> str:
        """The output layer: ``"sigmoid"`` or ``"softmax"``."""
        return self._arch.output

    @property
    def architecture(self) -> Architecture:
        """Sizes, activations, output, cost and dtype in one checked object."""
        return self._arch

    @property
    def cost(self) -> str:
        return self._arch.cost

    @cost.setter
    def cost(self, value: str) -> None:
        self._arch = self._arch.replace(cost=check("Network", "cost", value))

    @property
    def slopes(self) -> list[np.ndarray | None]:
        return list(self._slopes)

    @property
    def params(self) -> np.ndarray:
        return self._params

    @params.setter
    def params(self, value: Any) -> None:
        self._params[...] = as_array("params", value, self._params.shape, self._dtype)

    @property
    def weights(self) -> _LayerArrays:
        return self._weights

    @weights.setter
    def weights(self, values: Any) -> None:
        self._weights.assign(values)

    @property
    def biases(self) -> _LayerArrays:
        return self._biases

    @biases.setter
    def biases(self, values: Any) -> None:
        self._biases.assign(values)

    # ------------------------------------------------------------------ helpers
    def _inputs(self, X: Any, name: str = "X") -> np.ndarray:
        return as_inputs(X, self._sizes[0], self._dtype, name)

    def _targets(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        return as_targets(y, n, self._sizes[-1], self._dtype, name)

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _kernels._feedforward(self._arch, self._params, X)

    def copy(self) -> Network:
        """An independent network with the same architecture and parameters."""
        net = Network.__new__(Network)
        net._setup(self._arch)
        net._params[...] = self._params
        return net

    def __getstate__(self) -> dict[str, Any]:
        # the views are rebuilt on unpickling, so they point into the restored buffer
        return {"sizes": self._sizes, "cost": self.cost, "dtype": self._dtype.str,
                "activations": self.activations, "output": self.output,
                "params": self._params.copy()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(architecture(tuple(state["sizes"]),
                                 state.get("activations", "sigmoid"),
                                 state.get("output", "sigmoid"), state["cost"],
                                 np.dtype(state["dtype"])))
        self._params[...] = state["params"]

    def __deepcopy__(self, memo: dict[int, Any]) -> Network:
        return self.copy()

    def save(self, path: Any) -> None:
        """Write the network as JSON in network2's layout, atomically.

        ``path`` (str, bytes or os.PathLike) is replaced only once the new content is
        written and flushed; only a regular file (or a new path) is ever replaced. See
        :func:`gradcore.load` and ``gradcore._io.save_network``.
        """
        save_network(NetworkRecord(self._sizes, self.cost, self._dtype, self._params,
                                   self.activations, self.output), path)

    def __repr__(self) -> str:
        acts = set(self.activations)
        act = "" if acts <= {"sigmoid"} else (
            f"activation={self.activations[0]!r}, " if len(acts) == 1
            else f"activation={list(self.activations)!r}, ")
        out = "" if self.output == "sigmoid" else f"output={self.output!r}, "
        return (f"Network(sizes={list(self._sizes)}, {act}{out}cost={self.cost!r}, "
                f"dtype={self._dtype.name})")

    # ------------------------------------------------------------------ evaluation
    def feedforward(self, X: Any) -> np.ndarray:
        """Output activations, shape (n, sizes[-1]), for the rows of X (n, sizes[0])."""
        return self._forward(self._inputs(X))[1]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (n,): the index of the most active output neuron."""
        return np.asarray(np.argmax(self.feedforward(X), axis=1))

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of the rows of X whose predicted label equals y (labels or one-hot)."""
        Xc = self._inputs(X)
        labels = np.argmax(self._targets(y, Xc.shape[0]), axis=1)
        return float(np.mean(np.argmax(self._forward(Xc)[1], axis=1) == labels))

    @validated("Network.total_cost")
    def total_cost(self, X: Any, y: Any, lmbda: float = 0.0) -> float:
        """Mean cost over the rows of X plus the L2 term λ/(2n)·Σ‖w‖² (n = len(X))."""
        Xc = self._inputs(X)
        return evaluate(self, Xc, self._targets(y, Xc.shape[0]), lmbda)[0]

    def gradient(self, X: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(∂C/∂W per layer, ∂C/∂b per layer) for C = mean cost over X, no regularisation."""
        return layer_views(self._gradient_buffer(X, y), self._sizes)

    def learning_speeds(self, X: Any, y: Any) -> np.ndarray:
        """‖mean over X of δˡ‖ for every layer with weights, output last, at these weights.

        δˡ = ∂C/∂bˡ, so this is the norm of each layer's mean bias gradient: the speed at
        which layer l learns ("Neural Networks and Deep Learning", chapter 5).
        """
        return speeds_of(self.gradient(X, y)[1])

    def gradient_rms(self, X: Any, y: Any) -> np.ndarray:
        """√(mean over X of ‖δˡₓ‖²) for every layer with weights, output last, at these
        weights: the per-example size of each layer's gradient.

        Beside :meth:`learning_speeds` (the norm of the *mean* of δˡ), this is what
        mean-field theory predicts (:mod:`gradcore.theory`): the two agree while the
        examples' gradients point the same way, and part where they cancel in the mean
        (the chaotic phase of large weights).
        """
        Xc = self._inputs(X)
        sq = np.zeros(self.n_layers)
        _kernels._gradient(self._arch, self._params, Xc, self._targets(y, Xc.shape[0]),
                           sq_sum=sq)
        return np.asarray(np.sqrt(sq / Xc.shape[0]))

    def forward_layers(self, X: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(zs, activations): every layer's pre-activations and activations for the rows of
        X, one (n, sizes[l+1]) array per layer with weights, the output's last."""
        return _kernels._forward_layers(self._arch, self._params, self._inputs(X))

    def _gradient_buffer(self, X: Any, y: Any) -> np.ndarray:
        Xc = self._inputs(X)
        Y = self._targets(y, Xc.shape[0])
        return _kernels._gradient(self._arch, self._params, Xc, Y)[0]


@validated("load")
def load(path: Any, *, dtype: Any = None) -> Network:
    """Read a network saved by :meth:`Network.save` or by network2.py.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        A JSON file in network2's layout: keys ``sizes``, ``weights`` (per layer, n_out
        lists of n_in numbers), ``biases`` (per layer, n_out lists of one number) and
        ``cost`` (``"CrossEntropyCost"`` or ``"QuadraticCost"``). Other keys are ignored,
        except ``dtype``, which gradcore writes.
    dtype : numpy.float64, numpy.float32 or None
        Precision of the loaded network. None: the ``dtype`` recorded in the file, or
        float64 for a file without one (network2's files).

    Returns
    -------
    Network
        A network with the file's sizes, cost and parameters (float64 files read back bit
        for bit).

    Raises
    ------
    NetworkFileError
        (a ValueError) The file is empty, not UTF-8 JSON, truncated, misses a key, names
        an unknown cost, has weights or biases whose shapes do not match ``sizes``, or
        holds non-numeric or non-finite values. Also, before it is read whole, a file
        larger than 1 GiB (``gradcore._io.MAX_FILE_BYTES``) or than its network can need
        (1 MiB plus 64 bytes per parameter of the ``sizes`` it gives). The message names
        the file and the problem.
    OSError
        The file cannot be read (for example FileNotFoundError), or is not a regular file:
        a directory (IsADirectoryError), a FIFO, a device such as /dev/zero or a socket is
        refused without reading from it.
    TypeError
        ``dtype`` is neither float64 nor float32.
    """
    record = read_network(path, dtype=dtype)
    return Network.from_params(record.sizes, record.params,
                               activation=record.activations or "sigmoid",
                               output=record.output, cost=record.cost, dtype=record.dtype)


def _initialize(net: Network, init: Any, rng: np.random.Generator) -> None:
    """Draw the weights and biases by ``init`` (:mod:`gradcore.init`); PReLU slopes start
    at 0.25 (He et al. 2015)."""
    initialize(net.weights, net.biases, init, net.activations, rng,
               prelu_slope=PRELU_INITIAL_SLOPE)
    for s in net._slopes:
        if s is not None:
            s[...] = PRELU_INITIAL_SLOPE


def evaluate(net: Network, X: np.ndarray, Y: np.ndarray,
             lmbda: float) -> tuple[float, np.ndarray]:
    """(mean cost + L2 term with n = len(X), output activations) in one forward pass."""
    z, a = net._forward(X)
    f64 = [np.asarray(v, dtype=np.float64) for v in (z, a, Y)]
    c = float(np.mean(_ref.cost_per_example(net.cost, *f64)))
    return c + l2_term(net, lmbda, int(X.shape[0])), a


def speeds_of(nabla_b: Sequence[np.ndarray]) -> np.ndarray:
    """The speed of every layer, ‖δˡ‖ in float64, from its mean bias gradient δˡ."""
    return np.array([np.linalg.norm(np.asarray(g, dtype=np.float64)) for g in nabla_b])


def l2_term(net: Network, lmbda: float, n: int) -> float:
    """λ/(2n)·Σ‖w‖² (exactly 0 for λ = 0, even when the weights overflow)."""
    if not lmbda:
        return 0.0
    return l2_from(_kernels._weights_sum_squares(net.architecture, net.params), lmbda, n)


def l2_from(sum_sq: float, lmbda: float, n: int) -> float:
    """λ/(2n)·s from s = Σ‖w‖² (0 for λ = 0). The sum comes from the compiled core (huge
    weights give inf, which train() reports), one function for every caller, so a training
    run's cost has the same bits whether its epochs ran one per call or several."""
    return 0.5 * (lmbda / n) * sum_sq if lmbda else 0.0

