"""Renderers shared by commands: crash's per-task blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

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
