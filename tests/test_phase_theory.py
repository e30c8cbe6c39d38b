"""gradcore phase over weight variance, with mean-field theory over it, and trainability
(Schoenholz et al. 2017, "Deep information propagation")."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore import theory
from gradcore.cli import main
from gradcore.experiments.jobs import Job
from gradcore.experiments.meanfield import theory_overlay
from gradcore.experiments.phase import check_memory, job_bytes


def test_each_cell_is_a_gaussian_net_with_both_measures(mnist1000):
    res = ex.phase([3], weight_vars=[0.5, 4.0], bias_var=0.05, seeds=2, progress=False,
                   remedy={"activation": "tanh"})
    X, y = mnist1000
    assert res.axis == "weight_var"
    for w in (0.5, 4.0):
        net = gradcore.Network(ex.chapter5_sizes(3), activation="tanh",
                               init=gradcore.Gaussian(w, 0.05), seed=1)
        np.testing.assert_allclose(res.speeds(3, w)[1], net.learning_speeds(X, y), rtol=1e-12)
        np.testing.assert_allclose(res.rms(3, w)[1], net.gradient_rms(X, y), rtol=1e-12)
    rows = list(res.rows())
    assert len(rows[0]) == 7 and rows[0][6] == pytest.approx(res.rms(3, 0.5)[0][0])


def test_the_rms_ratio_follows_the_theory_in_the_ordered_phase():
    # the book's sigmoid, sigma_b^2 = 1: over 7 steps the rms falls by sqrt(chi1)^7
    res = ex.phase([8], weight_vars=[1.0, 16.0], seeds=6, progress=False)
    for j, w in enumerate((1.0, 16.0)):
        want = 7 * math.log10(math.sqrt(theory.chi1("sigmoid", w, 1.0)))
        assert res.log_ratio(0, "rms")[0, j] == pytest.approx(want, abs=0.25)


def test_the_overlay_is_the_theory_s():
    o = theory_overlay("tanh", 0.05, [1.0, 4.0])
    assert o["critical"] == pytest.approx(theory.critical_weight_var("tanh", 0.05))
    assert o["xi_c"][1] == pytest.approx(theory.depth_scales("tanh", 4.0, 0.05).xi_c)
    relu = theory_overlay("relu", 0.5, [1.0, 2.0, 4.0])
    assert relu["critical"] is None and "no critical point" in relu["note"]
    assert relu["xi_c"][1] is None and relu["xi_c"][2] is None  # q grows without bound
    assert "no fixed point" in relu["note"]


def test_relu_with_biases_draws_no_critical_line(tmp_path):
    ex.phase([2, 3], weight_vars=[0.5, 1.0], bias_var=0.1, seeds=1, out_dir=tmp_path,
             progress=False, remedy={"activation": "relu"})
    doc = json.loads((tmp_path / "phase.json").read_text())
    assert doc["theory"]["critical"] is None
    assert "no critical point" in doc["theory"]["note"]
    assert (tmp_path / "phase.png").is_file()


def test_a_cell_that_underflows_is_data(tmp_path, capsys):
    # 60 sigmoid layers of weights N(0, 1e-6/n_in): hidden 1's gradient underflows to 0
    res = ex.phase([60], weight_vars=[1e-6, 1.0], seeds=1, out_dir=tmp_path, progress=False)
    assert res.log_ratio()[0, 0] == -np.inf
    doc = json.loads((tmp_path / "phase.json").read_text())
    assert doc["median_log10_ratio"]["0"][0][0] is None
    assert doc["median_log10_ratio"]["0"][0][1] == pytest.approx(res.log_ratio()[0, 1])
    assert main(["phase", "--depths", "60", "--weight-vars", "1e-6", "--seeds", "1",
                 "--no-figures", "--out", str(tmp_path / "cli")]) == 0
    assert "-inf" in capsys.readouterr().out


def test_the_critical_grid_and_its_refusal():
    res = ex.phase([2], weight_vars="critical", seeds=1, progress=False)
    c = theory.critical_weight_var("sigmoid", 1.0)
    np.testing.assert_allclose(res.scales, [c * 2.0 ** k for k in range(-3, 4)])
    with pytest.raises(ValueError, match="no critical point with bias_var > 0"):
        ex.phase([2], weight_vars="critical", bias_var=0.1, remedy={"activation": "relu"},
                 progress=False)
    assert main(["phase", "--activation", "relu", "--bias-var", "0.1", "--weight-vars",
                 "critical"]) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"weight_vars": [1.0, float("nan")]}, "must be finite"),
    ({"weight_vars": [1.0], "bias_var": float("inf")}, "bias_var must be finite"),
    ({"weight_vars": [1.0], "scales": [1.0]}, "not both"),
    ({"weight_vars": [0.0]}, "> 0"),
])
def test_phase_refuses_bad_variances(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.phase([2], **kwargs, progress=False)


def test_a_sweep_that_does_not_fit_in_memory_is_refused():
    job = Job(sizes=(784, *[300] * 300, 10), seed=0)
    need = job_bytes(job, 1000)
    assert need > 3 * 8 * 1000 * 300 * 300  # every layer's z, a and delta of 1000 images
    check_memory([job], 1000, 1, limit=2 * need)
    with pytest.raises(ValueError, match=r"more than the limit of .* available"):
        check_memory([job, job], 1000, 2, limit=2 * need - 1)
    # a thousand deep jobs of 10^9 epochs each: their speeds and rms alone would need
    # 4e16 bytes, more than any machine has
    many = [Job(sizes=(784, *[30] * 900, 10), seed=s, epochs=10**9) for s in range(1000)]
    with pytest.raises(ValueError, match="memory"):
        check_memory(many, 1000, 1)


def test_trainability_follows_6_xi_c_on_the_ordered_side(tmp_path):
    # tanh, sigma_b^2 = 0.05, sigma_w^2 = 0.5: 6 xi_c = 7.1 layers; at sigma_w^2 = 1.5 it
    # is 95. Two hidden layers train at both; 20 train only where 20 < 6 xi_c.
    res = ex.trainability([0.5, 1.5], [2, 20], width=100, steps=300, out_dir=tmp_path,
                          progress=False)
    six = res.trainable_depth()
    assert six[0] == pytest.approx(6 * theory.depth_scales("tanh", 0.5, 0.05).xi_c)
    assert six[0] < 20 < six[1]
    acc = res.median()
    assert acc[0, 0] > 0.7 and acc[0, 1] > 0.7  # shallow: both train
    assert acc[1, 0] < 0.3 < 0.5 < acc[1, 1]  # deep: only inside 6 xi_c
    doc = json.loads((tmp_path / "trainability.json").read_text())
    assert doc["median_test_accuracy"] == acc.tolist()
    assert doc["settings"]["steps"] == res.steps >= 300
    assert (tmp_path / "trainability.png").read_bytes()[:4] == b"\x89PNG"


def test_trainability_command(tmp_path, capsys):
    assert main(["phase", "--trainability", "--depths", "2", "--weight-vars", "1", "--width",
                 "20", "--steps", "40", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "6 xi_c" in out and "chi1 = 1 at sigma_w^2 = 1.761" in out
    assert main(["phase", "--trainability", "--scales", "1"]) == 2


@pytest.mark.parametrize("flags", [["--momentum", "0.9"], ["--dropout", "0.1"],
                                   ["--init", "he"], ["--nesterov", "--momentum", "0.5"]])
def test_trainability_refuses_the_update_and_init_flags(flags, capsys):
    assert main(["phase", "--trainability", *flags]) == 2
    err = capsys.readouterr().err
    assert "--trainability" in err and "does not take" in err and flags[0] in err
