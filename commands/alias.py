"""alias: show or define command aliases."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.session import Session


@dataclass(frozen=True)
class AliasRow:
    """An alias: ``origin`` is ``builtin`` (a command's own) or ``runtime`` (``alias``)."""

    origin: str
    alias: str
    command: str


@dataclass(frozen=True)
class AliasView:
    """Whether the command defined an alias (then it prints nothing, as crash)."""

    defined: bool


def render(result: Result) -> Iterable[str]:
    """crash's alias table: origin, alias and command of each."""
    if result.view is not None and result.view.defined:
        return  # defining an alias is silent, as in crash
    yield "ORIGIN   ALIAS    COMMAND"
    for row in result.rows:
        yield f"{row.origin:<8} {row.alias:<8} {row.command}"


@command(
    "alias",
    summary="command aliases",
    synopsis='alias [alias] ["command string"]',
    description="""
With no argument, lists every alias: those built in (crash's, such as
dmesg for log) and those defined in this session. With a name and a
command string, defines an alias; the string may hold flags, and the
alias's own arguments are appended when it is used.
""",
    examples="""
crash> alias kd "bt -a"
crash> kd
""",
    records=(AliasRow,),
    arguments=(arg("name", nargs="?"), arg("words", nargs="*")),
)
def alias(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`AliasRow` rows (after defining one, when asked to)."""
    reg = session.registry
    defined = bool(args.name and args.words)
    if defined:
        if reg.has(args.name):
            raise CommandError(f"{args.name} is already a command")
        session.state.aliases[args.name] = " ".join(args.words)
    rows = [AliasRow("builtin", a, c.name) for c in reg.commands() for a in c.aliases]
    rows += [AliasRow("runtime", a, c) for a, c in sorted(session.state.aliases.items())]
    if args.name:
        rows = [r for r in rows if r.alias == args.name]
        if not rows:
            raise CommandError(f"{args.name}: no such alias")
    return Result(rows, render=render, view=AliasView(defined))
