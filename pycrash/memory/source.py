"""Random-access byte sources: what every reader of the memory layer reads through.

Readers call ``pread(offset, size)``, so a kdump file can be served from a plain
file or straight from its flattened form (``makedumpfile -F``,
:class:`pycrash.memory.formats.flattened.FlatSource`) without first being
rearranged on disk.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Protocol


class ByteSource(Protocol):
    """Anything that reads bytes at an offset."""

    path: str

    def pread(self, offset: int, size: int) -> bytes:
        """Return up to ``size`` bytes at ``offset`` (fewer only at the end)."""
        ...

    def size(self) -> int:
        """Return the number of bytes."""
        ...


class FileSource:
    """A file opened read-only (never written: pycrash does not modify dumps)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size

    def pread(self, offset: int, size: int) -> bytes:
        if self._size:  # a regular file: what a damaged header asks past its end is nothing
            size = min(size, self._size - offset)
            if size <= 0 or offset < 0:
                return b""
        return os.pread(self._fd, size, offset)

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
