"""Random-access byte sources: a plain file, or a makedumpfile flattened stream.

Every reader of the memory layer reads through ``pread(offset, size)``, so a
kdump file can be served straight from its flattened form (``makedumpfile
-F``) without first being rearranged on disk.
"""

from __future__ import annotations

import bisect
import os
import struct
from typing import Protocol

from pycrash.errors import DumpError


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
        return os.pread(self._fd, size, offset)

    def size(self) -> int:
        return self._size


# makedumpfile's flattened format: a 4 KiB header ("makedumpfile", type, version),
# then records of (offset: s64 big-endian, size: s64 big-endian, data), ended by
# a record of offset -1.
FLAT_HEADER_SIZE = 4096
FLAT_SIGNATURE = b"makedumpfile"


class FlatSource:
    """The kdump file that a flattened stream describes, readable at any offset.

    Record headers are indexed once (only headers are read); a later write to
    the same range wins, as when makedumpfile's stream is replayed with -R.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = FileSource(path)
        head = self._file.pread(0, 16)
        if not head.startswith(FLAT_SIGNATURE):
            raise DumpError(f"{path}: not a makedumpfile flattened file")
        self._starts: list[int] = []  # dump offsets, sorted
        self._records: list[tuple[int, int, int]] = []  # (dump offset, size, file position)
        self._end = 0
        self._index()

    def _index(self) -> None:
        pos = FLAT_HEADER_SIZE
        total = self._file.size()
        records: dict[int, tuple[int, int]] = {}
        while True:
            hdr = self._file.pread(pos, 16)
            if len(hdr) < 16:
                raise DumpError(f"{self.path}: truncated flattened file (no end marker)")
            offset, size = struct.unpack(">qq", hdr)
            if offset == -1:
                break
            if offset < 0 or size < 0 or pos + 16 + size > total:
                raise DumpError(f"{self.path}: truncated or corrupt flattened file "
                                f"(record at byte {pos:#x})")
            records[offset] = (size, pos + 16)
            self._end = max(self._end, offset + size)
            pos += 16 + size
        for offset in sorted(records):
            size, where = records[offset]
            self._starts.append(offset)
            self._records.append((offset, size, where))

    def pread(self, offset: int, size: int) -> bytes:
        out = bytearray()
        end = min(offset + size, self._end)
        i = max(bisect.bisect_right(self._starts, offset) - 1, 0)
        cur = offset
        while cur < end and i < len(self._records):
            rec_off, rec_size, where = self._records[i]
            if rec_off > cur:  # a hole: never written, reads as zeros
                gap = min(rec_off, end) - cur
                out += bytes(gap)
                cur += gap
                continue
            if cur < rec_off + rec_size:
                take = min(rec_off + rec_size, end) - cur
                out += self._file.pread(where + (cur - rec_off), take)
                cur += take
            i += 1
        if cur < end:
            out += bytes(end - cur)
        return bytes(out)

    def size(self) -> int:
        return self._end


def open_source(path: str) -> ByteSource:
    """Return the right source for ``path``: flattened streams are unflattened on the fly."""
    with open(path, "rb") as f:
        head = f.read(len(FLAT_SIGNATURE))
    return FlatSource(path) if head == FLAT_SIGNATURE else FileSource(path)
