"""The command API: how a module declares a crash command, and what it returns.

A command module calls :func:`command` on a function ``(session, args) -> Result``.
``args`` is the :class:`argparse.Namespace` parsed from crash's flags; the
function computes records (dataclasses) and names a renderer that turns them
into crash's text. JSON and other views are generic over the records.

The decorator only attaches a :class:`Command` to the function; the registry
(:mod:`pycrash.registry`) finds the commands of a module by scanning its
attributes with :func:`command_of`.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from pycrash.errors import CommandError

if TYPE_CHECKING:
    from pycrash.session import Session


@dataclass(eq=False, repr=False)
class Result:
    """What a command returns: its records and how to show them as crash does.

    ``rows`` are records (usually frozen dataclasses); ``render`` yields crash's
    text lines for them (a module-level function of the command's module, or of
    :mod:`pycrash.cmdlib.render`); ``errors`` are per-item problems (an unknown pid
    among several) that do not stop the rest of the output, without the command's
    name (the interpreter prefixes it); ``view`` is a frozen dataclass of the command's
    own holding the display choices the renderer needs (``bt -l``), never data.
    """

    rows: list[Any]
    render: Callable[[Result], Iterable[str]] | None = None
    errors: list[str] = field(default_factory=list)
    name: str = ""
    view: Any = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, index: int) -> Any:
        return self.rows[index]

    def lines(self) -> Iterable[str]:
        """Yield crash's text for this result, one line at a time."""
        if self.render is not None:
            yield from self.render(self)
        else:
            for row in self.rows:
                yield str(row)

    def __str__(self) -> str:
        return "".join(line + "\n" for line in self.lines())

    def to_data(self) -> list[Any]:
        """Return the rows as plain dicts and lists, ready for JSON."""
        return [to_plain(row) for row in self.rows]

    def to_json(self, indent: int | None = None) -> str:
        """Return the rows as a JSON array."""
        import json

        return json.dumps(self.to_data(), indent=indent)

    def columns(self) -> list[str]:
        """Return the field names of the rows (for tables and data frames)."""
        first = self.rows[0] if self.rows else None
        if dataclasses.is_dataclass(first) and not isinstance(first, type):
            return [f.name for f in dataclasses.fields(first)]
        return ["value"]

    def __repr__(self) -> str:
        return f"<Result {self.name or '?'}: {len(self.rows)} rows>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython in a terminal shows crash's text."""
        printer.text(str(self).rstrip("\n"))

    def _repr_html_(self) -> str:
        """Notebooks show a table of the records (crash's text for nested records)."""
        from pycrash.html import result_html

        return result_html(self)


def to_plain(value: Any) -> Any:
    """Return ``value`` with dataclasses turned into dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, enum.Enum):
        return value.value
    return value


class CrashArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors raise :class:`CommandError` instead of exiting
    (without the command's name: the interpreter adds it)."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise CommandError((message or "invalid arguments").strip())


@dataclass(eq=False, repr=False)
class Arg:
    """One argparse argument: the ``add_argument`` call's positional and keyword arguments."""

    names: tuple[str, ...]
    options: dict[str, Any]


def arg(*names: str, **options: Any) -> Arg:
    """Declare an argument of a command, with ``argparse.add_argument``'s signature."""
    return Arg(names, options)


RunFunc = Callable[["Session", argparse.Namespace], Result]


@dataclass(eq=False, repr=False)
class Command:
    """A registered command: its names, help text, flags and function."""

    name: str
    func: RunFunc
    summary: str
    synopsis: str
    description: str = ""
    examples: str = ""
    aliases: tuple[str, ...] = ()
    arguments: tuple[Arg, ...] = ()
    raw: bool = False  # no flags: args.text is the rest of the line, verbatim (py)
    module: str = ""
    #: The record types its Results hold (the README's JSON schema is made from them).
    records: tuple[type, ...] = ()
    _parser: CrashArgumentParser | None = None

    @property
    def parser(self) -> CrashArgumentParser:
        """The argparse parser for crash's flags of this command, built on first use."""
        if self._parser is None:
            parser = CrashArgumentParser(prog=self.name, add_help=False, allow_abbrev=False)
            for a in self.arguments:
                parser.add_argument(*a.names, **a.options)
            self._parser = parser
        return self._parser

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse this command's arguments; a bad flag raises :class:`CommandError`."""
        flags = self.parser._option_string_actions
        for token in argv:  # -i=shared: a flag without a value, '=' is no flag (crash)
            if (token.startswith("-") and not token.startswith("--") and "=" in token
                    and token[:2] in flags and flags[token[:2]].nargs == 0):
                raise CommandError(f"invalid option -- '=' in {token}: {token[:2]} "
                                   f"takes no value")
        try:  # flags may follow positional arguments, as crash allows
            return self.parser.parse_intermixed_args(list(argv))
        except TypeError:  # a parser with REMAINDER arguments cannot intermix
            return self.parser.parse_args(list(argv))


#: The attribute of a command function that holds its :class:`Command`.
COMMAND_ATTRIBUTE = "__pycrash_command__"


def command(
    name: str,
    *,
    summary: str,
    synopsis: str,
    description: str = "",
    examples: str = "",
    aliases: Sequence[str] = (),
    arguments: Sequence[Arg] = (),
    raw: bool = False,
    records: Sequence[type] = (),
) -> Callable[[RunFunc], RunFunc]:
    """Declare the decorated ``(session, args) -> Result`` function as a command.

    Returns the function itself, with its :class:`Command` attached; registering
    it is the registry's job (:meth:`pycrash.registry.Registry.register_module`).
    """

    def declare(func: RunFunc) -> RunFunc:
        cmd = Command(
            name=name,
            func=func,
            summary=summary,
            synopsis=synopsis,
            description=description,
            examples=examples,
            aliases=tuple(aliases),
            arguments=tuple(arguments),
            raw=raw,
            module=func.__module__,
            records=tuple(records),
        )
        setattr(func, COMMAND_ATTRIBUTE, cmd)
        return func

    return declare


def command_of(value: object) -> Command | None:
    """Return the :class:`Command` that :func:`command` attached to ``value``, or None."""
    cmd = getattr(value, COMMAND_ATTRIBUTE, None)
    return cmd if isinstance(cmd, Command) else None
