"""``/dev/oldmem`` (or a file laid out like it): the crashed machine's RAM, file offset =
physical address, read in a capture kernel through kexec's ELF core header.

The header lies in that memory at the capture kernel's ``elfcorehdr=`` address:
its PT_LOADs are the RAM ranges, its PT_NOTEs (also at physical addresses) the
CPUs' registers and VMCOREINFO. Chosen by ``--oldmem``, not by magic: there is
no ``probe``; pycrash serves the memory.

Today's capture kernels have no ``/dev/oldmem``; their ``/dev/mem`` reaches the old
memory, unless the kernel refuses: Debian's (CONFIG_STRICT_DEVMEM and
CONFIG_IO_STRICT_DEVMEM) refuses the page of the ELF core header itself, which lies in
a "RAM buffer" region of the capture kernel's ``/proc/iomem``. Booted with
``iomem=relaxed`` it serves the header, but no old RAM above the end of its own
(EFAULT), where the CPUs' crash notes lie. pycrash says either in one line
(:func:`refusal`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from pycrash.errors import DumpError
from pycrash.memory import custom, elfcore, elffile
from pycrash.memory.elffile import Note
from pycrash.memory.formats.base import DumpKind, Opened, Options
from pycrash.memory.physmem import Extent, merge, scan_vmcoreinfo
from pycrash.memory.source import FileSource, ReadError

#: ``elfcorehdr=[size@]start``, each a number with an optional K, M or G suffix (the
#: kernel's memparse(): ``1M@753012K``, ``0x2df5d000``)
_ELFCOREHDR = re.compile(
    r"(?:^|\s)elfcorehdr=(?:(?:0[xX][0-9a-fA-F]+|[0-9]+)[KMGkmg]?@)?"
    r"(0[xX][0-9a-fA-F]+|[0-9]+)([KMGkmg]?)(?:\s|$)")
#: where kexec's ELF core header may lie: a physical address (64 bits)
ADDRESS_LIMIT = 1 << 64


def elfcorehdr_from_cmdline(cmdline: str) -> int | None:
    """Return the ``elfcorehdr=`` address of a kernel command line (``753012K``,
    ``1M@753012K`` or ``0x...``); None when there is none or it is not a 64-bit address."""
    m = _ELFCOREHDR.search(cmdline)
    if not m:
        return None
    text = m.group(1).lower()
    try:  # memparse's numbers: 0x hexadecimal, a leading 0 octal, else decimal
        number = int(text, 16 if text.startswith("0x") else 8 if text.startswith("0") else 10)
    except ValueError:  # "09": no octal number
        return None
    value = number << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]
    return value if value < ADDRESS_LIMIT else None


def iomem_region(addr: int, iomem: str) -> str | None:
    """Return the name of the innermost region of ``/proc/iomem`` text that holds the
    physical address ``addr`` (``"System RAM"``, ``"RAM buffer"``...), or None."""
    found: tuple[int, str] | None = None
    for line in iomem.splitlines():
        m = re.match(r"( *)([0-9a-f]+)-([0-9a-f]+) : (.*)", line)
        if m and int(m.group(2), 16) <= addr <= int(m.group(3), 16):
            if found is None or len(m.group(1)) > found[0]:
                found = (len(m.group(1)), m.group(4))
    return found[1] if found else None


def ram_end(iomem: str) -> int | None:
    """Return the end of the highest "System RAM" of ``/proc/iomem`` text (the first
    address past it), or None when it lists none."""
    ends = [int(m.group(1), 16) + 1 for m in
            re.finditer(r"^[0-9a-f]+-([0-9a-f]+) : System RAM$", iomem, re.M)]
    return max(ends, default=None)


def refusal(path: str, addr: int, exc: OSError, iomem: str | None = None) -> str:
    """Return the one line saying why reading ``path`` at physical address ``addr`` failed
    with ``exc``: for /dev/mem's EPERM, which STRICT_DEVMEM rule refused it, told by the
    region of ``/proc/iomem`` (read when ``iomem`` is None) that holds the address; for
    its EFAULT, where this kernel's reads stop (the end of its own RAM)."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    line = f"{path}: the kernel refuses to read physical address {addr:#x} ({code}, {exc.strerror})"
    if iomem is None and exc.errno in (errno.EPERM, errno.EFAULT):
        try:
            iomem = Path("/proc/iomem").read_text()
        except OSError:
            iomem = ""
    if exc.errno == errno.EPERM:
        region = iomem_region(addr, iomem or "")
        if region == "System RAM":
            why = "it is this kernel's RAM, which CONFIG_STRICT_DEVMEM keeps out of /dev/mem"
        elif region:
            why = (f'it lies in "{region}" of /proc/iomem, a busy region, which '
                   "CONFIG_IO_STRICT_DEVMEM keeps out of /dev/mem")
        else:
            why = "the kernel's CONFIG_STRICT_DEVMEM keeps it out of /dev/mem"
        return f"{line}: {why}; open /proc/vmcore instead"
    if exc.errno == errno.EFAULT:
        end = ram_end(iomem or "")
        where = f" ({end:#x})" if end is not None else ""
        return f"{line}: /dev/mem reads stop at the end of this kernel's own RAM{where}"
    return line


class OldmemSource(FileSource):
    """The oldmem image: a file, or a device (``/dev/mem``, ``/dev/oldmem``) whose size is
    unknown (every address is tried); a read the kernel refuses raises :class:`DumpError`
    naming the address and why (:func:`refusal`)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.device = stat.S_ISCHR(os.fstat(self._fd).st_mode)

    def pread(self, offset: int, size: int) -> bytes:
        try:
            return super().pread(offset, size)
        except ReadError as exc:
            raise DumpError(refusal(self.path, offset, exc.error)) from None


def read(path: str, elfcorehdr: int,
         warnings: list[str] | None = None) -> tuple[list[Extent], list[elfcore.PrStatus],
                                                    bytes | None]:
    """Return the RAM extents (merged), the CPUs' registers and the VMCOREINFO note (None
    when there is none) that the ELF core header at ``elfcorehdr`` in the image describes.

    A RAM range that the image's end cuts is refused (a truncated copy); ranges wholly
    beyond it (an image of the low RAM only) are left out, with a warning in ``warnings``."""
    src = OldmemSource(path)
    total = 0 if src.device else src.size()  # a device (/dev/mem) has no size to check
    found = []
    notes: list[Note] = []
    beyond: list[elffile.Segment] = []
    for ph in elfcore.read_header(src, elfcorehdr):
        if ph.type == elffile.PT_LOAD and ph.memsz:
            if ph.paddr + ph.memsz > ADDRESS_LIMIT:
                raise DumpError(f"{path}: corrupt ELF core header at {elfcorehdr:#x}: RAM at "
                                f"{ph.paddr:#x}, {ph.memsz:#x} bytes, beyond 64 bits")
            if total and ph.paddr >= total:  # an image of the low RAM only
                beyond.append(ph)
                continue
            if total and ph.paddr + ph.memsz > total:  # cut in the middle of a range
                raise DumpError(f"{path}: truncated oldmem image: RAM {ph.paddr:#x}-"
                                f"{ph.paddr + ph.memsz - 1:#x} ends past the image's "
                                f"{total:#x} bytes")
            found.append(Extent(ph.paddr, ph.memsz, src, ph.paddr))
        elif ph.type == elffile.PT_NOTE and ph.filesz:
            if ph.filesz > elfcore.MAX_NOTES:
                raise DumpError(f"{path}: corrupt ELF core header at {elfcorehdr:#x}: a note "
                                f"of {ph.filesz:#x} bytes")
            data = src.pread(ph.offset, ph.filesz)
            if len(data) < ph.filesz:
                raise DumpError(f"{path}: note at {ph.offset:#x} lies beyond the image")
            notes.extend(elffile.parse_notes(data))
    if not found:
        raise DumpError(f"{path}: the ELF core header at {elfcorehdr:#x} names no memory")
    if beyond and warnings is not None:
        warnings.append(f"WARNING: {path}: the image ends at byte {total:#x}: {len(beyond)} "
                        f"RAM range{'s' if len(beyond) > 1 else ''} from {beyond[0].paddr:#x} "
                        "on are not in it, and reads there fail")
    head = elffile.header(src.pread(elfcorehdr, elffile.EHDR_SIZE))
    regs, info = elfcore.collect(notes, head.machine if head is not None else "x86_64")
    return merge(found), regs, info


def _elfcorehdr(options: Options) -> int:
    """Return the header's address: ``--elfcorehdr``, else the running kernel's command line."""
    if options.elfcorehdr is not None:
        return options.elfcorehdr
    try:
        addr = elfcorehdr_from_cmdline(Path("/proc/cmdline").read_text())
    except OSError:
        addr = None
    if addr is None:
        raise DumpError("--oldmem: no --elfcorehdr given and none on /proc/cmdline "
                        "(this is not a capture kernel)")
    return addr


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open the oldmem image ``paths[0]`` through its ELF core header."""
    path = paths[0]
    if not os.path.exists(path):
        raise DumpError(f"{path}: no such file")
    warnings: list[str] = []
    extents, regs, info = read(path, _elfcorehdr(options), warnings)
    vmcoreinfo = info or scan_vmcoreinfo(extents)
    if vmcoreinfo is None:
        raise DumpError(f"{path}: no VMCOREINFO in the notes or in memory")
    prog = custom.new_program(custom.machine_of_vmcoreinfo(vmcoreinfo))
    custom.add_extents(prog, extents)
    custom.finish(prog, vmcoreinfo)
    return Opened(prog, DumpKind.OLDMEM, (path,), regs=tuple(regs), own_reader=True,
                  notes=tuple(warnings))
