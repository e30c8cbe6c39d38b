"""What one training run of the dashboard is, its limits, and reading it from the page's form.

Everything the page sends arrives as text. :func:`parse_settings` turns the form's text into
a :class:`Settings` or raises :class:`SettingsError` listing every refused field with the
reason, so no bad value ever reaches :func:`gradcore.train`. The limits keep every run
small enough to watch live and bound the memory and CPU a page can claim. Each field's rule
is gradcore's constraint table's entry ``"dashboard.Settings"``; :data:`LIMITS` reads its
numbers from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._validation import CONSTRAINTS, Constraint, Integer

__all__ = [
    "LIMITS",
    "Limits",
    "FIELDS",
    "INIT_CHOICES",
    "COST_CHOICES",
    "ACTIVATION_CHOICES",
    "NESTEROV_CHOICES",
    "SCHEDULE_CHOICES",
    "Settings",
    "SettingsError",
    "parse_settings",
]


#: The rule of every field of the form (gradcore's constraint table).
RULES: dict[str, Constraint] = CONSTRAINTS["dashboard.Settings"]


def _bound(field: str, which: str) -> Any:
    return getattr(RULES[field], which)


@dataclass(frozen=True)
class Limits:
    """The bounds of every setting the page accepts, and of the server as a whole."""

    min_hidden: int = _bound("hidden", "low")
    max_hidden: int = _bound("hidden", "high")
    max_width: int = _bound("width", "high")
    max_epochs: int = _bound("epochs", "high")
    min_images: int = _bound("images", "low")
    max_images: int = _bound("images", "high")  # the embedded MNIST images
    max_eta: float = _bound("eta", "high")
    max_lmbda: float = _bound("lmbda", "high")
    max_scale: float = _bound("scale", "high")
    max_seed: int = _bound("seed", "high")
    max_momentum: float = _bound("momentum", "high")
    max_dropout: float = _bound("dropout", "high")
    max_text: int = 40  # characters of one form field
    max_runs: int = 8  # trainings running at once in one server (all pages)
    max_kept: int = 3  # kept runs overlaid on one page


LIMITS = Limits()

#: The initialisations offered: the book's two, a weight scale s (weights N(0, s²/n_in)),
#: and the named schemes of :mod:`gradcore.init` (each with its paper there).
INIT_CHOICES: tuple[tuple[str, str], ...] = (
    ("default", "default: w ~ N(0, 1/n_in)"),
    ("large", "large: w ~ N(0, 1)"),
    ("scale", "scale s: w ~ N(0, s²/n_in)"),
    ("glorot", "glorot: U(±√(6/(n_in+n_out)))"),
    ("glorot_standard", "glorot_standard: U(±1/√n_in)"),
    ("lecun", "lecun: N(0, 1/n_in), biases 0"),
    ("he", "he: N(0, 2/n_in), biases 0"),
    ("orthogonal", "orthogonal"),
    ("sparse", "sparse: 15 N(0, 1) weights per unit"),
)

#: The hidden layers' activations offered, as TensorFlow Playground offers its own; the
#: output layer stays the book's sigmoid.
ACTIVATION_CHOICES: tuple[tuple[str, str], ...] = (
    ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("softsign", "softsign"), ("relu", "ReLU"),
    ("leaky_relu", "leaky ReLU"), ("elu", "ELU"), ("prelu", "PReLU"), ("linear", "linear"),
)

NESTEROV_CHOICES: tuple[tuple[str, str], ...] = (("no", "classical"), ("yes", "Nesterov"))

SCHEDULE_CHOICES: tuple[tuple[str, str], ...] = (
    ("none", "constant μ"), ("sutskever", "Sutskever et al.'s, rising to μ"),
)

COST_CHOICES: tuple[tuple[str, str], ...] = (
    ("cross_entropy", "cross-entropy"),
    ("quadratic", "quadratic"),
)

#: Form field name -> label shown on the page (and named in refusal messages).
FIELDS: dict[str, str] = {
    "hidden": f"Hidden layers ({LIMITS.min_hidden}–{LIMITS.max_hidden})",
    "width": f"Neurons per hidden layer (1–{LIMITS.max_width})",
    "init": "Initialisation",
    "scale": f"Weight scale s (0 < s ≤ {LIMITS.max_scale:g})",
    "activation": "Hidden activation",
    "cost": "Cost",
    "eta": f"η, learning rate (0 < η ≤ {LIMITS.max_eta:g})",
    "lmbda": f"λ, L2 regularisation (0–{LIMITS.max_lmbda:g})",
    "batch_size": "Mini-batch size (\"full\" or 1–images)",
    "epochs": f"Epochs (1–{LIMITS.max_epochs})",
    "seed": f"Seed (0–{LIMITS.max_seed})",
    "images": f"Training images ({LIMITS.min_images}–{LIMITS.max_images})",
    "momentum": f"Momentum μ (0–{LIMITS.max_momentum:g}; 0: plain SGD)",
    "nesterov": "Momentum kind",
    "schedule": "Momentum schedule",
    "clip_norm": "Clip the gradient norm at (\"none\" or > 0)",
    "dropout": f"Dropout of hidden units (0–{LIMITS.max_dropout:g})",
}


@dataclass(frozen=True)
class Settings:
    """One training run: the book's run by default.

    [784, 30, 30, 30, 10], default initialisation, cross-entropy, full-batch gradient
    descent (η = 0.1, λ = 5.0) for 500 epochs on the 1,000 embedded MNIST images, seed 0.

    Attributes
    ----------
    hidden, width : int
        Hidden layers and neurons in each.
    init : "default", "large" or float
        As ``Network(init=...)``: a float s gives weights N(0, s²/n_in).
    cost : "cross_entropy" or "quadratic"
    eta, lmbda : float
    batch_size : int or None
        None: full batch (every epoch is one step of gradient descent on all images).
    epochs, seed, images : int
        ``images``: train on the first ``images`` of the embedded MNIST images.
    activation : str
        The hidden layers' activation (the output layer is sigmoid).
    momentum, nesterov, schedule, clip_norm, dropout
        The update, as :func:`gradcore.train`'s ``momentum``, ``nesterov``,
        ``momentum_schedule``, ``clip_norm`` and ``dropout``.
    """

    hidden: int = 3
    width: int = 30
    init: str | float = "default"
    activation: str = "sigmoid"
    cost: str = "cross_entropy"
    eta: float = 0.1
    lmbda: float = 5.0
    batch_size: int | None = None
    epochs: int = 500
    seed: int = 0
    images: int = 1000
    momentum: float = 0.0
    nesterov: bool = False
    schedule: str | None = None
    clip_norm: float | None = None
    dropout: float = 0.0

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes: 784 inputs, the hidden layers, 10 outputs."""
        return (784, *([self.width] * self.hidden), 10)

    @property
    def n_layers(self) -> int:
        """Layers with weights (hidden layers and the output layer)."""
        return self.hidden + 1

    def init_label(self) -> str:
        """``default``, ``large`` or ``s = 2``."""
        return self.init if isinstance(self.init, str) else f"s = {self.init:g}"

    def update_label(self) -> str:
        """The update in words: ``SGD``, ``momentum 0.9``, ``Nesterov 0.99 (Sutskever
        schedule)``, with clipping and dropout when they are on."""
        if self.momentum == 0:
            words = "SGD"
        else:
            words = f"{'Nesterov' if self.nesterov else 'momentum'} {self.momentum:g}"
            if self.schedule is not None:
                words += " (Sutskever schedule)"
        if self.clip_norm is not None:
            words += f", clip {self.clip_norm:g}"
        if self.dropout:
            words += f", dropout {self.dropout:g}"
        return words

    def label(self) -> str:
        """A one-line description, e.g. for a legend or a table row."""
        sizes = ",".join(str(s) for s in self.sizes)
        m = "full batch" if self.batch_size is None else f"m = {self.batch_size}"
        cost = "" if self.cost == "cross_entropy" else ", quadratic cost"
        act = "" if self.activation == "sigmoid" else f"{self.activation}, "
        update = "" if self.update_label() == "SGD" else f", {self.update_label()}"
        return (f"[{sizes}] {act}{self.init_label()} init, η = {self.eta:g}, "
                f"λ = {self.lmbda:g}, {m}{cost}{update}, {self.images} images, "
                f"seed {self.seed}")

    def short_label(self) -> str:
        """The choices that tell runs apart in a legend: ``relu, he init, SGD``."""
        return f"{self.activation}, {self.init_label()} init, {self.update_label()}"

    def form(self) -> dict[str, str]:
        """The form's text for these settings (what :func:`parse_settings` reads back)."""
        scale = isinstance(self.init, float)
        return {
            "hidden": str(self.hidden),
            "width": str(self.width),
            "init": "scale" if scale else str(self.init),
            "scale": f"{self.init:g}" if scale else "1",
            "cost": self.cost,
            "eta": f"{self.eta:g}",
            "lmbda": f"{self.lmbda:g}",
            "batch_size": "full" if self.batch_size is None else str(self.batch_size),
            "epochs": str(self.epochs),
            "seed": str(self.seed),
            "images": str(self.images),
            "activation": self.activation,
            "momentum": f"{self.momentum:g}",
            "nesterov": "yes" if self.nesterov else "no",
            "schedule": self.schedule or "none",
            "clip_norm": "none" if self.clip_norm is None else f"{self.clip_norm:g}",
            "dropout": f"{self.dropout:g}",
        }


class SettingsError(ValueError):
    """Form values that were refused; ``messages`` holds one line per refused field."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class _Reader:
    """Reads fields of a form, collecting one message per refused field."""

    def __init__(self, form: Mapping[str, object]) -> None:
        self.form = form
        self.errors: list[str] = []

    def refuse(self, name: str, why: str) -> None:
        self.errors.append(f"{FIELDS[name]} {why}")

    def text(self, name: str) -> str | None:
        value = self.form.get(name, "")
        if not isinstance(value, str):
            self.refuse(name, "must be text")
            return None
        value = value.strip()
        if len(value) > LIMITS.max_text:
            self.refuse(name, f"must be at most {LIMITS.max_text} characters, got "
                              f"{len(value)}")
            return None
        if not value:
            self.refuse(name, "must not be empty")
            return None
        return value

    def value(self, name: str, rule: Constraint | None = None) -> Any:
        """The field's text checked by its rule (RULES[name] unless another is given)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return (rule or RULES[name]).parse(FIELDS[name], text)
        except (TypeError, ValueError) as exc:
            self.errors.append(str(exc))
            return None


def _read_batch_size(r: _Reader, images: int | None) -> int | None:
    text = r.text("batch_size")
    if text is None or text.lower() == "full":
        return None
    value = r.value("batch_size", Integer(1, images or LIMITS.max_images))
    return None if value is None or value == images else value


def _read_init(r: _Reader) -> str | float | None:
    init = r.value("init")
    if init != "scale":
        return init  # type: ignore[no-any-return]
    return r.value("scale")  # type: ignore[no-any-return]


def _read_clip_norm(r: _Reader) -> tuple[bool, float | None]:
    """(read, value): ``none`` is no clipping."""
    text = r.text("clip_norm")
    if text is None:
        return False, None
    if text.lower() == "none":
        return True, None
    value = r.value("clip_norm")
    return value is not None, value


def _check_update(r: _Reader, momentum: float | None, nesterov: str | None,
                  schedule: str | None) -> None:
    """Nesterov and a schedule need μ > 0 (as :func:`gradcore.train` says)."""
    if momentum == 0 and nesterov == "yes":
        r.refuse("nesterov", "Nesterov needs a momentum μ > 0")
    if momentum == 0 and schedule not in (None, "none"):
        r.refuse("schedule", "needs a momentum μ > 0 (the largest μ)")


def parse_settings(form: Mapping[str, object]) -> Settings:
    """Read the page's form (field name -> text, see :data:`FIELDS`) into :class:`Settings`.

    A mini-batch size of ``full`` (or equal to the number of images) means full batch.

    Raises
    ------
    SettingsError
        One message per refused field, naming the field, the limit and what came.
    """
    r = _Reader(form)
    hidden, width = r.value("hidden"), r.value("width")
    init = _read_init(r)
    cost, eta, lmbda = r.value("cost"), r.value("eta"), r.value("lmbda")
    epochs, seed, images = r.value("epochs"), r.value("seed"), r.value("images")
    batch_size = _read_batch_size(r, images)
    activation = r.value("activation")
    momentum, nesterov, schedule = r.value("momentum"), r.value("nesterov"), r.value("schedule")
    _check_update(r, momentum, nesterov, schedule)
    clip_read, clip_norm = _read_clip_norm(r)
    dropout = r.value("dropout")
    if r.errors:
        raise SettingsError(r.errors)
    assert activation is not None and momentum is not None and dropout is not None
    assert nesterov is not None and schedule is not None and clip_read
    assert hidden is not None and width is not None and init is not None
    assert cost is not None and eta is not None and lmbda is not None
    assert epochs is not None and seed is not None and images is not None
    return Settings(hidden=hidden, width=width, init=init, cost=cost, eta=eta, lmbda=lmbda,
                    batch_size=batch_size, epochs=epochs, seed=seed, images=images,
                    activation=activation, momentum=momentum, nesterov=nesterov == "yes",
                    schedule=None if schedule == "none" else schedule,
                    clip_norm=clip_norm, dropout=dropout)
