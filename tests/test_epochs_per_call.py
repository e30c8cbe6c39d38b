"""Several epochs in one compiled call (gc_sgd_epochs): the same bits as one call per epoch.

train() runs its epochs up to 64 to a call when nothing has to happen between them, and one
per call with a callback or evaluation data. A callback that does nothing therefore forces
the one-epoch path, and the two paths must agree in everything a run returns: parameters,
velocity, history, state, and where a divergence or a stop is reported.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gradcore
from gradcore import _core

SIZES = [784, 30, 30, 10]

UPDATES = {
    "sgd": {},
    "momentum-schedule": {"momentum": 0.9, "momentum_schedule": "sutskever",
                          "final_momentum": 0.5, "final_updates": 30},
    "nesterov-dropout": {"momentum": 0.5, "nesterov": True, "dropout": 0.3},
    "clipping": {"clip_norm": 0.5},
}


def _run(data, *, per_epoch, dtype=np.float64, activation="sigmoid", **kw):
    X, y = data
    net = gradcore.Network(SIZES, activation=activation, seed=3, dtype=dtype)
    callback = (lambda epoch, history: None) if per_epoch else None
    try:
        result = gradcore.train(net, X, y, callback=callback, **kw)
    except (gradcore.DivergenceError, gradcore.Stopped) as exc:
        return net, exc
    return net, result


def _same_history(a, b):
    for name in ("learning_speeds", "gradient_rms", "training_cost", "clipped"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("update", sorted(UPDATES))
def test_several_epochs_per_call_give_the_bits_of_one_per_call(mnist1000, update, dtype):
    X, y = mnist1000
    kw = dict(epochs=7, batch_size=20, eta=0.5, lmbda=3.0, seed=11, dtype=dtype,
              **UPDATES[update])
    net_a, a = _run((X[:300], y[:300]), per_epoch=False, **kw)
    net_b, b = _run((X[:300], y[:300]), per_epoch=True, **kw)
    assert isinstance(a, gradcore.TrainResult) and isinstance(b, gradcore.TrainResult)
    assert net_a.params.dtype == dtype
    np.testing.assert_array_equal(net_a.params, net_b.params)
    _same_history(a.history, b.history)
    assert a.history.training_cost.shape == (7,)
    sa, sb = a.state, b.state
    assert (sa.updates, sa.epochs) == (sb.updates, sb.epochs) == (7 * 15, 7)
    if sa.velocity is None:
        assert sb.velocity is None and "momentum" not in UPDATES[update]
    else:
        np.testing.assert_array_equal(sa.velocity, sb.velocity)
    assert sa.shuffle == sb.shuffle


def test_runs_longer_than_one_call_continue_exactly(mnist1000):
    # 1,000 rows: 64 epochs to a call, so 70 epochs are two calls; the second must continue
    # the first's update count (the schedule) and shuffling
    X, y = mnist1000
    kw = dict(epochs=70, batch_size=500, eta=0.5, seed=2, momentum=0.95,
              momentum_schedule="sutskever")
    net_a, a = _run((X, y), per_epoch=False, **kw)
    net_b, b = _run((X, y), per_epoch=True, **kw)
    np.testing.assert_array_equal(net_a.params, net_b.params)
    _same_history(a.history, b.history)
    assert a.state.updates == 140


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_divergence_in_a_later_epoch_of_a_call_is_found_as_with_one_per_call(mnist1000,
                                                                                 dtype):
    # a deep linear net with a large step diverges a few epochs in: the call must put back
    # the state before the failing mini-batch, found by replaying the epochs before it
    X, y = mnist1000
    kw = dict(epochs=40, batch_size=50, eta=0.12, seed=1, momentum=0.5, dtype=dtype,
              activation="linear")
    net_a, a = _run((X[:200], y[:200]), per_epoch=False, **kw)
    net_b, b = _run((X[:200], y[:200]), per_epoch=True, **kw)
    assert isinstance(a, gradcore.DivergenceError) and isinstance(b, gradcore.DivergenceError)
    assert a.epoch >= 1  # not the call's first epoch
    assert (a.epoch, a.batch) == (b.epoch, b.batch)
    assert np.isfinite(net_a.params).all()
    np.testing.assert_array_equal(net_a.params, net_b.params)
    _same_history(a.history, b.history)
    assert len(a.history.training_cost) == a.epoch
    np.testing.assert_array_equal(a.state.velocity, b.state.velocity)
    assert a.state.updates == b.state.updates == a.epoch * 4 + a.batch


def test_a_stop_inside_a_call_keeps_every_update_and_the_epochs_before(mnist1000):
    X, y = mnist1000
    stop = gradcore.StopFlag()
    timer = threading.Timer(0.3, stop.set)
    net = gradcore.Network(SIZES, seed=3)
    start = net.params.copy()
    timer.start()
    try:
        with pytest.raises(gradcore.Stopped) as info:
            gradcore.train(net, X, y, epochs=10**6, batch_size=10, eta=0.5, seed=4, stop=stop)
    finally:
        timer.cancel()
    exc = info.value
    assert exc.epoch >= 1
    assert len(exc.history.training_cost) == exc.epoch
    assert exc.state.updates == exc.epoch * 100 + exc.batch
    assert exc.state.epochs == exc.epoch
    # the network holds exactly those updates: replay them from the start
    again = gradcore.Network(SIZES, seed=3)
    np.testing.assert_array_equal(again.params, start)
    done = gradcore.train(again, X, y, epochs=exc.epoch, batch_size=10, eta=0.5, seed=4)
    _same_history(done.history, exc.history)
    rng = np.random.default_rng()
    rng.bit_generator.state = done.state.shuffle
    perm = rng.permutation(len(X)).astype(np.int64)
    gradcore.kernels.sgd_epoch(again.params, SIZES, X, np.eye(10)[y], perm, batch_size=10,
                               eta=0.5, max_batches=exc.batch)
    np.testing.assert_array_equal(again.params, net.params)


def test_the_l2_sum_is_the_cores_for_every_caller(mnist1000):
    # the cost of an epoch takes Σw² from the compiled core, in every path, so the bits do
    # not depend on how the epochs were called; it equals NumPy's sum to rounding
    net = gradcore.Network(SIZES, seed=5, dtype=np.float32)
    arch = net.architecture.core()
    got = _core.weights_sum_squares(arch, net.params)
    want = sum(float(np.sum(np.square(w, dtype=np.float64))) for w in net.weights)
    assert got == pytest.approx(want, rel=1e-13)
    # biases and slopes are not weights
    net.biases[0][...] = 1e3
    assert _core.weights_sum_squares(arch, net.params) == got
    with pytest.raises(ValueError, match="params"):
        _core.weights_sum_squares(arch, net.params[:-1])


def _epochs_args(net, X, Y, perms, **kw):
    nb, L = sum(net.sizes[1:]), net.n_layers
    speed = kw.pop("speed", np.zeros((len(perms), nb)))
    sq = kw.pop("sq", np.zeros((len(perms), L)))
    return (net.architecture.core(), net.params, X, Y, perms, 10, 0.5, 0.0, speed, sq), kw


def test_the_epochs_call_checks_its_arguments(mnist1000):
    X, y = mnist1000
    X, Y = np.ascontiguousarray(X[:100]), np.eye(10)[y[:100]]
    net = gradcore.Network(SIZES, seed=1)
    perms = np.tile(np.arange(100, dtype=np.int64), (3, 1))
    before = net.params.copy()
    args, _ = _epochs_args(net, X, Y, perms, speed=np.zeros((2, 70)))
    with pytest.raises(ValueError, match="speed_sums must be"):
        _core.sgd_epochs(*args)
    args, _ = _epochs_args(net, X, Y, perms, sq=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="sq_sums must be"):
        _core.sgd_epochs(*args)
    args, _ = _epochs_args(net, X, Y, perms)
    with pytest.raises(ValueError, match="batch0"):
        _core.sgd_epochs(*args, update={"batch0": 3})
    bad = perms.copy()
    bad[2, 50] = 100  # one row out of range, in the last epoch
    args, _ = _epochs_args(net, X, Y, bad)
    with pytest.raises(ValueError, match="row indices"):
        _core.sgd_epochs(*args)
    np.testing.assert_array_equal(net.params, before)  # refused before any epoch ran
    args, _ = _epochs_args(net, X, Y, perms[:0])
    st, costs, done, clipped, wsq = _core.sgd_epochs(*args)
    assert st == _core.STATUS_OK and len(costs) == len(done) == len(clipped) == len(wsq) == 0
    np.testing.assert_array_equal(net.params, before)


def test_the_epochs_call_records_each_epoch_as_the_one_epoch_call_does(mnist1000):
    X, y = mnist1000
    X, Y = np.ascontiguousarray(X[:100]), np.eye(10)[y[:100]]
    perms = np.stack([np.random.default_rng(s).permutation(100) for s in range(3)])
    a, b = gradcore.Network(SIZES, seed=1), gradcore.Network(SIZES, seed=1)
    args, _ = _epochs_args(a, X, Y, perms)
    st, costs, done, clipped, wsq = _core.sgd_epochs(*args, update={"epoch": 4})
    assert st == _core.STATUS_OK
    np.testing.assert_array_equal(done, [10, 10, 10])
    np.testing.assert_array_equal(clipped, [0, 0, 0])
    speed, sq = args[8], args[9]
    arch = b.architecture.core()
    for e in range(3):
        s1, q1 = np.zeros(70), np.zeros(3)
        st1, c1, d1, _ = _core.sgd_epoch(arch, b.params, X, Y, perms[e], 10, 0.5, 0.0, s1, q1,
                                         update={"epoch": 4 + e, "t0": 10 * e})
        assert (st1, d1) == (_core.STATUS_OK, 10)
        assert costs[e] == c1
        np.testing.assert_array_equal(speed[e], s1)
        np.testing.assert_array_equal(sq[e], q1)
        if e == 0:
            first_wsq = _core.weights_sum_squares(arch, b.params)
    np.testing.assert_array_equal(a.params, b.params)
    assert wsq[0] == first_wsq
    assert wsq[2] == _core.weights_sum_squares(arch, b.params)
