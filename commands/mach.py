"""mach: the machine: its type, memory, CPUs, the kernel's address-space layout, stacks."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pycrash.cmdlib.dumpstruct import crash_struct_dump
from pycrash.cmdlib.select import dump_cpus
from pycrash.cmdlib.structs import StructDump, dump_lines
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.e820 import MemoryRange, cpuinfo_objects, e820_map, e820_type_name
from pycrash.kernel.machine import CpuStack, ExceptionStacks, MachineInfo, machine_info
from pycrash.kernel.system import format_memory
from pycrash.session import Session


@dataclass(frozen=True)
class CpuInfo:
    """One CPU's ``struct cpuinfo_x86`` (cpu -1: the boot CPU's, where the kernel keeps no
    per-CPU copy), as gdb shows it."""

    cpu: int
    info: StructDump


def _x86_lines(m: MachineInfo) -> Iterator[str]:
    yield f"          MACHINE TYPE: {m.machine}"
    yield f"           MEMORY SIZE: {format_memory(m.memory_bytes)}"
    yield f"                  CPUS: {m.cpus}"
    yield f"       PROCESSOR SPEED: {f'{m.mhz} Mhz' if m.mhz else '(unknown)'}"
    yield f"                    HZ: {m.hz}"
    yield f"             PAGE SIZE: {m.page_size}"
    yield f"   KERNEL VIRTUAL BASE: {m.kernel_virtual_base:x}"
    yield f"   KERNEL VMALLOC BASE: {m.vmalloc_base:x}"
    yield f"   KERNEL VMEMMAP BASE: {m.vmemmap_base:x}"
    yield f"      KERNEL START MAP: {m.start_map or 0:x}"
    yield f"   KERNEL MODULES BASE: {m.modules_base:x}"
    yield f"     KERNEL STACK SIZE: {m.stack_size}"
    yield f"        IRQ STACK SIZE: {m.irq_stack_size}"
    yield "            IRQ STACKS:"
    for s in m.irq_stacks:
        yield f"{f'CPU {s.cpu}':>22}: {s.base:016x}"
    for e in m.exception_stacks:
        yield f"{e.name:>11} STACK SIZE: {e.size}"
        yield f"{e.name + ' STACKS:':>23}"
        for s in e.stacks:
            tail = "" if s.available else " [unavailable]"
            yield f"{f'CPU {s.cpu}':>22}: {s.base:016x}{tail}"


def _cpu_line(s: CpuStack) -> str:
    pad = 3 if s.cpu < 10 else 2 if s.cpu < 100 else 1 if s.cpu < 1000 else 0
    return f"{' ' * pad}           CPU {s.cpu}: {s.base:x}"


def _arm64_lines(m: MachineInfo) -> Iterator[str]:
    yield f"       MACHINE TYPE: {m.machine}"
    yield f"        MEMORY SIZE: {format_memory(m.memory_bytes)}"
    yield f"               CPUS: {m.cpus}"
    if m.mhz:
        yield f"    PROCESSOR SPEED: {m.mhz} Mhz"
    yield f"                 HZ: {m.hz}"
    yield f"          PAGE SIZE: {m.page_size}"
    yield f"KERNEL VIRTUAL BASE: {m.kernel_virtual_base:x}"
    yield f"KERNEL MODULES BASE: {m.modules_base:x}"
    yield f"KERNEL VMALLOC BASE: {m.vmalloc_base:x}"
    yield f"KERNEL VMEMMAP BASE: {m.vmemmap_base:x}"
    yield f"  KERNEL STACK SIZE: {m.stack_size}"
    if m.irq_stack_size:
        yield f"     IRQ STACK SIZE: {m.irq_stack_size}"
        yield "         IRQ STACKS:"
        yield from map(_cpu_line, m.irq_stacks)
    if m.overflow_stack_size:
        yield f"OVERFLOW STACK SIZE: {m.overflow_stack_size}"
        yield "    OVERFLOW STACKS:"
        yield from map(_cpu_line, m.overflow_stacks)


def render(result: Result) -> Iterable[str]:
    """crash's mach output, in its x86-64 or arm64 layout (arm64: no kernel start map);
    the e820 map (-m) and each CPU's cpuinfo_x86 (-c)."""
    header = False
    for m in result.rows:
        if isinstance(m, MemoryRange):
            if not header:
                yield "      PHYSICAL ADDRESS RANGE         TYPE"
                header = True
            yield f"{m.start:016x} - {m.end:016x}  {e820_type_name(m.type)}"
        elif isinstance(m, CpuInfo):
            if m.cpu < 0:
                yield "BOOT CPU:"
            else:
                yield f"{chr(10) if m.cpu else ''}CPU {m.cpu}:"
            yield from dump_lines(m.info)
        else:
            yield from (_x86_lines(m) if m.start_map is not None else _arm64_lines(m))


@command(
    "mach",
    summary="machine specific data",
    synopsis="mach [-m | -c -[xd]]",
    description="""
Shows the machine the dump was taken on: its type, memory size, CPUs, processor
speed, the kernel's tick rate (HZ) and page size, the bases of the kernel's direct map,
vmalloc area, vmemmap, kernel image (x86-64) and modules, the task and IRQ stack sizes,
and each CPU's IRQ stack and exception (x86-64) or overflow (arm64) stacks.

    -m  Display the physical memory map (x86-64 only): the firmware's e820 table as
        the kernel kept it.
    -c  Display each cpu's cpuinfo_x86 structure (x86-64 only).
    -x  override default output format with hexadecimal format.
    -d  override default output format with decimal format.
""",
    examples="""
crash> mach

Display the system physical memory map:

  crash> mach -m
        PHYSICAL ADDRESS RANGE         TYPE
  0000000000000000 - 0000000000001000  E820_RESERVED
  0000000000001000 - 000000000009fc00  E820_RAM
  000000000009fc00 - 00000000000a0000  E820_RESERVED
  00000000000f0000 - 0000000000100000  E820_RESERVED
  0000000000100000 - 000000002ffda000  E820_RAM
  000000002ffda000 - 0000000030000000  E820_RESERVED
  00000000fffc0000 - 0000000100000000  E820_RESERVED

Display each CPU's cpuinfo_x86 in hexadecimal:

  crash> mach -c -x
""",
    arguments=(
        arg("-m", dest="memmap", action="store_true"),
        arg("-c", dest="cpuinfo", action="store_true"),
        arg("-x", dest="hex", action="store_true"),
        arg("-d", dest="dec", action="store_true"),
    ),
    records=(MachineInfo, CpuStack, ExceptionStacks, MemoryRange, CpuInfo),
)
def mach(session: Session, args: argparse.Namespace) -> Result:
    """Return the one :class:`MachineInfo`; with -m the :class:`MemoryRange` of the e820
    map, with -c a :class:`CpuInfo` per CPU (both: the map first, as crash)."""
    prog = session.prog
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    if not (args.memmap or args.cpuinfo):
        return Result([machine_info(prog, dump_cpus(prog))], render=render)
    if prog.platform is None or "X86_64" not in str(prog.platform.arch):
        raise CommandError("-m and -c are supported on x86-64 dumps only")
    rows: list[MemoryRange | CpuInfo] = []
    if args.memmap:
        rows.extend(e820_map(prog))
    if args.cpuinfo:
        radix = 16 if args.hex or (session.state.settings.get("radix") == 16 and not args.dec) \
            else 10
        rows.extend(CpuInfo(cpu, crash_struct_dump(obj, radix=radix))
                    for cpu, obj in cpuinfo_objects(prog, dump_cpus(prog)))
    return Result(rows, render=render)
