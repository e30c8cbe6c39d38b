"""Out of memory: every allocation failure in the kernels becomes a MemoryError, leaks nothing.

The kernels allocate through one function with a private test hook (``_core._alloc_fail_after``:
the k-th allocation from now fails) and a count of live allocations (``_core._alloc_live``).
Each test makes the 1st, 2nd, ... allocation of one call fail in turn, until the call makes
fewer allocations than that: every failure must raise MemoryError and free what the call had
allocated, with one kernel thread or several: a threaded call allocates its threads'
workspaces and its partial sums before any thread starts; the pool keeps its threads in a
fixed table (no allocation), and a thread that cannot be started leaves its share to the
others. Then a real out-of-memory case under an address-space limit, and sizes whose
counts do not fit in an int64.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcore
from gradcore import _core

SIZES = [13, 9, 7, 3]
LIB = ctypes.CDLL(_core.__file__)
LIB.gc_set_num_threads.argtypes = [ctypes.c_int]
LIB.gc_get_num_threads.restype = ctypes.c_int


@pytest.fixture(autouse=True)
def no_failure_left():
    yield
    _core._alloc_fail_after(0)
    gradcore.set_num_threads(0)


def problem(n, dtype=np.float64):
    rng = np.random.default_rng(0)
    X = rng.random((n, SIZES[0])).astype(dtype)
    Y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], n)]
    net = gradcore.Network(SIZES, seed=0, dtype=dtype)
    return net, X, Y


def fail_each_allocation(call) -> int:
    """Runs call() with its k-th allocation failing, k = 1, 2, ...; returns the number of
    allocations a successful call makes."""
    assert _core._alloc_live() == 0
    for k in range(1, 100):
        _core._alloc_fail_after(k)
        try:
            call()
            raised = False
        except MemoryError:
            raised = True
        left = _core._alloc_fail_after(0)
        assert _core._alloc_live() == 0, f"allocation {k} failed: memory leaked"
        if left:  # the call made fewer than k allocations, and succeeded
            assert not raised
            return k - 1
        assert raised, f"allocation {k} failed without a MemoryError"
    raise AssertionError("more than 99 allocations in one call")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_feedforward(dtype):
    net, X, _ = problem(100, dtype)
    z, a = np.empty((100, 3), dtype), np.empty((100, 3), dtype)
    assert fail_each_allocation(
        lambda: _core.feedforward(net.architecture.core(), net.params, X, z, a)) >= 1


def kernel_threads(n: int) -> int:
    """n kernel threads, even beyond the CPUs; the number a call gets (1 without threads)."""
    LIB.gc_set_num_threads(n)
    return int(LIB.gc_get_num_threads())


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient(threads, dtype):
    threads = kernel_threads(threads)
    net, X, Y = problem(1_000, dtype)  # 4 parts: a thread for each of up to 4
    grad = np.empty_like(net.params)
    want = _core.gradient(net.architecture.core(), net.params, X, Y, grad)
    sites = fail_each_allocation(
        lambda: _core.gradient(net.architecture.core(), net.params, X, Y, grad))
    assert _core.gradient(net.architecture.core(), net.params, X, Y, grad) == want
    # the layer table, the threads' workspaces and their table, the partial sums
    assert sites >= threads + 3


@pytest.mark.parametrize("batch_size", [10, 100, 600], ids=lambda m: f"m{m}")
@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_epoch(batch_size, threads, dtype):
    kernel_threads(threads)
    net, X, Y = problem(1_000, dtype)  # m = 600: 4 parts a mini-batch, run by the threads
    perm = np.random.default_rng(1).permutation(1_000).astype(np.int64)
    p0 = net.params.copy()

    def epoch():
        net.params[...] = p0
        try:
            _core.sgd_epoch(net.architecture.core(), net.params, X, Y, perm, batch_size, 0.5, 1.0,
                            np.zeros(sum(SIZES[1:])))
        except MemoryError:
            assert np.array_equal(net.params, p0)  # everything is allocated before any step
            raise

    assert fail_each_allocation(epoch) >= 1


_OUT_OF_MEMORY = textwrap.dedent("""
    import resource
    import numpy as np, gradcore as gc

    def address_space():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

    X, y = np.ones((256, 1)), np.zeros(256, int)
    wide = gc.Network([1, 1 << 20, 1], seed=0)  # 24 MB of parameters
    small = gc.Network([1, 30, 1], seed=0)
    # 512 MB more than the process has now: less than the 1 GB one chunk of 64 rows needs
    # in a 2**20-wide layer, whatever the number of threads
    limit = address_space() + (512 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        wide.gradient(X, y)
        print("no error")
    except MemoryError as exc:
        print("MemoryError:", exc)
    grad, _ = small.gradient(X, y)  # the process goes on
    print("then", "finite" if all(np.isfinite(g).all() for g in grad) else "not finite")
""")


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limit")
@pytest.mark.memory_limits
def test_a_real_out_of_memory_raises_memory_error(tmp_path):
    # a real malloc failure, not a simulated one: the kernel's workspace does not fit
    out = subprocess.run([sys.executable, "-c", _OUT_OF_MEMORY], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "MemoryError: gradcore: out of memory for the kernel's workspace", out.stdout
    assert lines[1] == "then finite", out.stdout


# ----------------------------------------------------------------- hostile sizes

def test_param_count_of_the_widest_layers_is_exact():
    # sizes[l] + 1 overflowed an int for a layer of 2**31 - 1 inputs
    assert _core.param_count(np.array([2**31 - 1, 1], np.int32)) == 2**31
    assert _core.param_count(np.array([2**31 - 1, 2**31 - 1], np.int32)) == (2**31 - 1) * 2**31


def test_a_parameter_count_beyond_int64_is_refused():
    # four layers of (2**31 - 1) x 2**31 weights: more than 2**63 parameters
    with pytest.raises(ValueError, match="2\\*\\*63"):
        _core.param_count(np.full(5, 2**31 - 1, np.int32))
