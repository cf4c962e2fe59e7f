"""Hand-built ELF files for error paths: small, synthetic, and exactly as wrong as wanted."""

from __future__ import annotations

import struct


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    name_z = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name_z), len(desc), ntype) + pad(name_z) + pad(desc)


def fake_vmlinux(build_id: bytes, release: str) -> bytes:
    """Return a 64-bit ET_EXEC ELF that looks like a vmlinux of another build.

    It has a GNU build-id note, a ``.rodata`` holding ``Linux version RELEASE``
    and a (meaningless) ``.debug_info`` section.
    """
    sections = [
        (".note.gnu.build-id", 7, _note(b"GNU", 3, build_id)),
        (".rodata", 1, f"Linux version {release} (fake@build) #1 SMP\0".encode()),
        (".debug_info", 1, b"\0" * 16),
    ]
    shstrtab = b"\0"
    name_offsets = []
    for name, _t, _d in sections + [(".shstrtab", 3, b"")]:
        name_offsets.append(len(shstrtab))
        shstrtab += name.encode() + b"\0"
    body = b""
    layout = []
    offset = 64
    for (_name, stype, data), noff in zip(sections, name_offsets, strict=False):
        layout.append((noff, stype, offset, len(data)))
        body += data
        offset += len(data)
    layout.append((name_offsets[-1], 3, offset, len(shstrtab)))
    body += shstrtab
    offset += len(shstrtab)
    shoff = (offset + 7) & ~7
    body += b"\0" * (shoff - offset)
    shnum = len(layout) + 1
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, shnum, shnum - 1)
    shdrs = b"\0" * 64
    for noff, stype, off, size in layout:
        shdrs += struct.pack("<IIQQQQIIQQ", noff, stype, 0, 0, off, size, 0, 0, 1, 0)
    return ehdr + body + shdrs


def elf_core_without_notes() -> bytes:
    """Return a 64-bit ET_CORE ELF header with one PT_LOAD and no PT_NOTE."""
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr += struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 4, 120, 0, 0, 8, 8, 4096)
    return ehdr + phdr + b"\0" * 8
