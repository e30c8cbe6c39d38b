"""Jobs on a Dask cluster (the ``dask`` extra: ``pip install "gradcore[dask]"``).

The runner takes a :class:`dask.distributed.Client` (or a scheduler address) rather than
any :class:`concurrent.futures.Executor`, because the Client can do what the Executor
interface cannot: send the data set to every worker once (``Client.scatter(...,
broadcast=True)``) and let each job name it, so that only the few numbers of a job spec
cross the network per job; an Executor pickles every argument with every job. The Client's
scheduler also re-runs the jobs of a worker that dies, and its futures can be cancelled.

Each job runs in a worker thread with its kernels on one thread (:func:`run_job`), as it
does locally, so the results are the same bits (on workers of the same instruction-set
level). A job already running on a worker cannot be stopped from here: Ctrl-C cancels the
pending jobs and abandons the running ones.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .jobs import Data, Job, JobResult, run_job

__all__ = ["DaskBackend", "connect"]


def connect(scheduler: Any) -> tuple[Any, bool]:
    """(a Client for ``scheduler``, whether this module opened it and must close it)."""
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError("running on a Dask cluster needs dask.distributed: "
                          'pip install "gradcore[dask]"') from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler, set_as_default=False), True  # type: ignore[no-untyped-call]
    raise TypeError(f"scheduler must be a dask.distributed.Client or an address like "
                    f"'tcp://host:8786', got {scheduler!r}")


class DaskBackend:
    """Jobs submitted to a Dask cluster, the data scattered once to every worker."""

    def __init__(self, scheduler: Any, data: Mapping[str, Data]) -> None:
        self.client, self.owned = connect(scheduler)
        self.data = self.client.scatter(dict(data), broadcast=True, hash=False)
        self.futures: dict[Any, int] = {}
        self.tag = uuid.uuid4().hex[:8]

    def start(self, items: Sequence[tuple[int, Job]]) -> None:
        for i, job in items:
            evaluation = None if job.evaluation is None else self.data[job.evaluation]
            probe = None if job.probe is None else self.data[job.probe]
            fut = self.client.submit(run_job, job, self.data[job.data], evaluation, None, probe,
                                     key=f"gradcore-job-{self.tag}-{i}", pure=False)
            self.futures[fut] = i

    def results(self) -> Iterator[tuple[int, JobResult]]:
        from dask.distributed import as_completed

        done = as_completed(list(self.futures), loop=self.client.loop)  # type: ignore[no-untyped-call]
        for fut in done:
            yield self.futures[fut], fut.result()

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Cancel what has not finished; return the results of what had."""
        done = [(i, fut) for fut, i in self.futures.items() if fut.status == "finished"]
        self.client.cancel([f for f in self.futures if f.status != "finished"])
        return [(i, fut.result()) for i, fut in done]

    def close(self) -> None:
        """Release the futures and the scattered data; close a Client opened here."""
        self.client.cancel(list(itertools.chain(self.futures, self.data.values())))
        if self.owned:
            self.client.close()
