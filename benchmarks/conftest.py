"""Benchmark fixtures, and the speed ratios checked when a benchmark session ends.

    pytest --benchmark-only                                     # every benchmark
    pytest benchmarks/test_bench_contention.py --benchmark-only  # one file alone

Plain ``pytest`` deselects the benchmarks and ``pytest --benchmark-only`` deselects every
other test: pytest-benchmark alone would list the other kind as skipped, one line each.

Every benchmark asserts its result (against ``gradcore.reference``, or for threads against
the same computation done one after the other), so a fast wrong answer fails. The
implementations compared within a group are the test's ``impl`` parameter. A test marked
``speed_ratio(baseline=..., floors={impl: x})`` has, in each of its groups, every other
implementation compared with ``baseline``: the ratio of the medians measured in this session
(baseline / impl, so 3x means three times as fast). When the session ends the terminal
summary lists these ratios, and an implementation below its floor fails the run (exit
status 1) with a line saying by how much. ``--speed-floors=report`` lists a shortfall
without failing: for a machine shared with other work, such as CI's.

NumPy's BLAS runs on one thread throughout (threadpoolctl, as in ``compare.py``), so the
reference's idle BLAS threads do not compete with gradcore's threads for the cores and the
mini-batch ratios do not depend on how many cores are idle.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest

import gradcore
from gradcore import reference as ref
from gradcore.datasets import load_mnist, mnist_first_1000

ETA, LMBDA = 0.1, 5.0
FULL_BATCH_SIZES = [784, 30, 30, 10]
# gradcore.set_num_threads for the impl names of the thread benchmarks (0: the default)
THREADS = {"1-thread": 1, "all-threads": os.cpu_count() or 1, "default-threads": 0}


# --------------------------------------------------------------- which tests run


def pytest_collection_modifyitems(config, items):
    """With --benchmark-only keep the benchmarks only; otherwise (--benchmark-skip, set in
    addopts) keep everything else. Deselected, not skipped: one word in the summary."""
    only = config.getoption("benchmark_only")
    if not (only or config.getoption("benchmark_skip")):
        return  # e.g. addopts overridden: pytest-benchmark decides alone
    keep, drop = [], []
    for item in items:
        is_benchmark = "benchmark" in getattr(item, "fixturenames", ())
        (keep if is_benchmark == only else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ------------------------------------------------------------------- speed ratios


def pytest_addoption(parser):
    parser.addoption("--speed-floors", choices=("fail", "report"), default="fail",
                     help="a benchmark group below its speed floor fails the run (fail, the "
                          "default) or is only listed (report)")


@dataclass
class Shortfall:
    group: str
    impl: str
    baseline: str
    ratio: float
    floor: float
    t_impl: float
    t_base: float

    def __str__(self) -> str:
        limit = (f" (at most {100 * (1 / self.floor - 1):.0f} % slower)"
                 if self.floor < 1 else "")
        return (f"{self.group}: {self.impl} is {self.ratio:.2f}x as fast as {self.baseline} "
                f"(medians {_seconds(self.t_impl)} vs {_seconds(self.t_base)}), "
                f"{100 * (1 - self.ratio / self.floor):.0f} % short of the {self.floor:.2f}x "
                f"floor{limit}")


class SpeedRatios:
    """Medians of this session's benchmarks by group and impl, with each group's baseline
    and floors (from the test's ``speed_ratio`` marker)."""

    def __init__(self) -> None:
        self.medians: dict[str, dict[str, float]] = defaultdict(dict)
        self.baseline: dict[str, str] = {}
        self.floors: dict[str, dict[str, float]] = {}

    def add(self, group: str, impl: str, median: float, baseline: str,
            floors: dict[str, float] | None = None) -> None:
        self.medians[group][impl] = median
        self.baseline[group] = baseline
        self.floors[group] = floors or {}

    def ratios(self, group: str) -> dict[str, float]:
        """baseline median / impl median for every other impl of the group."""
        times = self.medians[group]
        base = times.get(self.baseline[group])
        if base is None:
            return {}
        return {impl: base / t for impl, t in times.items() if impl != self.baseline[group]}

    def shortfalls(self) -> list[Shortfall]:
        out = []
        for group, floors in self.floors.items():
            ratios = self.ratios(group)
            for impl, floor in floors.items():
                if impl in ratios and ratios[impl] < floor:
                    times = self.medians[group]
                    out.append(Shortfall(group, impl, self.baseline[group], ratios[impl],
                                         floor, times[impl], times[self.baseline[group]]))
        return out

    def lines(self) -> list[str]:
        out = []
        for group in self.medians:
            parts = []
            for impl, r in self.ratios(group).items():
                floor = self.floors[group].get(impl)
                parts.append(f"{impl} {r:.2f}x" + (f" (floor {floor:.2f}x)" if floor else ""))
            out.append(f"{group}, against {self.baseline[group]}: "
                       f"{', '.join(parts) or 'did not run'}")
        return out


RATIOS = pytest.StashKey[SpeedRatios]()


def _seconds(t: float) -> str:
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.3f} s"


def pytest_configure(config):
    config.stash[RATIOS] = SpeedRatios()


@pytest.fixture(autouse=True)
def _record_median(request):
    """After a benchmark of a test marked speed_ratio: note its median for its group."""
    yield
    marker = request.node.get_closest_marker("speed_ratio")
    bench = request.node.funcargs.get("benchmark")
    if marker is None or bench is None or bench.stats is None:
        return
    request.config.stash[RATIOS].add(bench.stats.group, request.node.callspec.params["impl"],
                                     bench.stats.stats.median, **marker.kwargs)


def pytest_sessionfinish(session):
    config = session.config
    if (config.getoption("speed_floors") == "fail" and config.stash[RATIOS].shortfalls()
            and session.exitstatus == pytest.ExitCode.OK):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter, config):
    ratios = config.stash[RATIOS]
    if not ratios.medians:
        return
    terminalreporter.section("speed ratios (baseline median / median, this session)")
    for line in ratios.lines():
        terminalreporter.line(line)
    shortfalls = ratios.shortfalls()
    fail = config.getoption("speed_floors") == "fail"
    for s in shortfalls:
        terminalreporter.line(f"BELOW FLOOR {s}" + ("" if fail else " (--speed-floors=report)"),
                              red=fail, yellow=not fail, bold=True)
    if shortfalls:  # counted in the last line: "36 passed, 1 below speed floor"
        terminalreporter.stats.setdefault("below speed floor", []).extend(shortfalls)


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session", autouse=True)
def _blas_on_one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def mnist():
    """mnist(n) -> (X, y, Y one-hot): n = 1,000 is the embedded images; more come from full
    MNIST's training set in $GRADCORE_DATA (skips with a message when it is absent)."""

    @functools.cache
    def load(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if n == 1_000:
            X, y = mnist_first_1000()
        else:
            path = os.environ.get("GRADCORE_DATA")
            if not path or not pathlib.Path(path).is_dir():
                pytest.skip(f"{n:,} images need full MNIST: set GRADCORE_DATA to the folder "
                            "of the four IDX files")
            X, y = load_mnist(path).training
            X, y = X[:n], y[:n]
        return X, y, np.eye(10)[y]

    return load


@dataclass
class Descent:
    """Full-batch gradient descent in gradcore.reference from Network(sizes, seed=0)."""

    start: np.ndarray  # parameters before, gradcore's layout
    params: np.ndarray  # parameters after
    speeds: np.ndarray  # (epochs, layers): the speeds before each epoch's update


@pytest.fixture(scope="session")
def gradient_descent(mnist):
    """gradient_descent(sizes, n, epochs) -> Descent on n images, eta 0.1, lambda 5.0."""

    @functools.cache
    def descend(sizes: tuple[int, ...], n: int, epochs: int) -> Descent:
        X, _, Y = mnist(n)
        net = gradcore.Network(sizes, seed=0)
        start = net.params.copy()
        w, b = [a.copy() for a in net.weights], [a.copy() for a in net.biases]
        speeds = []
        for _ in range(epochs):
            speed_sums, _, _ = ref.sgd_epoch(w, b, X, Y, np.arange(n), n, ETA, LMBDA,
                                             "cross_entropy")
            speeds.append([np.linalg.norm(s) for s in speed_sums])
        for l, (wl, bl) in enumerate(zip(w, b)):
            net.weights[l][...], net.biases[l][...] = wl, bl
        return Descent(start, net.params.copy(), np.array(speeds))

    return lambda sizes, n, epochs: descend(tuple(sizes), n, epochs)


@pytest.fixture(scope="session")
def full_batch_epoch(mnist, gradient_descent):
    """full_batch_epoch(n) -> (run, check): run() is one epoch of gradcore.train with
    m = n on n images for [784,30,30,10], from the same weights every call; check(result)
    compares its update of the weights with gradcore.reference's."""

    def make(n: int):
        X, y, _ = mnist(n)
        want = gradient_descent(FULL_BATCH_SIZES, n, 1)
        net = gradcore.Network(FULL_BATCH_SIZES, seed=0)

        def run() -> gradcore.TrainResult:
            net.params[...] = want.start
            return gradcore.train(net, X, y, epochs=1, batch_size=n, eta=ETA, lmbda=LMBDA,
                                  seed=0)

        def check(result: gradcore.TrainResult) -> None:
            got, step = result.network.params - want.start, want.params - want.start
            np.testing.assert_allclose(got, step, rtol=0, atol=1e-9 * np.abs(step).max())

        return run, check

    return make


@pytest.fixture
def gradcore_threads(impl):
    """gradcore's thread count for the test's impl (THREADS); the default again after."""
    gradcore.set_num_threads(THREADS[impl])
    yield THREADS[impl]
    gradcore.set_num_threads(0)


# ------------------------------------------------------ one epoch of 50,000 images, m = 10
# (test_bench_activations.py and test_bench_update.py: every choice against the sigmoid
# epoch with plain SGD, and against its reference)


@pytest.fixture(scope="session")
def epoch_50k(mnist):
    """(X, Y one-hot, perm): 50,000 training images, aligned, in one fixed order."""
    from gradcore import kernels

    X, _, Y = mnist(50_000)
    perm = np.random.default_rng(0).permutation(len(X)).astype(np.int64)
    return kernels.aligned(X), kernels.aligned(Y), perm


class KernelEpoch:
    """The kernels' SGD epoch (m = 10, η = 0.1, λ = 5.0) of ``net`` from the same start at
    every call, with the gradient-rms monitor (unless ``monitor`` is False) and the update's
    options ``update`` (``_core.UPDATE_DEFAULTS``' keys; None: plain SGD); returns the
    epoch's cost sum. ``check`` holds a timed epoch to the reference's."""

    M = 10
    CHECKED = 100  # mini-batches whose parameters are compared

    def __init__(self, net, data, *, monitor=True, update=None):
        self.net, (self.X, self.Y, self.perm) = net, data
        self.p0 = net.params.copy()
        self.vel = np.zeros_like(self.p0)
        self.sq = np.zeros(net.n_layers) if monitor else None
        self.update = update

    def __call__(self, perm=None):
        from gradcore import kernels

        net = self.net
        net.params[...] = self.p0
        self.vel[...] = 0
        _, cost, _ = kernels._sgd_epoch(net.architecture, net.params, self.X, self.Y,
                                        self.perm if perm is None else perm, self.M, ETA,
                                        LMBDA, np.zeros(sum(net.sizes[1:])), self.sq, -1,
                                        None, self.vel if self.update else None, self.update)
        return cost

    def check(self, cost, want_params, want_cost):
        """The timed epoch's cost within 1 % of the reference's, and the first CHECKED
        mini-batches' parameters within 1e-12 (whole trajectories of ulp-different steps
        part exponentially over 5,000 steps in some nets, which says nothing of the
        kernels)."""
        assert cost == pytest.approx(want_cost, rel=1e-2)
        self(self.perm[:self.CHECKED * self.M])
        np.testing.assert_allclose(self.net.params, want_params, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="session")
def kernel_epoch():
    """The KernelEpoch class (a fixture, so that benchmark modules need not import this
    one)."""
    return KernelEpoch
