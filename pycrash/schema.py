"""The JSON schema of every command's output, made from the record types commands declare.

``pycrash --output json`` writes one object per command, ``{"command": NAME, "rows":
[...], "errors": [...]}``; each row is a record (a dataclass) turned into an object
field by field, nested records into nested objects, enums into their values. This
module describes those records as Markdown for the README (``python -m pycrash.schema``),
and the test suite checks the README against it.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pycrash.records import HEX

#: The README's markers around the generated section.
BEGIN = "<!-- json-schema: made by python -m pycrash.schema; do not edit by hand -->"
END = "<!-- json-schema end -->"


def _type_name(hint: Any, nested: list[type]) -> str:
    """Return a short JSON-ish name of a field's type; collect record types in ``nested``."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        name = _type_name(base, nested)
        return f"{name} (hex)" if any(m is HEX for m in meta) else name
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = " or ".join(_type_name(a, nested) for a in args)
        return f"{inner} or null" if len(args) < len(typing.get_args(hint)) else inner
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"[{_type_name(args[0], nested) if args else 'any'}]"
    if origin is dict:
        key, value = typing.get_args(hint)
        return f"{{{_type_name(key, nested)}: {_type_name(value, nested)}}}"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint not in nested:
            nested.append(hint)
        return hint.__name__
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(f'"{m.value}"' for m in hint)
    return {int: "integer", str: "string", bool: "boolean", float: "number",
            bytes: "string"}.get(hint, getattr(hint, "__name__", str(hint)).replace(
                "Any", "any"))


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def record_lines(cls: type, done: set[type]) -> Iterator[str]:
    """Yield the Markdown of a record type and of the records nested in it, once each."""
    queue = [cls]
    while queue:
        rec = queue.pop(0)
        if rec in done:
            continue
        done.add(rec)
        nested: list[type] = []
        hints = typing.get_type_hints(rec, include_extras=True)
        fields = [(f.name, _type_name(hints[f.name], nested)) for f in dataclasses.fields(rec)]
        yield f"- `{rec.__name__}`: {_summary(rec)}"
        yield "  " + "; ".join(f"`{name}` {kind}" for name, kind in fields)
        queue.extend(n for n in nested if n not in done)


def markdown() -> str:
    """Return the README's JSON schema section: each command's record types."""
    from pycrash.registry import registry

    out = [BEGIN, ""]
    for cmd in registry().commands():
        if not cmd.records:
            continue
        names = ", ".join(f"`{n}`" for n in (cmd.name, *cmd.aliases))
        out.append(f"**{names}**")
        out.append("")
        done: set[type] = set()
        for rec in cmd.records:
            out.extend(record_lines(rec, done))
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def main() -> int:
    """Print the schema section (``python -m pycrash.schema``)."""
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
