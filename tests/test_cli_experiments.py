"""The sweep commands of the command line: chapter5, depth, phase, chain."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys

import pytest

from gradcore import datasets
from gradcore import experiments as ex
from gradcore.cli import main

CAP_DAC_OVERRIDE = 1
PR_CAPBSET_DROP = 24


def without_root_override():
    """In the child: drop root's power to write where the permission bits forbid it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("where", ["read-only folder", "below a file"])
def test_an_unwritable_out_folder_is_found_before_any_training(tmp_path, where):
    if where == "read-only folder":
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o555)
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "sub"
    # 10**5 epochs of three nets would take many minutes: it must fail at once instead
    proc = subprocess.run(
        [sys.executable, "-m", "gradcore", "chapter5", "--epochs", "100000", "--out",
         str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        preexec_fn=without_root_override if os.geteuid() == 0 else None)
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith("gradcore chapter5: error: cannot write results to") and \
        str(out) in line


@pytest.mark.parametrize("command", ["chapter5", "depth", "phase", "chain", "train",
                                     "download"])
def test_help_shows_percent_signs_once(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "%%" not in out
    if command == "depth":
        assert "96.53 %" in " ".join(out.split())


PLURAL_OF_ONE = re.compile(r"\b1 (epochs|seeds|layers|jobs|trainings|nets)\b|\(s\)")


def test_the_jobs_announced_are_never_more_than_the_trainings(tmp_path, capsys):
    # 3 trainings (one seed, 3 nets): --jobs 16 runs 3 side by side, and says so
    assert main(["chapter5", "--epochs", "1", "--no-figures", "--jobs", "16", "--out",
                 str(tmp_path / "c5")]) == 0
    assert "3 trainings, 3 jobs side by side on this machine" in capsys.readouterr().out


def test_counts_of_one_are_singular(tmp_path, capsys, fake_mnist):
    assert main(["chapter5", "--epochs", "1", "--no-figures", "--jobs", "1", "--out",
                 str(tmp_path / "c5")]) == 0
    out = capsys.readouterr().out
    assert "1 epoch of full-batch" in out and "1 seed (0)" in out
    assert main(["depth", "--epochs", "1", "--seeds", "1", "--jobs", "1", "--data",
                 str(tmp_path)]) == 0
    depth_out = capsys.readouterr().out
    assert "1 seed x 1 epoch " in depth_out
    assert main(["chain", "--depth", "1"]) == 0
    chain_out = capsys.readouterr().out
    assert "1 layer," in chain_out
    assert main(["phase", "--depths", "1", "--scales", "1", "--seeds", "1", "--jobs", "1",
                 "--no-figures", "--out", str(tmp_path / "ph")]) == 0
    phase_out = capsys.readouterr().out
    assert "1 seed:" in phase_out and "1 job," in phase_out
    for text in (out, depth_out, chain_out, phase_out):
        assert not PLURAL_OF_ONE.search(text), PLURAL_OF_ONE.search(text)


# ---------------------------------------------------------------- chapter5 over seeds


def test_chapter5_over_seeds_prints_median_and_band_beside_the_book(tmp_path, capsys):
    assert main(["chapter5", "--epochs", "3", "--seeds", "3", "--seed", "5", "--jobs", "2",
                 "--no-figures", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 seeds (5..7)" in out and "median [10th, 90th percentile] over 3 seeds" in out
    res = ex.chapter5(None, seeds=3, seed=5, epochs=3, hidden=(4,), progress=False)
    med, lo, hi = res.nets[4].initial_summary()
    line = next(x for x in out.splitlines() if x.startswith("[784, 30, 30, 30, 30, 10]"))
    assert f"{med[0]:.3g} [{lo[0]:.3g}, {hi[0]:.3g}]" in line and line.endswith("0.003")


def test_jobs_and_scheduler_do_not_go_together(capsys):
    assert main(["chapter5", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


# ---------------------------------------------------------------- depth


def test_depth_names_the_last_and_the_best_epoch(tmp_path, capsys, fake_mnist):
    assert main(["depth", "--epochs", "2", "--seeds", "2", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "after the last epoch (epoch 2) and at the best epoch" in out
    header = next(x for x in out.splitlines() if x.startswith("net"))
    assert header.split()[1:] == ["last", "epoch", "best", "epoch", "book"]
    res = ex.depth(datasets.load_mnist(), epochs=2, seeds=2, progress=False)
    (last, last_sd), (best, best_sd) = res.last(), res.best()
    first = next(x for x in out.splitlines() if x.startswith("[784, 30, 10]"))
    assert f"{last[0]:.2f} +/- {last_sd[0]:.2f} %" in first
    assert f"{best[0]:.2f} +/- {best_sd[0]:.2f} %" in first


# ---------------------------------------------------------------- chain


@pytest.mark.parametrize("weight", [100.0, 8.0, -6.0])
def test_chain_prints_the_width_of_the_inputs_that_keep_the_factor_large(weight, capsys):
    assert main(["chain", "--weight", str(weight)]) == 0
    out = capsys.readouterr().out
    assert f"of width (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1) = " \
           f"{ex.balance_window(weight):.4g}" in out


def test_chain_with_a_small_weight_says_no_input_makes_the_factor_1(capsys):
    assert main(["chain", "--weight", "3"]) == 0
    assert "below 1 for every input a" in capsys.readouterr().out


@pytest.mark.parametrize("weight, grows", [("2", False), ("-4", False), ("4.5", True),
                                           ("-100", True)])
def test_the_fixed_weight_chain_is_called_exploding_only_when_it_explodes(capsys, weight,
                                                                          grows):
    assert main(["chain", "--weight", weight]) == 0
    out = capsys.readouterr().out
    (heading,) = [line for line in out.splitlines() if "every w = " in line]
    assert heading.startswith("Exploding gradient" if grows else "Not exploding gradient")
    # and so it does: |dC/db| grows going backwards only when each factor |w/4| > 1
    ratios = next(line for line in out.splitlines() if line.startswith("dC/db(j-1)"))
    sizes = [abs(float(r)) for r in ratios.split(":")[1].split(",")]
    assert all((r > 1) == grows for r in sizes), sizes




def test_a_negative_weight_in_exponent_notation_is_a_number_not_an_option(capsys):
    assert main(["chain", "--weight", "-1e308"]) == 0
    out = capsys.readouterr().out
    assert "every w = -1e+308" in out
    assert "= 1.418e-305 (|w| = 1e+308)" in out  # the width (2/|w|) ln|w|, finite


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_an_out_folder_that_is_a_broken_link_is_named_so(tmp_path, capsys, kind):
    out = tmp_path / "out"
    if kind == "dangling":
        out.symlink_to(tmp_path / "nowhere")
    else:
        out.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(out)
    assert main(["phase", "--depths", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gradcore phase: error: argument --out: is a symbolic link to nothing "
                   f"(its target is missing, or a loop of links): {out}"]
