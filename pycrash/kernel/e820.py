"""The x86 firmware memory map (e820) and each CPU's ``struct cpuinfo_x86``, as crash's
``mach -m`` and ``mach -c`` show them."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Object, Program

from pycrash.errors import CommandError
from pycrash.records import Hex

#: crash's names of e820 types 0..5; 12 and 128 have names of their own, the others
#: are shown as ``type N``
E820_NAMES = ("(invalid type)", "E820_RAM", "E820_RESERVED", "E820_ACPI", "E820_NVS",
              "E820_UNUSABLE")


@dataclass(frozen=True)
class MemoryRange:
    """One e820 entry: the physical range [start, end) and its type (1: RAM, 2: reserved,
    3: ACPI, 4: NVS, 5: unusable, 12: persistent memory, 128: reserved by the kernel)."""

    start: Hex
    end: Hex
    type: int


def e820_type_name(kind: int) -> str:
    """crash's name of an e820 type."""
    if 0 <= kind < len(E820_NAMES):
        return E820_NAMES[kind]
    return {12: "E820_PRAM", 128: "E820_RESERVED_KERN"}.get(kind, f"type {kind}")


def e820_map(prog: Program) -> list[MemoryRange]:
    """Return the firmware's memory map as the kernel kept it (``e820_table``, before 4.12
    the ``e820`` map)."""
    table: Object | None = None
    for name in ("e820_table", "e820"):
        try:
            table = prog[name]
        except KeyError:
            continue
        if table.type_.kind.name == "POINTER":
            table = table[0]
        break
    if table is None:
        raise CommandError("neither e820 or e820_table symbols exist")
    count_name = "nr_entries" if "nr_entries" in {m.name for m in table.type_.members} \
        else "nr_map"
    entries = table.entries if count_name == "nr_entries" else table.map
    count = min(table.member_(count_name).value_(), len(entries))
    out = []
    for i in range(count):
        e = entries[i]
        start = e.addr.value_()
        out.append(MemoryRange(start, start + e.size.value_(), int(e.type.value_())))
    return out


def cpuinfo_objects(prog: Program, cpus: list[int]) -> list[tuple[int, Object]]:
    """Return ``(cpu, struct cpuinfo_x86)`` for each CPU: the per-CPU ``cpu_info`` (x86-64
    SMP kernels), else the ``cpu_data`` array, else ``boot_cpu_data`` alone (cpu -1)."""
    from drgn.helpers.linux.percpu import per_cpu

    try:
        info = prog["cpu_info"]
        return [(cpu, per_cpu(info, cpu)) for cpu in cpus]
    except KeyError:
        pass
    try:
        data = prog["cpu_data"]
        return [(cpu, data[cpu]) for cpu in cpus]
    except KeyError:
        return [(-1, prog["boot_cpu_data"])]
