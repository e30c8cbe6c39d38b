"""A folder of finished job results, so that a long sweep loses nothing and resumes.

Layout under the results folder ``DIR``::

    DIR/jobs/sweep.json     the experiment, its settings and its list of jobs
    DIR/jobs/00012.json     the result of job 12, written as soon as it finished

Every file is written atomically (:func:`gradcore.experiments.output.write_files`). Opening
a folder whose ``sweep.json`` holds other settings is an error naming ``--force``
(``force=True``), which deletes the stored results and the outputs of the earlier run and
starts afresh: results of other settings are never reused or mixed in. Every job file
carries the fingerprint of its sweep (experiment and settings, data and version
included), and only files of this sweep are read back. A run holds a lock on the folder
(``DIR/jobs/.lock``) from start to end: another run on the same folder is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .._files import open_regular
from .jobs import Job, JobResult
from .output import check_writable, remove_outputs, write_files

if sys.platform != "win32":
    import fcntl

__all__ = ["ResultStore", "SettingsMismatch", "FolderInUse", "hold_folder"]

PathLike = str | os.PathLike[str]

MANIFEST = "sweep.json"


class SettingsMismatch(ValueError):
    """The results folder holds results of other settings (pass ``--force`` to replace)."""


class FolderInUse(OSError):
    """Another run (another process) holds the results folder."""


#: The folders this process holds: real path -> [descriptor of the lock file, holders].
_HELD: dict[str, list[int]] = {}


class hold_folder:
    """Hold the lock of the results folder ``folder`` (None: nothing) while in the block.

    The lock is ``folder/jobs/.lock``, locked (``flock``) for as long as a holder in this
    process has it; a run in another process is refused (:class:`FolderInUse`), as its
    writes would mix with ours, or a ``--force`` of it delete ours. Holders in one process
    share the lock. The lock ends with the process, however it ends.
    """

    def __init__(self, folder: PathLike | None) -> None:
        self.key: str | None = None
        if folder is None:
            return
        lock = check_writable(folder) / "jobs" / ".lock"
        lock.parent.mkdir(exist_ok=True)
        key = os.path.realpath(lock)
        if key in _HELD:
            _HELD[key][1] += 1
            self.key = key
            return
        fd = os.open(key, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise FolderInUse(f"{folder} is in use by another gradcore run"
                              f"{f' (process {pid})' if pid else ''}; let it end, or choose "
                              f"another folder") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]
        self.key = key

    def release(self) -> None:
        """Let go of the lock (the last holder in this process unlocks it)."""
        if self.key is None:
            return
        held = _HELD[self.key]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self.key]
            os.close(held[0])
        self.key = None

    def __enter__(self) -> hold_folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        if getattr(self, "key", None) is not None:
            self.release()


class ResultStore:
    """The stored results of one sweep: ``experiment``, ``settings`` and ``jobs``.

    Parameters
    ----------
    folder : path
        The results folder (created if needed, and checked to be writable at once).
    experiment : str
        Name of the experiment, e.g. ``"chapter5"``.
    settings : mapping
        JSON-ready settings that, with the jobs, determine every result.
    jobs : sequence of Job
    force : bool
        Replace results of other settings instead of refusing them.

    Raises
    ------
    SettingsMismatch
        The folder holds results of other settings and ``force`` is false.
    OSError
        The folder cannot be created or written.
    """

    def __init__(self, folder: PathLike, experiment: str, settings: Mapping[str, Any],
                 jobs: Sequence[Job], *, force: bool = False) -> None:
        self.folder = pathlib.Path(folder)
        self.dir = self.folder / "jobs"
        self.jobs = list(jobs)
        self.manifest = _normalised({"experiment": experiment, "settings": dict(settings),
                                     "jobs": [j.to_dict() for j in self.jobs]})
        self.fingerprint = hashlib.blake2b(
            _dumps([self.manifest["experiment"], self.manifest["settings"]]),
            digest_size=16).hexdigest()
        check_writable(self.folder)
        self.dir.mkdir(exist_ok=True)
        self.lock = hold_folder(self.folder)  # held as long as this store is
        old = self._read_manifest()
        if old is not None and old != self.manifest and not force:
            self.lock.release()
            raise SettingsMismatch(
                f"{self.folder} holds results of other settings "
                f"({_difference(old, self.manifest)}); pass --force (force=True) to "
                f"replace them, or choose another folder")
        if old != self.manifest:
            self._clear()
            remove_outputs(self.folder)
            write_files(self.dir, {MANIFEST: _dumps(self.manifest)})

    def close(self) -> None:
        """Let go of the folder's lock (also done when the store is garbage)."""
        self.lock.release()

    def _read_manifest(self) -> dict[str, Any] | None:
        path = self.dir / MANIFEST
        if not path.exists():
            return None if not any(self.dir.glob("*.json")) else {"unreadable": True}
        try:
            doc = _read_json(path, 16 * len(_dumps(self.manifest)) + _MANIFEST_BYTES)
        except _UNREADABLE:
            return {"unreadable": str(path)}
        return doc if isinstance(doc, dict) else {"unreadable": str(path)}

    def _clear(self) -> None:
        for p in self.dir.glob("*.json"):
            p.unlink()

    def _path(self, i: int) -> pathlib.Path:
        return self.dir / f"{i:05d}.json"

    def finished(self) -> dict[int, JobResult]:
        """The stored results, by job index.

        Files that do not read back are left out, and their jobs run again: only regular
        files are read (a FIFO or a device named like a job file is never opened), of at
        most the size the job's result can take (``_job_bytes``).
        """
        done = {}
        for i, job in enumerate(self.jobs):
            try:
                doc = _read_json(self._path(i), _job_bytes(job))
                if doc.get("sweep") != self.fingerprint:
                    continue  # written by another sweep
                result = JobResult.from_dict(doc)
            except (*_UNREADABLE, AttributeError):
                continue
            if result.job == job:
                done[i] = result
        return done

    def save(self, i: int, result: JobResult) -> None:
        """Write the result of job ``i`` (atomically), replacing whatever is there but a
        folder."""
        path = self._path(i)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():
                path.unlink()  # a FIFO, a device or a link to one: never read, replaced
        except FileNotFoundError:
            pass
        write_files(self.dir, {path.name: _dumps({"sweep": self.fingerprint,
                                                  **result.to_dict()})})


#: What a stored file that does not read back raises (RecursionError: nested too deep;
#: OverflowError: a size of Infinity).
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, RecursionError, OverflowError)

#: Bytes a record of settings may hold besides 16 times the size of this sweep's own (the
#: one there may be of other settings, with more jobs).
_MANIFEST_BYTES = 1 << 26
#: Bytes a stored result may hold besides its numbers.
_SLACK_BYTES = 1 << 16
#: Bytes a stored number may take ("-1.2345678901234567e-308, " and then some).
_NUMBER_BYTES = 40


def _job_bytes(job: Job) -> int:
    """The most bytes the stored result of ``job`` may hold: every number it can record."""
    layers = len(job.sizes) - 1
    numbers = (job.epochs + 2) * (layers + 2) + sum(job.sizes[1:])
    return _SLACK_BYTES + _NUMBER_BYTES * numbers


def _read_json(path: pathlib.Path, limit: int) -> Any:
    """The JSON document in the regular file ``path`` of at most ``limit`` bytes.

    Anything else raises without being read whole: OSError (not a regular file, which
    could block or never end) or ValueError (too large, or not JSON).
    """
    with open_regular(str(path)) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ValueError(f"{path}: {size} bytes, more than the {limit} its job can need")
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path}: more than {limit} bytes")
    return json.loads(raw)


def _dumps(doc: Any) -> bytes:
    return (json.dumps(doc, allow_nan=True) + "\n").encode("utf-8")


def _normalised(doc: Any) -> Any:
    result: Any = json.loads(json.dumps(doc))
    return result


def _difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    if "unreadable" in old:
        return "no readable record of them"
    if old.get("experiment") != new["experiment"]:
        return f"experiment {old.get('experiment')!r} there, {new['experiment']!r} here"
    o, n = old.get("settings", {}), new["settings"]
    keys = sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))
    if keys:
        return "; ".join(f"{k}: {_short(o.get(k))} there, {_short(n.get(k))} here"
                         for k in keys[:3])
    return "other jobs"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
