"""gradcore.kernels: the low-level API honours its array contract."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import kernels
from gradcore import reference as ref

SIZES = (784, 30, 30, 10)


@pytest.fixture(scope="module")
def setup(mnist1000):
    X, y = mnist1000
    X, Y = np.ascontiguousarray(X[:200]), np.eye(10)[y[:200]]
    net = gradcore.Network(SIZES, seed=0)
    return net.params.copy(), X, Y


def test_layer_views_share_params(setup):
    params, _, _ = setup
    p = params.copy()
    ws, bs = kernels.layer_views(p, SIZES)
    assert [w.shape for w in ws] == [(30, 784), (30, 30), (10, 30)]
    assert [b.shape for b in bs] == [(30,), (30,), (10,)]
    assert kernels.param_count(SIZES) == p.size == 30 * 785 + 30 * 31 + 10 * 31
    bs[2][...] = 7.0
    assert np.all(p[-10:] == 7.0)


@pytest.mark.parametrize("cost", ["cross_entropy", "quadratic"])
def test_kernels_match_the_reference(setup, cost):
    params, X, Y = setup
    ws, bs = kernels.layer_views(params, SIZES)
    z, a = kernels.feedforward(params, SIZES, X, cost)
    zs, acts = ref.forward(ws, bs, X)
    assert np.allclose(z, zs[-1], rtol=1e-12, atol=1e-13)
    assert np.allclose(a, acts[-1], rtol=1e-12, atol=1e-13)
    grad, cost_sum = kernels.gradient(params, SIZES, X, Y, cost)
    gw, gb = kernels.layer_views(grad, SIZES)
    rw, rb = ref.gradient(ws, bs, X, Y, cost)
    for l in range(3):
        assert np.allclose(gw[l], rw[l], rtol=1e-10, atol=1e-14)
        assert np.allclose(gb[l], rb[l], rtol=1e-10, atol=1e-14)
    assert cost_sum == pytest.approx(ref.total_cost(ws, bs, X, Y, cost) * len(X), rel=1e-12)
    speeds = kernels.learning_speeds(params, SIZES, X, Y, cost)
    assert np.allclose(speeds, ref.learning_speeds(ws, bs, X, Y, cost), rtol=1e-10)


def test_sgd_epoch_matches_the_reference(setup):
    params, X, Y = setup
    p = params.copy()
    perm = np.random.default_rng(0).permutation(len(X)).astype(np.int64)
    out = kernels.sgd_epoch(p, SIZES, X, Y, perm, batch_size=10, eta=0.1, lmbda=5.0)
    ws, bs = [w.copy() for w in kernels.layer_views(params, SIZES)[0]], \
        [b.copy() for b in kernels.layer_views(params, SIZES)[1]]
    s, c, nb = ref.sgd_epoch(ws, bs, X, Y, perm, 10, 0.1, 5.0, "cross_entropy")
    assert out.finite and out.batches == nb == 20
    assert out.cost_sum == pytest.approx(c, rel=1e-10)
    assert np.allclose(out.speed_sum, np.concatenate(s), rtol=1e-10, atol=1e-15)
    assert np.allclose(p, np.concatenate([np.concatenate([w.ravel(), b])
                                          for w, b in zip(ws, bs)]), rtol=1e-10, atol=1e-14)
    q = params.copy()
    part = kernels.sgd_epoch(q, SIZES, X, Y, perm, batch_size=10, eta=0.1, max_batches=3)
    assert part.batches == 3


def test_divergence_is_reported_not_hidden(setup):
    params, X, Y = setup
    p = params.copy()
    perm = np.arange(len(X), dtype=np.int64)
    out = kernels.sgd_epoch(p, SIZES, X, Y, perm, batch_size=10, eta=1e300, lmbda=5.0)
    assert not out.finite


@pytest.mark.parametrize("change, exc, words", [
    (lambda p, X, Y: (p.astype(np.float32), X, Y), TypeError, "X must have dtype float32"),
    (lambda p, X, Y: (p[:-1], X, Y), ValueError, "params must have"),
    (lambda p, X, Y: (p, np.asfortranarray(X), Y), ValueError, "X must be C-contiguous"),
    (lambda p, X, Y: (p, X[:, :700].copy(), Y), ValueError, "X must have 784 columns"),
    (lambda p, X, Y: (p, X, Y[:5]), ValueError, "Y must have 200 rows"),
    (lambda p, X, Y: (p, X.tolist(), Y), TypeError, "X must be a numpy.ndarray"),
    (lambda p, X, Y: (p.astype(np.int64), X, Y), TypeError, "params must be float64"),
])
def test_contract_violations_are_refused(setup, change, exc, words):
    params, X, Y = setup
    p, Xb, Yb = change(params.copy(), X, Y)
    with pytest.raises(exc) as info:
        kernels.gradient(p, SIZES, Xb, Yb)
    assert words in str(info.value)


def test_bad_perm_and_hyper_parameters(setup):
    params, X, Y = setup
    p = params.copy()
    with pytest.raises(ValueError, match="perm must hold row indices"):
        kernels.sgd_epoch(p, SIZES, X, Y, np.array([0, 200], dtype=np.int64),
                          batch_size=1, eta=0.1)
    with pytest.raises(TypeError, match="perm must have dtype int64"):
        kernels.sgd_epoch(p, SIZES, X, Y, np.array([0, 1], dtype=np.int32),
                          batch_size=1, eta=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        kernels.sgd_epoch(p, SIZES, X, Y, np.arange(3), batch_size=0, eta=0.1)
    with pytest.raises(ValueError, match="eta"):
        kernels.sgd_epoch(p, SIZES, X, Y, np.arange(3), batch_size=1, eta=float("nan"))
    assert np.array_equal(p, params)
