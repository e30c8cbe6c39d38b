"""Jobs on a Dask cluster (the ``dask`` extra: ``pip install "gradcore[dask]"``).

The runner takes a :class:`dask.distributed.Client` (or a scheduler address) rather than
any :class:`concurrent.futures.Executor`, because the Client can do what the Executor
interface cannot: make each data set a task of its own that every job names, so that a
worker receives each data set once and only the few numbers of a job spec cross the network
per job; an Executor pickles every argument with every job. The Client's scheduler also
re-runs the jobs of a worker that dies, and its futures can be cancelled.

The data sets are tasks that return the arrays they were given, not data scattered to the
workers: the scheduler keeps the recipe of a task (its arguments: one copy of each data
set, held by the scheduler for the sweep), so when the only worker holding a data set is
restarted by its nanny, or dies, the scheduler makes the data set again on a worker and the
jobs go on. Scattered data has no recipe: lost with its workers, it takes every job still
to run with it.

A scheduler that goes away in the middle of a sweep ends it with :class:`SchedulerLost`
(a ConnectionError naming the scheduler); the jobs finished before are kept in the results
folder, and the same sweep started again on a scheduler resumes from them.

Each job runs in a worker thread with its kernels on one thread (:func:`run_job`), as it
does locally, so the results are the same bits (on workers of the same instruction-set
level). A job already running on a worker cannot be stopped from here: Ctrl-C cancels the
pending jobs and abandons the running ones.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import re
import socket
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .jobs import Data, Job, JobResult, run_job

__all__ = ["DaskBackend", "SchedulerLost", "WorkerMismatch", "check_workers", "check_address",
           "connect"]


#: ``[scheme://]host:port``: a host name, IPv4 or [IPv6] address, and a port.
_ADDRESS = re.compile(r"(?:(tcp|tls|ws|wss|ucx)://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
                      r":([0-9]{1,5})")


def check_address(address: str) -> str:
    """The scheduler address ``address``, checked: ``[tcp://]host:port`` (or tls, ws, wss,
    ucx); ValueError naming what came otherwise."""
    m = _ADDRESS.fullmatch(address)
    if m is None or not 0 < int(m[3]) < 65536:
        raise ValueError(f"scheduler must be a Dask scheduler address like "
                         f"'tcp://host:8786', got {address!r}")
    return address if m[1] else f"tcp://{address}"


def connect(scheduler: Any) -> tuple[Any, bool]:
    """(a Client for ``scheduler``, whether this module opened it and must close it).

    An address is checked first (:func:`check_address`), then asked who it is, within
    Dask's connect timeout (``distributed.comm.timeouts.connect``, 30 s by default): Dask's
    own connection waits for ever at a port that accepts TCP but does not answer as Dask
    does (a scheduler's web dashboard, say). ConnectionError (an OSError) says why not.
    """
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError("running on a Dask cluster needs dask.distributed: "
                          'pip install "gradcore[dask]"') from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be a dask.distributed.Client or an address like "
                        f"'tcp://host:8786', got {scheduler!r}")
    address = check_address(scheduler)
    timeout = _connect_timeout()
    _reach(address, timeout)
    _ask_identity(address, timeout)
    try:
        client = Client(address, set_as_default=False, timeout=timeout)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"could not connect to the Dask scheduler at {address}: "
                              f"{exc}") from None
    return client, True


def _connect_timeout() -> float:
    import dask
    from dask.utils import parse_timedelta

    value = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    return float(value) if value else 30.0


def _reach(address: str, timeout: float) -> None:
    """Open and close a TCP connection to ``address``: a refused one is reported at once,
    where Dask tries again until its timeout."""
    m = _ADDRESS.fullmatch(address)
    if m is None or m[1] == "ucx":
        return
    try:
        socket.create_connection((m[2].strip("[]"), int(m[3])), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectionError(f"could not connect to the Dask scheduler at {address}: "
                              f"{_one_line(reason)}") from None


def _ask_identity(address: str, timeout: float) -> None:
    """Check that a Dask scheduler answers at ``address`` within ``timeout`` seconds."""
    from distributed.comm.core import connect as open_comm

    async def identity() -> Any:
        comm = await open_comm(address, timeout=timeout)  # type: ignore[no-untyped-call]
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        return await asyncio.wait_for(identity(), timeout)

    def run() -> Any:  # a loop of its own, whatever loop the caller's thread runs
        return asyncio.run(bounded())

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            answer = pool.submit(run).result()
        except (TimeoutError, asyncio.TimeoutError):
            raise ConnectionError(f"no Dask scheduler answered at {address} within "
                                  f"{timeout:g} s (is that the scheduler's port, not its "
                                  f"dashboard's?)") from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectionError(f"could not connect to the Dask scheduler at {address}: "
                                  f"{_one_line(reason)}") from None
    kind = answer.get("type") if isinstance(answer, dict) else None
    if kind != "Scheduler":
        raise ConnectionError(f"{address} is not a Dask scheduler (it answered as "
                              f"{kind or 'something else'})")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class WorkerMismatch(RuntimeError):
    """A worker runs another gradcore (version or kernel level) than this machine, or none:
    its results would not be the same bits."""


def check_workers(client: Any) -> None:
    """Refuse the cluster unless every worker runs this gradcore version at this kernel
    level (:func:`gradcore.kernel_level`): WorkerMismatch naming the first that does not."""
    from .. import __version__, kernel_level

    def identity() -> tuple[str, str]:  # nested: sent by value, as no gradcore may be there
        try:
            import gradcore
        except BaseException as exc:  # an ImportError, or whatever its import raised
            return "", f"{type(exc).__name__}: {exc}"
        return gradcore.__version__, gradcore.kernel_level()

    here = (__version__, kernel_level())
    for worker, answer in sorted(client.run(identity, on_error="return").items()):
        if isinstance(answer, BaseException):
            raise WorkerMismatch(f"worker {worker} could not be asked its gradcore version: "
                                 f"{type(answer).__name__}: {_one_line(str(answer))}")
        version, level = answer
        if not version:
            raise WorkerMismatch(f"worker {worker} cannot import gradcore ({_one_line(level)}); "
                                 f"install gradcore {__version__} on every worker")
        if (version, level) != here:
            raise WorkerMismatch(
                f"worker {worker} runs gradcore {version} at kernel level {level}, this "
                f"machine gradcore {here[0]} at kernel level {here[1]}: its results would "
                f"not be the same; install gradcore {__version__} on workers of one kernel "
                f"level")


class SchedulerLost(ConnectionError):
    """The Dask scheduler went away in the middle of a sweep (stopped, killed, or the
    network to it lost): the jobs not finished are lost with it, those finished are kept.

    Attributes
    ----------
    address : str
        The scheduler's address.
    finished, total : int or None
        Jobs finished and jobs in the sweep, when the runner knows them.
    """

    def __init__(self, address: str, finished: int | None = None,
                 total: int | None = None, where: Any = None) -> None:
        done = "" if finished is None else f"; {finished} of {total} trainings finished"
        kept = "" if where is None else f", kept in {where}: run the sweep again to resume"
        super().__init__(f"lost the Dask scheduler at {address} (stopped, or out of reach) "
                         f"in the middle of the sweep{done}{kept}")
        self.address, self.finished, self.total = address, finished, total


def hold(data: Data) -> Data:
    """The data set it is given: as a task (:class:`DaskBackend`), a data set the scheduler
    can make again on a worker that lost it."""
    return data


class DaskBackend:
    """Jobs submitted to a Dask cluster, each data set a task that every job names."""

    def __init__(self, scheduler: Any, data: Mapping[str, Data]) -> None:
        self.client, self.owned = connect(scheduler)
        try:
            check_workers(self.client)  # before the data is sent
        except BaseException:
            if self.owned:
                self.client.close()
            raise
        self.address = str(self.client.scheduler.address)
        self.tag = uuid.uuid4().hex[:8]
        self.data = {name: self._hold(name, value) for name, value in data.items()}
        self.futures: dict[Any, int] = {}

    def _hold(self, name: str, value: Data) -> Any:
        """The task that holds the data set ``value``. Dask warns of a task whose arguments
        are large, so as not to send them with every task: this one is sent once."""
        import dask
        from dask.utils import parse_bytes

        size = sum(int(getattr(a, "nbytes", 0)) for a in value)
        threshold = dask.config.get("distributed.admin.large-graph-warning-threshold")
        with dask.config.set({"distributed.admin.large-graph-warning-threshold":
                              f"{parse_bytes(threshold) + size}B"}):
            return self.client.submit(hold, value, key=f"gradcore-data-{self.tag}-{name}",
                                      pure=False)

    def lost(self) -> bool:
        """Whether the connection to the scheduler is lost (the Client then cancels every
        future, and gives up after its connect timeout)."""
        return self.client.status not in ("running", "newly-created")

    def start(self, items: Sequence[tuple[int, Job]]) -> None:
        for i, job in items:
            evaluation = None if job.evaluation is None else self.data[job.evaluation]
            probe = None if job.probe is None else self.data[job.probe]
            fut = self.client.submit(run_job, job, self.data[job.data], evaluation, None, probe,
                                     key=f"gradcore-job-{self.tag}-{i}", pure=False)
            self.futures[fut] = i

    def results(self, ctrl_c: Any) -> Iterator[tuple[int, JobResult]]:
        """Results as jobs finish; Ctrl-C (``ctrl_c.is_set()``) is raised as
        KeyboardInterrupt between them (at most 0.1 s late)."""
        from dask.distributed import as_completed

        done = as_completed(list(self.futures), loop=self.client.loop)  # type: ignore[no-untyped-call]
        while not done.is_empty():  # type: ignore[no-untyped-call]
            if ctrl_c.is_set():
                raise KeyboardInterrupt
            batch = done.next_batch(block=False)  # type: ignore[no-untyped-call]
            if not batch:
                time.sleep(0.1)
            for fut in batch:
                yield self.futures.pop(fut), self._result(fut)
                fut.release()  # a worker lost later must not run a finished job again
                if ctrl_c.is_set():
                    raise KeyboardInterrupt

    def _result(self, fut: Any) -> JobResult:
        from concurrent.futures import CancelledError

        try:
            result: JobResult = fut.result()
        except CancelledError as exc:
            if self.lost() or getattr(exc, "reason", "") == "scheduler-connection-lost":
                raise SchedulerLost(self.address) from None
            raise
        return result

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Cancel what has not finished; return the results of what had (none, with the
        scheduler lost)."""
        if self.lost():
            return []
        done = [(i, fut) for fut, i in self.futures.items() if fut.status == "finished"]
        self.client.cancel([f for f in self.futures if f.status != "finished"])
        return [(i, fut.result()) for i, fut in done]

    def close(self) -> None:
        """Release the futures and the data sets; close a Client opened here (at once,
        with the scheduler lost: not after the Client's attempts to reconnect)."""
        if not self.lost():
            self.client.cancel(list(itertools.chain(self.futures, self.data.values())))
        if self.owned and self.lost():
            # the Client logs its failed reconnection, with tracebacks, as it closes: the
            # loss of the scheduler is reported once, by SchedulerLost
            with _quiet("distributed.client"):
                self.client.close(timeout=_CLOSE_TIMEOUT)
        elif self.owned:
            self.client.close()


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger ``name`` silent while active."""
    logger = logging.getLogger(name)
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


#: Seconds to close a Client whose scheduler is gone.
_CLOSE_TIMEOUT = 5.0

