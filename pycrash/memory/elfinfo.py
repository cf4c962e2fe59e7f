"""Facts about a vmlinux read from its ELF file: debug info, build id, release, sections.

:func:`has_debug_info` and :func:`build_id` run at every session start and read
only the section headers and the build-id note (:mod:`pycrash.memory.elffile`
says why directly); the rest goes through pyelftools. A damaged file raises
one-line :class:`~pycrash.errors.DumpError`.
"""

from __future__ import annotations

import re

from pycrash.memory import elffile
from pycrash.memory.source import FileSource

NT_GNU_BUILD_ID = 3
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


def section_data(path: str, section: str) -> bytes | None:
    """Return the contents of the first section named ``section`` (decompressed), or None."""
    with elffile.open_elf(path) as elf:
        for sec in elf.iter_sections():
            if sec.name == section:
                return sec.data()
    return None
