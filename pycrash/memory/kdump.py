"""makedumpfile's compressed kdump format, read page by page.

Layout: a header block (``disk_dump_header``), the ``kdump_sub_header``, two
bitmaps (pages that exist in RAM; pages that were written), one page
descriptor per written page, then page data, each page compressed with
zlib, LZO, snappy or zstd, or stored as is. The sub-header also locates the
ELF notes (per-CPU NT_PRSTATUS) and VMCOREINFO.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pycrash.errors import DumpError
from pycrash.memory.bitmap import Bitmap
from pycrash.memory.source import ByteSource

DH_FORMAT = "<8si390s6x16sIiiIIIIIii"
DH_SIZE = struct.calcsize(DH_FORMAT)
DESC_SIZE = 24
COMPRESSED_ZLIB, COMPRESSED_LZO, COMPRESSED_SNAPPY, COMPRESSED_ZSTD = 0x1, 0x2, 0x4, 0x20


@dataclass(frozen=True)
class KdumpHeader:
    """The fields of the headers that locate everything else."""

    version: int
    release: str
    block_size: int
    sub_hdr_size: int
    bitmap_blocks: int
    max_mapnr: int
    nr_cpus: int
    dump_level: int
    split: bool
    start_pfn: int
    end_pfn: int
    offset_vmcoreinfo: int
    size_vmcoreinfo: int
    offset_note: int
    size_note: int


def excluded_reason(dump_level: int) -> str:
    """Return pycrash's one wording for a page that makedumpfile left out."""
    return (f"page excluded from the dump by makedumpfile (dump level {dump_level}; "
            f"--zero-excluded reads it as zeros)")


def decompressor(flags: int, page_size: int) -> Callable[[bytes], bytes]:
    """Return the function that decompresses one page stored with descriptor ``flags``."""
    if flags & COMPRESSED_ZLIB:
        return zlib.decompress
    if flags & COMPRESSED_LZO:
        from lzallright import LZOCompressor

        return lambda data: bytes(LZOCompressor.decompress(data, output_size_hint=page_size))
    if flags & COMPRESSED_SNAPPY:
        import cramjam

        return lambda data: bytes(cramjam.snappy.decompress_raw(data))
    if flags & COMPRESSED_ZSTD:
        import cramjam

        return lambda data: bytes(cramjam.zstd.decompress(data))
    return bytes


class KdumpFile:
    """One kdump compressed file (or one part of a ``--split`` set), read-only.

    ``pfn`` arguments are page frame numbers; :meth:`read_page` returns the
    page's bytes, raising :class:`KeyError` for a page not in this file.
    """

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.path = source.path
        head = source.pread(0, DH_SIZE)
        if len(head) < DH_SIZE or head[:8] not in (b"KDUMP   ", b"DISKDUMP"):
            raise DumpError(f"{self.path}: not a kdump compressed file")
        f = struct.unpack(DH_FORMAT, head)
        block_size, sub_hdr_size, bitmap_blocks, max_mapnr = f[5:9]
        if block_size <= 0 or block_size & (block_size - 1):
            raise DumpError(f"{self.path}: corrupt kdump header (block size {block_size})")
        sub = source.pread(block_size, 104)
        if len(sub) < 80:
            raise DumpError(f"{self.path}: truncated kdump file (sub-header cut off)")
        _phys_base, dump_level, split, start_pfn, end_pfn = struct.unpack_from("<QiiQQ", sub, 0)
        off_vmci, size_vmci, off_note, size_note = struct.unpack_from("<QQQQ", sub, 32)
        if f[1] >= 6 and len(sub) >= 104:
            start_pfn, end_pfn, max_mapnr = struct.unpack_from("<QQQ", sub, 80)
        release = f[2][65 * 2 : 65 * 3].split(b"\0", 1)[0].decode("ascii", "replace")
        self.header = KdumpHeader(f[1], release, block_size, sub_hdr_size, bitmap_blocks,
                                  max_mapnr, f[13], dump_level, bool(split),
                                  start_pfn if split else 0, end_pfn if split else max_mapnr,
                                  off_vmci, size_vmci, off_note, size_note)
        self.page_size = block_size
        bitmap_off = block_size * (1 + sub_hdr_size)
        half = block_size * bitmap_blocks // 2
        nbits = max_mapnr
        #: pages that existed in RAM, pages written (by any part), pages written in this file
        self.ram = Bitmap(source.pread(bitmap_off, half), nbits)
        self.dumped = Bitmap(source.pread(bitmap_off + half, half), nbits)
        self.own = self.dumped.masked(self.header.start_pfn, self.header.end_pfn) \
            if split else self.dumped
        self._desc_off = bitmap_off + 2 * half
        self._decompress: dict[int, Callable[[bytes], bytes]] = {}

    def excluded_runs(self) -> Iterator[tuple[int, int]]:
        """Yield ``(first pfn, count)`` of RAM pages that makedumpfile left out."""
        return self.ram.minus(self.dumped).runs()

    @functools.lru_cache(maxsize=8192)  # noqa: B019  (one reader per dump, kept for its life)
    def read_page(self, pfn: int) -> bytes:
        """Return the page ``pfn``; :class:`KeyError` when this file does not hold it."""
        if pfn not in self.own:
            raise KeyError(pfn)
        desc = self.source.pread(self._desc_off + self.own.rank(pfn) * DESC_SIZE, DESC_SIZE)
        offset, size, flags = struct.unpack_from("<qII", desc)
        data = self.source.pread(offset, size)
        if len(data) < size:
            raise DumpError(f"{self.path}: truncated: page {pfn:#x} data missing")
        if size == self.page_size and not flags:
            return data
        if flags not in self._decompress:
            self._decompress[flags] = decompressor(flags, self.page_size)
        page = self._decompress[flags](data)
        if len(page) != self.page_size:
            raise DumpError(f"{self.path}: corrupt page {pfn:#x}")
        return page

    def vmcoreinfo(self) -> bytes:
        """Return the VMCOREINFO text saved in the sub-header area."""
        return self.source.pread(self.header.offset_vmcoreinfo, self.header.size_vmcoreinfo)

    def notes(self) -> bytes:
        """Return the ELF notes saved in the file (per-CPU NT_PRSTATUS and others)."""
        if not self.header.size_note:
            return b""
        return self.source.pread(self.header.offset_note, self.header.size_note)
