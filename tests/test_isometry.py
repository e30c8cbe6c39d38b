"""Dynamical isometry (Saxe et al. 2014; Pennington, Schoenholz & Ganguli 2017): the
Jacobian against finite differences, and the papers' claims on small nets."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments.isometry import predicted_spread, spread
from gradcore.experiments.jacobian import input_output_jacobian, jacobian_spectra


@pytest.mark.parametrize("activation", ["tanh", "relu", "softsign", "sigmoid"])
def test_the_jacobian_is_the_finite_difference_of_the_last_hidden_layer(activation):
    net = gradcore.Network([6, 7, 5, 8, 3], activation=activation, init="lecun", seed=1)
    x = np.random.default_rng(0).standard_normal(6)

    def top(v):
        return net.forward_layers(v.reshape(1, -1))[1][-2][0]

    J = input_output_jacobian(net, x)
    h = 1e-6
    fd = np.array([(top(x + h * e) - top(x - h * e)) / (2 * h) for e in np.eye(6)]).T
    assert J.shape == (8, 6)
    assert np.allclose(J, fd, atol=1e-7, rtol=1e-6)
    spectra, layers = jacobian_spectra(net, x.reshape(1, -1))
    assert np.allclose(spectra[0], np.linalg.svd(fd, compute_uv=False), atol=1e-6)
    # Glorot & Bengio's layer Jacobians: dz(l+1)/dz(l) = W(l+1) diag(phi'(z(l)))
    z = net.forward_layers(x.reshape(1, -1))[0]
    d = gradcore.reference.activation_derivative(activation, gradcore.reference.activate(
        activation, z[0][0]), z[0][0])
    assert layers[0] == pytest.approx(np.linalg.svd(net.weights[1] * d,
                                                    compute_uv=False).mean())


@pytest.fixture(scope="module")
def small():
    return ex.isometry(activations=["linear", "relu", "tanh"], depths=[2, 16], widths=[200],
                       seeds=2, progress=False)


def test_linear_nets_with_orthogonal_weights_are_exactly_isometric(small):
    sv = small.singular_values("linear", "orthogonal", 200, 16)
    assert np.allclose(sv, 1.0, atol=1e-10)
    # with Gaussian weights the same net is far from it: var(sigma^2) grows as the depth
    assert spread(small.singular_values("linear", "gaussian", 200, 16)[:200]) > 8


def test_relu_cannot_reach_isometry_even_with_orthogonal_weights(small):
    mid2 = small.spread_band("relu", "orthogonal", 200)[0]
    # spread grows linearly with depth: v_D = 1 per layer (half the units are off)
    assert mid2[1] > 5 * mid2[0]
    assert mid2[1] == pytest.approx(16.0, rel=0.3)
    # and half the directions are lost at once: the Jacobian has rank about width/2
    sv = small.singular_values("relu", "orthogonal", 200, 2)[:200]
    assert np.sum(sv < 1e-8 * sv.max()) > 40


def test_tanh_is_nearly_isometric_only_with_orthogonal_weights(small):
    orth = small.spread_band("tanh", "orthogonal", 200)[0]
    gauss = small.spread_band("tanh", "gaussian", 200)[0]
    assert orth[1] < 0.1 * gauss[1]
    assert orth[1] < 1.0 < gauss[0]
    # both as free probability predicts (finite width 200: within 30 %)
    assert orth == pytest.approx(small.predicted("tanh", "orthogonal"), rel=0.3)
    assert gauss == pytest.approx(small.predicted("tanh", "gaussian"), rel=0.3)


def test_the_predicted_spread_matches_closed_forms_and_an_independent_integral():
    assert predicted_spread("linear", "orthogonal", 50, 0.0) == 0.0
    assert predicted_spread("linear", "gaussian", 50, 0.0) == pytest.approx(50.0)
    assert predicted_spread("relu", "orthogonal", 7, 0.0) == pytest.approx(7.0, rel=1e-9)
    assert predicted_spread("relu", "gaussian", 7, 0.0) == pytest.approx(14.0, rel=1e-9)
    q = gradcore.theory.q_star("tanh", gradcore.theory.critical_weight_var("tanh", 0.01), 0.01)
    u, w = np.polynomial.hermite_e.hermegauss(120)
    d = 1 - np.tanh(math.sqrt(q) * u) ** 2
    m2, m4 = np.sum(w * d ** 2), np.sum(w * d ** 4)
    v_d = m4 * np.sum(w) / m2 ** 2 - 1
    assert predicted_spread("tanh", "orthogonal", 10, 0.01) == pytest.approx(10 * v_d,
                                                                               rel=1e-8)


def test_isometry_writes_tidy_files_and_resumes(tmp_path):
    kw = dict(activations=["linear", "tanh"], depths=[1, 3], widths=[10], seeds=2,
              progress=False)
    res = ex.isometry(tmp_path, **kw)
    rows = list(csv.DictReader((tmp_path / "isometry.csv").read_text().splitlines()))
    assert len(rows) == 2 * 2 * 2 * 2 * 10  # activations x weights x depths x seeds x sv
    assert set(rows[0]) == {"activation", "weights", "width", "depth", "seed", "input",
                            "index", "singular_value"}
    doc = json.loads((tmp_path / "isometry.json").read_text())
    assert doc["settings"]["bias_var"] == {"linear": 0.0, "tanh": 1e-3}
    assert (tmp_path / "isometry_spread.png").stat().st_size > 1000
    again = ex.isometry(tmp_path, **kw)
    for cell, rs in res.results.items():
        for a, b in zip(rs, again.results[cell]):
            assert np.array_equal(a.jacobian, b.jacobian)


@pytest.mark.parametrize("kwargs, match", [
    (dict(activations=["relu"], bias_var={"relu": 0.1}), "no critical point"),
    (dict(activations=["tanh"], bias_var={"tanh": float("nan")}), "finite"),
    (dict(widths=[4096], depths=[900]), "multiply-adds"),
    (dict(depths=[0]), "depths"),
    (dict(activations=["tanh"], bias_var={"relu": 0.0}), "not in activations"),
])
def test_isometry_refuses_what_it_cannot_run(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.isometry(**kwargs, progress=False)


def test_isometry_command(tmp_path, capsys):
    assert main(["isometry", "--depths", "1,2", "--widths", "8", "--seeds", "1",
                 "--out", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "linear, orthogonal" in out and "Pennington" in out
    assert main(["isometry", "--activations", "relu", "--bias-var", "0.1"]) == 2
    assert "critical point" in capsys.readouterr().err
