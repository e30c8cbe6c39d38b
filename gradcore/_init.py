"""Weight initialisation: every scheme gradcore offers, one function per scheme.

A scheme fills a network's per-layer arrays in place: ``weights[l]`` is (n_out, n_in) and
``biases[l]`` is (n_out,), float64 or float32 views into one parameter buffer. The layers
are drawn in order, first layer first, and within a layer the weights before the biases,
all from one ``numpy.random.Generator``. Each scheme's function says exactly what it draws.

``init`` is one of

* a name of :data:`~gradcore.init.INIT_NAMES`:

  - ``"default"``: weights N(0, 1/n_in), biases N(0, 1) (:func:`~gradcore.init.draw_default`);
  - ``"large"``: weights N(0, 1), biases N(0, 1) (:func:`~gradcore.init.draw_large`);
  - ``"glorot"``: weights U[±√6/√(n_in + n_out)], biases 0
    (:func:`~gradcore.init.draw_glorot`);
  - ``"glorot_standard"``: weights U[±1/√n_in], biases 0
    (:func:`~gradcore.init.draw_glorot_standard`);
  - ``"lecun"``: weights N(0, 1/n_in), biases 0 (:func:`~gradcore.init.draw_lecun`);
  - ``"he"``: weights N(0, 2/((1 + a²) n_in)) for rectifiers of slope a, biases 0
    (:func:`~gradcore.init.draw_he`);
  - ``"orthogonal"``: weights a random (semi-)orthogonal matrix, biases 0
    (:func:`~gradcore.init.draw_orthogonal`);
  - ``"sparse"``: 15 nonzero N(0, 1) weights into each unit, biases 0
    (:func:`~gradcore.init.draw_sparse`);

* a weight scale s > 0: weights N(0, s²/n_in), biases N(0, 1)
  (:func:`~gradcore.init.draw_scaled`; s = 1 is ``"default"``);
* :class:`~gradcore.Gaussian` ``(weight_var, bias_var)``: weights N(0, weight_var/n_in), biases
  N(0, bias_var), the parametrisation of mean-field theory
  (:func:`~gradcore.init.draw_gaussian`);
* :class:`~gradcore.Orthogonal` ``(gain, bias_var)``: weights gain × a random
  (semi-)orthogonal matrix, biases N(0, bias_var) (:func:`~gradcore.init.draw_orthogonal`).

On the command line (``InitSpec.parse``) ``init`` is written as a name, a number
(``2.5``), ``gaussian:WEIGHT_VAR[,BIAS_VAR]`` or ``orthogonal:GAIN[,BIAS_VAR]``, BIAS_VAR
0 when left out: ``gaussian:2,0.05``, ``orthogonal:1.2,0``.

The same seed gives the same bits on every machine
--------------------------------------------------
The random numbers are NumPy's: ``Generator.standard_normal`` and ``Generator.random``
give the same stream on every platform for a given NumPy version. (NumPy's normal sampler
calls the C library's ``exp`` and ``log1p`` in its rare tail and wedge cases, about 3 draws
in 10⁴ for the tail; those are its only steps whose last bit could differ between C
libraries.) Everything gradcore computes from them
is IEEE-754 double arithmetic in an order this module fixes: elementwise NumPy ``+ − × ÷``
(each result rounded once, correctly, whatever vector instructions carry it out; a separate
NumPy call cannot be fused with the next into a multiply-add), Python float arithmetic,
``math.sqrt`` and ``math.fsum`` (both correctly rounded), and one final rounding to
float32 where the network is float32. Nothing goes through BLAS or LAPACK, whose sums
differ in the last bits between builds, CPUs and thread counts. Uniform weights are
computed here as (2u − 1)·limit from ``Generator.random`` rather than drawn with
``Generator.uniform``, whose low + (high − low)·u some compilers fuse into one
multiply-add. The orthogonal scheme's QR is gradcore's own Householder QR
(:func:`~gradcore.init.orthonormal_columns`), whose sums are fixed pairwise trees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from ._arch import ACTIVATIONS, LEAKY_SLOPE
from ._constraint import Constraint, Real, _is_real

__all__ = ["INIT_NAMES", "ACTIVATIONS", "Gaussian", "Orthogonal", "InitSpec", "check_init",
           "initialize"]

#: The named schemes.
INIT_NAMES = ("default", "large", "glorot", "glorot_standard", "lecun", "he", "orthogonal",
              "sparse")
#: Nonzero incoming weights per unit of the sparse scheme (Martens 2010).
SPARSE_FAN_IN = 15


def _nonnegative(name: str, value: Any, *, positive: bool = False) -> float:
    """value as a float, if it is a finite real number >= 0 (> 0 if ``positive``)."""
    what = f"a finite number {'>' if positive else '>='} 0"
    if not _is_real(value):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not (math.isfinite(v) and (v > 0 if positive else v >= 0)):
        raise ValueError(f"{name} must be {what}, got {v!r}")
    return v


@dataclass(frozen=True)
class Gaussian:
    """Weights N(0, weight_var/n_in), biases N(0, bias_var): the mean-field parametrisation.

    Mean-field theory writes a wide random network's weights as N(0, σ_w²/n_in) and its
    biases as N(0, σ_b²); (σ_w², σ_b²) decide whether gradients vanish (ordered phase),
    explode (chaotic phase) or neither (the critical line between them): Poole, Lahiri,
    Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity in deep neural
    networks through transient chaos"; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017),
    "Deep information propagation". ``Gaussian(1, 1)`` is ``"default"``, bit for bit.

    Parameters
    ----------
    weight_var : float
        σ_w², finite and >= 0.
    bias_var : float
        σ_b², finite and >= 0 (default 0).
    """

    weight_var: float
    bias_var: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_var", _nonnegative("weight_var", self.weight_var))
        object.__setattr__(self, "bias_var", _nonnegative("bias_var", self.bias_var))


@dataclass(frozen=True)
class Orthogonal:
    """Weights gain × a random (semi-)orthogonal matrix, biases N(0, bias_var).

    Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning
    in deep linear neural networks": with orthogonal weights every singular value of a deep
    linear network's input-output map is the same, so every direction learns at the same
    speed however deep the network is. ``Orthogonal()`` is ``"orthogonal"``, bit for bit.
    See :func:`~gradcore.init.draw_orthogonal`.

    Parameters
    ----------
    gain : float
        Finite and > 0 (default 1).
    bias_var : float
        Finite and >= 0 (default 0).
    """

    gain: float = 1.0
    bias_var: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", _nonnegative("gain", self.gain, positive=True))
        object.__setattr__(self, "bias_var", _nonnegative("bias_var", self.bias_var))


#: What ``init`` may be, once checked.
InitValue: TypeAlias = "str | float | Gaussian | Orthogonal"


class InitSpec(Constraint):
    """``init``: a name of :data:`~gradcore.init.INIT_NAMES`, a weight scale s > 0, a
    :class:`~gradcore.Gaussian` or an :class:`~gradcore.Orthogonal`. On the command line: a
    name, a number, or ``gaussian:WEIGHT_VAR[,BIAS_VAR]`` / ``orthogonal:GAIN[,BIAS_VAR]``
    (BIAS_VAR 0 when left out), e.g. ``gaussian:2,0.05`` or ``orthogonal:1.2,0``."""

    description = ("one of " + ", ".join(map(repr, INIT_NAMES))
                   + ", a weight scale s > 0, a Gaussian(weight_var, bias_var) or an "
                   "Orthogonal(gain, bias_var)")
    _scale = Real(0.0, strict=True)
    _kinds: Mapping[str, type[Gaussian] | type[Orthogonal]] = {
        "gaussian": Gaussian, "orthogonal": Orthogonal}

    def check(self, name: str, value: Any) -> InitValue:
        if isinstance(value, (Gaussian, Orthogonal)):
            return value
        if isinstance(value, str):
            if value not in INIT_NAMES:
                raise ValueError(f"{name} must be {self.description}, got {value!r}")
            return value
        if not _is_real(value):
            raise self._type_error(name, value)
        try:
            return self._scale.check(name, value)
        except ValueError as exc:
            raise ValueError(f"{name} as a weight scale must be finite and > 0, "
                             f"got {value!r}") from exc

    def parse(self, name: str, text: str) -> InitValue:
        kind, colon, args = text.strip().partition(":")
        if colon:
            return self._parse_kind(name, text, kind.strip(), args)
        try:
            number = float(text)
        except ValueError:
            return self.check(name, text.strip())
        return self.check(name, number)

    def _parse_kind(self, name: str, text: str, kind: str, args: str) -> InitValue:
        syntax = "gaussian:WEIGHT_VAR[,BIAS_VAR] or orthogonal:GAIN[,BIAS_VAR]"
        parts = args.split(",")
        if kind not in self._kinds or not 1 <= len(parts) <= 2:
            raise ValueError(f"{name} must be a name, a number or {syntax}, got {text!r}")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{name} must be {syntax} with numbers, got {text!r}") from None
        try:
            return self._kinds[kind](*numbers)
        except ValueError as exc:
            raise ValueError(f"{name} {text!r}: {exc}") from None


INIT_SPEC = InitSpec()
_PRELU_SLOPE = Real(0.0)


def check_init(name: str, value: Any) -> InitValue:
    """``value`` as an initialisation (see ``InitSpec``), or ValueError/TypeError
    naming ``name``."""
    return INIT_SPEC.check(name, value)


# ------------------------------------------------------------------ filling a network


def initialize(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], init: Any,
               activations: Sequence[str], rng: np.random.Generator, *,
               prelu_slope: float = 0.25) -> None:
    """Fill every layer's weights and biases in place with the scheme ``init``.

    Parameters
    ----------
    weights, biases : sequences of arrays
        ``weights[l]`` (n_out, n_in) and ``biases[l]`` (n_out,), float64 or float32, each
        layer's outputs the next one's inputs. Written with ``w[...] = ...``, so views into
        a parameter buffer fill the buffer.
    init : str, float, Gaussian or Orthogonal
        The scheme (see the module's docstring and ``InitSpec``).
    activations : sequence of str
        One activation of ``ACTIVATIONS`` per hidden layer (``len(weights) - 1``).
        Only ``"he"`` reads them (``he_activation``).
    rng : numpy.random.Generator
        The source of every random number; layers are drawn in order.
    prelu_slope : float
        The slope a of ``"prelu"`` for ``"he"``, finite and >= 0.

    Raises
    ------
    TypeError, ValueError
        Bad arguments (checked before anything is written), naming the argument.
    """
    spec = check_init("init", init)
    ws, bs = _check_layers(weights, biases)
    acts = _check_activations(activations, len(ws))
    slope = _PRELU_SLOPE.check("prelu_slope", prelu_slope)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {rng!r} "
                        f"({type(rng).__name__})")
    for layer, (w, b) in enumerate(zip(ws, bs)):
        if isinstance(spec, Gaussian):
            draw_gaussian(w, b, rng, spec.weight_var, spec.bias_var)
        elif isinstance(spec, Orthogonal):
            draw_orthogonal(w, b, rng, spec.gain, spec.bias_var)
        elif isinstance(spec, float):
            draw_scaled(w, b, rng, spec)
        elif spec == "he":
            draw_he(w, b, rng, rectifier_slope(he_activation(acts, layer), slope))
        else:
            _NAMED[spec](w, b, rng)


def he_activation(activations: Sequence[str], layer: int) -> str | None:
    """The activation that sets the He variance of ``layer``'s weights: that of the layer's
    inputs.

    He et al. (2015) keep the variance of the pre-activations constant going forwards: the
    weights of a layer multiply the outputs of the layer before, and the factor (1 + a²)/2
    comes from the activation those outputs went through (their eq. 10). So the weights of
    layer l >= 1 (the output layer included) use the activation of hidden layer l − 1; the
    output layer uses the last hidden layer's. The first layer's inputs are the data,
    through no activation; He et al. apply eq. 10 there too, for simplicity, so the first
    layer uses the first hidden layer's own activation. With no hidden layer: None (the
    plain 2/n_in). For a network whose hidden layers share one activation, every layer uses
    it.
    """
    if not activations:
        return None
    return activations[max(layer - 1, 0)]


def rectifier_slope(activation: str | None, prelu_slope: float) -> float:
    """The negative slope a of a rectifier: 0 for ReLU, 0.01 for leaky ReLU, ``prelu_slope``
    for PReLU; 0 (ReLU's value, He et al.'s 2/n_in) for every other activation and None."""
    if activation == "leaky_relu":
        return LEAKY_SLOPE
    if activation == "prelu":
        return prelu_slope
    return 0.0


def _check_layers(weights: Any, biases: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    ws = _arrays("weights", weights, 2)
    bs = _arrays("biases", biases, 1)
    if len(bs) != len(ws):
        raise ValueError(f"biases must have one array per layer of weights ({len(ws)}), "
                         f"got {len(bs)}")
    for layer, (w, b) in enumerate(zip(ws, bs)):
        if b.shape != (w.shape[0],):
            raise ValueError(f"biases[{layer}] must have shape ({w.shape[0]},) to match "
                             f"weights[{layer}] {w.shape}, got {b.shape}")
        if layer and w.shape[1] != ws[layer - 1].shape[0]:
            raise ValueError(f"weights[{layer}] must have {ws[layer - 1].shape[0]} columns "
                             f"(the outputs of weights[{layer - 1}]), got shape {w.shape}")
    return ws, bs


def _arrays(name: str, value: Any, ndim: int) -> list[np.ndarray]:
    """The arrays of a sequence, each a writeable float64/float32 array of ndim dimensions
    with no empty axis (written in place, so never converted)."""
    if isinstance(value, (str, bytes, np.ndarray, Mapping)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of arrays, got {type(value).__name__}")
    arrays = list(value)
    if not arrays:
        raise ValueError(f"{name} must hold at least one layer, got none")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float64, np.float32):
            what = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"{name}[{i}] must be a float64 or float32 numpy array, "
                            f"got {what}")
        if a.ndim != ndim or 0 in a.shape:
            raise ValueError(f"{name}[{i}] must be a non-empty {ndim}-D array, "
                             f"got shape {a.shape}")
        if not a.flags.writeable:
            raise ValueError(f"{name}[{i}] must be writeable")
    return arrays


def _check_activations(activations: Any, n_layers: int) -> list[str]:
    if isinstance(activations, (str, bytes, Mapping)) or not hasattr(activations, "__iter__"):
        raise TypeError(f"activations must be a sequence of names, one per hidden layer, "
                        f"got {activations!r}")
    acts = list(activations)
    if len(acts) != n_layers - 1:
        raise ValueError(f"activations must name one activation per hidden layer: "
                         f"{n_layers - 1} for {n_layers} layers of weights, got {len(acts)}")
    for i, a in enumerate(acts):
        if not isinstance(a, str) or a not in ACTIVATIONS:
            raise ValueError(f"activations[{i}] must be one of "
                             f"{', '.join(map(repr, ACTIVATIONS))}, got {a!r}")
    return acts


# ------------------------------------------------------------------ the schemes, per layer


def _normal(w: np.ndarray, b: np.ndarray, rng: np.random.Generator, scale: float,
            bias_std: float) -> None:
    """Weights N(0, 1)·scale, then biases N(0, 1)·bias_std (0, not −0, when bias_std is 0;
    the biases are drawn either way, so the weights do not depend on bias_std)."""
    w[...] = rng.standard_normal(w.shape) * scale
    z = rng.standard_normal(b.shape)
    b[...] = z * bias_std if bias_std > 0 else 0.0


def draw_default(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"default"``: weights N(0, 1/n_in), biases N(0, 1).

    The initialisation of Nielsen (2015), "Neural Networks and Deep Learning", chapter 3
    and ``network2.py`` (``default_weight_initializer``): scaling by 1/√n_in keeps a
    neuron's weighted input z of order 1, so sigmoid neurons do not start saturated.
    Draws z ~ N(0, 1) of w's shape, w = z·(1/√n_in), then b ~ N(0, 1); the same as
    ``draw_scaled(w, b, rng, 1.0)`` and ``Gaussian(1, 1)``, bit for bit.
    """
    draw_scaled(w, b, rng, 1.0)


def draw_large(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"large"``: weights N(0, 1), biases N(0, 1).

    The "old approach" of Nielsen (2015), "Neural Networks and Deep Learning", chapter 3
    and ``network2.py`` (``large_weight_initializer``): with n_in inputs z has standard
    deviation about √n_in, and sigmoid neurons start saturated. Draws w ~ N(0, 1), then
    b ~ N(0, 1).
    """
    _normal(w, b, rng, 1.0, 1.0)


def draw_scaled(w: np.ndarray, b: np.ndarray, rng: np.random.Generator, s: float) -> None:
    """A weight scale s: weights N(0, s²/n_in), biases N(0, 1).

    Nielsen's default (Nielsen 2015, "Neural Networks and Deep Learning") with every weight
    multiplied by s: the axis of the unstable gradient's phase diagram (s = 1 is
    ``"default"``). Draws z ~ N(0, 1) of w's shape, w = z·(s/√n_in), then b ~ N(0, 1).
    """
    _normal(w, b, rng, s / np.sqrt(w.shape[1]), 1.0)


def draw_gaussian(w: np.ndarray, b: np.ndarray, rng: np.random.Generator, weight_var: float,
                  bias_var: float) -> None:
    """:class:`~gradcore.Gaussian`: weights N(0, weight_var/n_in), biases N(0, bias_var).

    The mean-field parametrisation of Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016),
    "Exponential expressivity in deep neural networks through transient chaos", and
    Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation".
    Draws z ~ N(0, 1) of w's shape, w = z·(√weight_var/√n_in), then z_b ~ N(0, 1) of b's
    shape, b = z_b·√bias_var (0 when bias_var is 0). So the weights do not depend on
    bias_var, scaling weight_var by c² scales them by c, and ``Gaussian(1, 1)`` is
    ``"default"`` bit for bit.
    """
    _normal(w, b, rng, math.sqrt(weight_var) / math.sqrt(w.shape[1]), math.sqrt(bias_var))


def draw_lecun(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"lecun"``: weights N(0, 1/n_in), biases 0.

    LeCun, Bottou, Orr & Müller (1998), "Efficient BackProp" (section 4.6): weights of
    mean 0 and standard deviation 1/√n_in (the paper allows any such distribution, e.g. a
    uniform one; gradcore draws a Gaussian), so that, with inputs normalised to unit
    variance, each unit's weighted input has unit variance too. Draws as
    ``Gaussian(1, 0)``, bit for bit (the biases' N(0, 1) numbers are drawn and not used).
    """
    draw_gaussian(w, b, rng, 1.0, 0.0)


def draw_he(w: np.ndarray, b: np.ndarray, rng: np.random.Generator, slope: float) -> None:
    """``"he"``: weights N(0, 2/((1 + a²) n_in)) for a rectifier of negative slope a,
    biases 0.

    He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers: surpassing human-level
    performance on ImageNet classification": a ReLU passes half its input's second moment,
    so weights N(0, 2/n_in) keep the pre-activations' variance constant with depth (their
    eq. 10); a PReLU or leaky ReLU of slope a passes (1 + a²)/2 of it, so
    2/((1 + a²) n_in). a is 0 for ReLU, 0.01 for leaky ReLU and ``prelu_slope`` for PReLU; for other
    activations the scheme is ReLU's (``rectifier_slope``). Which layer's activation
    counts: ``he_activation``. Draws as ``Gaussian(2/(1 + a²), 0)``, bit for bit.
    """
    draw_gaussian(w, b, rng, 2.0 / (1.0 + slope * slope), 0.0)


def _uniform(w: np.ndarray, b: np.ndarray, rng: np.random.Generator, limit: float) -> None:
    """Weights U[−limit, limit), biases 0: u ~ U[0, 1) of w's shape (``Generator.random``),
    w = (2u − 1)·limit; 2u − 1 is exact, so the only rounding is the product's."""
    w[...] = (rng.random(w.shape) * 2.0 - 1.0) * limit
    b[...] = 0.0


def draw_glorot(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"glorot"``: weights U[−√6/√(n_in + n_out), √6/√(n_in + n_out)], biases 0.

    Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
    neural networks", eq. 16, their "normalized initialization": the variance
    2/(n_in + n_out) is the compromise between keeping activations' variance constant going
    forwards (1/n_in) and gradients' going backwards (1/n_out). Draws as
    ``_uniform``.
    """
    n_out, n_in = w.shape
    _uniform(w, b, rng, math.sqrt(6.0) / math.sqrt(n_in + n_out))


def draw_glorot_standard(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"glorot_standard"``: weights U[−1/√n_in, 1/√n_in], biases 0.

    The "commonly used heuristic" that Glorot & Bengio (2010), "Understanding the difficulty
    of training deep feedforward neural networks", call the standard initialization (their
    eq. 1): variance 1/(3 n_in), with which the variance of the back-propagated gradients
    shrinks layer by layer going down. Draws as ``_uniform``.
    """
    _uniform(w, b, rng, 1.0 / math.sqrt(w.shape[1]))


def draw_orthogonal(w: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                    gain: float = 1.0, bias_var: float = 0.0) -> None:
    """``"orthogonal"`` and :class:`~gradcore.Orthogonal`: weights gain × a random (semi-)orthogonal
    matrix, biases N(0, bias_var) (0 for ``"orthogonal"``).

    Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks". The matrix is the Q of the QR decomposition
    of a matrix of N(0, 1) numbers with R's diagonal made positive, which makes Q
    distributed uniformly (by Haar measure) on the orthogonal matrices: Mezzadri (2007),
    "How to generate random matrices from the classical compact groups". A square layer's
    weights are orthogonal; a layer with n_out < n_in has orthonormal rows (W Wᵀ = gain²·I),
    one with n_out > n_in orthonormal columns (Wᵀ W = gain²·I).

    Draws G ~ N(0, 1) of shape (max(n_out, n_in), min(n_out, n_in)), Q =
    :func:`~gradcore.init.orthonormal_columns` (G), w = gain·Q (or gain·Qᵀ when n_out < n_in), then
    z_b ~ N(0, 1) of b's shape, b = z_b·√bias_var (0 when bias_var is 0).
    """
    n_out, n_in = w.shape
    tall = n_out >= n_in
    q = orthonormal_columns(rng.standard_normal((n_out, n_in) if tall else (n_in, n_out)))
    w[...] = (q if tall else q.T) * gain
    z = rng.standard_normal(b.shape)
    b[...] = z * math.sqrt(bias_var) if bias_var > 0 else 0.0


def draw_sparse(w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
    """``"sparse"``: each unit has exactly 15 nonzero incoming weights N(0, 1), the rest 0;
    biases 0.

    The sparse initialisation of Martens (2010), "Deep learning via Hessian-free
    optimization", as used by Sutskever, Martens, Dahl & Hinton (2013), "On the importance
    of initialization and momentum in deep learning": unit-Gaussian weights that are large
    without saturating the units, because only 15 of them feed each unit, whatever n_in.
    A layer with fewer than 15 inputs uses all of them.

    Draws keys u ~ U[0, 1) of w's shape (``Generator.random``); unit i's inputs are the
    k = min(15, n_in) positions of its smallest keys, in increasing order of key (a
    uniformly random k-subset, in random order). Then draws z ~ N(0, 1) of shape
    (n_out, k) and puts z[i, j] at unit i's j-th position.
    """
    n_out, n_in = w.shape
    k = min(SPARSE_FAN_IN, n_in)
    positions = np.argsort(rng.random((n_out, n_in)), axis=1, kind="stable")[:, :k]
    values = rng.standard_normal((n_out, k))
    w[...] = 0.0
    w[np.arange(n_out)[:, None], positions] = values
    b[...] = 0.0


_NAMED: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], None]] = {
    "default": draw_default, "large": draw_large, "glorot": draw_glorot,
    "glorot_standard": draw_glorot_standard, "lecun": draw_lecun,
    "orthogonal": draw_orthogonal, "sparse": draw_sparse,
}


# ------------------------------------------------------------------ a QR of one's own


#: Reflectors applied between two copies of the active part of a matrix into a contiguous
#: array (NumPy's elementwise operations run several times faster on contiguous arrays
#: than on strided views). It changes the speed, never the bits.
_WINDOW = 32

Reflector: TypeAlias = "tuple[np.ndarray, float] | None"


def orthonormal_columns(a: np.ndarray) -> np.ndarray:
    """The Q of the thin QR decomposition a = QR of a (m, n) matrix, m >= n, with R's
    diagonal positive: Q (m, n) has orthonormal columns, float64.

    Householder QR (Householder 1958, "Unitary triangularization of a nonsymmetric
    matrix"; Golub & Van Loan, "Matrix Computations", sections 5.1 and 5.2, with Q
    accumulated backwards), in plain IEEE-754 double arithmetic in a fixed order, so the
    result is the same bits on every machine (see the module's docstring):

    * column k's squared norm is ``math.fsum`` of its squared entries (correctly rounded);
    * the reflector is v = x + sign(x₀)‖x‖e₁, τ = 2/vᵀv = 1/(‖x‖(‖x‖ + |x₀|)), and
      R's diagonal entry is −sign(x₀)‖x‖;
    * applying I − τvvᵀ to a block B computes the sums vᵀB column by column as a pairwise
      tree of elementwise additions whose shape depends only on the number of rows
      (``_column_sums``), then B − v(τ vᵀB) elementwise;
    * Q's columns are multiplied by the signs of R's diagonal, which makes R's diagonal
      positive and Q unique (for a of full rank, i.e. with probability 1 for random a).

    Each column's numbers go through the same operations in the same order as in the
    textbook loop over trailing blocks; that the work is done on contiguous copies in
    windows of ``_WINDOW`` reflectors, some of them on columns whose values are no
    longer needed, does not change them. About (8/3)·n³ floating-point operations for
    n × n. For well-conditioned a the result agrees with LAPACK's QR (``numpy.linalg.qr``,
    signs made the same) to a few units of the last place. An all-zero column is left
    unreflected.
    """
    m, n = np.shape(a)
    if m < n:
        raise ValueError(f"a must have at least as many rows as columns, got shape {(m, n)}")
    work = np.empty(m * n)
    reflectors, signs = _householder_vectors(np.array(a, dtype=np.float64, order="C"), work)
    q = np.zeros((m, n))
    q[np.arange(n), np.arange(n)] = 1.0
    # Q = H₀H₁…H₍ₙ₋₁₎ I: H_k meets Q[k:, k:] after every later reflector; Q[k:, :k] is 0
    # and stays 0, so a window takes all of Q[k0:, k0:]
    for k1 in range(n, 0, -_WINDOW):
        k0 = max(k1 - _WINDOW, 0)
        block = q[k0:, k0:].copy()
        for k in reversed(range(k0, k1)):
            if (ref := reflectors[k]) is not None:
                _reflect(block[k - k0:], ref[0], ref[1], work)
        q[k0:, k0:] = block
    q *= signs
    return q


def _householder_vectors(a: np.ndarray, work: np.ndarray
                         ) -> tuple[list[Reflector], np.ndarray]:
    """The reflectors (v, τ) (None for a zero column) of the QR of a (m, n), m >= n, and the
    signs of R's diagonal. ``a`` is overwritten."""
    n = a.shape[1]
    reflectors: list[Reflector] = []
    signs = np.ones(n)
    active = a  # rows and columns k0: of the matrix being reduced, contiguous
    for k0 in range(0, n, _WINDOW):
        if k0:
            active = active[_WINDOW:, _WINDOW:].copy()
        for i in range(min(_WINDOW, n - k0)):
            x = active[i:, i]
            x0 = float(x[0])
            norm = math.sqrt(math.fsum((x * x).tolist()))
            if norm == 0.0:
                reflectors.append(None)
                continue
            s = 1.0 if x0 >= 0 else -1.0
            signs[k0 + i] = -s
            v = x.copy()
            v[0] = x0 + s * norm
            tau = 1.0 / (norm * (norm + abs(x0)))
            # all of the active rows i: (contiguous); columns < i + 1 are no longer read
            _reflect(active[i:], v, tau, work)
            reflectors.append((v, tau))
    return reflectors, signs


def _reflect(block: np.ndarray, v: np.ndarray, tau: float, work: np.ndarray) -> None:
    """block ← (I − τvvᵀ)·block in place: block − v·(τ·vᵀblock), elementwise operations
    only (``work`` is scratch of at least block.size numbers)."""
    rows, cols = block.shape
    if cols == 0:
        return
    products = work[:rows * cols].reshape(rows, cols)
    np.multiply(v[:, None], block, out=products)
    scaled = _column_sums(products) * tau
    np.multiply(v[:, None], scaled, out=products)
    np.subtract(block, products, out=block)


def _column_sums(p: np.ndarray) -> np.ndarray:
    """The sums of p's columns, in p[0] (p is overwritten): a pairwise tree of elementwise
    additions, row i + row i + h while r rows remain, h = ⌈r/2⌉, whose shape depends only on
    p's number of rows (so not on the CPU, the vector width or BLAS)."""
    r = p.shape[0]
    while r > 1:
        h = (r + 1) // 2
        np.add(p[:r - h], p[h:r], out=p[:r - h])
        r = h
    sums: np.ndarray = p[0]
    return sums
