"""Shared fixtures. The tests run against the installed package, never the source folder."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import gradcore
from gradcore.datasets import mnist_first_1000

_SOURCE = pathlib.Path(__file__).resolve().parent.parent / "gradcore"
if pathlib.Path(gradcore.__file__).resolve().parent == _SOURCE:  # pragma: no cover
    raise RuntimeError("tests imported gradcore from the source folder, not the installed "
                       "package: install it (pip install .) and run pytest from the checkout")


@pytest.fixture(scope="session")
def mnist1000() -> tuple[np.ndarray, np.ndarray]:
    """The embedded first 1,000 MNIST training images and labels."""
    return mnist_first_1000()


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
    """Folder of the full MNIST IDX files ($GRADCORE_DATA); skips when absent."""
    path = os.environ.get("GRADCORE_DATA")
    if not path or not pathlib.Path(path).is_dir():
        pytest.skip("full MNIST not available: set GRADCORE_DATA to the folder of the four "
                    "IDX files")
    return pathlib.Path(path)
