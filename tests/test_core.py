"""The compiled kernels against the NumPy reference, finite differences and float32."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import _core
from gradcore import reference as ref

NETS = [
    [784, 30, 10],
    [784, 30, 30, 10],
    [784, 30, 30, 30, 10],
    [784, 30, 30, 30, 30, 10],
]
COSTS = ["cross_entropy", "quadratic"]
RTOL = 1e-10


def relerr(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def onehot(y: np.ndarray, k: int = 10) -> np.ndarray:
    return np.eye(k)[y]


def params_of(net: gradcore.Network) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [w.copy() for w in net.weights], [b.copy() for b in net.biases]


@pytest.fixture(scope="module")
def data(mnist1000):
    X, y = mnist1000
    return X[:300], y[:300]


@pytest.mark.parametrize("sizes", NETS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("cost", COSTS)
def test_feedforward_gradient_speeds_match_reference(sizes, cost, data):
    X, y = data
    net = gradcore.Network(sizes, cost=cost, seed=3)
    W, B = params_of(net)
    assert relerr(net.feedforward(X), ref.feedforward(W, B, X)) <= RTOL
    gw, gb = net.gradient(X, y)
    rw, rb = ref.gradient(W, B, X, onehot(y), cost)
    for l in range(len(W)):
        assert gw[l].shape == rw[l].shape and gb[l].shape == rb[l].shape
        assert relerr(gw[l], rw[l]) <= RTOL, f"dC/dW[{l}]"
        assert relerr(gb[l], rb[l]) <= RTOL, f"dC/db[{l}]"
    speeds = net.learning_speeds(X, y)
    assert speeds.shape == (len(sizes) - 1,)
    assert relerr(speeds, ref.learning_speeds(W, B, X, onehot(y), cost)) <= RTOL
    assert net.total_cost(X, y, lmbda=5.0) == pytest.approx(
        ref.total_cost(W, B, X, onehot(y), cost, lmbda=5.0), rel=RTOL)


@pytest.mark.parametrize("sizes", NETS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("batch_size", [10, 7, 100, 300], ids=lambda m: f"m{m}")
def test_sgd_epoch_matches_reference(sizes, cost, batch_size, data):
    """One epoch from the same weights and permutation: parameters, speeds and cost agree.

    m = 7 leaves a shorter last mini-batch; m = 100 and 300 (full batch) take the chunked
    path that sums the gradient before updating.
    """
    X, y = data
    Y = onehot(y)
    net = gradcore.Network(sizes, cost=cost, seed=5)
    W, B = params_of(net)
    perm = np.random.default_rng(11).permutation(len(X)).astype(np.int64)
    eta, lmbda = 0.5, 5.0
    speed_sum = np.zeros(sum(sizes[1:]))
    st, cost_sum, done, _ = _core.sgd_epoch(net.architecture.core(), net.params,
                                            np.ascontiguousarray(X), Y, perm, batch_size, eta,
                                            lmbda, speed_sum)
    r_speeds, r_cost, r_batches = ref.sgd_epoch(W, B, X, Y, perm, batch_size, eta, lmbda, cost)
    assert st == _core.STATUS_OK
    assert done == r_batches == -(-len(X) // batch_size)
    for l in range(len(W)):
        assert relerr(net.weights[l], W[l]) <= RTOL, f"W[{l}]"
        assert relerr(net.biases[l], B[l]) <= RTOL, f"b[{l}]"
    assert relerr(speed_sum, np.concatenate(r_speeds)) <= RTOL
    assert cost_sum == pytest.approx(r_cost, rel=RTOL)


def test_train_epoch_matches_reference_and_history(data):
    """train() = the reference epoch with the permutation its seed gives; history agrees."""
    X, y = data
    sizes = [784, 30, 30, 10]
    net = gradcore.Network(sizes, seed=1)
    W, B = params_of(net)
    res = gradcore.train(net, X, y, epochs=2, batch_size=10, eta=0.1, lmbda=5.0, seed=42)
    assert res.network is net
    rng = np.random.default_rng(np.random.SeedSequence(42).spawn(2)[1])
    for epoch in range(2):
        perm = rng.permutation(len(X))
        s, c, nb = ref.sgd_epoch(W, B, X, onehot(y), perm, 10, 0.1, 5.0, "cross_entropy")
        speeds = [np.linalg.norm(v / nb) for v in s]
        assert relerr(res.history.learning_speeds[epoch], speeds) <= RTOL
        l2 = 0.5 * 5.0 / len(X) * sum(np.sum(w * w) for w in W)
        assert res.history.training_cost[epoch] == pytest.approx(c / len(X) + l2, rel=RTOL)
    for l in range(len(W)):
        assert relerr(net.weights[l], W[l]) <= RTOL


@pytest.mark.parametrize("cost", COSTS)
def test_gradient_matches_finite_differences(cost):
    rng = np.random.default_rng(0)
    sizes = [6, 5, 4, 3]
    net = gradcore.Network(sizes, cost=cost, seed=2)
    X = rng.random((8, 6))
    y = rng.integers(0, 3, 8)
    gw, gb = net.gradient(X, y)
    analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(gw, gb)])
    numeric = np.empty_like(net.params)
    h = 1e-6
    for p in range(net.params.size):
        old = net.params[p]
        net.params[p] = old + h
        up = net.total_cost(X, y)
        net.params[p] = old - h
        down = net.total_cost(X, y)
        net.params[p] = old
        numeric[p] = (up - down) / (2 * h)
    assert np.max(np.abs(analytic - numeric)) <= 1e-7 * max(1.0, np.max(np.abs(numeric)))
    assert np.max(np.abs(analytic)) > 1e-3  # the comparison is not between zeros


@pytest.mark.parametrize("cost", COSTS)
def test_float32_agrees_with_float64(cost, data):
    X, y = data
    sizes = [784, 30, 30, 10]
    n64 = gradcore.Network(sizes, cost=cost, seed=4)
    n32 = gradcore.Network(sizes, cost=cost, seed=4, dtype=np.float32)
    assert n32.params.dtype == np.float32
    n32.params[...] = n64.params
    out64, out32 = n64.feedforward(X), n32.feedforward(X)
    assert out32.dtype == np.float32
    assert relerr(out32, out64) <= 1e-4
    assert relerr(n32.learning_speeds(X, y), n64.learning_speeds(X, y)) <= 1e-3
    r64 = gradcore.train(n64, X, y, epochs=1, batch_size=10, eta=0.1, lmbda=5.0, seed=0)
    r32 = gradcore.train(n32, X, y, epochs=1, batch_size=10, eta=0.1, lmbda=5.0, seed=0)
    assert relerr(n32.params, n64.params) <= 1e-4
    assert relerr(r32.history.learning_speeds, r64.history.learning_speeds) <= 1e-3


def test_views_share_the_parameter_buffer(data):
    X, _ = data
    net = gradcore.Network([784, 30, 10], seed=0)
    before = net.feedforward(X[:5])
    net.weights[1][...] = 0.0
    net.biases[1][...] = 0.0
    assert np.allclose(net.feedforward(X[:5]), 0.5)  # σ(0) everywhere
    net.weights[0] = np.ones((30, 784))
    assert np.all(net.params[:30 * 784] == 1.0)
    assert not np.allclose(before, net.feedforward(X[:5]))


def test_same_seed_same_result_bit_for_bit(data):
    X, y = data
    a = gradcore.train([784, 30, 30, 10], X, y, epochs=2, batch_size=10, eta=0.1, seed=7)
    b = gradcore.train([784, 30, 30, 10], X, y, epochs=2, batch_size=10, eta=0.1, seed=7)
    c = gradcore.train([784, 30, 30, 10], X, y, epochs=2, batch_size=10, eta=0.1, seed=8)
    assert np.array_equal(a.network.params, b.network.params)
    assert np.array_equal(a.history.learning_speeds, b.history.learning_speeds)
    assert not np.array_equal(a.network.params, c.network.params)


def test_inputs_of_other_layouts_give_the_same_result(data):
    X, y = data
    net = gradcore.Network([784, 30, 10], seed=0)
    base = net.feedforward(X)
    fortran = np.asfortranarray(X)
    strided = np.repeat(X, 2, axis=1)[:, ::2]
    assert np.array_equal(net.feedforward(fortran), base)
    assert np.array_equal(net.feedforward(strided), base)
    Xi = (X * 256).astype(np.int64)
    assert np.array_equal(net.feedforward(Xi), net.feedforward(Xi.astype(np.float64)))
    assert np.array_equal(net.gradient(X, onehot(y))[1][0], net.gradient(X, y)[1][0])


def test_pickle_and_deepcopy_keep_the_views_on_the_buffer(data):
    import copy
    import pickle

    X, _ = data
    net = gradcore.Network([784, 30, 10], seed=0, dtype=np.float32)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), net.copy()):
        assert clone.dtype == np.float32 and clone.sizes == net.sizes
        assert np.array_equal(clone.feedforward(X), net.feedforward(X))
        clone.weights[1] = np.zeros((10, 30))
        assert np.all(clone.params[30 * 785:30 * 785 + 300] == 0)  # reached the buffer
        assert not np.array_equal(clone.feedforward(X), net.feedforward(X))


def test_read_only_parameters_can_be_evaluated(data):
    X, y = data
    net = gradcore.Network([784, 30, 10], seed=0)
    expected = net.feedforward(X)
    net.params.flags.writeable = False
    assert np.array_equal(net.feedforward(X), expected)
    assert net.learning_speeds(X, y).shape == (2,)


def test_threads_and_kernel_level_are_reported_and_settable(data):
    X, y = data
    assert gradcore.kernel_level() in ("portable", "avx2", "avx512")
    before = gradcore.get_num_threads()
    try:
        gradcore.set_num_threads(1)
        assert gradcore.get_num_threads() == 1
        one = gradcore.Network([784, 30, 10], seed=0).gradient(X, y)[0][0]
        gradcore.set_num_threads(2)
        two = gradcore.Network([784, 30, 10], seed=0).gradient(X, y)[0][0]
        assert relerr(two, one) <= RTOL
        with pytest.raises(ValueError, match=">= 0"):
            gradcore.set_num_threads(-1)
    finally:
        gradcore.set_num_threads(before)
