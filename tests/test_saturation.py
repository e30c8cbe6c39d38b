"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks": probe statistics during training, the layer Jacobians' mean singular
values, the histograms at initialisation, and the jobs that carry them."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments.jobs import Job, JobResult, run_job
from gradcore.experiments.saturation import NORMALIZED, STANDARD, quarter_circle_mean


@pytest.fixture(scope="module")
def sigmoid_run(mnist1000):
    X, y = mnist1000
    job = Job(sizes=(784, 100, 100, 100, 100, 10), seed=0, epochs=10, init=STANDARD,
              output="softmax", cost=None, batch_size=10, eta=0.1, lmbda=0.0, probe="probe",
              probe_every=35)
    return job, run_job(job, (X[:700], y[:700]), probe_data=(X[700:], y[700:]))


def test_probe_statistics_at_the_start_are_those_of_the_initial_activations(sigmoid_run,
                                                                            mnist1000):
    job, r = sigmoid_run
    X = mnist1000[0][700:]
    acts = job.network().forward_layers(X)[1][:-1]
    p = r.probe
    assert p.updates[0] == 0 and np.all(np.diff(p.updates) == 35) and p.updates[-1] == 700
    for l, a in enumerate(acts):
        assert p.mean[0, l] == pytest.approx(a.mean(), rel=1e-12)
        assert p.std[0, l] == pytest.approx(a.std(), rel=1e-12)
        assert p.p98[0, l] == pytest.approx(np.percentile(a, 98), rel=1e-12)
        assert p.saturated[0, l] == np.mean(a * (1 - a) < 0.0025)
    assert np.all((p.p2 <= p.mean) & (p.mean <= p.p98)) and np.all((0 < p.mean) & (p.mean < 1))


def test_the_sigmoid_top_hidden_layer_is_driven_to_zero(sigmoid_run):
    # Figure 2: the top layer's mean falls from 0.5 while the layers below stay above it
    _, r = sigmoid_run
    mean = r.probe.mean
    assert np.all(np.abs(mean[0] - 0.5) < 0.02)
    assert mean[-1, -1] < 0.3
    assert np.all(mean[-1, :-1] > 0.49)


def test_job_results_with_probe_and_jacobians_round_trip_and_old_files_still_read(
        sigmoid_run, mnist1000):
    _, r = sigmoid_run
    back = JobResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.job == r.job
    for name in ("updates", "mean", "std", "p2", "p98", "saturated"):
        assert np.array_equal(getattr(back.probe, name), getattr(r.probe, name))
    X, y = mnist1000
    j = Job(sizes=(784, 20, 20, 20, 10), seed=1, init=NORMALIZED, activation="tanh",
            jacobian=2, probe="p")
    rj = run_job(j, (X[:50], y[:50]), probe_data=(X[50:60], y[50:60]))
    assert rj.jacobian.shape == (2, 20) and rj.layer_jacobian.shape == (2,)
    backj = JobResult.from_dict(json.loads(json.dumps(rj.to_dict())))
    assert np.array_equal(backj.jacobian, rj.jacobian)
    assert np.array_equal(backj.layer_jacobian, rj.layer_jacobian)
    old = rj.to_dict()
    for key in ("probe", "jacobian", "layer_jacobian"):
        del old[key]
    for key in ("probe", "probe_every", "jacobian"):
        del old["job"][key]
    read = JobResult.from_dict(old)
    assert read.probe is None and read.jacobian is None and read.job.jacobian == 0
    with pytest.raises(ValueError, match="probe_data"):
        run_job(j, (X[:50], y[:50]))


def test_the_layer_jacobians_are_near_glorot_and_bengios_0_5_and_0_8(mnist1000):
    """tanh [784, 200x4, 10] at 5 images, 2 seeds. For square random matrices the mean
    singular value is the quarter-circle law's 8/(3 pi) sigma sqrt(n), within about 1 % at
    n = 200: 0.490 for the standard init (variance 1/(3n)), whose activations are small, so
    tanh' is within a few % of 1; 0.849 for the normalized init (variance 1/n), less what
    tanh' < 1 takes (its activations have variance ~0.1-0.4): the paper's "about 0.8"."""
    X, y = mnist1000
    means = {}
    for init in (STANDARD, NORMALIZED):
        vals = [run_job(Job(sizes=(784, 200, 200, 200, 200, 10), seed=s, init=init,
                            activation="tanh", output="softmax", cost=None, jacobian=5,
                            probe="p"), (X[:20], y[:20]), probe_data=(X[700:], y[700:])
                        ).layer_jacobian for s in (0, 1)]
        means[init] = float(np.mean(vals))
    assert quarter_circle_mean(1 / 3) == pytest.approx(0.490, abs=5e-4)
    assert means[STANDARD] == pytest.approx(0.49, abs=0.03)
    assert 0.75 < means[NORMALIZED] < quarter_circle_mean(1.0)
    assert means[NORMALIZED] == pytest.approx(0.8, abs=0.05)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("saturation")
    res = ex.saturation(out, activations=["sigmoid", "tanh"], width=40, seeds=2, updates=140,
                        probe_every=35, jacobian_examples=3, progress=False)
    return out, res


def test_saturation_writes_tidy_files_figures_and_resumes(small_run):
    out, res = small_run
    rows = list(csv.DictReader((out / "saturation.csv").read_text().splitlines()))
    # (sigmoid 4 + tanh 5 layers) x 2 seeds x 5 records, and the initial tanh nets'
    assert len(rows) == (4 + 5) * 2 * 5 + 2 * 2 * 5
    assert list(rows[0]) == ["activation", "init", "seed", "update", "layer", "mean", "std",
                             "p2", "p98", "saturated"]
    doc = json.loads((out / "saturation.json").read_text())
    assert "Shapeset" in doc["settings"]["paper"] and "MNIST" in doc["settings"]["data"]
    assert doc["jacobian"]["paper"] == {STANDARD: 0.5, NORMALIZED: 0.8}
    for name in ("saturation_sigmoid.png", "saturation_percentiles.png",
                 "saturation_histograms.png", "saturation_jacobian.csv",
                 "saturation_histograms.csv"):
        assert (out / name).stat().st_size > 100
    again = ex.saturation(out, activations=["sigmoid", "tanh"], width=40, seeds=2,
                          updates=140, probe_every=35, jacobian_examples=3, progress=False)
    assert np.array_equal(again.training["tanh"][1].probe.p98,
                          res.training["tanh"][1].probe.p98)


def test_the_histograms_show_the_gradients_shrinking_going_down_with_the_standard_init(
        small_run):
    """Each layer going down multiplies the gradients' variance by n·Var(W)·E[tanh'²]: about
    1/3 with the standard init (small activations: tanh' ≈ 1), about E[tanh'²] ≲ 1 with the
    normalized one."""
    _, res = small_run
    for init in (STANDARD, NORMALIZED):
        for quantity in ("activation", "gradient"):
            edges, frac = res.histograms[init][quantity]
            assert frac.shape == (5, len(edges) - 1)
            assert np.all(frac.sum(axis=1) <= 1 + 1e-12)
        assert res.histograms[init]["activation"][1].sum(axis=1) == pytest.approx(1.0)
    std = res.histograms["gradient_std"]
    ratios = std[STANDARD][:-1] / std[STANDARD][1:]
    assert ratios == pytest.approx(math.sqrt(1 / 3), abs=0.1)
    normalized = std[NORMALIZED][:-1] / std[NORMALIZED][1:]
    assert np.all((normalized > 0.75) & (normalized < 1.15))


@pytest.mark.parametrize("kwargs, match", [
    (dict(jacobian_examples=301), "jacobian_examples"),
    (dict(activations=["swish"]), "activations"),
    (dict(width=0), "width"),
    (dict(updates=0), "updates"),
])
def test_saturation_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.saturation(**kwargs, progress=False)


def test_saturation_command(tmp_path, capsys):
    assert main(["saturation", "--width", "20", "--updates", "70", "--seeds", "1",
                 "--activations", "sigmoid", "--jacobian-examples", "2", "--out",
                 str(tmp_path), "--no-figures", "--probe-every", "35"]) == 0
    out = capsys.readouterr().out
    assert "Shapeset" in out and "instead of 1,000" in out and "paper: about 0.5" in out
    assert main(["saturation", "--width", "0"]) == 2


def test_on_full_mnist_it_trains_on_50000_images_and_probes_300_test_images(mnist_dir):
    from gradcore.datasets import load_mnist

    mnist = load_mnist(mnist_dir)
    res = ex.saturation(activations=["sigmoid"], width=20, seeds=1, updates=10,
                        probe_every=1000, jacobian_examples=2, data=mnist, progress=False)
    assert res.settings["updates"] == 5000  # rounded up to one epoch of 50,000 / 10
    assert "50,000 training images" in res.settings["data"]
    assert list(res.training["sigmoid"][0].probe.updates) == [0, 1000, 2000, 3000, 4000, 5000]
