"""The phase diagram of the unstable gradient: depth x weight scale."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.cli import main

# An independent run of the sweep: median over 5 seeds of log10(speed of hidden 1 / speed of
# the last hidden layer) at initialisation, on the embedded 1,000 images
REFERENCE_SCALES = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
REFERENCE_TABLE = {
    2: [-1.00, -0.70, -0.41, -0.17, -0.01, 0.09, 0.11],
    4: [-2.85, -1.98, -1.20, -0.56, -0.29, -0.15, 0.02],
    8: [-6.87, -4.82, -3.03, -1.83, -0.86, -0.43, 0.86],
}


@pytest.fixture(scope="module")
def design():
    return ex.phase(list(REFERENCE_TABLE), REFERENCE_SCALES, seeds=5, progress=False)


def test_the_phase_diagram_reproduces_the_design_table(design):
    table = design.log_ratio()
    assert table.shape == (3, 7)
    np.testing.assert_allclose(table, list(REFERENCE_TABLE.values()), atol=0.0051)
    # vanishing is the rule; exploding only deep and with very large weights
    assert np.all(table[:, :4] < 0)
    assert table[2, -1] > 0.5 and table[2, 1] < -4.5


def test_the_log_ratio_is_the_median_over_seeds_of_each_net(mnist1000, design):
    X, y = mnist1000
    sp = np.array([gradcore.Network(ex.chapter5_sizes(8), init=32.0, seed=s)
                   .learning_speeds(X, y) for s in range(5)])
    expected = np.median(np.log10(sp[:, 0] / sp[:, 7]))
    assert design.log_ratio()[2, -1] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(design.speeds(8, 32.0), sp, rtol=1e-12)


def test_scale_1_is_the_default_initialisation(mnist1000):
    res = ex.phase([3], [1.0], seeds=2, progress=False)
    X, y = mnist1000
    for seed, r in zip(res.seeds, res.results[(3, 1.0)]):
        net = gradcore.Network(ex.chapter5_sizes(3), seed=seed)
        np.testing.assert_allclose(r.initial_speeds, net.learning_speeds(X, y), rtol=1e-12)


def test_phase_writes_a_tidy_csv_json_and_the_heat_map(tmp_path):
    res = ex.phase([1, 3], [0.5, 4.0], seeds=2, epochs=2, out_dir=tmp_path, progress=False)
    with open(tmp_path / "phase.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["depth", "scale", "seed", "epoch", "layer", "speed", "rms"]
    # (1 + 1) + (3 + 1) layers, x 2 scales x 2 seeds x 2 epochs (0 and T)
    assert len(rows) - 1 == (2 + 4) * 2 * 2 * 2
    assert {r[3] for r in rows[1:]} == {"0", "2"}
    assert [r[4] for r in rows[1:] if r[0] == "3"][:4] == ["1", "2", "3", "output"]
    back = ex.read_phase_csv(tmp_path / "phase.csv")
    assert back == list(res.rows())
    doc = json.loads((tmp_path / "phase.json").read_text())
    assert doc["median_log10_ratio"]["0"] == res.log_ratio(0).tolist()
    assert doc["median_log10_ratio"]["2"] == res.log_ratio(2).tolist()
    assert doc["settings"]["epochs"] == 2
    assert (tmp_path / "phase.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "phase_epoch_2.png").is_file()


def test_after_T_epochs_the_speeds_are_those_of_the_trained_net(mnist1000):
    res = ex.phase([2], [2.0], seeds=[4], epochs=3, progress=False)
    X, y = mnist1000
    net = gradcore.Network(ex.chapter5_sizes(2), init=2.0, seed=4)
    with gradcore.thread_limit(1):
        gradcore.train(net, X, y, epochs=3, batch_size=1000, eta=0.1, lmbda=5.0, seed=4)
        expected = net.learning_speeds(X, y)
    assert res.speeds(2, 2.0, epoch=3).tolist() == [expected.tolist()]
    assert res.measured_epochs == [0, 3]
    with pytest.raises(ValueError, match="measured"):
        res.speeds(2, 2.0, epoch=1)


def test_phase_on_the_command_line(tmp_path, capsys):
    assert main(["phase", "--depths", "2,8", "--scales", "1,32", "--seeds", "5",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [x.split() for x in out.splitlines() if x.strip()[:1].isdigit()]
    lines = {r[0]: r[1:] for r in rows[:2]}  # the speeds' table; the rms's follows
    assert lines["2"] == ["-0.70", "0.11"] and lines["8"] == ["-4.82", "0.86"]
    assert [r[0] for r in rows[2:4]] == ["2", "8"]
    assert "s=1" in out and "s=32" in out
    assert (tmp_path / "phase.png").is_file()


def test_medians_that_are_not_finite_are_written_shown_and_drawn(tmp_path, capsys):
    # s = 5000: sigma' underflows to 0 in the first hidden layer, its speed is 0 and the
    # log10 ratio -inf; s = 1e308: the speeds are 0/0, nan; s = 1: finite
    args = ["phase", "--depths", "10", "--scales", "5000,1e308,1", "--seeds", "2",
            "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    # the speed's table, then the gradient rms's: each has its row of 10 hidden layers
    row, rms_row = [x.split() for x in out.splitlines() if x.strip().startswith("10 ")]
    assert row[1:3] == ["-inf", "nan"] and np.isfinite(float(row[3]))
    assert np.isfinite(float(rms_row[3]))
    # the medians, from the speeds in the CSV
    speeds = {(s, seed, layer): np.float64(v) for d, s, seed, e, layer, v, _ in
              ex.read_phase_csv(tmp_path / "phase.csv")}
    with np.errstate(divide="ignore", invalid="ignore"):
        medians = [float(np.median([np.log10(speeds[s, seed, "1"] / speeds[s, seed, "10"])
                                    for seed in (0, 1)])) for s in (5000.0, 1e308, 1.0)]
    assert medians[0] == -np.inf and np.isnan(medians[1]) and np.isfinite(medians[2])
    doc = json.loads((tmp_path / "phase.json").read_text())
    assert doc["median_log10_ratio"]["0"] == [[None, None, medians[2]]]
    assert "not finite" in doc["null"]
    assert (tmp_path / "phase.png").read_bytes()[:4] == b"\x89PNG"
    assert main(args) == 0  # and a rerun, which reuses every job, writes them again


@pytest.mark.parametrize("values", [[[-np.inf, np.nan, 0.5]], [[np.inf, np.nan, -np.inf]]])
def test_the_heat_map_shows_cells_that_are_not_finite_in_grey_with_their_value(values):
    from gradcore import plotting

    fig = plotting.phase_figure([10], [1.0, 2.0, 3.0], np.array(values))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [f"{v:.1f}" for v in values[0]]
    image = fig.axes[0].images[0]
    rgba = image.cmap(image.norm(image.get_array()))
    grey = [tuple(c) for c in rgba[0] if c[0] == c[1] == c[2] and 0.5 < c[0] < 0.7]
    assert len(grey) == sum(not np.isfinite(v) for v in values[0])


@pytest.mark.parametrize("kwargs", [{"depths": []}, {"depths": [0]}, {"scales": [0.0]},
                                    {"scales": [float("nan")]}, {"epochs": -1},
                                    {"seeds": 0}, {"depths": [2, 2]}, {"depths": [999]},
                                    {"epochs": 2**63}, {"seeds": 10**6},
                                    {"depths": range(1, 101), "scales": range(1, 101),
                                     "seeds": 11}])
def test_phase_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ex.phase(**{"depths": [1], "scales": [1.0], **kwargs}, progress=False)


# ---------------------------------------------------------------- the chapter's formula


@pytest.mark.parametrize("w", [4.5, 6.9, 10.0, 100.0, -20.0])
@pytest.mark.parametrize("b", [0.0, -3.0, 7.5])
def test_the_balance_window_is_the_measure_of_inputs_with_a_large_factor(w, b):
    """The set of a with |w σ'(w a + b)| >= 1 is an interval of width
    (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1): counted on a fine grid of inputs."""
    centre = -b / w
    a = np.linspace(centre - 2.0, centre + 2.0, 2_000_001)
    s = 1.0 / (1.0 + np.exp(-(w * a + b)))
    inside = np.abs(w * s * (1.0 - s)) >= 1.0
    step = a[1] - a[0]
    idx = np.flatnonzero(inside)
    assert np.all(np.diff(idx) == 1)  # one interval
    assert inside.sum() * step == pytest.approx(ex.balance_window(w), abs=2 * step)


def test_the_balance_window_is_narrow_at_best_and_empty_below_4():
    ws = np.linspace(4.01, 50, 5000)
    widths = np.array([ex.balance_window(w) for w in ws])
    assert widths.max() == pytest.approx(0.45, abs=0.005)  # the chapter: about 0.45
    assert ws[widths.argmax()] == pytest.approx(6.9, abs=0.1)
    assert ex.balance_window(3.9) == ex.balance_window(-4.0) == 0.0
    assert ex.balance_window(1000) < 0.014
    assert ex.chain(3, 100.0).window == ex.balance_window(100.0)
    with pytest.raises(ValueError):
        ex.balance_window(float("inf"))


@pytest.mark.parametrize("w", [1e299, 1e301, 9e307, -1e308, 1.7976931348623157e308])
def test_the_balance_window_of_the_largest_weights_is_finite(w):
    # r = sqrt(1 - 4/|w|) is 1 in floating point here, so the width is (2/|w|) ln(|w| - 1),
    # and ln(|w| - 1) = ln|w| to far below the precision of a float
    expected = 2.0 / abs(w) * np.log(abs(w))
    assert ex.balance_window(w) == pytest.approx(expected, rel=1e-14)
    assert 0 < ex.balance_window(w) < 1e-290
