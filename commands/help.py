"""help: list the commands, or show one command's help page."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.session import Session


@dataclass(frozen=True)
class HelpEntry:
    """A command's name, summary and help page lines."""

    name: str
    summary: str
    aliases: list[str]
    module: str
    page: list[str]


def _render_list(result: Result) -> Iterable[str]:
    names = [e.name for e in result.rows]
    width = max((len(n) for n in names), default=8) + 2
    per_line = max(1, 78 // width)
    for i in range(0, len(names), per_line):
        yield "".join(n.ljust(width) for n in names[i : i + per_line]).rstrip()
    yield ""
    for e in result.rows:
        alias = f" (alias: {', '.join(e.aliases)})" if e.aliases else ""
        yield f"{e.name:<10} {e.summary}{alias}"
    for err in result.options.get("plugin_errors", []):
        yield f"WARNING: {err}"


def _render_pages(result: Result) -> Iterable[str]:
    for i, e in enumerate(result.rows):
        if i:
            yield ""
        yield from e.page


@command(
    "help",
    summary="get help",
    synopsis="help [command] ...",
    aliases=("?", "man"),
    description="""
With no argument, lists every command, built-in and plugin. With command
names, shows each one's help page: synopsis, description and examples.
""",
    examples="""
crash> help ps
""",
    arguments=(arg("names", nargs="*", metavar="command"),),
)
def help_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`HelpEntry` per command (all, or those named)."""
    reg = session.registry
    cmds = ([reg.lookup(n) for n in args.names] if args.names
            else [c for c in reg.commands() if c.listed])
    rows = [HelpEntry(c.name, c.summary, list(c.aliases), c.module, c.help_lines())
            for c in cmds]
    if args.names:
        return Result(rows, render=_render_pages)
    return Result(rows, render=_render_list, options={"plugin_errors": reg.plugin_errors})
