"""Bad input gets a clear exception naming the argument; odd but valid input works."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcore


@pytest.fixture
def net() -> gradcore.Network:
    return gradcore.Network([4, 3, 2], seed=0)


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((6, 4)), rng.integers(0, 2, 6)


@pytest.mark.parametrize("sizes, exc, words", [
    ([784], ValueError, "at least 2"),
    ([], ValueError, "at least 2"),
    ([784, 0, 10], ValueError, "sizes[1] must be >= 1"),
    ([784, -3, 10], ValueError, "sizes[1] must be >= 1"),
    ([784, 30.0, 10], TypeError, "sizes[1] must be an integer"),
    ([784, "30", 10], TypeError, "sizes[1] must be an integer"),
    ([784, True, 10], TypeError, "sizes[1] must be an integer"),
    ([784, 10**9, 10], ValueError, "larger than the limit"),
    ([60000, 60000, 60000], ValueError, "parameters"),
    ([1] * 1001, ValueError, "1001 layers, more than the limit 1000"),
    ("784,30", TypeError, "sequence of integers"),
    (784, TypeError, "sequence of integers"),
])
def test_bad_sizes(sizes, exc, words):
    with pytest.raises(exc, match=None) as info:
        gradcore.Network(sizes)
    assert words in str(info.value)


def test_layer_limit_allows_deep_chains():
    assert gradcore.Network([1] * 1000, seed=0).sizes == (1,) * 1000


def test_numpy_integer_sizes_are_fine():
    net = gradcore.Network(np.array([4, 3, 2]))
    assert net.sizes == (4, 3, 2)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"cost": "hinge"}, ValueError, "cost must be one of"),
    ({"init": "xavier"}, ValueError, "init must be one of"),
    ({"dtype": np.int32}, TypeError, "dtype must be float64 or float32"),
    ({"dtype": "float16"}, TypeError, "dtype must be float64 or float32"),
])
def test_bad_network_options(kwargs, exc, words):
    with pytest.raises(exc) as info:
        gradcore.Network([4, 3, 2], **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize("X, exc, words", [
    (np.zeros((6, 5)), ValueError, "must have 4 columns"),
    (np.zeros(4), ValueError, "must be 2-D"),
    (np.zeros((2, 2, 4)), ValueError, "must be 2-D"),
    (np.zeros((0, 4)), ValueError, "empty"),
    (np.full((6, 4), np.nan), ValueError, "NaN or infinite"),
    (np.full((6, 4), np.inf), ValueError, "NaN or infinite"),
    (np.array([["a", "b", "c", "d"]]), TypeError, "real numbers"),
    (np.zeros((6, 4), dtype=complex), TypeError, "real numbers"),
    (np.zeros((6, 4), dtype=bool), TypeError, "real numbers"),
    ([[object()] * 4], TypeError, "real numbers"),
])
def test_bad_X_everywhere(net, xy, X, exc, words):
    _, y = xy  # X is checked first, so y does not matter
    for call in (lambda: net.feedforward(X), lambda: net.predict(X),
                 lambda: net.gradient(X, y), lambda: net.learning_speeds(X, y),
                 lambda: gradcore.train(net, X, y, epochs=1, batch_size=2, eta=0.1)):
        with pytest.raises(exc) as info:
            call()
        assert words in str(info.value)
        assert "X" in str(info.value)


def test_values_that_overflow_float32_are_refused():
    net = gradcore.Network([4, 3, 2], dtype=np.float32)
    with pytest.raises(ValueError, match="float32"):
        net.feedforward(np.full((1, 4), 1e300))


@pytest.mark.parametrize("y, words", [
    (np.array([0, 1, 2, 0, 1, 0]), "labels must be in [0, 1]"),
    (np.array([0, 1, -1, 0, 1, 0]), "labels must be in [0, 1]"),
    (np.array([0, 1, 0]), "has 3 labels, X has 6 rows"),
    (np.zeros((6, 3)), "shape (6, 2)"),
    (np.full((6, 2), 2.0), "in [0, 1]"),
    (np.array([0.5, 1, 0, 0, 1, 0]), "whole numbers"),
    (np.zeros((6, 2, 1)), "must be labels"),
    (np.array(["a"] * 6), "integer labels"),
])
def test_bad_y(net, xy, y, words):
    X, _ = xy
    for call in (lambda: net.gradient(X, y), lambda: net.accuracy(X, y),
                 lambda: net.total_cost(X, y),
                 lambda: gradcore.train(net, X, y, epochs=1, batch_size=2, eta=0.1)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert words in str(info.value)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"epochs": -1}, ValueError, "epochs must be >= 0"),
    ({"epochs": 1.5}, TypeError, "epochs must be an integer"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"eta": 0.0}, ValueError, "eta must be > 0"),
    ({"eta": -0.1}, ValueError, "eta must be > 0"),
    ({"eta": float("nan")}, ValueError, "eta must be finite"),
    ({"eta": float("inf")}, ValueError, "eta must be finite"),
    ({"eta": "0.1"}, TypeError, "eta must be a finite number > 0, got '0.1' (str)"),
    ({"eta": True}, TypeError, "eta must be a finite number > 0, got True (bool)"),
    ({"lmbda": -1.0}, ValueError, "lmbda must be >= 0"),
    ({"seed": "abc"}, TypeError, "seed must be None, an integer >= 0"),
    ({"stop": object()}, TypeError, "stop must be None or a gradcore.StopFlag"),
    ({"callback": 3}, TypeError, "callback must be None or callable"),
    ({"evaluation_data": (np.zeros((2, 4)),)}, TypeError, "evaluation_data must be a pair"),
    ({"evaluation_data": (np.zeros((2, 5)), np.zeros(2, int))}, ValueError,
     "evaluation_data[0] must have 4 columns"),
    ({"cost": "quadratic"}, ValueError, "already has them"),
])
def test_bad_hyper_parameters(net, xy, kwargs, exc, words):
    X, y = xy
    args = {"epochs": 1, "batch_size": 2, "eta": 0.1, **kwargs}
    before = net.params.copy()
    with pytest.raises(exc) as info:
        gradcore.train(net, X, y, **args)
    assert words in str(info.value)
    assert np.array_equal(net.params, before)  # validated before any kernel ran


def test_zero_epochs_returns_an_empty_history(net, xy):
    X, y = xy
    before = net.params.copy()
    res = gradcore.train(net, X, y, epochs=0, batch_size=2, eta=0.1)
    assert res.history.epochs == 0 and res.history.learning_speeds.shape == (0, 2)
    assert np.array_equal(net.params, before)


def test_batch_larger_than_the_data_is_full_batch(net, xy):
    X, y = xy
    a, b = net.copy(), net.copy()
    gradcore.train(a, X, y, epochs=1, batch_size=6, eta=0.1, seed=0)
    gradcore.train(b, X, y, epochs=1, batch_size=1000, eta=0.1, seed=0)
    assert np.allclose(a.params, b.params, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("value, exc, words", [
    (np.zeros((2, 4)), ValueError, "weights[0] must have shape (3, 4)"),
    (np.zeros((4, 3)), ValueError, "weights[0] must have shape (3, 4)"),
    (np.full((3, 4), np.nan), ValueError, "finite"),
    (np.array([["x"] * 4] * 3), TypeError, "real numbers"),
])
def test_assigning_a_wrong_weight_array_is_refused(net, value, exc, words):
    before = net.params.copy()
    with pytest.raises(exc) as info:
        net.weights[0] = value
    assert words in str(info.value)
    assert np.array_equal(net.params, before)


def test_layer_lists_keep_their_length(net):
    with pytest.raises(AttributeError):
        net.weights.append(np.zeros((2, 3)))  # type: ignore[attr-defined]
    with pytest.raises((AttributeError, TypeError)):
        del net.weights[0]  # type: ignore[attr-defined]
    with pytest.raises(IndexError):
        net.biases[5] = np.zeros(2)
    net.biases[1] = np.array([1.0, 2.0])
    assert list(net.biases[1]) == [1.0, 2.0]


@pytest.mark.parametrize("init, exc", [(0.0, ValueError), (-1.0, ValueError),
                                       (float("inf"), ValueError), (True, TypeError),
                                       (None, TypeError), ("xavier", ValueError)])
def test_bad_init_scales(init, exc):
    with pytest.raises(exc, match="init"):
        gradcore.Network([4, 3, 2], init=init)


def test_init_scale_multiplies_the_default_weights():
    default = gradcore.Network([400, 30, 10], seed=3)
    for s in (1, 1.0, 0.5, 8):
        net = gradcore.Network([400, 30, 10], seed=3, init=s)
        for w, w0 in zip(net.weights, default.weights):
            np.testing.assert_allclose(w, s * w0, rtol=1e-15)
        assert all(np.array_equal(b, b0) for b, b0 in zip(net.biases, default.biases))
    assert np.array_equal(gradcore.Network([400, 30, 10], seed=3, init=1.0).params,
                          default.params)


# ----------------------------------------------------------------- fuzzing the public API

_dtypes = st.sampled_from([np.float64, np.float32, np.int32, np.int64, np.uint8, np.bool_,
                           np.complex128, np.float16])


@st.composite
def _arrays(draw):
    dtype = draw(_dtypes)
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    return draw(hnp.arrays(dtype, shape))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(-2, 6), min_size=0, max_size=4), X=_arrays(), y=_arrays(),
       batch=st.integers(-1, 8), eta=st.floats(allow_nan=True, allow_infinity=True),
       lmbda=st.floats(-1, 10))
def test_random_input_gives_a_result_or_a_documented_exception(sizes, X, y, batch, eta,
                                                               lmbda):
    documented = (ValueError, TypeError, gradcore.DivergenceError)
    try:
        net = gradcore.Network(sizes, seed=0)
    except (ValueError, TypeError):
        return
    for call in (lambda: net.feedforward(X), lambda: net.gradient(X, y),
                 lambda: net.learning_speeds(X, y), lambda: net.accuracy(X, y),
                 lambda: gradcore.train(net, X, y, epochs=1, batch_size=batch, eta=eta,
                                        lmbda=lmbda, seed=0)):
        try:
            out = call()
        except documented:
            continue
        assert out is not None
    assert np.isfinite(net.params).all()


@pytest.mark.parametrize("value, shown", [(100.0000001, "100.0000001"), (1e3, "1000"),
                                          (100.00000000000001, "100.00000000000001")])
def test_a_value_beyond_a_bound_is_shown_with_the_digits_that_tell_it_from_the_bound(
        value, shown):
    from gradcore._validation import Real

    with pytest.raises(ValueError) as info:
        Real(0.0, 100.0, strict=True).check("eta", value)
    assert str(info.value) == f"eta must be <= 100, got {shown}"
