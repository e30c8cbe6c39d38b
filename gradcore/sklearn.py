"""A scikit-learn classifier backed by a gradcore network.

This module needs scikit-learn (``pip install "gradcore[sklearn]"``); ``import gradcore``
alone never imports it.

Examples
--------
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import MinMaxScaler
>>> from gradcore.sklearn import SigmoidMLPClassifier
>>> clf = make_pipeline(MinMaxScaler(), SigmoidMLPClassifier((30, 30), random_state=0))
>>> clf.fit(X_train, y_train).score(X_test, y_test)  # doctest: +SKIP
>>> clf[-1].learning_speeds_[:, 0]  # speed of the first hidden layer, per epoch  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn < 1.6: the same checks were a method of BaseEstimator
    def _validate_data(estimator: Any, /, X: Any = "no_validation",
                       y: Any = "no_validation", **kwargs: Any) -> Any:
        return estimator._validate_data(X, y, **kwargs)

from ._network import Network
from ._training import History, train
from ._validation import CONSTRAINTS

__all__ = ["SigmoidMLPClassifier"]

#: Seeds drawn from ``random_state`` for the initialisation and each call's shuffling.
_SEED_BOUND = np.iinfo(np.int32).max


class SigmoidMLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Sigmoid multi-layer perceptron trained by gradcore's compiled SGD (network2's rules).

    Every layer, the output layer included, is made of sigmoid neurons; there is one output
    neuron per class, and the target of an example is the one-hot vector of its class. The
    network is ``(n_features, *hidden_layer_sizes, n_classes)``. Training is mini-batch SGD
    with L2 weight decay as in "Neural Networks and Deep Learning":
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w``, ``b ← b − (η/m)·Σ∇b``, with n the number of samples
    given to that ``fit``/``partial_fit`` call and m = ``batch_size``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(30,)
        Neurons of each hidden layer; ``()`` gives no hidden layer.
    batch_size : int, default=10
        Mini-batch size m (a value >= n_samples is full-batch gradient descent).
    learning_rate : float, default=0.1
        Learning rate η > 0.
    lmbda : float, default=5.0
        L2 regularisation strength λ >= 0 (network2's name and scaling: λ/n).
    max_iter : int, default=30
        Number of epochs ``fit`` runs. There is no early stopping: ``fit`` always runs
        exactly ``max_iter`` epochs.
    cost : {"cross_entropy", "quadratic"}, default="cross_entropy"
        Cost function of the output layer.
    init : {"default", "large"} or float, default="default"
        Weight initialisation: N(0, 1/n_in) ("default"), N(0, 1) ("large") or N(0, s²/n_in)
        for a weight scale s > 0; biases N(0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the shuffling of every epoch; an int makes ``fit``
        reproducible bit for bit.
    dtype : numpy.float64 or numpy.float32, default=numpy.float64
        Precision of the network; X is converted to it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted; output neuron j stands for ``classes_[j]``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X had string column names (a DataFrame).
    network_ : gradcore.Network
        The trained network (save it with ``network_.save(path)``).
    n_iter_ : int
        Number of epochs run so far (``max_iter`` after ``fit``; ``partial_fit`` adds one).
    learning_speeds_ : ndarray of shape (n_iter_, n_layers)
        Per-epoch learning speed of every layer with weights, first hidden layer first,
        output layer last (gradcore's ``History.learning_speeds``): the norm of the mean
        over the epoch's mini-batches of ∂C/∂b. Small values in the first columns are the
        vanishing gradient of chapter 5.
    loss_curve_ : ndarray of shape (n_iter_,)
        Training cost of every epoch, L2 term included (``History.training_cost``).

    Notes
    -----
    The output neurons are independent sigmoids, not a softmax, so their activations do not
    sum to one. :meth:`predict_proba` normalises them: the score of class j is
    σ(zⱼ) / Σₖ σ(zₖ). It ranks classes as the network does, but it is not a calibrated
    probability; wrap the classifier in ``sklearn.calibration.CalibratedClassifierCV`` if
    calibrated probabilities matter.

    Architecture parameters (``hidden_layer_sizes``, ``cost``, ``init``, ``dtype``) take
    effect at the next ``fit`` or first ``partial_fit``; later ``partial_fit`` calls keep
    the existing network and use the current ``batch_size``, ``learning_rate`` and
    ``lmbda``.

    Training that diverges (a NaN or infinite cost, e.g. from a huge ``learning_rate``)
    raises :class:`gradcore.DivergenceError`; the estimator keeps its previous state.
    """

    classes_: np.ndarray
    network_: Network
    n_iter_: int
    learning_speeds_: np.ndarray
    loss_curve_: np.ndarray
    _rng: np.random.RandomState

    def __init__(self, hidden_layer_sizes: int | Iterable[int] = (30,), *,
                 batch_size: int = 10, learning_rate: float = 0.1, lmbda: float = 5.0,
                 max_iter: int = 30, cost: str = "cross_entropy", init: str | float = "default",
                 random_state: int | np.random.RandomState | None = None,
                 dtype: Any = np.float64) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lmbda = lmbda
        self.max_iter = max_iter
        self.cost = cost
        self.init = init
        self.random_state = random_state
        self.dtype = dtype

    # ------------------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any) -> SigmoidMLPClassifier:
        """Build a fresh network and train it for ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (scaled to about [0, 1] or standardised works best).
        y : array-like of shape (n_samples,)
            Class labels of any sortable type.

        Returns
        -------
        self : SigmoidMLPClassifier
        """
        p = self._checked_params()
        X, y = _validate_data(self, X, y, reset=True, dtype=p["dtype"])
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        rng = check_random_state(self.random_state)
        net = self._new_network(X.shape[1], p["hidden_layer_sizes"], len(classes),
                                p["dtype"], rng)
        history = self._train(net, X, y_index.ravel(), p["max_iter"], rng)
        self.classes_ = classes
        self.network_ = net
        self._rng = rng
        self._set_history(history, append=False)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> SigmoidMLPClassifier:
        """Train for one epoch over (X, y), continuing from the current network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            All the class labels that will ever appear. Required on the first call (when
            the estimator is not fitted yet); if given later, it must equal ``classes_``.

        Returns
        -------
        self : SigmoidMLPClassifier
        """
        first = not hasattr(self, "network_")
        p = self._checked_params()
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(all the labels that will ever appear)")
            hidden, dtype = p["hidden_layer_sizes"], p["dtype"]
            all_classes = np.unique(np.asarray(classes))
            X, y = _validate_data(self, X, y, reset=True, dtype=dtype)
        else:
            dtype = self.network_.dtype
            all_classes = self.classes_
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                          self.classes_):
                raise ValueError(f"classes={classes!r} is not the same as classes_="
                                 f"{self.classes_!r} of the first call")
            X, y = _validate_data(self, X, y, reset=False, dtype=dtype)
        check_classification_targets(y)
        y_index = _encode(y, all_classes)
        if first:
            rng = check_random_state(self.random_state)
            net = self._new_network(X.shape[1], hidden, len(all_classes), dtype, rng)
        else:
            rng = self._rng
            net = self.network_.copy()
        history = self._train(net, X, y_index, 1, rng)
        self.classes_ = all_classes
        self.network_ = net
        self._rng = rng
        self._set_history(history, append=not first)
        return self

    # ----------------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Normalised output activations: σ(zⱼ) / Σₖ σ(zₖ) for every class j.

        The rows sum to one and rank classes as the network's outputs do; they are not
        calibrated probabilities (see the class Notes). Computed from the output layer's
        weighted inputs z in log space, so rows stay finite when every sigmoid underflows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
        """
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=self.network_.dtype)
        net = self.network_
        z, _ = net._forward(net._inputs(X))
        log_a = -np.logaddexp(0.0, -z.astype(np.float64))  # log σ(z), exact for large |z|
        top = log_a.max(axis=1, keepdims=True)
        top[~np.isfinite(top)] = 0.0
        scores = np.exp(log_a - top)
        total = scores.sum(axis=1, keepdims=True)
        empty = total[:, 0] == 0  # every output -inf: nothing to tell the classes apart
        scores[empty] = 1.0
        total[empty] = scores.shape[1]
        proba: np.ndarray = scores / total
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Class of the most active output neuron (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        proba = self.predict_proba(X)
        labels: np.ndarray = self.classes_[np.argmax(proba, axis=1)]
        return labels

    # ------------------------------------------------------------------------- helpers
    def _checked_params(self) -> dict[str, Any]:
        """The estimator's parameters, checked against gradcore's constraint table."""
        return {name: rule.check(name, getattr(self, name))
                for name, rule in CONSTRAINTS["SigmoidMLPClassifier"].items()}

    def _new_network(self, n_features: int, hidden: tuple[int, ...], n_classes: int,
                     dtype: np.dtype, rng: np.random.RandomState) -> Network:
        return Network((n_features, *hidden, n_classes), cost=self.cost, init=self.init,
                       seed=int(rng.randint(_SEED_BOUND)), dtype=dtype)

    def _train(self, net: Network, X: np.ndarray, y_index: np.ndarray, epochs: int,
               rng: np.random.RandomState) -> History:
        return train(net, X, y_index, epochs=epochs, batch_size=self.batch_size,
                     eta=self.learning_rate, lmbda=self.lmbda,
                     seed=int(rng.randint(_SEED_BOUND))).history

    def _set_history(self, history: History, *, append: bool) -> None:
        speeds = np.asarray(history.learning_speeds, dtype=np.float64)
        loss = np.asarray(history.training_cost, dtype=np.float64)
        if append:
            speeds = np.vstack([self.learning_speeds_, speeds])
            loss = np.concatenate([self.loss_curve_, loss])
        self.learning_speeds_ = speeds
        self.loss_curve_ = loss
        self.n_iter_ = int(loss.shape[0])


def _encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices of the labels y in the sorted ``classes``; ValueError for unknown labels."""
    index = np.searchsorted(classes, y)
    index[index >= len(classes)] = 0
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(f"y contains labels not in classes_ {classes!r}: "
                         f"{np.unique(y[unknown])!r}")
    return index
