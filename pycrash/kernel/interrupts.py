"""The CPU's interrupt descriptor table and the kernel's softirq handlers (``irq -d``,
``irq -b``)."""

from __future__ import annotations

from drgn import FaultError, Program, sizeof

#: how many gates an x86-64 IDT has
IDT_ENTRIES = 256


def idt_handlers(prog: Program) -> list[int]:
    """Return the handler address of each of the 256 gates of x86-64's ``idt_table``
    (``struct gate_struct``: offset bits 0-15, 16-31 and 32-63 split over the gate).
    Raises LookupError on a kernel without an ``idt_table`` (another architecture) and
    FaultError when the table cannot be read."""
    arch = prog.platform.arch.name if prog.platform is not None else ""
    if arch != "X86_64":
        raise LookupError("the interrupt descriptor table is x86-64's")
    table = prog["idt_table"]
    size = 16  # sizeof(gate_desc); the array's own type says so where DWARF has it
    if table.type_.kind.name == "ARRAY":
        size = sizeof(table[0])
    data = prog.read(table.address_, size * IDT_ENTRIES)
    out = []
    for i in range(IDT_ENTRIES):
        lo = int.from_bytes(data[i * size : i * size + 8], "little")
        hi = int.from_bytes(data[i * size + 8 : i * size + 16], "little")
        out.append((hi & 0xFFFFFFFF) << 32 | (lo >> 32) & 0xFFFF0000 | lo & 0xFFFF)
    return out


def softirq_actions(prog: Program) -> list[tuple[int, int]]:
    """Return ``(vector, action)`` of each entry of ``softirq_vec`` (the handler each
    softirq runs; 0 where none is registered). Raises LookupError without the array."""
    vec = prog["softirq_vec"]
    out = []
    for i in range(len(vec)):
        try:
            out.append((i, vec[i].action.value_()))
        except FaultError:
            out.append((i, 0))
    return out
