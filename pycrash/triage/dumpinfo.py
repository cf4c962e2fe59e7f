"""Tier 0: what a dump says of itself without debuginfo.

The dump's own headers give its format, architecture and VMCOREINFO note; VMCOREINFO
gives the kernel release, build id, crash time and the page tables' root, so that a
drgn Program without any debuginfo can translate kernel addresses and
:mod:`pycrash.triage.printk` can read the log. Every byte is read through a
:class:`~pycrash.memory.source.ByteSource`: a local file or a remote one alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory import custom, elfcore, elffile
from pycrash.memory.formats import elf as elf_format
from pycrash.memory.formats import flattened, kdump
from pycrash.memory.physmem import Extent
from pycrash.memory.source import ByteSource

if TYPE_CHECKING:
    import drgn


@dataclass(frozen=True)
class DumpFacts:
    """A dump's identity: its format (``kdump``, ``elf``, ``flattened-kdump``,
    ``flattened-elf``), architecture, kernel release, build id, crash time (seconds since
    the epoch, None when the dump does not say), and its VMCOREINFO as ``{KEY: value}``."""

    format: str
    arch: str
    release: str
    build_id: str | None
    crash_time: int | None
    vmcoreinfo: dict[str, str]


def parse_vmcoreinfo(text: bytes) -> dict[str, str]:
    """Return VMCOREINFO's ``KEY=value`` lines as a dict."""
    out: dict[str, str] = {}
    for line in text.decode("ascii", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def open_dump(source: ByteSource) -> tuple[DumpFacts, drgn.Program]:
    """Return the dump's :class:`DumpFacts` and a drgn Program over its memory (no
    debuginfo: kernel addresses translate through VMCOREINFO's page tables).
    :class:`DumpError` with one line for a file that is not a usable dump."""
    head = source.pread(0, 4096)
    path = source.path
    if not head:
        raise DumpError(f"{path}: empty file, not a dump")
    if elffile.is_elf(head):
        if not elf_format.probe(head):
            raise DumpError(f"{path}: an ELF file, but not a vmcore")
        elf_format.inspect(path, source, head)
        return _open_elf(source, "elf")
    if kdump.probe(head):
        kdump.inspect(path, source, head)
        return _open_kdump(source, "kdump")
    if flattened.probe(head):
        flat = flattened.FlatSource(path, source)
        if elffile.is_elf(flat.pread(0, 4)):
            return _open_elf(flat, "flattened-elf")
        return _open_kdump(flat, "flattened-kdump")
    raise DumpError(f"{path}: not a kernel crash dump (unknown format, first bytes "
                    f"{head[:8].hex()})")


def _facts(fmt: str, arch: str, info: bytes, header_release: str = "") -> DumpFacts:
    """Return the facts of a dump of ``fmt`` and ``arch`` whose VMCOREINFO is ``info``."""
    vi = parse_vmcoreinfo(info)
    release = vi.get("OSRELEASE") or header_release
    if not release:
        raise DumpError("the dump's VMCOREINFO names no kernel release")
    crash = vi.get("CRASHTIME")
    return DumpFacts(fmt, arch, release, vi.get("BUILD-ID") or None,
                     int(crash) if crash and crash.isdigit() else None, vi)


def _open_kdump(source: ByteSource, fmt: str) -> tuple[DumpFacts, drgn.Program]:
    """Open a kdump file (plain, or in a flattened stream) with pycrash's reader."""
    kd = kdump.KdumpFile(source)
    info = kd.vmcoreinfo()
    if not info.strip(b"\0"):
        raise DumpError(f"{source.path}: no VMCOREINFO in the dump")
    arch = kd.machine(info)
    prog = custom.new_program(arch)
    kdump.add_to_program(prog, [kd], zero_excluded=True)
    custom.finish(prog, info)
    return _facts(fmt, arch, info, kd.header.release), prog


def _open_elf(source: ByteSource, fmt: str) -> tuple[DumpFacts, drgn.Program]:
    """Open an ELF vmcore (plain, or in a flattened stream) from its PT_LOADs and notes."""
    head = elffile.header(source.pread(0, elffile.EHDR_SIZE))
    machine: str | int = head.machine if head is not None else "x86_64"
    segs = elfcore.read_header(source)
    notes = [n for s in segs if s.type == elffile.PT_NOTE
             for n in elffile.parse_notes(source.pread(s.offset, min(s.filesz, 1 << 20)))]
    _regs, info = elfcore.collect(notes, machine)
    if not info:
        raise DumpError(f"{source.path}: no VMCOREINFO note in the vmcore")
    extents: list[Extent] = []
    for s in sorted((s for s in segs if s.type == elffile.PT_LOAD and s.filesz),
                    key=lambda s: (s.paddr, -s.filesz)):
        if extents and s.paddr < extents[-1].paddr + extents[-1].size:
            continue  # the kernel text's PT_LOAD repeats part of a RAM range
        extents.append(Extent(s.paddr, s.filesz, source, s.offset))
    arch = elffile.ARCHES.get(machine, "")
    prog = custom.new_program(machine)
    custom.add_extents(prog, extents)
    custom.finish(prog, info)
    return _facts(fmt, "aarch64" if arch == "AARCH64" else "x86_64", info), prog


def reader(prog: drgn.Program) -> Callable[[int, int], bytes]:
    """Return ``read(address, size)`` over the Program's kernel virtual memory; a fault
    becomes :class:`DumpError`."""
    def read(address: int, size: int) -> bytes:
        try:
            return prog.read(address, size)
        except Exception as exc:
            raise DumpError(f"cannot read {size} bytes at {address:#x}: {exc}") from None
    return read
