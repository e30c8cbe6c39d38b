"""Native float64/float32 against the NumPy reference: feedforward, gradient, one SGD epoch.

One benchmark group per operation and net size; each benchmark asserts its result.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import _core
from gradcore import reference as ref

NETS = [[784, 30, 10], [784, 30, 30, 10], [784, 30, 30, 30, 10], [784, 30, 30, 30, 30, 10]]
IMPLS = ["native-f64", "native-f32", "reference"]
ETA, LMBDA, M = 0.1, 5.0, 10


def net_id(sizes):
    return "-".join(map(str, sizes))


def _net(sizes, impl):
    dtype = np.float32 if impl == "native-f32" else np.float64
    return gradcore.Network(sizes, seed=1, dtype=dtype)


def _rtol(impl):
    return 1e-4 if impl == "native-f32" else 1e-10


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", NETS, ids=net_id)
def test_feedforward(benchmark, sizes, impl, mnist1000):
    X, _, _ = mnist1000
    net = _net(sizes, impl)
    want = ref.feedforward(list(_net(sizes, "reference").weights),
                           list(_net(sizes, "reference").biases), X)
    benchmark.group = f"feedforward {net_id(sizes)} (1,000 images)"
    if impl == "reference":
        w, b = list(net.weights), list(net.biases)
        got = benchmark(ref.feedforward, w, b, X)
    else:
        Xc = X.astype(net.dtype)
        got = benchmark(net.feedforward, Xc)
    np.testing.assert_allclose(got, want, rtol=_rtol(impl), atol=1e-6 if impl == "native-f32" else 0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", NETS, ids=net_id)
def test_gradient(benchmark, sizes, impl, mnist1000):
    X, y, Y = mnist1000
    net = _net(sizes, impl)
    r = _net(sizes, "reference")
    want_w, want_b = ref.gradient(list(r.weights), list(r.biases), X, Y, "cross_entropy")
    benchmark.group = f"gradient {net_id(sizes)} (1,000 images)"
    if impl == "reference":
        gw, gb = benchmark(ref.gradient, list(net.weights), list(net.biases), X, Y,
                           "cross_entropy")
    else:
        Xc = X.astype(net.dtype)
        gw, gb = benchmark(net.gradient, Xc, y)
    scale = max(np.abs(w).max() for w in want_w)
    for g, w in zip(gw, want_w):
        np.testing.assert_allclose(g, w, rtol=0, atol=scale * (1e-4 if impl == "native-f32" else 1e-10))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", NETS, ids=net_id)
def test_sgd_epoch(benchmark, sizes, impl, mnist1000):
    X, y, Y = mnist1000
    perm = np.random.default_rng(0).permutation(len(X)).astype(np.int64)
    r = _net(sizes, "reference")
    want_w = [w.copy() for w in r.weights]
    want_b = [b.copy() for b in r.biases]
    ref.sgd_epoch(want_w, want_b, X, Y, perm, M, ETA, LMBDA, "cross_entropy")
    benchmark.group = f"SGD epoch {net_id(sizes)} (1,000 images, m = 10)"
    net = _net(sizes, impl)
    p0 = net.params.copy()
    if impl == "reference":
        def setup():
            w = [a.copy() for a in r.weights]
            b = [a.copy() for a in r.biases]
            return (w, b, X, Y, perm, M, ETA, LMBDA, "cross_entropy"), {}

        def run(w, b, *args):
            ref.sgd_epoch(w, b, *args)
            return w, b

        got_w, _ = benchmark.pedantic(run, setup=setup, rounds=20)
    else:
        Xc, Yc = X.astype(net.dtype), Y.astype(net.dtype)

        def setup():
            net.params[...] = p0
            return (net.params, net._sizes32, 0, Xc, Yc, perm, M, ETA, LMBDA,
                    np.zeros(sum(sizes[1:]))), {}

        benchmark.pedantic(_core.sgd_epoch, setup=setup, rounds=50)
        got_w = net.weights
    for g, w in zip(got_w, want_w):
        np.testing.assert_allclose(g, w, rtol=_rtol(impl) * 10, atol=1e-5 if impl == "native-f32" else 1e-12)
