"""The command registry: built-in modules of ``pycrash.commands`` plus entry points.

Built-in commands are the modules in the top-level ``commands/`` directory
(installed as ``pycrash.commands``). Plugins, ours in ``plugins/`` and third
parties', are modules named by the entry point group ``pycrash.commands``; the
group is read only when a name is not built in, or when ``help`` lists all.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from types import ModuleType

from pycrash import command as command_api
from pycrash.command import Command
from pycrash.errors import CommandError

ENTRY_POINT_GROUP = "pycrash.commands"

#: crash's own short names that are not tied to a command module's aliases.
QUIT_WORDS = frozenset({"q", "quit", "exit"})


class Registry:
    """Maps command names and aliases to :class:`Command` objects."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        self._builtins_loaded = False
        self._plugins_loaded = False
        self.plugin_errors: list[str] = []

    def _load_module(self, module: ModuleType | str) -> list[Command]:
        """Import a command module and register every command it declares."""
        if isinstance(module, str):
            module = importlib.import_module(module)
        declared = [c for c in command_api.DECLARED if c.module == module.__name__]
        for cmd in declared:
            self.add(cmd)
        return declared

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

    def load_builtins(self) -> None:
        """Import every module of ``pycrash.commands``."""
        if self._builtins_loaded:
            return
        self._builtins_loaded = True
        import pycrash.commands as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if not info.name.startswith("_"):
                self._load_module(f"{pkg.__name__}.{info.name}")

    def load_plugins(self) -> None:
        """Import the modules named by the ``pycrash.commands`` entry point group.

        A plugin that fails to import is remembered in :attr:`plugin_errors`
        and skipped; it never stops the session.
        """
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin is reported, not fatal
                self.plugin_errors.append(f"plugin {ep.name} ({ep.value}): {exc}")
                continue
            if isinstance(module, ModuleType):
                self._load_module(module)

    def _find(self, name: str) -> Command | None:
        if name not in self._commands and name not in self._aliases:
            self._load_indexed(name)
        name = self._aliases.get(name, name)
        return self._commands.get(name)

    def _load_indexed(self, name: str) -> None:
        """Import the one built-in module that the index says defines ``name``."""
        if self._builtins_loaded:
            return
        import pycrash.commands as pkg

        module = pkg.INDEX.get(name)
        if module is not None:
            self._load_module(f"{pkg.__name__}.{module}")

    def lookup(self, name: str) -> Command:
        """Return the command called ``name`` (or an alias of it).

        Raises :class:`CommandError` naming the closest known commands when
        there is none.
        """
        cmd = self._find(name)
        if cmd is None:
            self.load_builtins()
            self.load_plugins()
            cmd = self._find(name)
        if cmd is None:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" (did you mean: {', '.join(close)}?)" if close else ""
            raise CommandError(f'command not found: "{name}"{hint}')
        return cmd

    def has(self, name: str) -> bool:
        """Return whether ``name`` is a command or alias already known or built in
        (plugins not searched)."""
        return self._find(name) is not None

    def commands(self) -> list[Command]:
        """Return every command, built-in and plugin, sorted by name."""
        self.load_builtins()
        self.load_plugins()
        return sorted(self._commands.values(), key=lambda c: c.name)

    def names(self) -> list[str]:
        """Return every command name and alias, built-in and plugin."""
        self.load_builtins()
        self.load_plugins()
        return sorted(set(self._commands) | set(self._aliases) | QUIT_WORDS)


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """Return the process-wide registry."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry()
    return _REGISTRY
