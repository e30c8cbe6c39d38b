"""Every activation, output and cost of the kernels against the NumPy reference, at every
kernel level and both dtypes; finite differences; the gradient-rms monitor; PReLU slopes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradcore
from gradcore import _core, kernels
from gradcore import reference as ref

ACTS = ref.ACTIVATIONS
LEVELS = [lv for lv in _core.KERNEL_LEVELS
          if lv == "naive" or _core.KERNEL_LEVELS.index(lv)
          <= _core.KERNEL_LEVELS.index(_core.kernel_level())]
# float32: each value carries a relative error of ~6e-8 per operation; a few hundred
# operations deep, 1e-4 relative to the largest value leaves room without hiding a wrong
# formula (which is off by O(1)).
TOL = {np.float64: 1e-11, np.float32: 2e-4}


@pytest.fixture(autouse=True)
def _restore_level():
    yield
    _core.set_kernel_level(None)


def data(n: int, n_in: int, n_out: int, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in)).astype(dtype)
    Y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    return X, Y


def net_of(act, output="sigmoid", sizes=(20, 33, 17, 5), seed=1, dtype=np.float64):
    """A small net whose pre-activations straddle 0 (so every branch of every activation is
    taken), PReLU slopes drawn away from 0.25 so that they matter."""
    net = gradcore.Network(list(sizes), activation=act, output=output, seed=seed, dtype=dtype,
                           init=2.0)
    rng = np.random.default_rng(seed + 100)
    for s in net.slopes:
        if s is not None:
            s[...] = rng.uniform(-0.3, 0.6, s.shape)
    return net


def ref_params(net):
    """The network's numbers in float64 lists, for the reference."""
    W = [np.array(w, dtype=np.float64) for w in net.weights]
    B = [np.array(b, dtype=np.float64) for b in net.biases]
    S = [None if s is None else np.array(s, dtype=np.float64) for s in net.slopes]
    return W, B, S


def flat(W, B, S):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)]
                          + [s for s in S if s is not None])


def close(got, want, dtype):
    scale = max(1.0, float(np.max(np.abs(want))))
    return float(np.max(np.abs(np.asarray(got, np.float64) - want))) <= TOL[dtype] * scale


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("act", ACTS)
def test_gradient_and_forward_match_reference(act, output, dtype, level):
    _core.set_kernel_level(level)
    net = net_of(act, output, dtype=dtype)
    X, Y = data(150, 20, 5, dtype=dtype)
    W, B, S = ref_params(net)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    a_want = ref.feedforward(W, B, X64, net.activations, output, S)
    assert close(net.feedforward(X), a_want, dtype)
    zs, outs = net.forward_layers(X)
    r_zs, r_outs = ref.forward(W, B, X64, net.activations, output, S)
    for got, want in zip(zs + outs, r_zs + r_outs[1:]):
        assert close(got, want, dtype)
    gw, gb, gs = ref.full_gradient(W, B, X64, Y64, net.cost, net.activations, output, S)
    grad = net._gradient_buffer(X, Y)
    assert close(grad, flat(gw, gb, gs), dtype)
    assert close(net.gradient_rms(X, Y),
                 ref.gradient_rms(W, B, X64, Y64, net.cost, net.activations, output, S), dtype)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("batch_size", [10, 7, 150], ids=lambda m: f"m{m}")
@pytest.mark.parametrize("act,output", [(a, "sigmoid") for a in ACTS]
                         + [("tanh", "softmax"), ("prelu", "softmax")])
def test_sgd_epochs_follow_the_reference(act, output, batch_size, dtype, level):
    """Three epochs from the same weights and permutations: every parameter (PReLU slopes
    too), the speed sums and the cost agree. m = 7 leaves a shorter last mini-batch, m = 150
    is full batch (the path that sums the gradient before the step)."""
    _core.set_kernel_level(level)
    net = net_of(act, output, dtype=dtype)
    X, Y = data(150, 20, 5, seed=3, dtype=dtype)
    W, B, S = ref_params(net)
    rng = np.random.default_rng(7)
    for _ in range(3):
        perm = rng.permutation(150).astype(np.int64)
        got = kernels.sgd_epoch(net.params, net.sizes, X, Y, perm, batch_size=batch_size,
                                eta=0.1, lmbda=2.0, activation=net.activations, output=output)
        want = ref.sgd_epoch(W, B, X.astype(np.float64), Y.astype(np.float64), perm,
                             batch_size, 0.1, 2.0, net.cost, net.activations, output, S)
        assert got.finite and got.batches == want[2]
        assert close(got.speed_sum, np.concatenate(want[0]), dtype)
        assert abs(got.cost_sum - want[1]) <= TOL[dtype] * max(1.0, abs(want[1])) * 10
    assert close(net.params, flat(W, B, S), dtype)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("act", ACTS)
def test_gradient_matches_finite_differences(act, output):
    """Central differences of the mean cost, float64, on a net small enough to check every
    parameter; the kink of the rectifiers is avoided by inputs that keep |z| > 1e-3."""
    net = net_of(act, output, sizes=(4, 5, 3), seed=2)
    X, Y = data(6, 4, 3, seed=5)
    zs, _ = net.forward_layers(X)
    assert np.min(np.abs(zs[0])) > 1e-3
    grad = net._gradient_buffer(X, Y)
    p0 = net.params.copy()
    h = 1e-6
    fd = np.empty_like(p0)
    for i in range(p0.size):
        net.params[i] = p0[i] + h
        up = net.total_cost(X, Y)
        net.params[i] = p0[i] - h
        down = net.total_cost(X, Y)
        net.params[i] = p0[i]
        fd[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("act", ACTS)
def test_the_in_epoch_gradient_rms_of_full_batch_descent_is_the_rms_at_fixed_weights(act):
    net = net_of(act)
    X, Y = data(300, 20, 5, seed=4)
    want = net.gradient_rms(X, Y)
    hist = gradcore.train(net, X, Y, epochs=1, batch_size=300, eta=0.1).history
    np.testing.assert_allclose(hist.gradient_rms[0], want, rtol=1e-12)


def test_gradient_rms_is_the_per_example_rms_and_the_speed_is_the_norm_of_the_mean():
    """By Jensen, ‖mean δ‖ <= rms δ for every layer; equal only when every example's δ is
    the same."""
    net = gradcore.Network([20, 30, 30, 5], seed=0)
    X, Y = data(200, 20, 5)
    rms, speed = net.gradient_rms(X, Y), net.learning_speeds(X, Y)
    assert np.all(speed <= rms * (1 + 1e-12))
    one = np.repeat(X[:1], 50, axis=0), np.repeat(Y[:1], 50, axis=0)
    np.testing.assert_allclose(net.gradient_rms(*one), net.learning_speeds(*one), rtol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "prelu", "elu"])
def test_gradients_are_the_same_bits_for_any_thread_count(act):
    net = net_of(act, sizes=(20, 40, 40, 5))
    X, Y = data(2048, 20, 5, seed=9)
    results = []
    for t in (1, 2):
        with gradcore.thread_limit(t):
            results.append((net._gradient_buffer(X, Y).tobytes(),
                            net.gradient_rms(X, Y).tobytes()))
    assert results[0] == results[1]


def test_prelu_slopes_are_never_decayed():
    """With every z > 0 the slopes' gradient is exactly 0, so a huge λ that shrinks every
    weight leaves the slopes at their starting 0.25, bit for bit."""
    net = gradcore.Network([3, 4, 2], activation="prelu", seed=0)
    net.weights = [np.abs(w) for w in net.weights]
    net.biases = [np.abs(b) + 1 for b in net.biases]
    X, Y = np.ones((8, 3)), np.eye(2)[np.arange(8) % 2]
    w0 = net.weights[0].copy()
    gradcore.train(net, X, Y, epochs=3, batch_size=4, eta=0.1, lmbda=50.0, seed=1)
    assert np.all(net.slopes[0] == 0.25)
    assert np.all(np.abs(net.weights[0]) < np.abs(w0))


def test_prelu_slopes_learn():
    net = gradcore.Network([20, 30, 5], activation="prelu", seed=0)
    X, Y = data(200, 20, 5)
    X = X - 0.5  # inputs of both signs: some units below 0
    gradcore.train(net, X, Y, epochs=2, batch_size=10, eta=0.5, seed=1)
    assert np.any(net.slopes[0] != 0.25)
    assert net.slopes[0].shape == (30,)


def test_softmax_outputs_are_distributions_and_log_likelihood_is_the_cross_entropy_of_one_hot():
    net = gradcore.Network([20, 30, 5], activation="tanh", output="softmax", seed=0)
    assert net.cost == "log_likelihood"
    X, Y = data(100, 20, 5)
    a = net.feedforward(X)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-14)
    want = -np.mean(np.log(a[Y.astype(bool)]))
    assert net.total_cost(X, Y) == pytest.approx(want, rel=1e-12)


def test_activation_per_layer_and_the_sigmoid_default_is_unchanged():
    X, Y = data(100, 20, 5)
    a = gradcore.Network([20, 30, 30, 5], seed=4)
    b = gradcore.Network([20, 30, 30, 5], activation=["sigmoid", "sigmoid"], seed=4)
    assert a.activations == b.activations == ("sigmoid", "sigmoid")
    assert np.array_equal(a._gradient_buffer(X, Y), b._gradient_buffer(X, Y))
    mixed = gradcore.Network([20, 30, 30, 5], activation=["relu", "tanh"], seed=4)
    W, B, _ = ref_params(mixed)
    np.testing.assert_allclose(mixed.feedforward(X),
                               ref.feedforward(W, B, X, ["relu", "tanh"]), rtol=1e-12)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("act", ACTS)
def test_json_round_trip_keeps_activations_output_and_slopes(act, output, tmp_path):
    net = net_of(act, output)
    path = tmp_path / "net.json"
    net.save(path)
    back = gradcore.load(path)
    assert back.activations == net.activations and back.output == net.output
    assert back.cost == net.cost
    assert np.array_equal(back.params, net.params)
    data_ = json.loads(path.read_text())
    if act == "sigmoid" and output == "sigmoid":
        assert "activation" not in data_  # network2's own layout
    if act == "prelu":
        assert len(data_["slopes"]) == 2 and data_["slopes"][0] is not None


def test_pickle_and_copy_keep_the_architecture():
    import pickle

    net = net_of("prelu", "softmax")
    for other in (pickle.loads(pickle.dumps(net)), net.copy()):
        assert other.architecture == net.architecture
        assert np.array_equal(other.params, net.params)
        assert other.slopes[0] is not None and np.shares_memory(other.slopes[0], other.params)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(activation="swish"), ValueError, "activation must be one of 'sigmoid'.*'linear'"),
    (dict(activation=["relu"]), ValueError, "one activation per hidden layer \\(2\\)"),
    (dict(activation=["relu", "nope"]), ValueError, r"activation\[1\] must be one of"),
    (dict(activation=3), TypeError, "activation must be an activation name"),
    (dict(output="tanh"), ValueError, "output must be one of 'sigmoid', 'softmax'"),
    (dict(output="softmax", cost="quadratic"), ValueError,
     "cost 'quadratic' does not go with output 'softmax'"),
    (dict(cost="log_likelihood"), ValueError, "does not go with output 'sigmoid'"),
])
def test_bad_architectures_are_refused_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcore.Network([4, 3, 3, 2], **kwargs)


def test_bad_probes_are_refused_before_training():
    X, Y = data(20, 4, 2)
    net = gradcore.Network([4, 3, 2], seed=0)
    p0 = net.params.copy()
    with pytest.raises(ValueError, match="probe must have 4 columns"):
        gradcore.train(net, X, Y, epochs=1, batch_size=5, eta=0.1, probe=np.ones((3, 5)),
                       probe_every=1)
    with pytest.raises(ValueError, match="probe_every must be >= 1, got 0"):
        gradcore.train(net, X, Y, epochs=1, batch_size=5, eta=0.1, probe=X, probe_every=0)
    with pytest.raises(ValueError, match="probe and probe_every go together"):
        gradcore.train(net, X, Y, epochs=1, batch_size=5, eta=0.1, probe=X)
    assert np.array_equal(net.params, p0)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "prelu"])
def test_probe_statistics_are_numpys_on_the_same_activations(act):
    """Every k updates: the mean, std, 2nd/98th percentiles and saturated fraction of each
    hidden layer on the probe, as NumPy computes them from the reference's activations at
    the same weights; and training in chunks changes nothing."""
    X, Y = data(60, 20, 5, seed=2)
    probe = data(30, 20, 5, seed=8)[0]
    k = 4
    seen = []

    def snapshot(net):
        W, B, S = ref_params(net)
        zs, outs = ref.forward(W, B, probe, net.activations, "sigmoid", S)
        stats = []
        for l, name in enumerate(net.activations):
            a = outs[l + 1]
            d = ref.activation_derivative(name, a, zs[l], S[l])
            top = {"sigmoid": 0.25}.get(name, 1.0)
            if S[l] is not None:
                top = max(1.0, float(np.max(np.abs(S[l]))))
            stats.append((a.mean(), a.std(), *np.percentile(a, [2, 98]),
                          np.mean(np.abs(d) < 0.01 * top)))
        return np.array(stats).T

    net = net_of(act, sizes=(20, 16, 12, 5))
    plain = net.copy()
    seen.append(snapshot(net))
    hist = gradcore.train(net, X, Y, epochs=2, batch_size=5, eta=0.1, seed=3, probe=probe,
                          probe_every=k).history
    gradcore.train(plain, X, Y, epochs=2, batch_size=5, eta=0.1, seed=3)
    assert np.array_equal(net.params, plain.params)  # chunks give the same bits
    assert list(hist.probe.updates) == [0, 4, 8, 12, 16, 20, 24]
    got = np.stack([hist.probe.mean, hist.probe.std, hist.probe.p2, hist.probe.p98,
                    hist.probe.saturated])
    np.testing.assert_allclose(got[:, 0, :], seen[0], rtol=1e-12, atol=1e-15)
    final = snapshot(net)
    np.testing.assert_allclose(got[:, -1, :], final, rtol=1e-12, atol=1e-15)
    assert np.all((got[4] >= 0) & (got[4] <= 1))


@pytest.mark.parametrize("act", ["leaky_relu", "prelu"])
def test_a_diverging_rectifier_net_is_replayed_to_its_last_finite_state(act):
    """Leaky rectifiers neither saturate nor die, so a large step makes their nets overflow
    (a ReLU net's units die first and its gradient vanishes instead); train()
    restores the state after the last mini-batch whose update left every parameter finite,
    as a run of exactly that many mini-batches gives it."""
    X, Y = data(100, 20, 5, seed=4)
    net = gradcore.Network([20, 30, 30, 5], activation=act, init=3.0, seed=0)
    start = net.copy()
    with pytest.raises(gradcore.DivergenceError) as info:
        gradcore.train(net, X, Y, epochs=20, batch_size=10, eta=50.0, seed=0)
    err = info.value
    assert np.isfinite(net.params).all()
    replay = start.copy()
    rng = np.random.default_rng(np.random.SeedSequence(0).spawn(3)[1])
    for e in range(err.epoch + 1):
        perm = rng.permutation(100).astype(np.int64)
        kernels.sgd_epoch(replay.params, replay.sizes, X, Y, perm, batch_size=10, eta=50.0,
                          activation=act, max_batches=-1 if e < err.epoch else err.batch)
    assert np.array_equal(replay.params, net.params)
