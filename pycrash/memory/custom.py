"""Make drgn Programs: over a dump drgn opens itself, or over memory pycrash serves.

drgn opens ELF vmcores and kdump files natively. For everything else (a
flattened stream, a split set, /dev/oldmem, raw images, LiME), pycrash
registers physical memory segments whose bytes it serves from Python, and
tells drgn the kernel's VMCOREINFO so that it can walk the page tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pycrash.errors import DumpError

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.physmem import Extent

ReadFn = Callable[[int, int, int, bool], bytes]


def core_dump_program(path: str) -> drgn.Program:
    """Return a Program over an ELF vmcore or kdump file that drgn reads itself."""
    import drgn

    prog = drgn.Program()
    try:
        prog.set_core_dump(path)
    except Exception as exc:
        raise DumpError(f"{path}: cannot open dump: {exc}") from None
    return prog


def new_program(machine: str | int = "x86_64") -> drgn.Program:
    """Return a Program of the dump's architecture (``utsname.machine`` or an ELF
    ``e_machine``) with no memory yet (segments and VMCOREINFO come next); one it does
    not support is refused in one line."""
    import drgn

    from pycrash.memory.elffile import ARCHES

    arch = ARCHES.get(machine.strip() if isinstance(machine, str) else machine)
    if arch is None:
        raise DumpError(f"a dump of a {machine} machine: pycrash reads x86-64 and arm64 "
                        "(aarch64) dumps")
    flags = drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN
    return drgn.Program(drgn.Platform(getattr(drgn.Architecture, arch), flags))


def machine_of_vmcoreinfo(info: bytes) -> str:
    """Return the architecture a VMCOREINFO text was written on (arm64's has its
    kimage_voffset and VA_BITS; x86-64's neither)."""
    return "aarch64" if b"NUMBER(kimage_voffset)=" in info else "x86_64"


def finish(prog: drgn.Program, vmcoreinfo: bytes) -> None:
    """Tell drgn the kernel's VMCOREINFO, after the memory segments are in place."""
    try:
        prog.set_linux_kernel_custom(vmcoreinfo, False)
    except Exception as exc:
        raise DumpError(f"cannot use this dump's VMCOREINFO: {exc}") from None


#: the top of the physical address space drgn's segments may cover (64 bits)
ADDRESS_LIMIT = 1 << 64


def add_extents(prog: drgn.Program, extents: Sequence[Extent]) -> None:
    """Register each extent as a physical memory segment read straight from its file;
    one outside the 64-bit address space is refused in one line."""
    for ext in extents:
        if ext.paddr < 0 or ext.size <= 0 or ext.paddr + ext.size > ADDRESS_LIMIT:
            raise DumpError(f"{ext.source.path}: memory at {ext.paddr:#x}, {ext.size:#x} "
                            "bytes, lies outside the 64-bit physical address space")
        prog.add_memory_segment(ext.paddr, ext.size, _extent_reader(ext), True)


def _extent_reader(ext: Extent) -> ReadFn:
    def read(address: int, count: int, offset: int, physical: bool) -> bytes:
        import drgn

        try:
            data = ext.source.pread(ext.offset + offset, count)
        except DumpError as exc:  # a read error of the disk: at this address
            raise drgn.FaultError(str(exc), address) from None
        if len(data) < count:
            raise drgn.FaultError(f"{ext.source.path} ends before this address", address)
        return data

    return read


def images_program(extents: Sequence[Extent]) -> drgn.Program:
    """Return a Program over RAM images (raw or LiME): the extents must not overlap, and
    the VMCOREINFO is found by scanning them."""
    from pycrash.memory.physmem import check_overlaps, scan_vmcoreinfo

    ordered = check_overlaps(list(extents))
    info = scan_vmcoreinfo(ordered)
    if info is None:
        raise DumpError("no VMCOREINFO found in the memory image(s): is this a Linux "
                        "kernel's RAM, all of it?")
    prog = new_program(machine_of_vmcoreinfo(info))
    add_extents(prog, ordered)
    finish(prog, info)
    return prog
