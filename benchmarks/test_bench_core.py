"""Native float64/float32 against the NumPy reference: feedforward, gradient, one SGD epoch.

One benchmark group per operation and net size; each benchmark asserts its result. The SGD
epoch (m = 10) has a floor: gradcore float64 at least 3x as fast as the reference, measured
on the embedded 1,000 images for every net size and, with full MNIST, on 50,000 images for
[784,30,30,10] (the epoch of the performance page's table). The same epoch also runs
from arrays 16 bytes past a 64-byte boundary against aligned ones (no floor: what alignment
is worth depends on the CPU).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import _core, kernels
from gradcore import reference as ref

NETS = [[784, 30, 10], [784, 30, 30, 10], [784, 30, 30, 30, 10], [784, 30, 30, 30, 30, 10]]
EPOCHS = [(sizes, 1_000) for sizes in NETS] + [([784, 30, 30, 10], 50_000)]
IMPLS = ["native-f64", "native-f32", "reference"]
ETA, LMBDA, M = 0.1, 5.0, 10
FLOOR = 3.0  # gradcore float64 against the reference, one SGD epoch

against_reference = pytest.mark.speed_ratio(baseline="reference")


def net_id(sizes):
    return "-".join(map(str, sizes))


def _net(sizes, impl):
    dtype = np.float32 if impl == "native-f32" else np.float64
    return gradcore.Network(sizes, seed=1, dtype=dtype)


def _rtol(impl):
    return 1e-4 if impl == "native-f32" else 1e-10


@against_reference
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", NETS, ids=net_id)
def test_feedforward(benchmark, sizes, impl, mnist):
    X, _, _ = mnist(1_000)
    r = _net(sizes, "reference")
    want = ref.feedforward(list(r.weights), list(r.biases), X)
    net = _net(sizes, impl)
    benchmark.group = f"feedforward {net_id(sizes)} (1,000 images)"
    if impl == "reference":
        got = benchmark(ref.feedforward, list(net.weights), list(net.biases), X)
    else:
        got = benchmark(net.feedforward, X.astype(net.dtype))
    np.testing.assert_allclose(got, want, rtol=_rtol(impl),
                               atol=1e-6 if impl == "native-f32" else 0)


@against_reference
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", NETS, ids=net_id)
def test_gradient(benchmark, sizes, impl, mnist):
    X, y, Y = mnist(1_000)
    r = _net(sizes, "reference")
    want_w, _ = ref.gradient(list(r.weights), list(r.biases), X, Y, "cross_entropy")
    net = _net(sizes, impl)
    benchmark.group = f"gradient {net_id(sizes)} (1,000 images)"
    if impl == "reference":
        gw, _ = benchmark(ref.gradient, list(net.weights), list(net.biases), X, Y,
                          "cross_entropy")
    else:
        gw, _ = benchmark(net.gradient, X.astype(net.dtype), y)
    scale = max(np.abs(w).max() for w in want_w)
    for g, w in zip(gw, want_w):
        np.testing.assert_allclose(g, w, rtol=0, atol=scale * _rtol(impl))


@pytest.mark.speed_ratio(baseline="reference", floors={"native-f64": FLOOR})
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("sizes", "n"), EPOCHS,
                         ids=[f"{net_id(s)}-{n // 1000}k" for s, n in EPOCHS])
def test_sgd_epoch(benchmark, sizes, n, impl, mnist):
    """Each timed call starts from the same weights (a copy of under 1 % of the epoch)."""
    X, _, Y = mnist(n)
    perm = np.random.default_rng(0).permutation(n).astype(np.int64)
    start = _net(sizes, "reference")
    want_w = [w.copy() for w in start.weights]
    ref.sgd_epoch(want_w, [b.copy() for b in start.biases], X, Y, perm, M, ETA, LMBDA,
                  "cross_entropy")
    benchmark.group = f"SGD epoch {net_id(sizes)} ({n:,} images, m = {M})"
    if impl == "reference":
        def epoch():
            w = [a.copy() for a in start.weights]
            ref.sgd_epoch(w, [a.copy() for a in start.biases], X, Y, perm, M, ETA, LMBDA,
                          "cross_entropy")
            return w
    else:
        net = _net(sizes, impl)
        p0 = net.params.copy()
        Xc, Yc = kernels.aligned(X, net.dtype), kernels.aligned(Y, net.dtype)

        def epoch():
            net.params[...] = p0
            _core.sgd_epoch(net.architecture.core(), net.params, Xc, Yc, perm, M, ETA, LMBDA,
                            np.zeros(sum(sizes[1:])))
            return net.weights
    got_w = benchmark(epoch)
    # float32 rounding accumulates over the n / m mini-batches
    atol = 1e-5 * n / 1_000 if impl == "native-f32" else 1e-12
    for g, w in zip(got_w, want_w):
        np.testing.assert_allclose(g, w, rtol=_rtol(impl) * 10, atol=atol)


def _offset_copy(arr: np.ndarray, offset: int) -> np.ndarray:
    """A copy of arr whose data starts `offset` bytes past a 64-byte boundary."""
    raw = np.empty(arr.nbytes + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + offset
    out = raw[start:start + arr.nbytes].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    return out


@pytest.mark.speed_ratio(baseline="aligned")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("impl", ["aligned", "16-bytes-off"])
def test_sgd_epoch_alignment(benchmark, impl, dtype, mnist):
    """The SGD epoch of [784,30,30,10] on 50,000 images with X and the parameters at a
    64-byte boundary (as gradcore makes them) and 16 bytes past one (where NumPy puts large
    arrays): the same bits; the ratio says what alignment is worth on this machine."""
    sizes = [784, 30, 30, 10]
    X, _, Y = mnist(50_000)
    perm = np.random.default_rng(0).permutation(len(X)).astype(np.int64)
    net = gradcore.Network(sizes, seed=1, dtype=dtype)
    start = net.params.copy()
    off = 0 if impl == "aligned" else 16
    Xc, Yc = _offset_copy(X.astype(dtype), off), _offset_copy(Y.astype(dtype), off)
    p = _offset_copy(start, off)
    benchmark.group = f"SGD epoch 784-30-30-10 {np.dtype(dtype).name} (50,000 images, m = {M})"

    def epoch():
        p[...] = start
        _core.sgd_epoch(net.architecture.core(), p, Xc, Yc, perm, M, ETA, LMBDA,
                        np.zeros(sum(sizes[1:])))
        return p

    got = benchmark(epoch)
    net.params[...] = start  # the same epoch from aligned arrays: the same bits
    _core.sgd_epoch(net.architecture.core(), net.params, kernels.aligned(Xc),
                    kernels.aligned(Yc), perm, M, ETA, LMBDA, np.zeros(sum(sizes[1:])))
    assert np.array_equal(got, net.params)
