"""A dump file's own headers, field by field (``help -D``), and the registers its notes
saved per CPU (``help -r``).

Two layouts are described: makedumpfile's compressed kdump file (``disk_dump_header``,
``kdump_sub_header``, the notes and VMCOREINFO it copies) and an ELF core (``Elf64_Ehdr``,
each ``Elf64_Phdr``, each note). Every value is read from the file, through the byte
source pycrash reads it with (so a flattened file's logical offsets); nothing here is
pycrash's own state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory import elffile
from pycrash.memory.elfcore import NT_PRSTATUS
from pycrash.memory.source import ByteSource
from pycrash.records import Hex, Prose

if TYPE_CHECKING:
    from pycrash.target import Target

#: struct user_regs_struct of x86-64, pr_reg's 27 words, in order
X86_64_USER_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
                    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")
#: arm64's user_pt_regs: x0-x30, sp, pc, pstate
ARM64_USER_REGS = (*(f"x{i}" for i in range(31)), "sp", "pc", "pstate")
#: struct elf_prstatus up to pr_reg (64-bit): the signal info, cursig, sigpend, sighold,
#: the four ids and four struct timevals
_PRSTATUS_HEAD = struct.Struct("<iiih2xQQiiii8q")
PR_REG_OFFSET = _PRSTATUS_HEAD.size  # 112


@dataclass(frozen=True)
class PrStatusNote:
    """An NT_PRSTATUS note: where it starts in the file, the signal and ids it records,
    the four times (seconds, microseconds), the registers of ``pr_reg`` by their
    ``user_regs_struct`` names, ``pr_fpvalid``, and the descriptor as 64-bit words."""

    offset: Hex
    signo: int
    code: int
    errno: int
    cursig: int
    sigpend: Hex
    sighold: Hex
    pid: int
    ppid: int
    pgrp: int
    sid: int
    times: list[tuple[int, int]]
    registers: dict[str, int]
    fpvalid: int
    words: list[int]


def prstatus_note(desc: bytes, offset: int, arch: str) -> PrStatusNote | None:
    """Return the :class:`PrStatusNote` of an NT_PRSTATUS descriptor (``arch`` "X86_64" or
    "AARCH64" names its registers), None when it is too short to hold them."""
    names = X86_64_USER_REGS if arch == "X86_64" else ARM64_USER_REGS
    if len(desc) < PR_REG_OFFSET + 8 * len(names) + 4:
        return None
    (signo, code, err, cursig, sigpend, sighold, pid, ppid, pgrp, sid,
     *times) = _PRSTATUS_HEAD.unpack_from(desc)
    regs = dict(zip(names, struct.unpack_from(f"<{len(names)}Q", desc, PR_REG_OFFSET),
                    strict=True))
    fpvalid, = struct.unpack_from("<i", desc, PR_REG_OFFSET + 8 * len(names))
    words = list(struct.unpack_from(f"<{len(desc) // 8}Q", desc))
    return PrStatusNote(offset, signo, code, err, cursig, sigpend, sighold, pid, ppid, pgrp,
                        sid, [(times[i], times[i + 1]) for i in range(0, 8, 2)], regs, fpvalid,
                        words)


def _notes_at(data: bytes, base: int) -> list[tuple[int, elffile.Note]]:
    """The notes of a notes area with the file offset of each."""
    out = []
    pos = 0
    for note in elffile.parse_notes(data):
        out.append((base + pos, note))
        raw_name = len(note.name) + 1 if note.name else 0
        pos += 12 + ((raw_name + 3) & ~3) + ((len(note.desc) + 3) & ~3)
    return out


# -- kdump --------------------------------------------------------------------------

#: disk_dump_header: signature, header_version, utsname (6 x 65), the timeval, status,
#: block_size, sub_hdr_size, bitmap_blocks, max_mapnr, total_ram_blocks, device_blocks,
#: written_blocks, current_cpu, nr_cpus
_DISK_DUMP_HEADER = struct.Struct("<8si390s6xqqiiiIIIIIIi")
#: kdump_sub_header (64-bit): phys_base, dump_level, split, start_pfn, end_pfn,
#: offset/size of VMCOREINFO, of the notes and of the erase info, start_pfn_64, end_pfn_64,
#: max_mapnr_64
_SUB_HEADER = struct.Struct("<QiiQQQQQQQQQQQ")
UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
#: utsname.machine -> ELF e_machine and its name, as crash shows a kdump file's machine_type
MACHINES = {"x86_64": (62, "EM_X86_64"), "aarch64": (183, "EM_AARCH64")}


@dataclass(frozen=True)
class KdumpHeader:
    """``help -D`` of a compressed kdump file: every field of its ``disk_dump_header``
    (utsname by field, the tasks array) and ``kdump_sub_header`` (where and how large the
    VMCOREINFO text, the notes and the erase info are, the 64-bit pfn range), the
    VMCOREINFO text, each NT_PRSTATUS note decoded, the offset of each note, and where the
    page descriptors start (``data_offset``)."""

    filename: str
    flattened: bool
    signature: str
    header_version: int
    utsname: dict[str, str]
    tv_sec: Hex
    tv_usec: Hex
    status: int
    block_size: int
    sub_hdr_size: int
    bitmap_blocks: int
    max_mapnr: int
    total_ram_blocks: int
    device_blocks: int
    written_blocks: int
    current_cpu: int
    nr_cpus: int
    tasks: list[Hex]
    phys_base: Hex
    dump_level: int
    split: int
    start_pfn: int
    end_pfn: int
    offset_vmcoreinfo: int
    size_vmcoreinfo: int
    vmcoreinfo: Prose
    offset_note: int
    size_note: int
    prstatus: list[PrStatusNote]
    note_offsets: list[tuple[int, str]]
    offset_eraseinfo: int
    size_eraseinfo: int
    start_pfn_64: int
    end_pfn_64: int
    max_mapnr_64: int
    data_offset: Hex
    machine_type: int
    machine_name: str


def kdump_header(source: ByteSource, flattened: bool = False) -> KdumpHeader:
    """Return the :class:`KdumpHeader` of the kdump file in ``source``; :class:`DumpError`
    when it is cut short."""
    head = source.pread(0, _DISK_DUMP_HEADER.size)
    if len(head) < _DISK_DUMP_HEADER.size:
        raise DumpError(f"{source.path}: truncated kdump header")
    (sig, version, uts, tv_sec, tv_usec, status, block_size, sub_hdr_size, bitmap_blocks,
     max_mapnr, ram, dev, written, cpu, nr_cpus) = _DISK_DUMP_HEADER.unpack(head)
    names = [uts[i * 65 : (i + 1) * 65].split(b"\0", 1)[0].decode("utf-8", "replace")
             for i in range(6)]
    utsname = dict(zip(UTS_FIELDS, names, strict=True))
    ncpus = max(0, min(nr_cpus, 1 << 16))
    raw_tasks = source.pread(_DISK_DUMP_HEADER.size, 8 * ncpus)
    tasks = list(struct.unpack_from(f"<{len(raw_tasks) // 8}Q", raw_tasks))
    sub = source.pread(block_size, _SUB_HEADER.size).ljust(_SUB_HEADER.size, b"\0")
    (phys_base, dump_level, split, start_pfn, end_pfn, off_info, size_info, off_note,
     size_note, off_erase, size_erase, start64, end64, mapnr64) = _SUB_HEADER.unpack(sub)
    if version < 6:
        start64 = end64 = mapnr64 = 0
    if version < 5:
        off_erase = size_erase = 0
    if version < 4:
        off_note = size_note = 0
    if version < 3:
        off_info = size_info = 0
    info = source.pread(off_info, size_info).decode("utf-8", "replace") if size_info else ""
    arch = "AARCH64" if utsname["machine"] == "aarch64" else "X86_64"
    notes = _notes_at(source.pread(off_note, size_note), off_note) if size_note else []
    prstatus = [p for at, n in notes if n.type == NT_PRSTATUS and n.name == b"CORE"
                for p in [prstatus_note(n.desc, at, arch)] if p is not None]
    offsets = [(at, "NT_PRSTATUS" if n.type == NT_PRSTATUS else "QEMU") for at, n in notes
               if n.type == NT_PRSTATUS or n.name == b"QEMU"]
    machine_type, machine_name = MACHINES.get(utsname["machine"], (0, "unknown"))
    return KdumpHeader(
        source.path, flattened, sig.replace(b"\0", b"").decode("ascii", "replace"), version,
        utsname, tv_sec, tv_usec, status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr,
        ram, dev, written, cpu, nr_cpus, tasks, phys_base, dump_level, split,
        start_pfn, end_pfn, off_info, size_info, info, off_note, size_note, prstatus, offsets,
        off_erase, size_erase, start64, end64, mapnr64,
        (1 + sub_hdr_size + bitmap_blocks) * block_size, machine_type, machine_name)


# -- ELF ----------------------------------------------------------------------------

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")


@dataclass(frozen=True)
class ElfPhdr:
    """One program header of an ELF dump (``Elf64_Phdr``), every field."""

    type: int
    flags: int
    offset: int
    vaddr: Hex
    paddr: Hex
    filesz: int
    memsz: int
    align: int


@dataclass(frozen=True)
class ElfNote:
    """One note of an ELF dump: its owner, descriptor size and type, the NT_PRSTATUS
    decoded, the VMCOREINFO (or ERASEINFO) text, or the descriptor as 64-bit words."""

    name: str
    descsz: int
    type: int
    prstatus: PrStatusNote | None = None
    text: Prose = ""
    words: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ElfHeader:
    """``help -D`` of an ELF dump: the ``Elf64_Ehdr`` fields, each program header and
    note, and the header's size (up to the first PT_LOAD's data)."""

    filename: str
    ident: bytes
    type: int
    machine: int
    version: int
    entry: Hex
    phoff: Hex
    shoff: Hex
    flags: Hex
    ehsize: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int
    phdrs: list[ElfPhdr]
    notes: list[ElfNote]
    header_size: int


def elf_header(source: ByteSource) -> ElfHeader:
    """Return the :class:`ElfHeader` of the 64-bit little-endian ELF dump in ``source``;
    :class:`DumpError` when it is not one or is cut short."""
    head = source.pread(0, _EHDR.size)
    if len(head) < _EHDR.size or not elffile.is_elf(head) or head[4] != 2 or head[5] != 1:
        raise DumpError(f"{source.path}: not a 64-bit little-endian ELF file")
    (ident, e_type, machine, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum,
     shentsize, shnum, shstrndx) = _EHDR.unpack(head)
    table = source.pread(phoff, phentsize * phnum)
    if phentsize < _PHDR.size or len(table) < phentsize * phnum:
        raise DumpError(f"{source.path}: the program headers are cut off")
    phdrs = []
    for i in range(phnum):
        p_type, p_flags, offset, vaddr, paddr, filesz, memsz, align = _PHDR.unpack_from(
            table, i * phentsize)
        phdrs.append(ElfPhdr(p_type, p_flags, offset, vaddr, paddr, filesz, memsz, align))
    arch = elffile.ARCHES.get(machine, "X86_64")
    notes: list[ElfNote] = []
    for p in phdrs:
        if p.type != elffile.PT_NOTE:
            continue
        for at, n in _notes_at(source.pread(p.offset, p.filesz), p.offset):
            name = n.name.decode("utf-8", "replace")
            if n.type == NT_PRSTATUS and n.name == b"CORE":
                notes.append(ElfNote(name, len(n.desc), n.type,
                                     prstatus=prstatus_note(n.desc, at, arch),
                                     words=_words(n.desc)))
            elif n.name.startswith((b"VMCOREINFO", b"ERASEINFO")):
                notes.append(ElfNote(name, len(n.desc), n.type,
                                     text=n.desc.decode("utf-8", "replace")))
            else:
                notes.append(ElfNote(name, len(n.desc), n.type, words=_words(n.desc)))
    loads = [p.offset for p in phdrs if p.type == elffile.PT_LOAD and p.filesz]
    return ElfHeader(source.path, ident[:4], e_type, machine, version, entry, phoff, shoff,
                     flags, ehsize, phentsize, phnum, shentsize, shnum, shstrndx, phdrs, notes,
                     min(loads, default=0))


def _words(desc: bytes) -> list[int]:
    return list(struct.unpack_from(f"<{len(desc) // 8}Q", desc))


def header_of(target: Target) -> KdumpHeader | ElfHeader:
    """Return the headers of the dump ``target`` opened: a kdump file's (also flattened,
    or the first part of a split set), or an ELF dump's. :class:`DumpError` for the
    sources that have none (raw memory images, LiME, /dev/mem, the live kernel)."""
    from pycrash.memory.formats.base import DumpKind
    from pycrash.memory.source import FileSource

    kind = target.kind
    if kind in (DumpKind.KDUMP, DumpKind.FLATTENED, DumpKind.SPLIT):
        kd = target.kdump
        if kd is None:
            from pycrash.memory.formats.kdump import KdumpFile

            kd = KdumpFile(FileSource(target.dumpfiles[0]))
        return kdump_header(kd.source, flattened=kind == DumpKind.FLATTENED)
    if kind == DumpKind.ELF:
        with FileSource(target.dumpfiles[0]) as src:
            return elf_header(src)
    raise DumpError(f"a {kind.name.lower()} source has no dump file header")


def saved_registers(target: Target) -> list[PrStatusNote]:
    """Return the NT_PRSTATUS notes of the dump file, one per CPU that saved its registers
    (in the file's order, which is the CPUs'); :class:`DumpError` where the source has no
    dump file header."""
    found = header_of(target)
    if isinstance(found, KdumpHeader):
        return found.prstatus
    return [n.prstatus for n in found.notes if n.prstatus is not None]
