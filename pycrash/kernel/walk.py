"""Bounded walks over kernel lists: a corrupt list ends the walk instead of looping."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from drgn import Object

#: The most entries any kernel list walk yields (far above any real module or CPU list).
MAX_ENTRIES = 1_000_000


def bounded(items: Iterable[Object], what: str, limit: int = MAX_ENTRIES) -> Iterator[Object]:
    """Yield the objects of a list walk, stopping at the first one seen before (a loop)
    or after ``limit`` entries. ``what`` names the list in the :class:`ValueError`
    raised at a loop."""
    seen: set[int] = set()
    for n, obj in enumerate(items):
        key = obj.value_() if obj.type_.kind.name == "POINTER" else obj.address_
        if key in seen:
            raise ValueError(f"{what} loops back to {key:#x}")
        if n >= limit:
            raise ValueError(f"{what} has more than {limit} entries")
        seen.add(key)
        yield obj
