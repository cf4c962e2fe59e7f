"""task: the task_struct of a task, whole or selected members."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.format import object_lines
from pycrash.kernel.tasks import task_id
from pycrash.session import Session


@dataclass
class TaskView:
    """A task's header and its task_struct text (``members`` selected with -R)."""

    pid: int
    task: int
    header: str
    members: list[str]
    lines: list[str]


def _render(result: Result) -> Iterable[str]:
    for i, view in enumerate(result.rows):
        if i:
            yield ""
        yield view.header
        yield from view.lines


def tasks_for(session: Session, specs: list[str], cmd: str) -> tuple[list[Object], list[str]]:
    """Return the tasks named by ``specs`` (the context task when none), and the errors."""
    if not specs:
        if session.context is None:
            raise CommandError(f"{cmd}: no context task: give a pid or task")
        return [session.context], []
    tasks, errors = [], []
    for spec in specs:
        try:
            tasks.extend(session.find_task(spec))
        except CommandError as exc:
            errors.append(f"{cmd}: {exc}")
    return tasks, errors


@command(
    "task",
    summary="task_struct contents",
    synopsis="task [-R member[,member]] [-x|-d] [pid | task] ...",
    description="""
Shows the task_struct of the current context, or of each pid or task address,
as gdb prints it; -R shows only the named members (nested ones with '.').
""",
    examples="""
crash> task -R pid,comm,se.vruntime 102
""",
    arguments=(
        arg("-R", dest="members", action="append", default=[], metavar="member[,member]"),
        arg("-x", dest="hex", action="store_true", help="hexadecimal integers"),
        arg("-d", dest="dec", action="store_true", help="decimal integers"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def task(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskView` per task."""
    tasks, errors = tasks_for(session, args.specs, "task")
    members = [m for text in args.members for m in text.split(",") if m]
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    rows = []
    for t in tasks:
        lines = object_lines(t[0], members, hex_mode)
        tid = task_id(t)
        rows.append(TaskView(tid.pid, tid.task, tid.header(), members, lines))
    return Result(rows, render=_render, errors=errors)
