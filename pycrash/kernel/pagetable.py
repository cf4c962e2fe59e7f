"""A user address range's pages through its page tables: which are mapped (to what
physical address), which hold a swap entry, and which have nothing (``vm -p/-P/-R``).

x86-64's tables (4 or 5 levels, 1 GiB and 2 MiB pages) are walked here, a table page
read once for all the pages under it, so that an empty upper-level entry answers for
the whole range below it at once; other architectures ask drgn page by page (a page it
cannot translate counts as having nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from drgn import FaultError, Object, Program

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
