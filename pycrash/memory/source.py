"""Random-access byte sources: what every reader of the memory layer reads through.

Readers call ``pread(offset, size)``, so a kdump file can be served from a plain
file or straight from its flattened form (``makedumpfile -F``,
:class:`pycrash.memory.formats.flattened.FlatSource`) without first being
rearranged on disk.

:class:`FileSource` is the one place a dump or vmlinux file is opened: it refuses
what is not a regular file (a FIFO would block the open, a directory or a socket has
no bytes) before opening it, except the live sources pycrash documents
(:data:`LIVE_FILES`); it answers any offset and size a damaged header may ask for
(past the end: fewer bytes or none, never an exception of Python's), and turns a
read error of the disk into a one-line :class:`ReadError` naming the file and offset.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from pycrash.errors import DumpError

#: The files that are not regular files and that pycrash reads anyway: the running
#: kernel's and a capture kernel's memory (``--live``, ``--oldmem``).
LIVE_FILES = frozenset({"/proc/kcore", "/proc/vmcore", "/dev/mem", "/dev/oldmem", "/dev/crash"})
#: The most one read may ask for: a kdump bitmap of a 16 TiB machine is 512 MiB; a
#: larger size comes from a damaged header (and would exhaust memory).
MAX_READ = 1 << 30
#: The largest offset ``os.pread`` takes.
MAX_OFFSET = (1 << 63) - 1


class ReadError(DumpError):
    """The disk failed to give bytes of a file (EIO...): the file and offset are named."""

    def __init__(self, path: str, offset: int, exc: OSError) -> None:
        self.path, self.offset, self.error = path, offset, exc
        super().__init__(f"{path}: read error at byte {offset:#x}: {exc.strerror or exc}")


class ByteSource(Protocol):
    """Anything that reads bytes at an offset."""

    path: str

    def pread(self, offset: int, size: int) -> bytes:
        """Return up to ``size`` bytes at ``offset`` (fewer only at the end)."""
        ...

    def size(self) -> int:
        """Return the number of bytes."""
        ...


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover (every kind is named above)


def check_file(path: str) -> os.stat_result:
    """Return the status of ``path`` if pycrash may read it: a regular file, or one of the
    live sources (:data:`LIVE_FILES`); else one :class:`DumpError` line saying what it
    is. Nothing is opened, so a FIFO cannot block."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DumpError(f"{path}: no such file") from None
    except PermissionError:
        raise DumpError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DumpError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(st.st_mode):
        return st
    if os.path.realpath(path) in LIVE_FILES and stat.S_ISCHR(st.st_mode):
        return st
    raise DumpError(f"{path}: is {_kind(st.st_mode)}, not a dump file")


def open_checked(path: str) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only after :func:`check_file` (non-blocking: what changed into
    a FIFO between the check and the open does not block either); return the descriptor
    and its status."""
    check_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise DumpError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DumpError(f"{path}: cannot open: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) and not (
            os.path.realpath(path) in LIVE_FILES and stat.S_ISCHR(st.st_mode)):
        os.close(fd)
        raise DumpError(f"{path}: is {_kind(st.st_mode)}, not a dump file")
    return fd, st


class FileSource:
    """A file opened read-only (never written: pycrash does not modify dumps)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd, st = open_checked(path)
        self._size = st.st_size if stat.S_ISREG(st.st_mode) else 0

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset > MAX_OFFSET:
            return b""
        if self._size:  # a regular file: what a damaged header asks past its end is nothing
            size = min(size, self._size - offset)
            if size <= 0:
                return b""
        if size > MAX_READ:
            raise DumpError(f"{self.path}: a damaged header asks to read {size} bytes at "
                            f"byte {offset:#x}")
        try:
            return os.pread(self._fd, size, offset)
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # a device's end, or an offset it has not
                return b""
            raise ReadError(self.path, offset, exc) from None

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        """Close the file (a source kept by a reader stays open for the session)."""
        os.close(self._fd)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class FaultySource:
    """A byte source whose reads fail as a failing disk's do (EIO) where ``bad(offset,
    size)`` says so: for tests of what a read error in the middle of a command gives.
    It wraps any source; the memory layer's readers take it wherever they take a file."""

    def __init__(self, inner: ByteSource, bad: Callable[[int, int], bool]) -> None:
        self.inner = inner
        self.path = inner.path
        self.bad = bad

    def pread(self, offset: int, size: int) -> bytes:
        if self.bad(offset, size):
            raise ReadError(self.path, offset, OSError(errno.EIO, os.strerror(errno.EIO)))
        return self.inner.pread(offset, size)

    def size(self) -> int:
        return self.inner.size()
