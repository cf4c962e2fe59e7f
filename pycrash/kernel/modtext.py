"""Loaded modules' code: which module an address is in, and its name from the module's kallsyms.

Works without the modules' debuginfo: the ranges come from ``struct module``'s
layouts and the names from the symbol table each module keeps in memory
(``struct module``'s ``kallsyms``), as the kernel's own oops report names them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program


@dataclass(eq=False)
class ModuleRange:
    """One region of a module's memory: ``[start, end)``, the module's name and object."""

    start: int
    end: int
    name: str
    module: Object
    #: whether the region holds code (a module's text, or its init text)
    text: bool = True
    #: the module's sorted function symbols: (start, size, name), read on first use
    symbols: list[tuple[int, int, str]] | None = field(default=None, repr=False)


#: mod->mem[] indexes that hold code (MOD_TEXT, MOD_INIT_TEXT), Linux 6.4 and later
MOD_TEXT_KINDS = (0, 4)


def _layouts(mod: Object) -> list[tuple[int, int, bool]]:
    """Return ``(base, size, is text)`` of each memory region of a ``struct module *``."""
    out = []
    try:  # Linux 6.4 and later: mod->mem[MOD_TEXT ... MOD_INIT_RODATA]
        mem = mod.mem
    except AttributeError:
        for name in ("core_layout", "init_layout", "data_layout"):
            try:
                layout = getattr(mod, name)
            except AttributeError:
                continue
            base, size = layout.base.value_(), layout.size.value_()
            text = layout.text_size.value_() if name != "data_layout" else 0
            if 0 < text <= size:  # code first, then read-only data and data
                out.append((base, text, True))
                base, size = base + text, size - text
            out.append((base, size, False))
        return out
    for i in range(len(mem)):
        out.append((mem[i].base.value_(), mem[i].size.value_(), i in MOD_TEXT_KINDS))
    return out


def module_ranges(prog: Program) -> list[ModuleRange]:
    """Return every loaded module's memory regions, sorted by address, cached per program."""
    ranges = prog.cache.get("pycrash_module_ranges")
    if ranges is not None:
        return list(ranges)
    from pycrash.kernel.modules import module_list

    ranges = []
    try:
        for mod in module_list(prog):
            name = mod.name.string_().decode("utf-8", "replace")
            for base, size, text in _layouts(mod):
                if base and 0 < size < 1 << 32:
                    ranges.append(ModuleRange(base, base + size, name, mod, text))
    except (FaultError, LookupError, ValueError):
        pass
    ranges.sort(key=lambda r: r.start)
    prog.cache["pycrash_module_ranges"] = ranges
    return list(ranges)


def module_at(prog: Program, address: int) -> ModuleRange | None:
    """Return the module region containing ``address``, or None (not a module's)."""
    ranges = module_ranges(prog)
    starts = prog.cache.get("pycrash_module_starts")
    if starts is None or len(starts) != len(ranges):
        starts = [r.start for r in ranges]
        prog.cache["pycrash_module_starts"] = starts
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0 and address < ranges[i].end:
        return ranges[i]
    return None


def _symbols(rng: ModuleRange) -> list[tuple[int, int, str]]:
    if rng.symbols is None:
        syms: list[tuple[int, int, str]] = []
        try:
            from drgn.helpers.linux.kallsyms import module_kallsyms

            from pycrash.kernel.symcache import strip_clone_suffix

            for s in module_kallsyms(rng.module):
                if s.address:
                    name = strip_clone_suffix(s.name.encode()).decode()
                    syms.append((s.address, s.size, name))
        except (FaultError, LookupError, ValueError, AttributeError):
            pass
        syms.sort()
        rng.symbols = syms
    return rng.symbols


def module_symbol(prog: Program, address: int) -> tuple[str, int, int, str] | None:
    """Return ``(name, start, size, module)`` of the module symbol containing ``address``.

    The symbol is the module's kallsyms entry at or below the address (the
    kernel's own rule for oops reports); None when the address is in no
    module or precedes every symbol of its module.
    """
    rng = module_at(prog, address)
    if rng is None:
        return None
    syms = _symbols(rng)
    i = bisect.bisect_right(syms, (address, 1 << 64, "")) - 1
    if i < 0:
        return None
    start, size, name = syms[i]
    if size and address >= start + size:
        # past this symbol's end: the next region or a gap; still the nearest name
        pass
    return name, start, size, rng.name


def module_symbol_address(prog: Program, name: str) -> int | None:
    """Return the address of the module function or object ``name`` from the loaded
    modules' kallsyms (no debuginfo needed), or None."""
    seen: set[int] = set()
    for rng in module_ranges(prog):
        key = rng.module.value_()
        if key in seen:
            continue
        seen.add(key)
        for r in (x for x in module_ranges(prog) if x.module.value_() == key):
            for start, _size, sym in _symbols(r):
                if sym == name:
                    return start
            break
    return None
