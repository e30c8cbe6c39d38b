"""The book's own numbers: what gradcore's experiments are compared with.

From Michael Nielsen, *Neural Networks and Deep Learning*, chapter 5 (single, unseeded
runs). The speeds during training come from the book's figure data
(``fig/norms_during_training_{2,3,4}_layers.json`` of mnielsen/neural-networks-and-deep-
learning, MIT licence), shipped in ``gradcore/data/book_speeds_during_training.json``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json

import numpy as np

from .._validation import validated

__all__ = [
    "BOOK_INITIAL_SPEEDS",
    "BOOK_DEPTH_ACCURACY",
    "CHAPTER5_HIDDEN",
    "DEPTH_SIZES",
    "chapter5_sizes",
    "layer_names",
    "book_speed_ratio",
]

#: The book's initial speeds of the hidden layers, by number of hidden layers (one run,
#: first 1,000 training images, default initialisation, cross-entropy).
BOOK_INITIAL_SPEEDS: dict[int, tuple[float, ...]] = {
    2: (0.07, 0.31),
    3: (0.012, 0.060, 0.283),
    4: (0.003, 0.017, 0.070, 0.285),
}

#: The numbers of hidden layers of the chapter's speed experiments.
CHAPTER5_HIDDEN: tuple[int, ...] = (2, 3, 4)

#: The nets of the chapter's accuracy-vs-depth experiment.
DEPTH_SIZES: tuple[tuple[int, ...], ...] = (
    (784, 30, 10),
    (784, 30, 30, 10),
    (784, 30, 30, 30, 10),
    (784, 30, 30, 30, 30, 10),
)

#: The book's validation accuracy (%) of the nets of :data:`DEPTH_SIZES` after 30 epochs
#: (m = 10, η = 0.1, λ = 5.0; one run each).
BOOK_DEPTH_ACCURACY: dict[tuple[int, ...], float] = dict(
    zip(DEPTH_SIZES, (96.48, 96.90, 96.57, 96.53)))


@validated("experiments.chapter5_sizes")
def chapter5_sizes(hidden: int, width: int = 30) -> list[int]:
    """Layer sizes ``[784, width, …, width, 10]`` with ``hidden`` hidden layers."""
    return [784] + [width] * hidden + [10]


def layer_names(n_layers: int) -> list[str]:
    """Column names of the layers with weights: ``hidden_1``, …, ``hidden_k``, ``output``."""
    return [f"hidden_{i + 1}" for i in range(n_layers - 1)] + ["output"]


@functools.cache
def _book_norms() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    resource = importlib.resources.files("gradcore").joinpath(
        "data/book_speeds_during_training.json")
    doc = json.loads(resource.read_text(encoding="utf-8"))
    return {int(k): (np.array(v["first_hidden"]), np.array(v["last_hidden"]))
            for k, v in doc["nets"].items()}


def book_speed_ratio(hidden: int) -> np.ndarray:
    """The book's speed of the last hidden layer ÷ that of hidden layer 1, per epoch.

    Computed from the book's own figure data (500 epochs of full-batch gradient descent on
    the first 1,000 training images; one unseeded run per net).

    Parameters
    ----------
    hidden : {2, 3, 4}
        Number of hidden layers of the net.

    Returns
    -------
    ndarray (500,)
        Entry e: the ratio before epoch e's update.
    """
    norms = _book_norms()
    if hidden not in norms:
        raise ValueError(f"the book's figure data has 2, 3 or 4 hidden layers, got {hidden!r}")
    first, last = norms[hidden]
    return np.asarray(last / first)
