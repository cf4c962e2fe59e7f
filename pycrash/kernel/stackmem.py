"""The kernel stacks a task's frames can lie on, each read from the dump once.

A task runs on its own stack (``task->stack``, THREAD_SIZE bytes); on x86-64
its CPU also has an IRQ stack (``hardirq_stack_ptr``) and the exception
stacks of ``cea_exception_stacks`` (NMI, double fault, debug, MCE, VC). Each
region carries the name crash prints when a trace leaves it
(``--- <IRQ stack> ---``, ``--- <NMI exception stack> ---``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drgn import FaultError, Object, Program, sizeof

#: cea_exception_stacks members and crash's names for them
EXCEPTION_STACKS = (
    ("DF_stack", "DOUBLEFAULT exception stack"),
    ("NMI_stack", "NMI exception stack"),
    ("DB_stack", "DEBUG exception stack"),
    ("MCE_stack", "MCE exception stack"),
    ("VC_stack", "VC exception stack"),
    ("VC2_stack", "VC2 exception stack"),
)
IRQ_STACK_SIZE = 16384


@dataclass(eq=False)
class StackRegion:
    """One stack ``[lo, hi)``; ``name`` is crash's marker name (None: the task's own)."""

    lo: int
    hi: int
    name: str | None
    #: the words read so far: ``[read_lo, hi)`` (a sleeping task uses only the top)
    data: bytes | None = None
    read_lo: int = 0


class StackMemory:
    """Word reads from a set of stack regions, each read from the dump on first use."""

    def __init__(self, prog: Program, regions: list[StackRegion]) -> None:
        self.prog = prog
        self.regions = regions
        #: when a list: every ``(address, value)`` :meth:`word` returned, in order (what an
        #: unwind's decisions rest on; see :mod:`pycrash.kernel.stack`'s replay memo)
        self.log: list[tuple[int, int]] | None = None

    def region(self, addr: int) -> StackRegion | None:
        """Return the region holding ``addr``, or None (not on any known stack)."""
        for r in self.regions:
            if r.lo <= addr < r.hi:
                return r
        return None

    def _read(self, lo: int, hi: int) -> bytes:
        """Return ``[lo, hi)`` of the dump; an unreadable page reads as zeros."""
        try:
            return self.prog.read(lo, hi - lo)
        except FaultError:
            parts = []
            at = lo
            while at < hi:  # page by page, so one missing page costs only itself
                end = min((at | 4095) + 1, hi)
                try:
                    parts.append(self.prog.read(at, end - at))
                except FaultError:
                    parts.append(bytes(end - at))
                at = end
            return b"".join(parts)

    def data(self, r: StackRegion, lo: int | None = None) -> bytes:
        """Return the bytes of a region from ``read_lo`` up, reading from the page of
        ``lo`` (default: the whole region) when that is not read yet."""
        want = r.lo if lo is None else max(r.lo, lo & ~4095)
        if r.data is None:
            r.data, r.read_lo = self._read(want, r.hi), want
        elif want < r.read_lo:
            r.data, r.read_lo = self._read(want, r.read_lo) + r.data, want
        return r.data

    def word(self, addr: int) -> int | None:
        """Return the 8-byte word at ``addr`` on a known stack, or None."""
        r = self.region(addr)
        if r is None or addr + 8 > r.hi or addr & 7:
            return None
        data = self.data(r, addr) if r.data is None or addr < r.read_lo else r.data
        value = int(struct.unpack_from("<Q", data, addr - r.read_lo)[0])
        if self.log is not None:
            self.log.append((addr, value))
        return value

    def peek(self, addr: int) -> int | None:
        """Return the word at ``addr`` like :meth:`word`, without logging it (a saved
        frame pointer, which matters only once the unwinder uses it)."""
        log, self.log = self.log, None
        try:
            return self.word(addr)
        finally:
            self.log = log

    def words(self, r: StackRegion) -> list[tuple[int, int]]:
        """Return ``(address, value)`` of every word of a region, lowest first."""
        data = self.data(r)
        return [(r.read_lo + 8 * i, v) for i, (v,) in enumerate(struct.iter_unpack("<Q", data))]


def thread_size(prog: Program) -> int:
    """Return the size of a task's kernel stack (THREAD_SIZE, else four pages)."""
    from pycrash.kernel.progcache import per_program

    def make() -> int:
        try:
            return int(prog["THREAD_SIZE"].value_())
        except KeyError:
            return 4 * int(prog["PAGE_SIZE"].value_())

    return per_program(prog, "pycrash_thread_size", make)


def task_region(task: Object) -> StackRegion:
    """Return the task's own kernel stack."""
    from pycrash.kernel.tasks import stack_bounds

    return StackRegion(*stack_bounds(task), None)


def cpu_regions(prog: Program, cpu: int) -> list[StackRegion]:
    """Return a CPU's IRQ stack and (x86-64) exception stacks, those the kernel has
    (fresh regions, nothing read yet)."""
    from pycrash.kernel.progcache import per_program

    found = per_program(prog, f"pycrash_cpu_stacks {cpu}", lambda: _cpu_regions(prog, cpu))
    return [StackRegion(r.lo, r.hi, r.name) for r in found]


def _cpu_regions(prog: Program, cpu: int) -> list[StackRegion]:
    from drgn.helpers.linux.percpu import per_cpu

    out: list[StackRegion] = []
    if prog.platform is not None and prog.platform.arch.name == "AARCH64":
        try:  # arm64: irq_stack_ptr is the IRQ stack's base, THREAD_SIZE long
            irq = per_cpu(prog["irq_stack_ptr"], cpu).value_()
            if irq:
                out.append(StackRegion(irq, irq + thread_size(prog), "IRQ stack"))
        except (KeyError, LookupError, FaultError):
            pass
        return out
    try:
        try:
            top = per_cpu(prog["hardirq_stack_ptr"], cpu).value_()
        except KeyError:  # Linux 6.2 to 6.14 keep it in struct pcpu_hot
            top = per_cpu(prog["pcpu_hot"], cpu).hardirq_stack_ptr.value_()
        if top:  # the top itself (5.10) or the last word below it (6.1 on): round up
            top = (top + 4095) & ~4095
            out.append(StackRegion(top - IRQ_STACK_SIZE, top, "IRQ stack"))
    except (KeyError, LookupError, FaultError, AttributeError):
        pass
    try:
        stacks = per_cpu(prog["cea_exception_stacks"], cpu)
        if stacks.value_():
            for member, name in EXCEPTION_STACKS:
                try:
                    m = stacks.member_(member)
                except LookupError:
                    continue
                lo = m.address_
                out.append(StackRegion(lo, lo + sizeof(m), name))
    except (KeyError, LookupError, FaultError):
        pass
    return out
