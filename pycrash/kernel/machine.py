"""The machine a dump was taken on, as crash's ``mach`` shows it: the kernel's address-space
layout, its stack sizes, and each CPU's IRQ and exception stacks."""

from __future__ import annotations

from dataclasses import dataclass, field

from drgn import FaultError, Program, sizeof

from pycrash.records import Hex

#: x86-64's __START_KERNEL_map: where the kernel image is mapped
X86_START_KERNEL_MAP = 0xFFFFFFFF80000000
#: x86-64 MODULES_VADDR with KASLR (KERNEL_IMAGE_SIZE 1 GiB) and without (512 MiB)
X86_MODULES = (0xFFFFFFFFC0000000, 0xFFFFFFFFA0000000)
#: x86-64 IST exception stacks: a handler-name word -> crash's name and the kernel's
#: struct cea_exception_stacks member (crash's order of tests)
IST_NAMES = (("nmi", "NMI", "NMI_stack"), ("debug", "DEBUG", "DB_stack"),
             ("stack", "STACKFAULT", ""), ("double", "DOUBLEFAULT", "DF_stack"),
             ("machine", "MCE", "MCE_stack"), ("vmm", "VC", "VC_stack"))
IST_SLOTS = 7


@dataclass(frozen=True)
class CpuStack:
    """One CPU's stack of some kind: where it starts, and whether its memory is readable
    (a #VC stack exists only in SEV guests)."""

    cpu: int
    base: Hex
    available: bool = True


@dataclass(frozen=True)
class ExceptionStacks:
    """The stacks of one x86-64 IST exception (crash's name: NMI, DEBUG, DOUBLEFAULT...),
    their size in bytes (0: unknown, the base then the stack's top), one per CPU."""

    name: str
    size: int
    stacks: list[CpuStack]


@dataclass(frozen=True)
class MachineInfo:
    """What crash's ``mach`` reports: utsname.machine, memory bytes, CPUs, MHz, HZ, the
    page size, the bases of the kernel's direct map, vmalloc, vmemmap, kernel image
    (x86-64) and modules, the task and IRQ stack sizes, each CPU's IRQ stack, and the
    exception (x86-64) or overflow (arm64) stacks."""

    machine: str
    memory_bytes: int
    cpus: int
    mhz: int | None
    hz: int | None
    page_size: int
    kernel_virtual_base: Hex
    vmalloc_base: Hex
    vmemmap_base: Hex
    start_map: Hex | None
    modules_base: Hex
    stack_size: int
    irq_stack_size: int
    irq_stacks: list[CpuStack] = field(default_factory=list)
    exception_stacks: list[ExceptionStacks] = field(default_factory=list)
    overflow_stack_size: int = 0
    overflow_stacks: list[CpuStack] = field(default_factory=list)


def _arm64_layout(prog: Program) -> tuple[int, int, int, int]:
    """Return arm64's ``(PAGE_OFFSET, MODULES_VADDR, VMALLOC_START, VMEMMAP_START)`` from
    VA_BITS and the page size, as arch/arm64/include/asm/memory.h computes them since
    5.17 (a 128 MiB module area below vmalloc; crash's arm64_get_range_v5_17)."""
    from pycrash.kernel.stack import _va_bits

    va_bits = _va_bits(prog)
    page_shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    mask = (1 << 64) - 1
    page_offset = (-(1 << va_bits)) & mask
    modules = (-(1 << (va_bits - 1))) & mask
    vmemmap = (-(1 << (va_bits - (page_shift - 6)))) & mask  # STRUCT_PAGE_MAX_SHIFT 6
    return page_offset, modules, modules + (128 << 20), vmemmap


def is_page_struct(prog: Program, addr: int) -> bool:
    """Tell whether a kernel address lies in the vmemmap array of struct pages (x86-64's
    vmemmap_base, arm64's VMEMMAP_START, each a 1 TiB window here)."""
    if prog.platform is not None and prog.platform.arch.name == "AARCH64":
        base = _arm64_layout(prog)[3]
    else:
        try:
            base = prog["vmemmap_base"].value_()
        except (KeyError, TypeError):
            return False
    return bool(base <= addr < base + (1 << 40))


def _x86_exception_stacks(prog: Program, cpus: list[int]) -> list[ExceptionStacks]:
    """Return the IST stacks as crash finds them: named by the IDT handler that uses each
    IST slot, their tops from each CPU's TSS, sized by struct cea_exception_stacks."""
    from drgn.helpers.linux.percpu import per_cpu

    from pycrash.kernel.stack import symbolize_address

    names = ["(unknown)"] * IST_SLOTS
    members = [""] * IST_SLOTS
    try:
        idt = prog.read(prog.symbol("idt_table").address, 16 * 256)
    except (LookupError, FaultError):
        idt = b""
    for i in range(0, len(idt), 16):
        low, high = int.from_bytes(idt[i : i + 8], "little"), int.from_bytes(
            idt[i + 8 : i + 16], "little")
        ist = (low >> 32) & 0x7
        if not ist:
            continue
        handler = (low & 0xFFFF) | ((low >> 48) & 0xFFFF) << 16 | (high & 0xFFFFFFFF) << 32
        name = symbolize_address(prog, handler)
        for word, crash_name, member in IST_NAMES:
            if word in name:
                names[ist - 1], members[ist - 1] = crash_name, member
    sizes = []
    for member in members:
        try:
            sizes.append(sizeof(prog.type("struct cea_exception_stacks").member(member).type)
                         if member else 0)
        except LookupError:
            sizes.append(0)
    tops: dict[int, list[int]] = {}
    for cpu in cpus:
        try:
            ist = per_cpu(prog["cpu_tss_rw"], cpu).x86_tss.ist
            tops[cpu] = [ist[i].value_() for i in range(IST_SLOTS)]
        except (KeyError, LookupError, FaultError):
            return []
    out = []
    for i in range(IST_SLOTS):
        if not tops or not tops[cpus[0]][i]:
            break
        stacks = []
        for cpu in cpus:
            if not tops[cpu][i]:
                break
            base = tops[cpu][i] - sizes[i]
            readable = True
            if sizes[i]:  # crash checks only the stacks it could name (and so size)
                try:
                    prog.read(base, 1)
                except FaultError:
                    readable = False
            stacks.append(CpuStack(cpu, base, readable))
        out.append(ExceptionStacks(names[i], sizes[i], stacks))
    return out


def machine_info(prog: Program, cpus: list[int]) -> MachineInfo:
    """Return the :class:`MachineInfo` of a dump whose CPUs are ``cpus``."""
    from pycrash.kernel import system
    from pycrash.kernel.stackmem import cpu_regions, thread_size

    uts = system.utsname(prog)
    page = int(prog["PAGE_SIZE"].value_())
    irq = [(cpu, r) for cpu in cpus for r in cpu_regions(prog, cpu) if r.name == "IRQ stack"]
    common = dict(machine=uts.machine, memory_bytes=system.present_pages(prog) * page,
                  cpus=len(cpus), mhz=system.cpu_mhz(prog), hz=system.hz(prog), page_size=page,
                  stack_size=thread_size(prog),
                  irq_stack_size=irq[0][1].hi - irq[0][1].lo if irq else 0,
                  irq_stacks=[CpuStack(cpu, r.lo) for cpu, r in irq])
    if prog.platform is not None and prog.platform.arch.name == "AARCH64":
        from drgn.helpers.linux.percpu import per_cpu

        page_offset, modules, vmalloc, vmemmap = _arm64_layout(prog)
        overflow: list[CpuStack] = []
        size = 0
        try:
            stack = prog["overflow_stack"]
            size = sizeof(stack.type_)
            overflow = [CpuStack(cpu, per_cpu(stack, cpu).address_) for cpu in cpus]
        except (KeyError, LookupError, FaultError):
            pass
        return MachineInfo(kernel_virtual_base=page_offset, vmalloc_base=vmalloc,
                           vmemmap_base=vmemmap, start_map=None, modules_base=modules,
                           overflow_stack_size=size, overflow_stacks=overflow,
                           **common)  # type: ignore[arg-type]
    from pycrash.kernel.modules import modules as loaded_modules

    bases = [m.base for m in loaded_modules(prog, [])]  # a broken list: those before the break
    modules_base = X86_MODULES[0] if not bases or min(bases) >= X86_MODULES[0] \
        else X86_MODULES[1]
    return MachineInfo(kernel_virtual_base=prog["page_offset_base"].value_(),
                       vmalloc_base=prog["vmalloc_base"].value_(),
                       vmemmap_base=prog["vmemmap_base"].value_(),
                       start_map=X86_START_KERNEL_MAP, modules_base=modules_base,
                       exception_stacks=_x86_exception_stacks(prog, cpus),
                       **common)  # type: ignore[arg-type]
