"""Make a drgn Program over memory that pycrash reads itself.

drgn opens ELF vmcores and kdump files natively. For everything else (a
flattened stream, a split set, /dev/oldmem, raw images, LiME), pycrash
registers physical memory segments whose bytes it serves from Python, and
tells drgn the kernel's VMCOREINFO so that it can walk the page tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory.kdump import KdumpFile, excluded_reason
from pycrash.memory.physmem import Extent

if TYPE_CHECKING:
    import drgn

ReadFn = Callable[[int, int, int, bool], bytes]


def new_program() -> drgn.Program:
    """Return an x86-64 Program with no memory yet (segments and VMCOREINFO come next)."""
    import drgn

    flags = drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN
    return drgn.Program(drgn.Platform(drgn.Architecture.X86_64, flags))


def finish(prog: drgn.Program, vmcoreinfo: bytes) -> None:
    """Tell drgn the kernel's VMCOREINFO, after the memory segments are in place."""
    try:
        prog.set_linux_kernel_custom(vmcoreinfo, False)
    except Exception as exc:
        raise DumpError(f"cannot use this dump's VMCOREINFO: {exc}") from None


def add_extents(prog: drgn.Program, extents: list[Extent]) -> None:
    """Register each extent as a physical memory segment read straight from its file."""
    for ext in extents:
        prog.add_memory_segment(ext.paddr, ext.size, _extent_reader(ext), True)


def _extent_reader(ext: Extent) -> ReadFn:
    def read(address: int, count: int, offset: int, physical: bool) -> bytes:
        data = ext.source.pread(ext.offset + offset, count)
        if len(data) < count:
            import drgn

            raise drgn.FaultError(f"{ext.source.path} ends before this address", address)
        return data

    return read


def add_kdump(prog: drgn.Program, parts: list[KdumpFile], zero_excluded: bool) -> None:
    """Register the physical memory of a kdump file, or of all parts of a split set.

    A page makedumpfile left out raises a FaultError saying so (or reads as
    zeros with ``zero_excluded``); so does a page of a part that was not given.
    """
    first = parts[0]
    page = first.page_size
    level = first.header.dump_level

    def read(address: int, count: int, offset: int, physical: bool) -> bytes:
        import drgn

        out = bytearray()
        pos, end = address, address + count
        while pos < end:
            pfn, within = divmod(pos, page)
            take = min(page - within, end - pos)
            part = next((p for p in parts if pfn in p.own), None)
            if part is not None:
                out += part.read_page(pfn)[within : within + take]
            elif pfn not in first.ram:
                raise drgn.FaultError("not in the crashed machine's RAM", pos)
            elif pfn in first.dumped:
                raise drgn.FaultError("page is in a part of the split dump that was not given",
                                      pos)
            elif zero_excluded:
                out += bytes(take)
            else:
                raise drgn.FaultError(excluded_reason(level), pos)
            pos += take
        return bytes(out)

    prog.add_memory_segment(0, first.header.max_mapnr * page, read, True)
