"""Many trainings at once: chapter5 over a few seeds, one job at a time against all jobs.

The experiment runner trains independent jobs side by side, one kernel thread each; the
results are the same bits whatever the job count. Quick settings (4 seeds, 100 epochs); the
the docs' figures come from ``gradcore chapter5 --seeds 8`` and ``--seeds 20`` at 500 epochs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from gradcore import experiments

SEEDS, EPOCHS = 4, 100
ALL_JOBS_FLOOR = 1.6  # on two idle cores


def _chapter5(n_jobs: int | None) -> experiments.Chapter5Result:
    return experiments.chapter5(None, seeds=SEEDS, epochs=EPOCHS, figures=False,
                                n_jobs=n_jobs, progress=False)


@pytest.fixture(scope="module")
def one_job_result() -> experiments.Chapter5Result:
    return _chapter5(1)


@pytest.mark.speed_ratio(baseline="1-job", floors={"all-jobs": ALL_JOBS_FLOOR})
@pytest.mark.parametrize("impl", ["1-job", "all-jobs"])
def test_chapter5_jobs(benchmark, impl, one_job_result, gradient_descent):
    if impl == "all-jobs" and (os.cpu_count() or 1) < 2:
        pytest.skip("jobs side by side need two cores")
    benchmark.group = f"chapter5, {SEEDS} seeds x 3 nets, {EPOCHS} epochs"
    result = benchmark.pedantic(_chapter5, args=(1 if impl == "1-job" else None,),
                                rounds=3, iterations=1)
    for k, net in result.nets.items():
        assert np.array_equal(net.speeds, one_job_result.nets[k].speeds)  # same bits
        want = gradient_descent(net.sizes, 1_000, EPOCHS)  # seed 0 against the reference
        np.testing.assert_allclose(net.speeds[0], want.speeds, rtol=1e-9)
