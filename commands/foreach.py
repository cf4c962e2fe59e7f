"""foreach: run a command for each task of a selection."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import STATE_NAMES, comm, is_kernel_thread, task_id, task_state
from pycrash.session import Session

#: Commands foreach can run, and whether they print crash's per-task header themselves.
SUBCOMMANDS = {"bt": True, "ps": False, "task": False, "files": True, "vm": True, "sig": True}
STATES = set(STATE_NAMES.values())


@dataclass(slots=True)
class ForeachItem:
    """One task's part of a foreach: its header and the command's Result."""

    pid: int
    task: int
    comm: str
    header: str
    result: Result


def _render(result: Result) -> Iterable[str]:
    first = True
    for item in result.rows:
        if not first:
            yield ""
        first = False
        own_header = result.options.get("own_header", False)
        if not own_header:
            yield item.header
        yield from item.result.lines()


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise CommandError(f"foreach: bad regular expression {text!r}: {exc}") from None


def select(session: Session, selectors: list[str]) -> list[Object]:
    """Return the tasks that match any selector (all tasks when there are none).

    A selector is a pid, a task address, a command name, a quoted regular
    expression ('pcfix-.*'), a crash state (RU, IN, UN...), or one of
    ``kernel``, ``user``, ``active``.
    """
    tasks = session.tasks()
    if not selectors:
        return list(tasks)
    active = session.active_tasks()
    chosen: dict[int, Object] = {}
    for sel in selectors:
        if sel in ("kernel", "user", "active") or sel in STATES:
            for t in tasks:
                if (sel == "kernel" and is_kernel_thread(t)) or \
                   (sel == "user" and not is_kernel_thread(t)) or \
                   (sel == "active" and t.value_() in active) or task_state(t) == sel:
                    chosen.setdefault(t.value_(), t)
        else:
            try:
                found = session.find_task(sel)
            except CommandError:
                # crash's 'regex' selector (the quotes are gone after word splitting)
                found = [t for t in tasks if _regex(sel).search(comm(t))]
                if not found:
                    raise CommandError(f"foreach: no task matches {sel!r}") from None
            for t in found:
                chosen.setdefault(t.value_(), t)
    return [t for t in tasks if t.value_() in chosen]


@command(
    "foreach",
    summary="display command data for multiple tasks in the system",
    synopsis="foreach [pid | task | name | 'regex' | state | kernel | user | active] ... "
             "command [flags]",
    description="""
Runs one of bt, ps, task or set for every task, or for the tasks the
selectors name: pids, task addresses, command names, regular expressions in
single quotes (matched against the command name), crash states (RU, IN, UN,
ID, ZO, ST, TR, DE, PA), kernel or user threads, and the active task of each
CPU. Each task's output follows a header line naming it.
""",
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
        raise CommandError(f"foreach: no command given (one of: {', '.join(known)})")
    selectors, name, rest = words[:at], words[at], words[at + 1:]
    tasks = select(session, selectors)
    cmd = session.registry.lookup(name)
    items = []
    if name == "ps":  # one table, as crash prints it
        sub = cmd.parse(rest + [f"{t.value_():x}" for t in tasks]) if tasks else None
        result = cmd.func(session, sub) if sub else Result([])
        return Result(result.rows, render=result.render, errors=result.errors)
    import copy

    template = cmd.parse(rest)  # the subcommand's flags, parsed once
    for t in tasks:
        sub_args = copy.copy(template)
        sub_args.specs = [f"{t.value_():x}"]
        result = cmd.func(session, sub_args)
        if not result.rows and not result.errors:
            continue  # filtered out by the subcommand itself (bt -R)
        tid = task_id(t)
        items.append(ForeachItem(tid.pid, tid.task, tid.comm, tid.header(), result))
    return Result(items, render=_render, options={"own_header": SUBCOMMANDS[name]})
