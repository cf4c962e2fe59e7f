"""Format drgn objects the way crash (through gdb) prints them.

``struct task_struct.pid,comm ADDR`` in crash shows ``pid = 102,`` and
``comm = "pcfix-sleeper1\\000",``; a whole structure is a brace block with
two-space indentation. crash runs gdb with its repeat threshold at 0x7fffffff,
so no run of equal array elements collapses to ``<repeats N times>`` (gdb's own
default collapses more than ten); a char array drops its final NUL, as gdb does.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from drgn import FaultError, Object, Program, Type, TypeKind

#: crash sets gdb's repeat_count_threshold to 0x7fffffff: runs are never collapsed
REPEAT_THRESHOLD = 0x7FFFFFFF
_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
            34: '\\"', 92: "\\\\"}


def _underlying(t: Type) -> Type:
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


def _char(c: int, quote: str) -> str:
    if c in _ESCAPES and (c != 34 or quote == '"'):
        return _ESCAPES[c]
    if c == 39 and quote == "'":
        return "\\'"
    if 32 <= c < 127:
        return chr(c)
    return f"\\{c:03o}"


def format_char_array(data: bytes, limit: int | None = None) -> str:
    """Return gdb's rendering of a char array: ``"sh", '\\000' <repeats 13 times>``. With
    a ``limit`` (gdb's print elements), runs of equal characters are taken whole until that
    many are taken, and ``...`` follows when some are left. A digit after an octal escape
    is escaped too (``"set\\000\\060"``), as gdb writes it."""
    if data.endswith(b"\0"):
        data = data[:-1]
    if not data:
        return '""'
    runs: list[tuple[int, int]] = []
    i = taken = 0
    while i < len(data) and (limit is None or taken < limit):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        runs.append((data[i], j - i))
        taken += j - i
        i = j
    parts: list[str] = []
    run: list[str] = []
    escaped = False  # the last character was written as an octal escape
    for c, count in runs:
        if count > REPEAT_THRESHOLD:
            if run:
                parts.append('"' + "".join(run) + '"')
                run = []
            parts.append(f"'{_char(c, chr(39))}' <repeats {count} times>")
            escaped = False
            continue
        for _ in range(count):
            text = f"\\{c:03o}" if escaped and 48 <= c <= 57 else _char(c, '"')
            escaped = text.startswith("\\") and text[1:2].isdigit()
            run.append(text)
    if run:
        parts.append('"' + "".join(run) + '"')
    return ", ".join(parts) + ("..." if i < len(data) else "")


#: gdb's "print elements" limit as crash sets it (print_max): a string longer than this
#: ends in "..."
PRINT_ELEMENTS = 256


def _pointed_string(prog: Program, address: int) -> str:
    """Return the string a char pointer points to as gdb prints it after the address:
    ``"text"`` (at most 256 characters, then ``...``), or gdb's error where the memory
    cannot be read."""
    data = b""
    at = address
    try:
        while len(data) <= PRINT_ELEMENTS:
            chunk = prog.read(at, min(64, 4096 - (at & 4095)))
            at += len(chunk)
            end = chunk.find(b"\0")
            if end >= 0:
                data += chunk[:end]
                break
            data += chunk
    except FaultError:
        if not data:
            return f"<error: Cannot access memory at address {address:#x}>"
    if len(data) > PRINT_ELEMENTS:
        return format_char_array(data[:PRINT_ELEMENTS] + b"\0") + "..."
    return format_char_array(data + b"\0")


def _is_char(t: Type) -> bool:
    t = _underlying(t)
    return t.kind == TypeKind.INT and t.size == 1 and "char" in (t.name or "")


def _int_text(value: int, hex_mode: bool) -> str:
    if hex_mode:
        return hex(value) if value >= 0 else "-" + hex(-value)
    return str(value)


class ValueKind(enum.Enum):
    """How a :class:`CValue` is shown: a scalar's text, a struct's members, an array's elements."""

    SCALAR = "scalar"
    STRUCT = "struct"
    ARRAY = "array"


@dataclass(frozen=True)
class CValue:
    """A C value as gdb shows it, as data: a scalar (its gdb text, and its number when it
    is an integer, pointer, enum or bool), or the members of a struct or union, or the
    elements of an array (a run of more than ten equal ones is one item with ``repeats``)."""

    kind: ValueKind
    name: str = ""
    text: str = ""
    value: int | None = None
    items: tuple[CValue, ...] = ()
    repeats: int = 1


def _scalar(text: str, value: int | None = None) -> CValue:
    return CValue(ValueKind.SCALAR, text=text, value=value)


def data_symbol(prog: Program, address: int) -> str | None:
    """Return ``symbol+offset`` of the kernel symbol holding ``address`` as gdb prints it
    after a pointer (``<init_task+168>``), or None: no symbol of a size holds it, or it is
    an offset in the per-CPU section (which gdb does not name)."""
    if not address:
        return None
    try:
        sym = prog.symbol(address)
        if not sym.size:  # gdb names no data symbol of size 0 (a linker script's label)
            sym = next(s for s in prog.symbols(address) if s.size)
    except (LookupError, ValueError, OverflowError, StopIteration):
        return None
    if sym.name.startswith(".L"):  # an assembler's local label: gdb keeps none
        return None
    from pycrash.kernel.percpu import percpu_range

    bounds = percpu_range(prog)
    if bounds is not None and bounds[0] <= address < bounds[1]:
        return None
    off = address - sym.address
    return f"{sym.name}+{off}" if off else sym.name


def value_tree(obj: Object, hex_mode: bool = False, symbols: bool = True) -> CValue:
    """Return the :class:`CValue` of ``obj``; unreadable parts are ``<error: ...>`` scalars.
    A pointer into a kernel symbol is followed by ``<symbol+offset>`` as gdb prints it
    (not with ``symbols`` False: gdb's ``p/x``)."""
    try:
        t = _underlying(obj.type_)
        kind = t.kind
        if kind in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.CLASS):
            return _members_tree(obj, t, hex_mode, symbols)
        if kind == TypeKind.ARRAY:
            return _array_tree(obj, t, hex_mode, symbols)
        if kind == TypeKind.POINTER:
            value = obj.value_()
            target = _underlying(t.type)
            if target.kind == TypeKind.FUNCTION and value:
                named = function_pointer_text(obj.prog_, value)
                if named is not None:
                    return _scalar(named, value)
            name = data_symbol(obj.prog_, value) if symbols else None
            shown = f"{value:#x} <{name}>" if name else f"{value:#x}" if value else "0x0"
            if value and _is_char(target):
                return _scalar(f"{shown} {_pointed_string(obj.prog_, value)}", value)
            return _scalar(shown, value)
        if kind == TypeKind.ENUM:
            value = obj.value_()
            for e in t.enumerators or ():
                if e.value == value:
                    return _scalar(e.name, value)
            return _scalar(str(value), value)
        if kind == TypeKind.BOOL:
            value = obj.value_()
            return _scalar("true" if value else "false", int(value))
        if kind == TypeKind.INT:
            value = obj.value_()
            if _is_char(t) and not hex_mode:  # gdb's hex radix shows a char as a number
                return _scalar(f"{value} '{_char(value & 0xFF, chr(39))}'", value)
            return _scalar(_int_text(value, hex_mode), value)
        if kind == TypeKind.FLOAT:
            return _scalar(repr(obj.value_()))
        if kind == TypeKind.FUNCTION:
            return _scalar(f"{{{t}}} {obj.address_:#x}", obj.address_)
        return _scalar(str(obj.value_()))
    except FaultError as exc:
        return _scalar(f"<error: Cannot access memory at address {exc.address:#x}>")


def _array_tree(obj: Object, t: Type, hex_mode: bool, symbols: bool = True) -> CValue:
    if t.length is None and obj.address_ is not None:
        # a flexible array member: gdb shows where it starts, as a pointer (of chars, with
        # the string there)
        address = int(obj.address_)
        name = data_symbol(obj.prog_, address) if symbols else None
        shown = f"{address:#x} <{name}>" if name else f"{address:#x}"
        if _is_char(t.type):
            shown += f" {_pointed_string(obj.prog_, address)}"
        return _scalar(shown, address)
    length = t.length or 0
    if _is_char(t.type):
        try:
            data = obj.prog_.read(obj.address_, length) if obj.address_ else bytes(obj.value_())
            return _scalar(format_char_array(data, PRINT_ELEMENTS))
        except FaultError as exc:
            return _scalar(f"<error: Cannot access memory at address {exc.address:#x}>")
    items = [value_tree(obj[i], hex_mode, symbols) for i in range(length)]
    runs: list[CValue] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j] == items[i]:
            j += 1
        if j - i > REPEAT_THRESHOLD:
            runs.append(dataclasses.replace(items[i], repeats=j - i))
        else:
            runs.extend(items[i:j])
        i = j
    return CValue(ValueKind.ARRAY, items=tuple(runs))


def _members_tree(obj: Object, t: Type, hex_mode: bool, symbols: bool = True) -> CValue:
    items = []
    for m in t.members or ():
        if m.name:
            member = obj.member_(m.name)
        elif obj.address_ is not None:  # an anonymous struct or union inside
            member = Object(obj.prog_, m.type, address=obj.address_ + m.offset)
        else:
            continue
        items.append(dataclasses.replace(value_tree(member, hex_mode, symbols),
                                         name=m.name or ""))
    return CValue(ValueKind.STRUCT, items=tuple(items))


def value_text(value: CValue, indent: int = 0) -> str:
    """Return gdb's text of a :class:`CValue` (``{`` blocks for aggregates, indented by
    ``indent`` spaces after the first line)."""
    if value.kind == ValueKind.STRUCT:
        if not value.items:
            return "{<No data fields>}"
        pad = " " * (indent + 2)
        items = [f"{pad}{m.name} = {value_text(m, indent + 2)}" if m.name
                 else f"{pad}{value_text(m, indent + 2)}" for m in value.items]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if value.kind == ValueKind.ARRAY:
        # gdb indents the members of an array's structs two more: {{ ... }, { ... }}
        return "{" + ", ".join(
            value_text(e, indent + 2)
            + (f" <repeats {e.repeats} times>" if e.repeats > 1 else "")
            for e in value.items) + "}"
    return value.text


def format_value(obj: Object, hex_mode: bool = False, indent: int = 0) -> str:
    """Return the value of ``obj`` as gdb prints it (``{`` blocks for aggregates)."""
    return value_text(value_tree(obj, hex_mode), indent)


@dataclass(frozen=True)
class Member:
    """One member path of a struct (``se.vruntime``) and its value."""

    path: str
    value: CValue


def function_pointer_text(prog: Program, value: int) -> str | None:
    """Return a function pointer as gdb prints it, ``0xADDR <symbol+off>``, or None when
    no symbol holds ``value``."""
    try:
        sym = prog.symbol(value)
    except LookupError:
        return None
    off = value - sym.address
    return f"{value:#x} <{sym.name}{'+' + str(off) if off else ''}>"


def member_at(obj: Object, path: str) -> Object:
    """Return the member of ``obj`` a dotted ``path`` names (``se.vruntime``); an unknown
    member raises :class:`pycrash.errors.CommandError` naming it."""
    from pycrash.errors import CommandError

    value = obj
    try:
        for part in path.split("."):
            value = value.member_(part)
    except LookupError:
        raise CommandError(f"{obj.type_.type_name()} has no member {path!r}") from None
    return value


def member_values(obj: Object, paths: list[str], hex_mode: bool = False) -> list[Member]:
    """Return the :class:`Member` of each member path of ``obj``; an unknown member raises
    :class:`pycrash.errors.CommandError` naming it."""
    return [Member(path, value_tree(member_at(obj, path), hex_mode)) for path in paths]


def members_lines(members: list[Member]) -> list[str]:
    """Return crash's lines for member values: ``  pid = 102,`` (blocks indented)."""
    lines: list[str] = []
    for m in members:
        text = value_text(m.value, indent=2)
        if "\n" not in text:
            lines.append(f"  {m.path} = {text},")
        else:
            split = text.splitlines()
            lines += [f"  {m.path} = " + split[0]] + split[1:-1] + [split[-1] + ","]
    return lines


def whole_lines(type_name: str, value: CValue) -> list[str]:
    """Return crash's lines for a whole object: ``struct NAME {`` ... ``}``."""
    return f"{type_name} {value_text(value)}".splitlines()


def object_lines(obj: Object, members: list[str], hex_mode: bool = False) -> list[str]:
    """Return crash's lines for an object: the named members (``  pid = 1,``), or the
    whole ``struct NAME {...}`` when none are named. An unknown member raises
    :class:`pycrash.errors.CommandError` naming it."""
    if not members:
        return whole_lines(obj.type_.type_name(), value_tree(obj, hex_mode))
    return members_lines(member_values(obj, members, hex_mode))
