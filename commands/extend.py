"""extend: load or unload a command module at run time."""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.session import Session


@dataclass(frozen=True)
class Extension:
    """A module loaded with ``extend``, and the commands it added."""

    name: str
    path: str
    commands: list[str]


@dataclass(frozen=True)
class ExtendView:
    """What happened to the extensions listed: ``loaded`` or ``unloaded``."""

    action: str = "loaded"


def render(result: Result) -> Iterable[str]:
    """crash's extend output: a line per extension, with the commands it added."""
    action = (result.view or ExtendView()).action
    for ext in result.rows:
        yield f"{ext.path}: {action} ({', '.join(ext.commands) or 'no commands'})"


def load(session: Session, path: str) -> Extension:
    """Import the Python file ``path`` and register the commands it declares."""
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    name = os.path.splitext(os.path.basename(path))[0]
    reg = session.registry
    if name in reg.extensions:
        raise CommandError(f"{name} is already loaded (extend -u {name} first)")
    module_name = f"pycrash_extension_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise CommandError(f"{path}: {type(exc).__name__}: {exc}") from None
    names = [c.name for c in reg.register_module(module)]
    reg.extensions[name] = (path, module_name, names)
    return Extension(name, path, names)


@command(
    "extend",
    records=(Extension,),
    summary="extend the command set",
    synopsis="extend [path.py ...] | -u name ...",
    description="""
Loads Python files that declare commands (the same API as the built-in
commands and plugins) into the running session; -u unloads one by its name
(the file's base name) or path. With no argument, lists what is loaded.
""",
    examples="""
crash> extend ./mycmds.py
crash> extend -u mycmds
""",
    arguments=(
        arg("-u", dest="unload", action="store_true", help="unload the named extensions"),
        arg("paths", nargs="*", metavar="path|name"),
    ),
)
def extend(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`Extension` rows loaded, unloaded or (with no argument) present."""
    if args.unload:
        if not args.paths:
            raise CommandError("-u needs a name")
        gone = []
        reg = session.registry
        for spec in args.paths:
            name = os.path.splitext(os.path.basename(spec))[0]
            if name not in reg.extensions:
                raise CommandError(f"{spec}: not loaded")
            path, module_name, _names = reg.extensions.pop(name)
            removed = reg.remove_module(module_name)
            gone.append(Extension(name, path, removed))
        return Result(gone, render=render, view=ExtendView("unloaded"))
    if not args.paths:
        rows = [Extension(n, p, c) for n, (p, _m, c) in session.registry.extensions.items()]
        return Result(rows, render=render)
    return Result([load(session, p) for p in args.paths], render=render)
