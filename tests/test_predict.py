"""gradcore predict: mean-field theory's gradient ratio beside the measured ones."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import gradcore
from gradcore import experiments as ex
from gradcore import theory
from gradcore.cli import main

BOOK = (784, 30, 30, 30, 30, 10)
K = 12


@pytest.fixture(scope="module")
def book():
    return ex.predict(seeds=K, progress=False)


def test_the_theory_predicts_the_book_net_s_ratios(book):
    # Poole et al. 2016 / Schoenholz et al. 2017: sqrt(chi1) = 0.205 at the book's init
    assert book.nominal == pytest.approx(math.sqrt(theory.chi1("sigmoid", 1.0, 1.0)))
    assert round(book.nominal, 3) == 0.205
    for measure in ("speed", "rms"):
        med, lo, hi = book.summary(measure)
        r = book.ratios[measure]
        # the tolerance is the median's own standard error over these K seeds (1.2533 sd
        # of the seeds / sqrt(K), the sd from the seeds' spread), three times over
        sd = np.std(r, axis=0, ddof=1)
        tol = 3 * 1.2533 * sd / math.sqrt(K)
        assert np.all(np.abs(med - book.nominal) < tol), (measure, med, tol)
        assert np.all(lo <= med) and np.all(med <= hi)
    # each seed's net has slightly different variances: theory within 10 % of 0.205
    np.testing.assert_allclose(book.ratios["theory"], 0.205, rtol=0.1)


def test_each_ratio_is_that_of_the_seed_s_own_network(book, mnist1000):
    X, y = mnist1000
    for i in (0, K - 1):
        net = gradcore.Network(BOOK, seed=book.seeds[i])
        s, g = net.learning_speeds(X, y), net.gradient_rms(X, y)
        np.testing.assert_allclose(book.ratios["speed"][i], s[:3] / s[1:4], rtol=1e-12)
        np.testing.assert_allclose(book.ratios["rms"][i], g[:3] / g[1:4], rtol=1e-12)
        np.testing.assert_allclose(book.ratios["theory"][i], theory.predicted_ratios(net),
                                   rtol=1e-12)


def test_tanh_without_biases_has_chi1_equal_to_weight_var():
    r = ex.predict((784, 30, 30, 10), activation="tanh", init=gradcore.Gaussian(0.5, 0.0),
                   seeds=2, progress=False)
    assert r.nominal == pytest.approx(math.sqrt(0.5), rel=1e-9)  # closed form: chi1 = sw^2


def test_bias_var_replaces_the_init_s_biases():
    r = ex.predict((784, 30, 30, 10), init=2.0, bias_var=0.25, seeds=1, progress=False)
    assert r.results[0].job.init == gradcore.Gaussian(4.0, 0.25)
    assert r.nominal == pytest.approx(math.sqrt(theory.chi1("sigmoid", 4.0, 0.25)))


def test_predict_writes_csv_json_and_figure(tmp_path, book):
    r = ex.predict((784, 30, 30, 30, 10), seeds=3, out_dir=tmp_path, progress=False)
    with open(tmp_path / "predict.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["seed", "pair", "theory", "speed", "rms"]
    assert len(rows) - 1 == 3 * 2
    assert [float(v) for v in rows[1][2:]] == [r.ratios[m][0, 0]
                                              for m in ("theory", "speed", "rms")]
    doc = json.loads((tmp_path / "predict.json").read_text())
    assert doc["pairs"] == ["1/2", "2/3"]
    assert doc["table"][0]["speed"]["median"] == pytest.approx(r.summary("speed")[0][0])
    assert (tmp_path / "predict.png").read_bytes()[:4] == b"\x89PNG"


def test_a_ratio_that_is_not_finite_is_null_in_json(tmp_path):
    # sigmoid weights N(0, 1e-30/n_in) over 4 hidden layers: the first layers' gradients
    # underflow to zero, so their ratio is 0/0
    r = ex.predict((784, 30, 30, 30, 30, 10), init=gradcore.Gaussian(1e-300, 1.0), seeds=2,
                   out_dir=tmp_path, progress=False)
    assert not np.all(np.isfinite(r.ratios["speed"]))
    doc = json.loads((tmp_path / "predict.json").read_text())
    assert None in [row["speed"]["median"] for row in doc["table"]]


@pytest.mark.parametrize("kwargs, match", [
    ({"sizes": (784, 30, 10)}, "at least 2 hidden"),
    ({"init": "glorot", "bias_var": 0.1}, "bias_var applies"),
    ({"bias_var": float("nan")}, "bias_var must be finite"),
    ({"activation": "swish"}, "activation"),
    ({"seeds": 0}, "seeds"),
])
def test_predict_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.predict(**kwargs, progress=False)


def test_the_command_prints_the_table(tmp_path, capsys):
    assert main(["predict", "784,30,30,10", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "theory" in out and "1/2" in out and "sqrt(chi1)" in out
    assert main(["predict", "784,30,10"]) == 2
    assert main(["predict", "--init", "glorot", "--bias-var", "0.1"]) == 2
    assert main(["predict", "--bias-var", "inf"]) == 2


def test_chapter5_prints_the_theory_beside_the_measured_ratio(capsys):
    assert main(["chapter5", "--epochs", "2", "--seeds", "2", "--no-figures", "--out",
                 str(__import__("tempfile").mkdtemp())]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("[784, 30, 30, 30, 30, 10]")
                and l.endswith("x"))  # the training table's epoch-0 row
    # the theory's last/first ratio: 1 / product of predicted_ratios, median of the seeds
    want = np.median([1 / np.prod(theory.predicted_ratios(gradcore.Network(BOOK, seed=s)))
                      for s in (0, 1)])
    assert line.split()[-1] == f"{want:.1f}x"
