"""Kernel threads: how many, and what happens after fork()."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
    import threading

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
