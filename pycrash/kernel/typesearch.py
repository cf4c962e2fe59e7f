"""Searching the kernel's types by size or by what their members are (crash's
``whatis -r`` and ``-m``).

drgn looks types up by name but cannot list them; the kernel's BTF (between
``__start_BTF`` and ``__stop_BTF``, CONFIG_DEBUG_INFO_BTF) describes every type the
kernel was built with, so it is the list: each named struct, union, enum, typedef and
base type once, with its size. A type "holds" another as gdb's crash patch searches:
a member of that type (an array's element type, a pointer's target type) whose name
contains the text asked for, looking into embedded structs (not unions) too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import Program

from pycrash.kernel.btf import (
    ARRAY,
    CONST,
    ENUM,
    ENUM64,
    FLOAT,
    INT,
    PTR,
    RESTRICT,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VOLATILE,
    Btf,
    BtfError,
)

#: the kinds of BTF types gdb lists as types (its LOC_TYPEDEF symbols)
_LISTED = (STRUCT, UNION, ENUM, ENUM64, TYPEDEF, INT, FLOAT)
#: the qualifiers BTF puts between a member and its type (gdb's name is the type's)
_QUALIFIERS = (CONST, VOLATILE, RESTRICT, TYPE_TAG)
#: deeper than any kernel type nests (a guard against a damaged blob)
_MAX_DEPTH = 64


@dataclass(frozen=True)
class TypeSize:
    """A kernel type found by a search: its name (a struct's or union's tag, an enum's,
    a typedef's or base type's name) and its size in bytes."""

    name: str
    size: int


def kernel_btf(prog: Program) -> Btf:
    """Return the kernel's own BTF: the one the session's types come from, else read
    once from its memory (``__start_BTF`` to ``__stop_BTF``). Raises
    :class:`LookupError` when the kernel has none."""
    found = prog.cache.get("pycrash_typesearch_btf")
    if found is not None:
        return found
    served = prog.cache.get("pycrash_nodebug")  # the BTF the session's types come from
    vmlinux = getattr(getattr(served, "types", None), "vmlinux", None)
    if isinstance(vmlinux, Btf):
        prog.cache["pycrash_typesearch_btf"] = vmlinux
        return vmlinux
    try:
        start = prog.symbol("__start_BTF").address
        stop = prog.symbol("__stop_BTF").address
    except LookupError:
        raise LookupError("the kernel has no BTF (CONFIG_DEBUG_INFO_BTF) to list its "
                          "types from") from None
    try:
        btf = Btf(prog.read(start, stop - start))
    except (BtfError, ValueError) as exc:
        raise LookupError(f"the kernel's BTF cannot be read: {exc}") from None
    prog.cache["pycrash_typesearch_btf"] = btf
    return btf


def _size(btf: Btf, tid: int) -> int:
    """The size in bytes of type ``tid`` (through typedefs and qualifiers; 0 unknown)."""
    for _ in range(_MAX_DEPTH):
        if not tid:
            return 0
        kind, vlen, _flag, _name, size_or_type, extra = btf.raw(tid)
        if kind in (STRUCT, UNION, ENUM, ENUM64, INT, FLOAT):
            return size_or_type
        if kind == PTR:
            return 8
        if kind == ARRAY:
            elem, _index, count = next(btf.words_of(tid, "<III", 1))
            return _size(btf, elem) * count
        if kind in (TYPEDEF, *_QUALIFIERS):
            tid = size_or_type
            continue
        return 0
    return 0


def _unqualified(btf: Btf, tid: int) -> int:
    """Type ``tid`` without its const/volatile/restrict/type tags."""
    for _ in range(_MAX_DEPTH):
        if not tid or btf.raw(tid)[0] not in _QUALIFIERS:
            return tid
        tid = btf.raw(tid)[4]
    return tid


def _holds(btf: Btf, tid: int, text: str, depth: int = 0) -> bool:
    """Whether the struct or union ``tid`` has a member whose type (an array's element
    type, a pointer's target) is named with ``text`` in it, looking into embedded
    structs first."""
    if depth > _MAX_DEPTH:
        return False
    kind, vlen = btf.raw(tid)[:2]
    if kind not in (STRUCT, UNION):
        return False
    for _name_off, member_tid, _offset in btf.words_of(tid, "<III", vlen):
        m = _unqualified(btf, member_tid)
        if m and btf.raw(m)[0] == ARRAY:
            m = _unqualified(btf, next(btf.words_of(m, "<III", 1))[0])
        if not m:
            continue
        mkind = btf.raw(m)[0]
        if mkind == STRUCT and _holds(btf, m, text, depth + 1):
            return True
        if mkind == PTR:
            m = _unqualified(btf, btf.raw(m)[4])
            if not m:
                continue
        name_off = btf.raw(m)[3]
        if name_off and text in btf.string(name_off):
            return True
    return False


def _listed(btf: Btf) -> Iterator[tuple[str, int, int]]:
    """``(name, type id, kind)`` of each named type gdb would list, in the blob's order."""
    for name, tids in btf.names().items():
        for tid in tids:
            kind = btf.raw(tid)[0]
            if kind in _LISTED:
                yield name, tid, kind


_KEYWORDS = {STRUCT: "struct ", UNION: "union ", ENUM: "enum ", ENUM64: "enum "}


def _known(prog: Program, name: str, kind: int) -> bool:
    """Whether the program's types (the vmlinux's DWARF, or the BTF itself) hold the type:
    BTF also keeps types DWARF declares only inside a function or not at all."""
    try:
        prog.type(_KEYWORDS.get(kind, "") + name)
    except (LookupError, SyntaxError, ValueError):
        return False
    return True


def search_types(prog: Program, low: int | None, high: int | None,
                 member: str | None) -> list[TypeSize]:
    """Return the kernel's named types whose size is between ``low`` and ``high`` (None:
    any size) and, with ``member``, that hold a member of a type whose name contains it
    (or a pointer to one): sorted by size, then by name (as strcmp orders them), each
    name once; types the program cannot look up by name are left out."""
    btf = kernel_btf(prog)
    found: dict[str, int] = {}
    for name, tid, _kind in _listed(btf):
        if name in found:
            continue
        size = _size(btf, tid)
        if low is not None and high is not None and not low <= size <= high:
            continue
        if member is not None and not _holds(btf, tid, member):
            continue
        if not _known(prog, name, _kind):
            continue
        found[name] = size
    return [TypeSize(n, s) for n, s in
            sorted(found.items(), key=lambda item: (item[1], item[0].encode()))]
