"""list: walk a linked list, from its first entry or its list_head, and say where it broke."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import (
    ReadMember,
    StructDump,
    dump_lines,
    entry_view,
    member_offset,
    read_members,
    read_members_lines,
    struct_dump,
)
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex
from pycrash.session import Session

MAX_ENTRIES = 1_000_000


@dataclass(frozen=True)
class ListEntry:
    """One entry of a kernel linked list: its address (of the containing struct with
    -o/-s), and with -s the struct there, whole or the members named; with -S the
    members named as read from memory."""

    address: Hex
    struct: StructDump | None = None
    read: tuple[ReadMember, ...] = ()


@dataclass(frozen=True)
class ListView:
    """How list shows -S members: in hex (-x) or decimal."""

    hex: bool = False


def render(result: Result) -> Iterable[str]:
    """crash's list output: each entry's address, then its struct's lines with -s (its
    members as read from memory with -S)."""
    hex_mode = isinstance(result.view, ListView) and result.view.hex
    for e in result.rows:
        yield f"{e.address:x}"
        if e.struct is not None:
            yield from dump_lines(e.struct)
        if e.read:
            yield from read_members_lines(e.read, hex_mode)


@command(
    "list",
    summary="linked list",
    synopsis="list [[-o] offset|struct.member] [-e end] [-[s|S] struct[.member[,member]] "
             "[-l offset]] [-x|-d] [-r] [-H | -h] start",
    description="""
Walks a linked list and prints each entry's address. By default start is the
first entry and the next pointer is at offset 0; -o gives the offset of the
next pointer in the entry (a number, or struct.member; -o may be left out, as
in crash), and each next pointer is the next entry's address. -H start is a
list_head that heads the list (it is not shown); -h start is a struct holding
a list_head at the offset, the first entry; with -H and -h each next pointer
is the next entry's list_head, as in the kernel's lists; -r walks such a list
backwards, through the prev pointers (start as with -h, unless -H is given).
-s shows each entry's struct, or the members named; -S the members as read
straight from memory when they are 1, 2, 4 or 8 bytes (unsigned numbers,
pointers in hex, no commas; a string or function name after them). With -l
start and each pointer are the address of a member (a list_head) that far
into the structs shown.

The walk stops at NULL, back at the start, or at -e's end; a pointer that
cannot be read, or a loop that does not come back to the start, ends it with
an error that names the entry where the list broke.
""",
    examples="""
crash> list -H init_task.tasks -o task_struct.tasks -s task_struct.pid,comm
crash> list -r -H init_task.tasks -o task_struct.tasks -S task_struct.pid,comm
crash> list ffff888003c9c890 -l task_struct.tasks -s task_struct.comm
crash> list -o 0 ffff888003c9c180
""",
    records=(ListEntry,),
    arguments=(
        arg("-o", dest="offset", help="offset of the next pointer (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show for each entry"),
        arg("-S", dest="read", help="struct.member[,member] read from memory for each entry"),
        arg("-l", dest="link",
            help="with -s/-S: offset (or struct.member) of the link in the structs"),
        arg("-e", dest="end",
            help="stop before this next pointer (a list_head's address with -H/-h/-r)"),
        arg("-H", dest="head", action="store_true", help="start is the list's list_head"),
        arg("-h", dest="embedded", action="store_true",
            help="start is a struct holding the list_head at the offset"),
        arg("-r", dest="reverse", action="store_true", help="follow the prev pointers"),
        arg("-x", dest="hex", action="store_true", help="-s/-S values in hex"),
        arg("-d", dest="dec", action="store_true", help="-s/-S values in decimal"),
        arg("words", nargs="+", metavar="[offset] start"),
    ),
)
def list_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`ListEntry` per list entry; a broken list ends with an error."""
    prog = session.prog
    if len(args.words) > 2 or (len(args.words) == 2 and args.offset is not None):
        raise CommandError(f"unexpected arguments: {' '.join(args.words)}")
    if args.struct and args.read:
        raise CommandError("-S and -s options are mutually exclusive")
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    if args.link and not (args.struct or args.read):
        raise CommandError("-l option can only be used with -s or -S option")
    offset_spec = args.words[0] if len(args.words) == 2 else args.offset
    view = entry_view(prog, offset_spec, args.struct or args.read)
    if args.read and not view.members:
        raise CommandError(f"-S needs struct.member[,member]: {args.read}")
    offset = view.offset
    link = member_offset(prog, args.link) if args.link else 0
    start = resolve_address(prog, args.words[-1])
    end = resolve_address(prog, args.end) if args.end else None
    # -H, -h and -r walk list_heads: each pointer is the next entry's list_head, the
    # entry is the pointer less the offset; without them, as crash's first kind of list,
    # the pointer is the next entry itself, whose next pointer is at the offset
    heads = args.head or args.embedded or args.reverse
    to_link = 0 if heads else offset
    pointer_at = 8 if args.reverse else 0  # list_head.prev for -r
    addresses: list[int] = []
    broken = None
    seen: set[int] = set()
    if args.head:
        raw = _next(session, start + pointer_at)
        # the head ends the list, unless -e names the end: then, as crash, the walk goes
        # through the head (an entry like the others) and ends back at the first entry
        first = start if end is None or isinstance(raw, str) else raw
    else:
        first = start + offset
        addresses.append(start)
        seen.add(first)
        raw = _next(session, first + pointer_at)
    while True:
        if isinstance(raw, str):
            broken = raw
            break
        if raw == 0 or raw == end:
            break
        node = raw + to_link
        if node == first and (addresses or first == start):
            break
        if node in seen:
            broken = f"loop: entry {node - offset:x} was already seen (the list does not " \
                     f"come back to its start {first - offset:x})"
            break
        if len(addresses) >= MAX_ENTRIES:
            broken = f"stopped after {MAX_ENTRIES} entries"
            break
        seen.add(node)
        raw = _next(session, node + pointer_at)  # an entry is listed only if it can be read
        if isinstance(raw, str):
            broken = raw
            break
        addresses.append(node - offset)
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    entries = [_entry(prog, a, view.struct, view.members, link, bool(args.read), hex_mode)
               for a in addresses]
    return Result(entries, render=render, errors=[broken] if broken else [],
                  view=ListView(hex_mode))


def _entry(prog: Program, address: int, struct_name: str | None, members: tuple[str, ...],
           link: int, read: bool, hex_mode: bool) -> ListEntry:
    """The :class:`ListEntry` of one address: with a struct, the struct ``link`` bytes
    before it, shown whole or by members (read from memory with ``read``)."""
    if not struct_name:
        return ListEntry(address)
    obj = Object(prog, f"struct {struct_name}", address=address - link)
    if read:
        return ListEntry(address, read=read_members(obj, members, hex_mode))
    return ListEntry(address, struct_dump(obj, members, hex_mode))


def _next(session: Session, node: int) -> int | str:
    """Return the pointer stored at ``node``, or why it cannot be read."""
    try:
        return session.prog.read_u64(node)
    except FaultError as exc:
        return (f"invalid next pointer {node:x}: cannot read {exc.address:x}: "
                f"{session.explain_fault(exc)}")
