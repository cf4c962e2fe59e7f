"""A ``struct page`` as crash's ``kmem -p`` describes it: its page frame's physical
address, mapping, index, reference count and flags by the kernel's own names."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.records import Hex


@dataclass(frozen=True)
class PageRow:
    """A struct page: its address, the physical address of its page, its mapping and
    index, its reference count, and its flags (the value, and their names as the
    kernel's ``pageflag_names`` table gives them, in its order, as crash shows them)."""

    page: Hex
    physical: Hex
    mapping: Hex
    index: Hex
    count: int
    flags: Hex
    flag_names: tuple[str, ...]


def pageflag_names(prog: Program) -> tuple[tuple[int, str], ...]:
    """Return the kernel's ``pageflag_names`` table (mask, name), as crash reads it
    (memory.c page_flags_init_from_pageflag_names); empty where the kernel has none."""
    found = prog.cache.get("pycrash_pageflag_names")
    if found is None:
        entries = []
        try:
            for entry in prog["pageflag_names"]:
                mask = entry.mask.value_()
                if not entry.name.value_():
                    break
                entries.append((mask, entry.name.string_().decode()))
        except (KeyError, LookupError, FaultError):
            entries = []
        found = prog.cache["pycrash_pageflag_names"] = tuple(entries)
    return found


def page_row(prog: Program, page: Object) -> PageRow:
    """Return the :class:`PageRow` of a ``struct page *``."""
    from drgn.helpers.linux.mm import decode_page_flags, page_to_phys

    try:
        mapping = page.mapping.value_()
        index = page.index.value_()
    except AttributeError:
        mapping = index = 0
    flags = page.flags.value_()
    table = pageflag_names(prog)
    if table:
        names = tuple(name for mask, name in table if flags & mask)
    else:
        names = tuple(n.removeprefix("PG_") for n in decode_page_flags(page).split("|")
                      if not n.isdigit() and flags)
    return PageRow(page.value_(), page_to_phys(page).value_(), mapping, index,
                   page._refcount.counter.value_(), flags, names)


@dataclass(frozen=True)
class MemberSpec:
    """Where a (possibly nested, ``lru.next``) member of struct page lies: its name, C
    kind (pointer, int, bool, struct; anything else cannot be shown), byte offset and
    size, signedness, and bit offset and size for a bit field (0, 0 otherwise)."""

    name: str
    kind: str
    offset: int
    size: int
    signed: bool
    bit_offset: int = 0
    bit_size: int = 0


@dataclass(frozen=True)
class PageMember:
    """One member of a struct page as ``kmem -m`` reads it: its name, kind, size and
    signedness, and its value (a struct's as 64-bit or 32-bit words)."""

    member: str
    kind: str
    size: int
    signed: bool
    value: int
    words: list[int]


def member_specs(prog: Program, names: list[str]) -> list[MemberSpec]:
    """Return the :class:`MemberSpec` of each struct page member named (``lru``,
    ``lru.next``, ``_refcount``); LookupError names one the struct does not have."""
    from drgn import TypeKind, offsetof

    page_type = prog.type("struct page")
    out = []
    for name in names:
        t = page_type
        bit_offset = 0
        try:
            for part in name.split("."):
                m = t.member(part)
                bit_offset += m.bit_offset
                bit_size = m.bit_field_size or 0
                t = m.type
                while t.kind == TypeKind.TYPEDEF:
                    t = t.type
        except (LookupError, ValueError):
            raise LookupError(name) from None
        kinds = {TypeKind.POINTER: "pointer", TypeKind.INT: "int", TypeKind.BOOL: "bool",
                 TypeKind.STRUCT: "struct"}
        kind = kinds.get(t.kind, t.kind.name.lower())
        try:
            offset = offsetof(page_type, name)
        except ValueError:  # a bit field: the byte its storage unit starts at
            offset = bit_offset // 8 // t.size * t.size
        size = t.size if t.kind != TypeKind.FUNCTION else 0
        signed = bool(getattr(t, "is_signed", False))
        shift = bit_offset - 8 * offset if bit_size else 0
        out.append(MemberSpec(name, kind, offset, size, signed, shift, bit_size))
    return out


def page_members(data: bytes, specs: list[MemberSpec]) -> list[PageMember]:
    """Return the members ``specs`` names of the struct page whose bytes are ``data``."""
    out = []
    for s in specs:
        raw = data[s.offset : s.offset + s.size]
        value = int.from_bytes(raw, "little")
        if s.bit_size:
            value = (value >> s.bit_offset) & ((1 << s.bit_size) - 1)
        words: list[int] = []
        if s.kind == "struct":
            width = 8 if s.size % 8 == 0 else 4
            words = [int.from_bytes(raw[i : i + width], "little")
                     for i in range(0, len(raw), width)]
        out.append(PageMember(s.name, s.kind, s.size, s.signed, value, words))
    return out


def phys_page(prog: Program, physical: int) -> Object | None:
    """Return the ``struct page *`` of the page holding a physical address, or None
    where no page descriptor of it can be read (a hole, or memory the kernel does not
    manage)."""
    from drgn.helpers.linux.mm import pfn_to_page

    shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    try:
        page = pfn_to_page(prog, physical >> shift)
        prog.read(page.value_(), 8)
        return page
    except (FaultError, LookupError, ValueError):
        return None
