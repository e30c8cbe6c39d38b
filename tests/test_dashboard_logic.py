"""The dashboard's settings and training, without a server or a browser.

The page hands every form field to ``parse_settings`` as text, and its runs are
``TrainingRun`` threads executing ``run_training``: what these tests check is what the page
relies on. The browser tests are in test_dashboard.py.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcore import Network, experiments, theory
from gradcore import train as gradcore_train
from gradcore.dashboard import training
from gradcore.dashboard.settings import LIMITS, Settings, SettingsError, parse_settings
from gradcore.dashboard.training import Feed, TooManyRuns, TrainingRun, run_training

WAIT = 120.0  # seconds: generous, the tests must pass on a busy machine


def _wait(predicate, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _no_runs_left():
    yield
    assert training.stop_all(WAIT), "a training thread did not end"
    assert training.live_runs() == []


# ------------------------------------------------------------------ settings


def test_default_settings_are_the_books_run():
    s = Settings()
    assert s.sizes == (784, 30, 30, 30, 10)
    assert (s.init, s.cost, s.eta, s.lmbda, s.batch_size, s.epochs, s.images) == (
        "default", "cross_entropy", 0.1, 5.0, None, 500, 1000)
    assert parse_settings(s.form()) == s


@settings(max_examples=60, deadline=None)
@given(hidden=st.integers(LIMITS.min_hidden, LIMITS.max_hidden),
       width=st.integers(1, LIMITS.max_width),
       init=st.one_of(st.sampled_from(["default", "large"]),
                      st.floats(0.01, LIMITS.max_scale)),
       eta=st.floats(1e-6, LIMITS.max_eta), lmbda=st.floats(0, LIMITS.max_lmbda),
       images=st.integers(LIMITS.min_images, LIMITS.max_images),
       batch=st.integers(1, LIMITS.max_images), epochs=st.integers(1, LIMITS.max_epochs))
def test_settings_within_the_limits_round_trip_through_the_form(hidden, width, init, eta,
                                                                lmbda, images, batch,
                                                                epochs):
    batch_size = batch if batch < images else None
    s = Settings(hidden=hidden, width=width, init=init, eta=eta, lmbda=lmbda, images=images,
                 batch_size=batch_size, epochs=epochs)
    back = parse_settings(s.form())
    # the form shows numbers with 6 significant digits
    assert back.sizes == s.sizes and back.batch_size == s.batch_size
    assert back.epochs == epochs and back.images == images
    assert back.eta == pytest.approx(eta, rel=1e-5)
    assert back.lmbda == pytest.approx(lmbda, rel=1e-5, abs=1e-300)
    assert (back.init == init if isinstance(init, str)
            else back.init == pytest.approx(init, rel=1e-5))


@pytest.mark.parametrize("batch, expected", [("full", None), (" FULL ", None), ("1000", None),
                                             ("10", 10), ("1", 1)])
def test_mini_batch_full_or_a_size(batch, expected):
    assert parse_settings({**Settings().form(), "batch_size": batch}).batch_size == expected


def test_scale_is_read_only_for_the_scale_initialisation():
    form = {**Settings().form(), "scale": "nonsense"}
    assert parse_settings(form).init == "default"
    assert parse_settings({**form, "init": "scale", "scale": "2.5"}).init == 2.5


BAD = [
    ("hidden", "0", "Hidden layers", "must be >= 1, got 0"),
    ("hidden", "9", "Hidden layers", "must be <= 8, got 9"),
    ("hidden", "3.5", "Hidden layers", "must be an integer >= 1 and <= 8, got '3.5'"),
    ("width", "101", "Neurons per hidden layer", "must be <= 100, got 101"),
    ("width", "", "Neurons per hidden layer", "must not be empty"),
    ("width", "9" * 5000, "Neurons per hidden layer", "must be at most 40 characters"),
    ("eta", "0", "η", "must be > 0, got 0"),
    ("eta", "abc", "η", "must be a finite number > 0 and <= 100, got 'abc'"),
    ("eta", "nan", "η", "must be finite"),
    ("eta", "1e400", "η", "must be finite"),
    ("eta", "101", "η", "must be <= 100, got 101"),
    ("lmbda", "-1", "λ", "must be >= 0, got -1"),
    ("epochs", "5001", "Epochs", "must be <= 5000, got 5001"),
    ("epochs", "0", "Epochs", "must be >= 1, got 0"),
    ("seed", "-1", "Seed", "must be >= 0, got -1"),
    ("images", "9", "Training images", "must be >= 10, got 9"),
    ("batch_size", "0", "Mini-batch size", "must be >= 1, got 0"),
    ("batch_size", "2000", "Mini-batch size", "must be <= 1000, got 2000"),
    ("cost", "hinge", "Cost", "must be one of 'cross_entropy', 'quadratic', got 'hinge'"),
    ("init", "zeros", "Initialisation", "must be one of 'default', 'large', 'scale'"),
    ("hidden", 6, "Hidden layers", "must be text"),
]


@pytest.mark.parametrize("field, text, label, why", BAD)
def test_a_refused_value_is_named_with_its_limit(field, text, label, why):
    with pytest.raises(SettingsError) as info:
        parse_settings({**Settings().form(), field: text})
    (message,) = info.value.messages
    assert message.startswith(label) and why in message


def test_every_refused_field_is_reported_at_once():
    form = {**Settings().form(), "init": "scale", "scale": "0", "width": "x", "images": "20",
            "batch_size": "50"}
    with pytest.raises(SettingsError) as info:
        parse_settings(form)
    assert [m.split(" ")[0] for m in info.value.messages] == ["Neurons", "Weight",
                                                              "Mini-batch"]


# ------------------------------------------------------------------ run_training


def test_run_training_records_the_speeds_of_the_chapters_experiment():
    s = Settings(epochs=6)
    feed = Feed(s.epochs, s.n_layers)
    assert run_training(s, feed) == "finished"
    update = feed.drain()
    book = experiments.speeds_during_training(s.sizes, epochs=6, seed=s.seed)
    np.testing.assert_allclose(update.speeds, book.speeds, rtol=1e-12)
    np.testing.assert_allclose(update.cost, book.training_cost, rtol=1e-12)
    assert (update.first, update.state) == (0, "finished")
    assert update.snapshot is not None and update.snapshot.epoch == 6
    assert feed.drain().speeds.shape == (0, 4)  # drained once only


class _RecordingFeed(Feed):
    def __init__(self, epochs: int, n_layers: int) -> None:
        super().__init__(epochs, n_layers)
        self.snapshots: list[training.Snapshot] = []

    def add_snapshot(self, snapshot: training.Snapshot) -> None:
        self.snapshots.append(snapshot)
        super().add_snapshot(snapshot)


def test_snapshots_start_with_the_books_diagram_of_the_fresh_network():
    s = Settings(hidden=4, width=5, epochs=3)
    feed = _RecordingFeed(s.epochs, s.n_layers)
    run_training(s, feed)
    first, last = feed.snapshots[0], feed.snapshots[-1]
    deltas = experiments.initial_deltas(s.sizes, seed=s.seed)
    assert first.epoch == 0 and len(first.deltas) == 4
    for got, want in zip(first.deltas, deltas):
        assert got.shape == (5,)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert last.epoch == 3 and [x.epoch for x in feed.snapshots] == sorted(
        x.epoch for x in feed.snapshots)
    assert 0 <= last.accuracy <= 1


def test_the_bars_show_the_first_six_neurons():
    X, y = training.embedded_images()
    snapshot = training.take_snapshot(Network([784, 30, 30, 10], seed=0), X, y, 0)
    deltas = experiments.initial_deltas([784, 30, 30, 10], seed=0)
    assert [d.shape for d in snapshot.deltas] == [(6,), (6,)]
    for got, want in zip(snapshot.deltas, deltas):
        np.testing.assert_allclose(got, want[:training.BAR_NEURONS], rtol=1e-12)


def test_a_diverging_run_ends_with_a_message_not_an_exception():
    s = Settings(eta=100, init=1000.0, lmbda=1000, images=100, epochs=300)
    feed = Feed(s.epochs, s.n_layers)
    assert run_training(s, feed) == "diverged"
    update = feed.drain()
    assert update.state == "diverged" and "diverged in epoch" in update.message
    assert update.snapshot is not None and np.isfinite(update.cost).all()


def test_mini_batches_and_fewer_images():
    s = Settings(hidden=1, width=10, batch_size=10, images=50, epochs=3, cost="quadratic")
    feed = Feed(s.epochs, s.n_layers)
    assert run_training(s, feed) == "finished"
    update = feed.drain()
    assert update.speeds.shape == (3, 2) and (update.speeds > 0).all()


# ------------------------------------------------------------------ TrainingRun


def _long() -> Settings:
    return Settings(hidden=8, width=100, epochs=LIMITS.max_epochs)


def test_a_run_trains_in_its_own_thread_with_one_kernel_thread_and_ends():
    run = TrainingRun(Settings(epochs=20))
    run.start()
    assert run.join(WAIT) and not run.alive
    assert run.feed.state == "finished" and run.feed.epochs_done == 20
    assert run not in training.live_runs()


def test_pause_holds_the_thread_and_stop_ends_it():
    run = TrainingRun(_long())
    run.start()
    assert run.name in {t.name for t in threading.enumerate()}
    run.pause()
    _wait(lambda: run.feed.state == "paused", "the run pauses")
    done = run.feed.epochs_done
    time.sleep(0.3)
    assert run.feed.epochs_done == done and run.alive
    run.resume()
    _wait(lambda: run.feed.epochs_done > done, "the run resumes")
    run.pause()
    _wait(lambda: run.feed.state == "paused", "the run pauses again")
    run.stop()
    assert run.join(WAIT)
    assert run.feed.state == "stopped" and run.feed.epochs_done < LIMITS.max_epochs
    assert run.name not in {t.name for t in threading.enumerate()}


def test_the_server_runs_at_most_max_runs_trainings():
    runs = [TrainingRun(_long()) for _ in range(LIMITS.max_runs)]
    for run in runs:
        run.start()
        run.pause()
    with pytest.raises(TooManyRuns, match="already runs 8 trainings"):
        TrainingRun(_long()).start()
    replacement = TrainingRun(Settings(epochs=2))
    replacement.start(replacing=runs[0])  # a page replacing its own run is not refused
    assert runs[0].join(WAIT) and replacement.join(WAIT)
    assert training.stop_all(WAIT) and training.live_runs() == []


def test_a_feed_holds_at_most_the_runs_epochs():
    feed = Feed(3, 2)
    for e in range(3):
        feed.add_epoch(np.array([e, e]), float(e))
    with pytest.raises(IndexError):
        feed.add_epoch(np.zeros(2), 0.0)
    update = feed.drain()
    assert update.first == 0 and update.cost.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_run_trains_at_a_lower_cpu_priority_than_the_server():
    run = TrainingRun(_long())
    run.start()
    try:
        _wait(lambda: run.feed.epochs_done > 0, "the run trains")
        nice = os.getpriority(os.PRIO_PROCESS, run._thread.native_id)
        assert nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + training.NICE_INCREMENT)
    finally:
        run.stop()


# ------------------------------------------------------------------ the form's remedies


def test_activation_init_and_update_round_trip_through_the_form():
    s = Settings(activation="relu", init="he", momentum=0.9, nesterov=True,
                 schedule="sutskever", clip_norm=5.0, dropout=0.2, batch_size=100)
    assert parse_settings(s.form()) == s
    for act in ("tanh", "softsign", "leaky_relu", "elu", "prelu", "linear"):
        for init in ("glorot", "glorot_standard", "lecun", "orthogonal", "sparse"):
            form = {**Settings().form(), "activation": act, "init": init}
            assert (parse_settings(form).activation, parse_settings(form).init) == (act, init)


def test_a_run_is_labelled_with_its_settings():
    book = Settings()
    assert book.update_label() == "SGD" and "relu" not in book.label()
    s = Settings(activation="relu", init="he", momentum=0.99, nesterov=True,
                 schedule="sutskever", clip_norm=5.0, dropout=0.2)
    assert "[784,30,30,30,10] relu, he init, η = 0.1" in s.label()
    assert "Nesterov 0.99 (Sutskever schedule), clip 5, dropout 0.2" in s.label()
    assert Settings(momentum=0.9).short_label() == "sigmoid, default init, momentum 0.9"


REMEDY_BAD = [
    ("activation", "swish", "Hidden activation", "must be one of 'sigmoid'"),
    ("momentum", "1", "Momentum μ", "must be <= 0.999, got 1"),
    ("momentum", "-0.1", "Momentum μ", "must be >= 0"),
    ("nesterov", "yes", "Momentum kind", "Nesterov needs a momentum μ > 0"),
    ("schedule", "sutskever", "Momentum schedule", "needs a momentum μ > 0"),
    ("clip_norm", "0", "Clip the gradient norm", "must be > 0, got 0"),
    ("dropout", "0.95", "Dropout", "must be <= 0.9, got 0.95"),
]


@pytest.mark.parametrize("field, text, label, why", REMEDY_BAD)
def test_a_refused_remedy_is_named_with_its_limit(field, text, label, why):
    with pytest.raises(SettingsError) as info:
        parse_settings({**Settings().form(), field: text})
    (message,) = info.value.messages
    assert message.startswith(label) and why in message


def test_clipping_none_is_no_clipping():
    assert parse_settings({**Settings().form(), "clip_norm": " None "}).clip_norm is None


def test_the_run_trains_with_the_chosen_activation_init_and_update():
    s = Settings(activation="tanh", init="glorot", momentum=0.9, nesterov=True,
                 schedule="sutskever", clip_norm=2.0, dropout=0.1, batch_size=100,
                 images=200, epochs=3)
    feed = Feed(s.epochs, s.n_layers)
    assert run_training(s, feed) == "finished"
    X, y = training.embedded_images()
    net = Network(s.sizes, activation="tanh", init="glorot", seed=s.seed)
    want = gradcore_train(net, X[:200], y[:200], epochs=3, batch_size=100, eta=s.eta,
                          lmbda=s.lmbda, seed=s.seed, momentum=0.9, nesterov=True,
                          momentum_schedule="sutskever", clip_norm=2.0, dropout=0.1)
    update = feed.drain()
    np.testing.assert_array_equal(update.cost, want.history.training_cost)
    np.testing.assert_array_equal(update.speeds, want.history.learning_speeds)


def test_the_theory_lines_are_the_predicted_ratios_anchored_at_the_last_hidden_layer():
    s = Settings(activation="relu", init="he", epochs=1, hidden=4)
    feed = Feed(s.epochs, s.n_layers)
    run_training(s, feed)
    update = feed.drain()
    X, y = training.embedded_images()
    net = Network(s.sizes, activation="relu", init="he", seed=s.seed)
    speeds = net.learning_speeds(X, y)
    assert update.theory is not None and update.theory.shape == (4,)
    assert update.theory[-1] == speeds[3]  # anchored at the measured last hidden layer
    ratios = update.theory[:-1] / update.theory[1:]
    np.testing.assert_allclose(ratios, theory.predicted_ratios(net, X), rtol=1e-12)
    # ReLU with He's weights sits at its critical point: σ_w²·E[φ'²] = 2·½, every ratio 1
    # up to the sampling of 30 × 30 weights
    np.testing.assert_allclose(ratios, 1.0, atol=0.12)
    assert feed.drain().theory is None  # once


def test_the_theory_at_the_books_initialisation_is_the_vanishing_gradient():
    X, y = training.embedded_images()
    net = Network([784, 30, 30, 30, 10], seed=0)
    predicted = training.predicted_speeds(net, X, net.learning_speeds(X, y))
    assert predicted is not None
    # √χ₁ = 0.205 at q*, per layer (Poole et al. 2016; the chapter's ~ 5x per layer)
    np.testing.assert_allclose(predicted[:-1] / predicted[1:], 0.205, atol=0.05)
    one = Network([784, 30, 10], seed=0)
    assert training.predicted_speeds(one, X, one.learning_speeds(X, y)) is None
