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


_PAGEFLAG_NAMES: dict[int, tuple[tuple[int, str], ...]] = {}


def pageflag_names(prog: Program) -> tuple[tuple[int, str], ...]:
    """Return the kernel's ``pageflag_names`` table (mask, name), as crash reads it
    (memory.c page_flags_init_from_pageflag_names); empty where the kernel has none."""
    key = id(prog)
    found = _PAGEFLAG_NAMES.get(key)
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
        found = _PAGEFLAG_NAMES[key] = tuple(entries)
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
