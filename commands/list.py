"""list: walk a linked list, from its first entry or its list_head, and say where it broke."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object

from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import StructDump, dump_lines, entry_view, struct_dump
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex
from pycrash.session import Session

MAX_ENTRIES = 1_000_000


@dataclass(frozen=True)
class ListEntry:
    """One entry of a kernel linked list: its address (of the containing struct with
    -o/-s), and with -s the struct there, whole or the members named."""

    address: Hex
    struct: StructDump | None = None


def render(result: Result) -> Iterable[str]:
    """crash's list output: each entry's address, then its struct's lines with -s."""
    for e in result.rows:
        yield f"{e.address:x}"
        if e.struct is not None:
            yield from dump_lines(e.struct)


@command(
    "list",
    summary="linked list",
    synopsis="list [[-o] offset|struct.member] [-s struct[.member[,member]]] [-H | -h] start",
    description="""
Walks a linked list and prints each entry's address. By default start is the
first entry and the next pointer is at offset 0; -o gives the offset of the
next pointer in the entry (a number, or struct.member; -o may be left out, as
in crash), and each next pointer is the next entry's address. -H start is a
list_head that heads the list (it is not shown); -h start is a struct holding
a list_head at the offset, the first entry; with -H and -h each next pointer
is the next entry's list_head, as in the kernel's lists.
-s shows the entry's struct, or the members named.
The walk stops at NULL or back at the start; a pointer that cannot be read,
or a loop that does not come back to the start, ends it with an error that
names the entry where the list broke.
""",
    examples="""
crash> list -H init_task.tasks -o task_struct.tasks -s task_struct.pid,comm
crash> list -o 0 ffff888003c9c180
""",
    records=(ListEntry,),
    arguments=(
        arg("-o", dest="offset", help="offset of the next pointer (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show for each entry"),
        arg("-H", dest="head", action="store_true", help="start is the list's list_head"),
        arg("-h", dest="embedded", action="store_true",
            help="start is a struct holding the list_head at the offset"),
        arg("words", nargs="+", metavar="[offset] start"),
    ),
)
def list_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`ListEntry` per list entry; a broken list ends with an error."""
    prog = session.prog
    if len(args.words) > 2 or (len(args.words) == 2 and args.offset is not None):
        raise CommandError(f"unexpected arguments: {' '.join(args.words)}")
    offset_spec = args.words[0] if len(args.words) == 2 else args.offset
    view = entry_view(prog, offset_spec, args.struct)
    offset = view.offset
    start = resolve_address(prog, args.words[-1])
    addresses: list[int] = []
    broken = None
    seen: set[int] = set()
    # with -H and -h each next pointer is the next entry's list_head (the entry is the
    # pointer less the offset); without them, as crash's first kind of list, it is the
    # next entry itself, whose next pointer is at the offset
    to_link = 0 if (args.head or args.embedded) else offset
    if args.head:
        node = _next(session, start)
        first = start
    else:
        node = start + offset
        first = node
        addresses.append(start)
        seen.add(node)
        node = _next(session, node)
        if isinstance(node, int) and node:
            node += to_link
    while True:
        if isinstance(node, str):
            broken = node
            break
        if node == 0 or node == first:
            break
        if node in seen:
            broken = f"loop: entry {node - offset:x} was already seen (the list does not " \
                     f"come back to its start {first - offset:x})"
            break
        if len(addresses) >= MAX_ENTRIES:
            broken = f"stopped after {MAX_ENTRIES} entries"
            break
        seen.add(node)
        nxt = _next(session, node)  # an entry is listed only if it can be read
        if isinstance(nxt, str):
            broken = nxt
            break
        addresses.append(node - offset)
        node = nxt + to_link if nxt else 0
    struct_name = view.struct
    entries = [ListEntry(a, struct_dump(Object(prog, f"struct {struct_name}", address=a),
                                        view.members) if struct_name else None)
               for a in addresses]
    return Result(entries, render=render, errors=[broken] if broken else [])


def _next(session: Session, node: int) -> int | str:
    """Return the next pointer stored at ``node``, or why it cannot be read."""
    try:
        return session.prog.read_u64(node)
    except FaultError as exc:
        return (f"invalid next pointer {node:x}: cannot read {exc.address:x}: "
                f"{session.explain_fault(exc)}")
