"""Threads: kernel threads (how many, after fork()) and trainings in parallel threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import gradcore


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
    import multiprocessing as mp
    import gradcore
    from gradcore.datasets import mnist_first_1000

    X, y = mnist_first_1000()
    net = gradcore.Network([784, 30, 10], seed=0)

    def work(_):
        gradcore.set_num_threads(2)
        return float(net.learning_speeds(X, y)[0])

    if __name__ == "__main__":
        here = float(net.learning_speeds(X, y)[0])   # threads in the parent first
        with mp.get_context("fork").Pool(2) as pool:
            there = pool.map(work, range(4))
        print(all(abs(t - here) <= 1e-12 * here for t in there))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_worker_asking_for_threads_does_not_hang(tmp_path):
    script = tmp_path / "fork_threads.py"
    script.write_text(_FORK_SET_THREADS)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_a_thread_limit_holds_for_its_own_thread_only():
    try:
        gradcore.set_num_threads(2)
        everyone = gradcore.get_num_threads()
        inside: list[int] = []

        def job() -> None:
            with gradcore.thread_limit(1):
                inside.append(gradcore.get_num_threads())
                with gradcore.thread_limit(5):
                    inside.append(gradcore.get_num_threads())
                inside.append(gradcore.get_num_threads())
            inside.append(gradcore.get_num_threads())

        with gradcore.thread_limit(1):
            t = threading.Thread(target=job)
            t.start()
            t.join()
            limited_here = gradcore.get_num_threads()
        assert inside == [1, everyone, 1, everyone]
        assert limited_here == 1
        assert gradcore.get_num_threads() == everyone
    finally:
        gradcore.set_num_threads(0)


@pytest.mark.parametrize("n, exc", [(0, ValueError), (1.0, TypeError), (True, TypeError)])
def test_thread_limit_refuses_bad_counts(n, exc):
    with pytest.raises(exc, match="thread limit"):
        gradcore.thread_limit(n)


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


_FORK_CHILD = textwrap.dedent("""
    import multiprocessing as mp
    import numpy as np
    import gradcore
    from gradcore.datasets import mnist_first_1000

    X, y = mnist_first_1000()
    net = gradcore.Network([784, 30, 10], seed=0)

    def work(_):
        return net.gradient(X, y)[0][0].sum()

    if __name__ == "__main__":
        here = net.gradient(X, y)[0][0].sum()   # full batch: threads in the parent first
        with mp.get_context("fork").Pool(2) as pool:
            there = pool.map(work, range(4))
        print(all(abs(t - here) <= 1e-12 * abs(here) for t in there))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_workers_after_threaded_kernels_do_not_hang(tmp_path):
    script = tmp_path / "fork_child.py"
    script.write_text(_FORK_CHILD)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
