"""bpf: loaded eBPF programs and maps."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import Object

from pycrash.cmdlib.dumpstruct import crash_struct_dump
from pycrash.cmdlib.structs import StructDump, dump_lines
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.bpf import BpfMap, BpfProg, bpf_maps, bpf_programs, type_names
from pycrash.session import Session


@dataclass(frozen=True)
class BpfView:
    """How bpf shows its records: programs and/or maps, with their extra data (-p/-P,
    -m/-M), and the width of the type columns (from the kernel's enums)."""

    progs: bool
    maps: bool
    prog_detail: bool
    map_detail: bool
    prog_type_width: int
    map_type_width: int


@dataclass(frozen=True)
class BpfStruct:
    """-s: a program's bpf_prog and bpf_prog_aux, or a map's bpf_map, as gdb shows them."""

    id: int
    structs: list[StructDump]


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


def prog_lines(p: BpfProg, v: BpfView) -> Iterator[str]:
    used = ",".join(map(str, p.used_maps))
    yield (f"{center(str(p.id), 4)} {center(f'{p.bpf_prog:x}', 16)} "
           f"{center(f'{p.bpf_prog_aux:x}', 16)} {center(p.type, v.prog_type_width)} "
           f"{p.tag} {center(used, 9)} ")
    if v.prog_detail:
        yield f"     XLATED: {p.xlated}  JITED: {p.jited}  MEMLOCK: {p.pages}"
        yield f"     LOAD_TIME: {p.load_time_ns // 1_000_000_000}s after boot"
        name = f'"{p.name}"' if p.name else "(unused)"
        uid = "(unknown)" if p.uid is None else str(p.uid)
        gpl = "yes" if p.gpl_compatible else "no"
        yield f"     GPL_COMPATIBLE: {gpl}  NAME: {name}  UID: {uid}"


def map_lines(m: BpfMap, v: BpfView) -> Iterator[str]:
    yield (f"{center(str(m.id), 4)} {center(f'{m.bpf_map:x}', 16)} "
           f"{center(m.type, v.map_type_width)}  {m.flags:08x} ")
    if v.map_detail:
        yield (f"     KEY_SIZE: {m.key_size}  VALUE_SIZE: {m.value_size}  "
               f"MAX_ENTRIES: {m.max_entries}")
        name = f'"{m.name}"' if m.name else "(unused)"
        uid = "(unused)" if m.uid is None else str(m.uid)
        yield f"     NAME: {name}  UID: {uid}"


def render(result: Result) -> Iterable[str]:
    """crash's bpf output: the programs' table, a blank line, the maps' table."""
    v: BpfView = result.view
    progs = [r for r in result.rows if isinstance(r, BpfProg)]
    maps = [r for r in result.rows if isinstance(r, BpfMap)]
    structs = {r.id: r for r in result.rows if isinstance(r, BpfStruct)}
    if v.progs:
        for i, p in enumerate(progs):
            if i and v.prog_detail:
                yield ""
            if i == 0 or v.prog_detail:
                yield prog_header(v)
            yield from prog_lines(p, v)
            if p.id in structs and not v.maps:
                yield ""
                for s in structs[p.id].structs:
                    yield from dump_lines(s)
        if v.maps:
            yield ""
    if v.maps:
        for i, m in enumerate(maps):
            if i and v.map_detail:
                yield ""
            if i == 0 or v.map_detail:
                yield map_header(v)
            yield from map_lines(m, v)
            if m.id in structs:
                yield ""
                for s in structs[m.id].structs:
                    yield from dump_lines(s)


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
         jited code, the number of pages locked into memory, the time that
         the program was loaded (seconds after boot), whether it is GPL
         compatible, its name string, and its UID.
  -P     same as -p, but displays the basic and extra data for all programs.
  -m ID  displays the basic information specific to the map ID, plus the
         size in bytes of its key and value, the maximum number of key-value
         pairs that can be stored within the map, its name string, and its UID.
  -M     same as -m, but displays the basic and extra data for all maps.
  -t     translate the bytecode of the specified program ID (not yet in pycrash).
  -T     same as -t, but also dump the bytecode of each instruction (not yet).
  -j     disassemble the jited code of the specified program ID (not yet).
  -s     with -p or -P, dump the bpf_prog and bpf_prog_aux data structures.
         with -m or -M, dump the bpf_map structure.
  -x     with -s, override default output format with hexadecimal format.
  -d     with -s, override default output format with decimal format.
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
    records=(BpfProg, BpfMap, BpfStruct),
)
def bpf(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`BpfProg` and :class:`BpfMap` records asked for."""
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
    if args.xlated or args.opcodes or args.jited:
        raise CommandError("-t, -T and -j (bytecode and JIT disassembly) are not "
                           "supported by pycrash yet")
    if not args.all_progs and args.prog_id is not None:
        progs = [p for p in progs if p.id == args.prog_id]
    if not args.all_maps and args.map_id is not None:
        maps = [m for m in maps if m.id == args.map_id]
    show_progs = by_prog or not by_map
    show_maps = by_map or not by_prog
    view = BpfView(show_progs, show_maps, by_prog, by_map,
                   min(13, max(map(len, type_names(prog, "bpf_prog_type", "BPF_PROG_TYPE_")),
                               default=13)),
                   max(map(len, type_names(prog, "bpf_map_type", "BPF_MAP_TYPE_")), default=12))
    rows: list[BpfProg | BpfMap | BpfStruct] = []
    radix = 16 if args.hex else 10
    if show_progs:
        rows.extend(progs)
        if args.structs:
            rows.extend(BpfStruct(p.id, [
                crash_struct_dump(Object(prog, "struct bpf_prog", address=p.bpf_prog),
                                  radix=radix),
                crash_struct_dump(Object(prog, "struct bpf_prog_aux", address=p.bpf_prog_aux),
                                  radix=radix)]) for p in progs)
    if show_maps:
        rows.extend(maps)
        if args.structs:
            rows.extend(BpfStruct(m.id, [crash_struct_dump(
                Object(prog, "struct bpf_map", address=m.bpf_map), radix=radix)]) for m in maps)
    return Result(rows, render=render, view=view)
