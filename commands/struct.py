"""struct, union and ``*``: show a type's layout or the contents of an object."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Type, TypeKind

from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import (
    StructDump,
    TypeLayout,
    dump_lines,
    layout_lines,
    member_offset,
    offset_target,
    struct_dump,
    type_layout,
)
from pycrash.command import Arg, Result, arg, command
from pycrash.errors import CommandError
from pycrash.session import Session


@dataclass(frozen=True)
class StructView:
    """How struct shows a type's layout: with each member's offset (-o) or as C."""

    offsets: bool
    members: tuple[str, ...] = ()


def render(result: Result) -> Iterable[str]:
    """crash's struct output: a type's definition (with offsets for -o) and size, or each
    object's ``struct NAME {...}`` or named members."""
    for i, row in enumerate(result.rows):
        if i:
            yield ""  # crash separates the objects of a count by an empty line
        if isinstance(row, TypeLayout):
            yield from layout_lines(row, result.view.offsets, result.view.members)
        else:
            yield from dump_lines(row)


def resolve_type(session: Session, keyword: str, name: str) -> Type:
    """Return the ``struct``/``union`` type ``name`` (``keyword`` may be empty for ``*``)."""
    prog = session.prog
    candidates = [f"{keyword} {name}"] if keyword else [f"struct {name}", f"union {name}", name]
    for text in candidates:
        try:
            t = prog.type(text)
        except LookupError:
            continue
        while t.kind == TypeKind.TYPEDEF:
            t = t.type
        if t.kind in (TypeKind.STRUCT, TypeKind.UNION):
            return t
    raise CommandError(f"invalid data structure reference: {name}")


def run_struct(session: Session, args: argparse.Namespace, keyword: str) -> Result:
    """Shared body of ``struct``, ``union`` and ``*``: a :class:`TypeLayout` without an
    address, else a :class:`StructDump` per object."""
    name, _, members_text = args.name.partition(".")
    members = [m for m in members_text.split(",") if m]
    t = resolve_type(session, keyword, name)
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    kw = t.kind.name.lower()
    if args.address is None:
        layout = type_layout(t)
        for member in members:
            if member not in (offset_target(line) for line in layout.definition.split("\n")):
                raise CommandError(f"invalid data structure reference: {name}.{member}")
        return Result([layout], render=render, view=StructView(args.offsets, tuple(members)))
    base = resolve_address(session.prog, args.address)
    if args.list_offset:
        base -= member_offset(session.prog, args.list_offset)
        if base < 0:
            raise CommandError(f"invalid address: {args.address}")
    count_text = args.count_opt if args.count_opt is not None else args.count
    try:
        count = int(count_text, 0) if count_text else 1
    except ValueError:
        raise CommandError(f"invalid count: {count_text}") from None
    if count == 0:
        raise CommandError("invalid count: 0")
    # a negative count: the structures that lead up to and include the one at the address
    first = base if count > 0 else base + (count + 1) * t.size
    dumps: list[StructDump] = []
    for i in range(abs(count)):
        addr = first + i * t.size
        try:
            session.prog.read(addr, 1)
            dumps.append(struct_dump(Object(session.prog, t, address=addr), members, hex_mode))
        except FaultError as exc:
            raise CommandError(f"cannot read {kw} {t.tag} at {addr:#x}: "
                               f"{session.explain_fault(exc)}") from None
    return Result(dumps, render=render, view=StructView(args.offsets))


RECORDS = (TypeLayout, StructDump)
ARGUMENTS: tuple[Arg, ...] = (
    arg("-o", dest="offsets", action="store_true", help="show member offsets"),
    arg("-l", dest="list_offset", metavar="offset|struct.member",
        help="the address is of an embedded list_head at this offset"),
    arg("-x", dest="hex", action="store_true", help="hexadecimal integers"),
    arg("-d", dest="dec", action="store_true", help="decimal integers"),
    arg("-c", dest="count_opt", metavar="count",
        help="count, where it is not the last argument or is negative"),
    arg("name", metavar="name[.member[,member]]"),
    arg("address", nargs="?", metavar="address|symbol"),
    arg("count", nargs="?"),
)

DESCRIPTION = """
With only a type name, shows the definition of the structure or union and
its size; -o puts each member's offset before it. With an address (or a
symbol), shows the object there, or only the members named after the type
with '.' (several separated by ','). A count shows that many consecutive
objects; a negative one (-c -N) the N objects that lead up to and include the
one at the address.
"""


@command("struct", summary="structure contents", arguments=ARGUMENTS, records=RECORDS,
         synopsis=("struct struct_name[.member[,member]] [-o] [-x|-d] [address | symbol]"
                   " [count | -c count]"),
         description=DESCRIPTION,
         examples="""
crash> struct task_struct.pid,comm ffff888003c9c180
  pid = 102,
  comm = "pcfix-sleeper1\\000",
crash> struct list_head -o
""")
def struct(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`StructDump` per object shown, or the :class:`TypeLayout`."""
    return run_struct(session, args, "struct")


@command("union", summary="union contents", arguments=ARGUMENTS, records=RECORDS,
         synopsis=("union union_name[.member[,member]] [-o] [-x|-d] [address | symbol]"
                   " [count | -c count]"),
         description=DESCRIPTION)
def union(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TypeLayout` or :class:`StructDump` per union shown."""
    return run_struct(session, args, "union")


@command("*", summary="pointer-to shortcut for struct or union", arguments=ARGUMENTS,
         records=RECORDS,
         synopsis="*name[.member[,member]] [-o] [-x|-d] [address | symbol] [count | -c count]",
         description="Shorthand for struct or union, whichever the name is.")
def pointer_to(session: Session, args: argparse.Namespace) -> Result:
    """Return what ``struct`` or ``union`` would."""
    return run_struct(session, args, "")
