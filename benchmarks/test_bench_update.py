"""The update's cost: one SGD epoch of [784,30,30,10], m = 10, on 50,000 images, one kernel
thread, with each update option, against the plain SGD epoch in the same run; and each
against its NumPy reference.

Floors (sgd's median time / the option's): momentum and Nesterov 1/1.15 (within 1.15x the
SGD epoch); Sutskever's schedule 1/1.02 beside Nesterov with a constant μ (free: one number
per mini-batch); clipping 1/1.35 (it needs the whole gradient before any weight moves, so
the update is not fused); dropout 1/1.25. Against the reference: every option at least 3x.
Every benchmark checks its first 100 mini-batches against the reference to 1e-12 and the
whole epoch's cost to 1 % (see test_bench_activations.py for why not the whole epoch).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import _core
from gradcore import reference as ref

SIZES = [784, 30, 30, 10]
N, M, ETA, LMBDA = 50_000, 10, 0.1, 5.0
CHECKED = 100
OPTIONS = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "sutskever": {"momentum": 0.99, "nesterov": True, "schedule": "sutskever"},
    "clipping": {"clip_norm": 1.0},
    "dropout": {"dropout": 0.2, "seed": 3},
}
FLOORS = {"momentum": 1 / 1.15, "nesterov": 1 / 1.15, "clipping": 1 / 1.35,
          "dropout": 1 / 1.25}


def _kernel_options(name):
    o = dict(OPTIONS[name])
    if not o:
        return None
    if "schedule" in o:
        o["schedule"] = 1
    return {**_core.UPDATE_DEFAULTS, **o}


def _reference(net, X, Y, perm, name):
    """(parameters, cost sum) after the reference's epoch over perm with the option."""
    o = dict(OPTIONS[name])
    W = [w.copy() for w in net.weights]
    B = [b.copy() for b in net.biases]
    V = ([np.zeros_like(w) for w in W], [np.zeros_like(b) for b in B], [None, None]) \
        if o.get("momentum") else None
    _, cost, _ = ref.sgd_epoch(W, B, X, Y, perm, M, ETA, LMBDA, "cross_entropy",
                               momentum=o.get("momentum", 0.0),
                               nesterov=o.get("nesterov", False),
                               schedule=o.get("schedule"), clip_norm=o.get("clip_norm"),
                               dropout=o.get("dropout", 0.0), seed=o.get("seed", 0),
                               velocity=V)
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)]), cost


@pytest.fixture(scope="module")
def reference_results(epoch_50k):
    X, Y, perm = epoch_50k
    start = gradcore.Network(SIZES, seed=1)
    return {o: (_reference(start, X, Y, perm[:CHECKED * M], o)[0],
                _reference(start, X, Y, perm, o)[1]) for o in OPTIONS}


@pytest.mark.speed_ratio(baseline="sgd", floors=FLOORS)
@pytest.mark.parametrize("impl", [o for o in OPTIONS if o != "sutskever"])
def test_update_epoch(benchmark, impl, epoch_50k, reference_results, kernel_epoch):
    benchmark.group = f"SGD epoch 784-30-30-10 by update ({N:,} images, m = {M})"
    epoch = kernel_epoch(gradcore.Network(SIZES, seed=1), epoch_50k,
                         update=_kernel_options(impl))
    with gradcore.thread_limit(1):
        cost = benchmark(epoch)
    epoch.check(cost, *reference_results[impl])


@pytest.mark.speed_ratio(baseline="nesterov", floors={"sutskever": 1 / 1.02})
@pytest.mark.parametrize("impl", ["nesterov", "sutskever"])
def test_schedule_is_free(benchmark, impl, epoch_50k, reference_results, kernel_epoch):
    benchmark.group = f"SGD epoch 784-30-30-10 Sutskever's schedule ({N:,} images, m = {M})"
    epoch = kernel_epoch(gradcore.Network(SIZES, seed=1), epoch_50k,
                         update=_kernel_options(impl))
    with gradcore.thread_limit(1):
        cost = benchmark(epoch)
    epoch.check(cost, *reference_results[impl])


@pytest.mark.speed_ratio(baseline="reference", floors={"native": 3.0})
@pytest.mark.parametrize("impl", ["native", "reference"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_update_against_reference(benchmark, option, impl, epoch_50k, reference_results,
                                  kernel_epoch):
    X, Y, perm = epoch_50k
    benchmark.group = f"SGD epoch 784-30-30-10 {option} ({N:,} images, m = {M})"
    if impl == "reference":
        start = gradcore.Network(SIZES, seed=1)
        _, cost = benchmark.pedantic(_reference, args=(start, X, Y, perm, option), rounds=3)
        assert cost == reference_results[option][1]
    else:
        epoch = kernel_epoch(gradcore.Network(SIZES, seed=1), epoch_50k,
                             update=_kernel_options(option))
        with gradcore.thread_limit(1):
            cost = benchmark(epoch)
        epoch.check(cost, *reference_results[option])
