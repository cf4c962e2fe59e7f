"""task: the task_struct of a task, whole or selected members."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.kernel.format import (
    CValue,
    Member,
    member_values,
    members_lines,
    value_tree,
    whole_lines,
)
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.session import Session


@dataclass(frozen=True)
class TaskView:
    """A task and its task_struct: the whole struct's value, or the members named with -R."""

    task: TaskId
    type: str
    value: CValue | None
    members: list[Member]
    error: str | None = None


def _body(view: TaskView) -> list[str]:
    if view.value is not None:
        return whole_lines(view.type, view.value)
    return members_lines(view.members)


def render(result: Result) -> Iterable[str]:
    """crash's task output: each task's header, then its task_struct or members, then an
    empty line."""
    yield from per_task(result.rows, _body)
    if result.rows:
        yield ""


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
    records=(TaskView,),
    arguments=(
        arg("-R", dest="members", action="append", default=[], metavar="member[,member]"),
        arg("-x", dest="hex", action="store_true", help="hexadecimal integers"),
        arg("-d", dest="dec", action="store_true", help="decimal integers"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def task(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskView` per task."""
    sel = select_tasks(session, args.specs)
    members = [m for text in args.members for m in text.split(",") if m]
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    rows = []
    for t in sel.tasks:
        obj = t[0]
        if members:
            rows.append(TaskView(task_id(t), obj.type_.type_name(), None,
                                 member_values(obj, members, hex_mode)))
        else:
            rows.append(TaskView(task_id(t), obj.type_.type_name(),
                                 value_tree(obj, hex_mode), []))
    return Result(rows, render=render, errors=sel.errors)
