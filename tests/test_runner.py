"""gradcore.experiments.runner and store: many jobs, in job order, the same bits, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gradcore import experiments as ex
from gradcore.cli import main
from gradcore.experiments import Job, ResultStore, SettingsMismatch, run_job, run_jobs


def small_jobs(n_seeds: int = 3, epochs: int = 6) -> list[Job]:
    """Jobs of different lengths, so they finish in another order than they start."""
    return [Job(sizes=s, seed=seed, epochs=epochs * (1 + i), deltas=True)
            for i, s in enumerate([(784, 30, 30, 30, 10), (784, 10, 10), (784, 30, 10)])
            for seed in range(n_seeds)]


def as_dicts(results):
    return [r.to_dict() for r in results]


@pytest.fixture(scope="module")
def data(mnist1000):
    X, y = mnist1000
    return {"train": (X[:300], y[:300])}


@pytest.fixture(scope="module")
def serial(data):
    return run_jobs(small_jobs(), data, n_jobs=1)


def test_results_come_in_job_order_whatever_order_they_finished_in(data):
    jobs = small_jobs()
    finished = []
    results = run_jobs(jobs, data, n_jobs=2, on_result=lambda i, r: finished.append(i))
    assert [r.job for r in results] == jobs
    assert sorted(finished) == list(range(len(jobs)))
    assert finished != list(range(len(jobs)))  # the longest jobs were started first
    for r in results:
        assert r.ok and r.speeds.shape == (r.job.epochs, len(r.job.sizes) - 1)


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_results_are_the_same_bits_for_any_number_of_jobs(data, serial, n_jobs):
    assert as_dicts(run_jobs(small_jobs(), data, n_jobs=n_jobs)) == as_dicts(serial)


def test_a_job_alone_gives_the_same_bits_as_in_a_sweep(data, serial):
    job = small_jobs()[4]
    assert run_job(job, data["train"]).to_dict() == serial[4].to_dict()


def test_a_diverging_job_is_reported_and_the_others_run(data, serial):
    jobs = small_jobs()
    bad = Job(sizes=(784, 10, 10), seed=0, epochs=5, eta=1e300)
    results = run_jobs([*jobs[:2], bad, *jobs[2:]], data, n_jobs=2)
    assert not results[2].ok and "diverged" in results[2].error
    assert results[2].speeds.shape[0] < 5
    others = results[:2] + results[3:]
    assert all(r.ok for r in others)
    assert as_dicts(others) == as_dicts(serial)


def test_a_job_that_fails_otherwise_stops_the_sweep(data):
    with pytest.raises(KeyError):
        run_jobs([Job(sizes=(784, 10), seed=0, data="nowhere")], data)
    with pytest.raises(ValueError, match="sizes"):
        run_jobs([*small_jobs(1), Job(sizes=(784, 0, 10), seed=0, epochs=1)], data)


@pytest.mark.parametrize("n_jobs, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                         (True, TypeError)])
def test_bad_job_counts_are_refused(data, n_jobs, exc):
    with pytest.raises(exc, match="n_jobs"):
        run_jobs(small_jobs(1), data, n_jobs=n_jobs)


def test_job_and_result_round_trip_through_json(serial):
    for r in serial:
        back = ex.JobResult.from_dict(json.loads(json.dumps(r.to_dict())))
        assert back.to_dict() == r.to_dict() and back.job == r.job


# ---------------------------------------------------------------- results folder


def test_a_sweep_writes_each_job_and_a_rerun_skips_them(tmp_path, data, serial):
    jobs = small_jobs()
    store = ResultStore(tmp_path, "test", {"a": 1}, jobs)
    assert as_dicts(run_jobs(jobs, data, store=store)) == as_dicts(serial)
    files = sorted((tmp_path / "jobs").glob("0*.json"))
    assert len(files) == len(jobs)
    inodes = {p.name: p.stat().st_ino for p in files}
    (tmp_path / "jobs" / "00004.json").unlink()  # as if job 4 had not finished
    ran = []
    again = run_jobs(jobs, data, store=ResultStore(tmp_path, "test", {"a": 1}, jobs),
                     on_result=lambda i, r: ran.append(i))
    assert ran == [4]
    assert as_dicts(again) == as_dicts(serial)
    for p in (tmp_path / "jobs").glob("0*.json"):
        if p.name != "00004.json":
            assert p.stat().st_ino == inodes[p.name]  # not written again
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_folder_of_other_settings_is_refused_naming_force(tmp_path, data):
    jobs = small_jobs(1, epochs=1)
    run_jobs(jobs, data, store=ResultStore(tmp_path, "test", {"eta": 1}, jobs))
    with pytest.raises(SettingsMismatch, match=r"pass force=True to replace") as info:
        ResultStore(tmp_path, "test", {"eta": 2}, jobs)
    assert "eta: 1 there, 2 here" in str(info.value) and "--force" not in str(info.value)
    assert info.value.message("--force") == str(info.value).replace("force=True", "--force")
    with pytest.raises(SettingsMismatch, match="experiment 'test' there, 'other' here"):
        ResultStore(tmp_path, "other", {"eta": 1}, jobs)
    with pytest.raises(SettingsMismatch, match="force=True"):
        ResultStore(tmp_path, "test", {"eta": 1}, jobs[:1])
    # force: the old results are gone, none of them is reused
    store = ResultStore(tmp_path, "test", {"eta": 2}, jobs, force=True)
    assert store.finished() == {}
    assert list((tmp_path / "jobs").glob("0*.json")) == []


def seed_jobs(seeds: list[int]) -> list[Job]:
    """A sweep's jobs as the experiments order them: per net, one per seed."""
    return [Job(sizes=s, seed=seed, epochs=2, deltas=True)
            for s in [(784, 10, 10, 10), (784, 12, 10)] for seed in seeds]


def test_more_or_fewer_seeds_keep_the_trainings_of_the_seeds_already_run(tmp_path, data):
    def run(seeds: list[int], *, force: bool = False, **other: int):
        jobs = seed_jobs(seeds)
        store = ResultStore(tmp_path, "test", {"seeds": seeds, "eta": 1, **other}, jobs,
                            force=force)
        ran: list[tuple[tuple[int, ...], int]] = []
        results = run_jobs(jobs, data, store=store, progress=False,
                           on_result=lambda i, r: ran.append((jobs[i].sizes, jobs[i].seed)))
        store.close()
        assert [r.job for r in results] == jobs
        return {(r.job.sizes, r.job.seed): r.to_dict() for r in results}, sorted(ran)

    def keys(seeds: list[int]) -> list[tuple[tuple[int, ...], int]]:
        return sorted((j.sizes, j.seed) for j in seed_jobs(seeds))

    alone = {(j.sizes, j.seed): r.to_dict()
             for j, r in zip(seed_jobs([0, 1, 2]), run_jobs(seed_jobs([0, 1, 2]), data))}
    first, ran = run([0])
    assert ran == keys([0]) and first == {k: alone[k] for k in first}
    more, ran = run([0, 1, 2])  # seed 0 moves from index 1 to index 3: found all the same
    assert ran == keys([1, 2])
    assert more == alone
    fewer, ran = run([2, 1])
    assert ran == [] and fewer == {k: alone[k] for k in fewer}
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [
        ".lock", "00000.json", "00001.json", "00002.json", "00003.json", "sweep.json"]
    again, ran = run([0, 1], force=True)  # force changes nothing for seeds only
    assert ran == keys([0]) and again == {k: alone[k] for k in again}
    # anything else that changes is other settings, whatever the seeds
    with pytest.raises(SettingsMismatch, match="lmbda: null there, 5 here"):
        run([0, 1], lmbda=5)
    with pytest.raises(SettingsMismatch, match="lmbda: null there, 5 here"):
        run([0, 1, 2], lmbda=5)


def test_a_store_of_other_jobs_is_refused(tmp_path, data, serial):
    jobs = small_jobs()
    store = ResultStore(tmp_path, "test", {}, jobs)
    run_jobs(jobs, data, store=store)
    with pytest.raises(ValueError, match="store holds the results of other jobs"):
        run_jobs(jobs[:2], data, store=store)


def test_a_folder_with_job_files_but_no_record_of_settings_is_refused(tmp_path, data):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "00000.json").write_text("{}")
    with pytest.raises(SettingsMismatch, match="no readable record"):
        ResultStore(tmp_path, "test", {}, small_jobs(1))


def test_a_job_file_of_another_sweep_is_never_read_back(tmp_path, data, serial):
    jobs = small_jobs()
    first = ResultStore(tmp_path, "test", {"data": "first"}, jobs)
    second = ResultStore(tmp_path, "test", {"data": "second"}, jobs, force=True)
    first.save(0, serial[0])  # the first run, still going, writes on into the folder
    assert second.finished() == {}
    second.save(1, serial[1])
    assert list(second.finished()) == [1]
    assert list(first.finished()) == [0]


_HOLDER = textwrap.dedent("""
    import sys, time
    from gradcore.experiments.store import hold_folder
    with hold_folder(sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.read()  # until the test closes our stdin
""")


def test_a_second_run_on_a_folder_in_use_is_refused_and_deletes_nothing(tmp_path, capsys):
    out = tmp_path / "p"
    args = ["phase", "--depths", "2", "--scales", "1", "--seeds", "1", "--no-figures",
            "--out", str(out)]
    assert main(args) == 0
    before = sorted(p.name for p in out.rglob("*"))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], cwd=tmp_path,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        capsys.readouterr()
        assert main([*args[:-2], "--seeds", "2", "--force", "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"gradcore phase: error: {out} is in use by another gradcore run "
                       f"(process {holder.pid}); let it end, or choose another folder"]
        assert sorted(p.name for p in out.rglob("*")) == before
    finally:
        holder.communicate("", timeout=60)
    assert main([*args[:-2], "--seeds", "2", "--force", "--out", str(out)]) == 0


def test_after_force_every_output_in_the_folder_is_of_the_new_settings(tmp_path):
    c5 = tmp_path / "c5"
    ex.chapter5(c5, epochs=2, progress=False)
    assert (c5 / "speed_ratio.png").is_file()
    ex.chapter5(c5, epochs=3, figures=False, force=True, progress=False)
    assert sorted(p.name for p in c5.iterdir() if p.is_file()) == [
        "chapter5.json", "speeds_2_hidden.csv", "speeds_3_hidden.csv", "speeds_4_hidden.csv"]
    ph = tmp_path / "ph"
    ex.phase([2], [1.0], seeds=1, epochs=2, out_dir=ph, progress=False)
    assert (ph / "phase_epoch_2.png").is_file()
    ex.phase([2], [1.0], seeds=1, epochs=1, out_dir=ph, force=True, progress=False)
    assert sorted(p.name for p in ph.iterdir() if p.is_file()) == [
        "phase.csv", "phase.json", "phase.png", "phase_epoch_1.png"]
    # what the start of a run with --force does, before any job: the outputs of the
    # earlier settings are gone at once (a Ctrl-C then leaves none beside the new record)
    ResultStore(ph, "phase", {"other": 1}, small_jobs(1), force=True).close()
    assert [p.name for p in ph.iterdir() if p.is_file()] == []
    assert sorted(p.name for p in (ph / "jobs").iterdir()) == [".lock", "sweep.json"]


_SABOTAGED_STORE = textwrap.dedent("""
    import json, os, resource, sys
    limit = 2 << 30  # far below what reading /dev/zero or an 8 GiB file whole would take
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from gradcore.datasets import mnist_first_1000
    from gradcore.experiments import Job, ResultStore, run_jobs

    X, y = mnist_first_1000()
    data = {"train": (X[:200], y[:200])}
    jobs = [Job(sizes=(784, 10, 10), seed=s, epochs=2) for s in range(7)]
    first = run_jobs(jobs, data, store=ResultStore("out", "t", {}, jobs), progress=False)
    d = "out/jobs/"
    os.unlink(d + "00000.json"); os.mkfifo(d + "00000.json")
    os.unlink(d + "00001.json"); os.symlink("/dev/zero", d + "00001.json")
    with open(d + "00002.json", "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB that take no room on the disk
    with open(d + "00003.json", "w") as f:
        f.write("[" * 100000 + "]" * 100000)
    doc = json.load(open(d + "00004.json"))
    doc["job"]["sizes"] = [float("inf")]
    with open(d + "00004.json", "w") as f:
        json.dump(doc, f)
    os.unlink(d + "00005.json"); os.symlink("nowhere", d + "00005.json")
    ran = []
    again = run_jobs(jobs, data, store=ResultStore("out", "t", {}, jobs), progress=False,
                     on_result=lambda i, r: ran.append(i))
    kinds = sorted(os.path.islink(d + n) or not os.path.isfile(d + n)
                   for n in os.listdir(d))
    print(json.dumps({"ran": sorted(ran), "same": [r.to_dict() for r in first] ==
                      [r.to_dict() for r in again], "odd files": sum(kinds)}))
""")


@pytest.mark.memory_limits
@pytest.mark.skipif(sys.platform != "linux", reason="FIFOs, /dev/zero and RLIMIT_AS of Linux")
def test_the_store_reads_only_regular_job_files_of_a_sane_size_and_reruns_the_others(
        tmp_path):
    try:
        out = subprocess.run([sys.executable, "-c", _SABOTAGED_STORE], capture_output=True,
                             text=True, cwd=tmp_path, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the store hung on a job file")
    assert out.returncode == 0, out.stderr[-3000:]
    # a FIFO, a link to /dev/zero, 8 GiB, JSON nested 100,000 deep, a size of Infinity and
    # a dangling link: each job is run again, its file replaced by a regular one
    assert json.loads(out.stdout) == {"ran": [0, 1, 2, 3, 4, 5], "same": True,
                                      "odd files": 0}


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_keeps_the_finished_jobs_and_the_same_command_resumes(
        tmp_path, chapter5_ctrl_c_then_resume):
    chapter5_ctrl_c_then_resume(tmp_path / "c5")  # running jobs stop at their next epoch


def test_ctrl_c_pressed_many_times_ends_the_sweep_and_keeps_the_finished_jobs(
        tmp_path, chapter5_ctrl_c_then_resume):
    chapter5_ctrl_c_then_resume(tmp_path / "c5", presses=40)


def test_a_ctrl_c_on_the_way_out_of_a_sweep_still_reports_what_was_kept(
        tmp_path, monkeypatch, capsys):
    # the second Ctrl-C lands after the sweep raised SweepInterrupted, before the command
    # line caught it: the KeyboardInterrupt it raises carries the first as its context
    def pressed_twice(*args, **kwargs):
        try:
            raise ex.SweepInterrupted(2, 9)
        except ex.SweepInterrupted:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(ex, "chapter5", pressed_twice)
    assert main(["chapter5", "--out", str(tmp_path / "c5")]) == 130
    assert (f"gradcore chapter5: interrupted: 2 of 9 trainings finished and kept in "
            f"{tmp_path / 'c5'}; run the same command again to resume"
            in capsys.readouterr().err)


_CTRL_C_FLOOD = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from gradcore.experiments import runner

    with runner._ctrl_c_deferred() as ctrl_c:
        # another process sends SIGINT as fast as it can: the handler is entered again and
        # again while it runs, on the same thread
        flood = subprocess.Popen([sys.executable, "-c", "import os, signal, sys\\n"
                                  "for _ in range(30000): os.kill(int(sys.argv[1]), signal.SIGINT)",
                                  str(os.getpid())])
        while flood.poll() is None:
            pass
        time.sleep(0.2)  # any Ctrl-C still pending is handled here
    print("pressed", ctrl_c.is_set(), flush=True)
""")


def test_a_ctrl_c_that_lands_while_the_last_one_is_handled_does_not_hang(tmp_path):
    """The handler of the deferred Ctrl-C once took a lock (threading.Event.set): a second
    SIGINT handled inside it waited for that lock for ever, on the same thread."""
    try:
        out = subprocess.run([sys.executable, "-c", _CTRL_C_FLOOD], capture_output=True,
                             text=True, cwd=tmp_path, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C pressed while its handler ran hung the process")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert out.stdout.strip() == "pressed True"


_CTRL_C_IN_WAIT = textwrap.dedent("""
    import concurrent.futures, signal, sys
    from gradcore.datasets import mnist_first_1000
    from gradcore.experiments import Job, SweepInterrupted, run_jobs, runner

    real_wait, fired = runner.wait, []

    def wait_hit_by_ctrl_c(fs, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
        # concurrent.futures.wait takes every future's lock, one after the other, before it
        # looks at them; a Ctrl-C that lands in between leaves the ones taken so far held.
        # Here it lands there once, while jobs still run.
        if not fired and not all(f.done() for f in fs):
            fired.append(1)
            for f in fs:
                f._condition.acquire()
            signal.raise_signal(signal.SIGINT)
            for f in fs:
                f._condition.release()
        return real_wait(fs, timeout=timeout, return_when=return_when)

    runner.wait = wait_hit_by_ctrl_c
    X, y = mnist_first_1000()
    jobs = [Job(sizes=(784, 30, 10), seed=s, epochs=3000) for s in range(3)]
    try:
        run_jobs(jobs, {"train": (X[:300], y[:300])}, n_jobs=2, progress=False)
    except SweepInterrupted as exc:
        print(f"interrupted: {exc}")
        sys.exit(0)
    print("not interrupted")
    sys.exit(1)
""")


def test_ctrl_c_inside_the_wait_for_jobs_stops_the_sweep_without_a_hang(tmp_path):
    """A Ctrl-C that lands while concurrent.futures.wait holds the futures' locks (seen
    once in about 30 runs of the chapter5 Ctrl-C test: the process then hung for good)."""
    try:
        out = subprocess.run([sys.executable, "-c", _CTRL_C_IN_WAIT], capture_output=True,
                             text=True, cwd=tmp_path, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the sweep hung after Ctrl-C")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "interrupted:" in out.stdout


def test_the_same_command_with_more_seeds_keeps_them_and_other_settings_name_force(tmp_path):
    out = tmp_path / "c5"

    def chapter5(*extra, epochs="2"):
        return subprocess.run([sys.executable, "-m", "gradcore", "chapter5", *extra,
                               "--epochs", epochs, "--no-figures", "--out", str(out)],
                              capture_output=True, text=True, cwd=tmp_path)

    assert chapter5().returncode == 0
    proc = chapter5("--seeds", "2")  # seed 0 is the same training: kept, seed 1 added
    assert proc.returncode == 0, proc.stderr
    assert "chapter5: 3 of 6 trainings were already done" in proc.stderr
    assert json.loads((out / "chapter5.json").read_text())["settings"]["seeds"] == [0, 1]
    proc = chapter5("--seed", "1")  # seed 1 alone: kept as well
    assert proc.returncode == 0, proc.stderr
    assert "chapter5: 3 of 3 trainings were already done" in proc.stderr
    proc = chapter5(epochs="3")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line == (f"gradcore chapter5: error: {out} holds results of other settings "
                    f"(epochs: 2 there, 3 here); pass --force to replace them, or choose "
                    f"another folder")


def test_default_jobs_is_the_cpus_this_process_may_use():
    assert ex.default_jobs() == len(os.sched_getaffinity(0))
