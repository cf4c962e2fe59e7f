"""Physical memory maps for the sources drgn cannot open itself.

Raw ``/dev/oldmem`` (offset = physical address), raw RAM images
(``file@paddr``), LiME images and ELF dumps in a flattened stream become lists
of :class:`Extent` (a physical range and where its bytes are); then
:mod:`pycrash.memory.custom` turns them into a drgn Program.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pycrash.errors import DumpError
from pycrash.memory.source import ByteSource


class Extent(NamedTuple):
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


def drop_aliases(extents: list[Extent]) -> list[Extent]:
    """Return the PT_LOAD extents of one ELF vmcore sorted, each physical byte once: the
    kernel's text has a PT_LOAD of its own (by its virtual address) inside the direct
    map's RAM range, and both hold the same bytes; a range another contains is dropped,
    one that overlaps another's end starts after it."""
    out: list[Extent] = []
    for ext in sorted(extents, key=lambda e: (e.paddr, -e.size)):
        if out and ext.paddr < out[-1].paddr + out[-1].size:
            end = out[-1].paddr + out[-1].size
            if ext.paddr + ext.size <= end:
                continue
            cut = end - ext.paddr
            ext = Extent(end, ext.size - cut, ext.source, ext.offset + cut)
        out.append(ext)
    return out


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


_VMCOREINFO_START = re.compile(rb"OSRELEASE=[^\n\0]{1,64}\n")
#: how every kernel banner starts (``linux_banner``, the log's copy, /proc/version's)
BANNER_START = b"Linux version "


def scan_vmcoreinfo(extents: list[Extent], chunk: int = 1 << 24,
                    banners: list[int] | None = None) -> bytes | None:
    """Find the VMCOREINFO text in physical memory (for images without notes).

    The kernel keeps it as ``OSRELEASE=...\\n...`` lines; the copy that also
    has ``SYMBOL(swapper_pg_dir)=`` and ``KERNELOFFSET=`` is the real one. Into
    ``banners``, if given, go the physical addresses of the kernel banners
    (``Linux version ``) passed on the way: where there is no VMCOREINFO text, the
    kernel is looked for among them (:mod:`pycrash.memory.locate`) without a second pass.
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
            if banners is not None:
                at = data.find(BANNER_START, 0, chunk + len(BANNER_START) - 1)
                while at >= 0:
                    banners.append(ext.paddr + done + at)
                    at = data.find(BANNER_START, at + 1, chunk + len(BANNER_START) - 1)
            done += chunk
    return None
