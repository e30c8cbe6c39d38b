"""Run many independent training jobs, and return their results in job order.

The work of an experiment is many independent trainings (seeds × nets × settings), so the
parallelism is across jobs:

* on one machine (the default), a pool of threads in this process, one per core: the
  kernels release the GIL and every job reads the same arrays (no process pool, no copy of
  the data); each job runs its kernels on one thread (no nested parallelism);
* beyond one machine, a Dask cluster (:mod:`gradcore.experiments.dask_backend`): the data
  is sent to each worker once, and the scheduler re-runs the jobs of a worker that dies.

Every job runs on one kernel thread on every backend, so the results are the same bits
whatever the number of jobs side by side and wherever they run (on CPUs of the same
instruction-set level, :func:`gradcore.kernel_level`).

With a results folder (:class:`~gradcore.experiments.store.ResultStore`) each finished job
is written at once, the jobs already there are skipped, and Ctrl-C keeps them:
:class:`SweepInterrupted` is raised after the pending jobs were cancelled and the running
ones stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from .._core import StopFlag
from .._validation import MAX_JOBS, validated
from .dask_backend import SchedulerLost
from .jobs import Data, Job, JobResult, prepare_data, run_job
from .store import ResultStore

__all__ = ["run_jobs", "sweep", "default_jobs", "SweepInterrupted", "SweepTooLarge",
           "check_sweep_size"]


class SweepTooLarge(ValueError):
    """A sweep of more jobs than ``MAX_JOBS``, refused before any
    work."""


def check_sweep_size(n: int) -> None:
    """Refuse a sweep of ``n`` jobs beyond the limit (SweepTooLarge, a ValueError)."""
    if n > MAX_JOBS:
        raise SweepTooLarge(f"a sweep of {n} trainings is more than the limit of {MAX_JOBS}; "
                            f"split it into sweeps of fewer depths, scales or seeds")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_jobs`: pending jobs cancelled, finished ones kept.

    Attributes
    ----------
    finished, total : int
        Jobs finished (and written, with a results folder) and jobs in the sweep.
    """

    def __init__(self, finished: int, total: int) -> None:
        super().__init__(f"interrupted: {finished} of {total} jobs finished")
        self.finished = finished
        self.total = total


def default_jobs() -> int:
    """The number of CPUs this process may run on (the default number of jobs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class Backend(Protocol):
    """Where jobs run: started once, results yielded as they finish, cancellable."""

    def start(self, items: Sequence[tuple[int, Job]]) -> None: ...
    def results(self, ctrl_c: CtrlC) -> Iterator[tuple[int, JobResult]]: ...
    def cancel(self) -> list[tuple[int, JobResult]]: ...


class CtrlC:
    """Whether Ctrl-C was pressed while :func:`_ctrl_c_deferred` was active.

    A plain attribute, set by the signal handler: a handler must take no lock, because a
    second Ctrl-C runs the handler again inside the first call, on the same thread, and a
    lock the first call holds (``threading.Event.set`` takes one) is then never released.
    """

    def __init__(self) -> None:
        self.pressed = False

    def is_set(self) -> bool:
        """Whether Ctrl-C was pressed."""
        return self.pressed


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[CtrlC]:
    """While active in the main thread, Ctrl-C (any number of times) sets the flag yielded
    instead of raising KeyboardInterrupt wherever the thread happens to be; the caller
    raises it where that is safe. concurrent.futures.wait takes every future's lock before
    it looks at them: a KeyboardInterrupt raised in between left a lock held, and the
    pool's shutdown then waited for ever for the job thread that needed it. Elsewhere
    (another thread, or a SIGINT handler other than Python's default) nothing changes and
    the flag stays clear.
    """
    hit = CtrlC()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield hit
        return

    def handler(signum: int, frame: Any) -> None:
        hit.pressed = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, previous)


class ThreadBackend:
    """A pool of ``n`` threads in this process; every job gets its own StopFlag."""

    def __init__(self, data: Mapping[str, Data], n: int) -> None:
        self.data = data
        self.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="gradcore-job")
        self.futures: dict[Future[JobResult], int] = {}
        self.flags: list[StopFlag] = []

    def start(self, items: Sequence[tuple[int, Job]]) -> None:
        for i, job in items:
            flag = StopFlag()
            self.flags.append(flag)
            evaluation = None if job.evaluation is None else self.data[job.evaluation]
            probe = None if job.probe is None else self.data[job.probe]
            fut = self.pool.submit(run_job, job, self.data[job.data], evaluation, flag, probe)
            self.futures[fut] = i

    def results(self, ctrl_c: CtrlC) -> Iterator[tuple[int, JobResult]]:
        """Results as jobs finish. Ctrl-C (``ctrl_c``) is raised as KeyboardInterrupt
        here, between waits (at most 0.2 s late) or between results, never inside the
        wait."""
        pending = set(self.futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    if ctrl_c.is_set():
                        raise KeyboardInterrupt
                    yield self.futures[fut], fut.result()
                if ctrl_c.is_set():
                    raise KeyboardInterrupt
        finally:
            self.pool.shutdown(wait=not pending, cancel_futures=True)

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Stop every job; return the results of those that finished meanwhile."""
        for flag in self.flags:
            flag.set()
        for fut in self.futures:
            fut.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        return [(i, fut.result()) for fut, i in self.futures.items()
                if fut.done() and not fut.cancelled() and fut.exception() is None]


@validated("experiments.run_jobs")
def run_jobs(jobs: Sequence[Job], data: Mapping[str, Data], *, n_jobs: int | None = None,
             scheduler: Any = None, store: ResultStore | None = None,
             progress: bool = True, desc: str = "jobs",
             on_result: Callable[[int, JobResult], None] | None = None) -> list[JobResult]:
    """Run independent training jobs; return their results in job order.

    Parameters
    ----------
    jobs : sequence of Job
    data : mapping of str to (X, y)
        The data sets the jobs name (``job.data``, ``job.evaluation``).
    n_jobs : int or None
        Jobs side by side on this machine (threads); None: one per CPU (:func:`default_jobs`).
        1 runs every job one after the other on one core.
    scheduler : dask.distributed.Client, str or None
        Run on a Dask cluster instead: a Client, or a scheduler address such as
        ``"tcp://host:8786"`` (needs the ``dask`` extra). Not together with ``n_jobs``.
    store : ResultStore or None
        Results folder: jobs already stored are not run again; each finished job is
        written as soon as it finishes.
    progress : bool
        A progress bar over jobs on stderr (drawn only when stderr is a terminal).
    desc : str
        The progress bar's label.
    on_result : callable(index, result) or None
        Called in this thread as each job finishes (not for jobs found in ``store``).

    Returns
    -------
    list of JobResult
        ``result[i]`` is job ``i``'s, whatever order they finished in. A job that diverged
        has ``error`` set; the other jobs are not affected.

    Raises
    ------
    SweepInterrupted
        Ctrl-C (a KeyboardInterrupt): pending jobs were cancelled, running ones stopped,
        finished ones kept (in ``store``).
    """
    if n_jobs is not None and scheduler is not None:
        raise ValueError("n_jobs applies to this machine; with a scheduler the cluster's "
                         "workers decide: give one or the other")
    check_sweep_size(len(jobs))
    if store is not None and store.jobs != list(jobs):
        raise ValueError("store holds the results of other jobs than those given: open it "
                         "with these jobs")
    results: dict[int, JobResult] = {} if store is None else store.finished()
    todo = [(i, j) for i, j in enumerate(jobs) if i not in results]
    needed = ({j.data for _, j in todo} | {j.evaluation for _, j in todo if j.evaluation}
              | {j.probe for _, j in todo if j.probe})
    prepared = prepare_data({k: v for k, v in data.items() if k in needed})
    todo.sort(key=lambda item: -item[1].cost_estimate(len(prepared[item[1].data][0])))
    if progress and results:
        print(f"{desc}: {len(results)} of {len(jobs)} trainings were already done in "
              f"{store.dir if store is not None else 'the results folder'}: reused",
              file=sys.stderr, flush=True)
    bar = _bar(len(jobs), len(results), desc) if progress else None
    try:
        if todo:
            _run(todo, prepared, n_jobs, scheduler, store, results, bar, on_result, len(jobs))
    finally:
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(jobs))]


def _run(todo: list[tuple[int, Job]], data: dict[str, Data], n_jobs: int | None,
         scheduler: Any, store: ResultStore | None, results: dict[int, JobResult],
         bar: Any, on_result: Callable[[int, JobResult], None] | None, total: int) -> None:
    # Ctrl-C is deferred from the start to the end of the sweep, cancelling included:
    # however often it is pressed, the finished jobs are kept and the running ones stopped
    with _ctrl_c_deferred() as ctrl_c, _backend(data, n_jobs, scheduler, len(todo)) as backend:
        backend.start(todo)

        def keep(i: int, result: JobResult) -> None:
            if store is not None:
                store.save(i, result)
            results[i] = result
            if bar is not None:
                bar.update(1)

        try:
            for i, result in backend.results(ctrl_c):
                keep(i, result)
                if on_result is not None:
                    on_result(i, result)
        except KeyboardInterrupt:
            for i, result in backend.cancel():
                if i not in results:
                    keep(i, result)
            raise SweepInterrupted(len(results), total) from None
        except SchedulerLost as exc:  # what finished is in the store: say so
            backend.cancel()
            raise SchedulerLost(exc.address, len(results), total,
                                None if store is None else store.dir) from None
        except BaseException:
            backend.cancel()
            raise


class _backend:
    """The backend for the arguments, as a context manager that releases it."""

    def __init__(self, data: dict[str, Data], n_jobs: int | None, scheduler: Any,
                 n_todo: int) -> None:
        self.args = (data, n_jobs, scheduler, n_todo)
        self.closer: Callable[[], None] = lambda: None

    def __enter__(self) -> Backend:
        data, n_jobs, scheduler, n_todo = self.args
        if scheduler is None:
            return ThreadBackend(data, min(n_jobs or default_jobs(), n_todo))
        from .dask_backend import DaskBackend

        backend = DaskBackend(scheduler, data)
        self.closer = backend.close
        return backend

    def __exit__(self, *exc: object) -> None:
        self.closer()


def _bar(total: int, initial: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="job", file=sys.stderr,
                disable=None, leave=False, dynamic_ncols=True)



def sweep(experiment: str, settings: Mapping[str, Any], jobs: Sequence[Job],
          data: Mapping[str, Data], *, out_dir: Any = None, force: bool = False,
          n_jobs: int | None = None, scheduler: Any = None,
          progress: bool = True) -> list[JobResult]:
    """:func:`run_jobs` with the results folder ``out_dir`` (if given) opened first.

    The folder is created and checked to be writable, and its stored results to be of these
    settings (else :class:`~gradcore.experiments.store.SettingsMismatch`, unless
    ``force``), before any job runs.
    """
    store = None if out_dir is None else ResultStore(out_dir, experiment, settings, jobs,
                                                     force=force)
    return run_jobs(jobs, data, n_jobs=n_jobs, scheduler=scheduler, store=store,
                    progress=progress, desc=experiment)
