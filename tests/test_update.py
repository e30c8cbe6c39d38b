"""The update as a choice: momentum, Nesterov, Sutskever's schedule, clipping and dropout
against the NumPy reference at every level and both dtypes; the optimizer state; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore
from gradcore import _core, kernels
from gradcore import reference as ref

LEVELS = [lv for lv in _core.KERNEL_LEVELS
          if _core.KERNEL_LEVELS.index(lv) <= _core.KERNEL_LEVELS.index(_core.kernel_level())]
TOL = {np.float64: 1e-11, np.float32: 2e-4}

UPDATES = {
    "momentum": dict(momentum=0.9),
    "nesterov": dict(momentum=0.9, nesterov=True),
    "sutskever": dict(momentum=0.99, nesterov=True, schedule="sutskever", t0=240,
                      final_from=260, final_momentum=0.9),
    "clip": dict(clip_norm=0.05),
    "dropout": dict(dropout=0.3, seed=12345, epoch=2, batch0=3),
    "all": dict(momentum=0.95, nesterov=True, schedule="sutskever", clip_norm=0.1,
                dropout=0.2, seed=7, epoch=1),
}


@pytest.fixture(autouse=True)
def _restore_level():
    yield
    _core.set_kernel_level(None)


def data(n, n_in, n_out, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.random((n, n_in)).astype(dtype),
            np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)])


def split(flat, net):
    """weights, biases, slopes lists (float64 copies) of a flat buffer of net's layout."""
    arch = net.architecture
    W, B = kernels.layer_views(flat.astype(np.float64), net.sizes,
                               activation=net.activations)
    S = arch.slope_views(flat.astype(np.float64))
    return W, B, S


def flat(W, B, S):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)]
                          + [s for s in S if s is not None])


def kernel_options(name):
    opts = dict(_core.UPDATE_DEFAULTS)
    u = dict(UPDATES[name])
    if "schedule" in u:
        u["schedule"] = 1
    opts.update(u)
    return opts


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("batch_size", [10, 7, 120], ids=lambda m: f"m{m}")
@pytest.mark.parametrize("activation", ["sigmoid", "prelu"])
@pytest.mark.parametrize("name", list(UPDATES))
def test_trajectories_follow_the_reference(name, activation, batch_size, dtype, level):
    """Three epochs: parameters (PReLU slopes too), velocity, speed sums, cost and clipped
    counts as the reference has them; m = 120 is full batch, m = 7 has a short last one."""
    _core.set_kernel_level(level)
    net = gradcore.Network([12, 16, 9, 4], activation=activation, seed=3, dtype=dtype)
    X, Y = data(120, 12, 4, seed=1, dtype=dtype)
    opts = kernel_options(name)
    mom = opts["momentum"] > 0
    vel = np.zeros_like(net.params) if mom else None
    W, B, S = split(net.params, net)
    V = split(np.zeros(net.params.size), net) if mom else None
    rng = np.random.default_rng(5)
    arch = net.architecture
    t0 = opts["t0"]
    for epoch in range(3):
        perm = rng.permutation(120).astype(np.int64)
        o = dict(opts, t0=t0, epoch=opts["epoch"] + epoch)
        speed, clipped = np.zeros(sum(net.sizes[1:])), []
        st_, cost, done = kernels._sgd_epoch(arch, net.params, X, Y, perm, batch_size, 0.1,
                                             3.0, speed, None, -1, None, vel, o, clipped)
        report: dict[str, int] = {}
        r_speed, r_cost, r_done = ref.sgd_epoch(
            W, B, X.astype(np.float64), Y.astype(np.float64), perm, batch_size, 0.1, 3.0,
            net.cost, net.activations, "sigmoid", S, momentum=o["momentum"],
            nesterov=o["nesterov"], schedule="sutskever" if o["schedule"] else None, t0=t0,
            final_from=o["final_from"], final_momentum=o["final_momentum"],
            clip_norm=o["clip_norm"] or None, dropout=o["dropout"], seed=o["seed"],
            epoch=o["epoch"], batch0=o["batch0"], velocity=V, report=report)
        assert st_ == _core.STATUS_OK and done == r_done
        assert clipped == [report["clipped"]]
        assert abs(cost - r_cost) <= TOL[dtype] * 10 * max(1.0, r_cost)
        want = np.concatenate(r_speed)
        assert np.abs(speed - want).max() <= TOL[dtype] * 10 * max(1.0, np.abs(want).max())
        t0 += done
    scale = max(1.0, float(np.abs(flat(W, B, S)).max()))
    assert np.abs(net.params - flat(W, B, S)).max() <= TOL[dtype] * 10 * scale
    if mom:
        assert np.abs(vel - flat(*V)).max() <= TOL[dtype] * 10 * scale
    if name == "clip":
        assert report["clipped"] > 0


def test_momentum_zero_is_the_books_sgd_bit_for_bit():
    X, Y = data(200, 12, 4)
    a = gradcore.train([12, 16, 4], X, Y, epochs=3, batch_size=10, eta=0.5, lmbda=1.0, seed=2)
    b = gradcore.train([12, 16, 4], X, Y, epochs=3, batch_size=10, eta=0.5, lmbda=1.0, seed=2,
                       momentum=0.0, nesterov=False, momentum_schedule=None, clip_norm=None,
                       dropout=0.0)
    assert np.array_equal(a.network.params, b.network.params)
    assert a.state.velocity is None


@pytest.mark.parametrize("t,mu", [(0, 0.5), (249, 0.5), (250, 0.75), (1000, 0.9),
                                  (12250, 0.99), (10**6, 0.99)])
def test_sutskevers_schedule(t, mu):
    got = ref.momentum_at(t, 0.99, "sutskever")
    assert got == pytest.approx(mu, abs=1e-12)
    # the paper's form, with the logarithm
    paper = min(1 - 2 ** (-1 - math.log2(t // 250 + 1)), 0.99)
    assert got == pytest.approx(paper, rel=1e-15)
    assert ref.momentum_at(t, 0.99, "sutskever", final_from=t, final_momentum=0.9) == 0.9


@settings(max_examples=40, deadline=None)
@given(threshold=st.floats(1e-4, 10.0), seed=st.integers(0, 2**31))
def test_a_clipped_step_never_exceeds_eta_times_the_threshold(threshold, seed):
    """Plain SGD without weight decay, one mini-batch: the update is η times the clipped mean
    gradient, so its norm is at most η·threshold; below the threshold it is untouched."""
    net = gradcore.Network([6, 5, 3], seed=seed % 1000)
    X, Y = data(8, 6, 3, seed=seed)
    p0 = net.params.copy()
    g = net._gradient_buffer(X, Y)
    eta = 0.7
    perm = np.arange(8, dtype=np.int64)
    clipped: list[int] = []
    kernels._sgd_epoch(net.architecture, net.params, X, Y, perm, 8, eta, 0.0,
                       np.zeros(8), None, -1, None, None,
                       dict(_core.UPDATE_DEFAULTS, clip_norm=threshold), clipped)
    step = np.linalg.norm(net.params - p0)
    assert step <= eta * threshold * (1 + 1e-9)
    if np.linalg.norm(g) <= threshold:
        assert clipped == [0]
        plain = p0.copy()
        kernels._sgd_epoch(net.architecture, plain, X, Y, perm, 8, eta, 0.0, np.zeros(8))
        assert np.array_equal(plain, net.params)
    else:
        assert clipped == [1]
        assert step == pytest.approx(eta * threshold, rel=1e-9)


def test_dropout_keeps_units_at_the_stated_rate():
    """60,000 Bernoulli(0.7) draws: the kept fraction within 5 standard errors
    (√(0.21/60000) ≈ 0.0019) of 0.7, kept units scaled by 1/0.7, dropped ones 0."""
    s = np.concatenate([ref.dropout_scale(0.3, 99, e, b, l, 100)
                        for e in range(3) for b in range(50) for l in range(4)])
    kept = np.mean(s > 0)
    assert abs(kept - 0.7) < 5 * math.sqrt(0.21 / s.size)
    assert set(np.unique(s)) == {0.0, 1 / 0.7}
    # different keys give different masks
    assert not np.array_equal(ref.dropout_scale(0.5, 1, 0, 0, 0, 64),
                              ref.dropout_scale(0.5, 1, 0, 1, 0, 64))


def test_dropout_gives_the_same_bits_for_one_and_two_threads():
    net = gradcore.Network([12, 40, 40, 4], seed=0)
    X, Y = data(1024, 12, 4, seed=3)
    out = []
    for t in (1, 2):
        with gradcore.thread_limit(t):
            r = gradcore.train(net.copy(), X, Y, epochs=2, batch_size=512, eta=0.5, seed=1,
                               dropout=0.5)
        out.append(r.network.params.tobytes())
    assert out[0] == out[1]


def test_evaluation_uses_no_dropout():
    X, Y = data(300, 12, 4, seed=2)
    Xe, Ye = data(100, 12, 4, seed=9)
    r = gradcore.train([12, 30, 4], X, Y, epochs=3, batch_size=10, eta=0.5, seed=0,
                       dropout=0.5, evaluation_data=(Xe, Ye))
    assert r.history.evaluation_accuracy[-1] == r.network.accuracy(Xe, Ye)
    assert r.history.evaluation_cost[-1] == pytest.approx(r.network.total_cost(Xe, Ye),
                                                          rel=1e-12)
    a, b = r.network.feedforward(Xe), r.network.feedforward(Xe)
    assert np.array_equal(a, b)


OPTIONS = dict(momentum=0.99, nesterov=True, momentum_schedule="sutskever", dropout=0.2,
               clip_norm=0.5, final_momentum=0.9, final_updates=100)


@pytest.mark.parametrize("activation", ["sigmoid", "prelu"])
def test_two_calls_of_five_epochs_equal_one_of_ten(activation):
    X, Y = data(200, 12, 4, seed=4)
    opts = dict(OPTIONS)
    opts.pop("final_momentum"), opts.pop("final_updates")  # "the last updates" of each call
    one = gradcore.train([12, 16, 16, 4], X, Y, epochs=10, batch_size=10, eta=0.2, seed=6,
                         activation=activation, **opts)
    half = gradcore.train([12, 16, 16, 4], X, Y, epochs=5, batch_size=10, eta=0.2, seed=6,
                          activation=activation, **opts)
    two = gradcore.train(half.network, X, Y, epochs=5, batch_size=10, eta=0.2,
                         state=half.state, **opts)
    assert np.array_equal(one.network.params, two.network.params)
    assert np.array_equal(one.state.velocity, two.state.velocity)
    assert two.state.updates == 200 and two.state.epochs == 10


def test_momentum_history_and_the_final_momentum():
    X, Y = data(200, 12, 4, seed=4)
    r = gradcore.train([12, 16, 4], X, Y, epochs=3, batch_size=10, eta=0.2, seed=6,
                       **OPTIONS)
    assert r.state.updates == 60
    assert r.history.clipped.shape == (3,) and r.history.clipped.dtype.kind == "i"


def test_a_diverging_run_keeps_the_last_finite_network_and_velocity():
    """A deep linear net with a large step and momentum overflows within an epoch; the
    network and the velocity are those after the last mini-batch whose update left both
    finite, as a run of exactly that many mini-batches gives them."""
    X, Y = data(100, 12, 4, seed=4)
    net = gradcore.Network([12, 16, 16, 4], activation="linear", seed=0)
    start = net.copy()
    with pytest.raises(gradcore.DivergenceError) as info:
        gradcore.train(net, X, Y, epochs=50, batch_size=10, eta=5.0, seed=0, momentum=0.99)
    err = info.value
    assert np.isfinite(net.params).all()
    assert err.state is not None and np.isfinite(err.state.velocity).all()
    assert err.state.updates == err.epoch * 10 + err.batch
    # the same updates, stopped there on purpose
    perm = np.random.default_rng(np.random.SeedSequence(0).spawn(3)[1]).permutation(100)
    assert err.epoch == 0
    vel = np.zeros_like(start.params)
    kernels._sgd_epoch(start.architecture, start.params, X, Y, perm.astype(np.int64), 10, 5.0,
                       0.0, np.zeros(36), None, err.batch, None, vel,
                       dict(_core.UPDATE_DEFAULTS, momentum=0.99))
    assert np.array_equal(start.params, net.params)
    assert np.array_equal(vel, err.state.velocity)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (dict(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\)"),
    (dict(momentum="0.9"), TypeError, "momentum must be a number"),
    (dict(nesterov=True), ValueError, "nesterov needs momentum > 0"),
    (dict(momentum_schedule="sutskever"), ValueError, "momentum_schedule needs momentum > 0"),
    (dict(momentum=0.9, momentum_schedule="linear"), ValueError,
     "momentum_schedule must be None or 'sutskever', got 'linear'"),
    (dict(clip_norm=0.0), ValueError, "clip_norm must be finite and > 0, got 0.0"),
    (dict(clip_norm=float("nan")), ValueError, "clip_norm must be finite and > 0"),
    (dict(clip_norm=-1), ValueError, "clip_norm must be finite and > 0"),
    (dict(dropout=1.0), ValueError, r"dropout must be in \[0, 1\), got 1.0"),
    (dict(dropout=-0.5), ValueError, r"dropout must be in \[0, 1\)"),
])
def test_bad_update_options_are_refused_before_training(kwargs, error, match):
    X, Y = data(20, 4, 2)
    net = gradcore.Network([4, 3, 2], seed=0)
    p0 = net.params.copy()
    with pytest.raises(error, match=match):
        gradcore.train(net, X, Y, epochs=1, batch_size=5, eta=0.1, **kwargs)
    assert np.array_equal(net.params, p0)


def test_a_state_of_another_network_is_refused():
    X, Y = data(20, 4, 2)
    r = gradcore.train([4, 3, 2], X, Y, epochs=1, batch_size=5, eta=0.1, momentum=0.9)
    for other in (gradcore.Network([4, 5, 2]), gradcore.Network([4, 3, 2], dtype=np.float32),
                  gradcore.Network([4, 3, 2], activation="prelu")):
        with pytest.raises(ValueError, match="state belongs to a network of sizes"):
            gradcore.train(other, X, Y, epochs=1, batch_size=5, eta=0.1, momentum=0.9,
                           state=r.state)
    with pytest.raises(TypeError, match=r"state must be a gradcore\.TrainState"):
        gradcore.train(r.network, X, Y, epochs=1, batch_size=5, eta=0.1, state={})


def test_the_kernel_api_takes_the_update_as_train_does():
    """kernels.sgd_epoch with momentum, Nesterov, the schedule, clipping and dropout gives
    train()'s first epoch, bit for bit, and refuses momentum without a velocity."""
    X, Y = data(120, 12, 4, seed=2)
    opts = dict(momentum=0.99, nesterov=True, momentum_schedule="sutskever", clip_norm=0.5,
                dropout=0.2)
    r = gradcore.train([12, 16, 4], X, Y, epochs=1, batch_size=10, eta=0.1, seed=3, **opts)
    net = gradcore.Network([12, 16, 4], seed=np.random.SeedSequence(3).spawn(3)[0])
    perm = np.random.default_rng(np.random.SeedSequence(3).spawn(3)[1]).permutation(120)
    drop_key = int(np.random.SeedSequence(3).spawn(3)[2].generate_state(1, np.uint64)[0])
    v = np.zeros_like(net.params)
    out = kernels.sgd_epoch(net.params, net.sizes, X, Y, perm.astype(np.int64), batch_size=10,
                            eta=0.1, velocity=v, seed=drop_key, **opts)
    assert np.array_equal(net.params, r.network.params)
    assert np.array_equal(v, r.state.velocity)
    assert out.clipped == r.history.clipped[0] and out.batches == 12
    with pytest.raises(ValueError, match="momentum needs velocity"):
        kernels.sgd_epoch(net.params, net.sizes, X, Y, perm.astype(np.int64), batch_size=10,
                          eta=0.1, momentum=0.9)
