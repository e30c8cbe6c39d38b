"""The remedies of the unstable gradient, side by side: gradcore.experiments.remedies and
``gradcore remedies``."""

from __future__ import annotations

import csv
import importlib
import json

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.theory import predicted_ratios

# the module (gradcore.experiments.remedies is the function, as for phase and depth)
rm = importlib.import_module("gradcore.experiments.remedies")

SIZES = (784, 30, 30, 30, 30, 10)


# ---------------------------------------------------------------- the grid


def test_every_named_remedy_becomes_jobs_with_its_settings():
    jobs = rm.remedy_jobs(list(rm.REMEDIES.values()), [3, 5], sizes=SIZES, epochs=4,
                          batch_size=10, eta=0.1, momentum_eta=0.01, lmbda=0.0)
    assert len(jobs) == 2 * len(rm.REMEDIES)
    by = {(name, j.seed): j for name, pair in zip(rm.REMEDIES, zip(jobs[::2], jobs[1::2]))
          for j in pair}
    book = by["book", 3]
    assert book.remedy() == {}  # the book's sigmoid, default init, plain SGD
    assert (book.activation, book.init, book.momentum, book.dropout) == \
        ("sigmoid", "default", 0.0, 0.0)
    expected = {
        "sigmoid+glorot": {"init": "glorot"},
        "sigmoid+orthogonal": {"init": "orthogonal"},
        "tanh+glorot_standard": {"activation": "tanh", "init": "glorot_standard"},
        "tanh+glorot": {"activation": "tanh", "init": "glorot"},
        "softsign+glorot": {"activation": "softsign", "init": "glorot"},
        "relu+he": {"activation": "relu", "init": "he"},
        "leaky_relu+he": {"activation": "leaky_relu", "init": "he"},
        "elu+he": {"activation": "elu", "init": "he"},
        "prelu+he": {"activation": "prelu", "init": "he"},
        "sigmoid+momentum": {"momentum": 0.9},
        "sigmoid+nesterov": {"momentum": 0.99, "nesterov": True, "schedule": "sutskever"},
        "sigmoid+sparse+nesterov": {"init": "sparse", "momentum": 0.99, "nesterov": True,
                                    "schedule": "sutskever"},
        "sigmoid+clipping": {"clip_norm": 1.0},
        "sigmoid+dropout": {"dropout": 0.2},
    }
    assert set(expected) | {"book"} == set(rm.REMEDIES)
    for name, fields in expected.items():
        for seed in (3, 5):
            job = by[name, seed]
            assert job.remedy() == fields, name
            assert job.seed == seed and job.sizes == SIZES and job.epochs == 4
            assert (job.batch_size, job.lmbda, job.output, job.cost) == \
                (10, 0.0, "sigmoid", "cross_entropy")
            assert job.data == "train" and job.evaluation == "heldout"
            assert job.eta == (0.01 if "momentum" in fields else 0.1), name


def test_the_momentum_eta_is_a_tenth_of_eta_unless_given():
    res = ex.remedies(["book", "sigmoid+momentum"], seeds=1, epochs=1, eta=0.3,
                      progress=False)
    assert [r.job.eta for rs in res.results.values() for r in rs] == \
        pytest.approx([0.3, 0.03])
    assert res.settings["momentum_eta"] == pytest.approx(0.03)
    res = ex.remedies(["sigmoid+momentum"], seeds=1, epochs=1, momentum_eta=0.05,
                      progress=False)
    assert res.results["sigmoid+momentum"][0].job.eta == 0.05


# ---------------------------------------------------------------- the measurements


def _independent(mnist1000, seed, epochs, eta, **remedy):
    """The ratios and accuracy of one remedy and seed, computed without the runner."""
    X, y = mnist1000
    Xt, yt, Xh, yh = X[:800], y[:800], X[800:], y[800:]
    build = {k: remedy[k] for k in ("activation", "init") if k in remedy}
    update = {k: v for k, v in remedy.items() if k not in build}
    net = gradcore.Network(SIZES, seed=seed, **build)
    predicted = float(np.prod(predicted_ratios(net, Xt)))
    with gradcore.thread_limit(1):
        s0, r0 = net.learning_speeds(Xt, yt), net.gradient_rms(Xt, yt)
        gradcore.train(net, Xt, yt, epochs=epochs, batch_size=10, eta=eta, lmbda=0.0,
                       seed=seed, **update)
        s1, r1 = net.learning_speeds(Xt, yt), net.gradient_rms(Xt, yt)
    return {"speed_initial": s0[0] / s0[3], "speed_final": s1[0] / s1[3],
            "rms_initial": r0[0] / r0[3], "rms_final": r1[0] / r1[3],
            "predicted": predicted, "accuracy": net.accuracy(Xh, yh)}


@pytest.mark.parametrize("name, eta, remedy", [
    ("tanh+glorot", 0.1, {"activation": "tanh", "init": "glorot"}),
    ("sigmoid+nesterov", 0.01, {"momentum": 0.99, "nesterov": True,
                                "momentum_schedule": "sutskever"}),
    ("sigmoid+dropout", 0.1, {"dropout": 0.2}),
])
def test_the_ratios_and_accuracy_are_those_of_the_same_net_trained_alone(
        mnist1000, name, eta, remedy):
    res = ex.remedies([name], seeds=[7], epochs=3, progress=False)
    want = _independent(mnist1000, 7, 3, eta, **remedy)
    got = res.ratios(name)
    for key in ("speed_initial", "speed_final", "rms_initial", "rms_final", "predicted"):
        assert got[key].shape == (1,)
        assert got[key][0] == pytest.approx(want[key], rel=1e-12), key
    assert res.accuracy(name)[0] == want["accuracy"]
    # the training moved the net: the final ratios are not the initial ones
    assert got["speed_final"][0] != pytest.approx(got["speed_initial"][0], rel=1e-3)


def test_the_book_vanishes_as_the_theory_predicts(mnist1000):
    res = ex.remedies(["book", "relu+he"], seeds=4, epochs=1, progress=False)
    book = res.ratios("book")
    # the chapter: hidden 1 learns about 100 times slower than hidden 4 at initialisation;
    # the theory's rms ratio is √χ₁ ≈ 0.2 per layer, so about 0.2³ for three layers
    assert np.all(book["speed_initial"] < 0.05)
    assert np.all((book["predicted"] > 0.002) & (book["predicted"] < 0.03))
    # the prediction is that of each seed's own initial net
    X, _ = mnist1000
    for seed, p in zip(res.seeds, book["predicted"]):
        net = gradcore.Network(SIZES, seed=seed)
        assert p == pytest.approx(np.prod(predicted_ratios(net, X[:800])), rel=1e-12)
    # ReLU with He's initialisation is balanced by design: within a factor 3 of 1
    relu = res.ratios("relu+he")
    assert np.all(np.abs(np.log10(relu["rms_initial"])) < 0.5)
    assert np.median(relu["rms_initial"]) > 10 * np.median(book["rms_initial"])


def test_a_summary_row_is_the_median_and_band_over_seeds():
    res = ex.remedies(["softsign+glorot"], seeds=5, epochs=1, progress=False)
    row = res.summary()[0]
    v = res.ratios("softsign+glorot")["speed_final"]
    assert row["speed_final"]["median"] == pytest.approx(np.median(v), rel=1e-12)
    assert row["speed_final"]["p10"] == pytest.approx(np.percentile(v, 10), rel=1e-12)
    assert row["speed_final"]["p90"] == pytest.approx(np.percentile(v, 90), rel=1e-12)
    assert row["diverged"] == 0 and res.ranking() == ["softsign+glorot"]


# ---------------------------------------------------------------- files and resume


def test_remedies_writes_csv_json_and_figures_and_resumes(tmp_path, monkeypatch):
    names = ["book", "elu+he"]
    res = ex.remedies(names, seeds=2, epochs=2, out_dir=tmp_path, progress=False)
    with open(tmp_path / "remedies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(ex.output.REMEDIES_COLUMNS)
    assert [(r["remedy"], int(r["seed"])) for r in rows] == \
        [(n, s) for n in names for s in (0, 1)]
    for r in rows:
        want = res.ratios(r["remedy"])["speed_initial"][int(r["seed"])]
        assert float(r["speed_ratio_initial"]) == want  # round-trips exactly
    with open(tmp_path / "remedies_speeds.csv", newline="") as fh:
        speeds = list(csv.reader(fh))
    assert speeds[0] == ["remedy", "seed", "epoch", "layer", "speed", "gradient_rms"]
    assert len(speeds) - 1 == 2 * 2 * 3 * 5  # remedies x seeds x (epoch 0..2) x layers
    first = res.results["elu+he"][1]
    row = [r for r in speeds if r[:4] == ["elu+he", "1", "0", "hidden_1"]]
    assert float(row[0][4]) == first.initial_speeds[0]
    assert float(row[0][5]) == first.initial_rms[0]
    doc = json.loads((tmp_path / "remedies.json").read_text())
    assert doc["settings"]["remedies"]["elu+he"]["activation"] == "elu"
    assert "Clevert" in doc["settings"]["remedies"]["elu+he"]["paper"]
    assert [s["remedy"] for s in doc["summary"]] == names
    assert sorted(doc["ranking"]) == sorted(names)
    assert len(doc["accuracy_per_epoch"]["book"][0]) == 2
    for fig in ("remedies.png", "remedies_speeds.png"):
        assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"
    # a rerun finds every job stored and trains none
    from gradcore.experiments import runner

    def refuse(*args, **kwargs):
        raise AssertionError("a stored job was trained again")

    monkeypatch.setattr(runner, "run_job", refuse)
    again = ex.remedies(names, seeds=2, epochs=2, out_dir=tmp_path, progress=False)
    for n in names:
        for a, b in zip(again.results[n], res.results[n]):
            assert a.to_dict() == b.to_dict()
    # other settings in the folder are refused, naming force=True (the CLI says --force)
    with pytest.raises(ex.SettingsMismatch, match="force=True"):
        ex.remedies(names, seeds=2, epochs=3, out_dir=tmp_path, progress=False)


def test_a_remedy_of_ones_own(mnist1000):
    res = ex.remedies({"tanh+orthogonal": {"activation": "tanh", "init": "orthogonal"}},
                      seeds=1, epochs=1, progress=False)
    job = res.results["tanh+orthogonal"][0].job
    assert (job.activation, job.init, job.eta) == ("tanh", "orthogonal", 0.1)


# ---------------------------------------------------------------- the command line


def test_remedies_on_the_command_line(tmp_path, capsys):
    assert main(["remedies", "--remedies", "book,relu+he", "--seeds", "2", "--epochs", "2",
                 "--out", str(tmp_path), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()
             if line.split() and line.split()[0] in ("book", "relu+he")}
    assert set(table) == {"book", "relu+he"}
    res = ex.remedies(["book", "relu+he"], seeds=2, epochs=2, progress=False)
    for name, cells in table.items():
        row = {r["remedy"]: r for r in res.summary()}[name]
        assert cells[0] == f"{100 * row['accuracy']['median']:.1f}"
        assert cells[3] == f"{np.log10(row['speed_initial']['median']):.2f}"
        assert cells[-1] == f"{np.log10(row['predicted']['median']):.2f}"
    assert (tmp_path / "remedies.png").is_file() and (tmp_path / "remedies.csv").is_file()


# ---------------------------------------------------------------- bad input


def test_an_unknown_remedy_is_refused_listing_the_choices(capsys):
    with pytest.raises(ValueError, match="relu\\+he") as info:
        ex.remedies(["book", "relu+xavier"], seeds=1, epochs=1, progress=False)
    message = str(info.value)
    assert "'relu+xavier'" in message and all(n in message for n in rm.REMEDIES)
    assert main(["remedies", "--remedies", "book,swish"]) == 2
    err = capsys.readouterr().err
    assert "'swish'" in err and "sigmoid+sparse+nesterov" in err and "\n" == err[-1]
    assert err.count("\n") == 1


@pytest.mark.parametrize("kwargs, error", [
    ({"remedies": []}, ValueError),
    ({"remedies": ["book", "book"]}, ValueError),
    ({"remedies": "book"}, None),  # one name as a string is fine
    ({"remedies": {"x": {"activation": "swish"}}}, ValueError),
    ({"remedies": {"x": {"output": "softmax"}}}, ValueError),
    ({"remedies": 3}, TypeError),
    ({"seeds": 0}, ValueError),
    ({"epochs": 0}, ValueError),
    ({"eta": -0.1}, ValueError),
    ({"momentum_eta": 0.0}, ValueError),
    ({"sizes": [784, 30, 10]}, ValueError),
    ({"sizes": [784, 30, 30, 9]}, ValueError),
    ({"heldout": 1000}, ValueError),
])
def test_remedies_refuses_bad_arguments(kwargs, error):
    call = {"remedies": ["book"], "seeds": 1, "epochs": 1, "progress": False, **kwargs}
    if error is None:
        assert ex.remedies(**call).names == ["book"]
        return
    with pytest.raises(error):
        ex.remedies(**call)



def test_with_data_it_trains_on_mnist_and_measures_the_validation_set(fake_mnist, tmp_path,
                                                                       capsys):
    out = tmp_path / "out"
    assert main(["remedies", "--remedies", "relu+he", "--seeds", "1", "--epochs", "2",
                 "--data", str(tmp_path), "--out", str(out), "--no-figures"]) == 0
    assert fake_mnist == [tmp_path]
    assert "validation" in capsys.readouterr().out
    mnist = gradcore.datasets.load_mnist()  # the fixture's small split
    (Xt, yt), (Xv, yv) = mnist.training, mnist.validation
    net = gradcore.Network(SIZES, activation="relu", init="he", seed=0)
    with gradcore.thread_limit(1):
        gradcore.train(net, Xt, yt, epochs=2, batch_size=10, eta=0.1, seed=0)
    with open(out / "remedies.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["accuracy"]) == net.accuracy(Xv, yv)
    assert "validation" in json.loads((out / "remedies.json").read_text())["settings"]["data"]


def test_a_training_that_diverged_is_left_out_of_the_medians_and_curves(tmp_path):
    res = ex.remedies(["tanh+glorot"], seeds=4, epochs=1, progress=False)
    res.results["tanh+glorot"][1].error = "diverged (as if)"  # seed 1
    keep = [0, 2, 3]
    row = res.summary()[0]
    for key in ("speed_initial", "speed_final", "rms_final", "predicted"):
        v = res.ratios("tanh+glorot")[key]
        assert row[key]["median"] == pytest.approx(np.median(v[keep]), rel=1e-12), key
    assert row["diverged"] == 1 and np.isnan(res.accuracy("tanh+glorot")[1])
    from gradcore.experiments import output

    assert output._remedy_curves(res, "tanh+glorot").shape == (3, 2, 4)
    output.write_remedies(res, tmp_path)
    with open(tmp_path / "remedies.csv", newline="") as fh:
        assert [r["diverged"] for r in csv.DictReader(fh)] == ["0", "1", "0", "0"]



def test_a_remedy_whose_every_training_diverged_has_no_medians_and_ranks_last(tmp_path):
    res = ex.remedies(["book", "relu+he"], seeds=2, epochs=1, progress=False)
    for r in res.results["relu+he"]:
        r.error = "diverged (as if)"
    row = {r["remedy"]: r for r in res.summary()}["relu+he"]
    assert row["diverged"] == 2 and len(res.failures) == 2
    assert np.isnan(row["accuracy"]["median"]) and np.isnan(row["speed_final"]["median"])
    assert res.ranking() == ["book", "relu+he"]
    from gradcore.experiments import output

    output.write_remedies(res, tmp_path)  # draws the other remedy, writes every file
    doc = json.loads((tmp_path / "remedies.json").read_text())
    assert doc["summary"][1]["accuracy"]["median"] is None
