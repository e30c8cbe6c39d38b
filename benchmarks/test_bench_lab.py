"""The default runs of ``gradcore predict``, ``gradcore phase`` (now with the rms and the
theory) and ``gradcore phase --trainability``, each timed once and held to its result.

Each asserts what the run is for: the theory's ratio beside the measured ones at the
book's initialisation; the phase diagram's vanishing corner and its critical line; nets
that train inside the depth 6·ξ_c and not far outside it (Schoenholz et al. 2017).
"""

from __future__ import annotations

import math

import numpy as np

from gradcore import experiments as ex
from gradcore import theory


def test_predict_default(benchmark):
    benchmark.group = "lab defaults"
    res = benchmark.pedantic(ex.predict, kwargs={"progress": False}, rounds=3, iterations=1)
    assert round(res.nominal, 3) == 0.205
    for m in ("speed", "rms"):
        _, lo, hi = res.summary(m)
        assert np.all((lo < res.nominal) & (res.nominal < hi))


def test_phase_default(benchmark, tmp_path):
    benchmark.group = "lab defaults"
    res = benchmark.pedantic(ex.phase, kwargs={"progress": False, "out_dir": tmp_path},
                             rounds=1, iterations=1)
    speed, rms = res.log_ratio(0), res.log_ratio(0, "rms")
    assert speed.shape == rms.shape == (10, 8)
    assert np.all(speed[1:, :4] < 0) and np.all(rms[1:, :4] < 0)  # vanishing is the rule
    # 10 hidden layers at s = 1: 9 steps of sqrt(chi1) = 0.205, within a quarter decade
    want = 9 * math.log10(math.sqrt(theory.chi1("sigmoid", 1.0, 1.0)))
    assert abs(rms[9, 2] - want) < 0.25
    assert (tmp_path / "phase.png").is_file()


def test_trainability_default(benchmark):
    benchmark.group = "lab defaults"
    res = benchmark.pedantic(ex.trainability, kwargs={"progress": False}, rounds=1,
                             iterations=1)
    acc, six = res.median(), res.trainable_depth()
    assert acc.shape == (6, 7)
    assert np.all(acc[0] > 0.7)  # two hidden layers train at every sigma_w^2
    for j, limit in enumerate(six):
        for i, d in enumerate(res.depths):
            if limit is not None and d > 2 * limit:  # far outside 6 xi_c: at chance
                assert acc[i, j] < 0.35, (d, res.weight_vars[j], acc[i, j])
