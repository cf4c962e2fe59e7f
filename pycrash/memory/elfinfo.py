"""Facts about a vmlinux read straight from its ELF file: build id and release."""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

NT_GNU_BUILD_ID = 3
_BANNER = re.compile(rb"Linux version (\S+)")


SHF_COMPRESSED = 0x800


def _sections(f: BinaryIO) -> list[tuple[str, int, int, int, int]]:
    """Return ``(name, type, offset, size, flags)`` for each section of a 64-bit ELF file."""
    fh = f
    fh.seek(0)
    hdr = fh.read(64)
    endian = "<" if hdr[5] == 1 else ">"
    e_shoff, = struct.unpack_from(endian + "Q", hdr, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(endian + "HHH", hdr, 58)
    fh.seek(e_shoff)
    table = fh.read(e_shentsize * e_shnum)
    raw = []
    for i in range(e_shnum):
        name, stype, flags, _addr, offset, size = struct.unpack_from(
            endian + "IIQQQQ", table, i * e_shentsize
        )
        raw.append((name, stype, offset, size, flags))
    _n, _t, str_off, str_size, _f = raw[e_shstrndx]
    fh.seek(str_off)
    strtab = fh.read(str_size)
    out = []
    for name, stype, offset, size, flags in raw:
        end = strtab.find(b"\0", name)
        out.append((strtab[name:end].decode(), stype, offset, size, flags))
    return out


def build_id(path: str) -> str | None:
    """Return the GNU build id of an ELF file as hex, or None when it has none."""
    with open(path, "rb") as f:
        for _name, stype, offset, size, _flags in _sections(f):
            if stype != 7:  # SHT_NOTE
                continue
            f.seek(offset)
            data = f.read(size)
            pos = 0
            while pos + 12 <= len(data):
                namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
                pos += 12
                note_name = data[pos : pos + namesz].rstrip(b"\0")
                pos += (namesz + 3) & ~3
                desc = data[pos : pos + descsz]
                pos += (descsz + 3) & ~3
                if ntype == NT_GNU_BUILD_ID and note_name == b"GNU":
                    return desc.hex()
    return None


def release(path: str) -> str | None:
    """Return the kernel release in the vmlinux's ``linux_banner`` (``6.1.0-56-cloud-amd64``)."""
    with open(path, "rb") as f:
        for name, _stype, offset, size, _flags in _sections(f):
            if name != ".rodata":
                continue
            f.seek(offset)
            chunk = 1 << 22
            done = 0
            while done < size:
                f.seek(offset + done)
                data = f.read(min(chunk + 256, size - done))
                m = _BANNER.search(data)
                if m:
                    return m.group(1).decode("ascii", "replace")
                done += chunk
    return None


def has_debug_info(path: str) -> bool:
    """Return whether the ELF file carries DWARF (a ``.debug_info`` section)."""
    with open(path, "rb") as f:
        return any(name == ".debug_info" for name, *_ in _sections(f))


def section_data(path: str, section: str) -> bytes | None:
    """Return the contents of one section of an ELF file (decompressed), or None."""
    import zlib

    with open(path, "rb") as f:
        for name, _stype, offset, size, flags in _sections(f):
            if name != section:
                continue
            f.seek(offset)
            data = f.read(size)
            if flags & SHF_COMPRESSED:  # an Elf64_Chdr (24 bytes), then zlib data
                return zlib.decompress(data[24:])
            return data
    return None
