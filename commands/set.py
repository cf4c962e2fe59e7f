"""set: show or change the current context task, or a session setting."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.sched import cpu_curr

from pycrash.cmdlib.context import Context, context_lines, task_context
from pycrash.cmdlib.select import dump_cpus
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.session import Session

#: Settings ``set NAME VALUE`` accepts, with their allowed values.
SETTINGS: dict[str, tuple[str, ...]] = {
    "scroll": ("on", "off"),
    "radix": ("10", "16"),
    "output": ("crash", "json"),
}


@dataclass(frozen=True)
class Setting:
    """A session setting and its value."""

    name: str
    value: str


def render(result: Result) -> Iterable[str]:
    """crash's set output: the context task's block, or a line per setting."""
    for row in result.rows:
        if isinstance(row, Context):
            yield from context_lines(row)
        else:
            yield f"{row.name:>10}: {row.value}"


def _show_value(session: Session, name: str) -> str:
    value = session.state.settings[name]
    if name == "scroll":
        return "on" if value else "off"
    return str(value)


def _apply(session: Session, name: str, value: str) -> None:
    allowed = SETTINGS[name]
    if value not in allowed:
        raise CommandError(f"{name}: invalid value {value!r} (one of: {', '.join(allowed)})")
    settings = session.state.settings
    if name == "scroll":
        settings[name] = value == "on"
    elif name == "radix":
        settings[name] = int(value)
    else:
        settings[name] = value


@command(
    "set",
    records=(Context, Setting),
    summary="set a process context or internal variable",
    synopsis="set [pid | task | -c cpu | -p] | [scroll on|off | radix 10|16 | "
             "output crash|json] | -v",
    description="""
With no argument, shows the current context: the task that commands such as
bt use when given none (the panic task at start-up). A pid or task address
makes that task the context; -c cpu selects the task running on a CPU; -p
goes back to the panic task. With a setting name and value, changes the
setting; -v shows every setting.
""",
    examples="""
crash> set 102
crash> bt            (now the backtrace of pid 102)
crash> set -p        (back to the panic task)
crash> set radix 16
""",
    arguments=(
        arg("-c", dest="cpu", type=int, help="the task running on this CPU"),
        arg("-p", dest="panic", action="store_true", help="the panic task"),
        arg("-v", dest="show_vars", action="store_true", help="show the settings"),
        arg("words", nargs="*", metavar="pid|task|setting [value]"),
    ),
)
def set_command(session: Session, args: argparse.Namespace) -> Result:
    """Return the (new) :class:`Context`, or the :class:`Setting` rows."""
    if args.show_vars:
        return Result([Setting(n, _show_value(session, n)) for n in SETTINGS], render=render)
    words = args.words
    if words and words[0] in SETTINGS:
        if len(words) == 1:
            return Result([Setting(words[0], _show_value(session, words[0]))], render=render)
        _apply(session, words[0], words[1])
        return Result([Setting(words[0], _show_value(session, words[0]))], render=render)
    if args.panic:
        if session.panic_task is None:
            raise CommandError("no panic task in this dump")
        session.context = None
    elif args.cpu is not None:
        if args.cpu not in dump_cpus(session.prog):
            raise CommandError(f"invalid cpu: {args.cpu}")
        session.context = cpu_curr(session.prog, args.cpu)
    elif words:
        if len(words) > 1:
            raise CommandError(f"unknown setting {words[0]!r}")
        found = session.find_task(words[0])
        if len(found) > 1:
            raise CommandError(f"{words[0]} names {len(found)} tasks; give a task address")
        session.context = found[0]
    task = session.context
    if task is None:
        raise CommandError("no context: give a pid or task")
    return Result([task_context(session, task)], render=render)
