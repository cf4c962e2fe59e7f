"""Identify a file by its bytes: a vmcore of some format, a vmlinux, or neither.

Only headers are read, so this is fast even for large dumps, and a dump
whose data stops early (a truncated copy) is refused here, before drgn
would fail on a page read in the middle of a command.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from pycrash.errors import DumpError

ELF_MAGIC = b"\x7fELF"
KDUMP_SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
FLAT_SIGNATURE = b"makedumpfile"
LIME_HEAD = struct.pack("<II", 0x4C694D45, 1)
ET_EXEC, ET_DYN, ET_CORE = 2, 3, 4
PT_LOAD, PT_NOTE = 1, 4


@dataclass(eq=False)
class FileKind:
    """What a file is.

    ``kind`` is ``elf-vmcore``, ``kdump`` (makedumpfile's compressed format),
    ``flattened``, ``lime`` or ``vmlinux``; ``partial`` is true for a dump that
    makedumpfile filtered (crash's ``[PARTIAL DUMP]``); ``split`` is true for
    one part of a ``makedumpfile --split`` set.
    """

    path: str
    kind: str
    partial: bool = False
    split: bool = False


def identify(path: str) -> FileKind:
    """Return what ``path`` holds; raise :class:`DumpError` for anything unusable."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
            if head.startswith(ELF_MAGIC):
                return _identify_elf(path, f, head, size)
            if head[:8] in KDUMP_SIGNATURES:
                return _identify_kdump(path, f, head, size)
    except FileNotFoundError:
        raise DumpError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DumpError(f"{path}: is a directory, not a dump file") from None
    except PermissionError:
        raise DumpError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DumpError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(FLAT_SIGNATURE):
        return FileKind(path, "flattened", partial=True)
    if head[:8] == LIME_HEAD:
        return FileKind(path, "lime")
    if not head:
        raise DumpError(f"{path}: empty file, not a dump")
    raise DumpError(
        f"{path}: not a kernel crash dump or vmlinux (unknown format, "
        f"first bytes {head[:8].hex()})"
    )


def _identify_elf(path: str, f: BinaryIO, head: bytes, size: int) -> FileKind:
    if len(head) < 64 or head[4] != 2:
        raise DumpError(f"{path}: only 64-bit ELF files are supported")
    endian = "<" if head[5] == 1 else ">"
    (e_type,) = struct.unpack_from(endian + "H", head, 16)
    if e_type in (ET_EXEC, ET_DYN):
        return FileKind(path, "vmlinux")
    if e_type != ET_CORE:
        raise DumpError(f"{path}: an ELF file, but neither a vmcore nor a vmlinux")
    e_phoff, = struct.unpack_from(endian + "Q", head, 32)
    e_phentsize, e_phnum = struct.unpack_from(endian + "HH", head, 54)
    fh = f
    fh.seek(e_phoff)
    table = fh.read(e_phentsize * e_phnum)
    if len(table) < e_phentsize * e_phnum:
        raise DumpError(f"{path}: truncated vmcore (program headers cut off)")
    notes = 0
    partial = False
    for i in range(e_phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz, p_memsz = struct.unpack_from(
            endian + "IIQQQQQ", table, i * e_phentsize
        )
        if p_type == PT_NOTE:
            notes += 1
        if p_type in (PT_LOAD, PT_NOTE) and p_offset + p_filesz > size:
            raise DumpError(
                f"{path}: truncated vmcore: a segment ends at byte {p_offset + p_filesz:#x} "
                f"but the file has {size:#x} bytes"
            )
        if p_type == PT_LOAD and p_filesz < p_memsz:
            partial = True
    if not notes:
        raise DumpError(f"{path}: an ELF core file without notes, not a kernel vmcore")
    return FileKind(path, "elf-vmcore", partial=partial)


# struct disk_dump_header (makedumpfile's diskdump.h), 64-bit layout.
_DH_FORMAT = "<8si390s6x16sIiiIIIIIii"
_DH_SIZE = struct.calcsize(_DH_FORMAT)
_PAGE_DESC_SIZE = 24  # offset: i64, size: u32, flags: u32, page_flags: u64


def _identify_kdump(path: str, f: BinaryIO, head: bytes, size: int) -> FileKind:
    if len(head) < _DH_SIZE:
        raise DumpError(f"{path}: truncated kdump header")
    fields = struct.unpack_from(_DH_FORMAT, head)
    version = fields[1]
    block_size, sub_hdr_size, bitmap_blocks, max_mapnr = fields[5:9]
    if block_size <= 0 or block_size & (block_size - 1) or sub_hdr_size < 0:
        raise DumpError(f"{path}: corrupt kdump header (block size {block_size})")
    fh = f
    fh.seek(block_size)
    sub = fh.read(104)
    if len(sub) < 32:
        raise DumpError(f"{path}: truncated kdump file (sub-header cut off)")
    dump_level, split, start_pfn, end_pfn = struct.unpack_from("<iiQQ", sub, 8)
    if version >= 6 and len(sub) >= 104:
        start_pfn, end_pfn, max_mapnr = struct.unpack_from("<QQQ", sub, 80)
    bitmap_off = block_size * (1 + sub_hdr_size)
    bitmap_len = block_size * bitmap_blocks
    descs_off = bitmap_off + bitmap_len
    if descs_off > size:
        raise DumpError(f"{path}: truncated kdump file (bitmap cut off)")
    # The second half of the bitmap marks the pages that were written.
    fh.seek(bitmap_off + bitmap_len // 2)
    dumpable = fh.read(bitmap_len // 2)
    bits = int.from_bytes(dumpable, "little")
    if split:
        bits >>= start_pfn
        bits &= (1 << max(end_pfn - start_pfn, 0)) - 1
    else:
        bits &= (1 << max_mapnr) - 1
    npages = bits.bit_count()
    if npages:
        last = descs_off + (npages - 1) * _PAGE_DESC_SIZE
        fh.seek(last)
        desc = fh.read(_PAGE_DESC_SIZE)
        if len(desc) < _PAGE_DESC_SIZE:
            raise DumpError(f"{path}: truncated kdump file (page table cut off)")
        offset, length = struct.unpack_from("<qI", desc)
        if offset + length > size:
            raise DumpError(
                f"{path}: truncated kdump file: page data ends at byte {offset + length:#x} "
                f"but the file has {size:#x} bytes"
            )
    return FileKind(path, "kdump", partial=dump_level > 0, split=bool(split))
