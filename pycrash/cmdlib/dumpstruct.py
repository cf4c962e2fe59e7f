"""An object as crash's ``dump_struct()`` prints it (``mach -c``, ``sbitmapq -v``, ``bpf -s``).

crash runs gdb with its repeat threshold at 0x7fffffff, so no run of equal elements is
collapsed to ``<repeats N times>`` and a char array shows every byte but its last NUL;
radix 16 (``-x``) shows every integer, char and bool in hex, negative ones as their
two's complement of the member's size, as gdb's ``output/x`` does.
"""

from __future__ import annotations

import dataclasses

from drgn import FaultError, Object, Type, TypeKind

from pycrash.cmdlib.structs import StructDump
from pycrash.kernel.format import (
    CValue,
    Member,
    ValueKind,
    function_pointer_text,
    member_at,
)

_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
            27: "\\033"}


def _underlying(t: Type) -> Type:
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


def _char(c: int, quote: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if chr(c) in (quote, "\\"):
        return "\\" + chr(c)
    if 32 <= c < 127:
        return chr(c)
    return f"\\{c:03o}"


def _is_char(t: Type) -> bool:
    t = _underlying(t)
    return t.kind == TypeKind.INT and t.size == 1 and "char" in (t.name or "")


def char_array_text(data: bytes) -> str:
    """gdb's text of a char array with no repeat collapsing: its final NUL dropped."""
    if data.endswith(b"\0"):
        data = data[:-1]
    return '"' + "".join(_char(c, '"') for c in data) + '"'


def _hex(value: int, size: int) -> str:
    return hex(value & ((1 << (8 * size)) - 1) if value < 0 else value)


def _scalar(text: str, value: int | None = None) -> CValue:
    return CValue(ValueKind.SCALAR, text=text, value=value)


def crash_value(obj: Object, radix: int = 10) -> CValue:
    """Return the :class:`CValue` of ``obj`` as crash's gdb shows it: no repeats collapsed,
    integers in hex with radix 16; unreadable parts are ``<error: ...>`` scalars."""
    try:
        t = _underlying(obj.type_)
        kind = t.kind
        if kind in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.CLASS):
            items = []
            for m in t.members or ():
                if m.name:
                    member = obj.member_(m.name)
                elif obj.address_ is not None:
                    member = Object(obj.prog_, m.type, address=obj.address_ + m.offset)
                else:
                    continue
                items.append(dataclasses.replace(crash_value(member, radix), name=m.name or ""))
            return CValue(ValueKind.STRUCT, items=tuple(items))
        if kind == TypeKind.ARRAY:
            length = t.length or 0
            if not length and obj.address_ is not None and not _is_char(t.type):
                return _scalar(f"{obj.address_:#x}")  # gdb: a flexible array's address
            if _is_char(t.type):
                data = (obj.prog_.read(obj.address_, length) if obj.address_ is not None
                        else bytes(obj.value_()))
                return _scalar(char_array_text(data))
            return CValue(ValueKind.ARRAY,
                          items=tuple(crash_value(obj[i], radix) for i in range(length)))
        if kind == TypeKind.POINTER:
            value = obj.value_()
            if value and _underlying(t.type).kind == TypeKind.FUNCTION:
                named = function_pointer_text(obj.prog_, value)
                if named is not None:
                    return _scalar(named, value)
            if value >= 1 << 63 and not _is_char(t.type):
                # gdb names a kernel address a symbol holds (ops tables, lists' heads)
                named = function_pointer_text(obj.prog_, value)
                if named is not None:
                    return _scalar(named, value)
            return _scalar(f"{value:#x}" if value else "0x0", value)
        if kind == TypeKind.ENUM:
            value = obj.value_()
            for e in t.enumerators or ():
                if e.value == value:
                    return _scalar(e.name, value)
            return _scalar(_hex(value, t.size or 4) if radix == 16 else str(value), value)
        if kind == TypeKind.BOOL:
            value = int(obj.value_())
            return _scalar(hex(value) if radix == 16 else ("true" if value else "false"), value)
        if kind == TypeKind.INT:
            value = obj.value_()
            if radix == 16:
                return _scalar(_hex(value, t.size or 8), value)
            if _is_char(t):
                return _scalar(f"{value} '{_char(value & 0xFF, chr(39))}'", value)
            return _scalar(str(value), value)
        if kind == TypeKind.FLOAT:
            return _scalar(repr(obj.value_()))
        return _scalar(str(obj.value_()))
    except FaultError as exc:
        return _scalar(f"<error: Cannot access memory at address {exc.address:#x}>")


def crash_struct_dump(obj: Object, members: list[str] | tuple[str, ...] = (),
                      radix: int = 10) -> StructDump:
    """Return the :class:`StructDump` of a kernel object as crash's ``dump_struct()``
    (no members named) or ``dump_struct_member()`` prints it; an unknown member raises
    :class:`CommandError` naming it."""
    type_name = obj.type_.type_name()
    address = int(obj.address_ or 0)
    if not members:
        return StructDump(type_name, address, crash_value(obj, radix))
    found = [Member(path, crash_value(member_at(obj, path), radix)) for path in members]
    return StructDump(type_name, address, None, tuple(found))
