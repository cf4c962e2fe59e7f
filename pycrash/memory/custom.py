"""Make drgn Programs: over a dump drgn opens itself, or over memory pycrash serves.

drgn opens ELF vmcores and kdump files natively. For everything else (a
flattened stream, a split set, /dev/oldmem, raw images, LiME), pycrash
registers physical memory segments whose bytes it serves from Python, and
tells drgn the kernel's VMCOREINFO so that it can walk the page tables: the
kernel's own, found in the memory, or one written from where the vmlinux's banner
is in it (:mod:`pycrash.memory.locate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pycrash.errors import DumpError

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.locate import CpuState, Found
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


def finish(prog: drgn.Program, vmcoreinfo: bytes, found: Found | None = None) -> None:
    """Tell drgn the kernel's VMCOREINFO, after the memory segments are in place; one
    pycrash wrote from where it ``found`` the kernel is checked against the page tables."""
    try:
        prog.set_linux_kernel_custom(vmcoreinfo, False)
    except Exception as exc:
        raise DumpError(f"cannot use this dump's VMCOREINFO: {exc}") from None
    if found is not None:
        from pycrash.memory.locate import check_program

        check_program(prog, found)


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


def memory_vmcoreinfo(extents: Sequence[Extent], what: str, vmlinux: str | None = None,
                      machine: str = "", cpus: Sequence[CpuState] = (),
                      ) -> tuple[bytes, Found | None]:
    """Return the VMCOREINFO of memory that came without one (a RAM image, a QEMU dump of
    a guest run without ``-device vmcoreinfo``): the kernel's own text found in it, or,
    where that is gone, one written from where the vmlinux's banner is in it
    (:mod:`pycrash.memory.locate`, whose :class:`Found` comes second, else None).

    ``what`` starts the one-line :class:`DumpError` that says the memory has no
    VMCOREINFO; ``machine`` is drgn's name of its architecture if the dump says it,
    ``cpus`` the x86 vCPUs' control registers QEMU saved."""
    from pycrash.memory.locate import LocateError, locate, synthesize
    from pycrash.memory.physmem import scan_vmcoreinfo

    banners: list[int] = []
    info = scan_vmcoreinfo(list(extents), banners=banners)
    if info is not None:
        return info, None
    if vmlinux is None:
        raise DumpError(f"{what}: cannot tell which kernel it holds (name its vmlinux: "
                        "pycrash then finds the kernel by its banner)")
    try:
        found = locate(extents, banners, vmlinux, machine, cpus)
    except LocateError as exc:
        raise DumpError(f"{what}; {exc}") from None
    return synthesize(found), found


def images_program(extents: Sequence[Extent], vmlinux: str | None = None,
                   what: str = "no VMCOREINFO found in the memory image(s)",
                   machine: str = "", cpus: Sequence[CpuState] = ()) -> drgn.Program:
    """Return a Program over RAM images (raw or LiME, a QEMU dump's PT_LOADs): the extents
    must not overlap, and the VMCOREINFO is found in them (:func:`memory_vmcoreinfo`)."""
    return images_program_info(extents, vmlinux, what, machine, cpus)[0]


def images_program_info(extents: Sequence[Extent], vmlinux: str | None = None,
                        what: str = "no VMCOREINFO found in the memory image(s)",
                        machine: str = "", cpus: Sequence[CpuState] = (),
                        ) -> tuple[drgn.Program, bytes]:
    """Return :func:`images_program`'s Program and the VMCOREINFO text it was given."""
    from pycrash.memory.physmem import check_overlaps

    ordered = check_overlaps(list(extents))
    info, found = memory_vmcoreinfo(ordered, what, vmlinux, machine, cpus)
    prog = new_program(machine_of_vmcoreinfo(info))
    add_extents(prog, ordered)
    finish(prog, info, found)
    return prog, info
