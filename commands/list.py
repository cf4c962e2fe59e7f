"""list: walk a linked list, from its first entry or its list_head, and say where it broke."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError, named
from pycrash.kernel.format import object_lines
from pycrash.kernel.symbols import address_of
from pycrash.session import Session

MAX_ENTRIES = 1_000_000


@dataclass
class Entry:
    """One list entry: its address (of the containing struct with -s/-o) and shown members."""

    address: int
    lines: list[str] = field(default_factory=list)


def _render(result: Result) -> Iterable[str]:
    for e in result.rows:
        yield f"{e.address:x}"
        yield from e.lines
    if result.options.get("broken"):
        yield f"list: {result.options['broken']}"


def entry_view(session: Session, offset_spec: str | None,
               struct_spec: str | None) -> tuple[int, str | None, list[str]]:
    """Return what ``-o`` and ``-s`` ask of list and tree: the link's offset in the entry,
    the struct to show (or None) and its members to show (all when empty)."""
    struct, _, members_text = (struct_spec or "").partition(".")
    offset, struct_name = _offset(session, offset_spec, struct or None)
    return offset, struct_name, [m for m in members_text.split(",") if m]


def _offset(session: Session, spec: str | None, struct: str | None) -> tuple[int, str | None]:
    """Return (offset of the list pointer in the struct, struct type name) for -o/-s."""
    if spec is None:
        return 0, struct
    if "." in spec:
        type_name, member = spec.split(".", 1)
        try:
            t = session.prog.type(f"struct {type_name}")
        except LookupError:
            raise CommandError(f"list: invalid structure reference: {type_name}") from None
        try:
            return t.member(member).offset, struct
        except LookupError:
            raise CommandError(f"list: struct {type_name} has no member {member}") from None
    try:
        return int(spec, 0), struct
    except ValueError:
        raise CommandError(f"list: invalid offset: {spec}") from None


@command(
    "list",
    summary="linked list",
    synopsis="list [-o offset|struct.member] [-s struct[.member[,member]]] [-H head | -h] start",
    description="""
Walks a linked list and prints each entry's address. By default start is the
first entry and the next pointer is at offset 0; -o gives the offset of the
next pointer in the entry (a number, or struct.member). -H start is a
list_head that heads the list (it is not shown); -h start is an entry's
embedded list_head. -s shows the entry's struct, or the members named.
The walk stops at NULL or back at the start; a pointer that cannot be read,
or a loop that does not come back to the start, ends it with an error that
names the entry where the list broke.
""",
    examples="""
crash> list -H init_task.tasks -o task_struct.tasks -s task_struct.pid,comm
crash> list -o 0 ffff888003c9c180
""",
    arguments=(
        arg("-o", dest="offset", help="offset of the next pointer (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show for each entry"),
        arg("-H", dest="head", action="store_true", help="start is the list's list_head"),
        arg("-h", dest="embedded", action="store_true", help="start is an embedded list_head"),
        arg("start", metavar="start"),
    ),
)
def list_command(session: Session, args: argparse.Namespace) -> Result:
    """Return an :class:`Entry` per list entry; a broken list ends with an error line."""
    prog = session.prog
    offset, struct_name, members = entry_view(session, args.offset, args.struct)
    start = _start(session, args.start)
    entries: list[Entry] = []
    broken = None
    seen: set[int] = set()
    if args.head:
        head = start
        node = _next(session, head, 0)
        first = head
    else:
        # -h: start is the embedded list_head; else start is the entry itself
        node = start if args.embedded else start + offset
        first = node
        node_entry = node - offset
        entries.append(Entry(node_entry))
        seen.add(node)
        node = _next(session, node, 0)
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
        if len(entries) >= MAX_ENTRIES:
            broken = f"stopped after {MAX_ENTRIES} entries"
            break
        seen.add(node)
        nxt = _next(session, node, 0)  # an entry is listed only if it can be read
        if isinstance(nxt, str):
            broken = nxt
            break
        entries.append(Entry(node - offset))
        node = nxt
    if struct_name:
        for e in entries:
            e.lines = object_lines(Object(prog, f"struct {struct_name}", address=e.address),
                                   members)
    errors = [f"list: {broken}"] if broken else []
    return Result(entries, render=_render, errors=errors)


def _start(session: Session, spec: str) -> int:
    """Return the address of ``spec``: hex, a symbol, or a symbol's member (init_task.tasks)."""
    if "." in spec and not spec.startswith("0x"):
        from pycrash.kernel.expr import evaluate

        obj, _ = evaluate(session.prog, f"&{spec}")
        return obj.value_()
    with named("list"):
        return address_of(session.prog, spec)


def _next(session: Session, node: int, offset: int) -> int | str:
    """Return the pointer stored at ``node + offset``, or why it cannot be read."""
    try:
        return session.prog.read_u64(node + offset)
    except FaultError as exc:
        return (f"invalid next pointer {node:x}: cannot read {exc.address:x}: "
                f"{session.explain_fault(exc)}")
