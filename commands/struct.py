"""struct, union and ``*``: show a type's layout or the contents of an object."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Type, TypeKind

from pycrash.command import Arg, Result, arg, command
from pycrash.errors import CommandError, named
from pycrash.kernel.format import object_lines
from pycrash.kernel.symbols import address_of
from pycrash.session import Session


@dataclass
class StructView:
    """What ``struct`` printed: the type, and for an address the object's text.

    ``address`` is None for a layout (``struct NAME`` or ``-o``); ``members``
    are the selected member paths (all when empty); ``lines`` the crash text.
    """

    type_name: str
    size: int
    address: int | None
    members: list[str]
    lines: list[str]


def _render(result: Result) -> Iterable[str]:
    for view in result.rows:
        yield from view.lines


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
    raise CommandError(f"{keyword or '*'}: invalid data structure reference: {name}")


def layout_lines(t: Type, offsets: bool) -> list[str]:
    """Return the type's definition (with ``[offset]`` before each member for ``-o``)."""
    if not offsets:
        return str(t).replace("\t", "    ").splitlines() + [f"SIZE: {t.size}"]
    lines = [f"{t.kind.name.lower()} {t.tag or ''} {{".replace("  ", " ")]
    for m in t.members or ():
        decl = str(m.type.type_name()) if m.type is not None else "?"
        name = m.name or ""
        text = f"{decl} {name}" if not decl.endswith("*") else f"{decl}{name}"
        if m.bit_field_size:
            text += f" : {m.bit_field_size}"
        lines.append(f"  [{m.offset}] {text};")
    lines += ["}", f"SIZE: {t.size}"]
    return lines


def run_struct(session: Session, args: argparse.Namespace, keyword: str) -> Result:
    """Shared body of ``struct``, ``union`` and ``*``."""
    name, _, members_text = args.name.partition(".")
    members = [m for m in members_text.split(",") if m]
    t = resolve_type(session, keyword, name)
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    kw = t.kind.name.lower()
    if args.address is None:
        return Result([StructView(f"{kw} {t.tag}", t.size, None, members,
                                  layout_lines(t, args.offsets))], render=_render)
    with named(keyword or "struct"):
        base = address_of(session.prog, args.address)
    if args.list_offset:
        from pycrash.commands.list import _offset

        base -= _offset(session, args.list_offset, None)[0]
        if base < 0:
            raise CommandError(f"{keyword or 'struct'}: invalid address: {args.address}")
    count = int(args.count) if args.count else 1
    views = []
    for i in range(count):
        addr = base + i * t.size
        obj = Object(session.prog, t, address=addr)
        try:
            session.prog.read(addr, 1)
            lines = object_lines(obj, members, hex_mode)
        except FaultError as exc:
            raise CommandError(f"{kw}: cannot read {kw} {t.tag} at {addr:#x}: "
                               f"{session.explain_fault(exc)}") from None
        views.append(StructView(f"{kw} {t.tag}", t.size, addr, members, lines))
    return Result(views, render=_render)


ARGUMENTS: tuple[Arg, ...] = (
    arg("-o", dest="offsets", action="store_true", help="show member offsets"),
    arg("-l", dest="list_offset", metavar="offset|struct.member",
        help="the address is of an embedded list_head at this offset"),
    arg("-x", dest="hex", action="store_true", help="hexadecimal integers"),
    arg("-d", dest="dec", action="store_true", help="decimal integers"),
    arg("name", metavar="name[.member[,member]]"),
    arg("address", nargs="?", metavar="address|symbol"),
    arg("count", nargs="?"),
)

DESCRIPTION = """
With only a type name, shows the definition of the structure or union and
its size; -o puts each member's offset before it. With an address (or a
symbol), shows the object there, or only the members named after the type
with '.' (several separated by ','). A count shows that many consecutive
objects.
"""


@command("struct", summary="structure contents", arguments=ARGUMENTS,
         synopsis="struct struct_name[.member[,member]] [-o] [-x|-d] [address | symbol] [count]",
         description=DESCRIPTION,
         examples="""
crash> struct task_struct.pid,comm ffff888003c9c180
  pid = 102,
  comm = "pcfix-sleeper1\\000",
crash> struct list_head -o
""")
def struct(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`StructView` per object shown (or one for the layout)."""
    return run_struct(session, args, "struct")


@command("union", summary="union contents", arguments=ARGUMENTS,
         synopsis="union union_name[.member[,member]] [-o] [-x|-d] [address | symbol] [count]",
         description=DESCRIPTION)
def union(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`StructView` per union shown."""
    return run_struct(session, args, "union")


@command("*", summary="pointer-to shortcut for struct or union", arguments=ARGUMENTS,
         synopsis="*name[.member[,member]] [-o] [-x|-d] [address | symbol] [count]",
         description="Shorthand for struct or union, whichever the name is.")
def pointer_to(session: Session, args: argparse.Namespace) -> Result:
    """Return what ``struct`` or ``union`` would."""
    return run_struct(session, args, "")
