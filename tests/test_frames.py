"""Results as pandas DataFrames: History.to_frame(), experiments.read() and Parquet."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex

pd = pytest.importorskip("pandas")


def test_a_history_frame_is_tidy_and_gives_the_history_back(mnist1000):
    X, y = mnist1000
    h = gradcore.train([784, 30, 30, 10], X[:300], y[:300], epochs=4, batch_size=10,
                       eta=0.5, seed=0, evaluation_data=(X[300:400], y[300:400])).history
    f = h.to_frame()
    assert len(f) == 4 * 3
    assert list(f.columns[:3]) == ["epoch", "layer", "speed"]
    assert list(f["layer"].cat.categories) == ["hidden_1", "hidden_2", "output"]
    speeds = f.pivot(index="epoch", columns="layer", values="speed").to_numpy()
    np.testing.assert_array_equal(speeds, h.learning_speeds)
    per_epoch = f.groupby("epoch")[["training_cost", "evaluation_accuracy",
                                    "evaluation_cost"]].agg(["min", "max"])
    for name in ("training_cost", "evaluation_accuracy", "evaluation_cost"):
        np.testing.assert_array_equal(per_epoch[(name, "min")], getattr(h, name))
        np.testing.assert_array_equal(per_epoch[(name, "max")], getattr(h, name))


def test_a_history_without_evaluation_has_no_evaluation_columns(mnist1000):
    X, y = mnist1000
    f = gradcore.train([784, 20, 10], X[:100], y[:100], epochs=2, batch_size=100, eta=0.1,
                       seed=0).history.to_frame()
    assert list(f.columns) == ["epoch", "layer", "speed", "gradient_rms", "training_cost",
                               "clipped"]


def test_without_pandas_the_error_names_the_extra(mnist1000, monkeypatch, tmp_path):
    X, y = mnist1000
    h = gradcore.train([784, 10], X[:50], y[:50], epochs=1, batch_size=50, eta=0.1,
                       seed=0).history
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r"History\.to_frame\(\).*gradcore\[pandas\]"):
        h.to_frame()
    with pytest.raises(ImportError, match=r"experiments\.read\(\).*gradcore\[pandas\]"):
        ex.read(tmp_path)


@pytest.fixture(scope="module")
def chapter5_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("c5")
    result = ex.chapter5(out, seeds=2, epochs=3, hidden=(2, 3), figures=False, n_jobs=1,
                         progress=False)
    return out, result


def test_read_gives_every_job_epoch_and_layer_of_a_chapter5_folder(chapter5_folder,
                                                                    mnist1000):
    out, result = chapter5_folder
    f = ex.read(out)
    assert f.attrs["experiment"] == "chapter5"
    assert f.attrs["jobs_total"] == f.attrs["jobs_finished"] == 4
    assert list(f.columns) == list(ex.frames.FRAME_COLUMNS)
    # 2 seeds x (3 + 4 layers) x (3 epochs + the final weights)
    assert len(f) == 2 * (3 + 4) * 4
    # the speeds of the CSV files, read by their own reader
    for k in (2, 3):
        table = ex.read_speeds_csv(out / f"speeds_{k}_hidden.csv")
        mine = f[(f.hidden_layers == k) & (f.epoch < 3)].sort_values(["seed", "epoch"])
        wide = mine.pivot_table(index=["seed", "epoch"], columns="layer", values="speed",
                                observed=True)
        np.testing.assert_array_equal(wide[table.columns].to_numpy(), table.speeds)
    # epoch 0 of full-batch training is the speed at initialisation, computed here anew
    X, y = mnist1000
    first = f[(f.hidden_layers == 3) & (f.seed == 1) & (f.epoch == 0)]
    fresh = gradcore.Network(ex.chapter5_sizes(3), seed=1).learning_speeds(X, y)
    np.testing.assert_allclose(first["speed"].to_numpy(), fresh, rtol=1e-12)
    # the last row of a job: the speeds at the weights after its last epoch
    last = f[(f.hidden_layers == 2) & (f.seed == 0) & (f.epoch == 3)]
    np.testing.assert_array_equal(last["speed"].to_numpy(),
                                  result.nets[2].results[0].final_speeds)
    assert last["training_cost"].isna().all()
    assert set(f["batch_size"]) == {-1} and set(f["scale"]) == {1.0}


def test_read_of_a_phase_folder_matches_its_csv(tmp_path):
    ex.phase([1, 2], [0.5, 4.0], seeds=2, out_dir=tmp_path, figures=False, n_jobs=1,
             progress=False)
    f = ex.read(tmp_path)
    rows = ex.read_phase_csv(tmp_path / "phase.csv")
    assert len(f) == len(rows)
    for d, s, seed, e, layer, v, g in rows:
        name = "output" if layer == "output" else f"hidden_{layer}"
        hit = f[(f.hidden_layers == d) & (f.scale == s) & (f.seed == seed) & (f.epoch == e)
                & (f.layer == name)]
        assert hit["speed"].tolist() == [v]
        assert hit["gradient_rms"].tolist() == [g]


def test_read_of_a_sweep_stopped_early_gives_what_it_finished(chapter5_folder, tmp_path):
    out, _ = chapter5_folder
    copy = tmp_path / "copy"
    (copy / "jobs").mkdir(parents=True)
    for p in (out / "jobs").iterdir():
        if p.name != "00002.json":
            (copy / "jobs" / p.name).write_bytes(p.read_bytes())
    f = ex.read(copy)
    assert (f.attrs["jobs_total"], f.attrs["jobs_finished"]) == (4, 3)
    assert sorted(set(f["job"])) == [0, 1, 3]


def test_read_names_a_folder_without_results_and_what_it_holds(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=rf"{tmp_path} holds no gradcore results.*notes\.txt"):
        ex.read(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ex.read(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="found nothing"):
        ex.read(empty)


def test_read_refuses_results_of_another_gradcore_version(chapter5_folder, tmp_path):
    out, _ = chapter5_folder
    copy = tmp_path / "old"
    (copy / "jobs").mkdir(parents=True)
    for p in (out / "jobs").iterdir():
        (copy / "jobs" / p.name).write_bytes(p.read_bytes())
    manifest = json.loads((copy / "jobs" / "sweep.json").read_text())
    manifest["settings"]["gradcore_version"] = "0.0.1"
    (copy / "jobs" / "sweep.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"old holds chapter5 results of gradcore 0\.0\.1, "
                                         r"not of this gradcore"):
        ex.read(copy)


def test_a_damaged_result_is_named(chapter5_folder, tmp_path):
    out, _ = chapter5_folder
    copy = tmp_path / "bad"
    (copy / "jobs").mkdir(parents=True)
    for p in (out / "jobs").iterdir():
        (copy / "jobs" / p.name).write_bytes(p.read_bytes())
    (copy / "jobs" / "00001.json").write_text('{"job": ')
    with pytest.raises(ValueError, match=r"00001\.json: a damaged result"):
        ex.read(copy)


def test_parquet_holds_the_frame_that_read_gives(tmp_path):
    pytest.importorskip("pyarrow")
    ex.chapter5(tmp_path, seeds=1, epochs=2, hidden=(2,), figures=False, n_jobs=1,
                progress=False, formats=["parquet"])
    back = pd.read_parquet(tmp_path / "chapter5.parquet")
    pd.testing.assert_frame_equal(back, ex.read(tmp_path), check_categorical=False)


def test_the_frames_read_the_record_the_store_writes():
    assert ex.frames.MANIFEST == ex.store.MANIFEST
