"""Where gradcore's arrays start in memory, and that results do not depend on it.

The kernels read 64-byte vectors; arrays at a 64-byte boundary are read fastest
(``gradcore._layout``). The arrays gradcore makes (parameters, loaded data, converted
copies) are aligned so; a misaligned array the user passes is used as it is (training
copies no data set) and gives the same bits, only slower.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import gradcore
from gradcore import _layout, kernels
from gradcore._training import _TrainingRun
from gradcore._validation import as_inputs
from gradcore.datasets import mnist_first_1000

SIZES = [784, 30, 30, 10]


def offset_copy(arr: np.ndarray, offset: int) -> np.ndarray:
    """A C-contiguous copy of arr whose data starts `offset` bytes past a 64-byte boundary."""
    raw = np.empty(arr.nbytes + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + offset
    out = raw[start:start + arr.nbytes].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    assert out.ctypes.data % 64 == offset
    return out


def is_aligned(arr: np.ndarray) -> bool:
    return arr.ctypes.data % 64 == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_network_parameters_are_aligned_however_the_network_is_made(tmp_path, dtype) -> None:
    net = gradcore.Network(SIZES, seed=1, dtype=dtype)
    net.save(tmp_path / "net.json")
    made = {
        "new": net,
        "copy": net.copy(),
        "from_params": gradcore.Network.from_params(SIZES, offset_copy(net.params, 16)),
        "unpickled": pickle.loads(pickle.dumps(net)),
        "loaded": gradcore.load(tmp_path / "net.json", dtype=dtype),
    }
    for how, other in made.items():
        assert is_aligned(other.params), how
        np.testing.assert_array_equal(other.params, net.params.astype(other.params.dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedded_images_are_aligned(dtype) -> None:
    X, _ = mnist_first_1000(dtype=dtype)
    assert is_aligned(X) and X.flags.c_contiguous and X.dtype == dtype


def test_aligned_returns_an_aligned_array_itself_or_a_copy() -> None:
    X, _ = mnist_first_1000()
    assert kernels.aligned(X) is X  # already aligned: no copy
    for offset in (8, 16, 48):
        off = offset_copy(X, offset)
        got = kernels.aligned(off)
        assert is_aligned(got) and got is not off
        np.testing.assert_array_equal(got, X)
    f32 = kernels.aligned(offset_copy(X, 16), np.float32)
    assert is_aligned(f32) and f32.dtype == np.float32
    np.testing.assert_array_equal(f32, X.astype(np.float32))
    strided = kernels.aligned(X[:, ::2])  # not contiguous: a contiguous aligned copy
    assert is_aligned(strided) and strided.flags.c_contiguous
    np.testing.assert_array_equal(strided, X[:, ::2])
    empty = _layout.aligned_zeros((0, 784), np.float64)
    assert empty.shape == (0, 784)


def test_inputs_are_copied_only_to_convert_and_then_aligned() -> None:
    X, _ = mnist_first_1000()
    off = offset_copy(X, 16)
    assert as_inputs(off, 784, np.dtype(np.float64)) is off  # usable as it is: no copy
    assert as_inputs(X, 784, np.dtype(np.float64)) is X
    f32 = as_inputs(off, 784, np.dtype(np.float32))
    assert is_aligned(f32) and f32.dtype == np.float32
    np.testing.assert_array_equal(f32, X.astype(np.float32))
    ints = as_inputs(offset_copy((X * 256).astype(np.int16), 2), 784, np.dtype(np.float64))
    assert is_aligned(ints) and ints.dtype == np.float64
    np.testing.assert_array_equal(ints, X * 256)
    strided = as_inputs(np.asfortranarray(X), 784, np.dtype(np.float64))
    assert is_aligned(strided) and strided.flags.c_contiguous
    np.testing.assert_array_equal(strided, X)
    with pytest.raises(ValueError, match="float32"):
        as_inputs(np.full((2, 784), 1e300), 784, np.dtype(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_results_are_the_same_bits_whatever_the_alignment(dtype) -> None:
    """An SGD epoch, a gradient and a forward pass from X (and params) at every 8-byte
    offset of a 64-byte line: the same bits as from aligned arrays."""
    X, y = mnist_first_1000(dtype=dtype)
    X, Y = X[:300], np.eye(10, dtype=dtype)[y[:300]]
    perm = np.random.default_rng(0).permutation(300).astype(np.int64)
    p0 = gradcore.Network(SIZES, seed=3, dtype=dtype).params

    def run(offset: int):
        p = offset_copy(p0, offset)
        Xo, Yo = offset_copy(X, offset), offset_copy(Y, offset)
        kernels.sgd_epoch(p, SIZES, Xo, Yo, perm, batch_size=10, eta=0.5, lmbda=5.0)
        full = offset_copy(p0, offset)
        kernels.sgd_epoch(full, SIZES, Xo, Yo, perm, batch_size=300, eta=0.5)
        grad, _ = kernels.gradient(p, SIZES, Xo, Yo)
        _, a = kernels.feedforward(p, SIZES, Xo)
        return [p.copy(), full.copy(), grad, a]

    want = run(0)
    step = np.dtype(dtype).itemsize
    for offset in range(step, 64, step):
        for w, g in zip(want, run(offset)):
            assert np.array_equal(w, g), offset


def _start(X: np.ndarray, y: np.ndarray, dtype: object = None) -> _TrainingRun:
    return _TrainingRun.start(SIZES, X, y, epochs=1, batch_size=10, eta=0.5, lmbda=0.0,
                              seed=0, cost=None, init=None, dtype=dtype,
                              evaluation_data=(X, y), stop=None)


def test_train_uses_the_data_as_it_is_or_an_aligned_converted_copy() -> None:
    X, y = mnist_first_1000()
    off = offset_copy(X[:200], 16)
    before = off.copy()
    run = _start(off, y[:200])
    assert run.X is off  # the right type already: no copy of the data set
    assert run.evaluation is not None and run.evaluation[0] is off
    run = _start(off, y[:200], dtype=np.float32)
    assert is_aligned(run.X) and run.X.dtype == np.float32
    assert run.evaluation is not None and is_aligned(run.evaluation[0])
    a = gradcore.train(SIZES, off, y[:200], epochs=2, batch_size=10, eta=0.5, seed=4)
    b = gradcore.train(SIZES, X[:200], y[:200], epochs=2, batch_size=10, eta=0.5, seed=4)
    np.testing.assert_array_equal(off, before)  # the caller's array is left alone
    assert np.array_equal(a.network.params, b.network.params)
