"""LiME memory images: ranges of physical memory, each after a 32-byte header.

A header is magic ``EMiL``, version 1, the range's first and last physical
address, and 8 reserved bytes. The image has no notes: the VMCOREINFO is
found by scanning the memory, and pycrash serves it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from pycrash.errors import DumpError
from pycrash.memory import custom
from pycrash.memory.formats.base import DumpKind, Identified, Opened, Options
from pycrash.memory.physmem import Extent, check_overlaps
from pycrash.memory.source import ByteSource, FileSource

MAGIC, VERSION = 0x4C694D45, 1
HEADER = struct.Struct("<IIQQ8s")  # magic, version, start, end (inclusive), reserved
_IDENT = HEADER.pack(MAGIC, VERSION, 0, 0, b"")[:8]  # how every header starts


def probe(head: bytes) -> bool:
    """Return whether ``head`` (a file's first bytes) starts with a LiME range header."""
    return head.startswith(_IDENT)


def inspect(path: str, source: ByteSource, head: bytes) -> Identified:
    """Return what the LiME image ``path`` is (its ranges are read when opened)."""
    return Identified(path, DumpKind.LIME)


def extents(path: str) -> list[Extent]:
    """Return the extents of a LiME image, sorted; a header that lies is a clear error."""
    src = FileSource(path)
    total = src.size()
    pos = 0
    found = []
    while pos < total:
        hdr = src.pread(pos, HEADER.size)
        if len(hdr) < HEADER.size:
            raise DumpError(f"{path}: truncated LiME header at byte {pos:#x}")
        magic, version, start, end, _ = HEADER.unpack(hdr)
        if (magic, version) != (MAGIC, VERSION):
            raise DumpError(f"{path}: bad LiME header at byte {pos:#x}")
        if end < start:
            raise DumpError(f"{path}: LiME range at byte {pos:#x} ends before it starts")
        size = end - start + 1
        if pos + HEADER.size + size > total:
            raise DumpError(f"{path}: LiME range {start:#x}-{end:#x} claims {size} bytes "
                            f"but the file ends first")
        found.append(Extent(start, size, src, pos + HEADER.size))
        pos += HEADER.size + size
    if not found:
        raise DumpError(f"{path}: empty LiME image")
    return check_overlaps(found)


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open LiME images as one machine's memory, served by pycrash."""
    found = [e for path in paths for e in extents(path)]
    return Opened(custom.images_program(found, options.vmlinux), DumpKind.LIME, tuple(paths),
                  own_reader=True)
