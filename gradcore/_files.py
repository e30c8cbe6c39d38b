"""Files gradcore reads and writes: only regular ones, and temporaries that never linger.

Shared by :mod:`gradcore.datasets` (MNIST files, downloads) and :mod:`gradcore._io`
(network files). Nothing here imports the compiled core, so ``gradcore/datasets.py`` stays
loadable without it (``tools/make_embedded_mnist.py``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable
from typing import BinaryIO

if sys.platform != "win32":
    import fcntl

__all__ = ["not_a_regular_file", "create_temporary", "write_temporary", "open_regular",
           "regular_file_mode", "fsync_directory"]

#: The name of a temporary file of create_temporary; group 1 is the creating pid.
_TEMPORARY = re.compile(r"\.gradcore-([0-9]{1,10})-[0-9a-f]{12}\.tmp")


def not_a_regular_file(path: str, mode: int) -> OSError:
    """The error for ``path``, which is not a regular file (``mode`` from ``os.stat``)."""
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, "is a directory, not a regular file", path)
    kinds = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
             stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
    kind = kinds.get(stat.S_IFMT(mode), "a special file")
    return OSError(errno.EINVAL, f"is {kind}, not a regular file", path)


def create_temporary(directory: str) -> tuple[int, str]:
    """Create a new temporary file in ``directory``; return its descriptor and path.

    The name, ``.gradcore-<pid>-<12 hex digits>.tmp``, is as long whatever file it stands
    in for. On POSIX the file is locked for as long as the descriptor is open, and
    temporaries left in ``directory`` by processes that were killed are removed first (see
    :func:`_remove_stale_temporaries`). ``os.open`` with mode 0o666 lets the umask decide
    the permissions, as for a file that ``open(path, "w")`` would create.
    """
    _remove_stale_temporaries(directory)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".gradcore-{os.getpid()}-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        if _lock(fd, tmp):
            return fd, tmp
        os.close(fd)  # pragma: no cover - taken for stale in the instant before the lock


def _lock(fd: int, path: str) -> bool:
    """Lock the new file ``fd`` at ``path`` until it is closed; False if it was removed."""
    if sys.platform == "win32":
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # pragma: no cover - a file system without locks: the pid guards it
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:  # pragma: no cover
        return False


def _remove_stale_temporaries(directory: str) -> None:
    """Remove the temporaries of saves and downloads in ``directory`` whose process is gone.

    A temporary is stale when no process has the pid in its name and nobody holds its
    lock: the lock keeps those of live processes that another PID namespace (another
    container sharing the folder) hides. Does nothing on Windows; never raises.
    """
    if sys.platform == "win32":
        return
    try:
        with os.scandir(directory) as entries:
            stale = [e.path for e in entries
                     if (m := _TEMPORARY.fullmatch(e.name)) is not None
                     and e.is_file(follow_symlinks=False) and not _pid_exists(int(m[1]))]
    except OSError:
        return
    for path in stale:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)
        except OSError:  # locked by a live process, or removed meanwhile
            pass
        finally:
            os.close(fd)


def _pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` may exist (True when in doubt)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: another user's process
        return True
    return True


def open_regular(path: str) -> io.BufferedReader:
    """Open the regular file ``path`` for reading; refuse anything else without reading.

    A FIFO, a device (/dev/zero, a terminal), a socket or a directory raises OSError naming
    the path: reading it could block for ever or never end. It is opened with O_NONBLOCK
    and checked again, so one swapped in between is refused too.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise not_a_regular_file(path, st.st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_a_regular_file(path, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def regular_file_mode(path: str) -> int | None:
    """The permission bits of the regular file ``path``, None if nothing is there.

    Anything else (a directory, a FIFO, a device such as /dev/null, a socket) is refused:
    replacing it by a regular file would destroy it.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise not_a_regular_file(path, st.st_mode)
    return stat.S_IMODE(st.st_mode)


def write_temporary(directory: str, write: Callable[[BinaryIO], object],
                    mode: int | None) -> str:
    """A new temporary file in ``directory`` (see :func:`create_temporary`) holding what
    ``write(file)`` wrote, flushed to disk, with permission bits ``mode`` (None: as
    created); returns its path, for the caller to rename over its destination. On any
    failure the file is removed and the error raised."""
    fd, tmp = create_temporary(directory)
    try:
        try:
            f = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
