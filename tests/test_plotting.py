"""gradcore.plotting: what the figures show (axes, scales, series), not only that they draw."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import TwoSlopeNorm

from gradcore import experiments as ex
from gradcore import plotting


def speeds(seeds: int, epochs: int = 30, layers: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = np.geomspace(1e-3, 1.0, layers)[None, None, :] * np.exp(-np.arange(epochs) / 10)[
        None, :, None]
    return base * rng.uniform(0.5, 1.5, (seeds, 1, layers))


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_one_seed_draws_one_line_per_hidden_layer():
    s = speeds(1)[0]
    fig = plotting.speeds_figure(s)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Number of epochs of training"
    assert "Speed of learning" in ax.get_ylabel()
    assert ax.get_title() == "Speed of learning: 3 hidden layers"
    assert [line.get_label() for line in ax.get_lines()] == [
        "Hidden layer 1", "Hidden layer 2", "Hidden layer 3"]  # not the output layer
    for j, line in enumerate(ax.get_lines()):
        assert line.get_ydata().tolist() == s[:, j].tolist()
    assert bands(ax) == []


def test_several_seeds_draw_the_median_and_the_10_90_band():
    s = speeds(7)
    ax = plotting.speeds_figure(s).axes[0]
    assert "median and 10–90 % band, 7 seeds" in ax.get_title()
    lines, polys = ax.get_lines(), bands(ax)
    assert len(lines) == len(polys) == 3
    for j, (line, poly) in enumerate(zip(lines, polys)):
        assert np.allclose(line.get_ydata(), np.median(s[:, :, j], axis=0))
        ys = poly.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(np.percentile(s[:, :, j], 10, axis=0).min())
        assert ys.max() == pytest.approx(np.percentile(s[:, :, j], 90, axis=0).max())


def test_the_ratio_figure_puts_each_net_beside_the_books_run():
    ours = {k: (speeds(5, 500, k + 1)[:, :, k - 1] / speeds(5, 500, k + 1)[:, :, 0],
                ex.book_speed_ratio(k)) for k in (2, 3, 4)}
    fig = plotting.ratio_figure(ours)
    assert len(fig.axes) == 3
    for ax, k in zip(fig.axes, (2, 3, 4)):
        assert ax.get_title() == f"{k} hidden layers" and ax.get_yscale() == "log"
        median, book = ax.get_lines()
        assert median.get_label() == ("gradcore: median over 5 seeds of\neach seed's ratio, "
                                      "10–90 % band") and len(bands(ax)) == 1
        assert np.allclose(median.get_ydata(), np.median(ours[k][0], axis=0))
        assert book.get_label() == "the book's run" and book.get_linestyle() == "--"
        assert book.get_ydata().tolist() == ex.book_speed_ratio(k).tolist()
    assert fig.axes[0].get_ylabel() == "speed of the last hidden layer ÷ hidden layer 1"


def _shown_labels(ax) -> list[str]:
    """The y tick labels drawn within the axis, major and minor."""
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    return [t.label1.get_text() for t in ticks
            if t.label1.get_visible() and t.label1.get_text()
            and low <= t.get_loc() <= high]


@pytest.mark.parametrize("low, high", [(1.5, 300.0), (3.0, 8.0), (0.4, 0.9), (0.5, 20.0),
                                       (1.2, 1.9)])
def test_the_ratio_figure_labels_its_log_axis_plainly(low, high):
    r = np.geomspace(low, high, 50)[None, :] * np.array([[0.99], [1.0], [1.01]])
    ax = plotting.ratio_figure({4: (r, None)}).axes[0]
    labels = _shown_labels(ax)
    assert len(labels) >= 2, labels
    for text in labels:
        assert re.fullmatch(r"[0-9][0-9,]*(\.[0-9]+)?x", text), labels  # not 6×10⁻¹
    shown = [float(t[:-1].replace(",", "")) for t in labels]
    locs = sorted(t.get_loc() for t in ax.yaxis.get_major_ticks()
                  if ax.get_ylim()[0] <= t.get_loc() <= ax.get_ylim()[1])
    assert sorted(shown) == pytest.approx(locs, rel=0.01)  # each label is its tick's value


def test_the_books_ratio_comes_from_its_figure_data():
    r = ex.book_speed_ratio(4)
    assert r.shape == (500,)
    # fig/norms_during_training_4_layers.json, first row: 0.28513... / 0.00297...
    assert r[0] == pytest.approx(0.28513893545173896 / 0.0029752663545292526, rel=1e-15)
    assert r[-1] == pytest.approx(112.6, abs=0.1)  # the book's ~100x at epoch 500
    with pytest.raises(ValueError):
        ex.book_speed_ratio(5)


def test_the_phase_heat_map_is_centred_on_balance():
    values = np.array([[-4.8, -1.0, 0.1], [-0.7, 0.0, 0.9]])
    fig = plotting.phase_figure([8, 2], [1.0, 4.0, 32.0], values, n_seeds=5)
    ax = fig.axes[0]
    (im,) = ax.get_images()
    assert np.array_equal(im.get_array(), values)
    norm = im.norm
    assert isinstance(norm, TwoSlopeNorm) and norm.vcenter == 0.0
    assert norm.vmin == -4.8 and norm.vmax == 1.0  # each side to its extreme, at least 1
    cmap = im.get_cmap()
    assert cmap.name == "RdBu_r"
    # three colours: vanishing blue, balance white, exploding red
    blue, white, red = cmap(norm(-4.8)), cmap(norm(0.0)), cmap(norm(0.9))
    assert blue[2] > 2 * blue[0] and red[0] > 2 * red[2] and min(white[:3]) > 0.9
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "32"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["8", "2"]
    assert ax.get_xlabel().startswith("weight scale s") and ax.get_ylabel() == "hidden layers"
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        f"{v:.1f}" for v in values.ravel())
    assert "median of 5 seeds" in ax.get_title() and "at initialisation" in ax.get_title()
    assert "vanishing" in fig.axes[1].get_ylabel()  # the colour bar says which is which


def test_the_initial_deltas_figure_has_a_panel_per_net_and_a_group_per_hidden_layer():
    rng = np.random.default_rng(1)
    nets = [((784, 30, 30, 10), [rng.normal(size=30), rng.normal(size=30),
                                 rng.normal(size=10)])]
    ax = plotting.initial_deltas_figure(nets).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layer 1", "layer 2"]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [*nets[0][1][0][:6].tolist(), *nets[0][1][1][:6].tolist()]


def test_a_figure_of_nothing_is_refused():
    with pytest.raises(ValueError):
        plotting.ratio_figure({})
    with pytest.raises(ValueError):
        plotting.initial_deltas_figure([])
    with pytest.raises(ValueError, match="2 x 3"):
        plotting.phase_figure([1, 2], [1, 2, 3], np.zeros((3, 2)))


def test_plotting_does_not_import_the_experiments():
    code = ("import sys, gradcore.plotting; "
            "print(sorted(m for m in sys.modules if m.startswith('gradcore.experiments')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/").stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])
def test_save_figure_writes_the_format_of_the_suffix(tmp_path, suffix, magic):
    fig = plotting.speeds_figure(speeds(3))
    path = plotting.save_figure(fig, tmp_path / f"speeds{suffix}")
    assert path == tmp_path / f"speeds{suffix}"
    assert path.read_bytes().startswith(magic)


def test_save_figure_uses_the_dpi_it_is_given(tmp_path):
    fig = plotting.speeds_figure(speeds(1))  # a PNG of its size in inches times the dpi
    width, height = fig.get_size_inches()
    for dpi in (50, 100):
        data = plotting.save_figure(fig, tmp_path / f"s{dpi}.png", dpi=dpi).read_bytes()
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # IHDR
        assert (w, h) == (round(width * dpi), round(height * dpi))


def test_the_figures_and_the_tables_share_one_band():
    from gradcore.experiments import results

    assert plotting.BAND == results.BAND == (10.0, 90.0)
    s = speeds(9)[:, :, 0]
    mid, lo, hi = results.band(s)
    assert np.array_equal(mid, np.median(s, axis=0))
    assert np.array_equal(lo, np.percentile(s, 10, axis=0))
    assert np.array_equal(hi, np.percentile(s, 90, axis=0))
