"""Format drgn objects the way crash (through gdb) prints them.

``struct task_struct.pid,comm ADDR`` in crash shows ``pid = 102,`` and
``comm = "pcfix-sleeper1\\000",``; a whole structure is a brace block with
two-space indentation. Runs of more than ten equal array elements collapse
to ``<repeats N times>``, and a char array drops its final NUL, as gdb does.
"""

from __future__ import annotations

from drgn import FaultError, Object, Type, TypeKind

REPEAT_THRESHOLD = 10
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


def format_char_array(data: bytes) -> str:
    """Return gdb's rendering of a char array: ``"sh", '\\000' <repeats 13 times>``."""
    if data.endswith(b"\0"):
        data = data[:-1]
    if not data:
        return '""'
    parts: list[str] = []
    run: list[str] = []
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        count = j - i
        if count > REPEAT_THRESHOLD:
            if run:
                parts.append('"' + "".join(run) + '"')
                run = []
            parts.append(f"'{_char(data[i], chr(39))}' <repeats {count} times>")
        else:
            run.extend(_char(data[i], '"') for _ in range(count))
        i = j
    if run:
        parts.append('"' + "".join(run) + '"')
    return ", ".join(parts)


def _is_char(t: Type) -> bool:
    t = _underlying(t)
    return t.kind == TypeKind.INT and t.size == 1 and "char" in (t.name or "")


def _int_text(value: int, hex_mode: bool) -> str:
    if hex_mode:
        return hex(value) if value >= 0 else "-" + hex(-value)
    return str(value)


def format_value(obj: Object, hex_mode: bool = False, indent: int = 0) -> str:
    """Return the value of ``obj`` as gdb prints it (``{`` blocks for aggregates)."""
    try:
        t = _underlying(obj.type_)
        kind = t.kind
        if kind in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.CLASS):
            return _format_members(obj, t, hex_mode, indent)
        if kind == TypeKind.ARRAY:
            return _format_array(obj, t, hex_mode, indent)
        if kind == TypeKind.POINTER:
            value = obj.value_()
            target = _underlying(t.type)
            if target.kind == TypeKind.FUNCTION and value:
                try:
                    sym = obj.prog_.symbol(value)
                    off = value - sym.address
                    return f"{value:#x} <{sym.name}{'+' + str(off) if off else ''}>"
                except LookupError:
                    pass
            return f"{value:#x}" if value else "0x0"
        if kind == TypeKind.ENUM:
            value = obj.value_()
            for e in t.enumerators or ():
                if e.value == value:
                    return e.name
            return str(value)
        if kind == TypeKind.BOOL:
            return "true" if obj.value_() else "false"
        if kind == TypeKind.INT:
            value = obj.value_()
            if _is_char(t):
                return f"{value} '{_char(value & 0xFF, chr(39))}'"
            return _int_text(value, hex_mode)
        if kind == TypeKind.FLOAT:
            return repr(obj.value_())
        if kind == TypeKind.FUNCTION:
            return f"{{{t}}} {obj.address_:#x}"
        return str(obj.value_())
    except FaultError as exc:
        return f"<error: Cannot access memory at address {exc.address:#x}>"


def _format_array(obj: Object, t: Type, hex_mode: bool, indent: int) -> str:
    length = t.length or 0
    if _is_char(t.type):
        try:
            return format_char_array(obj.prog_.read(obj.address_, length)) if obj.address_ \
                else format_char_array(bytes(obj.value_()))
        except FaultError as exc:
            return f"<error: Cannot access memory at address {exc.address:#x}>"
    items = [format_value(obj[i], hex_mode, indent) for i in range(length)]
    parts: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j] == items[i]:
            j += 1
        if j - i > REPEAT_THRESHOLD:
            parts.append(f"{items[i]} <repeats {j - i} times>")
        else:
            parts.extend(items[i:j])
        i = j
    return "{" + ", ".join(parts) + "}"


def _format_members(obj: Object, t: Type, hex_mode: bool, indent: int) -> str:
    pad = " " * (indent + 2)
    items = []
    for m in t.members or ():
        if m.name:
            member = obj.member_(m.name)
        elif obj.address_ is not None:  # an anonymous struct or union inside
            member = Object(obj.prog_, m.type, address=obj.address_ + m.offset)
        else:
            continue
        value = format_value(member, hex_mode, indent + 2)
        items.append(f"{pad}{m.name} = {value}" if m.name else f"{pad}{value}")
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def member_lines(obj: Object, path: str, hex_mode: bool = False) -> list[str]:
    """Return crash's lines for one member path of a struct: ``  pid = 102,``."""
    value = obj
    for part in path.split("."):
        value = value.member_(part)
    text = format_value(value, hex_mode, indent=2)
    return [f"  {path} = {text},"] if "\n" not in text else (
        [f"  {path} = " + text.splitlines()[0]] + text.splitlines()[1:-1]
        + [text.splitlines()[-1] + ","]
    )


def object_lines(obj: Object, members: list[str], hex_mode: bool = False) -> list[str]:
    """Return crash's lines for an object: the named members (``  pid = 1,``), or the
    whole ``struct NAME {...}`` when none are named. An unknown member raises
    :class:`pycrash.errors.CommandError` naming it."""
    from pycrash.errors import CommandError

    if not members:
        return f"{obj.type_.type_name()} {format_value(obj, hex_mode)}".splitlines()
    lines: list[str] = []
    for m in members:
        try:
            lines += member_lines(obj, m, hex_mode)
        except LookupError:
            raise CommandError(f"{obj.type_.type_name()} has no member {m!r}") from None
    return lines
