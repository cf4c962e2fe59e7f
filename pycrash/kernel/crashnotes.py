"""The registers each CPU saved at the crash, read from the kernel's own ``crash_notes``.

When kdump runs, ``crash_save_cpu()`` writes every CPU's NT_PRSTATUS note into
the per-CPU buffer ``crash_notes``; the capture kernel copies them into the
dump's ELF notes. Reading them from memory costs a few hundred bytes, where
asking drgn for a running task's first frame unwinds the whole stack with DWARF.
"""

from __future__ import annotations

import struct

from drgn import FaultError, Program

from pycrash.kernel.unwind_x86_64 import PT_REGS
from pycrash.memory.elfcore import NT_PRSTATUS, PR_REG_OFFSET, prstatus
from pycrash.memory.elffile import parse_notes

#: the general registers of each architecture, in ``pr_reg`` (and ``struct pt_regs``) order
ARM64_REGS = (*(f"x{i}" for i in range(31)), "sp", "pc", "pstate")
REGS = {"X86_64": PT_REGS, "AARCH64": ARM64_REGS}
#: how much of a CPU's note buffer is read (an NT_PRSTATUS note is about 400 bytes)
NOTE_BYTES = 1024


def named_registers(arch: str, raw: bytes) -> dict[str, int]:
    """Return the registers at the start of ``raw`` (a ``pr_reg`` or ``struct pt_regs``) by
    their ``struct pt_regs`` member names (arm64: ``x0``..``x30``, ``sp``, ``pc``,
    ``pstate``, and ``fp`` for x29)."""
    names = REGS[arch]
    regs = dict(zip(names, struct.unpack_from(f"<{len(names)}Q", raw), strict=True))
    if arch == "AARCH64":
        regs["fp"] = regs["x29"]
    return regs


def saved_registers(prog: Program, cpu: int) -> tuple[int, dict[str, int]] | None:
    """Return ``(pid, registers)`` of the NT_PRSTATUS note CPU ``cpu`` saved at the crash,
    with ``struct pt_regs`` member names (arm64: ``x0``..``x30``, ``sp``, ``pc``,
    ``pstate``, and ``fp`` for x29); None when the kernel saved none for that CPU."""
    from drgn.helpers.linux.percpu import per_cpu_ptr

    arch = prog.platform.arch.name if prog.platform is not None else ""
    names = REGS.get(arch)
    if names is None:
        return None
    try:
        at = per_cpu_ptr(prog["crash_notes"], cpu).value_()
        data = prog.read(at, NOTE_BYTES)
    except (KeyError, LookupError, FaultError, ValueError):
        return None
    for note in parse_notes(data):
        if note.type != NT_PRSTATUS or note.name != b"CORE":
            continue
        if len(note.desc) < PR_REG_OFFSET + 8 * len(names):
            return None
        status = prstatus(note, len(names))
        return status.pid, named_registers(arch, status.regs)
    return None
