"""Hand-built dump files for the format modules' tests: small, synthetic, no fixture.

Each builder writes the layout from its format's own description (makedumpfile's
diskdump.h, LiME's lime.h, the ELF specification), not from pycrash's parsers,
so that the tests check those parsers against the formats.
"""

from __future__ import annotations

import struct
import zlib

from elfgen import _note

PAGE = 4096
VMCOREINFO = b"OSRELEASE=9.9.9-test\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff82a0a000\n"


def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    """Return one ELF note (4-byte aligned name and descriptor)."""
    return _note(name, ntype, desc)


def prstatus(pid: int, regs: bytes = bytes(range(168))) -> bytes:
    """Return an x86-64 NT_PRSTATUS descriptor: pr_pid at 32, pr_reg (21 words) at 112."""
    desc = bytearray(336)
    struct.pack_into("<i", desc, 32, pid)
    desc[112 : 112 + len(regs)] = regs
    return bytes(desc)


def crash_notes(pids: list[int], vmcoreinfo: bytes = VMCOREINFO) -> bytes:
    """Return the notes a kdump dump keeps: one NT_PRSTATUS per CPU, then VMCOREINFO."""
    out = b"".join(note(b"CORE", 1, prstatus(pid)) for pid in pids)
    return out + note(b"VMCOREINFO", 0, vmcoreinfo)


def _bits(pfns: set[int], nbytes: int) -> bytes:
    out = bytearray(nbytes)
    for pfn in pfns:
        out[pfn >> 3] |= 1 << (pfn & 7)
    return bytes(out)


def kdump(pages: dict[int, bytes], max_mapnr: int = 64, ram: set[int] | None = None,
          dump_level: int = 31, version: int = 6, split: tuple[int, int] | None = None,
          notes: bytes = b"", vmcoreinfo: bytes = VMCOREINFO, compress: bool = True,
          signature: bytes = b"KDUMP   ", block_size: int = PAGE) -> bytes:
    """Return a kdump compressed file holding ``pages`` (pfn -> 4 KiB page).

    ``ram`` are the page frames that existed (all below ``max_mapnr`` by default);
    ``split`` = (start, end) makes this the part of a split set holding those frames.
    """
    ram = set(range(max_mapnr)) if ram is None else ram
    start, end = split if split else (0, max_mapnr)
    own = sorted(p for p in pages if start <= p < end)
    # from block 1: kdump_sub_header, then the VMCOREINFO text and the notes
    vmci_at = block_size + 128
    note_at = vmci_at + len(vmcoreinfo)
    sub = struct.pack("<QiiQQQQQQQQQQQ", 0, dump_level, 1 if split else 0, start, end,
                      vmci_at, len(vmcoreinfo), note_at, len(notes), 0, 0, start, end,
                      max_mapnr)
    sub_area = sub.ljust(128, b"\0") + vmcoreinfo + notes
    sub_blocks = -(-len(sub_area) // block_size)
    # each bitmap (RAM, then written pages) takes whole blocks
    half = max(-(-max_mapnr // 8 // block_size), 1) * block_size
    # block 0: disk_dump_header
    utsname = b"".join(s.ljust(65, b"\0") for s in
                       (b"Linux", b"guest", b"9.9.9-test", b"#1", b"x86_64", b"(none)"))
    head = struct.pack("<8si390s6x16sIiiIIIIIii", signature, version, utsname, b"", 0,
                       block_size, sub_blocks, 2 * half // block_size, max_mapnr, len(ram),
                       max_mapnr, len(own), 0, 2)
    out = bytearray(head.ljust(block_size, b"\0"))
    out += sub_area.ljust(sub_blocks * block_size, b"\0")
    out += _bits(ram, half) + _bits(set(pages), half)
    descs_at = len(out)
    data_at = descs_at + 24 * len(own)
    descs, data = bytearray(), bytearray()
    for pfn in own:
        page = pages[pfn]
        packed, flags = (zlib.compress(page), 1) if compress else (page, 0)
        descs += struct.pack("<qIIQ", data_at + len(data), len(packed), flags, 0)
        data += packed
    return bytes(out + descs + data)


def flatten(dump: bytes, chunk: int = 5000) -> bytes:
    """Return ``dump`` as makedumpfile -F writes it: a 4 KiB header, then (offset, size,
    data) records with big-endian 64-bit numbers (here in reverse order), then offset -1."""
    out = bytearray(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
    out = out.ljust(4096, b"\0")
    pieces = [(at, dump[at : at + chunk]) for at in range(0, len(dump), chunk)]
    for at, piece in reversed(pieces):
        out += struct.pack(">qq", at, len(piece)) + piece
    return bytes(out + struct.pack(">qq", -1, 0))


def lime(ranges: list[tuple[int, bytes]]) -> bytes:
    """Return a LiME image: per range a header (magic, version 1, first and last physical
    address, 8 reserved bytes), then the range's bytes."""
    return b"".join(struct.pack("<IIQQ8s", 0x4C694D45, 1, start, start + len(data) - 1, b"")
                    + data for start, data in ranges)


def elf_core(loads: list[tuple[int, int, int, int]], notes: bytes, note_at: int | None = None,
             body: bytes = b"", big_endian: bool = False) -> bytes:
    """Return a 64-bit ELF core header with one PT_NOTE and PT_LOADs (paddr, file offset,
    filesz, memsz); the notes go right after the program headers (or at file offset
    ``note_at``, then not included), and ``body`` after them."""
    e = ">" if big_endian else "<"
    phnum = 1 + len(loads)
    table_end = 64 + 56 * phnum
    at = table_end if note_at is None else note_at
    ehdr = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1, 0]) + bytes(8)
    ehdr += struct.pack(e + "HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    phdrs = struct.pack(e + "IIQQQQQQ", 4, 0, at, 0, 0, len(notes), 0, 4)
    for paddr, offset, filesz, memsz in loads:
        phdrs += struct.pack(e + "IIQQQQQQ", 1, 7, offset, 0, paddr, filesz, memsz, PAGE)
    return ehdr + phdrs + (notes if note_at is None else b"") + body
