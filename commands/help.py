"""help: list the commands, or show one command's help page."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.cmdlib.render import blocks
from pycrash.command import Command, Result, arg, command
from pycrash.records import Prose
from pycrash.session import Session


@dataclass(frozen=True)
class ArgumentHelp:
    """One flag or argument of a command, and what it does ("" when undocumented)."""

    flags: list[str]
    help: str


@dataclass(frozen=True)
class HelpEntry:
    """A command's help: name, one-line summary, synopsis, aliases, the module that
    defines it, its description and examples (free text) and its arguments."""

    name: str
    summary: str
    synopsis: str
    aliases: list[str]
    module: str
    description: Prose
    examples: Prose
    arguments: list[ArgumentHelp]


@dataclass(frozen=True)
class HelpView:
    """The plugins that failed to load, warned about under the list of commands."""

    plugin_errors: list[str]


def entry(cmd: Command) -> HelpEntry:
    """Return the :class:`HelpEntry` of a command."""
    return HelpEntry(cmd.name, cmd.summary, cmd.synopsis, list(cmd.aliases), cmd.module,
                     cmd.description.strip("\n"), cmd.examples.strip("\n"),
                     [ArgumentHelp(list(a.names), str(a.options.get("help") or ""))
                      for a in cmd.arguments])


def render_list(result: Result) -> Iterable[str]:
    """crash's help: every command's name in columns, then each with its summary."""
    names = [e.name for e in result.rows]
    width = max((len(n) for n in names), default=8) + 2
    per_line = max(1, 78 // width)
    for i in range(0, len(names), per_line):
        yield "".join(n.ljust(width) for n in names[i : i + per_line]).rstrip()
    yield ""
    for e in result.rows:
        alias = f" (alias: {', '.join(e.aliases)})" if e.aliases else ""
        yield f"{e.name:<10} {e.summary}{alias}"
    for err in (result.view.plugin_errors if result.view is not None else []):
        yield f"WARNING: {err}"


def _indented(text: str) -> list[str]:
    return [f"  {s}" if s else "" for s in text.splitlines()]


def page_lines(e: HelpEntry) -> list[str]:
    """Return crash-style help: NAME, SYNOPSIS, ALIASES, DESCRIPTION, EXAMPLES."""
    lines = ["NAME", f"  {e.name} - {e.summary}", "", "SYNOPSIS", f"  {e.synopsis}"]
    if e.aliases:
        lines += ["", "ALIASES", "  " + ", ".join(e.aliases)]
    lines += ["", "DESCRIPTION", *_indented(e.description)]
    if e.arguments:
        lines.append("")
        lines += [f"  {', '.join(a.flags):>12}  {a.help}" for a in e.arguments if a.help]
    if e.examples.strip():
        lines += ["", "EXAMPLES", *_indented(e.examples)]
    return lines


def render_pages(result: Result) -> Iterable[str]:
    """crash's help COMMAND: each command's page, a blank line between."""
    return blocks(result.rows, page_lines)


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
    records=(HelpEntry, ArgumentHelp),
    arguments=(arg("names", nargs="*", metavar="command"),),
)
def help_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`HelpEntry` per command (all, or those named)."""
    reg = session.registry
    cmds = [reg.lookup(n) for n in args.names] if args.names else reg.commands()
    rows = [entry(c) for c in cmds]
    if args.names:
        return Result(rows, render=render_pages)
    return Result(rows, render=render_list, view=HelpView(list(reg.plugin_errors)))
