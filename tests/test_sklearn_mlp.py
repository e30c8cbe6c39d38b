"""gradcore.sklearn.MLPClassifier: scikit-learn's names and conventions over gradcore.train."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import gradcore
from gradcore._validation import CONSTRAINTS, Options
from gradcore.sklearn import MLPClassifier


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The embedded first 1,000 MNIST images (pixels in [0, 1)) and their labels."""
    return gradcore.datasets.mnist_first_1000()


# ------------------------------------------------------------------ scikit-learn's checks
def _parametrize_with_checks(estimators: list[Any]) -> Any:
    """``parametrize_with_checks`` (check_estimator's checks, one test each) with the
    (estimator, check) pairs as a list: scikit-learn < 1.6 hands pytest a generator, which
    recent pytest refuses with a deprecation warning (an error under filterwarnings=error).
    """
    mark = parametrize_with_checks(estimators)
    argnames, argvalues = mark.args
    return pytest.mark.parametrize(argnames, list(argvalues), **mark.kwargs)


# Some checks fit data centred at 100 without scaling it. Plain SGD on unbounded units then
# needs a small step: PReLU's slope gradient grows with |z|, and at η = 0.05 it diverges.
@_parametrize_with_checks([
    MLPClassifier((16,), "sigmoid", max_iter=50, random_state=0),
    MLPClassifier((16,), "relu", max_iter=50, random_state=0),
    MLPClassifier((16, 16), "tanh", init="glorot", momentum=0.9, nesterovs_momentum=True,
                  momentum_schedule="sutskever", clip_norm=5.0, dropout=0.1,
                  learning_rate_init=0.01, max_iter=50, random_state=0),
    MLPClassifier((16, 16), "prelu", alpha=0.01, batch_size=16, learning_rate_init=0.01,
                  max_iter=50, dtype=np.float32, random_state=0),
    MLPClassifier((16,), "tanh", output="sigmoid", learning_rate_init=0.5, max_iter=50,
                  random_state=0),
    MLPClassifier((16, 8), ["elu", "logistic"], output="sigmoid", cost="quadratic",
                  learning_rate_init=2.0, batch_size=10, max_iter=50, random_state=0),
])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# ------------------------------------------------------------------ the same as train()
@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": (30,), "activation": "relu", "alpha": 0.5},
    {"hidden_layer_sizes": (20, 20), "activation": ["tanh", "prelu"], "batch_size": 7,
     "learning_rate_init": 0.05, "alpha": 0.0},
    {"hidden_layer_sizes": (20,), "activation": "logistic", "output": "sigmoid",
     "cost": "quadratic", "batch_size": 1000, "learning_rate_init": 3.0, "alpha": 2.0,
     "init": 2.0, "dtype": np.float32},
])
def test_fit_is_train_bit_for_bit(params: dict[str, Any],
                                  mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:300], mnist[1][:300]
    names = np.array(list("abcdefghij"))[::-1]  # labels whose sorted order is not y's
    clf = MLPClassifier(max_iter=4, random_state=7, **params).fit(X, names[y])
    y_index = np.searchsorted(np.sort(names), names[y])
    n = X.shape[0]
    batch_size = params.get("batch_size", "auto")
    m = min(200 if batch_size == "auto" else batch_size, n)  # "auto": min(200, n)
    alpha = params.get("alpha", 0.0001)
    activation = "sigmoid" if params["activation"] == "logistic" else params["activation"]
    result = gradcore.train(
        (784, *params["hidden_layer_sizes"], 10), X, y_index, epochs=4, batch_size=m,
        eta=params.get("learning_rate_init", 0.1), lmbda=alpha * n / m, seed=7,
        activation=activation, output=params.get("output", "softmax"),
        cost=params.get("cost"), init=params.get("init", "default"),
        dtype=params.get("dtype", np.float64))
    net = clf.network_
    assert net.architecture == result.network.architecture
    assert net.params.tobytes() == result.network.params.tobytes()
    for field in ("learning_speeds", "gradient_rms", "training_cost"):
        np.testing.assert_array_equal(getattr(clf.history_, field),
                                      getattr(result.history, field))
    np.testing.assert_array_equal(clf.loss_curve_, result.history.training_cost)
    assert clf.n_iter_ == 4 and clf.history_.learning_speeds.shape == (4, net.n_layers)


def test_l2_step_is_scikit_learns(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    """With zero inputs and no hidden layer the weights get no data gradient, so an epoch
    only decays them: by (1 − η·alpha/m) per full mini-batch in both libraries. For the
    last, shorter mini-batch scikit-learn's decay is η·alpha/mₖ, gradcore's η·alpha/m (the
    docstring's one difference)."""
    eta, alpha, m = 0.1, 2.0, 4
    for n, ours_expected, sklearn_expected in [
            (12, (1 - eta * alpha / m) ** 3, (1 - eta * alpha / m) ** 3),
            (10, (1 - eta * alpha / m) ** 3, (1 - eta * alpha / m) ** 2 * (1 - eta * alpha / 2))]:
        X, y = np.zeros((n, 3)), np.arange(n) % 3
        ours = MLPClassifier((), alpha=alpha, batch_size=m, learning_rate_init=eta,
                             random_state=0).partial_fit(X, y, classes=[0, 1, 2])
        before = ours.network_.weights[0].copy()
        ratio = ours.partial_fit(X, y).network_.weights[0] / before
        np.testing.assert_allclose(ratio, ours_expected, rtol=1e-13)
        theirs = SklearnMLPClassifier((), solver="sgd", alpha=alpha, batch_size=m,
                                      learning_rate_init=eta, momentum=0.0, random_state=0)
        theirs.partial_fit(X, y, classes=[0, 1, 2])
        before = theirs.coefs_[0].copy()
        theirs.partial_fit(X, y)
        np.testing.assert_allclose(theirs.coefs_[0] / before, sklearn_expected, rtol=1e-13)


def test_mnist_accuracy_well_above_chance(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist
    clf = MLPClassifier((100,), "relu", max_iter=20, random_state=0).fit(X[:800], y[:800])
    assert clf.score(X[800:], y[800:]) > 0.75  # chance: 0.1
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    speeds, rms = clf.history_.learning_speeds, clf.history_.gradient_rms
    assert speeds.shape == rms.shape == (20, 2)
    # the norm of a mean is at most the root mean square of the norms
    assert np.all(speeds <= rms * (1 + 1e-12))


def test_sigmoid_layers_learn_slower_than_relu_layers(
        mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist
    speeds = {act: MLPClassifier((30, 30, 30), act, max_iter=2, batch_size=10,
                                 random_state=0).fit(X, y).history_.learning_speeds
              for act in ("sigmoid", "relu")}
    # chapter 5: in the sigmoid net the first hidden layer learns far slower than the third
    assert np.all(speeds["sigmoid"][:, 0] < 0.5 * speeds["sigmoid"][:, 2])
    ratio = {a: s[:, 0] / s[:, 2] for a, s in speeds.items()}
    assert np.all(ratio["relu"] > ratio["sigmoid"])


# ----------------------------------------------------------------------- the parameters
def test_parameter_names_are_scikit_learns() -> None:
    ours = set(MLPClassifier().get_params())
    shared = {"hidden_layer_sizes", "activation", "alpha", "batch_size",
              "learning_rate_init", "max_iter", "random_state", "momentum",
              "nesterovs_momentum"}
    assert shared <= set(SklearnMLPClassifier().get_params())
    assert ours == shared | {"output", "cost", "init", "dtype", "momentum_schedule",
                             "clip_norm", "dropout"}
    defaults = MLPClassifier().get_params()
    assert (defaults["hidden_layer_sizes"], defaults["activation"], defaults["alpha"],
            defaults["batch_size"], defaults["max_iter"]) == ((100,), "relu", 0.0001, "auto",
                                                              200)
    assert defaults["output"] == "softmax" and defaults["cost"] is None


def test_clone_and_get_params_round_trip(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:100], mnist[1][:100]
    est = MLPClassifier([8, 4], ("elu", "softsign"), output="sigmoid", cost="quadratic",
                        alpha=0.3, batch_size=5, learning_rate_init=0.2, max_iter=2,
                        init=0.5, random_state=3, dtype=np.float32)
    params = est.get_params()
    copy = clone(est)
    assert copy.get_params() == params
    assert MLPClassifier(**params).get_params() == params
    est.fit(X, y)
    fresh = clone(est)
    assert not hasattr(fresh, "network_") and fresh.get_params() == params
    assert fresh.set_params(alpha=1.0, activation="relu").get_params()["alpha"] == 1.0
    assert est.get_params() == params  # fit and clone changed no parameter
    assert est.network_.activations == ("elu", "softsign")
    assert est.network_.dtype == np.float32 and est.network_.cost == "quadratic"


def test_scikit_learn_activation_names_are_aliases(
        mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:100], mnist[1][:100]

    def fitted(activation: Any) -> gradcore.Network:
        return MLPClassifier((6, 6), activation, max_iter=1, random_state=0).fit(X, y).network_

    same = fitted(["sigmoid", "linear"])
    alias = fitted(["logistic", "identity"])
    assert alias.activations == ("sigmoid", "linear")
    assert alias.params.tobytes() == same.params.tobytes()


@pytest.mark.parametrize("params, exc, words", [
    ({"activation": "swish"}, ValueError, "activation must be one of 'sigmoid'"),
    ({"activation": ["relu", "gelu"]}, ValueError, "activation[1] must be one of"),
    ({"activation": ["relu"]}, ValueError,
     "activation must name one activation per hidden layer (2), got 1"),
    ({"activation": 3}, TypeError, "activation must be one of"),
    ({"output": "tanh"}, ValueError, "output must be one of 'sigmoid', 'softmax'"),
    ({"cost": "quadratic"}, ValueError, "cost 'quadratic' does not go with output 'softmax'"),
    ({"cost": "hinge"}, ValueError, "cost must be one of"),
    ({"alpha": -1.0}, ValueError, "alpha must be >= 0, got -1"),
    ({"alpha": float("inf")}, ValueError, "alpha must be finite"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"batch_size": "big"}, ValueError, "batch_size must be 'auto' or an integer >= 1"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be 'auto' or an integer >= 1"),
    ({"learning_rate_init": 0.0}, ValueError, "learning_rate_init must be > 0"),
    ({"learning_rate_init": True}, TypeError, "learning_rate_init must be a finite number"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1, got 0"),
    ({"init": "zeros"}, ValueError, "init must be one of"),
    ({"init": -1.0}, ValueError, "init as a weight scale must be finite and > 0"),
    ({"hidden_layer_sizes": (4, 0)}, ValueError, "hidden_layer_sizes[1] must be >= 1"),
    ({"hidden_layer_sizes": "30"}, TypeError, "hidden_layer_sizes must be"),
    ({"dtype": np.int32}, TypeError, "dtype must be float64 or float32"),
])
def test_bad_parameters_are_refused_by_name(params: dict[str, Any], exc: type,
                                            words: str) -> None:
    kwargs = {"hidden_layer_sizes": (4, 4), "max_iter": 1, "random_state": 0, **params}
    clf = MLPClassifier(**kwargs)  # scikit-learn's convention: __init__ only stores
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 5)), rng.integers(0, 3, 20)
    with pytest.raises(exc) as info:
        clf.fit(X, y)
    assert words in str(info.value)
    assert not hasattr(clf, "network_")
    if "max_iter" not in params:  # partial_fit runs one epoch whatever max_iter says
        with pytest.raises(exc, match=None) as info:
            clone(clf).partial_fit(X, y, classes=[0, 1, 2])
        assert words in str(info.value)


def test_init_is_what_network_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``init`` is checked by Network's own constraint, looked up at each check, so the
    estimator takes every initialisation Network is taught."""
    rule = CONSTRAINTS["MLPClassifier"]["init"]
    assert rule.check("init", 2.5) == 2.5
    monkeypatch.setitem(CONSTRAINTS["Network"], "init", Options("default", "another"))
    assert rule.check("init", "another") == "another"
    with pytest.raises(ValueError, match="init must be one of 'default', 'another'"):
        MLPClassifier(init="large").fit(np.eye(3), [0, 1, 2])


# ------------------------------------------------------------------ prediction, partial_fit
def test_predict_proba_is_the_softmax_output(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:200], mnist[1][:200]
    clf = MLPClassifier((20,), max_iter=3, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, clf.network_.feedforward(X), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(proba, axis=1))


def test_predict_proba_normalises_sigmoid_outputs(
        mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:200], mnist[1][:200]
    clf = MLPClassifier((20,), "tanh", output="sigmoid", max_iter=3,
                        random_state=0).fit(X, y)
    a = clf.network_.feedforward(X)
    np.testing.assert_allclose(clf.predict_proba(X), a / a.sum(axis=1, keepdims=True),
                               rtol=1e-12)


def test_log_proba_stays_finite_where_proba_underflows() -> None:
    X = np.random.default_rng(0).random((4, 3))
    clf = MLPClassifier((4,), max_iter=1, random_state=0).fit(X, ["a", "b", "c", "a"])
    clf.network_.biases[1] = [0.0, -2000.0, -3000.0]  # e^{z} of b and c underflow
    log_p = clf.predict_log_proba(X)
    assert np.all(np.isfinite(log_p))
    z = clf.network_.forward_layers(X)[0][-1]
    np.testing.assert_allclose(log_p[:, 1] - log_p[:, 2], z[:, 1] - z[:, 2], rtol=1e-12)
    np.testing.assert_array_equal(clf.predict_proba(X)[:, 0], 1.0)
    np.testing.assert_array_equal(clf.predict(X), ["a"] * 4)


def test_partial_fit_continues_and_appends_history(
        mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:200], mnist[1][:200]
    one = MLPClassifier((10,), batch_size=10, max_iter=1, random_state=5).fit(X, y)
    part = MLPClassifier((10,), batch_size=10, random_state=5)
    part.partial_fit(X, y, classes=np.arange(10))
    assert part.network_.params.tobytes() == one.network_.params.tobytes()
    before = part.network_.params.copy()
    part.partial_fit(X[:100], y[:100])
    assert part.n_iter_ == 2 and part.loss_curve_.shape == (2,)
    assert part.history_.learning_speeds.shape == part.history_.gradient_rms.shape == (2, 2)
    np.testing.assert_array_equal(part.history_.learning_speeds[0],
                                  one.history_.learning_speeds[0])
    assert not np.array_equal(part.network_.params, before)


def test_divergence_keeps_the_previous_state(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:100], mnist[1][:100]
    clf = MLPClassifier((10,), max_iter=2, random_state=0).fit(X, y)
    before = clf.network_.params.copy()
    # the decay factor 1 − η·alpha/m is −2·10¹⁹: twenty mini-batches overflow the weights
    clf.set_params(learning_rate_init=1e10, alpha=1e10, batch_size=5)
    with pytest.raises(gradcore.DivergenceError):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 2
    assert clf.network_.params.tobytes() == before.tobytes()


# ---------------------------------------------------------------------------- pickling
def test_pickle_a_fitted_estimator(mnist: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = mnist[0][:200], mnist[1][:200]
    clf = MLPClassifier((12, 12), ["prelu", "tanh"], max_iter=3, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.network_.params.tobytes() == clf.network_.params.tobytes()
    assert back.network_.architecture == clf.network_.architecture
    for field in ("learning_speeds", "gradient_rms", "training_cost"):
        np.testing.assert_array_equal(getattr(back.history_, field),
                                      getattr(clf.history_, field))
    assert back.get_params() == clf.get_params()
    net = back.network_
    assert np.shares_memory(net.slopes[0], net.params)  # views rebuilt on the new buffer
    back.partial_fit(X, y)  # the unpickled estimator trains on
    assert back.n_iter_ == 4 and clf.n_iter_ == 3


def test_the_update_options_reach_train_bit_for_bit(
        mnist: tuple[np.ndarray, np.ndarray]) -> None:
    """Momentum, Nesterov, the schedule, clipping and dropout: the estimator's network is
    gradcore.train's with the same options (λ = alpha·n/m)."""
    X, y = mnist[0][:300], mnist[1][:300]
    opts = dict(momentum=0.9, nesterovs_momentum=True, momentum_schedule="sutskever",
                clip_norm=2.0, dropout=0.2)
    clf = MLPClassifier((20, 20), "relu", init="he", alpha=0.001, batch_size=10,
                        learning_rate_init=0.05, max_iter=3, random_state=4, **opts).fit(X, y)
    want = gradcore.train([784, 20, 20, 10], X, y, epochs=3, batch_size=10, eta=0.05,
                          lmbda=0.001 * 300 / 10, seed=4, activation="relu", init="he",
                          output="softmax", momentum=0.9, nesterov=True,
                          momentum_schedule="sutskever", clip_norm=2.0, dropout=0.2)
    assert np.array_equal(clf.network_.params, want.network.params)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        MLPClassifier(nesterovs_momentum=True).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="dropout must be"):
        MLPClassifier(dropout=1.0).fit(X[:40], y[:40])
