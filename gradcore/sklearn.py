"""scikit-learn classifiers backed by a gradcore network.

:class:`MLPClassifier` takes scikit-learn's parameter names (``alpha``,
``learning_rate_init``, ...) and any of gradcore's activations and outputs;
:class:`SigmoidMLPClassifier` is the book's network with the book's names (``lmbda``,
``learning_rate``).

This module needs scikit-learn (``pip install "gradcore[sklearn]"``); ``import gradcore``
alone never imports it.

Examples
--------
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import MinMaxScaler
>>> from gradcore.sklearn import MLPClassifier, SigmoidMLPClassifier
>>> clf = make_pipeline(MinMaxScaler(), SigmoidMLPClassifier((30, 30), random_state=0))
>>> clf.fit(X_train, y_train).score(X_test, y_test)  # doctest: +SKIP
>>> clf[-1].learning_speeds_[:, 0]  # speed of the first hidden layer, per epoch  # doctest: +SKIP
>>> relu = MLPClassifier((100, 100), "relu", max_iter=20, random_state=0)
>>> relu.fit(X_train, y_train).history_.gradient_rms  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

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

from ._arch import check_activations, check_output_cost
from ._network import Network
from ._training import History, train
from ._validation import CONSTRAINTS

__all__ = ["MLPClassifier", "SigmoidMLPClassifier"]

#: Seeds drawn from ``random_state`` for the initialisation and each call's shuffling.
_SEED_BOUND = np.iinfo(np.int32).max

_Self = TypeVar("_Self", bound="_NetworkClassifier")


class _NetworkClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """What the classifiers share: class labels mapped to output neurons (output j stands
    for ``classes_[j]``), ``fit`` on a fresh network, ``partial_fit`` one epoch further, and
    ``predict``. A subclass names its constraints (``_constraints``, a key of gradcore's
    constraint table), builds and trains a network (:meth:`_start`), trains one it has for
    one more epoch (:meth:`_more`) and keeps what training recorded (:meth:`_set_history`).
    """

    _constraints: str
    classes_: np.ndarray
    network_: Network
    n_iter_: int
    _rng: np.random.RandomState

    # ------------------------------------------------------------------------- fitting
    def fit(self: _Self, X: Any, y: Any) -> _Self:
        """Build a fresh network and train it for ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (scaled to about [0, 1] or standardised works best).
        y : array-like of shape (n_samples,)
            Class labels of any sortable type.

        Returns
        -------
        self
            The fitted estimator.
        """
        p = self._checked_params()
        X, y = _validate_data(self, X, y, reset=True, dtype=p["dtype"])
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        rng = check_random_state(self.random_state)
        net, history = self._start(X, y_index.ravel(), len(classes), p, p["max_iter"], rng)
        self.classes_ = classes
        self.network_ = net
        self._rng = rng
        self._set_history(history, append=False)
        return self

    def partial_fit(self: _Self, X: Any, y: Any, classes: Any = None) -> _Self:
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
        self
            The estimator, one epoch further.
        """
        first = not hasattr(self, "network_")
        p = self._checked_params()
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(all the labels that will ever appear)")
            all_classes = np.unique(np.asarray(classes))
            X, y = _validate_data(self, X, y, reset=True, dtype=p["dtype"])
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                          self.classes_):
                raise ValueError(f"classes={classes!r} is not the same as classes_="
                                 f"{self.classes_!r} of the first call")
            X, y = _validate_data(self, X, y, reset=False, dtype=self.network_.dtype)
        check_classification_targets(y)
        y_index = _encode(y, all_classes)
        if first:
            rng = check_random_state(self.random_state)
            net, history = self._start(X, y_index, len(all_classes), p, 1, rng)
        else:
            rng = self._rng
            net = self.network_.copy()  # the estimator keeps its state if training fails
            history = self._more(net, X, y_index, p, rng)
        self.classes_ = all_classes
        self.network_ = net
        self._rng = rng
        self._set_history(history, append=not first)
        return self

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

    # ------------------------------------------------------------------------- hooks
    def _checked_params(self) -> dict[str, Any]:
        """The estimator's parameters, checked against gradcore's constraint table."""
        return {name: rule.check(name, getattr(self, name))
                for name, rule in CONSTRAINTS[self._constraints].items()}

    def _start(self, X: np.ndarray, y_index: np.ndarray, n_classes: int, p: dict[str, Any],
               epochs: int, rng: np.random.RandomState) -> tuple[Network, History]:
        """A new network for ``n_classes`` classes, trained ``epochs`` epochs on (X, y)."""
        raise NotImplementedError

    def _more(self, net: Network, X: np.ndarray, y_index: np.ndarray, p: dict[str, Any],
              rng: np.random.RandomState) -> History:
        """Train ``net`` in place for one more epoch."""
        raise NotImplementedError

    def _set_history(self, history: History, *, append: bool) -> None:
        raise NotImplementedError


class SigmoidMLPClassifier(_NetworkClassifier):
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

    _constraints = "SigmoidMLPClassifier"
    learning_speeds_: np.ndarray
    loss_curve_: np.ndarray

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

    # ------------------------------------------------------------------------- helpers
    def _start(self, X: np.ndarray, y_index: np.ndarray, n_classes: int, p: dict[str, Any],
               epochs: int, rng: np.random.RandomState) -> tuple[Network, History]:
        net = self._new_network(X.shape[1], p["hidden_layer_sizes"], n_classes, p["dtype"],
                                rng)
        return net, self._train(net, X, y_index, epochs, rng)

    def _more(self, net: Network, X: np.ndarray, y_index: np.ndarray, p: dict[str, Any],
              rng: np.random.RandomState) -> History:
        return self._train(net, X, y_index, 1, rng)

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


class MLPClassifier(_NetworkClassifier):
    """Multi-layer perceptron classifier trained by gradcore's compiled SGD, with
    scikit-learn's parameter names.

    The network is ``(n_features, *hidden_layer_sizes, n_classes)``: hidden layers of any of
    gradcore's activations and, by default, a softmax output layer with the log-likelihood
    cost, as in ``sklearn.neural_network.MLPClassifier`` (for two classes scikit-learn uses
    one logistic output; a softmax over two outputs is the same model, p = σ(z₁ − z₀)).
    Training is mini-batch SGD with L2 weight decay; the parameters whose names scikit-learn
    also uses mean what they mean there, with the differences stated in the Notes.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Neurons of each hidden layer; ``()`` gives no hidden layer.
    activation : str or sequence of str, default="relu"
        The activation of every hidden layer, or one per hidden layer: ``"sigmoid"``,
        ``"tanh"``, ``"softsign"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"prelu"``
        (a learnt slope per neuron) or ``"linear"``. scikit-learn's names are accepted
        too, as aliases: ``"logistic"`` is ``"sigmoid"`` and ``"identity"`` is
        ``"linear"`` (``network_.activations`` holds gradcore's names). Each activation's
        formula and paper: the table in :mod:`gradcore.reference`.
    output : {"softmax", "sigmoid"}, default="softmax"
        The output layer: a softmax (scikit-learn's choice), or one independent sigmoid
        per class (the book's networks; :meth:`predict_proba` then normalises them, as
        :class:`SigmoidMLPClassifier` does).
    cost : {"log_likelihood", "cross_entropy", "quadratic"} or None, default=None
        None: log-likelihood for a softmax output, cross-entropy for a sigmoid output. The
        quadratic cost goes with a sigmoid output only.
    alpha : float, default=0.0001
        L2 strength >= 0, scaled as scikit-learn scales it (see the Notes).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``, as in scikit-learn. A
        value >= n_samples is full-batch gradient descent.
    learning_rate_init : float, default=0.1
        Learning rate η > 0, constant, applied to the mean gradient of a mini-batch.
    max_iter : int, default=200
        Number of epochs ``fit`` runs: always exactly this many (there is no ``tol`` and
        no early stopping).
    init : str, float or object, default="default"
        Weight initialisation: anything :class:`gradcore.Network` takes as ``init``
        ("default": weights N(0, 1/n_in), biases N(0, 1); "large"; a weight scale s > 0;
        and the schemes of :mod:`gradcore.init` where that module is present). PReLU
        slopes start at 0.25.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the shuffling. An int k makes ``fit`` give exactly
        the network and history of ``gradcore.train(sizes, X, classes_index, seed=k,
        ...)`` with the settings of the Notes, bit for bit.
    dtype : numpy.float64 or numpy.float32, default=numpy.float64
        Precision of the network; X is converted to it.
    momentum : float in [0, 1), default=0.0
        Classical momentum (Sutskever et al. 2013); 0 is plain SGD.
    nesterovs_momentum : bool, default=False
        Nesterov's accelerated gradient (needs ``momentum`` > 0).
    momentum_schedule : None or "sutskever", default=None
        Sutskever et al.'s schedule rising to ``momentum``.
    clip_norm : float > 0 or None, default=None
        Clip each mini-batch's gradient norm (Pascanu et al. 2013).
    dropout : float in [0, 1), default=0.0
        Inverted dropout of hidden units (Srivastava et al. 2014).

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
    history_ : gradcore.History
        Per epoch: ``learning_speeds`` (n_iter_, n_layers), the norm of the mean ∂C/∂b of
        every layer with weights, output last (chapter 5's speed of learning), and
        ``gradient_rms`` (n_iter_, n_layers), the per-example root mean square of ‖δ‖;
        ``training_cost`` is ``loss_curve_``. ``partial_fit`` appends a row.
    loss_curve_ : ndarray of shape (n_iter_,)
        Training cost of every epoch, L2 term included.
    n_iter_ : int
        Number of epochs run so far (``max_iter`` after ``fit``; ``partial_fit`` adds one).

    See Also
    --------
    SigmoidMLPClassifier : the book's sigmoid network, with the book's ``lmbda`` and
        ``learning_rate``.

    Notes
    -----
    **The L2 term.** gradcore (the book) adds λ/(2n)·Σw² to the cost, n the size of the
    training set, and each mini-batch of m examples takes the step
    ``w ← (1 − ηλ/n)·w − (η/m)·Σ∇w``, ``b ← b − (η/m)·Σ∇b``. scikit-learn (its
    ``_multilayer_perceptron.py``, as of 1.9) divides alpha by the mini-batch's size: to each
    mini-batch's mean loss it adds alpha/(2·mₖ)·Σw² and to the gradient of the weights
    alpha·w/mₖ, mₖ the number of examples in that mini-batch (the sum of their sample
    weights, if given). With its ``solver="sgd"``, ``learning_rate="constant"`` and
    ``momentum=0`` that is ``w ← (1 − η·alpha/mₖ)·w − (η/mₖ)·Σ∇w``. This class keeps
    scikit-learn's meaning: every ``fit``/``partial_fit`` call on n samples trains with
    λ = alpha·n/m, m the mini-batch size, so that ηλ/n = η·alpha/m, the same step for every
    full mini-batch. The last mini-batch of an epoch, when n is not a multiple of m, is
    shorter: its gradient is divided by its own size as in scikit-learn, but its decay is
    η·alpha/m where scikit-learn's is η·alpha/mₖ. The L2 term in ``loss_curve_`` is
    λ/(2n)·Σw² = alpha/(2m)·Σw² at the end of the epoch; scikit-learn averages its
    per-mini-batch terms over the epoch, at the weights each mini-batch saw. To train with
    the book's λ, pass ``alpha = λ·m/n``. Biases and PReLU slopes are never decayed (in
    scikit-learn neither are the intercepts).

    **The learning rate** is applied to the mean gradient of a mini-batch, as in
    scikit-learn's SGD. Its default, 0.1, is not scikit-learn's 0.001, which is the step
    of scikit-learn's default Adam solver; gradcore trains by SGD only (no Adam, no
    learning-rate schedule). ``momentum`` and ``nesterovs_momentum`` are scikit-learn's SGD
    momentum (default 0: plain SGD, where scikit-learn's SGD solver defaults to 0.9 with
    Nesterov); ``momentum_schedule="sutskever"``, ``clip_norm`` and ``dropout`` are
    :func:`gradcore.train`'s (papers there). The velocity starts at zero in each ``fit``
    and in each ``partial_fit`` call.

    **Other differences.** The examples are reshuffled every epoch (scikit-learn's
    ``shuffle=True``) by gradcore's own generator, so the two libraries do not draw the same
    mini-batches. The default initialisation draws weights from N(0, 1/n_in) and biases
    from N(0, 1); scikit-learn draws both from U[−r, r] with Glorot & Bengio's
    r = √(6/(n_in + n_out)) (r = √(2/(n_in + n_out)) for the logistic). A ``batch_size``
    above n_samples is clipped without a warning.

    Architecture parameters (``hidden_layer_sizes``, ``activation``, ``output``, ``cost``,
    ``init``, ``dtype``) take effect at the next ``fit`` or first ``partial_fit``; later
    ``partial_fit`` calls keep the existing network and use the current ``alpha``,
    ``batch_size`` and ``learning_rate_init``. Training that diverges (a NaN or infinite
    cost, e.g. from a huge ``learning_rate_init``) raises :class:`gradcore.DivergenceError`
    and the estimator keeps its previous state.
    """

    _constraints = "MLPClassifier"
    history_: History
    loss_curve_: np.ndarray

    def __init__(self, hidden_layer_sizes: int | Iterable[int] = (100,),
                 activation: str | Sequence[str] = "relu", *, output: str = "softmax",
                 cost: str | None = None, alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate_init: float = 0.1,
                 max_iter: int = 200, init: Any = "default",
                 random_state: int | np.random.RandomState | None = None,
                 dtype: Any = np.float64, momentum: float = 0.0,
                 nesterovs_momentum: bool = False, momentum_schedule: str | None = None,
                 clip_norm: float | None = None, dropout: float = 0.0) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output = output
        self.cost = cost
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.init = init
        self.random_state = random_state
        self.dtype = dtype
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.momentum_schedule = momentum_schedule
        self.clip_norm = clip_norm
        self.dropout = dropout

    # ----------------------------------------------------------------------- prediction
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed in log space from the output layer's
        weighted inputs z (finite where the probabilities underflow to 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
        """
        check_is_fitted(self)
        net = self.network_
        X = _validate_data(self, X, reset=False, dtype=net.dtype)
        z = np.asarray(net._forward(net._inputs(X))[0], dtype=np.float64)
        # softmax: log aⱼ = zⱼ − log Σₖ e^{zₖ}; sigmoid: log σ(zⱼ) − log Σₖ σ(zₖ)
        scores = z if net.output == "softmax" else -np.logaddexp(0.0, -z)
        return _log_normalised(scores)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the softmax output, or with ``output="sigmoid"`` the
        sigmoid outputs divided by their sum (scores, not calibrated probabilities).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Rows sum to one.
        """
        proba: np.ndarray = np.exp(self.predict_log_proba(X))
        return proba

    # ------------------------------------------------------------------------- helpers
    def _checked_params(self) -> dict[str, Any]:
        p = super()._checked_params()
        p["activation"] = check_activations(p["activation"], len(p["hidden_layer_sizes"]))
        p["output"], p["cost"] = check_output_cost(p["output"], p["cost"])
        return p

    @staticmethod
    def _sgd(p: dict[str, Any], n: int) -> dict[str, Any]:
        """gradcore.train's batch_size, eta and lmbda for n samples (λ = alpha·n/m)."""
        m = min(_AUTO_BATCH if p["batch_size"] == "auto" else p["batch_size"], n)
        return {"batch_size": m, "eta": p["learning_rate_init"], "lmbda": p["alpha"] * n / m,
                "momentum": p["momentum"], "nesterov": p["nesterovs_momentum"],
                "momentum_schedule": p["momentum_schedule"], "clip_norm": p["clip_norm"],
                "dropout": p["dropout"]}

    def _start(self, X: np.ndarray, y_index: np.ndarray, n_classes: int, p: dict[str, Any],
               epochs: int, rng: np.random.RandomState) -> tuple[Network, History]:
        rs = self.random_state
        seed = (int(rs) if isinstance(rs, numbers.Integral) and not isinstance(rs, bool)
                else int(rng.randint(_SEED_BOUND)))
        result = train((X.shape[1], *p["hidden_layer_sizes"], n_classes), X, y_index,
                       epochs=epochs, seed=seed, activation=p["activation"],
                       output=p["output"], cost=p["cost"], init=p["init"], dtype=p["dtype"],
                       **self._sgd(p, X.shape[0]))
        return result.network, result.history

    def _more(self, net: Network, X: np.ndarray, y_index: np.ndarray, p: dict[str, Any],
              rng: np.random.RandomState) -> History:
        return train(net, X, y_index, epochs=1, seed=int(rng.randint(_SEED_BOUND)),
                     **self._sgd(p, X.shape[0])).history

    def _set_history(self, history: History, *, append: bool) -> None:
        new = _owned(history)
        if append:
            new = _joined(self.history_, new)
        self.history_ = new
        self.loss_curve_ = new.training_cost.copy()
        self.n_iter_ = new.epochs


#: scikit-learn's ``batch_size="auto"``: min(200, n_samples).
_AUTO_BATCH = 200


def _owned(h: History) -> History:
    """The per-epoch arrays of ``h`` as float64 arrays of their own (train's are read-only
    views into its recorder)."""
    def own(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.array(a, dtype=np.float64)

    return History(learning_speeds=np.array(h.learning_speeds, dtype=np.float64),
                   training_cost=np.array(h.training_cost, dtype=np.float64),
                   gradient_rms=own(h.gradient_rms))


def _joined(a: History, b: History) -> History:
    """The epochs of ``a`` followed by those of ``b``."""
    rms = (None if a.gradient_rms is None or b.gradient_rms is None
           else np.vstack([a.gradient_rms, b.gradient_rms]))
    return History(learning_speeds=np.vstack([a.learning_speeds, b.learning_speeds]),
                   training_cost=np.concatenate([a.training_cost, b.training_cost]),
                   gradient_rms=rms)


def _log_normalised(scores: np.ndarray) -> np.ndarray:
    """scores − log Σₖ e^{scoresₖ} per row (log-sum-exp with the row's largest score taken
    out first); a row of all −inf, where nothing tells the classes apart, gets log(1/k)."""
    top = scores.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    with np.errstate(divide="ignore"):
        log_total = np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
    out: np.ndarray = scores - top - log_total
    empty = ~np.isfinite(log_total[:, 0])
    out[empty] = -np.log(scores.shape[1])
    return out


def _encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices of the labels y in the sorted ``classes``; ValueError for unknown labels."""
    index = np.searchsorted(classes, y)
    index[index >= len(classes)] = 0
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(f"y contains labels not in classes_ {classes!r}: "
                         f"{np.unique(y[unknown])!r}")
    return index
