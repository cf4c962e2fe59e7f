"""Page tables: a user address range's pages through them, which are mapped (to what
physical address), which hold a swap entry, and which have nothing (``vm -p/-P/-R``);
and one address's walk as crash's ``vtop`` shows it (each level's entry, the page
mapped and its size), with the kernel's linear translations (the direct map and the
kernel image), which crash uses for any kernel address outside the vmalloc, vmemmap and
module areas.

x86-64's tables (4 or 5 levels, 1 GiB and 2 MiB pages) are walked here, a table page
read once for all the pages under it, so that an empty upper-level entry answers for
the whole range below it at once; other architectures ask drgn page by page (a page it
cannot translate counts as having nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from drgn import FaultError, Object, Program

from pycrash.records import Hex, OptHex

#: x86-64 entry bits
_PRESENT, _PSE, _PROTNONE = 1, 1 << 7, 1 << 8
_PFN_MASK = ((1 << 52) - 1) & ~0xFFF


class UserPage(NamedTuple):
    """One page of a user range: ``physical`` when mapped, else ``pte`` (a swap entry's
    raw value, 0 for none)."""

    address: int
    physical: int | None
    pte: int


def _levels(prog: Program) -> int:
    for name in ("__pgtable_l5_enabled", "pgtable_l5_enabled"):
        try:
            return 5 if prog[name].value_() else 4
        except (KeyError, LookupError, FaultError):
            continue
    return 4


def user_pages(mm: Object, start: int, end: int) -> Iterator[UserPage]:
    """Yield a :class:`UserPage` for each page from ``start`` to ``end`` of ``mm``'s
    address space, in order."""
    prog = mm.prog_
    page = int(prog["PAGE_SIZE"].value_())
    arch = prog.platform.arch.name if prog.platform is not None else ""
    if arch != "X86_64":
        from drgn.helpers.linux.mm import follow_phys

        for addr in range(start, end, page):
            try:
                yield UserPage(addr, follow_phys(mm, addr).value_(), 0)
            except FaultError:
                yield UserPage(addr, None, 0)
        return
    levels = _levels(prog)
    shifts = [12 + 9 * i for i in range(levels - 1, -1, -1)]  # the PGD's first
    tables: dict[int, bytes] = {}

    def table(phys: int) -> bytes | None:
        found = tables.get(phys)
        if found is None:
            try:
                found = prog.read(phys, 4096, True)
            except FaultError:
                return None
            if len(tables) > 64:
                tables.clear()
            tables[phys] = found
        return found

    from drgn.helpers.linux.mm import virt_to_phys

    root = virt_to_phys(mm.pgd).value_()
    addr = start
    while addr < end:
        phys = root
        for level, shift in enumerate(shifts):
            span = 1 << shift
            data = table(phys)
            index = (addr >> shift) & 511
            entry = int.from_bytes(data[index * 8 : index * 8 + 8], "little") if data else 0
            last = level == len(shifts) - 1
            if last:
                present = entry & (_PRESENT | _PROTNONE)
                yield UserPage(addr, (entry & _PFN_MASK) if present else None,
                               0 if present else entry)
                addr += page
                break
            if not entry & _PRESENT:  # nothing below: every page to the span's end
                stop = min(end, (addr | (span - 1)) + 1)
                while addr < stop:
                    yield UserPage(addr, None, 0)
                    addr += page
                break
            if entry & _PSE:  # a 1 GiB or 2 MiB page
                base = entry & _PFN_MASK & ~(span - 1)
                stop = min(end, (addr | (span - 1)) + 1)
                while addr < stop:
                    yield UserPage(addr, base + (addr & (span - 1)), 0)
                    addr += page
                break
            phys = entry & _PFN_MASK


#: the start of the kernel image's mapping (__START_KERNEL_map)
START_KERNEL_MAP = 0xFFFFFFFF80000000
#: the end of the kernel image's mapping, where the module area starts (MODULES_VADDR)
MODULES_VADDR = 0xFFFFFFFFC0000000
#: the end of the module area (MODULES_END, where the fixmap starts)
MODULES_END = 0xFFFFFFFFFF000000


@dataclass(frozen=True)
class TableEntry:
    """One entry of a page-table walk: its level (PGD, P4D, PUD, PMD or PTE), the physical
    address it is read from, and its value."""

    level: str
    address: Hex
    value: Hex


@dataclass(frozen=True)
class TableWalk:
    """A walk from a page global directory down to the entry mapping an address: the
    directory's virtual address, the entries read (the first a PGD entry), the physical
    address found (None when an entry is not present), the size of the page mapped, and
    the last entry read (the leaf, or the first one not present)."""

    directory: Hex
    entries: list[TableEntry] = field(default_factory=list)
    physical: OptHex = None
    page_size: int = 4096
    leaf: Hex = 0


def is_x86_64(prog: Program) -> bool:
    """Return whether the dump is of an x86-64 kernel."""
    return prog.platform is not None and "X86_64" in str(prog.platform.arch)


def _five_level(prog: Program) -> bool:
    try:
        return bool(prog["__pgtable_l5_enabled"].value_())
    except (KeyError, LookupError, FaultError):
        return False


def _sme_mask(prog: Program) -> int:
    try:
        return int(prog["sme_me_mask"].value_())
    except (KeyError, LookupError, FaultError):
        return 0


def kernel_pgd(prog: Program) -> int:
    """Return the virtual address of the kernel's page global directory (init_mm.pgd:
    ``init_top_pgt``)."""
    return int(prog["init_mm"].pgd.value_())


def phys_base(prog: Program) -> int:
    """Return ``phys_base``, the physical address the kernel image was loaded at less
    where it was linked for (a variable of head_64.S, so often only a symbol)."""
    try:
        return int(prog["phys_base"].value_())
    except (KeyError, LookupError):
        return prog.read_u64(prog.symbol("phys_base").address)


def linear_phys(prog: Program, vaddr: int) -> int | None:
    """Return the physical address of a kernel address in the direct map
    (``page_offset_base`` up to ``vmalloc_base``) or the kernel image's mapping
    (``__START_KERNEL_map`` + ``phys_base``), computed as the kernel's ``__pa()`` does,
    without reading a page table; None for any other address."""
    try:
        page_offset = int(prog["page_offset_base"].value_())
        vmalloc = int(prog["vmalloc_base"].value_())
        base = phys_base(prog)
    except (KeyError, LookupError, FaultError):
        return None
    if START_KERNEL_MAP <= vaddr < MODULES_VADDR:
        return (vaddr - START_KERNEL_MAP + base) & ((1 << 64) - 1)
    if page_offset <= vaddr < vmalloc:
        return vaddr - page_offset
    return None


def is_vmalloc_address(prog: Program, vaddr: int) -> bool:
    """Return whether a kernel address is one crash maps only through the page tables:
    from ``vmalloc_base`` up (vmalloc, vmemmap, modules, the CPU entry area), the kernel
    image's mapping excepted (x86-64; arm64: from ``VMALLOC_START`` (modules) up to the
    linear map)."""
    try:
        vmalloc = int(prog["vmalloc_base"].value_())
    except (KeyError, LookupError, FaultError):
        return False
    return vaddr >= vmalloc and not START_KERNEL_MAP <= vaddr < MODULES_VADDR


def walk(prog: Program, pgd: int, vaddr: int) -> TableWalk:
    """Return the :class:`TableWalk` of ``vaddr`` through the x86-64 page tables whose
    top-level directory is at kernel virtual address ``pgd`` (an mm's ``pgd``): 4 levels,
    or 5 with 5-level paging; a large PUD or PMD entry maps a 1 GiB or 2 MiB page. A
    PTE that is not present (a swap entry) ends the walk with ``physical`` None."""
    page_offset = int(prog["page_offset_base"].value_())
    mask = ((1 << 52) - 1) & ~0xFFF & ~_sme_mask(prog)
    top = linear_phys(prog, pgd)
    table = top if top is not None else pgd - page_offset
    levels = ["PGD", "P4D", "PUD", "PMD", "PTE"] if _five_level(prog) else \
        ["PGD", "PUD", "PMD", "PTE"]
    shifts = {"PGD": 48 if len(levels) == 5 else 39, "P4D": 39, "PUD": 30, "PMD": 21,
              "PTE": 12}
    out = TableWalk(pgd)
    for level in levels:
        entry_at = table + ((vaddr >> shifts[level]) & 511) * 8
        value = int.from_bytes(prog.read(entry_at, 8, True), "little") & ~_sme_mask(prog)
        out.entries.append(TableEntry(level, entry_at, value))
        out = TableWalk(pgd, out.entries, None, 4096, value)
        present = value & (_PRESENT | (_PROTNONE if level in ("PMD", "PTE") else 0))
        if not present:
            return out
        if level in ("PUD", "PMD") and value & _PSE:
            size = 1 << shifts[level]
            phys = (value & mask & ~(size - 1)) + (vaddr & (size - 1))
            return TableWalk(pgd, out.entries, phys, size, value)
        if level == "PTE":
            return TableWalk(pgd, out.entries, (value & mask) + (vaddr & 0xFFF), 4096, value)
        table = value & mask
    return out


def user_walk(task: Object, vaddr: int) -> TableWalk:
    """Return the :class:`TableWalk` of a user address through a task's page tables
    (``task->mm->pgd``)."""
    return walk(task.prog_, int(task.mm.pgd.value_()), vaddr)
