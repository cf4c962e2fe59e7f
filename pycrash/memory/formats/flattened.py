"""makedumpfile's flattened format (``makedumpfile -F``): a kdump or ELF dump as a stream.

A 4 KiB header ("makedumpfile", type, version), then records of (offset: s64
big-endian, size: s64 big-endian, data) that say where each piece of the dump
file goes, ended by a record of offset -1. :class:`FlatSource` reads the dump
file the stream describes at any offset, without rearranging it on disk
(``makedumpfile -R`` would); pycrash serves its memory.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence

from pycrash.errors import DumpError
from pycrash.memory import custom, elfcore, elffile
from pycrash.memory.formats import kdump
from pycrash.memory.formats.base import DumpKind, Identified, Opened, Options
from pycrash.memory.physmem import Extent, drop_aliases
from pycrash.memory.source import ByteSource, FileSource

SIGNATURE = b"makedumpfile"
HEADER_SIZE = 4096
RECORD = struct.Struct(">qq")  # offset, size of the data that follows; offset -1 ends
#: how much of the file a flattened stream may leave unwritten (header padding)
MAX_HOLES = 1 << 24
#: every flattened dump counts as filtered ([PARTIAL DUMP]), as it always has in pycrash
PARTIAL = True


def probe(head: bytes) -> bool:
    """Return whether ``head`` (a file's first bytes) starts a flattened stream."""
    return head.startswith(SIGNATURE)


def inspect(path: str, source: ByteSource, head: bytes) -> Identified:
    """Return what the flattened file ``path`` is (its records are read when opened)."""
    return Identified(path, DumpKind.FLATTENED, partial=PARTIAL)


class FlatSource:
    """The dump file that a flattened stream describes, readable at any offset.

    Record headers are indexed once (only headers are read); a later write to
    the same range wins, as when makedumpfile's stream is replayed with -R.
    """

    def __init__(self, path: str, source: ByteSource | None = None) -> None:
        self.path = path
        #: the stream's bytes: the file ``path``, or any byte source given (a remote file)
        self._file: ByteSource = source if source is not None else FileSource(path)
        if not probe(self._file.pread(0, 16)):
            raise DumpError(f"{path}: not a makedumpfile flattened file")
        self._starts: list[int] = []  # dump offsets, sorted
        self._records: list[tuple[int, int, int]] = []  # (dump offset, size, file position)
        self._end = 0
        self._index()

    def _index(self) -> None:
        pos = HEADER_SIZE
        total = self._file.size()
        written = 0
        records: dict[int, tuple[int, int]] = {}
        while True:
            hdr = self._file.pread(pos, RECORD.size)
            if len(hdr) < RECORD.size:
                raise DumpError(f"{self.path}: truncated flattened file (no end marker)")
            offset, size = RECORD.unpack(hdr)
            if offset == -1:
                break
            if offset < 0 or size < 0 or pos + RECORD.size + size > total:
                raise DumpError(f"{self.path}: truncated or corrupt flattened file "
                                f"(record at byte {pos:#x})")
            records[offset] = (size, pos + RECORD.size)
            self._end = max(self._end, offset + size)
            written += size
            pos += RECORD.size + size
        # makedumpfile streams every byte of the file it flattens but the padding of its
        # header blocks: data placed far beyond what the stream holds is a damaged record
        if self._end > 2 * written + MAX_HOLES:
            raise DumpError(f"{self.path}: corrupt flattened file (its records place data "
                            f"up to byte {self._end:#x}, but hold only {written:#x} bytes)")
        for offset in sorted(records):
            size, where = records[offset]
            self._starts.append(offset)
            self._records.append((offset, size, where))

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0:
            return b""
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
    """Return the bytes of the dump file ``path``: a flattened stream unflattened on the
    fly, any other file as it is."""
    with FileSource(path) as f:
        head = f.pread(0, len(SIGNATURE))
    return FlatSource(path) if probe(head) else FileSource(path)


def _open_elf(path: str, source: ByteSource) -> Opened:
    """Serve an ELF dump in a flattened stream (``makedumpfile -F -E``) by its PT_LOADs."""
    head = elffile.header(source.pread(0, elffile.EHDR_SIZE))
    prog = custom.new_program(head.machine if head is not None else "x86_64")
    segs = elfcore.read_header(source)
    extents = [Extent(s.paddr, s.filesz, source, s.offset)
               for s in segs if s.type == elffile.PT_LOAD and s.filesz]
    notes = [n for s in segs if s.type == elffile.PT_NOTE
             for n in elffile.parse_notes(source.pread(s.offset, min(s.filesz,
                                                                     elfcore.MAX_NOTES)))]
    regs, info = elfcore.collect(notes, head.machine if head is not None else "x86_64")
    custom.add_extents(prog, drop_aliases(extents))
    if info is None:
        raise DumpError(f"{path}: no VMCOREINFO note")
    custom.finish(prog, info)
    return Opened(prog, DumpKind.FLATTENED, (path,), PARTIAL, tuple(regs), own_reader=True,
                  vmcoreinfo=info)


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open one flattened file: the kdump or ELF dump in it, served by pycrash."""
    return from_source(FileSource(paths[0]), options)


def from_source(source: ByteSource, options: Options) -> Opened:
    """Open the flattened stream that ``source`` serves (a file, or a remote one read by
    byte range): the kdump or ELF dump in it, served by pycrash."""
    path = source.path
    flat = FlatSource(path, source)
    if elffile.is_elf(flat.pread(0, len(elffile.ELF_MAGIC))):
        return _open_elf(path, flat)
    kd = kdump.KdumpFile(flat)
    return kdump.own_reader(DumpKind.FLATTENED, path, kd, PARTIAL, options.zero_excluded,
                            options.vmlinux)
