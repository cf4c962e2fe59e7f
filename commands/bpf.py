"""bpf: loaded eBPF programs and maps."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.cmdlib.dumpstruct import crash_struct_dump
from pycrash.cmdlib.resolve import symbol_name
from pycrash.cmdlib.structs import StructDump, dump_lines
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.attsyntax import gdb_instruction
from pycrash.kernel.bpf import (
    BpfMap,
    BpfProg,
    bpf_maps,
    bpf_programs,
    call_target,
    helper_names,
    jited_code,
    type_width,
    xlated_insns,
)
from pycrash.kernel.bpfinsn import Namer, instructions
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class BpfView:
    """How bpf shows its records: programs and/or maps, with their extra data (-p/-P,
    -m/-M), -P and -M's header before each entry, -j, -t and -T, and the width of the type
    columns (from the kernel's enums)."""

    progs: bool
    maps: bool
    prog_detail: bool
    map_detail: bool
    prog_type_width: int
    map_type_width: int
    all_progs: bool = False
    all_maps: bool = False
    jited: bool = False
    xlated: bool = False
    opcodes: bool = False


@dataclass(frozen=True)
class BpfStruct:
    """-s: a program's bpf_prog and bpf_prog_aux, or a map's bpf_map, as gdb shows them."""

    id: int
    structs: list[StructDump]
    map: bool = False


@dataclass(frozen=True)
class BpfInsn:
    """-t/-T: an instruction of a program's translated bytecode: its index, its text
    (the kernel's disassembler's words) and its bytes (16 for an ld_imm64)."""

    prog_id: int
    index: int
    text: str
    bytes: str


@dataclass(frozen=True)
class BpfJited:
    """-j: an instruction of a program's JIT code, as gdb (in crash) prints it: address,
    mnemonic and operands (AT&T), and the symbol crash adds after a last operand that is
    an address it can name."""

    prog_id: int
    address: Hex
    mnemonic: str
    operands: str
    symbol: str = ""


@dataclass(frozen=True)
class BpfNotJited:
    """-j on a program that has no JIT code."""

    prog_id: int


def center(text: str, width: int) -> str:
    """crash's mkstring(CENTER|LJUST): an odd extra space goes to the right."""
    extra = max(width - len(text), 0)
    return " " * (extra // 2) + text + " " * (extra - extra // 2)


def prog_header(v: BpfView) -> str:
    return (f"{center('ID', 4)} {center('BPF_PROG', 16)} {center('BPF_PROG_AUX', 16)} "
            f"{center('BPF_PROG_TYPE', v.prog_type_width)}       TAG        USED_MAPS")


def map_header(v: BpfView) -> str:
    return (f"{center('ID', 4)} {center('BPF_MAP', 16)} "
            f"{center('BPF_MAP_TYPE', v.map_type_width)} MAP_FLAGS")


def load_time_text(p: BpfProg) -> str:
    """LOAD_TIME as crash formats it (``Thu Nov 26 18:27:42 2026``, local time), from the
    dump's own clock (crash adds the load time to the host's boot time)."""
    if p.load_time is None:
        return f"{p.load_time_ns // 1_000_000_000}s after boot"
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(p.load_time))


def prog_lines(p: BpfProg, v: BpfView) -> Iterator[str]:
    used = ",".join(map(str, p.used_maps))
    yield (f"{center(str(p.id), 4)} {center(f'{p.bpf_prog:x}', 16)} "
           f"{center(f'{p.bpf_prog_aux:x}', 16)} {center(p.type, v.prog_type_width)} "
           f"{p.tag} {center(used, 9)} ")
    if v.prog_detail:
        memlock = "(unknown)" if p.memlock is None else str(p.memlock)
        yield f"     XLATED: {p.xlated}  JITED: {p.jited}  MEMLOCK: {memlock}"
        yield f"     LOAD_TIME: {load_time_text(p)}"
        name = f'"{p.name}"' if p.name else "(unused)"
        uid = "(unknown)" if p.uid is None else str(p.uid)
        gpl = "yes" if p.gpl_compatible else "no"
        yield f"     GPL_COMPATIBLE: {gpl}  NAME: {name}  UID: {uid}"


def map_lines(m: BpfMap, v: BpfView) -> Iterator[str]:
    yield (f"{center(str(m.id), 4)} {center(f'{m.bpf_map:x}', 16)} "
           f"{center(m.type, v.map_type_width)}  {m.flags:08x} ")
    if v.map_detail:
        memlock = "(unknown)" if m.memlock is None else str(m.memlock)
        yield (f"     KEY_SIZE: {m.key_size}  VALUE_SIZE: {m.value_size}  "
               f"MAX_ENTRIES: {m.max_entries}  MEMLOCK: {memlock}")
        name = f'"{m.name}"' if m.name else "(unused)"
        uid = "(unused)" if m.uid is None else str(m.uid)
        yield f"     NAME: {name}  UID: {uid}"


def insn_lines(rows: list[BpfInsn], opcodes: bool) -> Iterator[str]:
    """crash's dump_xlated_plain: ``% 4d: text``, with -T the bytes below."""
    for r in rows:
        yield f"{r.index:4d}: {r.text}"
        if opcodes:
            raw = bytes.fromhex(r.bytes)
            yield "       " + " ".join(f"{b:02x}" for b in raw)


def jited_line(r: BpfJited) -> str:
    """gdb's x/i line, then crash's space and symbol."""
    return f"   0x{r.address:x}:\t{r.mnemonic:<6} {r.operands} {r.symbol}"


def render(result: Result) -> Iterable[str]:
    """crash's bpf output: each program (header, line, -p's detail, -j, -t/-T, -s), a
    blank line, each map (header, line, -m's detail, -s)."""
    v: BpfView = result.view
    progs = [r for r in result.rows if isinstance(r, BpfProg)]
    maps = [r for r in result.rows if isinstance(r, BpfMap)]
    structs = {(r.map, r.id): r for r in result.rows if isinstance(r, BpfStruct)}
    insns: dict[int, list[BpfInsn]] = {}
    jited: dict[int, list[BpfJited]] = {}
    not_jited = {r.prog_id for r in result.rows if isinstance(r, BpfNotJited)}
    for r in result.rows:
        if isinstance(r, BpfInsn):
            insns.setdefault(r.prog_id, []).append(r)
        elif isinstance(r, BpfJited):
            jited.setdefault(r.prog_id, []).append(r)
    if v.progs:
        for i, p in enumerate(progs):
            if i and v.all_progs:
                yield ""
            if i == 0 or v.all_progs:
                yield prog_header(v)
            yield from prog_lines(p, v)
            if v.jited:
                yield ""
                if p.id in not_jited:
                    yield "(program not jited)"
                yield from map(jited_line, jited.get(p.id, []))
            if v.xlated:
                yield ""
                yield from insn_lines(insns.get(p.id, []), v.opcodes)
            if (False, p.id) in structs:  # bpf_prog, a blank line, bpf_prog_aux
                for s in structs[(False, p.id)].structs:
                    yield ""
                    yield from dump_lines(s)
        if v.maps:
            yield ""
    if v.maps:
        for i, m in enumerate(maps):
            if i and v.all_maps:
                yield ""
            if i == 0 or v.all_maps:
                yield map_header(v)
            yield from map_lines(m, v)
            if (True, m.id) in structs:
                yield ""
                for s in structs[(True, m.id)].structs:
                    yield from dump_lines(s)


def _xlated(prog: Program, p: BpfProg, maps: list[BpfMap]) -> list[BpfInsn]:
    by_address = {m.bpf_map: m.id for m in maps}
    namer = Namer(map_id=by_address.get, helper=helper_names(prog),
                  kernel_function=call_target(prog))
    try:
        raw = xlated_insns(prog, p)
    except FaultError as exc:
        raise CommandError(f"cannot read the bytecode of program {p.id} at "
                           f"{exc.address:x}") from None
    return [BpfInsn(p.id, n, text, code.hex()) for n, text, code in instructions(raw, namer)]


def _jited(prog: Program, p: BpfProg) -> list[BpfJited] | BpfNotJited:
    """The program's JIT code disassembled as gdb does it for crash; a last operand that
    is an address crash can name gets ``<symbol>`` (gdb names kernel addresses itself)."""
    if not p.jited:
        return BpfNotJited(p.id)
    if prog.platform is None or prog.platform.arch.name != "X86_64":
        raise CommandError("-j disassembles x86-64 JIT code only")
    try:
        code = jited_code(prog, p)
    except FaultError as exc:
        raise CommandError(f"cannot read the JIT code of program {p.id} at "
                           f"{exc.address:x}") from None
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    md.detail = True
    intel = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    start, end = p.bpf_func, p.bpf_func + p.jited

    def kernel_symbol(addr: int) -> str | None:
        if start <= addr < end or addr < 1 << 63:
            return None
        return symbol_name(prog, addr)

    rows: list[BpfJited] = []
    offset = 0
    while offset < len(code):
        ins = next(md.disasm(code[offset:offset + 16], start + offset, 1), None)
        if ins is None:
            break
        base = next(intel.disasm(bytes(ins.bytes), ins.address)).mnemonic
        mnemonic, operands = gdb_instruction(ins, base, kernel_symbol)
        last = operands.split()[-1:]  # crash's last argument: split at blanks only
        symbol = ""
        if last and re.fullmatch(r"(0x)?[0-9a-f]+", last[0]):
            name = kernel_symbol(int(last[0], 16))
            symbol = f"<{name}>" if name else ""
        rows.append(BpfJited(p.id, ins.address, mnemonic, operands, symbol))
        offset += ins.size
    return rows


@command(
    "bpf",
    summary="extended Berkeley Packet Filter (eBPF)",
    synopsis="bpf [[-p ID | -P] [-tTj]] [[-m ID] | -M] [-s] [-xd]",
    description="""
This command provides information on currently-loaded eBPF programs and maps.
With no arguments, basic information about each loaded eBPF program and map
is displayed.  For each eBPF program, its ID number, the addresses of its
bpf_prog and bpf_prog_aux data structures, its type, tag, and the IDs of the
eBPF maps that it uses are displayed.  For each eBPF map, its ID number, the
address of its bpf_map data structure, its type, and the hexadecimal value of
its map_flags are displayed.

  -p ID  displays the basic information specific to the program ID, plus the
         size in bytes of its translated bytecode, the size in bytes of its
         jited code, the number of bytes locked into memory, the time that
         the program was loaded, whether it is GPL compatible, its name
         string, and its UID.
  -P     same as -p, but displays the basic and extra data for all programs.
  -m ID  displays the basic information specific to the map ID, plus the
         size in bytes of its key and value, the maximum number of key-value
         pairs that can be stored within the map, the number of bytes locked
         into memory, its name string, and its UID.
  -M     same as -m, but displays the basic and extra data for all maps.
  -t     translate the bytecode of the specified program ID.
  -T     same as -t, but also dump the bytecode of each instruction.
  -j     disassemble the jited code of the specified program ID (x86-64).
  -s     with -p or -P, dump the bpf_prog and bpf_prog_aux data structures.
         with -m or -M, dump the bpf_map structure.
  -x     with -s, override default output format with hexadecimal format.
  -d     with -s, override default output format with decimal format.

LOAD_TIME is the dump's wall clock at boot plus the program's load time (crash
8.0.2 adds the load time to the boot time of the machine it runs on). -d shows
decimal (crash 8.0.2 shows hexadecimal for -d too). -t decodes JMP32 and atomic
instructions other than add with the kernel's words (crash 8.0.2 does not).
""",
    examples="""
Display all loaded eBPF programs and maps:

crash> bpf
 ID     BPF_PROG       BPF_PROG_AUX   BPF_PROG_TYPE       TAG        USED_MAPS
 13 ffffbc00c06d1000 ffff9ff260f0c400  CGROUP_SKB   7be49e3934a125ba   13,14

 ID     BPF_MAP       BPF_MAP_TYPE   MAP_FLAGS
 13 ffff9ff260f0ec00    LPM_TRIE      00000001
""",
    arguments=(
        arg("-p", dest="prog_id", type=int, metavar="ID"),
        arg("-P", dest="all_progs", action="store_true"),
        arg("-m", dest="map_id", type=int, metavar="ID"),
        arg("-M", dest="all_maps", action="store_true"),
        arg("-t", dest="xlated", action="store_true"),
        arg("-T", dest="opcodes", action="store_true"),
        arg("-j", dest="jited", action="store_true"),
        arg("-s", dest="structs", action="store_true"),
        arg("-x", dest="hex", action="store_true"),
        arg("-d", dest="dec", action="store_true"),
    ),
    records=(BpfProg, BpfMap, BpfStruct, BpfInsn, BpfJited, BpfNotJited),
)
def bpf(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`BpfProg` and :class:`BpfMap` records asked for, with their
    instructions and structures."""
    prog = session.prog
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    by_prog = args.prog_id is not None or args.all_progs
    by_map = args.map_id is not None or args.all_maps
    if args.jited and not by_prog:
        raise CommandError("-j option only applicable with -p or -P")
    if (args.xlated or args.opcodes) and not by_prog:
        raise CommandError("-t option only applicable with -p or -P")
    if args.structs and not (by_prog or by_map):
        raise CommandError("-s option requires either -p, -P, -m or -M")
    if (args.hex or args.dec) and not (by_prog or by_map):
        raise CommandError(f"-{'x' if args.hex else 'd'} option requires -s")
    progs, maps = bpf_programs(prog), bpf_maps(prog)
    if args.prog_id is not None and args.prog_id not in {p.id for p in progs}:
        raise CommandError(f"invalid program ID: {args.prog_id}")
    if args.map_id is not None and args.map_id not in {m.id for m in maps}:
        raise CommandError(f"invalid map ID: {args.map_id}")
    all_maps = maps
    if not args.all_progs and args.prog_id is not None:
        progs = [p for p in progs if p.id == args.prog_id]
    if not args.all_maps and args.map_id is not None:
        maps = [m for m in maps if m.id == args.map_id]
    show_progs = by_prog or not by_map
    show_maps = by_map or not by_prog
    view = BpfView(show_progs, show_maps, by_prog, by_map,
                   min(13, type_width(prog, "bpf_prog_type")), type_width(prog, "bpf_map_type"),
                   args.all_progs, args.all_maps, args.jited, args.xlated or args.opcodes,
                   args.opcodes)
    rows: list[BpfProg | BpfMap | BpfStruct | BpfInsn | BpfJited | BpfNotJited] = []
    radix = 16 if args.hex else 10
    if show_progs:
        for p in progs:
            rows.append(p)
            if args.jited:
                code = _jited(prog, p)
                rows.extend([code] if isinstance(code, BpfNotJited) else code)
            if args.xlated or args.opcodes:
                rows.extend(_xlated(prog, p, all_maps))
            if args.structs:
                rows.append(BpfStruct(p.id, [
                    crash_struct_dump(Object(prog, "struct bpf_prog", address=p.bpf_prog),
                                      radix=radix),
                    crash_struct_dump(Object(prog, "struct bpf_prog_aux",
                                             address=p.bpf_prog_aux), radix=radix)]))
    if show_maps:
        rows.extend(maps)
        if args.structs:
            rows.extend(BpfStruct(m.id, [crash_struct_dump(
                Object(prog, "struct bpf_map", address=m.bpf_map), radix=radix)], True)
                for m in maps)
    return Result(rows, render=render, view=view)
