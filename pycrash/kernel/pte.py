"""Decoding a page table entry as crash's ``pte`` does: its physical page and flag bits,
or, for an entry that is not present, the swap device and offset it names."""

from __future__ import annotations

from dataclasses import dataclass, field

from drgn import FaultError, Program

from pycrash.records import Hex, OptHex

#: x86-64 flag bits in crash's order (PSE only with PRESENT, PROTNONE only without it)
X86_FLAGS = (("PRESENT", 1 << 0), ("RW", 1 << 1), ("USER", 1 << 2), ("PWT", 1 << 3),
             ("PCD", 1 << 4), ("ACCESSED", 1 << 5), ("DIRTY", 1 << 6), ("PSE", 1 << 7),
             ("PROTNONE", 1 << 8), ("GLOBAL", 1 << 8), ("NX", 1 << 63))
X86_PRESENT, X86_PSE, X86_PROTNONE = 1, 1 << 7, 1 << 8
#: arm64 flag bits in crash's order (4.0 and later: PROT_NONE is bit 58, no FILE bit)
ARM64_FLAGS = (("VALID", 1 << 0), ("PROT_NONE", 1 << 58), ("USER", 1 << 6),
               ("RDONLY", 1 << 7), ("SHARED", 3 << 8), ("AF", 1 << 10), ("NG", 1 << 11),
               ("PXN", 1 << 53), ("UXN", 1 << 54), ("DIRTY", 1 << 55), ("SPECIAL", 1 << 56))
ARM64_PRESENT = (1 << 0) | (1 << 58)


@dataclass(frozen=True)
class PteDecode:
    """A PTE's value and what it means: present (or PROT_NONE): its physical page and
    flag names; otherwise the swap type and offset it encodes and the swap device's path
    (None where no swap area of that type exists). ``pte`` 0 maps nothing (no flags)."""

    pte: Hex
    present: bool
    physical: OptHex = None
    flags: list[str] = field(default_factory=list)
    swap_type: int | None = None
    swap_offset: int | None = None
    swap_device: str | None = None


def _arch(prog: Program) -> str:
    return "arm64" if prog.platform is not None and "AARCH64" in str(prog.platform.arch) \
        else "x86_64"


def _x86_phys_shift(prog: Program) -> int:
    """crash's __PHYSICAL_MASK_SHIFT: 52 with 5-level paging, else 46."""
    try:
        return 52 if prog["__pgtable_l5_enabled"].value_() else 46
    except (KeyError, FaultError):
        return 46


def swap_device(prog: Program, swap_type: int) -> str | None:
    """Return the path of swap area ``swap_type`` (``swap_info[type]->swap_file``), or None."""
    from drgn.helpers.linux.fs import d_path

    try:
        table = prog["swap_info"]
        length = table.type_.length or int(prog["nr_swapfiles"].value_())
        if swap_type >= length:
            return None
        si = table[swap_type]
        if not si or not si.swap_file:
            return None
        return d_path(si.swap_file.f_path.address_of_()).decode("utf-8", "replace")
    except (KeyError, LookupError, FaultError, ValueError):
        return None


def decode_pte(prog: Program, pte: int) -> PteDecode:
    """Return the :class:`PteDecode` of ``pte`` for the dump's architecture."""
    pte &= (1 << 64) - 1
    page = int(prog["PAGE_SIZE"].value_())
    if _arch(prog) == "arm64":
        shift = page.bit_length() - 1
        physical = pte & (((1 << (48 - shift)) - 1) << shift)
        present = bool(pte & ARM64_PRESENT)
        flags = [name for name, bit in ARM64_FLAGS if pte & bit]
        swap = ((pte >> 2) & 0x3F, (pte >> 8) & ((1 << 50) - 1))
    else:
        physical = pte & ((1 << _x86_phys_shift(prog)) - 1) & ~(page - 1)
        present = bool(pte & (X86_PRESENT | X86_PROTNONE))
        flags = [name for name, bit in X86_FLAGS
                 if pte & bit
                 and not (name == "PSE" and not pte & X86_PRESENT)
                 and not (name == "PROTNONE" and pte & X86_PRESENT)]
        # kernels with the L1TF mitigation (4.18.1 on) store the swap entry inverted
        swap = (pte >> 59, (((~pte) << 5) & ((1 << 64) - 1)) >> 14)
    if present or not pte:
        return PteDecode(pte, present, physical, flags if pte else [])
    return PteDecode(pte, False, None, [], swap[0], swap[1], swap_device(prog, swap[0]))

