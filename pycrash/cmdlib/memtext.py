"""crash's text for memory records several commands print: page descriptors (kmem -p, vtop,
kmem ADDRESS), page table entries (pte, vtop), and a task's mm and memory areas (vm,
vtop)."""

from __future__ import annotations

from pycrash.cmdlib.render import PAGE_HEADER, center, page_line
from pycrash.kernel.pte import PteDecode

__all__ = ["PAGE_HEADER", "UVADDR_WIDTH", "VMA_HEADER", "mm_lines", "page_line", "pte_lines",
           "vma_line"]

#: vm's header of a memory area (crash's VMA, START and END centred in 16 and 10)
VMA_HEADER = "      VMA           START       END     FLAGS FILE"
#: the width crash gives a user address (UVADDR_PRLEN on x86-64)
UVADDR_WIDTH = 10


def pte_lines(d: PteDecode) -> list[str]:
    """crash's two lines for one PTE: the header sized to the values, then the values."""
    pte = f"{d.pte:x}"
    w1 = max(len(pte), 3)
    if d.physical is None:
        device, offset = d.swap_device or "", str(d.swap_offset)
        w2, w3 = max(len(device), 4), max(len(offset), 6)
        return [f"{center('PTE', w1)}  {center('SWAP', w2)}  {center('OFFSET', w3)}",
                f"{center(pte, w1, True)}  {center(device, w2, True)}  "
                f"{center(offset, w3, True)}"]
    phys = f"{d.physical:x}"
    w2 = max(len(phys), 8)
    flags = "|".join(d.flags) if d.pte else "no mapping"
    return [f"{center('PTE', w1)}  {center('PHYSICAL', w2)}  FLAGS",
            f"{center(pte, w1, True)}  {center(phys, w2, True)}  ({flags})"]


def vma_line(vma: int, start: int, end: int, flags: int, file: str) -> str:
    """Return crash's line of one memory area: the vm_area_struct, its start and end
    (right-aligned in crash's user-address width), its flags and the file it maps."""
    return (f"{vma:016x} {start:>{UVADDR_WIDTH}x} {end:>{UVADDR_WIDTH}x} {flags:>6x} "
            f"{file}")


def mm_lines(mm: int, pgd: int, rss_kb: int, total_vm_kb: int) -> list[str]:
    """Return crash's two lines of a task's mm (its PRINT_VM_DATA): the header, then the
    mm_struct, page directory, resident and total size, centred as crash centres them
    (a kernel thread's zeros too)."""
    return ["       MM               PGD          RSS    TOTAL_VM",
            f"{center(f'{mm:x}', 16)}  {center(f'{pgd:x}', 16)}  "
            f"{center(f'{rss_kb}k', 6)}  {center(f'{total_vm_kb}k', 8)}"]
