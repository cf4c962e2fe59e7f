"""mach: the machine: its type, memory, CPUs, the kernel's address-space layout, stacks."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator

from pycrash.cmdlib.select import dump_cpus
from pycrash.command import Result, command
from pycrash.kernel.machine import CpuStack, ExceptionStacks, MachineInfo, machine_info
from pycrash.kernel.system import format_memory
from pycrash.session import Session


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
    """crash's mach output, in its x86-64 or arm64 layout (arm64: no kernel start map)."""
    for m in result.rows:
        yield from (_x86_lines(m) if m.start_map is not None else _arm64_lines(m))


@command(
    "mach",
    summary="machine specific data",
    synopsis="mach",
    description="""
Shows the machine the dump was taken on: its type, memory size, CPUs, processor
speed, the kernel's tick rate (HZ) and page size, the bases of the kernel's direct map,
vmalloc area, vmemmap, kernel image (x86-64) and modules, the task and IRQ stack sizes,
and each CPU's IRQ stack and exception (x86-64) or overflow (arm64) stacks.
""",
    examples="""
crash> mach
""",
    records=(MachineInfo, CpuStack, ExceptionStacks),
)
def mach(session: Session, args: argparse.Namespace) -> Result:
    """Return the one :class:`MachineInfo`."""
    return Result([machine_info(session.prog, dump_cpus(session.prog))], render=render)
