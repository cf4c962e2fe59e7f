"""Facts computed once per drgn Program (kept in ``Program.cache``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from drgn import Program

T = TypeVar("T")


def per_program(prog: Program, key: str, make: Callable[[], T]) -> T:
    """Return what ``make()`` returned the first time ``key`` was asked for on ``prog``
    (None included), calling it only then."""
    try:
        value: T = prog.cache[key]
    except KeyError:
        value = make()
        prog.cache[key] = value
    return value
