"""train(): divergence and the last finite state, callbacks, what a run keeps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcore


def test_finding_the_last_finite_state_costs_about_one_extra_epoch(tmp_path):
    # Quadratic cost is bounded, so every mini-batch's cost stays finite and only the check
    # at the end of the epoch finds the non-finite parameters: the whole epoch of 32,000
    # one-example mini-batches is searched, and the last finite state is the first (a
    # search from the end replays ~5e8 mini-batches). Expected: ~0.01 s; the limit is 60 s.
    code = textwrap.dedent("""
        import numpy as np, gradcore
        net = gradcore.Network([1, 1, 2], cost="quadratic", seed=1)
        net.weights[0][...] = 0
        net.biases[0][...] = 0
        start = net.params.copy()
        n = 32000
        X, y = np.full((n, 1), 1e10), np.ones(n, int)
        try:
            gradcore.train(net, X, y, epochs=1, batch_size=1, eta=1e300, seed=1)
        except gradcore.DivergenceError as exc:
            b = exc.batch
            check = gradcore.Network([1, 1, 2], cost="quadratic")
            check.params[...] = start
            rng = np.random.default_rng(np.random.SeedSequence(1).spawn(2)[1])
            perm = rng.permutation(n).astype(np.int64)
            gradcore.kernels.sgd_epoch(check.params, (1, 1, 2), X, np.eye(2)[y], perm,
                                       batch_size=1, eta=1e300, cost="quadratic",
                                       max_batches=b)
            print(b, np.array_equal(check.params, net.params),
                  np.isfinite(net.params).all())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    batch, same, finite = out.stdout.split()
    assert 0 <= int(batch) < 32000
    assert same == "True" and finite == "True"


def test_parameters_made_nan_outside_training_are_reported_as_such(mnist1000):
    X, y = mnist1000
    X, y = X[:100], y[:100]
    net = gradcore.Network([784, 10, 10], seed=0)

    def spoil(epoch: int, history: gradcore.History) -> None:
        net.params[3] = np.nan

    with pytest.raises(gradcore.DivergenceError) as info:
        gradcore.train(net, X, y, epochs=3, batch_size=10, eta=0.1, seed=0, callback=spoil)
    message = str(info.value)
    assert "restored" not in message
    assert "start of epoch 1" in message and "outside training" in message
    assert info.value.epoch == 1 and info.value.history.epochs == 1


def test_callbacks_see_the_history_without_rebuilding_it(mnist1000):
    # Handing the history to a callback must not copy it every epoch (that made long runs
    # quadratic in the number of epochs): the callback sees read-only views of the arrays
    # that the run fills in and returns.
    X, y = mnist1000
    seen: list[gradcore.History] = []
    result = gradcore.train([784, 10, 10], X[:50], y[:50], epochs=4, batch_size=50, eta=0.1,
                            seed=0, evaluation_data=(X[50:60], y[50:60]),
                            callback=lambda e, h: seen.append(h))
    final = result.history
    assert [h.epochs for h in seen] == [1, 2, 3, 4]
    for h in seen:
        for name in ("learning_speeds", "training_cost", "evaluation_accuracy",
                     "evaluation_cost"):
            part, whole = getattr(h, name), getattr(final, name)
            assert np.shares_memory(part, whole), name
            assert np.array_equal(part, whole[:h.epochs])
            with pytest.raises(ValueError, match="read-only"):
                part[...] = 0


def test_the_search_for_the_last_finite_state_can_be_stopped():
    from gradcore._training import _TrainingRun

    n = 2000
    X, y = np.full((n, 1), 1e10), np.ones(n, int)
    net = gradcore.Network([1, 1, 2], cost="quadratic", seed=1)
    start = net.params.copy()
    flag = gradcore.StopFlag()
    run = _TrainingRun.start(net, X, y, epochs=1, batch_size=1, eta=1e300, lmbda=0.0,
                             seed=1, cost=None, init=None, dtype=None, evaluation_data=None,
                             stop=flag)
    perm = np.arange(n, dtype=np.int64)
    flag.set()
    with pytest.raises(gradcore.Stopped):
        run._restore_last_finite(0, start, perm, n)
    assert np.array_equal(net.params, start)  # the last finite state found so far


def test_divergence_raises_and_restores_the_last_finite_state(mnist1000):
    X, y = mnist1000
    X, y = X[:200], y[:200]
    net = gradcore.Network([784, 30, 10], seed=0)
    # two good epochs first, so the history has something to keep
    gradcore.train(net, X, y, epochs=2, batch_size=10, eta=0.1, lmbda=5.0, seed=1)
    with pytest.raises(gradcore.DivergenceError) as info:
        # 1 - eta*lmbda/n = 1 - 1e8*5/200: every update multiplies the weights by -2.5e6
        gradcore.train(net, X, y, epochs=3, batch_size=10, eta=1e8, lmbda=5.0, seed=1)
    err = info.value
    assert err.network is net
    assert np.isfinite(net.params).all()
    assert 0 <= err.epoch <= 2 and 0 <= err.batch <= 20
    assert f"epoch {err.epoch}" in str(err)
    assert err.history.epochs == err.epoch
    # the state kept is exactly the one after err.batch mini-batches of the failed run
    replay = err.network.copy()
    assert np.isfinite(replay.feedforward(X)).all()


def test_divergence_state_is_the_one_just_before_the_failing_batch(mnist1000):
    X, y = mnist1000
    X, y = X[:100], y[:100]
    net = gradcore.Network([784, 30, 10], seed=3)
    start = net.params.copy()
    with pytest.raises(gradcore.DivergenceError) as info:
        gradcore.train(net, X, y, epochs=1, batch_size=10, eta=1e300, lmbda=5.0, seed=4)
    b = info.value.batch
    assert f"mini-batch {b}" in str(info.value)
    # the same batches replayed by hand give the same parameters
    check = gradcore.Network([784, 30, 10], seed=3)
    check.params[...] = start
    from gradcore import _core
    perm = np.random.default_rng(np.random.SeedSequence(4).spawn(2)[1]).permutation(100)
    Y = np.eye(10)[y]
    _core.sgd_epoch(check.architecture.core(), check.params, X, Y, perm.astype(np.int64), 10,
                    1e300, 5.0, np.zeros(40), None, b)
    assert np.array_equal(check.params, net.params)
    assert np.isfinite(net.params).all()
