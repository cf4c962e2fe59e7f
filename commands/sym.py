"""sym: translate a symbol to its address, or an address to its symbol."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable

from drgn import SymbolKind

from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.symbols import SymbolRow, lookup, section_bounds, symbol_line, type_letter
from pycrash.session import Session

#: crash's pseudo-symbols of a module's sections (mod -g), and how sym -m names them
SECTION_MARKS = {"_MODULE_SECTION_START ": "section start",
                 "_MODULE_SECTION_END ": "section end"}


def render(result: Result) -> Iterable[str]:
    """crash's sym output: one ``ADDRESS (T) symbol+off [module] file: line`` per row; a
    section's pseudo-symbol (mod -g) as ``ADDRESS [SECTION]: section start``."""
    for row in result.rows:
        mark = next((m for m in SECTION_MARKS if row.name.startswith(m)), None)
        if row.type == "S" and mark is not None:
            yield f"{row.address:x} {row.name[len(mark):]}: {SECTION_MARKS[mark]}"
        else:
            yield symbol_line(row)


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
    records=(SymbolRow,),
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
        rows = [SymbolRow(s.address, type_letter(s, bounds), s.name, 0, None, None, None)
                for s in found]
        if args.module:  # mod -g's section pseudo-symbols, in address order
            sections = prog.cache.get("pycrash_module_sections", {}).get(args.module, [])
            rows += [SymbolRow(at, "S", f"{mark}[{name}]", 0, None, None, None)
                     for name, start, end in sections
                     for mark, at in zip(SECTION_MARKS, (start, end), strict=True)]
            rows.sort(key=lambda r: r.address)
        return Result(rows, render=render)
    if not args.specs:
        raise CommandError("give a symbol or an address (or -l, -q string)")
    rows, errors = [], []
    for spec in args.specs:
        try:
            rows.append(lookup(prog, spec, bounds))
        except CommandError as exc:
            try:  # symbol+offset, or an object's expression: the symbol containing it
                address = resolve_address(prog, spec)
            except CommandError:
                errors.append(str(exc))
                continue
            try:
                rows.append(lookup(prog, f"{address:x}", bounds))
            except CommandError as again:
                errors.append(str(again))
    from pycrash.kernel.nodebug import needs_dwarf

    text = any(r.type in "tT" and r.module is None for r in rows)
    missing = needs_dwarf(prog, "source files and lines") if text else None
    return Result(rows, render=render, errors=errors + ([missing] if missing else []))
