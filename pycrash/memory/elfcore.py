"""What the kernel puts in an ELF core: kexec's ELF core header and the crash notes.

kexec leaves an ELF core header at ``elfcorehdr=`` (and makedumpfile -E writes
one at the start of its file): its PT_LOADs name the crashed machine's RAM
ranges by physical address; its PT_NOTEs point at the per-CPU ``crash_notes``
(NT_PRSTATUS: the registers each CPU had when it stopped) and at the
VMCOREINFO note. The ELF layout itself is :mod:`pycrash.memory.elffile`'s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import NamedTuple

from pycrash.errors import DumpError
from pycrash.memory import elffile
from pycrash.memory.elffile import Note, Segment
from pycrash.memory.source import ByteSource

NT_PRSTATUS = 1
#: offsetof(struct elf_prstatus, pr_pid) and (pr_reg), the same on x86-64 and arm64
PR_PID_OFFSET, PR_REG_OFFSET = 32, 112
PT_REGS_WORDS = 21  # x86-64's struct pt_regs is the first 21 words of pr_reg
#: pr_reg's words that start the kernel's struct pt_regs, by architecture
#: (:data:`elffile.ARCHES`): x86-64's 21; arm64's user_pt_regs, x0-x30, sp, pc and pstate
REGS_WORDS = {"X86_64": PT_REGS_WORDS, "AARCH64": 34}
PHDR_SIZE = 56  # sizeof(Elf64_Phdr), all kexec and makedumpfile write
#: the largest notes segment pycrash reads (a kernel's are a few KiB per CPU)
MAX_NOTES = 1 << 26


#: The pid of a QEMU dump's NT_PRSTATUS: QEMU writes the vCPU's number there, not a task's;
#: the registers are whatever that vCPU was running when QEMU stopped it.
VCPU = -2


class PrStatus(NamedTuple):
    """A CPU's NT_PRSTATUS: the pid it was running (:data:`VCPU` in a QEMU dump, -1 for
    a damaged note) and its ``struct pt_regs`` bytes."""

    pid: int
    regs: bytes


def read_header(source: ByteSource, at: int = 0) -> list[Segment]:
    """Return the program headers of the 64-bit little-endian ELF core header at byte
    ``at`` of ``source``; :class:`DumpError` when there is none or it is damaged."""
    hdr_bytes = source.pread(at, elffile.EHDR_SIZE)
    if len(hdr_bytes) < elffile.EHDR_SIZE or not elffile.is_elf(hdr_bytes):
        raise DumpError(f"{source.path}: no ELF core header at {at:#x}")
    hdr = elffile.header(hdr_bytes)
    if hdr is None or not hdr.little_endian:
        raise DumpError(f"{source.path}: only 64-bit little-endian ELF core headers are supported")
    if hdr.type != elffile.ET_CORE:
        raise DumpError(f"{source.path}: the ELF header at {at:#x} is not a core header")
    if hdr.phentsize != PHDR_SIZE or not 0 < hdr.phnum < 65536:
        raise DumpError(f"{source.path}: corrupt ELF core header at {at:#x}")
    found = elffile.segments(source, hdr, at)
    if found is None:
        raise DumpError(f"{source.path}: truncated ELF core header at {at:#x}")
    return found


def prstatus(note: Note, words: int = PT_REGS_WORDS) -> PrStatus:
    """Return the :class:`PrStatus` of an NT_PRSTATUS note: its pid and the first
    ``words`` words of ``pr_reg`` (x86-64's ``struct pt_regs`` by default); a note too
    short to hold them gives pid -1 and no registers (no task has that pid, so the CPU's
    task unwinds as if the dump held no registers for it)."""
    if len(note.desc) < PR_REG_OFFSET + 8 * words:  # a damaged note: no registers
        return PrStatus(-1, b"")
    pid, = struct.unpack_from("<i", note.desc, PR_PID_OFFSET)
    return PrStatus(pid, note.desc[PR_REG_OFFSET : PR_REG_OFFSET + 8 * words])


def collect(notes: Iterable[Note], machine: str | int = "x86_64", qemu: bool = False,
            ) -> tuple[list[PrStatus], bytes | None]:
    """Return the NT_PRSTATUS registers in CPU order, and the VMCOREINFO text if present.

    A dump QEMU wrote (dump-guest-memory: it adds a "QEMU" note per vCPU) numbers the
    NT_PRSTATUS notes by vCPU; their pid is then :data:`VCPU` (``qemu`` says so where
    there are no "QEMU" notes: arm64). ``machine`` (utsname's or an ELF e_machine) says
    how many words of each note's registers make a pt_regs."""
    words = REGS_WORDS.get(elffile.ARCHES.get(machine, ""), PT_REGS_WORDS)
    regs: list[PrStatus] = []
    vmcoreinfo = None
    for note in notes:
        if note.type == NT_PRSTATUS and note.name == b"CORE":
            regs.append(prstatus(note, words))
        elif note.name == b"VMCOREINFO":
            vmcoreinfo = note.desc.rstrip(b"\0")
        elif note.name == b"QEMU":
            qemu = True
    if qemu:
        regs = [PrStatus(VCPU, r.regs) if r.regs else r for r in regs]
    return regs, vmcoreinfo


def is_qemu(notes: Iterable[Note]) -> bool:
    """Tell whether ELF notes are QEMU's (dump-guest-memory writes a "QEMU" note a vCPU)."""
    return any(n.name == b"QEMU" for n in notes)
