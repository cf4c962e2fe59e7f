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
    member_at,
    member_values,
    members_lines,
    value_text,
    value_tree,
    whole_lines,
)
from pycrash.records import CSource, Hex, OptHex

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
            pass
        from drgn import offsetof

        try:  # a nested member: struct.member.member
            return offsetof(t, member)
        except (LookupError, ValueError, TypeError):
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
class ReadMember:
    """A member as list's and tree's ``-S`` read it straight from memory: its path, its
    size, whether it is a pointer, and for a member of 1 to 8 bytes its value (None when
    it cannot be read); for a char array or char pointer (``string``) its string
    (``text``); the function a value points into (``symbol``); a larger member as ``-s``
    shows it (``member``)."""

    path: str
    size: int
    pointer: bool
    value: int | None = None
    text: str | None = None
    symbol: str | None = None
    member: Member | None = None
    string: bool = False


def _is_string(t: Type) -> tuple[bool, bool]:
    """Whether a member type is a char array or a char pointer: ``(string, pointer)``."""
    from drgn import TypeKind

    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    pointer = t.kind == TypeKind.POINTER
    if t.kind not in (TypeKind.ARRAY, TypeKind.POINTER):
        return False, pointer
    target = t.type
    while target.kind == TypeKind.TYPEDEF:
        target = target.type
    return (target.kind == TypeKind.INT and target.size == 1
            and "char" in (target.name or "")), pointer


def _text_symbol(prog: Program, value: int) -> str | None:
    """The function (the kernel's or a module's) holding ``value``, or None."""
    try:
        sym = prog.symbol(value)
        return sym.name if sym.kind.name == "FUNC" else None
    except (LookupError, ValueError, OverflowError):
        pass
    from pycrash.kernel.modtext import module_at, module_symbol

    region = module_at(prog, value)
    if region is None or not region.text:
        return None
    found = module_symbol(prog, value)
    return found[0] if found is not None else None


def read_members(obj: Object, paths: tuple[str, ...] | list[str],
                 hex_mode: bool = False) -> tuple[ReadMember, ...]:
    """Return each member path of ``obj`` as ``-S`` reads it (crash's
    dump_struct_members_fast): 1-to-8-byte members and strings read from memory, larger
    ones as ``-s`` shows them. An unknown member raises :class:`CommandError`."""
    from drgn import FaultError, sizeof

    prog = obj.prog_
    out = []
    for path in paths:
        member = member_at(obj, path)
        size = sizeof(member.type_)
        string, pointer = _is_string(member.type_)
        if not (0 < size <= 8 or string):
            out.append(ReadMember(path, size, pointer,
                                  member=Member(path, value_tree(member, hex_mode))))
            continue
        address = int(member.address_ or 0)
        value = None
        if size <= 8:
            try:
                value = int.from_bytes(prog.read(address, size), "little")
            except FaultError:
                out.append(ReadMember(path, size, pointer))
                continue
        text = symbol = None
        if string:
            where, limit = (value or 0, 1499) if pointer else (address, size)
            text = _c_string(prog, where, limit) if where else None
        elif value:
            symbol = _text_symbol(prog, value)
        out.append(ReadMember(path, size, pointer, value, text, symbol, string=string))
    return tuple(out)


def read_members_lines(members: tuple[ReadMember, ...], hex_mode: bool = False) -> list[str]:
    """Return crash's ``-S`` lines: ``  name = VALUE`` (unsigned decimal, hex for a pointer
    or with ``hex_mode``; no comma), then a pointer's string or function; a char array as
    ``  name = "text"``; a larger member as ``-s`` shows it."""
    lines: list[str] = []
    for m in members:
        if m.member is not None:
            lines += members_lines([m.member])
            continue
        line = ""
        if m.size <= 8:
            if m.value is None:
                lines.append(f"cannot access member: {m.path}")
                continue
            line = f"  {m.path} = {m.value:#x}" if m.pointer or hex_mode else \
                f"  {m.path} = {m.value}"
        if m.string:
            if m.pointer:
                line += f'  "{m.text or ""}"'
            else:
                line += f'  {m.path} = "{m.text or ""}"'
        elif m.symbol is not None:
            line += f" <{m.symbol}>"
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Dereferenced:
    """A pointer member as ``struct -p`` shows it: its name, its C declaration, its value,
    the symbol at the address it holds, and what is there. ``kind`` says how the target
    is shown: ``function`` (its symbol), ``string`` (a char pointer's string, in
    ``text``), ``untyped`` (a void pointer: its symbol), ``pointer`` (a pointer to a
    pointer: the value there, in ``word``), ``data`` (the value there, in ``target``,
    as gdb prints it), or ``missing`` (the pointer is NULL or cannot be read, or its type
    has no definition, named in ``text``)."""

    name: str
    declaration: CSource
    kind: str
    pointer: Hex
    symbol: str | None = None
    target: CValue | None = None
    text: str | None = None
    word: OptHex = None


@dataclass(frozen=True)
class DerefDump:
    """A kernel object shown by ``struct -p``: the object (whole, or its members named)
    and each of its pointer members dereferenced."""

    dump: StructDump
    pointers: tuple[Dereferenced, ...]


def _exact_symbol(prog: Program, address: int) -> str | None:
    """The name of the symbol that starts at ``address`` (crash's value_symbol)."""
    if not address:
        return None
    try:
        sym = prog.symbol(address)
    except LookupError:
        return None
    return sym.name if sym.address == address else None


def _c_string(prog: Program, address: int, limit: int = 1499) -> str | None:
    """The NUL-terminated string at ``address`` as crash's read_string() reads it (at
    most ``limit`` bytes, undecoded bytes as Latin-1), or None when it cannot be read."""
    from drgn import FaultError

    data = b""
    try:
        while len(data) < limit:
            chunk = prog.read(address + len(data), min(64, limit - len(data)))
            end = chunk.find(b"\0")
            if end >= 0:
                return (data + chunk[:end]).decode("latin-1")
            data += chunk
    except FaultError:
        return data.decode("latin-1") if data else None
    return data.decode("latin-1")


def dereference(member: Object, name: str, hex_mode: bool = False) -> Dereferenced | None:
    """Return how ``struct -p`` shows the member ``name`` (an object of the struct): a
    :class:`Dereferenced` for a pointer, None for any other member (shown as it is)."""
    from drgn import FaultError, TypeKind

    prog = member.prog_
    t = member.type_
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    if t.kind != TypeKind.POINTER:
        return None
    declaration = member.type_.variable_declaration(name)
    try:
        pointer = int(member.value_())
    except FaultError:
        return Dereferenced(name, declaration, "missing", 0, text="not accessible")
    symbol = _exact_symbol(prog, pointer)
    target = t.type
    while target.kind == TypeKind.TYPEDEF:
        target = target.type
    if target.kind == TypeKind.FUNCTION:
        return Dereferenced(name, declaration, "function", pointer, symbol)
    if target.kind == TypeKind.INT and target.size == 1 and "char" in (target.name or ""):
        text = _c_string(prog, pointer) if pointer else None
        return Dereferenced(name, declaration, "string", pointer, symbol, text=text)
    if target.kind == TypeKind.VOID:
        return Dereferenced(name, declaration, "untyped", pointer, symbol)
    readable = False
    if pointer:
        try:
            prog.read(pointer, 1)
            readable = True
        except FaultError:
            pass
    if not readable:
        return Dereferenced(name, declaration, "missing", pointer,
                            text="not accessible" if pointer else None)
    if target.kind == TypeKind.POINTER:
        try:
            word: int | None = prog.read_u64(pointer)
        except FaultError:
            word = None
        return Dereferenced(name, declaration, "pointer", pointer, symbol, word=word)
    if not target.is_complete():
        return Dereferenced(name, declaration, "missing", pointer,
                            text=f"{t.type.type_name()}: no debuginfo data")
    value = value_tree(Object(prog, t.type, address=pointer), hex_mode)
    return Dereferenced(name, declaration, "data", pointer, symbol, target=value)


def deref_dump(obj: Object, members: tuple[str, ...] | list[str] = (),
               hex_mode: bool = False) -> DerefDump:
    """Return the :class:`DerefDump` of a kernel object: :func:`struct_dump`, and each
    pointer among the members named (every member when none are) dereferenced."""
    from drgn import TypeKind

    dump = struct_dump(obj, members, hex_mode)
    names = list(members)
    if not names:
        t = obj.type_
        while t.kind == TypeKind.TYPEDEF:
            t = t.type
        names = [m.name for m in t.members or () if m.name]
    pointers = []
    for name in names:
        if "." in name or "[" in name:
            continue  # crash dereferences a member of the struct itself only
        found = dereference(obj.member_(name), name, hex_mode)
        if found is not None:
            pointers.append(found)
    return DerefDump(dump, tuple(pointers))


def _deref_lines(d: Dereferenced) -> list[str]:
    """crash's two (or more) lines of a dereferenced pointer member."""
    head = f"  {d.declaration} = {d.pointer:#x}"
    sym = f"<{d.symbol}>" if d.symbol else ""
    if d.kind == "function":
        return [head, f"  -> {sym or ('(unknown)' if d.pointer else 'NULL')}"]
    if d.kind == "string":
        shown = "NULL" if not d.pointer else \
            "(not accessible)" if d.text is None else f'"{d.text}"'
        return [head, f"  -> {sym + ' ' if sym else ''}{shown}"]
    if d.kind == "untyped":
        return [head, f"  -> {sym or ('(unknown target type)' if d.pointer else 'NULL')}"]
    if d.kind == "missing":
        return [head, f"  -> {'NULL' if d.text is None else f'({d.text})'}"]
    if d.kind == "pointer":
        return [head, f"  -> {sym + ' ' if sym else ''}{'' if d.word is None else f'{d.word:x}'}"]
    text = value_text(d.target) if d.target is not None else ""
    first, *rest = text.splitlines() or [""]
    return [head, f"  -> {sym + ' ' if sym else ''}{first}"] + [f"     {line}" for line in rest]


def deref_lines(dd: DerefDump) -> list[str]:
    """Return crash's ``struct -p`` lines: the object's lines with each pointer member's
    line replaced by its declaration and value, then ``-> `` and what it points to."""
    by_name = {d.name: d for d in dd.pointers}
    out = []
    for line in dump_lines(dd.dump):
        name = line[2:].split(" = ", 1)[0] if line.startswith("  ") and \
            not line.startswith("   ") else ""
        if name in by_name and "{" not in line and "}" not in line:
            out += _deref_lines(by_name[name])
        else:
            out.append(line)
    return out


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
    by name as crash finds it (through anonymous structs and unions), or None; with an
    ``address`` (``struct -o TYPE ADDRESS``) the members' addresses are shown instead."""

    kind: str
    tag: str
    size: int
    definition: CSource
    members: tuple[MemberLayout, ...]
    line_offsets: tuple[int | None, ...] = ()
    address: OptHex = None


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
    line without an offset is indented by the width of the size plus one. With the
    layout's address, the member's address ``  [ADDRESS]`` in place of its offset."""
    width = len(str(layout.size)) + 4
    if offset is None:
        return " " * (width - 3) + line
    if layout.address is not None:
        return f"  [{layout.address + offset:x}]" + line[3:]
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
