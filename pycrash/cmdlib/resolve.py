"""Turning command arguments into kernel addresses and numbers, and addresses into symbols.

One resolver for every command that takes an address (rd, dis, list, tree, struct, kmem,
vtop, search...): a hex number, a symbol, ``symbol+offset``, or a C expression naming an
object. Error messages carry no command name; the interpreter prefixes it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pycrash.errors import CommandError

if TYPE_CHECKING:
    from drgn import Program

#: ``base+offset`` or ``base-offset``: a symbol or hex number, then a number.
_PLUS_OFFSET = re.compile(r"(?P<base>.+?)\s*(?P<sign>[+-])\s*(?P<offset>0[xX][0-9a-fA-F]+|\d+)")
#: A hexadecimal number as commands take them: no sign, ``0x`` optional.
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]+")
#: What makes an argument a C expression rather than a name: member access, subscripts.
_EXPRESSION = re.compile(r"\.|->|\[")


def parse_hex(text: str, what: str = "address") -> int:
    """Return the number a hexadecimal argument (``ffffffff81000000``, ``0x1000``) holds.

    Raises :class:`CommandError` (``invalid WHAT: TEXT``) for anything else.
    """
    if not _HEX.fullmatch(text):
        raise CommandError(f"invalid {what}: {text}")
    return int(text, 16)


def parse_offset(text: str) -> int:
    """Return the number of an offset: decimal, or hexadecimal after ``0x`` (gdb's way)."""
    return int(text, 16) if text.lower().startswith("0x") else int(text, 10)


def _named(prog: Program, text: str) -> int | None:
    """Return the address a hex number, a symbol or an object expression names, or None."""
    if _HEX.fullmatch(text):
        return int(text, 16)
    try:
        return prog.symbol(text).address
    except LookupError:
        pass
    from pycrash.kernel.modtext import module_symbol_address

    found = module_symbol_address(prog, text)  # a module's symbol, without its debuginfo
    if found is not None:
        return found
    if _EXPRESSION.search(text) and not text.lower().startswith("0x"):
        from pycrash.kernel.expr import evaluate

        obj, _ = evaluate(prog, f"&{text}")
        return int(obj.value_())
    return None


def resolve_address(prog: Program, spec: str, what: str = "address") -> int:
    """Return the kernel address ``spec`` names.

    ``spec`` is a hex number (``ffffffff81000000``, ``0x1000``), a symbol (``jiffies``: the
    symbol's address), a C expression naming an object (``init_task.tasks``: the address of
    that member), or one of those plus or minus an offset (``panic+20``: decimal, or hex
    after ``0x``). Raises :class:`CommandError` (``invalid WHAT or symbol: SPEC``, or the
    expression's own error).
    """
    text = spec.strip()
    found = _named(prog, text)
    if found is None:
        m = _PLUS_OFFSET.fullmatch(text)
        base = _named(prog, m["base"]) if m else None
        if m and base is not None:
            offset = parse_offset(m["offset"])
            found = base + offset if m["sign"] == "+" else base - offset
    if found is None:
        raise CommandError(f"invalid {what} or symbol: {spec}")
    return found


def symbol_name(prog: Program, address: int) -> str | None:
    """Return ``symbol+offset`` of a kernel address (a return address just past a function
    that does not return is named after it, as crash does), or None when in no symbol.
    An arm64 return address signed with pointer authentication is named as its code."""
    from pycrash.kernel.stack import code_address, symbolize_address

    address = code_address(prog, address)
    name = symbolize_address(prog, address)
    return None if name == f"{address:x}" else name
