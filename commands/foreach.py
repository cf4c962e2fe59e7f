"""foreach: run a command for each task of a selection."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from drgn import Object

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Command, Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.session import Session

#: Commands foreach can run, and whether they print crash's per-task header themselves.
SUBCOMMANDS = {"bt": True, "ps": False, "task": True, "files": True, "vm": True, "sig": True,
               "set": False, "net": True}


@dataclass(slots=True)
class ForeachItem:
    """One task's part of a foreach: the task, and the records and per-item errors of the
    command run for it (``task`` null: the command ran once for every selected task, as
    ps does to print one table)."""

    task: TaskId | None
    rows: list[Any]
    errors: list[str]


@dataclass(frozen=True)
class ForeachView:
    """How to show the items: the subcommand's renderer and display choices, whether
    it prints crash's per-task header itself, and whether an empty line separates the
    tasks (not for ``task -R``, whose own part ends with one: crash's foreach prints no
    header of its own then)."""

    render: Callable[[Result], Iterable[str]] | None
    own_header: bool
    sub_view: Any = None
    separate: bool = True

    @property
    def separated(self) -> bool:
        """Whether foreach puts a blank line between tasks: not when the command ends each
        task's block with its own (files -R, vm -R, net -R, task -R, as crash's commands
        do)."""
        return self.separate and not getattr(self.sub_view, "self_separated", False)


def render(result: Result) -> Iterable[str]:
    """crash's foreach output: per task, its header (unless the command prints it) and
    the command's text, with a blank line between tasks (none where the command ends
    each task's text with one itself: :attr:`ForeachView.separated`)."""
    view: ForeachView = result.view
    for i, item in enumerate(result.rows):
        if i and view.separated:
            yield ""
        if not view.own_header and item.task is not None:
            yield item.task.header()
        yield from Result(item.rows, render=view.render, view=view.sub_view).lines()


@command(
    "foreach",
    summary="display command data for multiple tasks in the system",
    synopsis="foreach [pid | task | name | 'regex' | state | kernel | user | active] ... "
             "command [flags]",
    description="""
Runs one of bt, ps, task, files, vm, sig, set or net (-s or -S, with -R the
tasks holding a socket) for every task, or for the tasks the selectors name:
pids, task addresses, command names, regular expressions in single quotes
(matched against the command name), crash states (RU, IN, UN, ID, ZO, ST, TR,
DE, PA), kernel or user threads, and the active task of each
CPU. Each task's output follows a header line naming it.
""",
    records=(ForeachItem,),
    examples="""
crash> foreach 'pcfix-.*' bt
crash> foreach UN bt
crash> foreach kernel ps
""",
    arguments=(arg("words", nargs=argparse.REMAINDER, metavar="selector... command"),),
)
def foreach(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`ForeachItem` per selected task, holding the subcommand's Result."""
    words = list(args.words)
    known = [n for n in SUBCOMMANDS if session.registry.has(n)]
    at = next((i for i, w in enumerate(words) if w in known), None)
    if at is None:
        raise CommandError(f"no command given (one of: {', '.join(known)})")
    selectors, name, rest = words[:at], words[at], words[at + 1:]
    tasks = select_tasks(session, selectors, default="all", classes=True, regex=True,
                         strict=True).tasks
    cmd = session.registry.lookup(name)
    try:
        return _run_each(session, cmd, name, rest, tasks)
    except CommandError as exc:  # name the command that failed, as the interpreter would
        raise CommandError(f"{name}: {exc}") from None


def _run_each(session: Session, cmd: Command, name: str, rest: list[str],
              tasks: list[Object]) -> Result:
    """Run ``name`` with flags ``rest`` for each task; return the foreach Result."""
    items: list[ForeachItem] = []
    if name == "ps":  # one table, as crash prints it
        sub = cmd.parse(rest + [f"{t.value_():x}" for t in tasks]) if tasks else None
        if sub is None:
            return Result([], render=render, view=ForeachView(None, True))
        result = cmd.func(session, sub)
        return Result([ForeachItem(None, result.rows, [])], render=render,
                      errors=result.errors, view=ForeachView(result.render, True, result.view))
    import copy

    template = cmd.parse(rest)  # the subcommand's flags, parsed once
    warnings: list[str] = []
    if name == "net" and not template.modes:  # crash: -s unless -S is given
        warnings.append("net command requires -s or -S option")
        template.modes = ["s"]
    result_render, sub_view = None, None
    for t in tasks:
        sub_args = copy.copy(template)
        if name == "set":  # each task's context, shown as crash's show_context(); the
            sub_args.words = [f"{t.value_():x}"]  # context itself does not change
            saved = session.context
            try:
                result = cmd.func(session, sub_args)
            finally:
                session.context = saved
        else:
            sub_args.specs = [f"{t.value_():x}"]
            result = cmd.func(session, sub_args)
        result_render, sub_view = result.render, result.view
        if not result.rows and not result.errors:
            continue  # filtered out by the subcommand itself (bt -R)
        items.append(ForeachItem(task_id(t), result.rows, result.errors))
    separate = not (name == "task" and getattr(template, "members", None))
    return Result(items, render=render, errors=warnings,
                  view=ForeachView(result_render, SUBCOMMANDS[name], sub_view, separate))
