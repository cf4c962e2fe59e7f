"""struct, union and ``*``: show a type's layout or the contents of an object."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drgn import FaultError, Object, Type, TypeKind, sizeof

from pycrash.cmdlib.render import memory_lines
from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import (
    DerefDump,
    StructDump,
    TypeLayout,
    deref_dump,
    deref_lines,
    dump_lines,
    layout_lines,
    member_offset,
    offset_target,
    struct_dump,
    type_layout,
)
from pycrash.command import Arg, Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.format import member_at
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class StructView:
    """How struct shows a type's layout: with each member's offset (-o) or as C."""

    offsets: bool
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawData:
    """An object's bytes as ``struct -r`` shows them: its C type, its address, the size of
    the units shown (1, 2, 4 or 8 bytes: the object's size when it is 1, 2 or 4, else
    8) and the bytes, in hex."""

    type: str
    address: Hex
    unit: int
    data: str


@dataclass(frozen=True)
class CpuInstance:
    """The CPU whose instance of a per-CPU object follows, and its address."""

    cpu: int
    address: Hex


@dataclass(frozen=True)
class CpuSpecIgnored:
    """A CPU specification given after a symbol that is not per-CPU (crash ignores it)."""

    symbol: str


def render(result: Result) -> Iterable[str]:
    """crash's struct output: a type's definition (with offsets for -o) and size, or each
    object's ``struct NAME {...}`` or named members (pointers followed for -p, raw bytes
    for -r), a per-CPU object's instances each after ``[CPU]: ADDRESS``."""
    previous = None
    for row in result.rows:
        if isinstance(row, CpuSpecIgnored):
            yield f"WARNING: {row.symbol} is not percpu; cpuspec ignored."
        elif isinstance(row, CpuInstance):
            yield f"[{row.cpu}]: {row.address:x}"
        else:
            if isinstance(previous, (TypeLayout, StructDump, DerefDump, RawData)):
                yield ""  # crash separates the objects of a count by an empty line
            if isinstance(row, TypeLayout):
                yield from layout_lines(row, result.view.offsets, result.view.members)
            elif isinstance(row, DerefDump):
                yield from deref_lines(row)
            elif isinstance(row, RawData):
                yield from memory_lines(row.address, bytes.fromhex(row.data), row.unit)
            else:
                yield from dump_lines(row)
        previous = row


def resolve_type(session: Session, keyword: str, name: str) -> Type:
    """Return the ``struct``/``union`` type ``name`` (``keyword`` may be empty for ``*``)."""
    prog = session.prog
    candidates = [f"{keyword} {name}", name] if keyword else \
        [f"struct {name}", f"union {name}", name]
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


def _address(session: Session, text: str) -> tuple[int, list[int] | None, list[Any]]:
    """The address argument: its address, the CPUs of its ``:cpuspec`` (None without
    one), and a :class:`CpuSpecIgnored` when the spec follows a symbol that is not
    per-CPU."""
    from pycrash.cmdlib.resolve import parse_hex
    from pycrash.cmdlib.select import cpu_spec
    from pycrash.kernel.percpu import is_percpu_symbol

    if ":" not in text:
        return resolve_address(session.prog, text), None, []
    where, _, spec = text.partition(":")
    try:
        session.prog.symbol(where)
    except LookupError:  # a per-CPU offset, in hex
        return parse_hex(where), cpu_spec(session, spec), []
    address = resolve_address(session.prog, where)
    if not is_percpu_symbol(session.prog, where):
        return address, None, [CpuSpecIgnored(where)]
    return address, cpu_spec(session, spec), []


def _raw(session: Session, t: Type, addr: int, member: str | None) -> RawData:
    """The :class:`RawData` of the object of type ``t`` at ``addr`` (or of its member)."""
    size, type_name = t.size, t.type_name()
    if member is not None:
        obj = member_at(Object(session.prog, t, address=addr), member)
        addr, size, type_name = obj.address_, sizeof(obj), obj.type_.type_name()
    unit = size if size in (1, 2, 4) else 8
    length = -(-size // unit) * unit
    return RawData(type_name, addr, unit, session.prog.read(addr, length).hex())


def _named(dump: StructDump, t: Type, kw: str, name: str) -> StructDump:
    """A dump of an anonymous struct named through its typedef is ``struct TYPEDEF``, as
    crash names it."""
    return dump if t.tag else dataclasses.replace(dump, type=f"{kw} {name}")


def run_struct(session: Session, args: argparse.Namespace, keyword: str) -> Result:
    """Shared body of ``struct``, ``union`` and ``*``: a :class:`TypeLayout` without an
    address, else a :class:`StructDump` per object (:class:`DerefDump` for -p,
    :class:`RawData` for -r, the members' addresses for -o)."""
    name, _, members_text = args.name.partition(".")
    members = [m for m in members_text.split(",") if m]
    t = resolve_type(session, keyword, name)
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    kw = t.kind.name.lower()
    if args.address is None:
        if args.deref:
            raise CommandError("-p option requires address argument")
        layout = type_layout(t)
        for member in members:
            if member not in (offset_target(line) for line in layout.definition.split("\n")):
                raise CommandError(f"invalid data structure reference: {name}.{member}")
        return Result([layout], render=render, view=StructView(args.offsets, tuple(members)))
    if args.offsets and len(members) > 1:
        raise CommandError("-o option not valid with multiple member format")
    if args.raw and len(members) > 1:
        raise CommandError("only one structure member allowed with -r")
    base, cpus, rows = _address(session, args.address)
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
    from pycrash.kernel.percpu import per_cpu_address

    for cpu in cpus if cpus is not None else [None]:
        start = base
        if cpu is not None:
            start = per_cpu_address(session.prog, base, cpu)
            rows.append(CpuInstance(cpu, start))
        # a negative count: the structures that lead up to and include the one at the address
        first = start if count > 0 else start + (count + 1) * t.size
        for i in range(abs(count)):
            addr = first + i * t.size
            try:
                session.prog.read(addr, 1)
                obj = Object(session.prog, t, address=addr)
                if args.offsets:
                    layout = dataclasses.replace(type_layout(t), address=addr)
                    rows.append(layout)
                elif args.raw:
                    rows.append(_raw(session, t, addr, members[0] if members else None))
                elif args.deref:
                    dd = deref_dump(obj, members, hex_mode)
                    rows.append(dataclasses.replace(dd, dump=_named(dd.dump, t, kw, name)))
                else:
                    rows.append(_named(struct_dump(obj, members, hex_mode), t, kw, name))
            except FaultError as exc:
                raise CommandError(f"cannot read {kw} {t.tag} at {addr:#x}: "
                                   f"{session.explain_fault(exc)}") from None
    return Result(rows, render=render, view=StructView(args.offsets, tuple(members)))


RECORDS = (TypeLayout, StructDump, DerefDump, RawData, CpuInstance, CpuSpecIgnored)
ARGUMENTS: tuple[Arg, ...] = (
    arg("-o", dest="offsets", action="store_true",
        help="show member offsets (with an address: the members' addresses)"),
    arg("-p", dest="deref", action="store_true",
        help="each pointer member's type and what it points to (needs an address)"),
    arg("-r", dest="raw", action="store_true",
        help="raw dump of the structure's (or one member's) bytes"),
    arg("-l", dest="list_offset", metavar="offset|struct.member",
        help="the address is of an embedded list_head at this offset"),
    arg("-x", dest="hex", action="store_true", help="hexadecimal integers"),
    arg("-d", dest="dec", action="store_true", help="decimal integers"),
    arg("-c", dest="count_opt", metavar="count",
        help="count, where it is not the last argument or is negative"),
    arg("name", metavar="name[.member[,member]]"),
    arg("address", nargs="?", metavar="address|symbol[:cpuspec]"),
    arg("count", nargs="?"),
)

DESCRIPTION = """
With only a type name, shows the definition of the structure or union and
its size; -o puts each member's offset before it. With an address (or a
symbol), shows the object there, or only the members named after the type
with '.' (several separated by ','); -o then puts each member's address
before its declaration. A count shows that many consecutive objects; a
negative one (-c -N) the N objects that lead up to and include the one at
the address. -r dumps the object's (or its one member's) bytes, as rd
shows them with their ASCII; -p shows each pointer member with its type,
then on the next line(s) "-> " and what it points to: its symbol, a string,
the structure there, or NULL.

A per-CPU symbol (or a per-CPU offset in hex) may be followed by a CPU
specification; each CPU's instance is shown after "[CPU]: ADDRESS":
   :             the CPU of the current context's task
   :a[ll]        every CPU
   :#[-#][,...]  a CPU list, e.g. 1,3,5 or 1-3 or 0,2-3
"""


@command("struct", summary="structure contents", arguments=ARGUMENTS, records=RECORDS,
         synopsis=("struct struct_name[.member[,member]] [-o] [-l offset] [-rxdp] "
                   "[address | symbol][:cpuspec] [count | -c count]"),
         description=DESCRIPTION,
         examples="""
crash> struct task_struct.pid,comm ffff888003c9c180
  pid = 102,
  comm = "pcfix-sleeper1\\000",
crash> struct list_head -o
crash> struct -p task_struct.fs,comm init_task
crash> struct -r list_head ffffffff8fc1b2d0
crash> struct rq.nr_running runqueues:a
""")
def struct(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`StructDump` per object shown, or the :class:`TypeLayout`."""
    return run_struct(session, args, "struct")


@command("union", summary="union contents", arguments=ARGUMENTS, records=RECORDS,
         synopsis=("union union_name[.member[,member]] [-o] [-l offset] [-rxdp] "
                   "[address | symbol][:cpuspec] [count | -c count]"),
         description=DESCRIPTION)
def union(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TypeLayout` or :class:`StructDump` per union shown."""
    return run_struct(session, args, "union")


@command("*", summary="pointer-to shortcut for struct or union", arguments=ARGUMENTS,
         records=RECORDS,
         synopsis=("*name[.member[,member]] [-o] [-l offset] [-rxdp] "
                   "[address | symbol][:cpuspec] [count | -c count]"),
         description="Shorthand for struct or union, whichever the name is.")
def pointer_to(session: Session, args: argparse.Namespace) -> Result:
    """Return what ``struct`` or ``union`` would."""
    return run_struct(session, args, "")
