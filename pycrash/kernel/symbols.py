"""Symbol look-ups as crash shows them: ``ffffffff81c3c4b0 (T) panic+16``."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Program, Symbol, SymbolBinding, SymbolKind

from pycrash.errors import CommandError
from pycrash.records import Hex


@dataclass(frozen=True)
class SymbolRow:
    """A kernel symbol, or an address within one: the address asked for, nm's type letter
    (T/t text, D/d data, R/r read-only data, B/b bss), the symbol's name, the address's
    offset in it, its module (None: the kernel image), and for text the source file and
    line."""

    address: Hex
    type: str
    name: str
    offset: int
    module: str | None
    file: str | None
    line: int | None


def symbol_line(row: SymbolRow) -> str:
    """Return crash's ``sym`` line of a symbol: ``ADDRESS (T) name+off [module] file: line``
    (the address unpadded, as crash prints it: a per-CPU symbol's is short)."""
    label = f"{row.name}+{row.offset}" if row.offset else row.name
    mod = f" [{row.module}]" if row.module else ""
    where = f" {row.file}: {row.line}" if row.file else ""
    if row.module and not row.file and row.type in "tT":
        where = " "  # crash: module text's line number, empty without its debuginfo
    return f"{row.address:x} ({row.type}) {label}{mod}{where}"


Bounds = dict[str, tuple[int, int]]
_SECTIONS = {
    "text": ("_stext", "_etext"),
    "rodata": ("__start_rodata", "__end_rodata"),
    "data": ("_sdata", "_edata"),
    "bss": ("__bss_start", "__bss_stop"),
}


def section_bounds(prog: Program) -> Bounds:
    """Return ``{section: (start, end)}`` of the kernel image's text, rodata, data and bss."""
    bounds = {}
    for sec, (lo, hi) in _SECTIONS.items():
        try:
            bounds[sec] = (prog.symbol(lo).address, prog.symbol(hi).address)
        except LookupError:
            continue
    return bounds


def type_letter(sym: Symbol, bounds: Bounds, prog: Program | None = None) -> str:
    """Return nm's letter for a symbol: crash's (BFD's, from the vmlinux's symbol table,
    :mod:`pycrash.kernel.nmlist`) where ``prog`` is given and the symbol is the
    vmlinux's; else T/t text, D/d data, R/r rodata, B/b bss by the kernel's section
    bounds."""
    if prog is not None:
        from pycrash.kernel.nmlist import kernel_letters

        known = kernel_letters(prog).get((sym.address, sym.name))
        if known:
            return known
    letter = ""
    for sec, (lo, hi) in bounds.items():  # first: kallsyms may call data a function (7.x)
        if lo <= sym.address < hi:
            letter = {"text": "t", "rodata": "r", "data": "d", "bss": "b"}[sec]
            break
    if not letter:
        letter = "t" if sym.kind == SymbolKind.FUNC else "d"
    if sym.binding in (SymbolBinding.GLOBAL, SymbolBinding.WEAK, SymbolBinding.UNIQUE):
        letter = letter.upper()
    return letter


def _module_of(prog: Program, address: int) -> str | None:
    try:
        mod = prog.module(address)
    except LookupError:
        return None
    return None if mod.name == "kernel" else mod.name


def source_line(prog: Program, address: int) -> tuple[str | None, int | None]:
    """Return the source file and line the code at ``address`` was compiled from (the
    innermost, inlined position), or (None, None)."""
    try:
        loc = prog.source_location(address)
    except (LookupError, ValueError):
        return None, None
    if not len(loc):
        return None, None
    return loc[0].filename, loc[0].line  # the innermost (inlined) position, as gdb's line table


def _module_letter(module: object, address: int, name: str, text: bool) -> str:
    """crash's letter of a module symbol without the module's debuginfo (from its
    kallsyms): T or t for a function, by its binding; ``?`` for anything else."""
    from drgn import Object
    from drgn.helpers.linux.kallsyms import module_kallsyms

    try:
        assert isinstance(module, Object)
        for s in module_kallsyms(module):
            if s.address == address and s.name.startswith(name):
                if s.kind != SymbolKind.FUNC:
                    return "?"
                return "t" if s.binding == SymbolBinding.LOCAL else "T"
    except (LookupError, ValueError, AttributeError, AssertionError):
        pass
    return "t" if text else "?"


def _source(prog: Program, address: int) -> tuple[str | None, int | None]:
    """The file and line crash's sym shows for code: gdb's line, the file under the
    kernel's compilation directory (as bt -l shows it)."""
    from pycrash.kernel.stack import source_of

    return source_of(prog, address)


def lookup(prog: Program, spec: str, bounds: Bounds) -> SymbolRow:
    """Return the :class:`SymbolRow` for a symbol name or a hex address in a symbol.

    Raises :class:`CommandError` for an unknown name or an address in no symbol.
    """
    address: int | None = None
    try:
        address = int(spec, 16)
    except ValueError:
        pass
    if address is None:
        try:
            sym = prog.symbol(spec)
        except LookupError:
            from pycrash.kernel.modtext import module_symbol_address

            address = module_symbol_address(prog, spec)  # a module's, without debuginfo
            if address is None:
                raise CommandError(f"{spec}: symbol not found") from None
            return lookup(prog, f"{address:x}", bounds)
        address = sym.address
    else:
        from pycrash.kernel.modtext import module_at
        from pycrash.kernel.symindex import find_symbol

        try:  # as bt names it: assembler labels, module kallsyms, no .part.N endings
            near = find_symbol(prog, address)
        except LookupError:
            near = None
        try:
            sym = prog.symbol(address)
        except LookupError:  # drgn knows neither module symbols without debuginfo nor
            if near is None:  # the ends of assembler code without a size
                raise CommandError(f"{spec}: no symbol contains this address") from None
            rng = module_at(prog, address)
            text = bounds.get("text", (0, 0))
            letter = (_module_letter(rng.module, near.address, near.name, rng.text)
                      if rng is not None else "T" if text[0] <= address < text[1] else "D")
            return SymbolRow(address, letter, near.name, address - near.address,
                             rng.name if rng is not None else None, None, None)
        if near is not None and sym.address <= near.address <= address:
            file, line = _source(prog, address) if sym.kind == SymbolKind.FUNC else (None, None)
            return SymbolRow(address, type_letter(sym, bounds, prog), near.name,
                             address - near.address, _module_of(prog, address), file, line)
    file, line = _source(prog, address) if sym.kind == SymbolKind.FUNC else (None, None)
    return SymbolRow(address, type_letter(sym, bounds, prog), sym.name, address - sym.address,
                     _module_of(prog, address), file, line)

