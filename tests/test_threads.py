"""Threads: kernel threads (how many, after fork()), the same bits for every thread count,
and trainings in parallel threads."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import gradcore
from gradcore import _core, kernels

LIB = ctypes.CDLL(_core.__file__)
LIB.gc_set_num_threads.argtypes = [ctypes.c_int]
LIB.gc_get_num_threads.restype = ctypes.c_int
LIB.gc_get_thread_limit.restype = ctypes.c_int
THREAD_COUNTS = [1, 2, 3, 4]  # beyond the cores too: gc_set_num_threads does not clamp


@pytest.fixture
def kernel_threads():
    """kernel_threads(n): n kernel threads, even more than the CPUs (set_num_threads would
    clamp); the default again after the test."""

    def use(n: int) -> None:
        assert LIB.gc_set_num_threads(n) == 0
        assert LIB.gc_get_num_threads() == n

    yield use
    gradcore.set_num_threads(0)


def _problem(sizes, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    params = gradcore.Network(sizes, seed=seed, dtype=dtype).params.copy()
    return params, X, Y


# 1,000 embedded-size rows make 4 parts; 4,100 rows make the most parts (32)
PROBLEMS = {"784-30-30-10-n1000": ([784, 30, 30, 10], 1_000),
            "50-20-10-n4100": ([50, 20, 10], 4_100)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_full_batch_gradients_are_bit_identical_for_any_thread_count(problem, dtype,
                                                                     kernel_threads):
    sizes, n = PROBLEMS[problem]
    params, X, Y = _problem(sizes, n, dtype)
    got = {}
    for threads in THREAD_COUNTS:
        kernel_threads(threads)
        got[threads] = kernels.gradient(params, sizes, X, Y)
    for threads in THREAD_COUNTS[1:]:
        assert np.array_equal(got[threads][0], got[1][0]), threads
        assert got[threads][1] == got[1][1], threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [100, "n"], ids=lambda m: f"m{m}")
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_sgd_epochs_are_bit_identical_for_any_thread_count(problem, batch_size, dtype,
                                                           kernel_threads):
    sizes, n = PROBLEMS[problem]
    params, X, Y = _problem(sizes, n, dtype)
    perm = np.random.default_rng(1).permutation(n).astype(np.int64)
    m = n if batch_size == "n" else batch_size
    got = {}
    for threads in THREAD_COUNTS:
        kernel_threads(threads)
        p = params.copy()
        for _ in range(2):
            r = kernels.sgd_epoch(p, sizes, X, Y, perm, batch_size=m, eta=0.5, lmbda=1.0)
        got[threads] = (p, r.speed_sum, r.cost_sum)
    for threads in THREAD_COUNTS[1:]:
        assert np.array_equal(got[threads][0], got[1][0]), threads
        assert np.array_equal(got[threads][1], got[1][1]), threads
        assert got[threads][2] == got[1][2], threads


def test_calls_from_many_python_threads_at_once_match_serial_calls(kernel_threads):
    """Python threads calling threaded kernels at once (the pool serves one call at a time;
    the others run on their own thread): every result as when run alone."""
    kernel_threads(2)
    sizes, n = PROBLEMS["784-30-30-10-n1000"]
    problems = [_problem(sizes, n, np.float64, seed=s) for s in range(4)]
    perm = np.arange(n, dtype=np.int64)

    def compute(k: int) -> tuple[np.ndarray, np.ndarray]:
        params, X, Y = problems[k]
        grad, _ = kernels.gradient(params, sizes, X, Y)
        p = params.copy()
        kernels.sgd_epoch(p, sizes, X, Y, perm, batch_size=n, eta=0.5, lmbda=1.0)
        return grad, p

    serial = [compute(k) for k in range(4)]
    errors: list[str] = []

    def job(k: int) -> None:
        limit = gradcore.thread_limit(1) if k % 2 else None
        for _ in range(10):
            if limit:
                with limit:
                    got = compute(k)
            else:
                got = compute(k)
            if not (np.array_equal(got[0], serial[k][0]) and
                    np.array_equal(got[1], serial[k][1])):
                errors.append(f"job {k} differs")

    threads = [threading.Thread(target=job, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


@pytest.mark.parametrize("n, exc", [(1.5, TypeError), (True, TypeError), ("2", TypeError),
                                    (None, TypeError), (-1, ValueError)])
def test_set_num_threads_refuses_what_is_not_a_thread_count(n, exc):
    before = gradcore.get_num_threads()
    with pytest.raises(exc, match="threads"):
        gradcore.set_num_threads(n)
    assert gradcore.get_num_threads() == before


def test_set_num_threads_says_what_it_clamps():
    before = gradcore.get_num_threads()
    try:
        with pytest.warns(RuntimeWarning, match="using"):
            got = gradcore.set_num_threads(10**6)
        assert 1 <= got == gradcore.get_num_threads() < 10**6
        assert gradcore.set_num_threads(1) == 1
    finally:
        gradcore.set_num_threads(0)
    assert gradcore.get_num_threads() == before


_FORK_SET_THREADS = textwrap.dedent("""
    import ctypes
    import multiprocessing as mp
    import numpy as np
    import gradcore
    from gradcore import _core
    from gradcore.datasets import mnist_first_1000

    LIB = ctypes.CDLL(_core.__file__)
    X, y = mnist_first_1000()
    Y = np.eye(10)[y]
    params = gradcore.Network([784, 30, 10], seed=0).params

    def gradient():
        return gradcore.kernels.gradient(params, [784, 30, 10], X, Y)[0].tobytes()

    def work(_):
        LIB.gc_set_num_threads(2)  # (set_num_threads would clamp on a one-CPU machine)
        return LIB.gc_get_num_threads(), gradient()

    if __name__ == "__main__":
        LIB.gc_set_num_threads(2)
        here = gradient()   # the parent's pool threads first
        with mp.get_context("fork").Pool(2) as pool:
            there = pool.map(work, range(4))
        print(all(t == 2 for t, _ in there), all(g == here for _, g in there))
""")


def _run_script(tmp_path, source: str, timeout: float) -> str:
    """Run source as a script file of its own (multiprocessing's fork pool needs one) in a
    fresh interpreter; return what it printed, stripped, after checking it exited 0."""
    script = tmp_path / "script.py"
    script.write_text(source)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_worker_gets_the_threads_it_asks_for_and_the_same_bits(tmp_path):
    assert _run_script(tmp_path, _FORK_SET_THREADS, timeout=120) == "True True"


_FORK_DURING_CALLS = textwrap.dedent("""
    import ctypes, os, threading
    import numpy as np
    import gradcore
    from gradcore import _core
    from gradcore.datasets import mnist_first_1000

    LIB = ctypes.CDLL(_core.__file__)
    LIB.gc_set_num_threads(2)
    X, y = mnist_first_1000()
    Y = np.eye(10)[y]
    params = gradcore.Network([784, 30, 30, 10], seed=0).params

    def gradient():
        return gradcore.kernels.gradient(params, [784, 30, 30, 10], X, Y)[0].tobytes()

    want = gradient()
    running = True

    def busy():  # threaded kernel calls in another thread while the main thread forks
        while running:
            gradient()

    t = threading.Thread(target=busy)
    t.start()
    ok = 0
    for _ in range(20):
        pid = os.fork()
        if pid == 0:  # the child: threaded calls of its own, then out at once
            same = all(gradient() == want for _ in range(3))
            os._exit(0 if same and LIB.gc_get_num_threads() == 2 else 1)
        _, status = os.waitpid(pid, 0)
        ok += os.waitstatus_to_exitcode(status) == 0
    running = False
    t.join()
    print(ok)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
@pytest.mark.fork_with_busy_threads
def test_forks_while_another_thread_runs_threaded_kernels(tmp_path):
    assert _run_script(tmp_path, _FORK_DURING_CALLS, timeout=300) == "20"


def test_a_thread_limit_holds_for_its_own_thread_only():
    try:
        gradcore.set_num_threads(2)
        everyone = gradcore.get_num_threads()
        inside: list[int] = []

        def job() -> None:
            with gradcore.thread_limit(1):
                inside.append(gradcore.get_num_threads())
                inside.append(gradcore.get_num_threads())
            inside.append(gradcore.get_num_threads())

        with gradcore.thread_limit(1):
            t = threading.Thread(target=job)
            t.start()
            t.join()
            limited_here = gradcore.get_num_threads()
        assert inside == [1, 1, everyone]
        assert limited_here == 1
        assert gradcore.get_num_threads() == everyone
    finally:
        gradcore.set_num_threads(0)


def test_an_inner_thread_limit_only_tightens(kernel_threads):
    kernel_threads(4)  # beyond the cores too, so that a loosened limit would show
    seen = []

    def observe() -> None:
        seen.append((LIB.gc_get_thread_limit(), gradcore.get_num_threads()))

    with gradcore.thread_limit(1):
        observe()
        with gradcore.thread_limit(4):
            observe()
            with gradcore.thread_limit(3):
                observe()
        observe()
    observe()
    with gradcore.thread_limit(3):
        with gradcore.thread_limit(2):
            observe()
        with gradcore.thread_limit(8):
            observe()
        observe()
    assert seen == [(1, 1), (1, 1), (1, 1), (1, 1), (0, 4), (2, 2), (3, 3), (3, 3)]


@pytest.mark.parametrize("n, exc", [(0, ValueError), (-1, ValueError), (2**31, ValueError),
                                    (2**40, ValueError), (np.int64(2**40), ValueError),
                                    (1.0, TypeError), (True, TypeError), ("2", TypeError)])
def test_thread_limit_refuses_bad_counts_when_made(n, exc):
    with pytest.raises(exc, match=r"thread limit n must be an integer from 1 to 2147483647"):
        gradcore.thread_limit(n)


@pytest.mark.parametrize("n", [1, np.int32(2), 2**31 - 1])
def test_thread_limit_takes_every_c_int_count(n, kernel_threads):
    kernel_threads(2)
    with gradcore.thread_limit(n):
        assert LIB.gc_get_thread_limit() == n
        assert gradcore.get_num_threads() == min(2, n)
    assert LIB.gc_get_thread_limit() == 0


def test_two_threads_train_in_parallel_with_identical_results(mnist1000):
    # the speed-up of the two threads is a benchmark: benchmarks/test_bench_threads.py
    X, y = mnist1000

    def job(seed: int, out: dict) -> None:
        out[seed] = gradcore.train([784, 30, 30, 10], X, y, epochs=60, batch_size=10,
                                   eta=0.1, lmbda=5.0, seed=seed).network.params

    serial: dict = {}
    job(1, serial)
    job(2, serial)
    for _ in range(3):  # a race would show in some runs only
        parallel: dict = {}
        threads = [threading.Thread(target=job, args=(s, parallel)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in (1, 2):
            assert np.array_equal(serial[s], parallel[s])


# A threaded gradient that would take many seconds (2 parts, so 2 threads): stopping it must
# take a part's next chunk of rows at most, far less.
_LONG_SIZES = [100, 1000, 1000, 10]
_LONG_ROWS = 50_000


def _long_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _problem(_LONG_SIZES, _LONG_ROWS, np.float32)


_IDLE_AFTER_JOBS = textwrap.dedent("""
    import ctypes, time
    import numpy as np
    import gradcore
    from gradcore import _core, kernels

    ctypes.CDLL(_core.__file__).gc_set_num_threads(4)  # more threads than cores, too
    rng = np.random.default_rng(0)
    X, Y = rng.random((1_000, 784)), np.eye(10)[rng.integers(0, 10, 1_000)]
    params = gradcore.Network([784, 30, 10], seed=0).params
    for _ in range(20):  # jobs back to back: the workers poll for the next one
        kernels.gradient(params, [784, 30, 10], X, Y)
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(0.5)
    print(time.process_time() - cpu, time.perf_counter() - wall)
""")


def test_pool_threads_poll_briefly_then_sleep(tmp_path):
    # a worker polls for the next job for at most 0.1 ms before it sleeps; unbounded
    # polling by 3 workers would use about 1.5 s of CPU in the 0.5 s of sleep
    out = subprocess.run([sys.executable, "-c", _IDLE_AFTER_JOBS], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    cpu, wall = map(float, out.stdout.split())
    assert wall >= 0.5 and cpu < 0.05, (cpu, wall)


def test_a_stop_flag_stops_a_threaded_gradient_promptly(kernel_threads):
    kernel_threads(2)
    params, X, Y = _long_problem()
    flag = gradcore.StopFlag()
    caught: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            kernels.gradient(params, _LONG_SIZES, X, Y, stop=flag)
        except BaseException as exc:
            caught.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    started.wait(60)
    time.sleep(0.3)
    sent = time.perf_counter()
    flag.set()
    worker.join(60)
    elapsed = time.perf_counter() - sent
    assert not worker.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], gradcore.Stopped), caught
    assert elapsed < 3.0, elapsed  # (the whole gradient: about 7 s on two cores)


_CTRL_C_THREADED = textwrap.dedent("""
    import ctypes, sys, time
    import numpy as np
    import gradcore
    from gradcore import _core

    ctypes.CDLL(_core.__file__).gc_set_num_threads(2)
    sizes, n = {sizes}, {rows}
    rng = np.random.default_rng(0)
    X = rng.random((n, sizes[0]), dtype=np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], n)]
    params = gradcore.Network(sizes, seed=0, dtype=np.float32).params
    print("start", flush=True)
    try:
        gradcore.kernels.gradient(params, sizes, X, Y)
        print("finished")
    except KeyboardInterrupt:
        print("interrupted", time.perf_counter())
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_threaded_gradient_promptly(tmp_path):
    code = _CTRL_C_THREADED.format(sizes=_LONG_SIZES, rows=_LONG_ROWS)
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("start"), (line, proc.stderr.read())
            time.sleep(0.5)  # the gradient is under way
            sent = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert out.startswith("interrupted"), (out, err)
    assert float(out.split()[1]) - sent < 3.0, out  # (perf_counter is system-wide on Linux)
