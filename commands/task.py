"""task: the task_struct of a task, whole or selected members."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object, TypeKind

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
    """A task and its task_struct: the whole struct's value, or the members named with -R;
    with the whole struct, the task's ``struct thread_info`` too where the kernel has one
    (in the task_struct, or before 4.9 at its stack), as crash shows it after the task's."""

    task: TaskId
    type: str
    value: CValue | None
    members: list[Member]
    error: str | None = None
    thread_info: CValue | None = None


def _body(view: TaskView) -> list[str]:
    if view.value is not None:
        lines = whole_lines(view.type, view.value)
        if view.thread_info is not None:
            lines += ["", *whole_lines("struct thread_info", view.thread_info)]
        return lines
    return members_lines(view.members)


def thread_info_of(task: Object) -> Object | None:
    """The task's ``struct thread_info`` as crash finds it: the task_struct's own member
    (CONFIG_THREAD_INFO_IN_TASK), else the one at the start of its stack (before 4.9);
    None where the kernel has no such member."""
    try:
        ti = task.thread_info
    except AttributeError:
        try:
            stack = task.stack
        except AttributeError:
            return None
        return Object(task.prog_, "struct thread_info", address=stack.value_())
    if ti.type_.unqualified().kind == TypeKind.POINTER:
        return ti[0]
    return ti


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
            ti = thread_info_of(obj)
            rows.append(TaskView(task_id(t), obj.type_.type_name(),
                                 value_tree(obj, hex_mode), [],
                                 thread_info=None if ti is None else value_tree(ti, hex_mode)))
    return Result(rows, render=render, errors=sel.errors)
