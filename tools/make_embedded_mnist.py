#!/usr/bin/env python3
"""Rebuild ``gradcore/data/mnist_first_1000.npz`` from the MNIST IDX files.

The archive holds the first 1,000 MNIST training images (the ones the
gradient experiments of chapter 5 of "Neural Networks and Deep Learning"
use) as raw bytes, so that the package works offline:

* ``images``: uint8, shape (1000, 784), row-major 28x28 pixels;
* ``labels``: uint8, shape (1000,).

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges and is
distributed under CC BY-SA 3.0; see ``gradcore/data/MNIST-LICENSE.txt``.

Usage::

    python tools/make_embedded_mnist.py [MNIST_DIR] [-o OUTPUT] [-n COUNT]

``MNIST_DIR`` defaults to ``$GRADCORE_DATA`` and must contain
``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``.
The files are checked against the published checksums before use.
The script needs only NumPy and the standard library (it loads
``gradcore/datasets.py`` directly, without importing the compiled package).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "gradcore" / "data" / "mnist_first_1000.npz"


def _load_datasets_module():
    """Import ``gradcore/datasets.py`` (and the ``_files`` it uses) without the package.

    A bare package object whose path is the ``gradcore`` folder stands in for gradcore, so
    ``datasets`` and its relative imports load while ``gradcore/__init__.py``, which needs
    the compiled core, never runs.
    """
    package = types.ModuleType("_gradcore_sources")
    package.__path__ = [str(ROOT / "gradcore")]
    sys.modules[package.__name__] = package
    return importlib.import_module(f"{package.__name__}.datasets")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mnist_dir",
        nargs="?",
        default=os.environ.get("GRADCORE_DATA"),
        help="folder with the MNIST IDX files (default: $GRADCORE_DATA)",
    )
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("-n", "--count", type=int, default=1000)
    args = parser.parse_args(argv)
    if not args.mnist_dir:
        parser.error("give MNIST_DIR or set $GRADCORE_DATA")

    ds = _load_datasets_module()
    folder = Path(args.mnist_dir)
    images = ds._read_verified(folder, "train-images-idx3-ubyte")
    labels = ds._read_verified(folder, "train-labels-idx1-ubyte")
    n = args.count
    images = np.ascontiguousarray(images[:n].reshape(n, -1), dtype=np.uint8)
    labels = np.ascontiguousarray(labels[:n], dtype=np.uint8)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, images=images, labels=labels)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size:,} bytes)")
    print(f"  images {images.shape} sha256 {hashlib.sha256(images.tobytes()).hexdigest()}")
    print(f"  labels {labels.shape} sha256 {hashlib.sha256(labels.tobytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
