"""gradcore.sklearn.SigmoidMLPClassifier: scikit-learn's conventions and the chapter's speeds."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import gradcore
from gradcore import load
from gradcore.sklearn import SigmoidMLPClassifier


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, 64 features in 0..16)."""
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def digits01(digits: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    X, y = digits
    return X / 16.0, y


# ------------------------------------------------------------------ scikit-learn's checks
def _parametrize_with_checks(estimators: list[Any]) -> Any:
    """``parametrize_with_checks`` with the (estimator, check) pairs as a list.

    scikit-learn < 1.6 hands pytest a generator, which recent pytest refuses with a
    deprecation warning (an error under this project's ``filterwarnings = error``).
    """
    mark = parametrize_with_checks(estimators)
    argnames, argvalues = mark.args
    return pytest.mark.parametrize(argnames, list(argvalues), **mark.kwargs)


@_parametrize_with_checks([
    SigmoidMLPClassifier(max_iter=10),
    SigmoidMLPClassifier((8, 8), max_iter=30, learning_rate=3.0, lmbda=0.1,
                         cost="quadratic", init="large", dtype=np.float32),
])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_import_gradcore_does_not_import_sklearn(tmp_path: Path) -> None:
    code = ("import sys, gradcore; gradcore.Network([2, 1]); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


# ------------------------------------------------------------------- sklearn composition
def test_pipeline(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    pipe = Pipeline([("scale", MinMaxScaler()),
                     ("net", SigmoidMLPClassifier(random_state=0))])
    pipe.fit(X[:1200], y[:1200])
    assert pipe.score(X[1200:], y[1200:]) > 0.85
    net = pipe.named_steps["net"].network_
    assert net.sizes == (64, 30, 10)


def test_cross_val_score(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    pipe = Pipeline([("scale", MinMaxScaler()),
                     ("net", SigmoidMLPClassifier(max_iter=10, random_state=0))])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.8


def test_grid_search_over_learning_rate(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    search = GridSearchCV(SigmoidMLPClassifier(max_iter=5, random_state=0),
                          {"learning_rate": [0.001, 1.0]}, cv=3)
    search.fit(X, y)
    assert search.best_params_ == {"learning_rate": 1.0}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > 0.8 > scores[0]
    assert search.best_estimator_.learning_rate == 1.0
    assert search.best_estimator_.n_iter_ == 5


# ------------------------------------------------------------------------------- labels
def test_string_labels(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    clf = SigmoidMLPClassifier(max_iter=10, random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    pred = clf.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    # Output neuron j stands for classes_[j].
    np.testing.assert_array_equal(pred, clf.classes_[clf.network_.predict(X)])
    assert clf.score(X, names[y]) > 0.85


def test_arbitrary_numeric_labels_map_to_outputs() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 0.3, (30, 2)), rng.normal(2, 0.3, (30, 2))])
    y = np.repeat([-7, 40], 30)
    clf = SigmoidMLPClassifier((4,), learning_rate=1.0, lmbda=0.0, max_iter=20,
                               random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [-7, 40])
    assert clf.network_.sizes == (2, 4, 2)
    np.testing.assert_array_equal(clf.predict(X), y)


def test_single_class() -> None:
    X = np.random.default_rng(1).random((12, 3))
    clf = SigmoidMLPClassifier(max_iter=2, random_state=0).fit(X, ["only"] * 12)
    assert clf.network_.sizes == (3, 30, 1)
    np.testing.assert_array_equal(clf.predict(X), ["only"] * 12)
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((12, 1)))


# ---------------------------------------------------------------------------- partial_fit
def test_partial_fit_over_two_calls(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    classes = np.arange(10)
    clf = SigmoidMLPClassifier(learning_rate=0.5, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:50], y[:50])
    low, high = y < 5, y >= 5
    clf.partial_fit(X[low], y[low], classes=classes)  # only half the classes present
    after_first = clf.network_.params.copy()
    assert clf.n_iter_ == 1
    assert clf.learning_speeds_.shape == (1, 2)
    np.testing.assert_array_equal(clf.classes_, classes)
    clf.partial_fit(X[high], y[high])
    assert clf.n_iter_ == 2
    assert clf.learning_speeds_.shape == (2, 2)
    assert clf.loss_curve_.shape == (2,)
    assert not np.array_equal(clf.network_.params, after_first)
    assert set(clf.predict(X[high])) & set(range(5, 10))
    with pytest.raises(ValueError, match="not the same as classes_"):
        clf.partial_fit(X[:10], y[:10], classes=[0, 1])
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X[:3], [0, 1, 11])
    with pytest.raises(ValueError, match="64 features"):
        clf.partial_fit(X[:3, :10], y[:3])
    assert clf.n_iter_ == 2


def test_first_partial_fit_equals_fit_with_one_epoch(
        digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    a = SigmoidMLPClassifier(max_iter=1, random_state=3).fit(X, y)
    b = SigmoidMLPClassifier(random_state=3).partial_fit(X, y, classes=np.arange(10))
    assert a.network_.params.tobytes() == b.network_.params.tobytes()
    np.testing.assert_array_equal(a.learning_speeds_, b.learning_speeds_)


def test_partial_fit_continues_a_fitted_estimator(
        digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(max_iter=3, random_state=0).fit(X, y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 4
    assert clf.learning_speeds_.shape == (4, 2)
    clf.fit(X, y)  # fit starts over
    assert clf.n_iter_ == 3


def test_divergence_keeps_the_previous_state(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    before = clf.network_.params.copy()
    clf.set_params(learning_rate=1e8)  # decay factor 1 - ηλ/n is hugely negative
    with pytest.raises(gradcore.DivergenceError):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 2
    assert clf.network_.params.tobytes() == before.tobytes()


# ------------------------------------------------------------------- fitted attributes
def test_learning_speeds_show_the_vanishing_gradient(
        digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier((30, 30, 30), max_iter=4, random_state=0).fit(X, y)
    speeds = clf.learning_speeds_
    assert speeds.shape == (4, 4)  # (n_iter_, 3 hidden layers + output)
    assert speeds.dtype == np.float64
    assert np.all(np.isfinite(speeds)) and np.all(speeds > 0)
    # Chapter 5: the first hidden layer learns far slower than the last hidden one.
    assert np.all(speeds[:, 0] < 0.5 * speeds[:, 2])
    assert clf.loss_curve_.shape == (4,)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_reproducible_with_random_state(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    est = SigmoidMLPClassifier(max_iter=3, random_state=42)
    a, b = clone(est).fit(X, y), clone(est).fit(X, y)
    assert a.network_.params.tobytes() == b.network_.params.tobytes()
    np.testing.assert_array_equal(a.learning_speeds_, b.learning_speeds_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    c = clone(est).set_params(random_state=43).fit(X, y)
    assert not np.array_equal(a.network_.params, c.network_.params)
    rs = SigmoidMLPClassifier(max_iter=1, random_state=np.random.RandomState(0)).fit(X, y)
    assert rs.n_iter_ == 1


def test_architecture_parameters(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(7, max_iter=1, dtype=np.float32, cost="quadratic",
                               random_state=0).fit(X, y)
    net = clf.network_
    assert isinstance(net, gradcore.Network)
    assert (net.sizes, net.cost, net.dtype) == ((64, 7, 10), "quadratic", np.float32)
    assert clf.n_features_in_ == 64
    flat = SigmoidMLPClassifier((), max_iter=1, random_state=0).fit(X, y)
    assert flat.network_.sizes == (64, 10)
    assert flat.learning_speeds_.shape == (1, 1)


@pytest.mark.parametrize("params, pattern", [
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"learning_rate": float("nan")}, "learning_rate must be finite"),
    ({"lmbda": -1.0}, "lmbda must be >= 0"),
    ({"max_iter": 0}, "max_iter must be >= 1"),
    ({"cost": "hinge"}, "cost must be one of"),
    ({"init": "zeros"}, "init must be one of"),
    ({"hidden_layer_sizes": (30, 0)}, r"hidden_layer_sizes\[1\] must be >= 1"),
])
def test_invalid_parameters_fail_in_fit_not_in_init(params: dict[str, Any],
                                                     pattern: str) -> None:
    clf = SigmoidMLPClassifier(**params)  # sklearn convention: __init__ only stores
    X, y = np.random.default_rng(0).random((6, 2)), [0, 1] * 3
    with pytest.raises(ValueError, match=pattern):
        clf.fit(X, y)
    if "max_iter" not in params:  # partial_fit runs one epoch whatever max_iter says
        with pytest.raises(ValueError, match=pattern):
            clone(clf).partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("params", [{"hidden_layer_sizes": "30"}, {"dtype": np.int32},
                                    {"batch_size": 2.5}])
def test_parameters_of_the_wrong_type(params: dict[str, Any]) -> None:
    X, y = np.random.default_rng(0).random((6, 2)), [0, 1] * 3
    with pytest.raises(TypeError):
        SigmoidMLPClassifier(**params).fit(X, y)


# ------------------------------------------------------------------------- predict_proba
def test_predict_proba_normalises_the_sigmoid_outputs(
        digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    a = clf.network_.feedforward(X)
    np.testing.assert_allclose(proba, a / a.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])


def test_predict_proba_when_every_sigmoid_underflows() -> None:
    X = np.random.default_rng(0).random((5, 3))
    clf = SigmoidMLPClassifier((4,), max_iter=1, random_state=0).fit(X, ["a", "b", "c",
                                                                         "a", "b"])
    clf.network_.biases[1] = [-2000.0, -1000.0, -3000.0]  # σ(z) == 0.0 for all outputs
    assert np.all(clf.network_.feedforward(X) == 0.0)
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), ["b"] * 5)  # the largest z wins


# ------------------------------------------------------------------ pickling and saving
def test_pickle_keeps_the_network_whole(digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    net = back.network_
    assert np.shares_memory(net.weights[0], net.params)
    net.weights[0] = np.zeros_like(net.weights[0])  # the views still drive the network
    assert not np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert "network_" in vars(clf)  # pickling did not change the original


def test_fitted_network_saves_and_loads(tmp_path: Path,
                                        digits01: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits01
    clf = SigmoidMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    clf.network_.save(tmp_path / "digits.json")
    net = load(tmp_path / "digits.json")
    np.testing.assert_array_equal(net.feedforward(X), clf.network_.feedforward(X))


@pytest.mark.parametrize("params, exc, words", [
    ({"init": -1.0}, ValueError, "init as a weight scale must be finite and > 0"),
    ({"hidden_layer_sizes": (4, 0)}, ValueError, "hidden_layer_sizes[1] must be >= 1"),
    ({"learning_rate": True}, TypeError, "learning_rate must be a finite number > 0"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
])
def test_parameters_are_checked_by_gradcores_constraints(params, exc, words):
    from gradcore.sklearn import SigmoidMLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 5)), rng.integers(0, 3, 40)
    with pytest.raises(exc) as info:
        kwargs = {"hidden_layer_sizes": (4,), "max_iter": 1, "random_state": 0, **params}
        SigmoidMLPClassifier(**kwargs).fit(X, y)
    assert words in str(info.value)


def test_a_weight_scale_initialisation():
    from gradcore.sklearn import SigmoidMLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 5)), rng.integers(0, 3, 40)
    half = SigmoidMLPClassifier((4,), init=0.5, max_iter=1, random_state=0)
    one = SigmoidMLPClassifier((4,), init=1.0, max_iter=1, random_state=0)
    default = SigmoidMLPClassifier((4,), max_iter=1, random_state=0)
    for clf in (half, one, default):
        clf.partial_fit(X[:1], y[:1], classes=[0, 1, 2])  # one example: a small step
    assert np.array_equal(one.network_.params, default.network_.params)
    assert np.abs(half.network_.weights[0]).mean() < np.abs(one.network_.weights[0]).mean()
