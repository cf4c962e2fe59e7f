"""sym: translate a symbol to its address, or an address to its symbol."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import SymbolKind

from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.nmlist import ListedSymbol
from pycrash.kernel.symbols import SymbolRow, lookup, section_bounds, symbol_line, type_letter
from pycrash.session import Session

#: crash's pseudo-symbols of a module's sections (mod -g), and how sym -m names them
SECTION_MARKS = {"_MODULE_SECTION_START ": "section start",
                 "_MODULE_SECTION_END ": "section end"}


@dataclass(frozen=True)
class NotFound:
    """A name that is no symbol, and the symbols whose names contain it (crash's
    "possible alternatives")."""

    name: str
    alternatives: list[SymbolRow]


def render(result: Result) -> Iterable[str]:
    """crash's sym output: one ``ADDRESS (T) symbol+off [module] file: line`` per row; a
    name that is no symbol with its possible alternatives; a section's pseudo-symbol (mod
    -g) as ``ADDRESS [SECTION]: section start``."""
    for row in result.rows:
        mark = next((m for m in SECTION_MARKS if row.name.startswith(m)), None) \
            if isinstance(row, SymbolRow) else None
        if isinstance(row, SymbolRow) and row.type == "S" and mark is not None:
            yield f"{row.address:x} {row.name[len(mark):]}: {SECTION_MARKS[mark]}"
        elif isinstance(row, NotFound):
            yield f"symbol not found: {row.name}"
            yield "possible alternatives:"
            yield from (f"  {query_line(a)}" for a in row.alternatives)
            if not row.alternatives:
                yield "  (none found)"
        else:
            yield symbol_line(row)


def query_line(row: SymbolRow) -> str:
    """crash's line of a symbol sym -q lists: ``ADDRESS (T) name [module]``."""
    mod = f" [{row.module}]" if row.module else ""
    return f"{row.address:x} ({row.type}) {row.name}{mod}"


def render_query(result: Result) -> Iterable[str]:
    """crash's sym -q output: a line per symbol, the kernel's then the modules'."""
    yield from map(query_line, result.rows)


def _containing(session: Session, text: str) -> list[SymbolRow]:
    """The symbols whose names contain ``text`` as crash's sym -q lists them: the
    vmlinux's (its symbol table, as sym -l reads it), then each module's; without the
    vmlinux's symbol table, drgn's by address."""
    from pycrash.kernel.nmlist import kernel_list, module_list

    prog = session.prog
    where = prog.cache.get("pycrash_vmlinux")
    if where is not None:
        try:
            listed = kernel_list(prog, where[0]) + module_list(prog)
            return [SymbolRow(x.address, x.type, x.name, 0, x.module, None, None)
                    for x in listed if not x.marker and text in x.name]
        except (LookupError, OSError, ValueError):
            pass
    bounds = section_bounds(prog)
    found = [s for s in prog.symbols() if s.name and text in s.name
             and s.kind != SymbolKind.SECTION]
    found.sort(key=lambda s: (s.address, s.name))
    return [SymbolRow(s.address, type_letter(s, bounds, prog), s.name, 0, None, None, None)
            for s in found]


def render_list(result: Result) -> Iterable[str]:
    """crash's sym -l: ``ADDRESS (T) name`` per symbol (the address unpadded), and each
    module's ``ADDRESS MODULE START: name`` and ``MODULE END`` lines."""
    for row in result.rows:
        if row.marker:
            yield f"{row.address:x} {row.marker}: {row.name}"
        else:
            yield f"{row.address:x} ({row.type}) {row.name}"


def symbol_list(session: Session) -> Result:
    """sym -l: the vmlinux's symbol table as crash lists it (pycrash.kernel.nmlist), then
    the modules'; without the vmlinux's symbol table, drgn's symbols by address."""
    from pycrash.kernel.nmlist import ListedSymbol, kernel_list, module_list

    prog = session.prog
    errors: list[str] = []
    where = prog.cache.get("pycrash_vmlinux")
    rows: list[ListedSymbol] = []
    if where is not None:
        try:
            rows = kernel_list(prog, where[0])
        except (LookupError, OSError, ValueError):
            rows = []
    if not rows:
        bounds = section_bounds(prog)
        found = sorted((s for s in prog.symbols() if s.name and s.kind != SymbolKind.SECTION),
                       key=lambda s: (s.address, s.name))
        rows = [ListedSymbol(s.address, type_letter(s, bounds), s.name) for s in found]
    rows += module_list(prog, errors)
    return Result(rows, render=render_list, errors=errors)


@command(
    "sym",
    summary="translate a symbol to its virtual address, or vice-versa",
    synopsis="sym [-l] | [-q string] | [symbol | vaddr] ...",
    description="""
Translates a symbol name to its address, or an address to the symbol that
contains it (as symbol+offset), with nm's type letter (T/t text, D/d data,
R/r read-only data, B/b bss) and, for text, the source file and line.
-l lists every symbol by address; -q lists the symbols whose names contain
a string.
""",
    examples="""
crash> sym panic
ffffffffad1cd000 (T) panic kernel/panic.c: 276
crash> sym ffffffffad1cd010
ffffffffad1cd010 (T) panic+16 kernel/panic.c: 276
crash> sym -q sysrq_handle_cr
""",
    records=(SymbolRow, ListedSymbol, NotFound),
    arguments=(
        arg("-l", dest="list_all", action="store_true", help="list all symbols"),
        arg("-q", dest="query", metavar="string", help="symbols containing string"),
        arg("-m", dest="module", metavar="module", help="the symbols of a module"),
        arg("specs", nargs="*", metavar="symbol|vaddr"),
    ),
)
def sym(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`SymbolRow` per symbol or address asked for (or listed)."""
    prog = session.prog
    bounds = section_bounds(prog)
    if args.list_all and args.query is None and not args.module:
        return symbol_list(session)
    if args.query is not None and not args.module:
        return Result(_containing(session, args.query), render=render_query)
    if args.list_all or args.query is not None or args.module:
        pattern = re.escape(args.query) if args.query is not None else ""
        found = [s for s in prog.symbols() if s.name and re.search(pattern, s.name)
                 and s.kind != SymbolKind.SECTION]
        if args.module:
            from drgn.helpers.linux.kallsyms import module_kallsyms

            from pycrash.kernel.modules import find_module

            try:
                mod = find_module(prog, args.module)
            except LookupError:
                mod = None
            if not mod:
                raise CommandError(f"module not loaded: {args.module}")
            found = [s for s in module_kallsyms(mod)  # the module's own symbol table
                     if s.name and re.search(pattern, s.name)]
        found.sort(key=lambda s: (s.address, s.name))
        listed = [SymbolRow(s.address, type_letter(s, bounds, prog), s.name, 0, None, None,
                            None) for s in found]
        if args.module:  # mod -g's section pseudo-symbols, in address order
            sections = prog.cache.get("pycrash_module_sections", {}).get(args.module, [])
            listed += [SymbolRow(at, "S", f"{mark}[{name}]", 0, None, None, None)
                       for name, start, end in sections
                       for mark, at in zip(SECTION_MARKS, (start, end), strict=True)]
            listed.sort(key=lambda r: r.address)
        return Result(listed, render=render)
    if not args.specs:
        raise CommandError("give a symbol or an address (or -l, -q string)")
    rows: list[SymbolRow | NotFound] = []
    errors: list[str] = []
    for spec in args.specs:
        try:
            rows.append(lookup(prog, spec, bounds))
        except CommandError as exc:
            try:  # symbol+offset, or an object's expression: the symbol containing it
                address = resolve_address(prog, spec)
            except CommandError:
                if re.fullmatch(r"[A-Za-z_.$][\w.$]*", spec):  # a name: crash's alternatives
                    rows.append(NotFound(spec, _containing(session, spec)))
                else:
                    errors.append(str(exc))
                continue
            try:
                rows.append(lookup(prog, f"{address:x}", bounds))
            except CommandError as again:
                errors.append(str(again))
    from pycrash.kernel.nodebug import needs_dwarf

    text = any(isinstance(r, SymbolRow) and r.type in "tT" and r.module is None for r in rows)
    missing = needs_dwarf(prog, "source files and lines") if text else None
    return Result(rows, render=render, errors=errors + ([missing] if missing else []))
