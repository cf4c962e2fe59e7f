"""ELF files: the header, its program and section header tables, notes, and pyelftools.

Every session start reads the program headers of an ELF dump (or of kexec's ELF
core header) and a vmlinux's section names and build id, and nothing else of
these files. Those tables and the notes are unpacked here directly, checked
against the file's end, because importing pyelftools costs 14 to 20 ms, 5 to 7 %
of a 0.27 s session start (``pycrash -s VMLINUX VMCORE -x sys`` on the small
fixture, 21 interleaved runs with and without the import: minimums 259 and 280
ms; an import of the module alone, 14 ms). The notes reader also serves notes
outside any ELF file (a kdump file's copy, the ``crash_notes`` that ``bt`` reads
from memory), which pyelftools does not read. Every other read of an ELF file
(section contents, the symbol table, the banner in ``.rodata``, DWARF) goes
through pyelftools with :func:`open_elf`, which turns its errors on damaged
input into one-line :class:`~pycrash.errors.DumpError`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from pycrash.errors import DumpError
from pycrash.memory.source import ByteSource, FileSource

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB = 2, 1
ET_EXEC, ET_DYN, ET_CORE = 2, 3, 4
#: The architectures pycrash reads (drgn's names), by utsname.machine and by ELF e_machine.
ARCHES: dict[str | int, str] = {"x86_64": "X86_64", "aarch64": "AARCH64",
                                62: "X86_64", 183: "AARCH64"}
PT_LOAD, PT_NOTE = 1, 4
SHT_NOTE = 7
SHF_EXECINSTR = 0x4

# Elf64_Ehdr from e_type on (e_ident is the 16 bytes before), the first 48 bytes of
# an Elf64_Phdr (p_align left out), the first 40 of an Elf64_Shdr, and an Elf64_Nhdr.
_EHDR = "HHIQQQIHHHHHH"
_PHDR = "IIQQQQQ"
_SHDR = "IIQQQQ"
_NHDR = "III"
EHDR_SIZE = 16 + struct.calcsize("<" + _EHDR)

# The records below are NamedTuples, not frozen dataclasses: they are defined at every
# session start, and a frozen dataclass costs about 1 ms to define, a NamedTuple 0.07 ms.


class Header(NamedTuple):
    """The ELF header of a 64-bit file: its type and where its two tables are."""

    little_endian: bool
    type: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int
    machine: int = 0  # e_machine: EM_X86_64 62, EM_AARCH64 183

    @property
    def endian(self) -> str:
        """The :mod:`struct` byte-order prefix of the file's fields."""
        return "<" if self.little_endian else ">"


class Segment(NamedTuple):
    """A program header: ``offset`` in the file, ``paddr`` in physical memory."""

    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


class Section(NamedTuple):
    """A section header, with its name; ``addr`` is where it is linked in memory."""

    name: str
    type: int
    flags: int
    offset: int
    size: int
    addr: int = 0


class Note(NamedTuple):
    """An ELF note: its owner name, type and descriptor bytes."""

    name: bytes
    type: int
    desc: bytes


def is_elf(data: bytes) -> bool:
    """Return whether ``data`` starts with the ELF magic number."""
    return data.startswith(ELF_MAGIC)


def header(data: bytes) -> Header | None:
    """Return the header of the 64-bit ELF file whose first bytes are ``data``; None
    when they are not one (too short, no magic number, or another class)."""
    if len(data) < EHDR_SIZE or not is_elf(data) or data[4] != ELFCLASS64:
        return None
    little = data[5] == ELFDATA2LSB
    (e_type, machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
     shentsize, shnum, shstrndx) = struct.unpack_from(("<" if little else ">") + _EHDR, data, 16)
    return Header(little, e_type, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx,
                  machine)


def segments(source: ByteSource, hdr: Header, at: int = 0) -> list[Segment] | None:
    """Return the program headers of the ELF file at byte ``at`` of ``source`` (whose
    header is ``hdr``); None when the end of ``source`` cuts the table off."""
    entry = struct.Struct(hdr.endian + _PHDR)
    if hdr.phnum and hdr.phentsize < entry.size:
        raise DumpError(f"{source.path}: corrupt ELF header (program headers of "
                        f"{hdr.phentsize} bytes)")
    table = source.pread(at + hdr.phoff, hdr.phentsize * hdr.phnum)
    if len(table) < hdr.phentsize * hdr.phnum:
        return None
    out = []
    for i in range(hdr.phnum):
        p_type, _flags, offset, vaddr, paddr, filesz, memsz = entry.unpack_from(
            table, i * hdr.phentsize)
        out.append(Segment(p_type, offset, vaddr, paddr, filesz, memsz))
    return out


def sections(path: str) -> list[Section]:
    """Return the section headers of the 64-bit ELF file ``path``, with their names.

    Raises :class:`DumpError` (one line) for a file that is not one, or whose
    tables are cut off or point outside it.
    """
    with FileSource(path) as src:
        hdr = header(src.pread(0, EHDR_SIZE))
        if hdr is None:
            raise DumpError(f"{path}: not a 64-bit ELF file")
        if not hdr.shnum:
            return []
        entry = struct.Struct(hdr.endian + _SHDR)
        if hdr.shentsize < entry.size:
            raise DumpError(f"{path}: damaged ELF file: section headers of "
                            f"{hdr.shentsize} bytes")
        table = src.pread(hdr.shoff, hdr.shentsize * hdr.shnum)
        if len(table) < hdr.shentsize * hdr.shnum:
            raise DumpError(f"{path}: damaged ELF file: the section headers are cut off")
        raw = [entry.unpack_from(table, i * hdr.shentsize) for i in range(hdr.shnum)]
        if hdr.shstrndx >= hdr.shnum:
            raise DumpError(f"{path}: damaged ELF file: no section name table "
                            f"(index {hdr.shstrndx} of {hdr.shnum})")
        _n, _t, _f, _a, names_at, names_size = raw[hdr.shstrndx]
        names = src.pread(names_at, names_size)
    out = []
    for name, stype, flags, addr, offset, size in raw:
        end = names.find(b"\0", name)
        if end < 0:
            raise DumpError(f"{path}: damaged ELF file: a section name lies outside "
                            f"the name table")
        out.append(Section(names[name:end].decode("utf-8", "replace"), stype, flags, offset,
                           size, addr))
    return out


def parse_notes(data: bytes, little_endian: bool = True) -> Iterator[Note]:
    """Yield the notes in ``data`` (a PT_NOTE's or SHT_NOTE's bytes), stopping at an
    all-zero header or at a note the end of ``data`` cuts off."""
    nhdr = struct.Struct(("<" if little_endian else ">") + _NHDR)
    pos = 0
    while pos + nhdr.size <= len(data):
        namesz, descsz, ntype = nhdr.unpack_from(data, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            return
        pos += nhdr.size
        name = data[pos : pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = data[pos : pos + descsz]
        pos += (descsz + 3) & ~3
        if pos > len(data):
            return
        yield Note(name, ntype, desc)


@contextmanager
def open_elf(path: str) -> Iterator[ELFFile]:
    """Yield ``path`` opened with pyelftools. Whatever pyelftools raises on a damaged
    file, in this block or inside the ``with`` body (also an :class:`OSError` from a
    seek to an offset no file has), becomes one :class:`DumpError` line naming the
    file; a missing or unreadable file raises :class:`OSError`."""
    from elftools.common.exceptions import ELFError
    from elftools.construct import ConstructError
    from elftools.elf.elffile import ELFFile

    from pycrash.memory.source import check_file

    check_file(path)  # a FIFO would block the open
    with open(path, "rb") as f:
        try:
            yield ELFFile(f)
        except (ELFError, ConstructError, struct.error, zlib.error, IndexError, KeyError,
                ValueError, TypeError, OverflowError, EOFError, MemoryError, OSError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise DumpError(f"{path}: damaged ELF file ({type(exc).__name__}"
                            f"{': ' + detail if detail else ''})") from None
