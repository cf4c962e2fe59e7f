"""Struct helpers for commands: member offsets (``struct.member``), the entries list and
tree show (``-o``/``-s``), kernel objects as data (:class:`StructDump`), and type layouts
(:class:`TypeLayout`) with crash's text for each.

Error messages carry no command name; the interpreter prefixes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drgn import Object, Type

from pycrash.errors import CommandError
from pycrash.kernel.format import (
    CValue,
    Member,
    member_values,
    members_lines,
    value_tree,
    whole_lines,
)
from pycrash.records import CSource, Hex

if TYPE_CHECKING:
    from drgn import Program


def member_offset(prog: Program, spec: str) -> int:
    """Return the byte offset ``spec`` gives: ``struct.member`` (the member's offset in
    ``struct NAME``) or a number (decimal, or hex after ``0x``).

    Raises :class:`CommandError` for an unknown struct or member, or a bad number.
    """
    if "." in spec:
        type_name, member = spec.split(".", 1)
        try:
            t = prog.type(f"struct {type_name}")
        except LookupError:
            raise CommandError(f"invalid structure reference: {type_name}") from None
        try:
            return t.member(member).offset
        except LookupError:
            raise CommandError(f"struct {type_name} has no member {member}") from None
    try:
        return int(spec, 0)
    except ValueError:
        raise CommandError(f"invalid offset: {spec}") from None


@dataclass(frozen=True)
class EntryView:
    """What ``-o`` and ``-s`` ask of list and tree: the link's offset in each entry, the
    struct to show each entry as (None: addresses only) and its members (all when empty)."""

    offset: int
    struct: str | None
    members: tuple[str, ...]


def entry_view(prog: Program, offset_spec: str | None, struct_spec: str | None) -> EntryView:
    """Return the :class:`EntryView` of list's and tree's ``-o offset|struct.member`` and
    ``-s struct[.member[,member]]``."""
    struct, _, members_text = (struct_spec or "").partition(".")
    offset = member_offset(prog, offset_spec) if offset_spec is not None else 0
    return EntryView(offset, struct or None, tuple(m for m in members_text.split(",") if m))


@dataclass(frozen=True)
class StructDump:
    """A kernel object as gdb prints it, as data: its C type, its address, and either the
    whole value (``value``, every member) or the members named (``members``)."""

    type: str
    address: Hex
    value: CValue | None
    members: tuple[Member, ...] = ()


def struct_dump(obj: Object, members: tuple[str, ...] | list[str] = (),
                hex_mode: bool = False) -> StructDump:
    """Return the :class:`StructDump` of a kernel object (a reference, with an address):
    the members named, or the whole object when none are. An unknown member raises
    :class:`CommandError` naming it; unreadable values are ``<error: ...>`` scalars."""
    type_name = obj.type_.type_name()
    address = int(obj.address_ or 0)
    if members:
        return StructDump(type_name, address, None,
                          tuple(member_values(obj, list(members), hex_mode)))
    return StructDump(type_name, address, value_tree(obj, hex_mode))


def dump_lines(dump: StructDump) -> list[str]:
    """Return crash's lines for a :class:`StructDump`: ``struct NAME {`` ... ``}`` for the
    whole object, or ``  member = value,`` for each member named."""
    if dump.value is not None:
        return whole_lines(dump.type, dump.value)
    return members_lines(list(dump.members))


@dataclass(frozen=True)
class MemberLayout:
    """A member of a struct or union type: its offset in bits, C type and name (empty for
    an anonymous struct or union), and its width in bits for a bit field (else 0)."""

    bit_offset: int
    type: str
    name: str
    bit_size: int


@dataclass(frozen=True)
class TypeLayout:
    """A struct or union type: its keyword, tag, size in bytes, C definition as gdb
    prints it, and its members in order."""

    kind: str
    tag: str
    size: int
    definition: CSource
    members: tuple[MemberLayout, ...]


def type_layout(t: Type) -> TypeLayout:
    """Return the :class:`TypeLayout` of a struct or union type."""
    members = tuple(
        MemberLayout(m.bit_offset, m.type.type_name() if m.type is not None else "?",
                     m.name or "", m.bit_field_size or 0)
        for m in t.members or ())
    return TypeLayout(t.kind.name.lower(), t.tag or "", t.size, str(t), members)


def definition_lines(definition: str) -> list[str]:
    """Return the lines of a C definition as crash prints it (tabs as four spaces)."""
    return definition.replace("\t", "    ").splitlines()


def layout_lines(layout: TypeLayout, offsets: bool) -> list[str]:
    """Return crash's text of a type: its definition and ``SIZE:``; with ``offsets``
    (``struct -o``) each member as ``  [OFFSET] TYPE NAME;``."""
    if not offsets:
        return definition_lines(layout.definition) + [f"SIZE: {layout.size}"]
    lines = [f"{layout.kind} {layout.tag} {{".replace("  ", " ")]
    for m in layout.members:
        text = f"{m.type} {m.name}" if not m.type.endswith("*") else f"{m.type}{m.name}"
        if m.bit_size:
            text += f" : {m.bit_size}"
        lines.append(f"  [{m.bit_offset // 8}] {text};")
    lines += ["}", f"SIZE: {layout.size}"]
    return lines

