"""``gradcore momentum``: Sutskever, Martens, Dahl & Hinton (2013) at a size that runs here.

Every number the experiment reports is checked against the same training done directly
with :func:`gradcore.train` and the squared error computed here in NumPy.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments.jobs import Job, JobResult
from gradcore.experiments.momentum import momentum_jobs


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """The default set-up, 3 epochs (30 updates), 2 seeds, written to a folder."""
    out = tmp_path_factory.mktemp("momentum")
    return out, ex.momentum(out, epochs=3, seeds=2, progress=False, n_jobs=2)


def _direct(job: Job, X: np.ndarray, Y: np.ndarray) -> tuple[gradcore.Network, np.ndarray]:
    """The job's training done here with gradcore.train."""
    net = job.network()
    result = gradcore.train(net, X, Y, epochs=job.epochs, batch_size=job.batch_size,
                            eta=job.eta, lmbda=job.lmbda, seed=job.seed,
                            momentum=job.momentum, nesterov=job.nesterov,
                            momentum_schedule=job.schedule,
                            final_momentum=job.final_momentum,
                            final_updates=job.final_updates)
    return net, result.history.training_cost


def _squared(net: gradcore.Network, X: np.ndarray, T: np.ndarray) -> float:
    return float(np.mean(np.sum((net.feedforward(X) - T) ** 2, axis=1)))


def test_the_jobs_are_the_papers_updates_over_inits_and_seeds():
    jobs = momentum_jobs("deep", [0, 1], epochs=10, eta=0.05, batch_size=100)
    assert len(jobs) == 2 * 3 * 2
    by = {(j.init, j.momentum, j.nesterov, j.seed): j for j in jobs}
    sgd = by["sparse", 0.0, False, 1]
    assert sgd.schedule is None and sgd.final_momentum is None
    nag = by["default", 0.99, True, 0]
    assert nag.schedule == "sutskever" and nag.final_momentum == 0.9
    assert nag.final_updates == 1000 and nag.lmbda == 0.0 and nag.squared_error
    assert ("default", 0.99, False, 0) in by  # classical momentum
    assert all(j.sizes == (784,) + (30,) * 8 + (10,) for j in jobs)


def test_table1_is_the_papers_autoencoder_and_its_750000_updates():
    (job,) = momentum_jobs("table1", [0], epochs=2500, eta=0.005, batch_size=200,
                           methods=["nesterov"], inits=["sparse"])
    assert job.sizes == (784, 1000, 500, 250, 30, 250, 500, 1000, 784)
    assert job.activation == ("sigmoid",) * 3 + ("linear",) + ("sigmoid",) * 3
    assert job.data == "autoencoder" and job.batch_size == 200
    assert 2500 * (60_000 // 200) == 750_000
    spec = ex.MOMENTUM_SETUPS["table1"]
    assert (spec["epochs"], spec["batch_size"]) == (2500, 200)
    assert ex.SUTSKEVER_TABLE1 == {"sgd": 2.1, "momentum": 0.77, "nesterov": 0.73}


def test_every_training_is_that_of_gradcore_train(short, mnist1000):
    _, result = short
    X, y = mnist1000
    assert result.inits == ["sparse", "default"]
    assert result.methods == ["sgd", "momentum", "nesterov"]
    assert result.updates_per_epoch == 10 and result.settings["updates"] == 30
    for (init, method), runs in result.results.items():
        assert [r.job.seed for r in runs] == [0, 1]
        for r in runs:
            assert r.ok and r.job.init == init
            net, cost = _direct(r.job, X, y)
            np.testing.assert_array_equal(r.training_cost, cost)  # the same bits
            want = _squared(net, X, np.eye(10)[y])
            assert r.squared_error == pytest.approx(want, rel=1e-12)
            np.testing.assert_array_equal(result.costs(init, method)[runs.index(r)], cost)


def test_the_three_updates_differ_and_nesterov_is_not_momentum(short):
    _, result = short
    for init in result.inits:
        sgd, cm, nag = (result.costs(init, m)[:, -1] for m in result.methods)
        assert not np.array_equal(cm, nag) and not np.array_equal(sgd, cm)


def test_the_table_is_the_median_and_band_over_seeds(short):
    _, result = short
    rows = result.table()
    assert [(r["init"], r["method"]) for r in rows] == [
        (i, m) for i in ("sparse", "default") for m in ("sgd", "momentum", "nesterov")]
    for row in rows:
        sq = result.squared_errors(row["init"], row["method"])
        lo, mid, hi = np.percentile(sq, [10, 50, 90])
        assert (row["squared_error_p10"], row["squared_error"], row["squared_error_p90"]) \
            == pytest.approx((lo, mid, hi))
        assert row["diverged"] == 0
        assert row["paper_table1"] == (ex.SUTSKEVER_TABLE1[row["method"]]
                                       if row["init"] == "sparse" else None)


def test_the_csv_json_and_figure_are_written(short):
    out, result = short
    with open(out / "momentum.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 * 2 * 3
    first = rows[0]
    assert set(first) == {"init", "method", "seed", "epoch", "updates", "training_cost"}
    r = result.results["sparse", "sgd"][0]
    mine = [row for row in rows if (row["init"], row["method"], row["seed"]) ==
            ("sparse", "sgd", "0")]
    assert [int(row["updates"]) for row in mine] == [10, 20, 30]
    assert [float(row["training_cost"]) for row in mine] == list(r.training_cost)
    doc = json.loads((out / "momentum.json").read_text())
    assert doc["settings"]["setup"] == "deep" and doc["settings"]["mu_max"] == 0.99
    assert doc["paper_table1"]["nesterov"] == 0.73
    assert doc["table"] == json.loads(json.dumps(result.table()))
    assert (out / "momentum.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_reads_the_stored_trainings_and_other_settings_are_refused(short, mnist1000):
    out, result = short
    again = ex.momentum(out, epochs=3, seeds=2, progress=False, figures=False,
                        data=mnist1000)
    assert again.table() == result.table()
    with pytest.raises(ex.SettingsMismatch):
        ex.momentum(out, epochs=4, seeds=2, progress=False, figures=False)


def test_the_small_autoencoder_reconstructs_its_inputs(mnist1000):
    X, _ = mnist1000
    result = ex.momentum(setup="autoencoder", epochs=2, seeds=1, methods=["nesterov"],
                         inits=["sparse"], progress=False)
    (r,) = result.results["sparse", "nesterov"]
    assert r.job.sizes == (784, 100, 50, 25, 10, 25, 50, 100, 784)
    assert r.job.activation[3] == "linear" and r.job.data == "autoencoder"
    net, cost = _direct(r.job, X, X)
    np.testing.assert_array_equal(r.training_cost, cost)
    assert r.squared_error == pytest.approx(_squared(net, X, X), rel=1e-12)
    # 20 updates already reconstruct better than the initial net
    assert r.squared_error < _squared(r.job.network(), X, X)


def test_old_job_files_read_with_the_new_fields_at_their_defaults():
    job = Job(sizes=(784, 30, 10), seed=0, epochs=1)
    d = job.to_dict()
    for k in ("final_momentum", "final_updates", "squared_error"):
        del d[k]
    assert Job.from_dict(d) == job
    r = JobResult(job=job, initial_speeds=np.ones(2), final_speeds=np.ones(2),
                  speeds=np.ones((1, 2)), training_cost=np.ones(1))
    doc = r.to_dict()
    del doc["squared_error"]
    assert JobResult.from_dict(doc).squared_error is None
    r.squared_error = 1.25
    assert JobResult.from_dict(r.to_dict()).squared_error == 1.25


@pytest.mark.parametrize("kwargs, words", [
    ({"setup": "big"}, "setup"),
    ({"mu_max": 1.0}, "mu_max"),
    ({"mu_max": 0.0}, "mu_max"),
    ({"methods": ["adam"]}, "methods"),
    ({"inits": ["bogus"]}, "inits"),
    ({"final_momentum": 1.5}, "final_momentum"),
    ({"path": "/nowhere"}, "path"),
    ({"epochs": 0}, "epochs"),
])
def test_bad_settings_are_refused_before_any_training(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        ex.momentum(progress=False, **kwargs)


def test_the_command_prints_the_table_beside_the_papers(tmp_path, capsys):
    status = main(["momentum", "--epochs", "2", "--seeds", "1", "--methods", "sgd,nesterov",
                   "--inits", "sparse", "--out", str(tmp_path), "--no-figures", "--jobs", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "Sutskever, Martens, Dahl & Hinton 2013" in out
    lines = [line.split() for line in out.splitlines() if line.startswith("sparse")]
    assert [(w[0], w[1], w[-1]) for w in lines] == [("sparse", "sgd", "2.1"),
                                                    ("sparse", "nesterov", "0.73")]
    assert (tmp_path / "momentum.csv").is_file() and not (tmp_path / "momentum.png").exists()


def test_the_help_says_table1_is_a_job_for_a_dask_cluster(capsys):
    assert main(["momentum", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Dask cluster (--scheduler)" in text and "750,000 updates of 200 images" in text


def test_the_command_refuses_data_for_the_small_setups(mnist_dir, tmp_path, capsys):
    assert main(["momentum", "--data", str(mnist_dir), "--out", str(tmp_path)]) == 2
    assert "--data is for --setup table1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before any training
    assert main(["momentum", "--mu-max", "2"]) == 2
    assert "mu_max" in capsys.readouterr().err


def test_a_dask_cluster_gives_the_same_bits_as_this_machine():
    distributed = pytest.importorskip("dask.distributed")
    kw = {"setup": "autoencoder", "epochs": 1, "seeds": 2, "methods": ["sgd", "nesterov"],
          "inits": ["sparse"], "progress": False}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        there = ex.momentum(scheduler=cluster.scheduler_address, **kw)
    here = ex.momentum(n_jobs=1, **kw)
    for key, runs in here.results.items():
        for a, b in zip(runs, there.results[key]):
            np.testing.assert_array_equal(a.training_cost, b.training_cost)
            assert a.squared_error == b.squared_error
