"""mod: list the loaded kernel modules."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.modules import modules
from pycrash.session import Session


@dataclass(frozen=True)
class ModuleRow:
    """A module as ``mod`` lists it; ``object_file`` is None until its debuginfo is loaded."""

    module: int
    name: str
    base: int
    size: int
    object_file: str | None


def _render(result: Result) -> Iterable[str]:
    rows = result.rows
    name_w = max([len(r.name) for r in rows] + [4])
    size_w = max([len(str(r.size)) for r in rows] + [4])
    yield ("     MODULE       " + "NAME".ljust(name_w) + "  " + "BASE".center(16) + "  "
           + "SIZE".rjust(size_w) + "  OBJECT FILE")
    for r in rows:
        obj = r.object_file or "(not loaded)  [CONFIG_KALLSYMS]"
        yield f"{r.module:016x}  {r.name:<{name_w}}  {r.base:016x}  {r.size:>{size_w}}  {obj}"


@command(
    "mod",
    summary="module information",
    synopsis="mod [name ...]",
    aliases=("lsmod",),
    description="""
Lists the loaded kernel modules: the address of each struct module, its
name, the base address of its text, its size in bytes as /proc/modules
shows it, and the object file its debuginfo was loaded from.
""",
    examples="""
crash> mod
     MODULE       NAME                         BASE         SIZE  OBJECT FILE
ffffffffc04022c0  loop                   ffffffffc03fc000  32768  (not loaded)  [CONFIG_KALLSYMS]
""",
    arguments=(arg("names", nargs="*", metavar="name", help="only these modules"),),
)
def mod(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`ModuleRow` per loaded module (or per named one)."""
    found = modules(session.prog)
    if args.names:
        known = {m.name for m in found}
        missing = [n for n in args.names if n not in known]
        if missing:
            raise CommandError(f"mod: module not loaded: {', '.join(missing)}")
        found = [m for m in found if m.name in args.names]
    rows = [ModuleRow(m.module, m.name, m.base, m.size, None) for m in found]
    return Result(rows, render=_render)
