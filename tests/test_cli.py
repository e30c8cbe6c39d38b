"""The gradcore command line: outputs, exit statuses and messages."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import gradcore
from gradcore import datasets
from gradcore import experiments as ex
from gradcore.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUBCOMMANDS = ["chapter5", "train", "depth", "chain", "download"]


def one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = f"gradcore {command}: error: " if command else "gradcore: error: "
    assert lines[0].startswith(prefix), err
    assert "Traceback" not in err
    return lines[0]


def written_paths(out: str) -> list[pathlib.Path]:
    """The paths listed under 'Wrote to' in chapter5's output."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Wrote to"))
    paths = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        paths.append(pathlib.Path(line.split("  ")[-1].strip()))
    return paths


def check_chapter5_folder(out: pathlib.Path, epochs: int, *, figures: bool = True) -> None:
    doc = json.loads((out / "chapter5.json").read_text())
    seeds = doc["settings"]["seeds"]
    assert doc["settings"]["epochs"] == epochs
    assert [n["hidden_layers"] for n in doc["nets"]] == [2, 3, 4]
    for net in doc["nets"]:
        k = net["hidden_layers"]
        with open(out / f"speeds_{k}_hidden.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        header = ["seed", "epoch"] + [f"hidden_{j + 1}" for j in range(k)] + ["output"]
        assert rows[0] == header
        assert len(rows) == len(seeds) * epochs + 1
        body = np.array([[float(v) for v in r] for r in rows[1:]])
        assert body[:, 0].tolist() == [s for s in seeds for _ in range(epochs)]
        assert body[:, 1].tolist() == list(range(epochs)) * len(seeds)
        speeds = body[:, 2:]
        assert np.all(np.isfinite(speeds)) and np.all(speeds > 0)
        assert speeds.tolist() == [row for table in net["speeds"] for row in table]
        assert net["sizes"] == [784] + [30] * k + [10]
        assert net["book_initial_speeds"] == list(ex.BOOK_INITIAL_SPEEDS[k])
    if figures:
        import matplotlib.image

        names = ([f"speeds_{k}_hidden.png" for k in (2, 3, 4)]
                 + ["initial_deltas.png", "speed_ratio.png"])
        for name in names:
            data = (out / name).read_bytes()
            assert data[:8] == PNG_MAGIC, name
            img = matplotlib.image.imread(out / name)
            assert img.ndim == 3 and img.shape[2] in (3, 4), img.shape
            assert img.shape[0] > 300 and img.shape[1] > 500, img.shape
            assert img.std() > 0.01  # not a blank canvas
        w, h = matplotlib.image.imread(out / "speeds_2_hidden.png").shape[1::-1]
        assert w > h  # landscape, like the book's plots


# ---------------------------------------------------------------- chapter5


def test_chapter5_in_process(tmp_path, capsys):
    out = tmp_path / "tmp"
    assert main(["chapter5", "--epochs", "20", "--out", str(out), "--seed", "3"]) == 0
    stdout = capsys.readouterr().out
    check_chapter5_folder(out, 20)
    paths = written_paths(stdout)
    assert len(paths) == 9 and all(p.is_file() for p in paths)
    assert {p.name for p in paths} == {p.name for p in out.iterdir() if p.is_file()}
    # the table of initial speeds, beside the book's numbers
    assert "0.283" in stdout and "0.003" in stdout and "hidden 4" in stdout
    speeds = ex.initial_speeds([784, 30, 30, 10], seed=3)
    assert f"{speeds[0]:.3g}" in stdout


def test_chapter5_as_a_real_process(tmp_path):
    out = tmp_path / "c5"
    proc = subprocess.run([sys.executable, "-m", "gradcore", "chapter5", "--epochs", "3",
                           "--out", str(out)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    check_chapter5_folder(out, 3)
    assert all(p.is_file() for p in written_paths(proc.stdout))


def test_chapter5_no_figures(tmp_path, capsys):
    assert main(["chapter5", "--epochs", "2", "--out", str(tmp_path), "--no-figures"]) == 0
    check_chapter5_folder(tmp_path, 2, figures=False)
    assert not list(tmp_path.glob("*.png"))


# ---------------------------------------------------------------- chain


def test_chain_prints_the_factors_and_gradients(capsys):
    assert main(["chain"]) == 0
    out = capsys.readouterr().out
    exploding, vanishing = out.split("Vanishing")
    rows = [line.split() for line in exploding.splitlines() if line[:5].strip().isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert [float(r[5]) for r in rows] == [25.0] * 4        # w * sigma'(z)
    grads = [float(r[6]) for r in rows]                      # dC/db
    assert grads[-1] == 0.125
    for j in range(3):
        assert grads[j] == pytest.approx(25 * grads[j + 1], rel=2e-3)
    c = ex.vanishing_chain(4, seed=0)
    vrows = [line.split() for line in vanishing.splitlines() if line[:5].strip().isdigit()]
    assert [float(r[5]) for r in vrows] == pytest.approx(c.factors.tolist(), rel=2e-3)


def test_chain_options(capsys):
    assert main(["chain", "--depth", "6", "--weight", "8", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "2, 2, 2, 2, 2" in out  # exploding ratios of the gradients


# ---------------------------------------------------------------- train


def test_train_on_small_data(tmp_path, capsys, fake_mnist):
    save = tmp_path / "net.json"
    rc = main(["train", "--sizes", "784,12,10", "--epochs", "2", "--batch-size", "10",
               "--eta", "0.5", "--lmbda", "1", "--data", str(tmp_path), "--seed", "1",
               "--save", str(save)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert fake_mnist == [tmp_path]
    out = captured.out
    assert "epoch   1/2: validation accuracy" in out and "epoch   2/2" in out
    assert "speeds: hidden 1" in out and "output" in out
    assert "test accuracy:" in out
    net = gradcore.load(save)
    assert net.sizes == (784, 12, 10)
    X, y = datasets.load_mnist().test
    acc = float(out.split("test accuracy:")[1].split("%")[0])
    assert acc == pytest.approx(100 * net.accuracy(X, y), abs=0.01)
    # the legend says what the speeds and the validation cost are (200 training images in
    # 20 mini-batches, 60 validation images), before the first epoch's line
    legend = out.split("epoch   1/2")[0]
    assert "averaged over the epoch's 20 mini-batches\n as the weights move" in legend
    assert "not the chapter's speed at fixed weights" in legend
    assert "L2 term lambda/(2n)*sum(w^2), n = 60 validation\n images" in legend
    assert "network2.py" in legend and "can rise with the accuracy" in legend
    # which is the printed validation cost: the last epoch's, at the saved weights
    Xv, yv = datasets.load_mnist().validation
    l2 = 1.0 / (2 * len(yv)) * sum(float(np.sum(w ** 2)) for w in net.weights)
    printed = float(out.split("epoch   2/2")[1].split("validation cost")[1].split(",")[0])
    assert printed == pytest.approx(net.total_cost(Xv, yv) + l2, abs=6e-5)
    assert l2 > 1e-3  # large enough to tell apart from the cost without it


def test_train_legend_without_mini_batches_or_weight_decay(tmp_path, capsys, fake_mnist):
    rc = main(["train", "--sizes", "784,12,10", "--epochs", "1", "--batch-size", "200",
               "--lmbda", "0", "--data", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    legend = out.split("epoch   1/1")[0]
    assert "speeds: each layer's ||mean delta|| at the weights the epoch starts from" in legend
    assert "mini-batches" not in legend and "L2 term" not in legend


def test_train_ctrl_c_keeps_the_network_and_exits_130(tmp_path, capsys, fake_mnist,
                                                      monkeypatch):
    real_train = ex.mnist.train

    def train_then_ctrl_c(*args, callback=None, **kwargs):
        def cb(epoch, history):
            callback(epoch, history)
            if epoch == 1:
                raise KeyboardInterrupt

        return real_train(*args, callback=cb, **kwargs)

    monkeypatch.setattr(ex.mnist, "train", train_then_ctrl_c)
    save = tmp_path / "kept.json"
    rc = main(["train", "--sizes", "784,10,10", "--epochs", "5", "--data", str(tmp_path),
               "--save", str(save)])
    err = capsys.readouterr().err
    assert rc == 130
    assert "2 of 5 epochs completed" in err and str(save) in err
    assert "Traceback" not in err
    assert gradcore.load(save).sizes == (784, 10, 10)


def test_train_divergence_is_one_line_and_status_1(tmp_path, capsys, fake_mnist):
    rc = main(["train", "--sizes", "784,10,10", "--epochs", "1", "--eta", "1e300",
               "--data", str(tmp_path)])
    line = one_error_line(capsys.readouterr().err, "train")
    assert rc == 1
    assert "diverged" in line


def test_train_on_a_folder_without_mnist_is_a_usage_error(tmp_path, capsys):
    # the real loader: an existing folder that lacks the four files
    rc = main(["train", "--epochs", "1", "--data", str(tmp_path)])
    line = one_error_line(capsys.readouterr().err, "train")
    assert rc == 2
    assert "missing" in line and "train-images-idx3-ubyte" in line


def test_a_corrupt_data_file_is_a_failed_run(tmp_path, capsys):
    # the folder holds the four files (a good argument); reading them fails: status 1
    for name in datasets.FILENAMES:
        (tmp_path / name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    rc = main(["depth", "--epochs", "1", "--data", str(tmp_path)])
    line = one_error_line(capsys.readouterr().err, "depth")
    assert rc == 1
    assert "checksum" in line


# ---------------------------------------------------------------- depth


def test_depth_on_small_data(tmp_path, capsys, fake_mnist):
    rc = main(["depth", "--data", str(tmp_path), "--epochs", "1", "--seeds", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    rows = {line.split("]")[0] + "]": line for line in out.splitlines()
            if line.startswith("[784")}
    assert list(rows) == [str(list(s)) for s in ex.DEPTH_SIZES]
    assert "last epoch" in out and "best epoch" in out
    for sizes, book in ex.BOOK_DEPTH_ACCURACY.items():
        line = rows[str(list(sizes))]
        assert line.count("+/-") == 2 and f"{book:.2f} %" in line
        last, best = (float(cell.split("+/-")[0]) for cell in line.split("]")[1].split("%")[:2])
        assert 0.0 <= last <= best <= 100.0


# ---------------------------------------------------------------- download


def test_download_calls_the_library(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_download(directory=None, **kwargs):
        calls.append((directory, kwargs))
        return pathlib.Path(directory)

    monkeypatch.setattr(datasets, "download_mnist", fake_download)
    target = tmp_path / "mnist"
    assert main(["download", "--dir", str(target)]) == 0
    assert calls == [(target, {"progress": True, "deadline": datasets.DEFAULT_DEADLINE})]
    assert f"MNIST files are in {target}" in capsys.readouterr().out
    assert main(["download", "--dir", str(target), "--deadline", "5"]) == 0
    assert calls[-1] == (target, {"progress": True, "deadline": 5.0})


def test_download_failure_is_status_1(tmp_path, capsys, monkeypatch):
    def failing(directory=None, **kwargs):
        raise datasets.MNISTDownloadError("Could not download train-images-idx3-ubyte.gz")

    monkeypatch.setattr(datasets, "download_mnist", failing)
    assert main(["download", "--dir", str(tmp_path)]) == 1
    assert "Could not download" in capsys.readouterr().err


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("argv", [
    ["chapter5", "--epochs", "-1"],
    ["chapter5", "--epochs", "0"],
    ["chapter5", "--seed", "abc"],
    ["chapter5", "--seed", "-3"],
    ["chapter5", "--unknown"],
    ["chapter5", "--out", __file__],
    ["train", "--sizes", "784,x"],
    ["train", "--sizes", "784"],
    ["train", "--sizes", "784,0,10"],
    ["train", "--sizes", "100,10"],
    ["train", "--epochs", "1.5"],
    ["train", "--batch-size", "0"],
    ["train", "--eta", "0"],
    ["train", "--eta", "nan"],
    ["train", "--lmbda", "-1"],
    ["train", "--data", "/no/such/folder"],
    ["train", "--data", __file__],
    ["train", "--save", "/no/such/folder/net.json"],
    ["train", "--sizes", "784,2000000,10"],
    ["train", "--sizes", ",".join(["10"] * 1200)],
    ["train", "--seed", "-1"],
    ["train", "extra"],
    ["depth", "--seeds", "0"],
    ["depth", "--epochs", "-1"],
    ["depth", "--data", "/no/such/folder"],
    ["chain", "--depth", "0"],
    ["chain", "--depth", "1000"],
    ["chain", "--weight", "inf"],
    ["chain", "--weight", "x"],
    ["download", "--dir", __file__],
    ["download", "--bogus"],
    ["phase", "--depths", "0,1"],
    ["phase", "--depths", "1,1"],
    ["phase", "--depths", "x"],
    ["phase", "--scales", "0"],
    ["phase", "--scales", "inf"],
    ["phase", "--scales", "1,,2"],
    ["phase", "--seeds", "0"],
    ["phase", "--epochs", "-1"],
    ["phase", "--jobs", "0"],
    ["chapter5", "--seeds", "0"],
    ["chapter5", "--jobs", "x"],
    ["depth", "--jobs", "-2"],
    # limits: refused before any work, naming the limit
    ["phase", "--depths", "999"],
    ["chapter5", "--epochs", str(2**63)],
    ["train", "--epochs", str(2**63)],
    ["phase", "--jobs", "10000"],
    ["phase", "--depths", ",".join(map(str, range(1, 101))), "--scales",
     ",".join(map(str, range(1, 101))), "--seeds", "100000"],
    ["chapter5", "--seeds", "1000000"],
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    one_error_line(captured.err, argv[0])
    assert captured.out == ""


def test_unknown_command_and_no_command(capsys):
    assert main(["bogus"]) == 2
    one_error_line(capsys.readouterr().err, "")
    assert main([]) == 2
    assert "usage: gradcore" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["--version"]]
                         + [[c, "--help"] for c in SUBCOMMANDS])
def test_help_exits_0(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gradcore") or out.startswith("gradcore ")
    if argv[0] in SUBCOMMANDS:
        assert f"usage: gradcore {argv[0]}" in out


def test_console_script_entry_point():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "gradcore"]
    assert ep.value == "gradcore.cli:main"
    assert ep.load() is main


# ---------------------------------------------------------------- failures by kind


@pytest.mark.memory_limits
def test_a_network_too_large_for_memory_is_a_failed_run(tmp_path, mnist_dir):
    # valid sizes (within the limits), but more memory than this process may have
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30));"
            "from gradcore.cli import main; sys.exit(main(['train', '--sizes', "
            "'784,1048576,10', '--epochs', '1', '--data', sys.argv[1]]))")
    proc = subprocess.run([sys.executable, "-c", code, str(mnist_dir)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr, "train")
    assert "memory" in line


def test_a_bug_is_not_reported_as_a_usage_error(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise TypeError("an internal mistake")

    monkeypatch.setattr(ex, "chain", broken)
    with pytest.raises(TypeError, match="internal mistake"):
        main(["chain"])


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ")
def test_output_cut_short_by_the_reader_exits_quietly(tmp_path):
    # `gradcore chain | head -1`: the reader goes away; no traceback, no error message
    import fcntl

    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: a pipe smaller than the output
    with subprocess.Popen([sys.executable, "-m", "gradcore", "chain", "--depth", "100"],
                          stdout=w, stderr=subprocess.PIPE, cwd=tmp_path) as proc:
        os.close(w)
        with os.fdopen(r, "rb") as reader:
            reader.readline()
        err = proc.stderr.read().decode()
    assert err == ""
    assert proc.returncode == 141  # 128 + SIGPIPE, as the shell reports a Unix tool


@pytest.mark.skipif(sys.platform != "linux", reason="/dev/full")
@pytest.mark.parametrize("stdout", ["closed pipe", "/dev/full"])
def test_a_closed_or_full_stdout_never_loses_the_trained_network(tmp_path, mnist_dir, stdout):
    # `gradcore train --save net.json | head -3`, and `> /dev/full`
    target = tmp_path / "net.json"
    args = [sys.executable, "-m", "gradcore", "train", "--sizes", "784,10", "--epochs", "2",
            "--seed", "0", "--data", str(mnist_dir), "--save", str(target)]
    if stdout == "closed pipe":
        r, w = os.pipe()
        os.close(r)  # the reader is gone before the first line is written
        proc = subprocess.run(args, stdout=w, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, timeout=300)
        os.close(w)
        assert proc.returncode == 141, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"saved the network to {target}"]
    else:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True,
                                  cwd=tmp_path, timeout=300)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines[0] == f"saved the network to {target}"
        assert lines[1:] == [f"gradcore train: error: could not write the output (No space "
                             f"left on device); the run itself completed and the network "
                             f"was saved to {target}"]
    # the same network as a run whose output was read
    again = subprocess.run([*args[:-1], str(tmp_path / "read.json")], capture_output=True,
                           text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert gradcore.load(target).params.tobytes() == \
        gradcore.load(tmp_path / "read.json").params.tobytes()


def test_an_unwritable_save_path_is_refused_before_training(tmp_path, capsys, fake_mnist):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "net.json").mkdir()  # a folder where the file should go
    rc = main(["train", "--epochs", "1", "--data", str(tmp_path),
               "--save", str(locked / "net.json")])
    assert rc == 2
    assert fake_mnist == []  # refused before any data was loaded or any training


def test_a_save_that_fails_at_the_end_keeps_the_network_elsewhere(tmp_path, capsys,
                                                                 fake_mnist, monkeypatch):
    target = tmp_path / "net.json"
    real_save = gradcore.Network.save

    def save(net, path):
        if pathlib.Path(path) == target:
            raise OSError(28, "No space left on device")
        real_save(net, path)

    monkeypatch.setattr(gradcore.Network, "save", save)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "fallback"))
    (tmp_path / "fallback").mkdir()
    rc = main(["train", "--epochs", "1", "--data", str(tmp_path), "--save", str(target)])
    err = capsys.readouterr().err
    assert rc == 1
    line = one_error_line(err, "train")
    assert "No space left" in line and "saved it to" in line
    saved = list((tmp_path / "fallback").glob("*.json"))
    assert len(saved) == 1 and str(saved[0]) in line
    assert gradcore.load(saved[0]).sizes == (784, 30, 30, 10)


def test_counts_agree_with_their_nouns(capsys, fake_mnist, tmp_path):
    assert main(["train", "--epochs", "1", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 epoch," in out and "1 epochs" not in out
