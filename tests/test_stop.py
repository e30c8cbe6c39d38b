"""Stopping kernels: per-call stop flags, Ctrl-C in the main thread only, signal handling.

Each test that sends a signal runs a child Python process (outside the checkout, so it
imports the installed package) and gives it a generous time limit: these tests check what
happens, not how fast.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import gradcore

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _child(tmp_path, code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child did not finish within {timeout} s:\n{out}\n{err}")


# ------------------------------------------------------------------ StopFlag


def _data(n: int = 400, n_in: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, 4, n)


def test_a_set_flag_stops_training_in_another_thread_and_keeps_the_network():
    X, y = _data()
    net = gradcore.Network([20, 10, 4], seed=0)
    flag = gradcore.StopFlag()
    first_epoch = threading.Event()
    caught: list[BaseException] = []

    def run() -> None:
        try:
            gradcore.train(net, X, y, epochs=10**7, batch_size=1, eta=0.1, seed=0,
                           stop=flag, callback=lambda e, h: first_epoch.set())
        except BaseException as exc:
            caught.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert first_epoch.wait(60)
    flag.set()
    worker.join(60)
    assert not worker.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], gradcore.Stopped), caught
    stopped = caught[0]
    assert stopped.network is net
    assert stopped.history.epochs == stopped.epoch >= 1
    assert 0 <= stopped.batch < len(X)
    assert np.isfinite(net.params).all()
    assert flag.is_set()


def test_a_flag_set_before_the_call_stops_before_any_update():
    X, y = _data()
    net = gradcore.Network([20, 10, 4], seed=0)
    before = net.params.copy()
    flag = gradcore.StopFlag()
    flag.set()
    with pytest.raises(gradcore.Stopped) as info:
        gradcore.train(net, X, y, epochs=3, batch_size=10, eta=0.1, seed=0, stop=flag)
    assert (info.value.epoch, info.value.batch) == (0, 0)
    assert np.array_equal(net.params, before)
    flag.clear()
    assert not flag.is_set()
    gradcore.train(net, X, y, epochs=1, batch_size=10, eta=0.1, seed=0, stop=flag)
    assert not np.array_equal(net.params, before)


def test_one_flag_stops_only_the_calls_that_were_given_it():
    X, y = _data(2000)
    flags = [gradcore.StopFlag(), gradcore.StopFlag()]
    started = [threading.Event(), threading.Event()]
    outcome: dict[int, str] = {}

    def run(i: int) -> None:
        def cb(epoch: int, history: gradcore.History) -> None:
            started[i].set()
            if i == 1 and outcome.get(0) and epoch >= 3:
                flags[1].set()  # the second stops itself, after the first was stopped

        try:
            gradcore.train([20, 10, 4], X, y, epochs=10**6, batch_size=10, eta=0.1,
                           seed=i, stop=flags[i], callback=cb)
            outcome[i] = "finished"
        except gradcore.Stopped as exc:
            outcome[i] = f"stopped in epoch {exc.epoch}"

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    assert all(e.wait(60) for e in started)
    flags[0].set()
    for t in threads:
        t.join(120)
    assert set(outcome) == {0, 1}
    assert all(v.startswith("stopped") for v in outcome.values()), outcome
    assert not flags[0].is_set() or flags[1].is_set()


def test_stop_flags_reach_the_low_level_kernels():
    X, y = _data()
    Y = np.eye(4)[y]
    sizes = (20, 10, 4)
    params = gradcore.Network(sizes, seed=0).params.copy()
    flag = gradcore.StopFlag()
    flag.set()
    before = params.copy()
    with pytest.raises(gradcore.Stopped):
        gradcore.kernels.sgd_epoch(params, sizes, X, Y, np.arange(len(X)), batch_size=10,
                                   eta=0.1, stop=flag)
    assert np.array_equal(params, before)
    with pytest.raises(gradcore.Stopped):
        gradcore.kernels.gradient(params, sizes, X, Y, stop=flag)


def test_stop_flag_refuses_other_objects():
    X, y = _data()
    with pytest.raises(TypeError, match="stop"):
        gradcore.train([20, 4], X, y, epochs=1, batch_size=10, eta=0.1,
                       stop=threading.Event())


# ------------------------------------------------------------------ Ctrl-C


@posix_only
def test_ctrl_c_still_interrupts_blocking_calls_after_a_kernel_ran(tmp_path):
    # After a kernel in the main thread, Python's own SIGINT handler must be back exactly as
    # it was: installed without SA_RESTART, so a blocking read returns and Python raises
    # KeyboardInterrupt. With SA_RESTART the read would resume and block forever.
    proc = _child(tmp_path, """
        import os, numpy as np, gradcore
        X = np.random.default_rng(0).random((300, 20)); y = np.zeros(300, int)
        gradcore.Network([20, 5, 2], seed=0).gradient(X, y)
        r, w = os.pipe()
        try:
            print("ready", flush=True)
            os.read(r, 1)
            print("read returned", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = _finish(proc, timeout=30)
    assert out.strip() == "interrupted", err


@posix_only
def test_ctrl_c_in_the_main_thread_leaves_training_in_other_threads_alone(tmp_path):
    proc = _child(tmp_path, """
        import threading, numpy as np, gradcore
        rng = np.random.default_rng(0)
        X = rng.random((2000, 50)); y = rng.integers(0, 10, 2000)
        main_stopped = threading.Event()
        started = threading.Event()
        result = {}

        class Enough(Exception):
            pass

        def cb(epoch, history):
            started.set()
            if main_stopped.is_set():
                result.setdefault("after", epoch)
                if epoch >= result["after"] + 3:
                    raise Enough

        def worker():
            try:
                gradcore.train([50, 20, 10], X, y, epochs=10**6, batch_size=10, eta=0.1,
                               seed=0, callback=cb)
                result["worker"] = "finished"
            except BaseException as exc:
                result["worker"] = type(exc).__name__

        t = threading.Thread(target=worker)
        t.start()
        started.wait()
        net = gradcore.Network([50, 20, 10], seed=1)
        try:
            print("ready", flush=True)
            while True:
                net.gradient(X, y)
        except KeyboardInterrupt:
            result["main"] = "KeyboardInterrupt"
        main_stopped.set()
        t.join()
        print(result["main"], result["worker"], flush=True)
    """)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = _finish(proc)
    assert out.strip() == "KeyboardInterrupt Enough", err


@posix_only
def test_no_ctrl_c_is_lost_while_other_threads_run_kernels(tmp_path):
    # Another thread starts and ends kernel calls all the time; every Ctrl-C must still
    # interrupt the main thread's gradient computation, and none may reach the other thread.
    rounds = 40
    proc = _child(tmp_path, f"""
        import threading, numpy as np, gradcore
        rng = np.random.default_rng(0)
        X = rng.random((2000, 100)); y = rng.integers(0, 10, 2000)
        done = threading.Event()

        def churn():
            net = gradcore.Network([100, 10, 10], seed=2)
            while not done.is_set():
                try:
                    net.gradient(X[:2], y[:2])
                except KeyboardInterrupt:
                    print("churn interrupted", flush=True)

        t = threading.Thread(target=churn, daemon=True)
        t.start()
        net = gradcore.Network([100, 1000, 10], seed=1)  # each 64-row chunk takes a while
        for i in range({rounds}):
            try:
                print("ready", i, flush=True)
                for _ in range(30):
                    net.gradient(X, y)
                print("lost", i, flush=True)
            except KeyboardInterrupt:
                print("got", i, flush=True)
        done.set()
    """)
    lines = []
    for i in range(rounds):
        line = proc.stdout.readline().strip()
        assert line == f"ready {i}", (line, lines)
        time.sleep(0.02)  # most often lands inside a kernel; any moment must work
        proc.send_signal(signal.SIGINT)
        lines.append(proc.stdout.readline().strip())
    out, _ = _finish(proc)
    wrong = [line for line in lines + out.split("\n") if line and not line.startswith("got")]
    assert not wrong, f"of {rounds} Ctrl-Cs: {wrong}"


_INTERRUPT_CHILD = textwrap.dedent("""
    import sys, numpy as np, gradcore
    rng = np.random.default_rng(0)
    X = rng.random((20000, 784)); y = rng.integers(0, 10, 20000)
    net = gradcore.Network([784, 100, 10], seed=0)
    def cb(epoch, history):
        print("epoch", epoch, flush=True)
    try:
        gradcore.train(net, X, y, epochs=10000, batch_size=10, eta=0.1, seed=0, callback=cb)
    except KeyboardInterrupt as exc:
        ok = bool(np.isfinite(net.params).all())
        print("interrupted", ok, str(exc).replace(chr(10), " "), flush=True)
        sys.exit(0)
    print("finished", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_training_promptly(tmp_path):
    # run outside the checkout, so the child imports the installed package
    with subprocess.Popen([sys.executable, "-c", _INTERRUPT_CHILD], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        try:
            line = proc.stdout.readline()  # the first epoch is done: training is under way
            assert line.startswith("epoch"), (line, proc.stderr.read())
            sent = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            elapsed = time.perf_counter() - sent
        finally:
            proc.kill()
    assert "interrupted True" in out, (out, err)
    assert proc.returncode == 0
    # it stops at the next mini-batch boundary, far below a second; the limit is generous so
    # that a busy machine does not fail it, and still far below the 10,000 epochs asked for
    assert elapsed < 10.0, elapsed
