"""Conventions for the records commands return.

A record is a (frozen) dataclass of typed fields: ids, addresses, names, numbers and
nested records, never text already formatted as crash prints it. A field that holds a
kernel address, or any number crash shows in hexadecimal, is declared so with
:data:`Hex` (``task: Hex``); tables and notebooks show those fields in hex, JSON keeps
them as numbers.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any


class HexMark:
    """The marker :data:`Hex` carries: this number is shown in hexadecimal."""

    def __repr__(self) -> str:
        return "HEX"


class ProseMark:
    """The marker :data:`Prose` carries: this string is free text (a help page's
    description), which may hold several lines."""

    def __repr__(self) -> str:
        return "PROSE"


HEX = HexMark()
PROSE = ProseMark()
#: Free text that may span lines: a help page's description, Python's output.
Prose = Annotated[str, PROSE]
#: C source that may span lines: a type's definition or a declaration, as drgn writes
#: C (crash's text is made from it: tabs become four spaces).
CSource = Annotated[str, PROSE]
#: An integer crash shows in hex: an address, a mask, a pfn.
Hex = Annotated[int, HEX]
#: An address that may be absent.
OptHex = Annotated[int | None, HEX]


_HEX_FIELDS: dict[type, frozenset[str]] = {}


def hex_fields(cls: type) -> frozenset[str]:
    """Return the names of the fields of dataclass ``cls`` declared :data:`Hex`."""
    found = _HEX_FIELDS.get(cls)
    if found is None:
        found = frozenset()
        if dataclasses.is_dataclass(cls):
            try:
                hints = typing.get_type_hints(cls, include_extras=True)
            except (NameError, TypeError):  # annotations that cannot be evaluated
                hints = {}
            found = frozenset(name for name, hint in hints.items()
                              if any(m is HEX for m in getattr(hint, "__metadata__", ())))
        _HEX_FIELDS[cls] = found
    return found


def is_hex(record: Any, name: str) -> bool:
    """Return whether field ``name`` of ``record`` is declared :data:`Hex`."""
    return name in hex_fields(type(record))
