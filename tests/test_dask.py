"""The runner on a real Dask cluster: worker processes on 127.0.0.1, same bits as locally."""

from __future__ import annotations

import os
import signal

import pytest
from dask import distributed

from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments import Job, run_jobs


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
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
