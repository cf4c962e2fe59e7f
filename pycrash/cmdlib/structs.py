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
    prints it, its members in order, and for each line of the definition the byte offset
    crash's ``struct -o`` shows before it: the offset of the member the line names, found
    by name as crash finds it (through anonymous structs and unions), or None."""

    kind: str
    tag: str
    size: int
    definition: CSource
    members: tuple[MemberLayout, ...]
    line_offsets: tuple[int | None, ...] = ()


def _collapse_enums(text: str) -> str:
    """Return drgn's C text with each anonymous enum inside a type on one line, as gdb
    prints it: ``enum {A, B = 4} name;`` (a value only where it is not the one before it
    plus one)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip("\t")
        if stripped == "enum {" and line != stripped:
            names: list[str] = []
            expect = 0
            j = i + 1
            while j < len(lines) and not lines[j].lstrip("\t").startswith("}"):
                name, _, value = lines[j].strip().rstrip(",").partition(" = ")
                try:
                    number = int(value, 0) if value else expect
                except ValueError:
                    number = expect
                names.append(name if number == expect else f"{name} = {number}")
                expect = number + 1
                j += 1
            if j < len(lines):
                indent = line[:len(line) - len(stripped)]
                rest = lines[j].lstrip("\t")[1:]
                out.append(f"{indent}enum {{{', '.join(names)}}}{rest}")
                i = j + 1
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def gdb_definition(t: Type) -> str:
    """Return a struct's or union's C definition as gdb prints it (drgn's text, each
    anonymous enum on one line)."""
    return _collapse_enums(str(t))


def offset_target(line: str) -> str:
    """Return the member name crash's ``struct -o`` reads from a line of a definition
    (symbols.c show_member_offset): the name before a bit field's ``:``, a function
    pointer's name, else the last word when it ends the declaration; '' for none."""
    words = line.split()
    target = ""
    if ":" in line:
        for i, w in enumerate(words):
            if i and w == ":":
                target = words[i - 1]
                break
    elif words:
        found = False
        if "(*" in line:
            for w in words:
                for prefix in ("(*", "*(*", "**(*"):
                    if w.startswith(prefix) and ")" in w[len(prefix):]:
                        target = w[len(prefix):].split(")", 1)[0]
                        found = True
                        break
                if found:
                    break
        if not found:
            target = words[-1] if ";" in words[-1] else ""
    for ch in "*[];()":
        target = target.replace(ch, " ")
    target = target.strip().split(" ", 1)[0]
    return target if target.isidentifier() else ""


def type_layout(t: Type) -> TypeLayout:
    """Return the :class:`TypeLayout` of a struct or union type."""
    members = tuple(
        MemberLayout(m.bit_offset, m.type.type_name() if m.type is not None else "?",
                     m.name or "", m.bit_field_size or 0)
        for m in t.members or ())
    definition = gdb_definition(t)
    offsets: list[int | None] = []
    for line in definition.split("\n"):
        name = offset_target(line) if line[:1] == "\t" else ""
        offset: int | None = None
        if name:
            try:
                offset = t.member(name).bit_offset // 8
            except (LookupError, ValueError):
                offset = None
        offsets.append(offset)
    return TypeLayout(t.kind.name.lower(), t.tag or "", t.size, definition, members,
                      tuple(offsets))


def definition_lines(definition: str) -> list[str]:
    """Return the lines of a C definition as crash prints it (tabs as four spaces)."""
    return definition.replace("\t", "    ").splitlines()


def _offset_line(layout: TypeLayout, line: str, offset: int | None) -> str:
    """One line of ``struct -o`` (symbols.c show_member_offset): ``  [OFFSET]`` right
    aligned in the width of the size plus four, then the line from its fourth column; a
    line without an offset is indented by the width of the size plus one."""
    width = len(str(layout.size)) + 4
    if offset is None:
        return " " * (width - 3) + line
    return f"  [{offset}]".rjust(width) + line[3:]


def layout_lines(layout: TypeLayout, offsets: bool,
                 members: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Return crash's text of a type: its definition and ``SIZE:``; with ``offsets``
    (``struct -o``) each member's byte offset before its line, as crash prints it. With
    ``members`` (``struct NAME.member``) only each member's line, with its offset, between
    the type's first and last line, and no size."""
    lines = definition_lines(layout.definition)
    line_offsets = list(layout.line_offsets) + [None] * (len(lines) - len(layout.line_offsets))
    if members:
        out: list[str] = []
        for member in members:
            out.append(lines[0])
            for line, offset in zip(lines[1:-1], line_offsets[1:-1], strict=True):
                if offset is not None and offset_target(line) == member:
                    out.append(_offset_line(layout, line, offset))
            out.append(lines[-1])
        return out
    if not offsets:
        return lines + [f"SIZE: {layout.size}"]
    out = [line if not line[:1].isspace() else _offset_line(layout, line, offset)
           for line, offset in zip(lines, line_offsets, strict=True)]
    return out + [f"SIZE: {layout.size}"]
