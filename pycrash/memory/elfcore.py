"""ELF core headers and their notes: what kexec leaves at ``elfcorehdr=``, and /proc/vmcore.

The header's PT_LOADs name the crashed machine's RAM ranges by physical
address; its PT_NOTEs point at the per-CPU ``crash_notes`` (NT_PRSTATUS: the
registers each CPU had when it stopped) and at the VMCOREINFO note.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pycrash.errors import DumpError
from pycrash.memory.source import ByteSource

PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS = 1
PR_REG_OFFSET = 112  # offsetof(struct elf_prstatus, pr_reg) on x86-64
PR_PID_OFFSET = 32
PT_REGS_SIZE = 21 * 8  # struct pt_regs is the first 21 words of pr_reg


@dataclass(frozen=True)
class Segment:
    """A program header: ``offset`` in the file, ``paddr`` in physical memory."""

    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class Note:
    """An ELF note: its owner name, type and descriptor bytes."""

    name: bytes
    type: int
    desc: bytes


@dataclass(frozen=True)
class PrStatus:
    """A CPU's NT_PRSTATUS: the pid it was running and its ``struct pt_regs`` bytes."""

    pid: int
    regs: bytes


def read_header(source: ByteSource, at: int = 0) -> list[Segment]:
    """Return the program headers of the 64-bit little-endian ELF core header at ``at``."""
    ehdr = source.pread(at, 64)
    if len(ehdr) < 64 or not ehdr.startswith(b"\x7fELF"):
        raise DumpError(f"{source.path}: no ELF core header at {at:#x}")
    if ehdr[4] != 2 or ehdr[5] != 1:
        raise DumpError(f"{source.path}: only 64-bit little-endian ELF core headers are supported")
    e_type, = struct.unpack_from("<H", ehdr, 16)
    if e_type != 4:
        raise DumpError(f"{source.path}: the ELF header at {at:#x} is not a core header")
    e_phoff, = struct.unpack_from("<Q", ehdr, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", ehdr, 54)
    if e_phentsize != 56 or not 0 < e_phnum < 65536:
        raise DumpError(f"{source.path}: corrupt ELF core header at {at:#x}")
    table = source.pread(at + e_phoff, e_phentsize * e_phnum)
    if len(table) < e_phentsize * e_phnum:
        raise DumpError(f"{source.path}: truncated ELF core header at {at:#x}")
    out = []
    for i in range(e_phnum):
        p_type, _f, off, vaddr, paddr, filesz, memsz = struct.unpack_from(
            "<IIQQQQQ", table, i * e_phentsize)
        out.append(Segment(p_type, off, vaddr, paddr, filesz, memsz))
    return out


def parse_notes(data: bytes) -> Iterator[Note]:
    """Yield the notes of a PT_NOTE's bytes (stopping at padding or garbage)."""
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            return
        pos += 12
        name = data[pos : pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = data[pos : pos + descsz]
        pos += (descsz + 3) & ~3
        if pos > len(data):
            return
        yield Note(name, ntype, desc)


def prstatus(note: Note) -> PrStatus:
    """Return the :class:`PrStatus` of an NT_PRSTATUS note (x86-64 layout)."""
    pid, = struct.unpack_from("<i", note.desc, PR_PID_OFFSET)
    return PrStatus(pid, note.desc[PR_REG_OFFSET : PR_REG_OFFSET + PT_REGS_SIZE])


def collect(notes: Iterator[Note]) -> tuple[list[PrStatus], bytes | None]:
    """Return the NT_PRSTATUS registers in CPU order, and the VMCOREINFO text if present."""
    regs: list[PrStatus] = []
    vmcoreinfo = None
    for note in notes:
        if note.type == NT_PRSTATUS and note.name == b"CORE":
            regs.append(prstatus(note))
        elif note.name == b"VMCOREINFO":
            vmcoreinfo = note.desc.rstrip(b"\0")
    return regs, vmcoreinfo
