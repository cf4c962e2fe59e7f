"""Renderers shared by commands: crash's per-task blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from pycrash.kernel.pages import PageRow
from pycrash.kernel.tasks import TaskId


class PerTask(Protocol):
    """A record about one task: its identity, and why its body is missing if it is."""

    @property
    def task(self) -> TaskId: ...

    @property
    def error(self) -> str | None: ...


R = TypeVar("R")


def blocks(rows: Iterable[R], body: Callable[[R], Iterable[str]]) -> Iterator[str]:
    """Yield each row's lines, with a blank line between rows (crash's multi-item output)."""
    for i, row in enumerate(rows):
        if i:
            yield ""
        yield from body(row)


def per_task(rows: Iterable[Any], body: Callable[[Any], Iterable[str]],
             command: str = "", error_lines: bool = True) -> Iterator[str]:
    """Yield crash's per-task output: for each record a blank line between tasks, the
    ``PID: ... TASK: ...`` header, then ``command: error`` or the body's lines (with
    ``error_lines`` False a failed task has its header only: the command reports its
    error on stderr, in its Result's errors)."""

    def one(row: Any) -> Iterator[str]:
        yield row.task.header()
        if row.error:
            if error_lines:
                yield f"{command}: {row.error}" if command else row.error
        else:
            yield from body(row)

    return blocks(rows, one)


def days_clock(ns: int) -> str:
    """Return a span of nanoseconds as crash's ``translate_nanoseconds()`` writes it:
    ``D HH:MM:SS.mmm`` (days unpadded, milliseconds truncated)."""
    ms_total = max(ns, 0) // 1_000_000
    secs_total, ms = divmod(ms_total, 1000)
    mins_total, secs = divmod(secs_total, 60)
    hours_total, mins = divmod(mins_total, 60)
    days, hours = divmod(hours_total, 24)
    return f"{days} {hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}"


def days_width(ns: int) -> int:
    """Return how many digits the days of :func:`days_clock` take for ``ns``."""
    return days_clock(ns).index(" ")


def memory_lines(address: int, data: bytes, unit: int) -> list[str]:
    """Return memory as crash's ``display_memory()`` shows it with its ASCII column (rd,
    ``struct -r``, ``search -x``): 16 bytes a line, ``ADDRESS:  `` then each ``unit``-byte
    value (1, 2, 4 or 8, little-endian) in hex, zero-padded and followed by a space, a
    short last line padded to the column, then two spaces and the bytes as ASCII (``.``
    for a byte that is not printable)."""
    per_line = 16 // unit
    cell = unit * 2 + 1
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        values = [int.from_bytes(chunk[i:i + unit], "little")
                  for i in range(0, len(chunk), unit)]
        cells = "".join(f"{v:0{unit * 2}x} " for v in values)
        cells += " " * (cell * (per_line - len(values)))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{address + start:x}:  {cells}  {text}")
    return lines


#: crash's heading of a table of pages (kmem -p, files -p)
PAGE_HEADER = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS"


def page_line(p: PageRow) -> str:
    """Return crash's kmem -p line of one page: the flags' value, then their names."""
    names = f" {','.join(p.flag_names)}" if p.flag_names else ""
    return (f"{p.page:016x} {p.physical:>8x} {p.mapping:>16x} {p.index:>8x} {p.count:>2} "
            f"{p.flags:x}{names}")


def center(text: str, width: int, right: bool = False) -> str:
    """Return ``text`` centred in ``width`` as crash's ``mkstring(CENTER)`` does: an odd
    extra space goes to the right (``LJUST``, the default) or the left (``right``,
    ``RJUST``); text already as wide is returned as it is."""
    extra = width - len(text)
    if extra <= 0:
        return text
    left = extra // 2 + (extra % 2 if right else 0)
    return " " * left + text + " " * (extra - left)
