"""The command registry: every command, built-in or plugin, is found one way.

Each command module is named by an entry point of the group ``pycrash.commands``
whose name is a command name or alias the module declares: pyproject.toml lists
one entry per name for the built-in modules (``commands/``, installed as
``pycrash.commands``) and for our plugins (``plugins/``); a third party's package
lists its own. Looking a name up reads the group once (no import) and imports the
one module its entry names; :meth:`Registry.register_module` then registers what
the module declares with :func:`pycrash.command.command`, found by scanning the
module's attributes. ``extend`` registers a file's module with the same function.
A name no entry names (or an entry named otherwise) is found by importing every
module of the group, which is also what ``help`` and the "did you mean" hint do.
"""

from __future__ import annotations

import difflib
from types import ModuleType
from typing import TYPE_CHECKING

from pycrash.cmdline import QUIT_WORDS
from pycrash.command import Command, command_of
from pycrash.errors import CommandError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "pycrash.commands"


def declared(module: ModuleType) -> list[Command]:
    """Return the commands ``module`` declares: its ``@command`` functions defined in it
    (not those it imported), in the order they were defined."""
    found: dict[int, Command] = {}
    for value in vars(module).values():
        cmd = command_of(value)
        if cmd is not None and cmd.module == module.__name__:
            found.setdefault(id(cmd), cmd)
    return list(found.values())


class Registry:
    """Maps command names and aliases to :class:`Command` objects."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        self._entries: list[EntryPoint] | None = None
        self._by_name: dict[str, EntryPoint] = {}
        self._tried: set[str] = set()  # entry point values already imported (or failed)
        self._all_loaded = False
        self.plugin_errors: list[str] = []
        #: modules loaded with ``extend``: name -> (path, module name, command names).
        self.extensions: dict[str, tuple[str, str, list[str]]] = {}

    # -- registering --------------------------------------------------------

    def register_module(self, module: ModuleType) -> list[Command]:
        """Register every command ``module`` declares; return them."""
        commands = declared(module)
        for cmd in commands:
            self.add(cmd)
        return commands

    def add(self, cmd: Command) -> None:
        """Register ``cmd`` under its name and aliases (a later one replaces an earlier)."""
        self._commands[cmd.name] = cmd
        for alias in cmd.aliases:
            self._aliases[alias] = cmd.name

    def remove_module(self, module_name: str) -> list[str]:
        """Unregister the commands of one module; return their names."""
        names = [n for n, c in self._commands.items() if c.module == module_name]
        for n in names:
            del self._commands[n]
        for alias, target in list(self._aliases.items()):
            if target in names:
                del self._aliases[alias]
        return names

    # -- the entry points ---------------------------------------------------

    def _entry_points(self) -> list[EntryPoint]:
        """The group's entry points, read once (nothing is imported)."""
        if self._entries is None:
            from importlib.metadata import entry_points

            self._entries = list(entry_points(group=ENTRY_POINT_GROUP))
            for ep in self._entries:
                self._by_name.setdefault(ep.name, ep)
        return self._entries

    def _load(self, ep: EntryPoint) -> None:
        """Import the module ``ep`` names (once) and register its commands.

        A module that fails to import is remembered in :attr:`plugin_errors` and
        skipped; it never stops the session.
        """
        if ep.value in self._tried:
            return
        self._tried.add(ep.value)
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin is reported, not fatal
            self.plugin_errors.append(f"plugin {ep.name} ({ep.value}): {exc}")
            return
        if isinstance(module, ModuleType):
            self.register_module(module)

    def load_all(self) -> None:
        """Import every module of the entry point group."""
        if self._all_loaded:
            return
        self._all_loaded = True
        for ep in self._entry_points():
            self._load(ep)

    # -- finding ------------------------------------------------------------

    def find(self, name: str) -> Command | None:
        """Return the command called ``name`` (or an alias of it) when it is registered
        or an entry point names it (that one module is imported); None otherwise."""
        if name not in self._commands and name not in self._aliases:
            self._entry_points()
            ep = self._by_name.get(name)
            if ep is not None:
                self._load(ep)
        return self._commands.get(self._aliases.get(name, name))

    def lookup(self, name: str) -> Command:
        """Return the command called ``name`` (or an alias of it).

        Raises :class:`CommandError` naming the closest known commands when
        there is none.
        """
        cmd = self.find(name)
        if cmd is None:
            self.load_all()
            cmd = self.find(name)
        if cmd is None:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" (did you mean: {', '.join(close)}?)" if close else ""
            raise CommandError(f'command not found: "{name}"{hint}')
        return cmd

    def has(self, name: str) -> bool:
        """Return whether ``name`` is a command or alias, registered or named by an entry
        point (without importing every module)."""
        return self.find(name) is not None

    def commands(self) -> list[Command]:
        """Return every command, built-in and plugin, sorted by name."""
        self.load_all()
        return sorted(self._commands.values(), key=lambda c: c.name)

    def names(self) -> list[str]:
        """Return every command name and alias, built-in and plugin, and the quit words."""
        self.load_all()
        return sorted(set(self._commands) | set(self._aliases) | QUIT_WORDS)


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """Return the process-wide registry."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry()
    return _REGISTRY
