"""Network: its parameters, what may be assigned to them, and building one from numbers."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((40, 6)), rng.integers(0, 3, 40)


def _trained_copy_saved(net: gradcore.Network, data, tmp_path) -> gradcore.Network:
    X, y = data
    gradcore.train(net, X, y, epochs=2, batch_size=5, eta=0.5, seed=0)
    net.save(tmp_path / "net.json")
    return gradcore.load(tmp_path / "net.json")


def test_assigning_params_writes_the_numbers_that_training_and_saving_use(data, tmp_path):
    net = gradcore.Network([6, 4, 3], seed=0)
    new = gradcore.Network([6, 4, 3], seed=1).params.copy()
    net.params = new
    assert np.array_equal(net.params, new) and net.params is not new
    assert np.array_equal(net.weights[0], new[:24].reshape(4, 6))
    saved = _trained_copy_saved(net, data, tmp_path)
    assert not np.array_equal(net.params, new)  # trained
    assert np.array_equal(saved.params, net.params)


def test_assigning_a_copy_of_params_keeps_the_views_in_step(data, tmp_path):
    net = gradcore.Network([6, 4, 3], seed=0)
    net.params = net.params.copy()
    saved = _trained_copy_saved(net, data, tmp_path)
    assert np.array_equal(saved.params, net.params)
    assert np.shares_memory(net.weights[1], net.params)


def test_assigning_whole_layer_lists(data, tmp_path):
    net = gradcore.Network([6, 4, 3], seed=0)
    other = gradcore.Network([6, 4, 3], seed=1)
    net.weights = [w.copy() for w in other.weights]
    net.biases = (b.tolist() for b in other.biases)
    assert np.array_equal(net.params, other.params)
    saved = _trained_copy_saved(net, data, tmp_path)
    assert np.array_equal(saved.params, net.params)


@pytest.mark.parametrize("attr, value, exc, words", [
    ("weights", None, TypeError, "weights must be a sequence of 2 arrays"),
    ("biases", None, TypeError, "biases must be a sequence of 2 arrays"),
    ("weights", [np.zeros((4, 6))], ValueError, "weights must have 2 layers, got 1"),
    ("weights", [np.zeros((4, 6)), np.zeros((4, 3))], ValueError,
     "weights[1] must have shape (3, 4)"),
    ("biases", [np.zeros(4), np.array([1.0, np.nan, 0.0])], ValueError, "finite"),
    ("params", None, TypeError, "params must hold real numbers"),
    ("params", np.zeros(10), ValueError, "params must have shape (43,)"),
    ("params", np.zeros((43, 1)), ValueError, "params must have shape (43,)"),
    ("params", np.full(43, np.inf), ValueError, "finite"),
    ("params", np.array(["x"] * 43), TypeError, "real numbers"),
])
def test_bad_assignments_are_refused_and_change_nothing(attr, value, exc, words):
    net = gradcore.Network([6, 4, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(exc) as info:
        setattr(net, attr, value)
    assert words in str(info.value)
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("attr", ["sizes", "dtype", "n_layers"])
def test_the_shape_of_a_network_cannot_be_reassigned(attr):
    net = gradcore.Network([6, 4, 3], seed=0)
    with pytest.raises(AttributeError):
        setattr(net, attr, getattr(net, attr))


def test_cost_can_be_changed_to_a_valid_one_only():
    net = gradcore.Network([6, 4, 3], seed=0)
    net.cost = "quadratic"
    assert net.cost == "quadratic"
    with pytest.raises(ValueError, match="cost must be one of"):
        net.cost = "hinge"
    assert net.cost == "quadratic"


@pytest.mark.parametrize("sizes", [{784, 30, 10}, frozenset({4, 3}), {4: 1, 3: 1}])
def test_unordered_sizes_are_refused(sizes):
    with pytest.raises(TypeError, match="sequence"):
        gradcore.Network(sizes)


@pytest.mark.parametrize("where", ["element", "params", "weights", "biases"])
def test_values_beyond_float32_are_refused_on_a_float32_network(where):
    net = gradcore.Network([6, 4, 3], seed=0, dtype=np.float32)
    before = net.params.copy()
    with pytest.raises(ValueError, match="float32"):
        if where == "element":
            net.weights[0] = np.full((4, 6), 1e39)
        elif where == "params":
            net.params = np.full(43, 1e39)
        elif where == "weights":
            net.weights = [np.full((4, 6), 1e39), np.zeros((3, 4))]
        else:
            net.biases = [np.zeros(4), np.full(3, -1e39)]
    assert np.array_equal(net.params, before)
    assert np.isfinite(net.params).all()


def test_from_params_builds_the_network_without_drawing_weights(monkeypatch):
    source = gradcore.Network([6, 4, 3], seed=7, cost="quadratic")

    def no_drawing(*args, **kwargs):
        raise AssertionError("from_params drew random weights")

    monkeypatch.setattr(np.random, "default_rng", no_drawing)
    net = gradcore.Network.from_params([6, 4, 3], source.params, cost="quadratic")
    monkeypatch.undo()
    assert np.array_equal(net.params, source.params) and net.params is not source.params
    assert (net.cost, net.dtype, net.sizes) == ("quadratic", np.float64, (6, 4, 3))
    small = gradcore.Network.from_params([6, 4, 3], source.params, dtype=np.float32)
    assert small.dtype == np.float32
    np.testing.assert_allclose(small.params, source.params, rtol=1e-7)
    keeps = gradcore.Network.from_params([6, 4, 3], small.params)
    assert keeps.dtype == np.float32


@pytest.mark.parametrize("params, exc, words", [
    (np.zeros(42), ValueError, "params must have shape (43,)"),
    (np.full(43, np.nan), ValueError, "finite"),
    ("x", TypeError, "real numbers"),
])
def test_from_params_refuses_what_does_not_fit(params, exc, words):
    with pytest.raises(exc) as info:
        gradcore.Network.from_params([6, 4, 3], params)
    assert words in str(info.value)
