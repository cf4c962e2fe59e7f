"""Make the raw forms of the fixture from its unfiltered vmcore (``vmcore.full``).

``/dev/oldmem`` is the crashed machine's memory with file offset = physical
address; kexec put its ELF core header at the capture kernel's ``elfcorehdr=``
address, with PT_NOTEs pointing at each CPU's ``crash_notes`` and at the
VMCOREINFO note, and PT_LOADs for RAM. This module lays out exactly that
from the vmcore's PT_LOADs and the guest's own records of those addresses,
and also the same memory as raw images (``file@paddr``) and as a LiME image.
Results are cached in the fixture's ``derived/`` directory.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

PT_LOAD, PT_NOTE = 1, 4
NOTE_SIZE_PER_CPU = 0x400


@dataclass(frozen=True)
class Load:
    """One PT_LOAD of the full vmcore: physical address, file offset, size."""

    paddr: int
    offset: int
    size: int


def loads(vmcore: Path) -> list[Load]:
    """Return the RAM ranges (PT_LOADs) of an ELF vmcore."""
    with open(vmcore, "rb") as f:
        ehdr = f.read(64)
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    out = []
    for i in range(phnum):
        ptype, _fl, off, _va, pa, filesz, _memsz = struct.unpack_from("<IIQQQQQ", table,
                                                                      i * phentsize)
        if ptype == PT_LOAD and filesz:
            out.append(Load(pa, off, filesz))
    # the kernel's text is listed twice: by its own PT_LOAD and inside a RAM range
    return sorted((a for a in out if not any(
        b is not a and b.paddr <= a.paddr and a.paddr + a.size <= b.paddr + b.size
        for b in out)), key=lambda ld: ld.paddr)


def _copy(src: int, dst: int, src_off: int, dst_off: int, size: int) -> None:
    done = 0
    while done < size:
        n = os.copy_file_range(src, dst, size - done, src_off + done, dst_off + done)
        if n <= 0:
            raise OSError("copy_file_range made no progress")
        done += n


def elfcorehdr_address(fixture: Path) -> int:
    """Return the ``elfcorehdr=`` address the capture kernel was given."""
    m = re.search(r"elfcorehdr=(\d+)K", (fixture / "capture-cmdline.txt").read_text())
    assert m, "no elfcorehdr= on the capture kernel's command line"
    return int(m.group(1)) << 10


def kexec_header(fixture: Path, ram: list[Load]) -> bytes:
    """Return an ELF core header as kexec-tools builds it for the crashed kernel."""
    notes = []
    for line in (fixture / "truth" / "crash-notes.txt").read_text().split("\n"):
        if line.strip():
            notes.append((int(line.split()[1], 16), NOTE_SIZE_PER_CPU))
    addr, size = (fixture / "truth" / "vmcoreinfo-addr.txt").read_text().split()
    notes.append((int(addr, 16), int(size, 16)))
    phnum = len(notes) + len(ram)
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr += struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    phdrs = b""
    for paddr, nsize in notes:
        phdrs += struct.pack("<IIQQQQQQ", PT_NOTE, 0, paddr, 0, paddr, nsize, nsize, 0)
    for ld in ram:
        phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, 7, ld.paddr, 0xFFFF888000000000 + ld.paddr,
                             ld.paddr, ld.size, ld.size, 0)
    return ehdr + phdrs


def oldmem_image(fixture: Path) -> tuple[Path, int]:
    """Return ``(image, elfcorehdr address)``: a file laid out like /dev/oldmem."""
    out = fixture / "derived" / "oldmem.img"
    hdr_addr = elfcorehdr_address(fixture)
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        full = fixture / "vmcore.full"
        ram = loads(full)
        tmp = out.with_suffix(".tmp")
        with open(full, "rb") as src, open(tmp, "wb") as dst:
            for ld in ram:
                _copy(src.fileno(), dst.fileno(), ld.offset, ld.paddr, ld.size)
            header = kexec_header(fixture, ram)
            assert not any(ld.paddr <= hdr_addr < ld.paddr + ld.size for ld in ram)
            dst.seek(hdr_addr)
            dst.write(header)
        tmp.rename(out)
    return out, hdr_addr


def raw_images(fixture: Path) -> list[str]:
    """Return ``file@paddr`` specs of raw RAM images, one per RAM range."""
    base = fixture / "derived" / "raw"
    ram = loads(fixture / "vmcore.full")
    specs = [f"{base / f'ram{i}.bin'}@{ld.paddr:#x}" for i, ld in enumerate(ram)]
    if not (base / "COMPLETE").exists():
        base.mkdir(parents=True, exist_ok=True)
        with open(fixture / "vmcore.full", "rb") as src:
            for i, ld in enumerate(ram):
                with open(base / f"ram{i}.bin", "wb") as dst:
                    _copy(src.fileno(), dst.fileno(), ld.offset, 0, ld.size)
        (base / "COMPLETE").write_text("")
    return specs


def lime_image(fixture: Path) -> Path:
    """Return a LiME image of the same memory: a 32-byte header before each range."""
    out = fixture / "derived" / "memory.lime"
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with open(fixture / "vmcore.full", "rb") as src, open(tmp, "wb") as dst:
            pos = 0
            for ld in loads(fixture / "vmcore.full"):
                dst.write(struct.pack("<IIQQ8s", 0x4C694D45, 1, ld.paddr,
                                      ld.paddr + ld.size - 1, b""))
                pos += 32
                _copy(src.fileno(), dst.fileno(), ld.offset, pos, ld.size)
                pos += ld.size
                dst.seek(pos)
        tmp.rename(out)
    return out
