"""Facts about a vmlinux read from its ELF file: debug info, build id, release, sections.

:func:`has_debug_info` and :func:`build_id` run at every session start and read
only the section headers and the build-id note (:mod:`pycrash.memory.elffile`
says why directly); the rest goes through pyelftools. A damaged file raises
one-line :class:`~pycrash.errors.DumpError`.
"""

from __future__ import annotations

import array
import re
from collections.abc import Iterable, Sequence

from pycrash.memory import elffile
from pycrash.memory.source import FileSource

NT_GNU_BUILD_ID = 3
SHF_ALLOC, SHT_NOBITS = 0x2, 8
ELF64_SYM_SIZE = 24  # Elf64_Sym: st_name (4), st_info, st_other, st_shndx (2), st_value, st_size
_BANNER = re.compile(rb"Linux version (\S+)")
#: how much of ``.rodata`` is searched for the banner at a time
_CHUNK = 1 << 22


def build_id(path: str) -> str | None:
    """Return the GNU build id of an ELF file as hex, or None when it has none."""
    notes = [s for s in elffile.sections(path) if s.type == elffile.SHT_NOTE]
    if not notes:
        return None
    with FileSource(path) as src:
        hdr = elffile.header(src.pread(0, elffile.EHDR_SIZE))
        little = hdr is None or hdr.little_endian
        for sec in notes:
            for note in elffile.parse_notes(src.pread(sec.offset, sec.size), little):
                if note.type == NT_GNU_BUILD_ID and note.name == b"GNU":
                    return note.desc.hex()
    return None


def has_debug_info(path: str) -> bool:
    """Return whether the ELF file carries DWARF (a ``.debug_info`` section)."""
    return any(s.name == ".debug_info" for s in elffile.sections(path))


def release(path: str) -> str | None:
    """Return the kernel release in the vmlinux's ``linux_banner`` (``6.1.0-56-cloud-amd64``)."""
    with elffile.open_elf(path) as elf:
        for sec in elf.iter_sections():
            if sec.name != ".rodata":
                continue
            offset, size = sec["sh_offset"], sec["sh_size"]
            done = 0
            while done < size:
                elf.stream.seek(offset + done)
                m = _BANNER.search(elf.stream.read(min(_CHUNK + 256, size - done)))
                if m:
                    return m.group(1).decode("ascii", "replace")
                done += _CHUNK
    return None


SHF_COMPRESSED = 0x800


def raw_section(path: str, section: str) -> bytes | None:
    """Return the contents of the first section named ``section`` read directly (without
    pyelftools), decompressed through :func:`section_data` when compressed; None when the
    file has no such section."""
    for sec in elffile.sections(path):
        if sec.name != section:
            continue
        if sec.flags & SHF_COMPRESSED:
            return section_data(path, section)
        with FileSource(path) as src:
            data = src.pread(sec.offset, sec.size)
        if len(data) != sec.size:
            from pycrash.errors import DumpError

            raise DumpError(f"{path}: damaged ELF file: section {section} is cut off")
        return data
    return None


def section_data(path: str, section: str) -> bytes | None:
    """Return the contents of the first section named ``section`` (decompressed), or None."""
    with elffile.open_elf(path) as elf:
        for sec in elf.iter_sections():
            if sec.name == section:
                return sec.data()
    return None


def symbols(path: str, names: Iterable[str]) -> dict[str, int]:
    """Return the link-time addresses of those of ``names`` that the vmlinux's ``.symtab``
    defines (a global definition before a local one).

    Only the names asked for are looked at: their offsets in ``.strtab``, then the
    symbols whose ``st_name`` is one of them (about 20 ms for Debian 6.1's 190,000
    symbols, where reading them all takes 0.2 s)."""
    secs = {s.name: s for s in elffile.sections(path)}
    symtab, strtab = secs.get(".symtab"), secs.get(".strtab")
    if symtab is None or strtab is None:
        return {}
    with FileSource(path) as src:
        strs = src.pread(strtab.offset, strtab.size)
        raw = src.pread(symtab.offset, symtab.size - symtab.size % ELF64_SYM_SIZE)
    words = array.array("I")
    words.frombytes(raw)
    name_column = words[0::6]  # st_name of every symbol
    found: dict[str, tuple[bool, int]] = {}
    for name in names:
        needle = name.encode() + b"\0"
        at = strs.find(needle)
        while at >= 0:
            i = _index(name_column, at, 0)
            while i is not None:
                shndx = words[6 * i + 1] >> 16
                value = words[6 * i + 2] | words[6 * i + 3] << 32
                local = raw[24 * i + 4] >> 4 == 0  # st_info's binding: STB_LOCAL
                if shndx and (name not in found or found[name][0] and not local):
                    found[name] = (local, value)
                i = _index(name_column, at, i + 1)
            at = strs.find(needle, at + 1)
    return {name: value for name, (_local, value) in found.items()}


def _index(column: array.array[int], value: int, start: int) -> int | None:
    """Return the first index from ``start`` of ``value`` in ``column``, or None."""
    try:
        return column.index(value, start)
    except ValueError:
        return None


def linked_bytes(path: str, sections: Sequence[elffile.Section], address: int,
                 size: int) -> bytes | None:
    """Return ``size`` bytes of the vmlinux at its link-time ``address``, from the section
    that holds them (one with contents in the file), or None."""
    for sec in sections:
        if (sec.flags & SHF_ALLOC and sec.type != SHT_NOBITS and sec.addr <= address
                and address + size <= sec.addr + sec.size):
            with FileSource(path) as src:
                return src.pread(sec.offset + address - sec.addr, size)
    return None


def build_id_at(path: str, sections: Sequence[elffile.Section]) -> tuple[int, bytes] | None:
    """Return where the kernel keeps its own GNU build id (the link-time address of the
    note's descriptor in ``.notes``, which is loaded with the kernel) and its bytes."""
    with FileSource(path) as src:
        for sec in sections:
            if sec.type != elffile.SHT_NOTE or not sec.flags & SHF_ALLOC:
                continue
            data = src.pread(sec.offset, sec.size)
            for note in elffile.parse_notes(data):
                if note.type == NT_GNU_BUILD_ID and note.name == b"GNU" and note.desc:
                    return sec.addr + data.find(note.desc), note.desc
    return None
