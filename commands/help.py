"""help: list the commands, or show one command's help page."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.cmdlib.render import blocks
from pycrash.command import Command, Result, arg, command
from pycrash.errors import CommandError, DumpError
from pycrash.memory.dumpheader import (
    ElfHeader,
    ElfNote,
    ElfPhdr,
    KdumpHeader,
    PrStatusNote,
    header_of,
    saved_registers,
)
from pycrash.records import Prose
from pycrash.session import Session


@dataclass(frozen=True)
class ArgumentHelp:
    """One flag or argument of a command, and what it does ("" when undocumented)."""

    flags: list[str]
    help: str


@dataclass(frozen=True)
class HelpEntry:
    """A command's help: name, one-line summary, synopsis, aliases, the module that
    defines it, its description and examples (free text) and its arguments."""

    name: str
    summary: str
    synopsis: str
    aliases: list[str]
    module: str
    description: Prose
    examples: Prose
    arguments: list[ArgumentHelp]


@dataclass(frozen=True)
class HelpView:
    """The plugins that failed to load, warned about under the list of commands."""

    plugin_errors: list[str]


def entry(cmd: Command) -> HelpEntry:
    """Return the :class:`HelpEntry` of a command."""
    return HelpEntry(cmd.name, cmd.summary, cmd.synopsis, list(cmd.aliases), cmd.module,
                     cmd.description.strip("\n"), cmd.examples.strip("\n"),
                     [ArgumentHelp(list(a.names), str(a.options.get("help") or ""))
                      for a in cmd.arguments])


def render_list(result: Result) -> Iterable[str]:
    """crash's help: every command's name in columns, then each with its summary."""
    names = [e.name for e in result.rows]
    width = max((len(n) for n in names), default=8) + 2
    per_line = max(1, 78 // width)
    for i in range(0, len(names), per_line):
        yield "".join(n.ljust(width) for n in names[i : i + per_line]).rstrip()
    yield ""
    for e in result.rows:
        alias = f" (alias: {', '.join(e.aliases)})" if e.aliases else ""
        yield f"{e.name:<10} {e.summary}{alias}"
    for err in (result.view.plugin_errors if result.view is not None else []):
        yield f"WARNING: {err}"


def _indented(text: str) -> list[str]:
    return [f"  {s}" if s else "" for s in text.splitlines()]


def page_lines(e: HelpEntry) -> list[str]:
    """Return crash-style help: NAME, SYNOPSIS, ALIASES, DESCRIPTION, EXAMPLES."""
    lines = ["NAME", f"  {e.name} - {e.summary}", "", "SYNOPSIS", f"  {e.synopsis}"]
    if e.aliases:
        lines += ["", "ALIASES", "  " + ", ".join(e.aliases)]
    lines += ["", "DESCRIPTION", *_indented(e.description)]
    if e.arguments:
        lines.append("")
        lines += [f"  {', '.join(a.flags):>12}  {a.help}" for a in e.arguments if a.help]
    if e.examples.strip():
        lines += ["", "EXAMPLES", *_indented(e.examples)]
    return lines


def render_pages(result: Result) -> Iterable[str]:
    """crash's help COMMAND: each command's page, a blank line between."""
    return blocks(result.rows, page_lines)


# -- help -r: the registers each CPU saved --------------------------------------------

@dataclass(frozen=True)
class CpuRegisters:
    """``help -r``: the registers a CPU saved at the crash (its NT_PRSTATUS note in the
    dump file, else the kernel's ``crash_notes``), by ``user_regs_struct`` name."""

    cpu: int
    registers: dict[str, int]
    arch: str
    fpvalid: int = 0


_X86_64_LINES = (("RIP", "rip", 16), ("RSP", "rsp", 16), ("RFLAGS", "eflags", 8)), \
    (("RAX", "rax", 16), ("RBX", "rbx", 16), ("RCX", "rcx", 16)), \
    (("RDX", "rdx", 16), ("RSI", "rsi", 16), ("RDI", "rdi", 16)), \
    (("RBP", "rbp", 16), (" R8", "r8", 16), (" R9", "r9", 16)), \
    (("R10", "r10", 16), ("R11", "r11", 16), ("R12", "r12", 16)), \
    (("R13", "r13", 16), ("R14", "r14", 16), ("R15", "r15", 16)), \
    (("CS", "cs", 4), ("SS", "ss", 4))


def register_lines(row: CpuRegisters) -> list[str]:
    """crash's display_regs_from_elf_notes() text of one CPU (x86-64 or arm64)."""
    r = row.registers
    if row.arch == "AARCH64":
        lines = []
        for i in range(0, 30, 3):
            lines.append("   " + "  ".join(f"{f'X{j}':>3}: {r.get(f'x{j}', 0):016x}"
                                           for j in range(i, i + 3)))
        lines.append("   " + "  ".join(f"{label:>3}: {r.get(name, 0):016x}" for label, name
                                       in (("LR", "x30"), ("SP", "sp"), ("PC", "pc"))))
        lines.append(f"   PSTATE: {r.get('pstate', 0):08x}   FPVALID: {row.fpvalid:08x}")
        return lines
    return ["    " + "  ".join(f"{label}: {r.get(name, 0):0{width}x}"
                               for label, name, width in line) for line in _X86_64_LINES]


def render_registers(result: Result) -> Iterable[str]:
    """crash's help -r: ``CPU N:`` then its registers, a blank line between CPUs."""
    for i, row in enumerate(result.rows):
        if i:
            yield ""
        yield f"CPU {row.cpu}:"
        yield from register_lines(row)


def cpu_registers(session: Session) -> list[CpuRegisters]:
    """The registers each CPU saved: the dump file's NT_PRSTATUS notes, else (sources
    without a dump file header) the kernel's own ``crash_notes``."""
    prog = session.prog
    arch = prog.platform.arch.name if prog.platform is not None else ""
    if arch not in ("X86_64", "AARCH64"):
        raise CommandError("-r option not supported for this dumpfile")
    try:
        notes = saved_registers(session.target)
    except DumpError:
        notes = None
    if notes:
        return [CpuRegisters(cpu, n.registers, arch, n.fpvalid) for cpu, n in enumerate(notes)]
    from pycrash.cmdlib.select import dump_cpus
    from pycrash.kernel.crashnotes import saved_registers as kernel_notes

    rows = []
    for cpu in dump_cpus(prog):
        found = kernel_notes(prog, cpu)
        if found is not None:
            regs = {_PT_TO_USER.get(k, k): v for k, v in found[1].items()}
            rows.append(CpuRegisters(cpu, regs, arch))
    if not rows:
        raise CommandError("no registers saved: the dump has no NT_PRSTATUS notes")
    return rows


#: struct pt_regs member names -> user_regs_struct names (x86-64)
_PT_TO_USER = {"bp": "rbp", "bx": "rbx", "ax": "rax", "cx": "rcx", "dx": "rdx", "si": "rsi",
               "di": "rdi", "orig_ax": "orig_rax", "ip": "rip", "flags": "eflags", "sp": "rsp"}


# -- help -D: the dump file's headers -------------------------------------------------

_STATUS = ((0x1, "DUMP_DH_COMPRESSED_ZLIB"), (0x2, "DUMP_DH_COMPRESSED_LZO"),
           (0x4, "DUMP_DH_COMPRESSED_SNAPPY"), (0x20, "DUMP_DH_COMPRESSED_ZSTD"),
           (0x8, "DUMP_DH_COMPRESSED_INCOMPLETE"), (0x10, "DUMP_DH_EXCLUDED_VMEMMAP"))
_DUMP_LEVEL = ((0x1, "DUMP_EXCLUDE_ZERO"), (0x2, "DUMP_EXCLUDE_CACHE"),
               (0x4, "DUMP_EXCLUDE_CACHE_PRI"), (0x8, "DUMP_EXCLUDE_USER_DATA"),
               (0x10, "DUMP_EXCLUDE_FREE"))


def prstatus_lines(p: PrStatusNote, indent: int) -> list[str]:
    """crash's display_prstatus_x86_64(): the note's signal, ids, times and registers."""
    sp = " " * indent
    r = p.registers
    t = p.times
    lines = [f"{sp}si.signo: {p.signo}  si.code: {p.code}  si.errno: {p.errno}",
             f"{sp}cursig: {p.cursig}  sigpend: {p.sigpend:x}  sighold: {p.sighold:x}",
             f"{sp}pid: {p.pid}  ppid: {p.ppid}  pgrp: {p.pgrp}  sid:{p.sid}",
             f"{sp}utime: {t[0][0]}.{t[0][1]:06d}  stime: {t[1][0]}.{t[1][1]:06d}",
             f"{sp}cutime: {t[2][0]}.{t[2][1]:06d}  cstime: {t[3][0]}.{t[3][1]:06d}"]
    if "orig_rax" not in r:  # arm64: the registers as help -r shows them
        return lines + [sp + line.lstrip() for line in register_lines(
            CpuRegisters(0, r, "AARCH64", p.fpvalid))]
    pairs = (("R15", "r15", "R14", "r14"), ("R13", "r13", "R12", "r12"),
             ("RBP", "rbp", "RBX", "rbx"), ("R11", "r11", "R10", "r10"),
             (" R9", "r9", " R8", "r8"), ("RAX", "rax", "RCX", "rcx"),
             ("RDX", "rdx", "RSI", "rsi"), ("RDI", "rdi", "RIP", "rip"))
    lines.append(f"{sp}ORIG_RAX: {r['orig_rax']:x}  fpvalid: {p.fpvalid}")
    lines += [f"{sp}     {a}: {r[ka]:016x}  {b}: {r[kb]:016x}" for a, ka, b, kb in pairs]
    lines += [f"{sp}  RFLAGS: {r['eflags']:016x}  RSP: {r['rsp']:016x}",
              f"{sp} FS_BASE: {r['fs_base']:016x}",
              f"{sp} GS_BASE: {r['gs_base']:016x}",
              f"{sp}      CS: {r['cs']:04x}  SS: {r['ss']:04x}  DS: {r['ds']:04x}",
              f"{sp}      ES: {r['es']:04x}  FS: {r['fs']:04x}  GS: {r['gs']:04x}"]
    return lines


def _flags(value: int, names: tuple[tuple[int, str], ...]) -> str:
    return "|".join(n for bit, n in names if value & bit)


def _text_lines(text: str, indent: int) -> list[str]:
    """A VMCOREINFO-style text, each line indented (crash prints it as it is)."""
    return [" " * indent + line for line in text.rstrip("\n").split("\n")]


def kdump_lines(h: KdumpHeader) -> list[str]:
    """crash's help -D of a compressed kdump file (__diskdump_memory_dump()): the
    header's and sub-header's fields, without crash's own pointers and page cache."""
    out = ["diskdump_data: ", f"          filename: {h.filename}",
           f"      machine_type: {h.machine_type} ({h.machine_name})", "",
           f'           signature: "{h.signature}"',
           f"      header_version: {h.header_version}", "             utsname:"]
    out += [f"{name:>22}: {value}" for name, value in h.utsname.items()]
    out += ["           timestamp:", f"                tv_sec: {h.tv_sec:x}",
            f"               tv_usec: {h.tv_usec:x}",
            f"              status: {h.status:x} ({_flags(h.status, _STATUS)})",
            f"          block_size: {h.block_size}", f"        sub_hdr_size: {h.sub_hdr_size}",
            f"       bitmap_blocks: {h.bitmap_blocks}", f"           max_mapnr: {h.max_mapnr}",
            f"    total_ram_blocks: {h.total_ram_blocks}",
            f"       device_blocks: {h.device_blocks}",
            f"      written_blocks: {h.written_blocks}",
            f"         current_cpu: {h.current_cpu}", f"             nr_cpus: {h.nr_cpus}"]
    for i, task in enumerate(h.tasks):
        out.append(f"{'tasks[nr_cpus]: ' if i == 0 else '':>22}{task:x}")
    level = _flags(h.dump_level, _DUMP_LEVEL)
    out += ["", "        sub_header: 0 (n/a)", "",
            f"  sub_header_kdump: {h.block_size:x} (at byte {h.block_size:#x})",
            f"           phys_base: {h.phys_base:x}",
            f"          dump_level: {h.dump_level} ({h.dump_level:#x}) "
            + (f"({level})" if h.dump_level else "")]
    split = bool(h.split)
    if h.header_version >= 2:
        out += [f"               split: {h.split}",
                "           start_pfn: " + (f"{h.start_pfn} ({h.start_pfn:#x})" if split
                                           else "(unused)"),
                "             end_pfn: " + (f"{h.end_pfn} ({h.end_pfn:#x})" if split
                                           else "(unused)")]
    if h.header_version >= 3:
        out += [f"   offset_vmcoreinfo: {h.offset_vmcoreinfo} ({h.offset_vmcoreinfo:#x})",
                f"     size_vmcoreinfo: {h.size_vmcoreinfo} ({h.size_vmcoreinfo:#x})"]
        if h.vmcoreinfo:
            out += _text_lines(h.vmcoreinfo, 22)
    if h.header_version >= 4:
        out += [f"         offset_note: {h.offset_note} ({h.offset_note:#x})",
                f"           size_note: {h.size_note} ({h.size_note:#x})",
                f"  num_prstatus_notes: {len(h.prstatus)}"]
        for i, p in enumerate(h.prstatus):
            out.append(f"{f'notes[{i}]':>20}: {p.offset:x} (NT_PRSTATUS)")
            out += prstatus_lines(p, 22)
        if h.note_offsets:
            out += [f"{'NOTE offsets: ' if i == 0 else '':>22}{at:x} ({kind})"
                    for i, (at, kind) in enumerate(h.note_offsets)]
    if h.header_version >= 5:
        out += [f"    offset_eraseinfo: {h.offset_eraseinfo} ({h.offset_eraseinfo:#x})",
                f"      size_eraseinfo: {h.size_eraseinfo} ({h.size_eraseinfo:#x})"]
    if h.header_version >= 6:
        out += ["        start_pfn_64: " + (f"{h.start_pfn_64} ({h.start_pfn_64:#x})"
                                           if split else "(unused)"),
                "          end_pfn_64: " + (f"{h.end_pfn_64} ({h.end_pfn_64:#x})"
                                           if split else "(unused)"),
                f"        max_mapnr_64: {h.max_mapnr_64} ({h.max_mapnr_64:#x})"]
    shift = h.block_size.bit_length() - 1
    max_mapnr = h.max_mapnr_64 if h.header_version >= 6 else h.max_mapnr
    out += ["", f"       data_offset: {h.data_offset:x}", f"        block_size: {h.block_size}",
            f"       block_shift: {shift}", f"        bitmap_len: {h.bitmap_blocks * h.block_size}",
            f"         max_mapnr: {max_mapnr} ({max_mapnr:#x})"]
    return out


_CLASS = {0: "ELFCLASSNONE", 1: "ELFCLASS32", 2: "ELFCLASS64"}
_DATA = {0: "ELFDATANONE", 1: "ELFDATA2LSB", 2: "ELFDATA2MSB"}
_OSABI = {0: "ELFOSABI_SYSV", 1: "ELFOSABI_HPUX", 3: "ELFOSABI_LINUX", 97: "ELFOSABI_ARM",
          255: "ELFOSABI_STANDALONE"}
_ETYPE = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_EMACHINE = {3: "EM_386", 50: "EM_IA_64", 21: "EM_PPC64", 62: "EM_X86_64", 22: "EM_S390",
             40: "EM_ARM", 183: "EM_AARCH64", 258: "EM_LOONGARCH"}
_PTYPE = {0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE",
          5: "PT_SHLIB", 6: "PT_PHDR"}
_NTYPE = {1: "NT_PRSTATUS", 2: "NT_FPREGSET", 3: "NT_PRPSINFO", 4: "NT_TASKSTRUCT"}


def _phdr_lines(p: ElfPhdr) -> list[str]:
    flags = "|".join(n for bit, n in ((1, "PF_X"), (2, "PF_W"), (4, "PF_R")) if p.flags & bit)
    return ["Elf64_Phdr:", f"                 p_type: {p.type:x} ({_PTYPE.get(p.type, '?')})",
            f"               p_offset: {p.offset} ({p.offset:x})",
            f"                p_vaddr: {p.vaddr:x}", f"                p_paddr: {p.paddr:x}",
            f"               p_filesz: {p.filesz} ({p.filesz:x})",
            f"                p_memsz: {p.memsz} ({p.memsz:x})",
            f"                p_flags: {p.flags:x} ({flags})",
            f"                p_align: {p.align}"]


def _note_lines(n: ElfNote) -> list[str]:
    if n.prstatus is not None or n.type in _NTYPE:
        kind = _NTYPE.get(n.type, "?")
    elif n.name.startswith(("VMCOREINFO", "ERASEINFO")):
        kind = "unused"
    elif n.name == "QEMU":
        kind = "QEMUCPUState"
    else:
        kind = "?"
    out = ["Elf64_Nhdr:", f'               n_namesz: {len(n.name) + 1} ("{n.name}")',
           f"               n_descsz: {n.descsz}", f"                 n_type: {n.type:x} ({kind})"]
    if n.name.startswith(("VMCOREINFO", "ERASEINFO")):
        return out + _text_lines(n.text, 25)
    if n.prstatus is not None:
        out += prstatus_lines(n.prstatus, 25)
    if n.descsz == 4:
        return out + [f"{'':25}{n.words[0] if n.words else 0:08x}"]
    words = n.words
    out += [f"{'':25}" + "".join(f"{w:016x} " for w in words[i : i + 2])
            for i in range(0, len(words), 2)]
    return out


def elf_lines(h: ElfHeader) -> list[str]:
    """crash's help -D of an ELF dump (netdump_memory_dump()): the PT_LOAD segments as
    crash keeps them, the ELF header, each program header and each note, without crash's
    own pointers."""
    loads = [p for p in h.phdrs if p.type == 1]
    prstatus = sum(1 for n in h.notes if n.prstatus is not None)
    info = next((n for n in h.notes if n.name == "VMCOREINFO"), None)
    out = ["vmcore_data: ", f"               filename: {h.filename}",
           f"            header_size: {h.header_size}",
           f"   num_pt_load_segments: {len(loads)}"]
    for i, p in enumerate(loads):
        zero = 0 if p.filesz == p.memsz else p.paddr + p.memsz
        out += [f"     pt_load_segment[{i}]:", f"            file_offset: {p.offset:x}",
                f"             phys_start: {p.paddr:x}",
                f"               phys_end: {p.paddr + p.filesz:x}",
                f"              zero_fill: {zero:x}"]
    out += [f"     num_prstatus_notes: {prstatus}",
            f"         num_qemu_notes: {sum(1 for n in h.notes if n.name == 'QEMU')}",
            f"        size_vmcoreinfo: {info.descsz if info else 0}", ""]
    ident = h.ident
    out += ["Elf64_Ehdr:", f"                e_ident: \\{ident[0]:o}{ident[1:4].decode()}",
            f"      e_ident[EI_CLASS]: 2 ({_CLASS[2]})", f"       e_ident[EI_DATA]: 1 ({_DATA[1]})",
            "    e_ident[EI_VERSION]: 1 (EV_CURRENT)",
            "      e_ident[EI_OSABI]: 0 (ELFOSABI_SYSV)", " e_ident[EI_ABIVERSION]: 0",
            f"                 e_type: {h.type} ({_ETYPE.get(h.type, '?')})",
            f"              e_machine: {h.machine} ({_EMACHINE.get(h.machine, 'unsupported')})",
            f"              e_version: {h.version} {'(EV_CURRENT)' if h.version == 1 else ''}",
            f"                e_entry: {h.entry:x}", f"                e_phoff: {h.phoff:x}",
            f"                e_shoff: {h.shoff:x}", f"                e_flags: {h.flags:x}",
            f"               e_ehsize: {h.ehsize:x}", f"            e_phentsize: {h.phentsize:x}",
            f"                e_phnum: {h.phnum:x}", f"            e_shentsize: {h.shentsize:x}",
            f"                e_shnum: {h.shnum:x}", f"             e_shstrndx: {h.shstrndx:x}"]
    for p in h.phdrs:
        out += _phdr_lines(p)
    for n in h.notes:
        out += _note_lines(n)
    return out


def render_dump_header(result: Result) -> Iterable[str]:
    """crash's help -D: the dump file's headers, field by field."""
    for row in result.rows:
        yield from kdump_lines(row) if isinstance(row, KdumpHeader) else elf_lines(row)


@command(
    "help",
    summary="get help",
    synopsis="help [command] ... | -D | -r",
    aliases=("?", "man"),
    description="""
With no argument, lists every command, built-in and plugin. With command
names, shows each one's help page: synopsis, description and examples.

-D (or -n) shows the dump file's own headers field by field, as crash does: a
compressed kdump file's disk_dump_header and kdump_sub_header (with the VMCOREINFO
text and each CPU's NT_PRSTATUS note decoded), or an ELF dump's Elf64_Ehdr, each
program header and each note; crash's own in-memory state (its pointers, page cache
statistics) is left out. -r shows the registers each CPU saved at the crash, from
the dump file's NT_PRSTATUS notes (the kernel's crash_notes for images without
them).
""",
    examples="""
crash> help ps
crash> help -D
crash> help -r
""",
    records=(HelpEntry, ArgumentHelp, CpuRegisters, KdumpHeader, ElfHeader, ElfPhdr, ElfNote,
             PrStatusNote),
    arguments=(
        arg("-D", "-n", dest="dumpfile", action="store_true",
            help="the dump file's headers (dumpfile contents)"),
        arg("-r", dest="registers", action="store_true",
            help="the registers each CPU saved in the dump file"),
        arg("names", nargs="*", metavar="command"),
    ),
)
def help_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`HelpEntry` per command (all, or those named); -D the dump file's
    headers, -r each CPU's saved registers."""
    if args.dumpfile:
        try:
            return Result([header_of(session.target)], render=render_dump_header)
        except DumpError as exc:
            raise CommandError(f"-D: {exc}") from None
    if args.registers:
        return Result(cpu_registers(session), render=render_registers)
    reg = session.registry
    cmds = [reg.lookup(n) for n in args.names] if args.names else reg.commands()
    rows = [entry(c) for c in cmds]
    if args.names:
        return Result(rows, render=render_pages)
    return Result(rows, render=render_list, view=HelpView(list(reg.plugin_errors)))
