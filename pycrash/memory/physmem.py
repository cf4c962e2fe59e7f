"""Physical memory maps for the sources drgn cannot open itself.

Each source becomes a list of :class:`Extent` (a physical range and where its
bytes are) or, for kdump data, page readers; then :mod:`pycrash.memory.custom`
turns it into a drgn Program. Raw ``/dev/oldmem`` (offset = physical
address), raw RAM images (``file@paddr``) and LiME images are described here.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass

from pycrash.errors import DumpError
from pycrash.memory import elfcore
from pycrash.memory.source import ByteSource, FileSource

LIME_MAGIC = 0x4C694D45
LIME_HEADER = struct.Struct("<IIQQ8s")


@dataclass(frozen=True)
class Extent:
    """Physical memory ``[paddr, paddr + size)`` is at ``offset`` in ``source``."""

    paddr: int
    size: int
    source: ByteSource
    offset: int


def check_overlaps(extents: list[Extent]) -> list[Extent]:
    """Return the extents sorted by address; overlapping ones are a clear error."""
    ordered = sorted(extents, key=lambda e: e.paddr)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.paddr < a.paddr + a.size:
            raise DumpError(
                f"overlapping memory images: {a.source.path} covers "
                f"{a.paddr:#x}-{a.paddr + a.size - 1:#x} and {b.source.path} starts at "
                f"{b.paddr:#x}")
    return ordered


def raw_images(specs: list[str]) -> list[Extent]:
    """Return the extents of raw RAM images given as ``file@paddr`` (crash's syntax)."""
    extents = []
    for spec in specs:
        path, sep, addr = spec.rpartition("@")
        if not sep or not path:
            raise DumpError(f"{spec}: a raw memory image is given as FILE@PHYSADDR")
        try:
            paddr = int(addr, 0)
        except ValueError:
            raise DumpError(f"{spec}: bad physical address {addr!r}") from None
        if not os.path.isfile(path):
            raise DumpError(f"{path}: no such file")
        src = FileSource(path)
        if src.size() == 0:
            raise DumpError(f"{path}: empty memory image")
        extents.append(Extent(paddr, src.size(), src, 0))
    return check_overlaps(extents)


def lime_image(path: str) -> list[Extent]:
    """Return the extents of a LiME image: each range has a 32-byte header, then its data."""
    src = FileSource(path)
    total = src.size()
    pos = 0
    extents = []
    while pos < total:
        hdr = src.pread(pos, LIME_HEADER.size)
        if len(hdr) < LIME_HEADER.size:
            raise DumpError(f"{path}: truncated LiME header at byte {pos:#x}")
        magic, version, start, end, _ = LIME_HEADER.unpack(hdr)
        if magic != LIME_MAGIC or version != 1:
            raise DumpError(f"{path}: bad LiME header at byte {pos:#x}")
        if end < start:
            raise DumpError(f"{path}: LiME range at byte {pos:#x} ends before it starts")
        size = end - start + 1
        if pos + LIME_HEADER.size + size > total:
            raise DumpError(f"{path}: LiME range {start:#x}-{end:#x} claims {size} bytes "
                            f"but the file ends first")
        extents.append(Extent(start, size, src, pos + LIME_HEADER.size))
        pos += LIME_HEADER.size + size
    if not extents:
        raise DumpError(f"{path}: empty LiME image")
    return check_overlaps(extents)


def is_lime(path: str) -> bool:
    """Whether the file starts with a LiME range header."""
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and struct.unpack_from("<II", head) == (LIME_MAGIC, 1)


@dataclass
class OldmemInfo:
    """What the ELF core header at ``elfcorehdr=`` says about an oldmem image."""

    extents: list[Extent]
    prstatus: list[elfcore.PrStatus]
    vmcoreinfo: bytes | None


def oldmem(path: str, elfcorehdr: int) -> OldmemInfo:
    """Read kexec's ELF core header inside an oldmem image (file offset = physical address).

    Its PT_LOADs are the RAM ranges (read at their physical addresses); its
    PT_NOTEs, also at physical addresses, hold the CPUs' registers and VMCOREINFO.
    """
    src = FileSource(path)
    phdrs = elfcore.read_header(src, elfcorehdr)
    extents = []
    notes: list[elfcore.Note] = []
    for ph in phdrs:
        if ph.type == elfcore.PT_LOAD and ph.memsz:
            if ph.paddr >= src.size():
                continue  # RAM beyond what the image holds
            size = min(ph.memsz, src.size() - ph.paddr)
            extents.append(Extent(ph.paddr, size, src, ph.paddr))
        elif ph.type == elfcore.PT_NOTE and ph.filesz:
            data = src.pread(ph.offset, ph.filesz)
            if len(data) < ph.filesz:
                raise DumpError(f"{path}: note at {ph.offset:#x} lies beyond the image")
            notes.extend(elfcore.parse_notes(data))
    if not extents:
        raise DumpError(f"{path}: the ELF core header at {elfcorehdr:#x} names no memory")
    regs, info = elfcore.collect(iter(notes))
    return OldmemInfo(merge(extents), regs, info)


def merge(extents: list[Extent]) -> list[Extent]:
    """Merge overlapping extents of one identity-mapped file (kexec's header lists the
    kernel's text range as well as the RAM range that contains it)."""
    out: list[Extent] = []
    for ext in sorted(extents, key=lambda e: e.paddr):
        if out and ext.paddr <= out[-1].paddr + out[-1].size:
            last = out[-1]
            end = max(last.paddr + last.size, ext.paddr + ext.size)
            out[-1] = Extent(last.paddr, end - last.paddr, last.source, last.offset)
        else:
            out.append(ext)
    return out


def elfcorehdr_from_cmdline(cmdline: str) -> int | None:
    """Return the ``elfcorehdr=`` address of a kernel command line (``753012K`` or ``0x...``)."""
    m = re.search(r"(?:^|\s)elfcorehdr=(?:[0-9a-fA-Fx]+@)?([0-9a-fA-Fx]+)([KMG]?)(?:\s|$)",
                  cmdline)
    if not m:
        return None
    value = int(m.group(1), 0)
    return value << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


_VMCOREINFO_START = re.compile(rb"OSRELEASE=[^\n\0]{1,64}\n")


def scan_vmcoreinfo(extents: list[Extent], chunk: int = 1 << 24) -> bytes | None:
    """Find the VMCOREINFO text in physical memory (for images without notes).

    The kernel keeps it as ``OSRELEASE=...\\n...`` lines; the copy that also
    has ``SYMBOL(swapper_pg_dir)=`` and ``KERNELOFFSET=`` is the real one.
    """
    for ext in extents:
        done = 0
        while done < ext.size:
            data = ext.source.pread(ext.offset + done, min(chunk + 8192, ext.size - done))
            for m in _VMCOREINFO_START.finditer(data):
                end = data.find(b"\0", m.start())
                text = data[m.start() : end if end >= 0 else len(data)]
                if b"SYMBOL(swapper_pg_dir)=" in text and b"PAGESIZE=" in text:
                    return text
            done += chunk
    return None
