"""Speed floor: one native SGD epoch is at least 3x faster than the NumPy reference.

Both run in this process on the same data, alternating, so a loaded machine slows both; the
ratio of the medians is compared with the floor. [784,30,30,10], m = 10, eta = 0.1,
lambda = 5.0, 10,000 images (full MNIST when $GRADCORE_DATA is set, else the embedded 1,000
images visited 10 times each).
"""

from __future__ import annotations

import os
import time

import numpy as np

import gradcore
from gradcore import _core
from gradcore import reference as ref
from gradcore.datasets import load_mnist, mnist_first_1000

FLOOR = 3.0
SIZES = [784, 30, 30, 10]
N = 10_000


def _data():
    path = os.environ.get("GRADCORE_DATA")
    if path and os.path.isdir(path):
        X, y = load_mnist(path).training
        return X[:N], y[:N], np.random.default_rng(0).permutation(N).astype(np.int64)
    X, y = mnist_first_1000()
    return X, y, np.random.default_rng(0).integers(0, len(X), N).astype(np.int64)


def test_native_epoch_is_3x_faster_than_the_reference():
    X, y, perm = _data()
    Y = np.eye(10)[y]
    net = gradcore.Network(SIZES, seed=1)
    p0 = net.params.copy()

    def native():
        net.params[...] = p0
        speed_sum = np.zeros(sum(SIZES[1:]))
        t = time.perf_counter()
        _core.sgd_epoch(net.params, net._sizes32, 0, X, Y, perm, 10, 0.1, 5.0, speed_sum)
        return time.perf_counter() - t

    def reference():
        w = [a.copy() for a in gradcore.Network(SIZES, seed=1).weights]
        b = [a.copy() for a in gradcore.Network(SIZES, seed=1).biases]
        t = time.perf_counter()
        ref.sgd_epoch(w, b, X, Y, perm, 10, 0.1, 5.0, "cross_entropy")
        return time.perf_counter() - t, w, b

    native()  # warm up: page in the data, pick the kernels
    t_native, t_ref = [], []
    for _ in range(5):
        t_native.append(native())
        t, w, b = reference()
        t_ref.append(t)
    # the timed native run computed the same epoch as the reference
    np.testing.assert_allclose(net.weights[0], w[0], rtol=1e-9, atol=1e-12)
    ratio = np.median(t_ref) / np.median(t_native)
    assert ratio >= FLOOR, (
        f"native epoch {np.median(t_native):.4f} s vs reference {np.median(t_ref):.4f} s: "
        f"{ratio:.2f}x, below the {FLOOR}x floor")
