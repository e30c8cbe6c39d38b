"""The runner on a real Dask cluster: worker processes on 127.0.0.1, same bits as locally."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import dask
import pytest
from dask import distributed

import gradcore
from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments import Job, run_jobs
from gradcore.experiments.dask_backend import WorkerMismatch


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  worker_dashboard_address=None) as c:
        yield c


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2)
        yield c


def jobs(n: int = 8) -> list[Job]:
    return [Job(sizes=(784, 30, 30, 10), seed=s, epochs=40 + 5 * (s % 3), deltas=True)
            for s in range(n)]


@pytest.fixture(scope="module")
def data(mnist1000):
    return {"train": mnist1000}


@pytest.fixture(scope="module")
def local(data):
    return [r.to_dict() for r in run_jobs(jobs(), data, n_jobs=1)]


def test_a_cluster_gives_the_same_bits_as_this_machine(client, data, local):
    results = run_jobs(jobs(), data, scheduler=client)
    assert [r.to_dict() for r in results] == local


def test_the_data_crosses_the_network_once_per_worker(client, data, local):
    # (functions defined in the test: they travel to the cluster by value)
    def _job_dependencies(dask_scheduler):
        """On the scheduler: the keys each gradcore job depends on."""
        return {str(k): sorted(str(d.key) for d in ts.dependencies)
                for k, ts in dask_scheduler.tasks.items()
                if str(k).startswith("gradcore-job-")}

    def _incoming_keys(dask_worker):
        """On a worker: every key it fetched from another worker."""
        return [str(k) for t in dask_worker.transfer_incoming_log for k in t["keys"]]

    seen: list[dict] = []

    def look(i, result):  # while jobs are still pending on the scheduler
        if not seen:
            seen.append(client.run_on_scheduler(_job_dependencies))

    before = client.run(_incoming_keys)
    results = run_jobs(jobs(), data, scheduler=client, on_result=look)
    assert [r.to_dict() for r in results] == local
    # every job names the scattered data set by its key: the data travels with none of them
    (deps,) = seen
    assert deps and all(len(keys) == 1 for keys in deps.values()), deps
    assert len({keys[0] for keys in deps.values()}) == 1
    # and no worker received anything twice (a worker that started a job before its copy
    # of the broadcast arrived fetches it once, itself)
    for worker, keys in client.run(_incoming_keys).items():
        new = keys[len(before.get(worker, [])):]
        assert len(new) == len(set(new)) <= 1, (worker, new)


def test_a_worker_killed_in_the_middle_of_a_sweep_loses_nothing(client, data, local):
    pids = client.run(os.getpid)
    killed = []

    def kill_one(i, result):
        if not killed:
            running = {w for w, keys in client.processing().items() if keys}
            victim = next(iter(running or pids))
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    results = run_jobs(jobs(), data, scheduler=client, on_result=kill_one)
    assert killed  # a worker died while jobs were running on it
    assert [r.to_dict() for r in results] == local


def test_the_only_worker_restarted_by_its_nanny_in_the_middle_of_a_sweep_loses_nothing(
        data, local):
    # one worker: the only copy of the data set is on it, and goes with its restart
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as one, \
            distributed.Client(one, set_as_default=False) as client:
        client.wait_for_workers(1)
        (before,) = client.run(os.getpid).values()
        restarted = []

        def restart(i, result):  # jobs still to run, one running on the worker restarted
            if not restarted:
                (worker,) = client.scheduler_info()["workers"]
                client.restart_workers([worker], timeout=120)
                restarted.extend(client.run(os.getpid).values())

        results = run_jobs(jobs(), data, scheduler=client, on_result=restart, progress=False)
        assert restarted and restarted[0] != before  # a new worker process
        assert [r.to_dict() for r in results] == local


def test_a_data_set_over_daskss_large_graph_threshold_is_sent_without_a_warning(client, data,
                                                                               local):
    # the data set is sent once, as a task of its own: the warning (an error here) is for
    # data sent with every task
    assert data["train"][0].nbytes > 1 << 20
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1MB"}):
        results = run_jobs(jobs(2), data, scheduler=client, progress=False)
    assert [r.to_dict() for r in results] == local[:2]


def test_chapter5_and_phase_accept_a_scheduler_address(cluster, tmp_path, capsys):
    phase = ex.phase([2, 4], [1.0, 8.0], seeds=2, scheduler=cluster.scheduler_address,
                     progress=False)
    here = ex.phase([2, 4], [1.0, 8.0], seeds=2, n_jobs=2, progress=False)
    assert list(phase.rows()) == list(here.rows())
    assert main(["chapter5", "--epochs", "5", "--seeds", "2", "--no-figures", "--out",
                 str(tmp_path / "c"), "--scheduler", cluster.scheduler_address]) == 0
    out = capsys.readouterr().out
    assert f"on the Dask cluster at {cluster.scheduler_address}" in out
    c5 = ex.chapter5(None, epochs=5, seeds=2, progress=False)
    table = ex.read_speeds_csv(tmp_path / "c" / "speeds_3_hidden.csv")
    assert table.speeds.tolist() == c5.nets[3].speeds.reshape(-1, 4).tolist()


def test_ctrl_c_on_a_cluster_keeps_the_finished_jobs_and_the_same_command_resumes(
        cluster, tmp_path, chapter5_ctrl_c_then_resume):
    # pending jobs are cancelled; those running on a worker are left to finish there
    chapter5_ctrl_c_then_resume(tmp_path / "c5", "--scheduler", cluster.scheduler_address)


def test_a_bad_scheduler_is_refused(data):
    with pytest.raises(TypeError, match="Client"):
        run_jobs(jobs(1), data, scheduler=42)
    with pytest.raises(ValueError, match="one or the other"):
        run_jobs(jobs(1), data, scheduler="tcp://127.0.0.1:1", n_jobs=2)


# ---------------------------------------------------------------- addresses that do not answer


@contextlib.contextmanager
def silent_port():
    """A real socket on 127.0.0.1 that accepts TCP connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in accepted:
            conn.close()


@contextlib.contextmanager
def http_port():
    """A real HTTP server on 127.0.0.1 (as a scheduler's web dashboard is)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def refused_port() -> str:
    """The address of a port of 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("port", [silent_port, http_port])
def test_a_port_that_does_not_answer_as_dask_is_reported_after_the_connect_timeout(
        data, port):
    with port() as address, dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(ConnectionError, match="no Dask scheduler answered at "
                                                  f"{address} within 2 s"):
            run_jobs(jobs(1), data, scheduler=address)


def gradcore_cli(cwd, *args: str, timeout: float = 120,
                 **env: str) -> subprocess.CompletedProcess:
    """`gradcore *args` run in the folder cwd (outside the checkout: the installed
    package)."""
    try:
        return subprocess.run([sys.executable, "-m", "gradcore", *args], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **env},
                              stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gradcore {' '.join(args)} did not end within {timeout} s")


def test_the_command_line_reports_a_silent_scheduler_port_in_one_line(tmp_path):
    with silent_port() as address:
        proc = gradcore_cli(tmp_path, "phase", "--depths", "2", "--scales", "1", "--seeds", "1",
                            "--out", str(tmp_path / "p"), "--scheduler", address,
                            DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"gradcore phase: error: no Dask scheduler answered at {address} within 2 s (is "
        f"that the scheduler's port, not its dashboard's?)"]


def test_a_refused_port_is_reported_at_once_not_after_the_connect_timeout(tmp_path):
    address = refused_port()
    # with a connect timeout of 10 minutes, only a report at once ends within the guard
    proc = gradcore_cli(tmp_path, "phase", "--depths", "2", "--scales", "1", "--seeds", "1",
                        "--no-figures", "--out", str(tmp_path / "p"), "--scheduler", address,
                        timeout=120, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="600s")
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"gradcore phase: error: could not connect to the Dask scheduler "
                           f"at {address}: ") and "refused" in line


@pytest.mark.parametrize("address", ["", "junk", "http://127.0.0.1:8787", "127.0.0.1:8786\n",
                                     "tcp://127.0.0.1", "tcp://127.0.0.1:99999",
                                     "tcp://a b:8786"])
def test_a_malformed_scheduler_address_is_refused_before_anything_runs(data, address, capsys):
    with pytest.raises(ValueError, match="scheduler must be a Dask scheduler address"):
        run_jobs(jobs(1), data, scheduler=address)
    assert main(["phase", "--depths", "2", "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "scheduler must be" in err


# ---------------------------------------------------------------- workers of another gradcore


@contextlib.contextmanager
def worker_with_gradcore(tmp_path, scheduler: str, init: str):
    """A real Dask worker process for ``scheduler`` that imports, as gradcore, a package
    whose ``__init__.py`` is ``init`` (found before the installed one)."""
    (tmp_path / "other" / "gradcore").mkdir(parents=True)
    (tmp_path / "other" / "gradcore" / "__init__.py").write_text(init)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "other")}
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", scheduler,
                             "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                            env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("init, message", [
    ("__version__ = '0.0.1'\ndef kernel_level():\n    return 'generic'\n",
     "runs gradcore 0.0.1 at kernel level generic, this machine gradcore "
     f"{gradcore.__version__} at kernel level {gradcore.kernel_level()}"),
    ("raise ImportError('no gradcore on this worker')\n",
     "cannot import gradcore (ImportError: no gradcore on this worker)"),
])
def test_a_worker_of_another_gradcore_is_refused_by_name_before_the_data_is_sent(
        tmp_path, data, init, message):
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0",
                                  processes=True) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client, \
            worker_with_gradcore(tmp_path, cluster.scheduler_address, init):
        client.wait_for_workers(1, timeout=120)
        (worker,) = client.scheduler_info()["workers"]
        with pytest.raises(WorkerMismatch) as info:
            run_jobs(jobs(1), data, scheduler=client)
        assert str(info.value).startswith(f"worker {worker} ")
        assert message in str(info.value)
        assert not client.who_has()  # nothing was scattered


# ---------------------------------------------------------------- a scheduler that goes away


@contextlib.contextmanager
def scheduler_and_worker(tmp_path):
    """A real Dask scheduler process on 127.0.0.1 and one worker under its nanny; yields the
    address and the scheduler's process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
             "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", ":0"], **quiet)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                              **quiet)
    try:
        with distributed.Client(address, set_as_default=False, timeout=120) as c:
            c.wait_for_workers(1, timeout=120)
        yield address, scheduler
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_scheduler_killed_in_the_middle_of_a_sweep_is_reported_and_the_jobs_done_are_kept(
        tmp_path, data, local):
    out = tmp_path / "out"
    store_jobs = jobs()
    with scheduler_and_worker(tmp_path) as (address, scheduler):
        def kill(i, result):
            if scheduler.poll() is None:
                scheduler.kill()

        store = ex.ResultStore(out, "dask-test", {"n": 8}, store_jobs)
        with pytest.raises(ex.SchedulerLost) as info:
            run_jobs(store_jobs, data, scheduler=address, store=store, progress=False,
                     on_result=kill)
    kept = sorted((out / "jobs").glob("0*.json"))
    assert 1 <= len(kept) < 8
    assert info.value.address == address and isinstance(info.value, ConnectionError)
    assert str(info.value).startswith(f"lost the Dask scheduler at {address} ")
    assert f"{len(kept)} of 8 trainings finished, kept in {out / 'jobs'}" in str(info.value)
    # the same sweep, here: the kept jobs are not run again, and the bits are a run in one go
    store = ex.ResultStore(out, "dask-test", {"n": 8}, store_jobs)
    assert sorted(store.finished()) == [int(p.stem) for p in kept]
    again = run_jobs(store_jobs, data, n_jobs=2, store=store, progress=False)
    assert [r.to_dict() for r in again] == local


def test_the_command_line_reports_a_scheduler_killed_mid_sweep_in_one_line_and_resumes(
        tmp_path, cluster):
    out = tmp_path / "c5"
    args = [sys.executable, "-m", "gradcore", "chapter5", "--epochs", "60", "--seeds", "3",
            "--no-figures", "--out", str(out)]
    with scheduler_and_worker(tmp_path) as (address, scheduler):
        proc = subprocess.Popen([*args, "--scheduler", address], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        deadline = time.monotonic() + 120
        while not list((out / "jobs").glob("0*.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        scheduler.kill()
        try:
            _, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"gradcore chapter5 did not end within 60 s: {proc.communicate()}")
    assert proc.returncode == 1, stderr
    (line,) = stderr.strip().splitlines()
    kept = {p.name: p.stat().st_ino for p in (out / "jobs").glob("0*.json")}
    assert 1 <= len(kept) < 9
    assert line == (f"gradcore chapter5: error: lost the Dask scheduler at {address} "
                    f"(stopped, or out of reach) in the middle of the sweep; {len(kept)} of 9 "
                    f"trainings finished, kept in {out / 'jobs'}: run the sweep again to "
                    f"resume")
    # on another cluster: the jobs kept are not run again
    proc2 = subprocess.run([*args, "--scheduler", cluster.scheduler_address],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc2.returncode == 0, proc2.stderr
    assert f"chapter5: {len(kept)} of 9 trainings were already done" in proc2.stderr
    for name, inode in kept.items():
        assert (out / "jobs" / name).stat().st_ino == inode
    c5 = ex.chapter5(None, epochs=60, seeds=3, progress=False)
    table = ex.read_speeds_csv(out / "speeds_3_hidden.csv")
    assert table.speeds.tolist() == c5.nets[3].speeds.reshape(-1, 4).tolist()
