"""The blocked kernels against the naive ones, at every kernel level this CPU runs.

The compiled module exports ``gc_set_kernel_level`` (GC_LEVEL_NAIVE = 0 runs the plain
reference loops kept beside each fast kernel) and ``gc_set_num_threads``; these tests reach
them through ctypes on the installed extension, then run the ordinary Python API. Sizes are
chosen to hit every remainder of the tiles: widths 1, 7, 13, 31, 33, 65 (not multiples of any
vector length; rows shorter than a vector take the scalar path, longer ones end with an
overlapping vector, and 33 and 65 put that vector alone after a full strip), mini-batches of
1, 7, 13 and above one chunk (65, 130 rows). The vectorised cross-entropy cost is checked
against the libm one far in both tails and on NaN (float32: to float precision).
"""

from __future__ import annotations

import ctypes
from functools import partial

import numpy as np
import pytest

import gradcore
from gradcore import _core

LIB = ctypes.CDLL(_core.__file__)
LIB.gc_kernel_level.restype = ctypes.c_int
LIB.gc_set_kernel_level.argtypes = [ctypes.c_int]
LIB.gc_set_num_threads.argtypes = [ctypes.c_int]
LIB.gc_get_num_threads.restype = ctypes.c_int

NAIVE, BEST = 0, LIB.gc_kernel_level()
LEVELS = list(range(1, BEST + 1))  # portable, AVX2, AVX-512 as supported
SIZES = [[13, 7, 1], [31, 13, 7, 3], [20, 31, 1, 5], [7, 1, 13], [65, 33, 31, 10], [33, 65, 17, 3]]
ids = lambda s: "-".join(map(str, s))  # noqa: E731


@pytest.fixture(autouse=True)
def restore_defaults():
    yield
    LIB.gc_set_kernel_level(-1)
    LIB.gc_set_num_threads(0)


def with_level(level: int, fn):
    assert LIB.gc_set_kernel_level(level) == 0
    try:
        return fn()
    finally:
        LIB.gc_set_kernel_level(-1)


def problem(sizes, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], n)
    net = gradcore.Network(sizes, seed=seed, dtype=dtype)
    return net, X, y


def tol(dtype):
    return 1e-12 if dtype == np.float64 else 2e-5


def close(a, b, dtype):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= tol(dtype) * scale


def test_levels_are_reported_and_bad_levels_refused():
    assert BEST >= 1
    assert LIB.gc_set_kernel_level(BEST + 1) != 0
    assert LIB.gc_kernel_level() == BEST
    assert LIB.gc_set_num_threads(-1) != 0
    assert LIB.gc_get_num_threads() >= 1


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("sizes", SIZES, ids=ids)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_feedforward_and_gradient(level, sizes, dtype):
    for n in (1, 7, 13, 64, 130):
        net, X, y = problem(sizes, n, dtype, seed=n)
        forward, gradient = partial(net.feedforward, X), partial(net.gradient, X, y)
        want_a, want_g = with_level(NAIVE, forward), with_level(NAIVE, gradient)
        got_a, got_g = with_level(level, forward), with_level(level, gradient)
        close(got_a, want_a, dtype)
        for gw, ww in zip(got_g[0] + got_g[1], want_g[0] + want_g[1]):
            close(gw, ww, dtype)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_examples_outputs_do_not_depend_on_the_examples_beside_it(level, dtype):
    # every layer shape of SIZES, narrow and wide, in chunks of 1 to 64 examples: the same bits
    rows = []
    for sizes in SIZES:
        net, X, _ = problem(sizes, 70, dtype)
        whole = with_level(level, partial(net.feedforward, X))
        one_by_one = np.vstack([with_level(level, partial(net.feedforward, X[i:i + 1]))
                                for i in range(len(X))])
        shifted = with_level(level, partial(net.feedforward, X[3:]))
        rows.append(np.array_equal(whole, one_by_one) and np.array_equal(whole[3:], shifted))
    assert all(rows), rows


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("sizes", SIZES, ids=ids)
@pytest.mark.parametrize("batch_size", [1, 7, 13, 64, 65, 130], ids=lambda m: f"m{m}")
def test_sgd_epoch(level, sizes, batch_size):
    def run():
        net, X, y = problem(sizes, 150, np.float64)
        res = gradcore.train(net, X, y, epochs=2, batch_size=batch_size, eta=0.5, lmbda=1.0,
                             seed=3)
        return net.params.copy(), res.history

    want_p, want_h = with_level(NAIVE, run)
    got_p, got_h = with_level(level, run)
    close(got_p, want_p, np.float64)
    close(got_h.learning_speeds, want_h.learning_speeds, np.float64)
    close(got_h.training_cost, want_h.training_cost, np.float64)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_tails_and_nan(dtype, level):
    # pre-activations far in both tails, exactly 0, and NaN: the vectorised sigmoid clamps
    # and redoes the far lanes with libm (45 values: every vector holds far lanes beside
    # near ones)
    net = gradcore.Network([3, 9], seed=0, dtype=dtype)
    net.weights[0][...] = 0
    net.weights[0][8] = 1  # NaN bias: NaN out
    zs = np.array([-800, -720, -100, -90, -30, 0, 30, 50, np.nan], dtype=dtype)
    net.biases[0][...] = zs
    X = np.zeros((5, 3), dtype=dtype)
    want = with_level(NAIVE, lambda: net.feedforward(X))
    got = with_level(level, lambda: net.feedforward(X))
    with np.errstate(over="ignore"):
        ref = 1.0 / (1.0 + np.exp(-zs.astype(np.float64)))
    assert got[0, 5] == 0.5
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                               rtol=tol(dtype), atol=0)
    assert np.isnan(got[:, 8]).all()
    if dtype == np.float64:  # float32 underflows to 0 earlier, in both kernels
        np.testing.assert_allclose(got[0], ref, rtol=4 * tol(dtype), atol=0)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_are_deterministic_and_agree(threads, mnist1000):
    X, y = mnist1000
    net = gradcore.Network([784, 30, 13, 10], seed=1)
    LIB.gc_set_num_threads(1)
    g1 = net.gradient(X, y)
    LIB.gc_set_num_threads(threads)
    a = net.gradient(X, y)
    b = net.gradient(X, y)
    for u, v, w in zip(a[0] + a[1], b[0] + b[1], g1[0] + g1[1]):
        assert np.array_equal(u, v)  # same thread count: bit for bit
        assert np.array_equal(u, w)  # and the same bits as on one thread
    # full-batch training is deterministic too
    runs = [gradcore.train([784, 30, 10], X[:300], y[:300], epochs=2, batch_size=300, eta=1.0,
                           seed=5).network.params for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_cost_tails_and_nan(level, dtype):
    # output pre-activations from -800 to 800 through 0 (the vector exp and log1p against
    # libm's), 10 outputs a row so mini-batches end with a partial vector of outputs
    zs = np.array([-800, -720, -100, -36.7, -1e-3, 0, 2e-9, 0.7, 30, 710], dtype=dtype)
    net = gradcore.Network([3, 10], seed=0, dtype=dtype)
    net.weights[0][...] = 0
    net.biases[0][...] = zs
    X = np.zeros((7, 3), dtype=dtype)
    Y = np.eye(10, dtype=dtype)[np.arange(7) % 10]

    def cost():  # the kernel's own cost sum (total_cost is computed in NumPy)
        grad = np.empty_like(net.params)
        return _core.gradient(net.architecture.core(), net.params, X, Y, grad)[1]

    # float64: a few ulp per term; float32 computes each term in float (the sum is double)
    rel = 1e-13 if dtype == np.float64 else 1e-6
    want, got = with_level(NAIVE, cost), with_level(level, cost)
    assert np.isfinite(want) and abs(got - want) <= rel * abs(want)
    net.biases[0][4] = np.nan
    assert np.isnan(with_level(level, cost))
