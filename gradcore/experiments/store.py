"""A folder of finished job results, so that a long sweep loses nothing and resumes.

Layout under the results folder ``DIR``::

    DIR/jobs/sweep.json     the experiment, its settings and its list of jobs
    DIR/jobs/00012.json     the result of job 12, written as soon as it finished

Every file is written atomically (:func:`gradcore.experiments.output.write_files`). Opening
a folder whose ``sweep.json`` holds other settings is an error naming ``force=True`` (on
the command line ``--force``), which deletes the stored results and the outputs of the
earlier run and starts afresh: results of other settings are never reused or mixed in.
Settings that differ in their seeds only (``settings["seeds"]``, e.g. ``--seeds 8`` after
``--seeds 1``) are the same trainings for the seeds in both: those results are kept
(renumbered for the new list of jobs), the others are removed, and no ``force`` is needed.
Every job file carries the fingerprint of its sweep (experiment and settings, data and
version included), and only files of this sweep are read back. A run holds a lock on the folder
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
    """The results folder holds results of other settings: ``force=True`` replaces them
    (``--force`` on the command line, whose message is ``message("--force")``).

    Attributes
    ----------
    folder : str
    difference : str
        What differs, e.g. ``"epochs: 500 there, 30 here"``.
    """

    def __init__(self, folder: PathLike, difference: str) -> None:
        self.folder, self.difference = os.fspath(folder), difference
        super().__init__(self.message())

    def message(self, force: str = "force=True") -> str:
        """The error, naming ``force`` as the way to replace the results."""
        return (f"{self.folder} holds results of other settings ({self.difference}); pass "
                f"{force} to replace them, or choose another folder")

    def __reduce__(self) -> tuple[type[SettingsMismatch], tuple[str, str]]:
        return type(self), (self.folder, self.difference)


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
        Replace results of other settings instead of refusing them. Settings that differ
        in ``settings["seeds"]`` only need no ``force``: the results of the seeds in both
        are kept, with or without it.

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
        self.fingerprint = _fingerprint(self.manifest)
        check_writable(self.folder)
        self.dir.mkdir(exist_ok=True)
        self.lock = hold_folder(self.folder)  # held as long as this store is
        old = self._read_manifest()
        reuse = old is not None and _other_seeds_only(old, self.manifest)
        if old is not None and old != self.manifest and not reuse and not force:
            self.lock.release()
            raise SettingsMismatch(self.folder, _difference(old, self.manifest))
        if old != self.manifest:
            # the results of the seeds in both, staged under names no run reads
            staged = self._stage_reused(old) if old is not None and reuse else {}
            self._clear()
            remove_outputs(self.folder)
            write_files(self.dir, {MANIFEST: _dumps(self.manifest)})
            for i, path in staged.items():
                os.replace(path, self._path(i))
        for path in self.dir.glob(f"*{_STAGED}"):  # left by a run stopped while renaming
            path.unlink()

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

    def _stage_reused(self, old: Mapping[str, Any]) -> dict[int, pathlib.Path]:
        """Copy every stored result of ``old`` whose job is also one of this sweep's to a
        staging file of its new index, with this sweep's fingerprint; return the staging
        files by new index. (The fingerprint of ``old`` differs in the seeds only.)"""
        index: dict[bytes, int] = {}
        for n, job in enumerate(self.manifest["jobs"]):
            index.setdefault(_dumps(job), n)
        old_fingerprint = _fingerprint(old)
        staged: dict[int, pathlib.Path] = {}
        for k, job_doc in enumerate(old["jobs"]):
            i = index.get(_dumps(job_doc))
            if i is None or i in staged:
                continue
            try:
                doc = _read_json(self._path(k), _job_bytes(self.jobs[i]))
                if doc.get("sweep") != old_fingerprint:
                    continue
                if JobResult.from_dict(doc).job != self.jobs[i]:
                    continue
            except (*_UNREADABLE, AttributeError):
                continue
            name = f"{i:05d}{_STAGED}"
            write_files(self.dir, {name: _dumps({**doc, "sweep": self.fingerprint})})
            staged[i] = self.dir / name
        return staged

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


#: The ending of a stored result staged for its new index (see ``_stage_reused``).
_STAGED = ".reused"

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


def _fingerprint(manifest: Mapping[str, Any]) -> str:
    """The fingerprint of a sweep: its experiment and settings (not its list of jobs)."""
    return hashlib.blake2b(_dumps([manifest.get("experiment"), manifest.get("settings")]),
                           digest_size=16).hexdigest()


def _other_seeds_only(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the sweeps ``old`` and ``new`` (records of ``sweep.json``) differ in their
    seeds only: the same experiment, and settings that are the same but for ``"seeds"``.
    The settings hold everything but the jobs that a result depends on (the data's
    fingerprint and the version included), so a job in both lists is the same training."""
    if "unreadable" in old or old.get("experiment") != new["experiment"]:
        return False
    o, n = old.get("settings"), new["settings"]
    if not isinstance(o, dict) or "seeds" not in o or "seeds" not in n:
        return False
    if not isinstance(old.get("jobs"), list):
        return False
    return {k: v for k, v in o.items() if k != "seeds"} == \
        {k: v for k, v in n.items() if k != "seeds"}


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
    if "seeds" in keys and len(keys) > 1 and "seeds" in o and "seeds" in n:
        keys.remove("seeds")  # other seeds alone are never refused: not the reason
    if keys:
        return "; ".join(f"{k}: {_short(o.get(k))} there, {_short(n.get(k))} here"
                         for k in keys[:3])
    return "other jobs"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
