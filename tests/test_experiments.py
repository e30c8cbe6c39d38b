"""gradcore.experiments: the chapter's experiments as library calls."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.datasets import MNIST
from gradcore.reference import sigmoid


def tiny_mnist(n_train: int = 120, n_val: int = 40, n_test: int = 40, seed: int = 0) -> MNIST:
    """A small stand-in for MNIST with the real shapes (784 pixels, 10 classes)."""
    rng = np.random.default_rng(seed)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.random((n, 784)), rng.integers(0, 10, n).astype(np.int64)

    return MNIST(training=part(n_train), validation=part(n_val), test=part(n_test))


# ---------------------------------------------------------------- speeds


@pytest.mark.parametrize("hidden", ex.CHAPTER5_HIDDEN)
def test_initial_speeds_rise_with_layer_index(hidden):
    speeds = ex.initial_speeds(ex.chapter5_sizes(hidden), seed=0)
    assert speeds.shape == (hidden + 1,)
    assert np.all(np.isfinite(speeds)) and np.all(speeds > 0)
    # every layer learns faster than the one before it: the vanishing gradient
    assert np.all(np.diff(speeds) > 0), speeds


def test_initial_deltas_are_the_speeds_components(mnist1000):
    sizes = ex.chapter5_sizes(2)
    deltas = ex.initial_deltas(sizes, mnist1000, seed=3)
    assert [d.shape for d in deltas] == [(30,), (30,), (10,)]
    np.testing.assert_allclose([np.linalg.norm(d) for d in deltas],
                               ex.initial_speeds(sizes, mnist1000, seed=3), rtol=1e-12)


def test_speeds_during_training_start_at_the_initial_speeds_and_fall(mnist1000):
    run = ex.speeds_during_training(ex.chapter5_sizes(3), mnist1000, epochs=25, seed=1)
    assert run.speeds.shape == (25, 4)
    assert run.columns == ["hidden_1", "hidden_2", "hidden_3", "output"]
    assert run.hidden == 3 and run.epochs == 25
    # full-batch gradient descent: epoch 0's speeds are those at the initial weights
    np.testing.assert_allclose(run.speeds[0], run.initial_speeds, rtol=1e-9)
    np.testing.assert_allclose(run.initial_speeds,
                               ex.initial_speeds(run.sizes, mnist1000, seed=1), rtol=1e-12)
    # the book: every speed falls fast at first
    assert np.all(run.speeds[-1] < 0.5 * run.speeds[0]), run.speeds[[0, -1]]
    assert np.all(np.diff(run.training_cost) < 0)


def test_speeds_during_training_with_mini_batches_records_every_epoch(mnist1000):
    run = ex.speeds_during_training([784, 10, 10], mnist1000, epochs=2, batch_size=100,
                                    seed=0)
    assert run.speeds.shape == (2, 2) and np.all(run.speeds > 0)


def test_chapter5_writes_csv_and_json_that_agree(tmp_path, mnist1000):
    res = ex.chapter5(tmp_path / "out", seed=2, seeds=2, epochs=4, figures=False)
    assert sorted(res.nets) == [2, 3, 4]
    assert all(p.is_file() for p in res.paths.values())
    assert not any(p.suffix == ".png" for p in res.paths.values())
    doc = json.loads((tmp_path / "out" / "chapter5.json").read_text())
    assert doc["settings"]["seeds"] == [2, 3] and doc["settings"]["epochs"] == 4
    assert doc["settings"]["batch_size"] == 1000 and doc["settings"]["lmbda"] == 5.0
    assert doc["settings"]["gradcore_version"] == gradcore.__version__
    for net in doc["nets"]:
        k = net["hidden_layers"]
        table = ex.read_speeds_csv(tmp_path / "out" / f"speeds_{k}_hidden.csv")
        assert table.columns == net["columns"] == ex.layer_names(k + 1)
        assert table.seeds.tolist() == [2] * 4 + [3] * 4
        assert table.epochs.tolist() == [0, 1, 2, 3] * 2
        assert net["seeds"] == [2, 3]
        # one epochs x layers table per seed, written with round-trip precision
        assert np.array(net["speeds"]).shape == (2, 4, k + 1)
        assert table.speeds.tolist() == [row for seed in net["speeds"] for row in seed]
        assert net["speeds"] == res.nets[k].speeds.tolist()
        assert net["book_initial_speeds"] == list(ex.BOOK_INITIAL_SPEEDS[k])
        assert net["initial_speeds"] == res.nets[k].initial_speeds.tolist()
    # same seed, same numbers
    again = ex.initial_speeds(ex.chapter5_sizes(4), mnist1000, seed=2)
    np.testing.assert_allclose(again, res.nets[4].initial_speeds[0], rtol=1e-12)


def test_chapter5_one_seed_still_has_one_table_per_seed(tmp_path):
    ex.chapter5(tmp_path, epochs=2, hidden=(2,), figures=False)
    net = json.loads((tmp_path / "chapter5.json").read_text())["nets"][0]
    assert net["seeds"] == [0]
    assert np.array(net["speeds"]).shape == (1, 2, 3)


def test_chapter5_seed_0_is_speeds_during_training_with_seed_0(mnist1000):
    res = ex.chapter5(None, epochs=5, hidden=(3,), progress=False)
    run = ex.speeds_during_training(ex.chapter5_sizes(3), mnist1000, epochs=5, seed=0)
    # equal up to rounding: a job's kernels run on one thread, here on all of them
    np.testing.assert_allclose(res.nets[3].speeds[0], run.speeds, rtol=1e-10)
    np.testing.assert_allclose(res.nets[3].initial_speeds[0], run.initial_speeds, rtol=1e-12)


def test_chapter5_reports_a_diverging_seed_and_keeps_the_others(tmp_path):
    res = ex.chapter5(tmp_path, seeds=2, epochs=3, eta=1e300, hidden=(2, 3), progress=False)
    assert len(res.failures) == 4 and all("diverged" in r.error for r in res.failures)
    assert res.nets[2].speeds.shape[0] == 0  # left out of the medians
    assert res.nets[2].initial_speeds.shape == (2, 3)  # measured before training
    doc = json.loads((tmp_path / "chapter5.json").read_text())
    assert all(e and "diverged" in e for net in doc["nets"] for e in net["errors"])
    table = ex.read_speeds_csv(tmp_path / "speeds_2_hidden.csv")
    assert table.epochs.tolist() == [0, 1, 2, 0, 1, 2] and np.isnan(table.speeds).all()
    ok = ex.chapter5(None, seeds=2, epochs=3, hidden=(2,), progress=False)
    assert [r.error for r in ok.nets[2].results] == [None, None]


def test_chapter5_initial_table_pairs_each_layer_with_the_books_number():
    res = ex.chapter5(None, epochs=1, hidden=(2,), seeds=3)
    assert res.paths == {}
    rows = res.initial_table()
    assert [(r[0], r[1], r[5]) for r in rows] == [
        (2, "hidden_1", 0.07), (2, "hidden_2", 0.31), (2, "output", None)]
    speeds = res.nets[2].initial_speeds
    for i, (_, _, med, lo, hi, _) in enumerate(rows):
        assert med == np.median(speeds[:, i])
        assert lo <= med <= hi
        assert lo == np.percentile(speeds[:, i], 10) and hi == np.percentile(speeds[:, i], 90)


@pytest.mark.parametrize("kwargs, exc", [({"epochs": 0}, ValueError),
                                         ({"epochs": 2.5}, TypeError),
                                         ({"hidden": ()}, ValueError)])
def test_chapter5_refuses_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        ex.chapter5(None, **kwargs)


def test_read_speeds_csv_refuses_other_files(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a gradcore CSV"):
        ex.read_speeds_csv(p)


# ---------------------------------------------------------------- chain


@pytest.mark.parametrize("depth,weight,factor", [(4, 100.0, 25.0), (7, 8.0, 2.0),
                                                  (3, -100.0, -25.0)])
def test_exploding_chain_has_exact_factors(depth, weight, factor):
    c = ex.exploding_chain(depth, weight)
    assert c.depth == depth
    assert c.z.tolist() == [0.0] * depth
    assert c.sigma_prime.tolist() == [0.25] * depth
    assert c.factors.tolist() == [factor] * depth
    # quadratic cost, target 0, a = 1/2: dC/db of the last neuron = (1/2)(1/4)
    assert c.grad_b[-1] == 0.125
    # going backwards the gradient grows by exactly the factor per layer
    for j in range(1, depth):
        assert c.grad_b[j - 1] == factor * c.grad_b[j]
    assert c.ratios.tolist() == [factor] * (depth - 1)


def test_chain_gradient_matches_the_books_product_formula():
    c = ex.vanishing_chain(5, seed=11)
    for j in range(5):  # dC/db_j = sigma'(z_j) * prod_{k>j} w_k sigma'(z_k) * (a_d - y)
        expected = (c.sigma_prime[j] * np.prod(c.factors[j + 1:])
                    * (c.activations[-1] - c.target))
        assert c.grad_b[j] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(c.activations, sigmoid(c.z), rtol=1e-15)


def test_vanishing_chain_factors_are_small():
    c = ex.chain(4, 100.0, seed=0).vanishing
    # sigma' <= 1/4, so |w sigma'(z)| <= |w| / 4 for every draw ...
    assert np.all(np.abs(c.factors) <= np.abs(c.weights) / 4)
    # ... and with the default seed every factor is at most 1/4, as in the book
    assert np.all(np.abs(c.factors) <= 0.25), c.factors
    assert abs(c.grad_b[0]) < abs(c.grad_b[-1])
    # over many draws most factors are below 1/4 (|w| < 1 two times in three)
    f = np.concatenate([ex.vanishing_chain(4, seed=s).factors for s in range(50)])
    assert np.mean(np.abs(f) < 0.25) > 0.6


def test_vanishing_chain_uses_the_default_initialisation():
    c = ex.vanishing_chain(3, seed=5)
    net = gradcore.Network([1, 1, 1, 1], seed=5)
    assert c.weights.tolist() == [float(w[0, 0]) for w in net.weights]
    assert c.biases.tolist() == [float(b[0]) for b in net.biases]


@pytest.mark.parametrize("call", [
    lambda: ex.exploding_chain(0),
    lambda: ex.exploding_chain(3, float("inf")),
    lambda: ex.vanishing_chain(-1),
    lambda: ex.chain_gradients([1.0, 2.0], [0.0]),
    lambda: ex.chain_gradients([1.0], [0.0], target=2.0),
])
def test_chain_refuses_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- full MNIST


def test_depth_on_small_data():
    data = tiny_mnist()
    res = ex.depth(data, epochs=2, seeds=2, sizes=[(784, 5, 10), (784, 30, 10)])
    assert res.last_accuracy.shape == res.best_accuracy.shape == (2, 2)
    assert np.all((res.last_accuracy >= 0) & (res.last_accuracy <= 1))
    assert np.all(res.best_accuracy >= res.last_accuracy)
    assert res.seeds == [0, 1] and res.epochs == 2
    assert res.book == [None, 96.48]
    for i, row in enumerate(res.results):
        for j, r in enumerate(row):
            assert r.job.sizes == res.sizes[i] and r.job.seed == res.seeds[j]
            assert res.last_accuracy[i, j] == r.evaluation_accuracy[-1]
            assert res.best_accuracy[i, j] == r.evaluation_accuracy.max()
    (mean, sd), (best_mean, _) = res.last(), res.best()
    assert mean.shape == sd.shape == (2,) and np.all(np.isfinite(sd))
    assert mean.tolist() == (100 * res.last_accuracy.mean(axis=1)).tolist()
    assert best_mean.tolist() == (100 * res.best_accuracy.mean(axis=1)).tolist()
    one = ex.depth(data, epochs=1, seeds=[7], sizes=[(784, 5, 10)])
    assert one.seeds == [7] and np.isnan(one.last()[1]).all()


@pytest.mark.parametrize("kwargs", [{"seeds": 0}, {"seeds": []}, {"sizes": []},
                                    {"sizes": [(784, 0, 10)]}])
def test_depth_refuses_bad_arguments_before_training(kwargs):
    with pytest.raises(ValueError):
        ex.depth(tiny_mnist(), epochs=1, **kwargs)


def test_train_mnist_on_small_data():
    res = ex.train_mnist([784, 10, 10], tiny_mnist(), epochs=2, batch_size=10, seed=4)
    assert res.history.epochs == 2
    assert res.history.evaluation_accuracy.shape == (2,)
    assert res.history.learning_speeds.shape == (2, 2)
    assert 0.0 <= res.test_accuracy <= 1.0
    X, y = tiny_mnist().test
    assert res.test_accuracy == res.network.accuracy(X, y)


def test_train_mnist_interrupted_keeps_the_network_and_the_epochs_done():
    def stop_after_two(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(ex.TrainingInterrupted) as info:
        ex.train_mnist([784, 10, 10], tiny_mnist(), epochs=5, seed=0,
                       callback=stop_after_two)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.epochs_completed == 2
    assert info.value.history.epochs == 2
    assert isinstance(info.value.network, gradcore.Network)


def test_train_mnist_refuses_non_mnist_sizes():
    with pytest.raises(ValueError, match="784"):
        ex.train_mnist([100, 10], tiny_mnist())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_results_written_again_keep_their_permission_bits(tmp_path):
    from gradcore.experiments.output import write_files

    write_files(tmp_path, {"a.json": b"{}", "b.csv": b"x\n"})
    (tmp_path / "a.json").chmod(0o640)
    write_files(tmp_path, {"a.json": b"[]", "b.csv": b"y\n"})
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "a.json").read_bytes() == b"[]"
    assert (tmp_path / "b.csv").read_bytes() == b"y\n"
    assert not list(tmp_path.glob(".gradcore-*.tmp"))
