"""The default runs of ``gradcore saturation`` (Glorot & Bengio 2010) and ``gradcore
isometry`` (Saxe et al. 2014; Pennington et al. 2017), once each, every job side by side.
Each asserts what its paper claims, so a fast wrong answer fails: the sigmoid's top hidden
layer driven towards 0 while the layers below rise, the layer Jacobians' mean singular
values near 0.5 and 0.8, and the spreads of the Jacobians' spectra (0 for a linear net with
orthogonal weights, growing with depth for the ReLU whatever the weights)."""

from __future__ import annotations

import numpy as np
import pytest

from gradcore import experiments as ex
from gradcore.experiments.saturation import NORMALIZED, STANDARD


def test_saturation_default(benchmark, tmp_path):
    benchmark.group = "saturation, default run"
    res = benchmark.pedantic(ex.saturation, args=(tmp_path,), kwargs={"progress": False},
                             rounds=1, iterations=1)
    top = res.at("sigmoid", "mean", res.settings["updates"])
    assert top[-1] < 0.15 and np.all(top[:-1] > 0.49)
    assert res.mean_singular_value(STANDARD) == pytest.approx(0.49, abs=0.03)
    assert res.mean_singular_value(NORMALIZED) == pytest.approx(0.8, abs=0.06)


def test_isometry_default(benchmark, tmp_path):
    benchmark.group = "isometry, default run"
    res = benchmark.pedantic(ex.isometry, args=(tmp_path,), kwargs={"progress": False},
                             rounds=1, iterations=1)
    assert np.all(res.spread_band("linear", "orthogonal", 100)[0] < 1e-20)
    relu = res.spread_band("relu", "orthogonal", 100)[0]
    assert relu[-1] > 20 * relu[0]
    tanh_o = res.spread_band("tanh", "orthogonal", 100)[0]
    tanh_g = res.spread_band("tanh", "gaussian", 100)[0]
    assert np.all(tanh_o < 0.1 * tanh_g)
