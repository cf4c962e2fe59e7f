"""Find the kernel in memory that comes without VMCOREINFO, by the vmlinux's banner.

A QEMU dump of a guest run without ``-device vmcoreinfo`` (or a RAM image) has no
VMCOREINFO note; pycrash first looks for the kernel's own VMCOREINFO text in its
memory (:func:`pycrash.memory.physmem.scan_vmcoreinfo`). Where that text is not
there (a kernel without CONFIG_CRASH_CORE, its page overwritten), the kernel is
found by the vmlinux's ``linux_banner``: its bytes (up to the NUL) are looked for
in physical memory, and the physical address P of the copy the kernel image holds
gives where the image was loaded. Then:

* x86-64: P = ``linux_banner`` + KASLR offset - ``__START_KERNEL_map`` +
  ``phys_base``. The two are told apart by the page tables of a vCPU's CR3 (QEMU's
  "QEMU" notes): the 2 MiB-aligned offset under 1 GiB under which they map the banner
  to P (the one the kernel's own ``phys_base`` variable, read at its place in the
  image, gives is tried first); without notes, by that variable alone. Either way
  the variable must agree.
* arm64: the kernel's ``kimage_voffset`` variable (virtual minus physical address
  of the image), read in the image, gives the KASLR offset; ``kimage_vaddr`` checks
  it. QEMU's arm64 notes hold no TTBR1, so there is no page-table split here.

The VMCOREINFO drgn needs is then written from these (:func:`synthesize`): the
release from the banner in memory (which is the vmlinux's, byte for byte), the
build id from the kernel's own ``.notes`` in memory (so that a vmlinux of another
build of the same release is still refused), the page size, the KASLR offset,
``swapper_pg_dir``, x86-64's ``phys_base`` and 5-level paging, arm64's
``kimage_voffset`` and address width. Last, the banner is read back through the
kernel's page tables by virtual address (:func:`check_program`).

Everything that fails raises :class:`LocateError`, one line saying what is missing.
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from pycrash.errors import DumpError
from pycrash.memory import elffile, elfinfo
from pycrash.memory.source import FileSource

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.physmem import Extent

#: x86-64's kernel text mapping (``__START_KERNEL_map``)
START_KERNEL_MAP = 0xFFFFFFFF80000000
#: x86-64's KASLR: the offset is a multiple of 2 MiB (CONFIG_PHYSICAL_ALIGN) below 1 GiB
#: (KERNEL_IMAGE_SIZE); phys_base is 2 MiB-aligned too
KASLR_ALIGN, KASLR_LIMIT = 0x200000, 1 << 30
MASK64 = (1 << 64) - 1
#: arm64's image is placed at 64 KiB multiples at least (its segment alignment)
ARM64_ALIGN = 0x10000
#: offsets in QEMU's x86 ``QEMUCPUState`` ("QEMU" note): version, size, 18 registers,
#: 10 segments of 24 bytes, then cr[0..4]
QEMU_CR3, QEMU_CR4 = 416, 424
CR4_LA57 = 1 << 12
#: a page-table entry's physical address bits, and its present and huge-page bits
PTE_ADDR, PTE_PRESENT, PTE_PSE = 0x000FFFFFFFFFF000, 0x1, 0x80
#: arm64's Image header ``flags`` (at byte 24 of ``_text``), bits 1-2: the page size
ARM64_PAGE_SIZES = {1: 4096, 2: 16384, 3: 65536}
#: the architectures by drgn's names, as messages say them
ARCH_NAMES = {"X86_64": "an x86-64", "AARCH64": "an arm64"}
_ANY_BANNER = re.compile(rb"Linux version (\S+) \([^\0\n]{0,400}")
#: what each architecture reads of the vmlinux's symbols (the optional ones may be absent)
X86_SYMBOLS = ("linux_banner", "phys_base", "init_top_pgt", "swapper_pg_dir",
               "__pgtable_l5_enabled", "_stext")
ARM64_SYMBOLS = ("linux_banner", "kimage_voffset", "kimage_vaddr", "swapper_pg_dir", "_text",
                 "_stext", "vabits_actual")


class LocateError(DumpError):
    """The kernel could not be found in memory; the message says what is missing."""


class CpuState(NamedTuple):
    """What QEMU saved of an x86 vCPU's control registers: CR3 (the page table) and CR4."""

    cr3: int
    cr4: int


class Found(NamedTuple):
    """Where the kernel is: what a VMCOREINFO would have said."""

    machine: str  # drgn's architecture name: "X86_64", "AARCH64"
    release: str
    build_id: bytes
    page_size: int
    kaslr: int  # KERNELOFFSET: the image's virtual address minus its link address
    swapper_pg_dir: int  # the kernel page table's virtual address
    stext: int  # _stext's virtual address
    phys_base: int = 0  # x86-64, as a u64 (it may be negative)
    l5: bool = False  # x86-64's 5-level paging
    kimage_voffset: int = 0  # arm64
    va_bits: int = 48  # arm64
    banner: bytes = b""  # linux_banner's bytes, and its virtual address
    banner_vaddr: int = 0


def cpu_states(notes: Sequence[elffile.Note]) -> list[CpuState]:
    """Return each x86 vCPU's CR3 and CR4 from QEMU's "QEMU" notes (none on arm64)."""
    out = []
    for note in notes:
        if note.name == b"QEMU" and len(note.desc) >= QEMU_CR4 + 8:
            cr3, cr4 = struct.unpack_from("<QQ", note.desc, QEMU_CR3)
            out.append(CpuState(cr3, cr4))
    return out


class PhysMem:
    """Physical memory as the extents serve it, read by physical address."""

    def __init__(self, extents: Sequence[Extent]) -> None:
        self.extents = sorted(extents, key=lambda e: e.paddr)
        self._starts = [e.paddr for e in self.extents]

    def read(self, paddr: int, size: int) -> bytes | None:
        """Return ``size`` bytes at ``paddr``; None where memory has a hole."""
        i = bisect.bisect_right(self._starts, paddr) - 1
        if i < 0 or paddr < 0:
            return None
        ext = self.extents[i]
        if paddr + size > ext.paddr + ext.size:
            return None
        data = ext.source.pread(ext.offset + paddr - ext.paddr, size)
        return data if len(data) == size else None

    def u64(self, paddr: int) -> int | None:
        """Return the little-endian 64-bit word at ``paddr``, or None."""
        data = self.read(paddr, 8)
        return int.from_bytes(data, "little") if data is not None else None


class Vmlinux:
    """What is read of the vmlinux: its sections, the symbols asked for, its banner."""

    def __init__(self, path: str, names: Sequence[str]) -> None:
        self.path = path
        self.sections = elffile.sections(path)
        self.symbols = elfinfo.symbols(path, names)

    def need(self, name: str) -> int:
        """Return a symbol's link-time address; :class:`LocateError` when it has none."""
        if name not in self.symbols:
            raise LocateError(f"{self.path} has no symbol {name}")
        return self.symbols[name]

    def read(self, address: int, size: int) -> bytes:
        """Return the vmlinux's bytes at a link-time address."""
        data = elfinfo.linked_bytes(self.path, self.sections, address, size)
        if data is None:
            raise LocateError(f"{self.path}: no contents at {address:#x}")
        return data

    def banner(self) -> bytes:
        """Return ``linux_banner``'s bytes with its NUL (``Linux version REL (...)\\n\\0``)."""
        raw = self.read(self.need("linux_banner"), 512)
        end = raw.find(b"\0")
        if not raw.startswith(b"Linux version ") or end < 0:
            raise LocateError(f"{self.path}: linux_banner does not hold the kernel's banner")
        return raw[: end + 1]


def release_of(banner: bytes) -> str:
    """Return the release in a banner (``6.1.0-56-cloud-amd64``)."""
    return banner.split(b" ", 3)[2].decode("ascii", "replace")


def _walk(mem: PhysMem, table: int, vaddr: int, levels: int) -> int | None:
    """Return the physical address an x86-64 page table at ``table`` maps ``vaddr`` to."""
    for level in range(levels, 0, -1):
        shift = 12 + 9 * (level - 1)
        entry = mem.u64(table + 8 * ((vaddr >> shift) & 0x1FF))
        if entry is None or not entry & PTE_PRESENT:
            return None
        if level == 1 or (level <= 3 and entry & PTE_PSE):
            mask = (1 << shift) - 1
            return (entry & PTE_ADDR & ~mask) | (vaddr & mask)
        table = entry & PTE_ADDR
    return None


def _kaslr_from_page_tables(mem: PhysMem, cpus: Sequence[CpuState], banner_link: int,
                            paddr: int, guess: int | None) -> int | None:
    """Return the KASLR offset under which some vCPU's page tables map the banner's
    link address to ``paddr`` (its kernel page table, and the other half of a PTI pair):
    ``guess`` first, then every possible one."""
    offsets = list(range(0, KASLR_LIMIT, KASLR_ALIGN))
    if guess is not None and guess in offsets:
        offsets.insert(0, guess)
    for cpu in cpus:
        levels = 5 if cpu.cr4 & CR4_LA57 else 4
        base = cpu.cr3 & PTE_ADDR
        for table in dict.fromkeys((base, base & ~0x1000)):
            for kaslr in offsets:
                if _walk(mem, table, banner_link + kaslr, levels) == paddr:
                    return kaslr
    return None


def _x86_64(mem: PhysMem, vm: Vmlinux, paddr: int, cpus: Sequence[CpuState],
            ) -> tuple[int, int, bool] | None:
    """Return the KASLR offset, phys_base and 5-level paging of the kernel whose banner
    is at ``paddr``; None when that copy is not the kernel image's."""
    banner = vm.need("linux_banner")
    if (paddr - banner) % KASLR_ALIGN:
        return None
    at = paddr - banner  # the image's physical address minus its link address
    in_memory = mem.u64(at + vm.need("phys_base"))
    guess = (None if in_memory is None
             else (paddr - (banner - START_KERNEL_MAP) - in_memory) & MASK64)
    kaslr = _kaslr_from_page_tables(mem, cpus, banner, paddr, guess) if cpus else None
    if kaslr is None:  # no page tables, or none maps it: the variable alone
        if guess is None:
            return None
        kaslr = guess
    # phys_base is negative (as a u64, wrapped) where the image sits lower in physical
    # memory than its offset in the text mapping
    phys_base = (paddr - (banner + kaslr - START_KERNEL_MAP)) & MASK64
    if (not 0 <= kaslr < KASLR_LIMIT or kaslr % KASLR_ALIGN or phys_base % KASLR_ALIGN
            or in_memory != phys_base):
        return None
    l5 = False
    if "__pgtable_l5_enabled" in vm.symbols:
        flag = mem.read(at + vm.symbols["__pgtable_l5_enabled"], 4)
        l5 = flag is not None and int.from_bytes(flag, "little") != 0
    elif cpus:
        l5 = bool(cpus[0].cr4 & CR4_LA57)
    return kaslr, phys_base, l5


def _arm64(mem: PhysMem, vm: Vmlinux, paddr: int) -> tuple[int, int, int] | None:
    """Return the KASLR offset, kimage_voffset and virtual address width of the kernel
    whose banner is at ``paddr``; None when that copy is not the kernel image's."""
    banner = vm.need("linux_banner")
    if (paddr - banner) % ARM64_ALIGN:
        return None
    at = paddr - banner
    voffset = mem.u64(at + vm.need("kimage_voffset"))
    if voffset is None:
        return None
    kaslr = (paddr + voffset - banner) & MASK64
    text = vm.need("_text")
    if "kimage_vaddr" in vm.symbols and mem.u64(at + vm.symbols["kimage_vaddr"]) != (
            text + kaslr) & MASK64:
        return None
    if kaslr % ARM64_ALIGN or at + text < 0:
        return None
    if "vabits_actual" in vm.symbols:  # a 52-bit kernel: the width it chose at boot
        va_bits = mem.u64(at + vm.symbols["vabits_actual"]) or 0
    else:  # VA_BITS: the kernel is linked at the start of the top half (_PAGE_END)
        va_bits = (~text & MASK64).bit_length() + 1
    if not 36 <= va_bits <= 52:
        return None
    return kaslr, voffset, va_bits


def _arm64_page_size(vm: Vmlinux) -> int:
    """Return the arm64 kernel's page size, from its Image header's flags."""
    flags = int.from_bytes(vm.read(vm.need("_text") + 24, 8), "little")
    return ARM64_PAGE_SIZES.get((flags >> 1) & 3, 4096)


def locate(extents: Sequence[Extent], banners: Sequence[int], vmlinux: str, machine: str,
           cpus: Sequence[CpuState] = ()) -> Found:
    """Return where the kernel of ``vmlinux`` is in physical memory, among the banners
    at ``banners`` (the physical addresses of every ``Linux version `` in it, found by
    :func:`pycrash.memory.physmem.scan_vmcoreinfo`); ``machine`` is drgn's name of the
    dump's architecture, or "" when the dump does not say. :class:`LocateError` names
    what is missing."""
    with FileSource(vmlinux) as src:
        head = elffile.header(src.pread(0, elffile.EHDR_SIZE))
    arch = elffile.ARCHES.get(head.machine, "") if head is not None else ""
    if not arch:
        raise LocateError(f"{vmlinux} is not a kernel pycrash reads (x86-64, arm64)")
    if machine and machine != arch:
        raise LocateError(f"{vmlinux} is {ARCH_NAMES[arch]} kernel, the dump is of "
                          f"{ARCH_NAMES.get(machine, machine)} machine")
    vm = Vmlinux(vmlinux, X86_SYMBOLS if arch == "X86_64" else ARM64_SYMBOLS)
    banner = vm.banner()
    mem = PhysMem(extents)
    exact = [p for p in banners if mem.read(p, len(banner)) == banner]
    for paddr in exact:
        if arch == "X86_64":
            x86 = _x86_64(mem, vm, paddr, cpus)
            if x86 is not None:
                kaslr, phys_base, l5 = x86
                return _found(mem, vm, arch, banner, paddr, kaslr, 4096,
                              phys_base=phys_base, l5=l5)
        else:
            arm = _arm64(mem, vm, paddr)
            if arm is not None:
                kaslr, voffset, va_bits = arm
                return _found(mem, vm, arch, banner, paddr, kaslr, _arm64_page_size(vm),
                              kimage_voffset=voffset, va_bits=va_bits)
    raise _not_found(mem, vm, banner, banners, bool(exact))


def _found(mem: PhysMem, vm: Vmlinux, arch: str, banner: bytes, paddr: int, kaslr: int,
           page_size: int, **arch_facts: int | bool) -> Found:
    """Return the :class:`Found` of a located kernel: its build id read from memory."""
    swapper = vm.symbols.get("swapper_pg_dir") or vm.need("init_top_pgt")
    build_id = b""
    where = elfinfo.build_id_at(vm.path, vm.sections)
    if where is not None:
        build_id = mem.read(paddr - vm.need("linux_banner") + where[0], len(where[1])) or b""
    stext = vm.symbols.get("_stext", vm.symbols.get("_text", 0))
    return Found(arch, release_of(banner), build_id, page_size, kaslr,
                 (swapper + kaslr) & MASK64, (stext + kaslr) & MASK64,
                 banner=banner, banner_vaddr=(vm.need("linux_banner") + kaslr) & MASK64,
                 **arch_facts)  # type: ignore[arg-type]


def _not_found(mem: PhysMem, vm: Vmlinux, banner: bytes, banners: Sequence[int],
               exact: bool) -> LocateError:
    """Return the error for memory without this vmlinux's kernel (``exact``: its banner
    is there, but no kernel image around it): naming the release, or the build, that
    the memory's banners name."""
    mine = release_of(banner)
    if exact:
        return LocateError(f"the banner of {vm.path} (release {mine}) is in its memory, but "
                           "no kernel image around it (phys_base, KASLR offset) fits")
    texts = [m.group(0) for m in (_ANY_BANNER.match(mem.read(p, 512) or b"") for p in banners)
             if m]
    if not texts:
        return LocateError(f"no Linux banner in its memory either (looked for {vm.path}'s, "
                           f"release {mine}): not a Linux kernel's memory, or not all of it")
    theirs = [release_of(t) for t in texts if release_of(t) != mine]
    if theirs:
        return LocateError(f"its memory holds the banner of release {theirs[0]}, not of "
                           f"{vm.path} (release {mine})")
    other = max(texts, key=len).decode("ascii", "replace")
    return LocateError(f"its memory holds another build of release {mine} "
                       f"({other!r}), not {vm.path}'s")


def synthesize(found: Found) -> bytes:
    """Return the VMCOREINFO text the kernel would have written, as drgn reads it."""
    lines = [f"OSRELEASE={found.release}",
             f"PAGESIZE={found.page_size}",
             f"SYMBOL(swapper_pg_dir)={found.swapper_pg_dir:x}",
             f"SYMBOL(_stext)={found.stext:x}"]
    if found.build_id:
        lines.append(f"BUILD-ID={found.build_id.hex()}")
    if found.machine == "X86_64":
        signed = found.phys_base - (1 << 64) if found.phys_base >> 63 else found.phys_base
        lines += [f"NUMBER(phys_base)={signed}",  # the kernel's "%ld"
                  f"NUMBER(pgtable_l5_enabled)={int(found.l5)}"]
    else:
        lines += [f"NUMBER(VA_BITS)={found.va_bits}",
                  f"NUMBER(kimage_voffset)={found.kimage_voffset:#x}",
                  f"NUMBER(TCR_EL1_T1SZ)={64 - found.va_bits:#x}",
                  f"NUMBER(KERNELPACMASK)={MASK64 & ~((1 << found.va_bits) - 1):#x}"]
    lines.append(f"KERNELOFFSET={found.kaslr:x}")
    return ("\n".join(lines) + "\n").encode()


def check_program(prog: drgn.Program, found: Found) -> None:
    """Check that the kernel's page tables map its banner where it was found: the
    banner read by virtual address through drgn must be the vmlinux's."""
    try:
        got = prog.read(found.banner_vaddr, len(found.banner))
    except Exception as exc:
        raise LocateError(f"the kernel's page tables do not map its banner: {exc}") from None
    if got != found.banner:
        raise LocateError("the kernel's page tables map another text where its banner "
                          "should be")
