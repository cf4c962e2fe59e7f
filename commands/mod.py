"""mod: list the loaded kernel modules, load their debuginfo, show taints."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object
from drgn.helpers.linux.module import module_taints

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.modules import find_module, module_list, modules
from pycrash.kernel.walk import walk_list
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class ModuleRow:
    """A loaded kernel module: its struct module, name, base address of its text, size in
    bytes (as /proc/modules counts it), and the debuginfo file loaded for it (None: none)."""

    module: Hex
    name: str
    base: Hex
    size: int
    object_file: str | None


def render(result: Result) -> Iterable[str]:
    """crash's mod output: a table of modules with their object files."""
    rows = result.rows
    name_w = max([len(r.name) for r in rows] + [4])
    size_w = max([len(str(r.size)) for r in rows] + [4])
    yield ("     MODULE       " + "NAME".ljust(name_w) + "  " + "BASE".center(16) + "  "
           + "SIZE".rjust(size_w) + "  OBJECT FILE")
    for r in rows:
        obj = r.object_file or "(not loaded)  [CONFIG_KALLSYMS]"
        yield f"{r.module:016x}  {r.name:<{name_w}}  {r.base:016x}  {r.size:>{size_w}}  {obj}"


def _drgn_module(session: Session, mod: Object):  # type: ignore[no-untyped-def]
    return session.prog.linux_kernel_loadable_module(mod, create=True)


def loaded_file(session: Session, mod: Object) -> str | None:
    """Return the debuginfo file loaded for a ``struct module *``, or None."""
    try:
        m = session.prog.linux_kernel_loadable_module(mod)
    except LookupError:
        return None
    return m.debug_file_path


def load_module_file(session: Session, name: str, path: str) -> str:
    """Load ``path`` as the debuginfo of the loaded module ``name``; return the path."""
    try:
        mod = find_module(session.prog, name)
    except LookupError:
        mod = None
    if not mod:
        raise CommandError(f"module not loaded: {name}")
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    m = _drgn_module(session, mod)
    try:
        m.try_file(path)
    except Exception as exc:
        raise CommandError(f"{path}: cannot load: {exc}") from None
    if m.debug_file_path is None:
        raise CommandError(f"{path} is not {name}'s debuginfo (another build?)")
    return path


def search_dirs(session: Session, extra: str | None) -> list[str]:
    """Return where module debuginfo is looked for: the given directory, then the usual."""
    rel = session.target.release
    dirs = [extra] if extra else []
    dirs += [f"/usr/lib/debug/lib/modules/{rel}", f"/lib/modules/{rel}",
             os.path.join(os.path.dirname(os.path.abspath(session.target.vmlinux)),
                          "modules-debug")]
    return [d for d in dirs if os.path.isdir(d)]


def find_module_file(name: str, dirs: list[str]) -> str | None:
    """Return ``NAME.ko`` (or .ko.debug, '-' and '_' alike) under ``dirs``, or None."""
    wanted = {f"{n}{ext}" for n in (name, name.replace("_", "-"))
              for ext in (".ko", ".ko.debug", ".ko.xz", ".ko.zst")}
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            for f in files:
                if f in wanted:
                    return os.path.join(root, f)
    return None


@dataclass(frozen=True)
class Taint:
    """A module that taints the kernel: its name and taint flags (letters, as
    /proc/modules shows them)."""

    name: str
    taints: str


def render_taints(result: Result) -> Iterable[str]:
    """crash's mod -t output: a table of the tainting modules, or that there are none."""
    if not result.rows:
        yield "no tainted modules"
        return
    yield f"{'NAME':<20} TAINTS"
    for x in result.rows:
        yield f"{x.name:<20} {x.taints}"


#: where ``mod -g`` keeps each module's section pseudo-symbols for ``sym -m`` (in the
#: program's cache: they last as long as the session, as the debuginfo does)
SECTIONS_CACHE = "pycrash_module_sections"


def add_section_symbols(session: Session, name: str, path: str) -> None:
    """mod -g: keep the start and end of each section of module ``name`` (its loaded
    object file ``path``) as crash's _MODULE_SECTION_START/_END pseudo-symbols."""
    from pycrash.kernel.modules import module_sections

    mod_obj = find_module(session.prog, name)
    if mod_obj is None:
        return
    found = session.prog.cache.setdefault(SECTIONS_CACHE, {})
    try:
        found[name] = module_sections(mod_obj, path)
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot read its sections: {exc}") from None


def delete_symbols(session: Session, names: list[str]) -> Result:
    """mod -d NAME / -D: forget modules' debuginfo. A module without any loaded needs
    nothing (crash says nothing either); drgn keeps what it loaded for the program's life,
    so a module with debuginfo loaded is refused, naming the file."""
    prog = session.prog
    found = modules(prog)
    known = {m.name: m for m in found}
    for n in names:
        if n not in known:
            raise CommandError(f"module not loaded: {n}")
    loaded = [(n, path) for n in names
              if (path := loaded_file(session, Object(prog, "struct module *",
                                                      known[n].module))) is not None]
    if loaded:
        which = ", ".join(f"{n} ({path})" for n, path in loaded)
        raise CommandError(f"cannot delete the debuginfo of {which}: drgn keeps a module's "
                           "debuginfo for the rest of the session once loaded (open the dump "
                           "again to work without it)")
    return Result([])  # nothing to delete, nothing to say (as crash)


@command(
    "mod",
    summary="module information and loading of symbols and debugging data",
    synopsis="mod [-s module [objfile] | -d module | -S [directory] | -D | -t] [-r] [-g] "
             "[name ...]",
    aliases=("lsmod",),
    records=(ModuleRow, Taint),
    description="""
Lists the loaded kernel modules: the address of each struct module, its
name, the base address of its text, its size in bytes as /proc/modules
shows it, and the object file its debuginfo was loaded from. -s loads one
module's debuginfo (from the file given, or found in the usual places); -S
loads every module's that can be found (in the directory given, then
/usr/lib/debug/lib/modules/RELEASE and /lib/modules/RELEASE); after that the
module's symbols, types and lines resolve. -t shows the modules that taint
the kernel.

-g with -s or -S also adds each section's start and end (its address in
/sys/module/NAME/sections, its size from the object file) to the module's
symbols, which sym -m then lists as crash does ("[.text]: section start").
-r is accepted as crash takes it (gdb's -readnow): drgn always reads a module's
symbol tables in full. -d module and -D delete module debuginfo as crash does
where none is loaded; drgn cannot unload debuginfo it has loaded, so for such a
module they fail, naming the file. -o (crash's old gdb add-symbol-file
mechanism) has nothing to select in pycrash and fails with a line saying so.
""",
    examples="""
crash> mod
     MODULE       NAME                         BASE         SIZE  OBJECT FILE
ffffffffc04022c0  loop                   ffffffffc03fc000  32768  (not loaded)  [CONFIG_KALLSYMS]
crash> mod -s dummy /usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/dummy.ko
crash> mod -S
""",
    arguments=(
        arg("-s", dest="load_one", metavar="module", help="load one module's debuginfo"),
        arg("-S", dest="load_all", action="store_true", help="load every module's debuginfo"),
        arg("-t", dest="taints", action="store_true", help="modules that taint the kernel"),
        arg("-d", dest="delete_one", metavar="module",
            help="delete a module's debuginfo (none loaded: nothing to do)"),
        arg("-D", dest="delete_all", action="store_true",
            help="delete every module's debuginfo (none loaded: nothing to do)"),
        arg("-r", dest="readnow", action="store_true",
            help="read symbol tables in full (drgn always does)"),
        arg("-g", dest="sections", action="store_true",
            help="with -s/-S: section start and end pseudo-symbols for sym -m"),
        arg("-o", dest="old", action="store_true",
            help="crash's old symbol-loading mechanism (none in pycrash)"),
        arg("names", nargs="*", metavar="name|objfile|directory"),
    ),
)
def mod(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`ModuleRow` per loaded module (or per named one)."""
    prog = session.prog
    errors: list[str] = []
    if args.old:
        raise CommandError("-o: crash's old gdb add-symbol-file mechanism has no counterpart "
                           "in pycrash, which loads module debuginfo through drgn only")
    if args.delete_one is not None or args.delete_all:
        names = [args.delete_one] if args.delete_one is not None else [
            m.name for m in modules(prog, errors)]
        return delete_symbols(session, names)
    if args.taints:
        taints = [Taint(m.name.string_().decode(), module_taints(m))
                  for m in walk_list(module_list(prog), errors) if module_taints(m)]
        return Result(taints, render=render_taints, errors=errors)
    found = modules(prog, errors)
    if args.load_one:
        path = args.names[0] if args.names else find_module_file(
            args.load_one, search_dirs(session, None))
        if path is None:
            raise CommandError(f"cannot find a debuginfo file for {args.load_one}")
        load_module_file(session, args.load_one, path)
        if args.sections:
            add_section_symbols(session, args.load_one, path)
        found = [m for m in found if m.name == args.load_one]
    elif args.load_all:
        dirs = search_dirs(session, args.names[0] if args.names else None)
        for m in found:
            path = find_module_file(m.name, dirs)
            if path is None:
                errors.append(f"cannot find a debuginfo file for {m.name}")
                continue
            try:
                load_module_file(session, m.name, path)
                if args.sections:
                    add_section_symbols(session, m.name, path)
            except CommandError as exc:
                errors.append(str(exc))
    elif args.names:
        known = {m.name for m in found}
        missing = [n for n in args.names if n not in known]
        if missing:
            raise CommandError(f"module not loaded: {', '.join(missing)}")
        found = [m for m in found if m.name in args.names]
    rows = [ModuleRow(m.module, m.name, m.base, m.size,
                      loaded_file(session, Object(prog, "struct module *", m.module)))
            for m in found]
    return Result(rows, render=render, errors=errors)

