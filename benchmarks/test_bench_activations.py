"""The remedies' cost: one SGD epoch of [784,30,30,10], m = 10, on 50,000 images, one kernel
thread, for every hidden activation, the softmax output and the gradient-rms monitor,
against the sigmoid epoch measured in the same run; and each against its NumPy reference.

Floors (ratio of medians, sigmoid's time / the configuration's, so 1.0 is as fast):
tanh, softsign and ELU 1/1.1 (within 1.1x the sigmoid epoch); ReLU, leaky ReLU, PReLU and
linear 1.0 (no slower); the softmax output 1/1.05; the epoch without the gradient-rms
monitor against the one with it, 1/1.03 (the monitor costs at most 3 %). Against the
reference: every configuration at least 3x.

Every benchmark checks its result against the reference's: the first 100 mini-batches'
parameters to 1e-12, and the whole epoch's cost to 1 %. (Not the whole epoch's parameters:
two trajectories that differ by an ulp per step part exponentially over 5,000 steps in some
of these nets, softsign's among them, which says nothing about the kernels.)
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import reference as ref

SIZES = [784, 30, 30, 10]
N, M, ETA, LMBDA = 50_000, 10, 0.1, 5.0
SLOW = ("tanh", "softsign", "elu")
FAST = ("relu", "leaky_relu", "prelu", "linear")
CONFIGS = {"sigmoid": ("sigmoid", "sigmoid"), "softmax": ("sigmoid", "softmax"),
           **{a: (a, "sigmoid") for a in SLOW + FAST}}
FLOORS = {**{a: 1 / 1.1 for a in SLOW}, **{a: 1.0 for a in FAST}, "softmax": 1 / 1.05}


def _start(config):
    act, out = CONFIGS[config]
    init = "default" if act in ("sigmoid", "tanh", "softsign", "linear") else 1.4
    return gradcore.Network(SIZES, activation=act, output=out, seed=1, init=init)


CHECKED = 100  # mini-batches whose parameters are compared (KernelEpoch.CHECKED)


def _reference_epoch(net, X, Y, perm):
    """(parameters, cost sum) after the reference's epoch over perm."""
    W = [w.copy() for w in net.weights]
    B = [b.copy() for b in net.biases]
    S = [None if s is None else s.copy() for s in net.slopes]
    _, cost, _ = ref.sgd_epoch(W, B, X, Y, perm, M, ETA, LMBDA, net.cost, net.activations,
                               net.output, S)
    return (np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(W, B)]
                           + [s for s in S if s is not None]), cost)


@pytest.fixture(scope="module")
def reference_params(epoch_50k):
    """Per configuration: (parameters after CHECKED mini-batches, the whole epoch's cost)."""
    X, Y, perm = epoch_50k
    return {c: (_reference_epoch(_start(c), X, Y, perm[:CHECKED * M])[0],
                _reference_epoch(_start(c), X, Y, perm)[1]) for c in CONFIGS}


@pytest.mark.speed_ratio(baseline="sigmoid", floors=FLOORS)
@pytest.mark.parametrize("impl", list(CONFIGS))
def test_activation_epoch(benchmark, impl, epoch_50k, reference_params, kernel_epoch):
    benchmark.group = f"SGD epoch 784-30-30-10 by activation ({N:,} images, m = {M})"
    epoch = kernel_epoch(_start(impl), epoch_50k)
    with gradcore.thread_limit(1):
        cost = benchmark(epoch)
    epoch.check(cost, *reference_params[impl])


@pytest.mark.speed_ratio(baseline="reference", floors={"native": 3.0})
@pytest.mark.parametrize("impl", ["native", "reference"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_activation_against_reference(benchmark, config, impl, epoch_50k,
                                      reference_params, kernel_epoch):
    X, Y, perm = epoch_50k
    benchmark.group = f"SGD epoch 784-30-30-10 {config} ({N:,} images, m = {M})"
    if impl == "reference":
        net = _start(config)
        _, cost = benchmark.pedantic(_reference_epoch, args=(net, X, Y, perm), rounds=3)
        assert cost == reference_params[config][1]
    else:
        epoch = kernel_epoch(_start(config), epoch_50k)
        with gradcore.thread_limit(1):
            cost = benchmark(epoch)
        epoch.check(cost, *reference_params[config])


@pytest.mark.speed_ratio(baseline="without-monitor", floors={"with-monitor": 1 / 1.03})
@pytest.mark.parametrize("impl", ["without-monitor", "with-monitor"])
def test_gradient_rms_monitor(benchmark, impl, epoch_50k, reference_params, kernel_epoch):
    benchmark.group = f"SGD epoch 784-30-30-10 gradient-rms monitor ({N:,} images, m = {M})"
    epoch = kernel_epoch(_start("sigmoid"), epoch_50k, monitor=impl == "with-monitor")
    with gradcore.thread_limit(1):
        cost = benchmark(epoch)
    epoch.check(cost, *reference_params["sigmoid"])
