"""The phenomena of chapter 5 of "Neural Networks and Deep Learning", reproduced."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.datasets import load_mnist
from gradcore.reference import sigmoid

# The book's initial speeds of the hidden layers (first 1,000 training images, one run).
BOOK_INITIAL = {
    2: [0.07, 0.31],
    3: [0.012, 0.060, 0.283],
    4: [0.003, 0.017, 0.070, 0.285],
}


@pytest.mark.parametrize("hidden", [2, 3, 4])
def test_initial_speeds_rise_with_layer_and_match_the_book(hidden, mnist1000):
    X, y = mnist1000
    sizes = [784] + [30] * hidden + [10]
    speeds = np.array([gradcore.Network(sizes, seed=s).learning_speeds(X, y)
                       for s in range(20)])
    median = np.median(speeds, axis=0)[:-1]  # hidden layers, as the book reports them
    assert np.all(np.diff(median) > 0), median
    ratio = median / np.array(BOOK_INITIAL[hidden])
    assert np.all((ratio > 0.5) & (ratio < 2.0)), (median, ratio)


def _chain(depth: int, w: float) -> gradcore.Network:
    """One neuron per layer, every weight w, biases so every z is 0 for the input x = 1."""
    net = gradcore.Network([1] * (depth + 1), seed=0)
    for l in range(depth):
        net.weights[l][...] = w
        a_in = 1.0 if l == 0 else sigmoid(0.0)
        net.biases[l][...] = -w * a_in
    return net


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_exploding_chain_multiplies_the_gradient_by_25_per_layer(depth):
    net = _chain(depth, 100.0)
    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    _, nabla_b = net.gradient(X, Y)
    g = np.array([b[0] for b in nabla_b])
    assert g[-1] == 0.5  # δᴸ = a − y = σ(0) − 0
    # every factor w·σ'(z) = 100 · 1/4 = 25 exactly, so each step back is exactly 25x
    assert np.array_equal(g[:-1] / g[1:], np.full(depth - 1, 25.0))


def test_vanishing_chain_shrinks_the_gradient():
    rng = np.random.default_rng(0)
    depth = 6
    shrink = []
    for _ in range(50):
        net = gradcore.Network([1] * (depth + 1), seed=int(rng.integers(1 << 30)),
                               init="large")
        _, nabla_b = net.gradient(np.ones((1, 1)), np.zeros((1, 1)))
        g = np.abs([b[0] for b in nabla_b])
        shrink.append(g[0] / g[-1])
    # |w σ'(z)| <= 1/4 only when |w| <= 1, so typically; the median ratio over 5 factors is
    # far below (1/4)^5 · a few.
    assert np.median(shrink) < 0.25 ** 5 * 4


@pytest.mark.slow
def test_chapter_training_run_reaches_96_percent(mnist_dir):
    """[784,30,30,10], 30 epochs, m = 10, η = 0.1, λ = 5.0 (book: 96.90 % validation)."""
    data = load_mnist(mnist_dir, download=False)
    X, y = data.training
    res = gradcore.train([784, 30, 30, 10], X, y, epochs=30, batch_size=10, eta=0.1,
                         lmbda=5.0, seed=0, evaluation_data=data.validation)
    acc = res.history.evaluation_accuracy
    assert acc.shape == (30,)
    assert acc[-1] >= 0.96, acc
    assert res.history.learning_speeds.shape == (30, 3)
    assert res.network.accuracy(*data.test) >= 0.955


# ---------------------------------------------------------------- its output files


def gradcore_command(*args, limit_file_size=None, **kwargs):
    """``python -m gradcore ARGS`` in a real process, optionally with files limited to
    ``limit_file_size`` bytes (RLIMIT_FSIZE: writing past it fails as on a full disk)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run([sys.executable, "-m", "gradcore", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=None if limit_file_size is None else limit, **kwargs)


def test_a_full_disk_while_writing_leaves_the_previous_outputs_whole(tmp_path):
    out = tmp_path / "c5"
    args = ["chapter5", "--epochs", "40", "--no-figures", "--out", out]
    first = gradcore_command(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    outputs = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    small = [p.stat().st_size for p in out.rglob("*") if p.is_file()
             and p.name != "chapter5.json"]
    limit = max(small) + 1024
    assert (out / "chapter5.json").stat().st_size > limit  # the disk fills up on it

    failed = gradcore_command(*args, limit_file_size=limit, cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "error" in failed.stderr and "Traceback" not in failed.stderr
    # every output is the previous run's, whole: none cut
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == outputs
    assert not list(out.rglob("*.tmp"))
    for k in (2, 3, 4):
        ex.read_speeds_csv(out / f"speeds_{k}_hidden.csv")

    failed = gradcore_command(*args, "--seed", "1", "--force", limit_file_size=limit,
                              cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "error" in failed.stderr and "Traceback" not in failed.stderr
    # --force removed the outputs of the earlier settings; none of the new run's is cut
    assert [p.name for p in out.iterdir() if p.is_file()] == []
    assert not list(out.rglob("*.tmp"))

    # with room again, the same command finishes from the stored jobs
    again = gradcore_command(*args, "--seed", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "chapter5.json").read_text())["settings"]["seeds"] == [1]


@pytest.mark.parametrize("cut", ["in a number", "at a comma", "after a row"])
def test_read_speeds_csv_refuses_a_file_cut_short(tmp_path, cut):
    res = ex.chapter5(tmp_path, epochs=6, seeds=2, hidden=(4,), figures=False)
    path = tmp_path / "speeds_4_hidden.csv"
    text = path.read_text()
    table = ex.read_speeds_csv(path)
    assert table.speeds.tolist() == res.nets[4].speeds.reshape(-1, 5).tolist()
    last_row = text.rstrip("\n").rsplit("\n", 1)[1]
    if cut == "in a number":
        text = text[:-4]  # "...0.0123456789\n" -> "...0.01234567"
    elif cut == "at a comma":
        text = text[:len(text) - len(last_row) - 1] + last_row.rsplit(",", 1)[0] + ","
    else:  # whole rows, but the last seed stops short of the first one's epochs
        text = text[:len(text) - len(last_row) - 1]
    path.write_text(text)
    with pytest.raises(ValueError, match=r"speeds_4_hidden\.csv"):
        ex.read_speeds_csv(path)


def test_the_ratio_is_last_over_first_and_the_table_says_which_statistic(tmp_path, capsys):
    from gradcore.cli import main

    assert main(["chapter5", "--epochs", "4", "--seeds", "3", "--no-figures",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = out.split("Speed of learning of the hidden layers during training")[1]
    assert ("last/first: the last hidden layer's speed / the first's, median over seeds of "
            "each seed's ratio (not the ratio of the medians shown)") in table
    # the rows: net (28 characters), epoch (6), 4 hidden layers (11 each), last/first (12)
    rows = [(int(line[28:34]), float(line[78:90].rstrip("x")))
            for line in table.splitlines() if line[28:34].strip().isdigit()]
    doc = json.loads((tmp_path / "chapter5.json").read_text())
    shown = {}
    for i, net in enumerate(doc["nets"]):
        k = net["hidden_layers"]
        s = np.array(net["speeds"])  # (seeds, epochs, layers)
        per_seed = s[:, :, k - 1] / s[:, :, 0]  # how many times faster the last learns
        assert [e for e, _ in rows[2 * i:2 * i + 2]] == [0, 3]
        shown[k] = [r for _, r in rows[2 * i:2 * i + 2]]
        assert shown[k] == pytest.approx(np.median(per_seed[:, [0, -1]], axis=0), abs=0.051)
    assert 1 < shown[2][0] < shown[3][0] < shown[4][0]  # the last layer is the faster
    result = ex.chapter5(tmp_path, epochs=4, seeds=3, figures=False, progress=False)
    for k, net in result.nets.items():  # the same ratio from the API, as many seeds
        assert net.ratio().shape == (3, 4)
        assert np.array_equal(net.ratio(), net.speeds[:, :, k - 1] / net.speeds[:, :, 0])
        assert np.median(net.ratio()[:, 0]) == pytest.approx(shown[k][0], abs=0.051)
