"""What one training run of the dashboard is, its limits, and reading it from the page's form.

Everything the page sends arrives as text. :func:`parse_settings` turns the form's text into
a :class:`Settings` or raises :class:`SettingsError` listing every refused field with the
reason, so no bad value ever reaches :func:`gradcore.train`. The limits keep every run
small enough to watch live and bound the memory and CPU a page can claim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "LIMITS",
    "Limits",
    "FIELDS",
    "INIT_CHOICES",
    "COST_CHOICES",
    "Settings",
    "SettingsError",
    "parse_settings",
]


_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Limits:
    """The bounds of every setting the page accepts, and of the server as a whole."""

    min_hidden: int = 1
    max_hidden: int = 8
    max_width: int = 100
    max_epochs: int = 5000
    min_images: int = 10
    max_images: int = 1000  # the embedded MNIST images
    max_eta: float = 100.0
    max_lmbda: float = 1000.0
    max_scale: float = 1000.0
    max_seed: int = 2**32 - 1
    max_text: int = 40  # characters of one form field
    max_runs: int = 8  # trainings running at once in one server (all pages)
    max_kept: int = 3  # kept runs overlaid on one page


LIMITS = Limits()

#: The initialisations offered: the book's two and a weight scale s (weights N(0, s²/n_in)).
INIT_CHOICES: tuple[tuple[str, str], ...] = (
    ("default", "default: w ~ N(0, 1/n_in)"),
    ("large", "large: w ~ N(0, 1)"),
    ("scale", "scale s: w ~ N(0, s²/n_in)"),
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
    "cost": "Cost",
    "eta": f"η, learning rate (0 < η ≤ {LIMITS.max_eta:g})",
    "lmbda": f"λ, L2 regularisation (0–{LIMITS.max_lmbda:g})",
    "batch_size": "Mini-batch size (\"full\" or 1–images)",
    "epochs": f"Epochs (1–{LIMITS.max_epochs})",
    "seed": "Seed (0–4294967295)",
    "images": f"Training images ({LIMITS.min_images}–{LIMITS.max_images})",
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
    """

    hidden: int = 3
    width: int = 30
    init: str | float = "default"
    cost: str = "cross_entropy"
    eta: float = 0.1
    lmbda: float = 5.0
    batch_size: int | None = None
    epochs: int = 500
    seed: int = 0
    images: int = 1000

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

    def label(self) -> str:
        """A one-line description, e.g. for a legend or a table row."""
        sizes = ",".join(str(s) for s in self.sizes)
        m = "full batch" if self.batch_size is None else f"m = {self.batch_size}"
        cost = "" if self.cost == "cross_entropy" else ", quadratic cost"
        return (f"[{sizes}] {self.init_label()} init, η = {self.eta:g}, λ = {self.lmbda:g}, "
                f"{m}{cost}, {self.images} images, seed {self.seed}")

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
        self.errors.append(f"{FIELDS[name]}: {why}")

    def text(self, name: str) -> str | None:
        value = self.form.get(name, "")
        if not isinstance(value, str):
            self.refuse(name, "expected text")
            return None
        value = value.strip()
        if len(value) > LIMITS.max_text:
            self.refuse(name, f"too long ({len(value)} characters)")
            return None
        if not value:
            self.refuse(name, "empty")
            return None
        return value

    def number(self, name: str, convert: Callable[[str], _N], what: str) -> _N | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return convert(text)
        except ValueError:
            self.refuse(name, f"expected {what}, got {text!r}")
            return None

    def integer(self, name: str, lo: int, hi: int) -> int | None:
        value = self.number(name, int, "a whole number")
        if value is not None and not lo <= value <= hi:
            self.refuse(name, f"must be from {lo} to {hi}, got {value}")
            return None
        return value

    def real(self, name: str, hi: float, *, zero_ok: bool) -> float | None:
        value = self.number(name, float, "a number")
        if value is None:
            return None
        low_ok = value >= 0 if zero_ok else value > 0
        if not (math.isfinite(value) and low_ok and value <= hi):
            bound = "from 0" if zero_ok else "above 0"
            self.refuse(name, f"must be {bound} and at most {hi:g}, got {value:g}")
            return None
        return value

    def choice(self, name: str, choices: tuple[tuple[str, str], ...]) -> str | None:
        text = self.text(name)
        if text is not None and text not in {key for key, _ in choices}:
            self.refuse(name, f"unknown choice {text!r}")
            return None
        return text


def _read_batch_size(r: _Reader, images: int | None) -> int | None:
    text = r.text("batch_size")
    if text is None or text.lower() == "full":
        return None
    value = r.integer("batch_size", 1, images or LIMITS.max_images)
    return None if value is None or value == images else value


def _read_init(r: _Reader) -> str | float | None:
    init = r.choice("init", INIT_CHOICES)
    if init != "scale":
        return init
    return r.real("scale", LIMITS.max_scale, zero_ok=False)


def parse_settings(form: Mapping[str, object]) -> Settings:
    """Read the page's form (field name -> text, see :data:`FIELDS`) into :class:`Settings`.

    A mini-batch size of ``full`` (or equal to the number of images) means full batch.

    Raises
    ------
    SettingsError
        One message per refused field, naming the field, the limit and what came.
    """
    r = _Reader(form)
    hidden = r.integer("hidden", LIMITS.min_hidden, LIMITS.max_hidden)
    width = r.integer("width", 1, LIMITS.max_width)
    init = _read_init(r)
    cost = r.choice("cost", COST_CHOICES)
    eta = r.real("eta", LIMITS.max_eta, zero_ok=False)
    lmbda = r.real("lmbda", LIMITS.max_lmbda, zero_ok=True)
    epochs = r.integer("epochs", 1, LIMITS.max_epochs)
    seed = r.integer("seed", 0, LIMITS.max_seed)
    images = r.integer("images", LIMITS.min_images, LIMITS.max_images)
    batch_size = _read_batch_size(r, images)
    if r.errors:
        raise SettingsError(r.errors)
    assert hidden is not None and width is not None and init is not None
    assert cost is not None and eta is not None and lmbda is not None
    assert epochs is not None and seed is not None and images is not None
    return Settings(hidden=hidden, width=width, init=init, cost=cost, eta=eta, lmbda=lmbda,
                    batch_size=batch_size, epochs=epochs, seed=seed, images=images)
