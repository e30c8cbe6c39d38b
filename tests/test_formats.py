"""--format: figures as PNG, SVG or PDF and tables as Parquet; depth --out writes files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gradcore import datasets
from gradcore import experiments as ex
from gradcore.cli import main

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


def test_chapter5_draws_every_figure_in_every_format_asked(tmp_path):
    out = tmp_path / "c5"
    assert main(["chapter5", "--epochs", "3", "--out", str(out), "--format", "svg,pdf",
                 "--jobs", "1"]) == 0
    for name in ("speeds_2_hidden", "speeds_4_hidden", "initial_deltas", "speed_ratio"):
        for fmt in ("svg", "pdf"):
            assert (out / f"{name}.{fmt}").read_bytes().startswith(MAGIC[fmt])
        assert not (out / f"{name}.png").exists()
    assert b"<svg" in (out / "speed_ratio.svg").read_bytes()


def test_phase_writes_pdf_and_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    assert main(["phase", "--depths", "1,3", "--scales", "1,8", "--seeds", "2", "--out",
                 str(tmp_path), "--format", "pdf,parquet", "--jobs", "1"]) == 0
    assert (tmp_path / "phase.pdf").read_bytes().startswith(MAGIC["pdf"])
    assert not (tmp_path / "phase.png").exists()
    table = pd.read_parquet(tmp_path / "phase.parquet")
    assert len(table) == len(ex.read_phase_csv(tmp_path / "phase.csv"))


def test_parquet_alone_keeps_the_png_figures(tmp_path):
    pytest.importorskip("pyarrow")
    assert main(["phase", "--depths", "1", "--scales", "1", "--seeds", "1", "--out",
                 str(tmp_path), "--format", "parquet", "--jobs", "1"]) == 0
    assert (tmp_path / "phase.png").read_bytes().startswith(MAGIC["png"])
    assert (tmp_path / "phase.parquet").read_bytes().startswith(b"PAR1")


@pytest.mark.parametrize("value", ["bmp", "png,png", ""])
def test_a_bad_format_is_refused_before_anything_runs(value, tmp_path, capsys):
    assert main(["chapter5", "--out", str(tmp_path / "x"), "--format", value]) == 2
    err = capsys.readouterr().err
    assert "formats" in err and "\n" == err[-1] and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_the_library_refuses_a_bad_format_naming_it():
    with pytest.raises(ValueError, match=r"formats\[1\] must be one of 'png', 'svg', 'pdf', "
                                         r"'parquet', got 'jpeg'"):
        ex.phase([1], [1.0], seeds=1, formats=["png", "jpeg"], progress=False)


def test_depth_out_writes_a_csv_a_table_and_a_figure(tmp_path, capsys, fake_mnist):
    out = tmp_path / "depth"
    assert main(["depth", "--epochs", "2", "--seeds", "2", "--data", str(tmp_path),
                 "--out", str(out), "--jobs", "1", "--format", "png,svg"]) == 0
    assert "depth.csv" in capsys.readouterr().out
    for name, magic in (("depth.png", MAGIC["png"]), ("depth.svg", MAGIC["svg"])):
        assert (out / name).read_bytes().startswith(magic)
    # the CSV against the same sweep run again in memory
    res = ex.depth(datasets.load_mnist(), epochs=2, seeds=2, progress=False, n_jobs=1)
    with open(out / "depth.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(ex.DEPTH_SIZES) * 2 * 2
    for i, sizes in enumerate(ex.DEPTH_SIZES):
        for j, seed in enumerate((0, 1)):
            mine = [float(r["validation_accuracy"]) for r in rows
                    if r["net"] == "-".join(map(str, sizes)) and int(r["seed"]) == seed]
            np.testing.assert_array_equal(mine, res.results[i][j].evaluation_accuracy)
            assert mine[-1] == res.last_accuracy[i, j]
    import json

    doc = json.loads((out / "depth.json").read_text())
    (last, _), (best, _) = res.last(), res.best()
    assert [row["last_mean"] for row in doc["accuracy"]] == pytest.approx(last.tolist())
    assert [row["best_mean"] for row in doc["accuracy"]] == pytest.approx(best.tolist())
    assert [row["book"] for row in doc["accuracy"]] == [96.48, 96.90, 96.57, 96.53]
