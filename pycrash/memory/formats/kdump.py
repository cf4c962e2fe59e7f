"""makedumpfile's compressed kdump format (``diskdump``), identified, checked and read.

Layout: a header block (``disk_dump_header``), the ``kdump_sub_header``, two
bitmaps (pages that exist in RAM; pages that were written), one page
descriptor per written page, then page data, each page compressed with
zlib, LZO, snappy or zstd, or stored as is. The sub-header also locates the
ELF notes (per-CPU NT_PRSTATUS) and VMCOREINFO.

drgn reads a kdump file itself; pycrash's :class:`KdumpFile` serves it when
excluded pages must read as zeros (``--zero-excluded``), for flattened files
and split sets, and tells which pages makedumpfile left out.
"""

from __future__ import annotations

import functools
import operator
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pycrash.errors import DumpError
from pycrash.memory import custom, elffile
from pycrash.memory.bitmap import Bitmap
from pycrash.memory.formats.base import DumpKind, Identified, Opened, Options
from pycrash.memory.source import ByteSource, FileSource

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.elfcore import PrStatus

SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
#: struct disk_dump_header (makedumpfile's diskdump.h): signature, header_version,
#: utsname (6 x 65 bytes), timestamp, status, block_size, sub_hdr_size, bitmap_blocks,
#: max_mapnr, total_ram_blocks, device_blocks, written_blocks, current_cpu, nr_cpus
DISK_DUMP_HEADER = struct.Struct("<8si390s6x16sIiiIIIIIii")
#: struct kdump_sub_header, 64-bit: phys_base, dump_level, split, start_pfn, end_pfn;
#: then offset_vmcoreinfo, size_vmcoreinfo, offset_note, size_note; then (header
#: version 6 and later, at byte 80) start_pfn_64, end_pfn_64, max_mapnr_64
SUB_HEADER = struct.Struct("<QiiQQ")
SUB_HEADER_NOTES = struct.Struct("<QQQQ")
SUB_HEADER_PFN64 = struct.Struct("<QQQ")
SUB_HEADER_PFN64_AT, SUB_HEADER_SIZE = 80, 104
#: struct page_desc: offset, size, flags, page_flags
PAGE_DESC = struct.Struct("<qIIQ")
COMPRESSED_ZLIB, COMPRESSED_LZO, COMPRESSED_SNAPPY, COMPRESSED_ZSTD = 0x1, 0x2, 0x4, 0x20
UTS_FIELD = 65  # each of struct new_utsname's six strings; the release is the third
#: the descriptor flags makedumpfile and QEMU write (0: stored as is)
KNOWN_FLAGS = frozenset({0, COMPRESSED_ZLIB, COMPRESSED_LZO, COMPRESSED_SNAPPY, COMPRESSED_ZSTD})
COMPRESSION_NAMES = {COMPRESSED_ZLIB: "zlib", COMPRESSED_LZO: "lzo",
                     COMPRESSED_SNAPPY: "snappy", COMPRESSED_ZSTD: "zstd"}
#: the page sizes a kdump block may have (4 KiB to 256 KiB: every Linux page size)
MIN_BLOCK, MAX_BLOCK = 1 << 12, 1 << 18
#: no machine has more page frames than this (a 52-bit physical address space)
MAX_PFN = 1 << 40
#: the most CPUs a kernel is built for (NR_CPUS is at most 8192)
MAX_CPUS = 1 << 16
#: the largest VMCOREINFO text and notes area pycrash accepts (the kernel's are a few KiB
#: and a few KiB per CPU)
MAX_VMCOREINFO, MAX_NOTES = 1 << 20, 1 << 26
#: the most blocks the sub-header, VMCOREINFO and notes together may take
MAX_SUB_BLOCKS = 2 * (MAX_VMCOREINFO + MAX_NOTES) // MIN_BLOCK


class CorruptPage(DumpError):
    """A page of the dump whose descriptor or data is damaged (readers turn it into a
    drgn FaultError at the address read)."""


class KdumpHeader(NamedTuple):
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
    machine: str = ""  # utsname.machine: "x86_64", "aarch64"

    @property
    def qemu(self) -> bool:
        """Whether QEMU wrote the file: dump-guest-memory fills no utsname but the machine
        ("Unknown" on arm64), where makedumpfile copies the kernel's."""
        return not self.release

    @property
    def bitmap_offset(self) -> int:
        """Where the two bitmaps start: after the header block and the sub-header."""
        return self.block_size * (1 + self.sub_hdr_size)

    @property
    def bitmap_size(self) -> int:
        """The size of both bitmaps together."""
        return self.block_size * self.bitmap_blocks

    @property
    def descs_offset(self) -> int:
        """Where the page descriptors start, after the bitmaps."""
        return self.bitmap_offset + self.bitmap_size


def probe(head: bytes) -> bool:
    """Return whether ``head`` (a file's first bytes) starts a kdump compressed file."""
    return head[:8] in SIGNATURES


def read_header(source: ByteSource, sub_needed: int = 32) -> KdumpHeader:
    """Return the header of the kdump file in ``source``; :class:`DumpError` when it is
    not one, or damaged. Telling what a file is needs ``sub_needed`` = 32 bytes of the
    sub-header; a reader also needs the notes' offsets and asks for 80.

    Every field that locates or sizes something is checked against sane limits and the
    file's size before anything uses it."""
    path = source.path
    head = source.pread(0, DISK_DUMP_HEADER.size)
    if not probe(head):
        raise DumpError(f"{path}: not a kdump compressed file")
    if len(head) < DISK_DUMP_HEADER.size:
        raise DumpError(f"{path}: truncated kdump header")
    (_sig, version, utsname, _time, _status, block_size, sub_hdr_size, bitmap_blocks,
     max_mapnr, _ram, _dev, _written, _cpu, nr_cpus) = DISK_DUMP_HEADER.unpack(head)
    if not MIN_BLOCK <= block_size <= MAX_BLOCK or block_size & (block_size - 1):
        raise DumpError(f"{path}: corrupt kdump header (block size {block_size})")
    total = source.size()
    if not 0 < sub_hdr_size <= MAX_SUB_BLOCKS:
        raise DumpError(f"{path}: corrupt kdump header (sub-header of {sub_hdr_size} blocks)")
    if not 0 <= nr_cpus <= MAX_CPUS:
        raise DumpError(f"{path}: corrupt kdump header ({nr_cpus} CPUs)")
    sub = source.pread(block_size, SUB_HEADER_SIZE)
    if len(sub) < max(sub_needed, SUB_HEADER.size):
        raise DumpError(f"{path}: truncated kdump file (sub-header cut off)")
    _phys_base, dump_level, split, start_pfn, end_pfn = SUB_HEADER.unpack_from(sub)
    notes = (SUB_HEADER_NOTES.unpack_from(sub, SUB_HEADER.size)
             if len(sub) >= SUB_HEADER.size + SUB_HEADER_NOTES.size else (0, 0, 0, 0))
    if version >= 6 and len(sub) >= SUB_HEADER_SIZE:
        start_pfn, end_pfn, max_mapnr = SUB_HEADER_PFN64.unpack_from(sub, SUB_HEADER_PFN64_AT)
    # each of the two bitmaps has a bit per page frame
    if bitmap_blocks <= 0 or bitmap_blocks > MAX_PFN // (4 * block_size):
        raise DumpError(f"{path}: corrupt kdump header (bitmaps of {bitmap_blocks} blocks)")
    if not 0 < max_mapnr <= min(MAX_PFN, bitmap_blocks * block_size * 4):
        raise DumpError(f"{path}: corrupt kdump header ({max_mapnr:#x} page frames for "
                        f"bitmaps of {bitmap_blocks} blocks)")
    if split and not start_pfn <= end_pfn <= max_mapnr:
        raise DumpError(f"{path}: corrupt kdump sub-header (split part of page frames "
                        f"{start_pfn:#x}-{end_pfn:#x} of {max_mapnr:#x})")
    off_info, size_info, off_note, size_note = notes
    for what, at, size, most in (("VMCOREINFO", off_info, size_info, MAX_VMCOREINFO),
                                 ("notes", off_note, size_note, MAX_NOTES)):
        if size and (size > most or at < block_size or (total and at + size > total)):
            raise DumpError(f"{path}: corrupt kdump sub-header ({what} of {size} bytes at "
                            f"byte {at:#x}{f', in a file of {total:#x}' if total else ''})")
    release = utsname[UTS_FIELD * 2 : UTS_FIELD * 3].split(b"\0", 1)[0]
    machine = utsname[UTS_FIELD * 4 : UTS_FIELD * 5].split(b"\0", 1)[0]
    return KdumpHeader(version, release.decode("ascii", "replace"), block_size, sub_hdr_size,
                       bitmap_blocks, max_mapnr, nr_cpus, dump_level, bool(split),
                       start_pfn if split else 0, end_pfn if split else max_mapnr,
                       off_info, size_info, off_note, size_note,
                       machine.decode("ascii", "replace"))


def _desc_problem(path: str, i: int, desc: tuple[int, int, int, int], data_at: int,
                  total: int, block: int) -> str:
    """Return what is wrong with page descriptor ``i`` (offset, size, flags, page flags),
    or ""."""
    offset, size, flags, _pf = desc
    if flags not in KNOWN_FLAGS:
        return f"page descriptor {i}: unknown flags {flags:#x}"
    if not 0 < size <= block:
        return f"page descriptor {i}: a page of {size:#x} bytes (pages are {block:#x})"
    if offset < data_at or offset + size > total:
        return (f"page descriptor {i}: data at byte {offset:#x}, outside the page data "
                f"(bytes {data_at:#x}-{total:#x})")
    return ""


def check_descriptors(source: ByteSource, h: KdumpHeader, npages: int) -> str:
    """Check every page descriptor of a kdump file against the file (known flags, a size
    of at most a page, data between the descriptor table and the file's end); return ""
    or what is wrong with the first bad one. :class:`DumpError` when the file ends before
    its descriptor table or its page data does (a truncated copy).

    drgn's reader (libkdumpfile) trusts descriptors: one whose data lies past the end of
    the file kills the process with SIGBUS. The check runs over the table as arrays (a
    24-byte descriptor is three 64-bit words: offset; size | flags << 32; page flags):
    2 ms for the small fixture's 19,401 descriptors, 12 ms for the large one's 114,787."""
    path, total, block = source.path, source.size(), h.block_size
    table = source.pread(h.descs_offset, npages * PAGE_DESC.size)
    if len(table) < npages * PAGE_DESC.size:
        raise DumpError(f"{path}: truncated kdump file (page table cut off)")
    if not npages:
        return ""
    data_at = h.descs_offset + len(table)
    words = memoryview(table).cast("Q")
    halves = memoryview(table).cast("I")
    offsets, sizes, flags = words[0::3], halves[2::6], halves[3::6]
    # a healthy file's last page ends at its end; a copy cut short ends before
    last = PAGE_DESC.unpack_from(table, len(table) - PAGE_DESC.size)
    most = data_at + (npages + 1) * block  # the end of the data were every page stored raw
    if not _desc_problem(path, npages - 1, last, data_at, most, block) and \
            last[0] + last[1] > total:
        raise DumpError(f"{path}: truncated kdump file: page data ends at byte "
                        f"{last[0] + last[1]:#x} but the file has {total:#x} bytes")
    if (set(flags) <= KNOWN_FLAGS and min(sizes) > 0 and max(sizes) <= block
            and min(offsets) >= data_at and max(map(operator.add, offsets, sizes)) <= total):
        return ""
    for i, desc in enumerate(PAGE_DESC.iter_unpack(table)):  # name the first bad one
        problem = _desc_problem(path, i, desc, data_at, total, block)
        if problem:
            bad = sum(1 for d in PAGE_DESC.iter_unpack(table)
                      if _desc_problem(path, 0, d, data_at, total, block))
            return f"{bad} corrupt page descriptor{'s' if bad > 1 else ''} (the first: {problem})"
    return ""  # pragma: no cover (the fast check and this loop agree)


#: check_descriptors' verdict per file, kept from identification to open:
#: (path, inode, size, mtime) -> problem
_CHECKED: dict[tuple[str, int, int, int], str] = {}


def _file_key(path: str) -> tuple[str, int, int, int]:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def descriptor_problem(path: str) -> str:
    """Return what is wrong with the page descriptors of the kdump file ``path`` (""
    when nothing), checked once per file."""
    key = _file_key(path)
    if key not in _CHECKED:
        with FileSource(path) as src:
            h = read_header(src)
            _CHECKED[key] = check_descriptors(src, h, _npages(src, h))
    return _CHECKED[key]


def _npages(source: ByteSource, h: KdumpHeader) -> int:
    """Return how many pages (descriptors) the file holds: the written bitmap's bits
    in its own range of page frames."""
    half = h.bitmap_size // 2
    written = Bitmap(source.pread(h.bitmap_offset + half, half), max(h.max_mapnr, h.end_pfn))
    return written.masked(h.start_pfn, h.end_pfn).count()


def inspect(path: str, source: ByteSource, head: bytes) -> Identified:
    """Return what the kdump file ``path`` is (filtered? one part of a split set?),
    refusing one whose bitmaps, page table or page data the file's end cuts off; every
    page descriptor is checked (:func:`check_descriptors`) and the verdict kept for
    :func:`open`."""
    h = read_header(source)
    size = source.size()
    if h.descs_offset > size:
        raise DumpError(f"{path}: truncated kdump file (bitmap cut off)")
    try:
        key = _file_key(path)
    except OSError:
        key = None
    problem = check_descriptors(source, h, _npages(source, h))
    if key is not None:
        _CHECKED[key] = problem
    return Identified(path, DumpKind.KDUMP, partial=h.dump_level > 0, split=h.split)


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
        self.header = h = read_header(source, sub_needed=80)
        self.page_size = h.block_size
        half = h.bitmap_size // 2
        #: pages that existed in RAM, pages written (by any part), pages written in this file
        self.ram = Bitmap(source.pread(h.bitmap_offset, half), h.max_mapnr)
        self.dumped = Bitmap(source.pread(h.bitmap_offset + half, half), h.max_mapnr)
        self.own = self.dumped.masked(h.start_pfn, h.end_pfn) if h.split else self.dumped
        self._decompress: dict[int, Callable[[bytes], bytes]] = {}

    def excluded_runs(self) -> Iterator[tuple[int, int]]:
        """Yield ``(first pfn, count)`` of RAM pages that makedumpfile left out."""
        return self.ram.minus(self.dumped).runs()

    @functools.lru_cache(maxsize=8192)  # noqa: B019  (one reader per dump, kept for its life)
    def read_page(self, pfn: int) -> bytes:
        """Return the page ``pfn``; :class:`KeyError` when this file does not hold it,
        :class:`CorruptPage` when its descriptor or data is damaged."""
        if pfn not in self.own:
            raise KeyError(pfn)
        at = self.header.descs_offset + self.own.rank(pfn) * PAGE_DESC.size
        desc = self.source.pread(at, PAGE_DESC.size)
        if len(desc) < PAGE_DESC.size:
            raise DumpError(f"{self.path}: truncated: page {pfn:#x} descriptor missing")
        offset, size, flags, _page_flags = PAGE_DESC.unpack(desc)
        self.check_desc(pfn, offset, size, flags)
        return self.decode(pfn, self.source.pread(offset, size), size, flags)

    def stored(self, pfn: int) -> tuple[int, int, int] | None:
        """Return ``(offset, size, flags)`` of page ``pfn``'s descriptor, or None when the
        file does not hold the page or its descriptor is cut off."""
        if pfn not in self.own:
            return None
        desc = self.source.pread(self.header.descs_offset + self.own.rank(pfn) * PAGE_DESC.size,
                                 PAGE_DESC.size)
        if len(desc) < PAGE_DESC.size:
            return None
        offset, size, flags, _page_flags = PAGE_DESC.unpack(desc)
        return offset, size, flags

    def check_desc(self, pfn: int, offset: int, size: int, flags: int) -> None:
        """Raise :class:`CorruptPage` when the page descriptor of ``pfn`` cannot be right
        (unknown flags, a size of nothing or more than a page, a negative offset)."""
        if flags not in KNOWN_FLAGS or not 0 < size <= self.page_size or offset < 0:
            raise CorruptPage(f"page {pfn:#x} of the dump is corrupt (its descriptor says "
                              f"{size:#x} bytes at byte {offset:#x}, flags {flags:#x})")

    def decode(self, pfn: int, data: bytes, size: int, flags: int) -> bytes:
        """Return the page ``pfn`` from its ``size`` stored bytes ``data`` (compressed as
        its descriptor's ``flags`` say)."""
        if len(data) < size:
            raise DumpError(f"{self.path}: truncated: page {pfn:#x} data missing")
        if size == self.page_size and not flags:
            return data
        if flags not in self._decompress:
            self._decompress[flags] = decompressor(flags, self.page_size)
        try:
            page = self._decompress[flags](data)
        except Exception as exc:  # zlib.error, LZOError, cramjam's DecompressionError...
            name = COMPRESSION_NAMES.get(flags, f"flags {flags:#x}")
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CorruptPage(f"page {pfn:#x} of the dump is corrupt ({name}: {detail})") from None
        if len(page) != self.page_size:
            raise CorruptPage(f"page {pfn:#x} of the dump is corrupt ({len(page)} bytes "
                              f"after decompression, not {self.page_size})")
        return page

    def read_pages(self, first: int, stop: int) -> list[bytes]:
        """Return the pages ``first`` to ``stop - 1``, those this file does not hold as
        zeros: their descriptors read at once, and the data of consecutive pages too
        (a scan of a whole dump: 0.2 s a GiB where :meth:`read_page` takes 2 s)."""
        zero = bytes(self.page_size)
        held = [pfn for pfn in range(first, stop) if pfn in self.own]
        if not held:
            return [zero] * (stop - first)
        at = self.header.descs_offset + self.own.rank(held[0]) * PAGE_DESC.size
        raw = self.source.pread(at, len(held) * PAGE_DESC.size)
        if len(raw) < len(held) * PAGE_DESC.size:
            raise DumpError(f"{self.path}: truncated: page {held[-1]:#x} descriptor missing")
        descs = list(PAGE_DESC.iter_unpack(raw))
        for pfn, (offset, size, flags, _page_flags) in zip(held, descs, strict=True):
            self.check_desc(pfn, offset, size, flags)
        pages: dict[int, bytes] = {}
        shared: dict[int, bytes] = {}  # by offset: QEMU stores the zero page once for all
        i = 0
        while i < len(held):
            if descs[i][0] in shared:
                pages[held[i]] = shared[descs[i][0]]
                i += 1
                continue
            j = i + 1  # a run of pages stored one after another: one read
            while j < len(held) and descs[j][0] == descs[j - 1][0] + descs[j - 1][1]:
                j += 1
            start = descs[i][0]
            blob = self.source.pread(start, descs[j - 1][0] + descs[j - 1][1] - start)
            for pfn, (offset, size, flags, _page_flags) in zip(held[i:j], descs[i:j],
                                                               strict=True):
                pages[pfn] = shared[offset] = self.decode(
                    pfn, blob[offset - start : offset - start + size], size, flags)
            i = j
        return [pages.get(pfn, zero) for pfn in range(first, stop)]

    def vmcoreinfo(self) -> bytes:
        """Return the VMCOREINFO text saved in the sub-header area."""
        return self.source.pread(self.header.offset_vmcoreinfo, self.header.size_vmcoreinfo)

    def notes(self) -> bytes:
        """Return the ELF notes saved in the file (per-CPU NT_PRSTATUS and others)."""
        if not self.header.size_note:
            return b""
        return self.source.pread(self.header.offset_note, self.header.size_note)

    def physical(self) -> PagesSource:
        """Return the dumped memory as a byte source by physical address (pages the file
        does not hold read as zeros): for scanning, not for serving reads."""
        return PagesSource(self)

    def machine(self, vmcoreinfo: bytes = b"") -> str:
        """Return the dumped machine's architecture: utsname.machine, or (QEMU writes
        "Unknown" for arm64) what its VMCOREINFO says."""
        if self.header.machine in elffile.ARCHES:
            return self.header.machine
        return custom.machine_of_vmcoreinfo(vmcoreinfo or self.vmcoreinfo())

    def regs(self) -> tuple[PrStatus, ...]:
        """Return the CPUs' NT_PRSTATUS registers from the file's notes, in CPU order (a
        QEMU dump's by vCPU)."""
        from pycrash.memory import elfcore, elffile

        regs, _info = elfcore.collect(elffile.parse_notes(self.notes()), self.machine(),
                                      qemu=self.header.qemu)
        return tuple(regs)


class PagesSource:
    """A kdump file's memory as bytes by physical address (a :class:`ByteSource`); pages
    it does not hold read as zeros."""

    def __init__(self, kd: KdumpFile) -> None:
        self.kd = kd
        self.path = kd.path

    def pread(self, offset: int, size: int) -> bytes:
        page = self.kd.page_size
        end = min(offset + size, self.size())
        if end <= offset:
            return b""
        first = offset // page
        try:  # the pages at once (a scan of a whole dump)
            data = b"".join(self.kd.read_pages(first, (end - 1) // page + 1))
            return data[offset - first * page : end - first * page]
        except DumpError:  # a damaged page among them: page by page, damage as zeros
            pass
        out = bytearray()
        pos = offset
        while pos < end:
            pfn, within = divmod(pos, page)
            take = min(page - within, end - pos)
            try:
                out += self.kd.read_page(pfn)[within : within + take]
            except (KeyError, DumpError):  # not in the file, or damaged: nothing to find
                out += bytes(take)
            pos += take
        return bytes(out)

    def size(self) -> int:
        return int(self.kd.header.max_mapnr) * self.kd.page_size


def add_to_program(prog: drgn.Program, parts: Sequence[KdumpFile], zero_excluded: bool) -> None:
    """Register the physical memory of a kdump file, or of all parts of a split set
    (``parts`` sorted by first page frame).

    A page makedumpfile left out raises a FaultError saying so (or reads as
    zeros with ``zero_excluded``); so does a page of a part that was not given.
    """
    first = parts[0]
    page = first.page_size
    level = first.header.dump_level

    def read(address: int, count: int, offset: int, physical: bool) -> bytes:
        import drgn

        out = bytearray()
        pos, end = address, address + count
        while pos < end:
            pfn, within = divmod(pos, page)
            take = min(page - within, end - pos)
            part = next((p for p in parts if pfn in p.own), None)
            if part is not None:
                try:
                    out += part.read_page(pfn)[within : within + take]
                except DumpError as exc:  # a damaged page, a read error: at this address
                    raise drgn.FaultError(str(exc), pos) from None
            elif pfn not in first.ram:
                raise drgn.FaultError("not in the crashed machine's RAM", pos)
            elif pfn in first.dumped:
                raise drgn.FaultError("page is in a part of the split dump that was not given",
                                      pos)
            elif zero_excluded:
                out += bytes(take)
            else:
                raise drgn.FaultError(excluded_reason(level), pos)
            pos += take
        return bytes(out)

    prog.add_memory_segment(0, first.header.max_mapnr * page, read, True)


def own_reader(kind: DumpKind, path: str, kd: KdumpFile, partial: bool,
               zero_excluded: bool, vmlinux: str | None = None,
               notes: tuple[str, ...] = ()) -> Opened:
    """Return a Program whose memory pycrash serves from ``kd`` (``--zero-excluded``,
    a flattened file, a file with damaged page descriptors: drgn's kdump reader can do
    none of them). A file without VMCOREINFO (QEMU's, of a guest run without -device
    vmcoreinfo) has it found in its memory, by the kernel's own text or ``vmlinux``'s
    banner. ``notes`` are warnings to show."""
    info = kd.vmcoreinfo()
    found = None
    if not info.strip(b"\0"):
        from pycrash.memory.locate import cpu_states
        from pycrash.memory.physmem import Extent

        src, page = kd.physical(), kd.page_size
        machine = elffile.ARCHES.get(kd.header.machine, "")
        info, found = custom.memory_vmcoreinfo(
            [Extent(pfn * page, count * page, src, pfn * page) for pfn, count in kd.ram.runs()],
            f"{path}: no VMCOREINFO in the file, and none found in its memory", vmlinux,
            machine, cpu_states(list(elffile.parse_notes(kd.notes()))))
    prog = custom.new_program(kd.machine(info))
    add_to_program(prog, [kd], zero_excluded)
    regs = kd.regs()
    custom.finish(prog, info, found)
    return Opened(prog, kind, (path,), partial, regs, kd, own_reader=True, qemu=kd.header.qemu,
                  notes=notes, vmcoreinfo=info)


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open one kdump file: with drgn's reader, or pycrash's with ``--zero-excluded``, for
    a QEMU file, or when a page descriptor is damaged (drgn's reader would die of SIGBUS
    on it; pycrash's fails the read of that page alone, naming it).

    One part of a split set alone is refused, naming the part that is missing.
    """
    path = paths[0]
    if options.zero_excluded:
        kd = KdumpFile(FileSource(path))
        return own_reader(DumpKind.KDUMP, path, kd, kd.header.dump_level > 0, True,
                          options.vmlinux)
    with FileSource(path) as src:
        h = read_header(src)
    if h.split:
        from pycrash.memory.formats import split

        split.parts(paths)  # names the missing part
    problem = descriptor_problem(path)
    if h.qemu or problem:  # QEMU fills only utsname.machine: libkdumpfile never learns the arch
        kd = KdumpFile(FileSource(path))
        notes = (f"WARNING: {path}: {problem}; pycrash reads this dump itself, and a read "
                 f"of a damaged page fails naming it",) if problem else ()
        return own_reader(DumpKind.KDUMP, path, kd, h.dump_level > 0, False, options.vmlinux,
                          notes)
    return Opened(custom.core_dump_program(path), DumpKind.KDUMP, (path,), h.dump_level > 0)


def from_source(source: ByteSource, options: Options) -> Opened:
    """Open the kdump file that ``source`` serves (a remote file read by byte range) with
    pycrash's reader, checked as :func:`inspect` checks a file (a damaged page
    descriptor is a warning: the read of that page alone fails). One part of a split
    set is refused: the parts are opened together from files."""
    path = source.path
    h = read_header(source)
    if h.descs_offset > source.size():
        raise DumpError(f"{path}: truncated kdump file (bitmap cut off)")
    if h.split:
        raise DumpError(f"{path}: one part of a split dump (makedumpfile --split): open "
                        "its parts together, from files")
    problem = check_descriptors(source, h, _npages(source, h))
    notes = (f"WARNING: {path}: {problem}; pycrash reads this dump itself, and a read "
             f"of a damaged page fails naming it",) if problem else ()
    return own_reader(DumpKind.KDUMP, path, KdumpFile(source), h.dump_level > 0,
                      options.zero_excluded, options.vmlinux, notes)
