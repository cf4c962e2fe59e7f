"""Fast address-to-symbol look-up: one sorted table of the kernel's symbols, per program.

drgn's ``Program.symbol(address)`` costs about a millisecond here; backtraces of
thousands of tasks look up tens of thousands of addresses. The first
:data:`DIRECT_LOOKUPS` distinct addresses go to drgn (a single ``bt`` needs a
dozen); past that the table is built (about 0.1 s) from ``Program.symbols()``
and searched by bisection. An address the table does not cover (a module
without debuginfo) falls back to drgn.
"""

from __future__ import annotations

import bisect

from drgn import Program, Symbol, SymbolKind

DIRECT_LOOKUPS = 2000


class SymbolIndex:
    """Sorted ``(address, size, Symbol)`` of functions and objects with a size."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.starts: list[int] = []
        self.syms: list[Symbol] = []
        self.built = False
        self._cache: dict[int, Symbol | None] = {}

    def build(self) -> None:
        """Sort the program's symbols into the table."""
        syms = sorted((s for s in self.prog.symbols()
                       if s.size and s.kind in (SymbolKind.FUNC, SymbolKind.OBJECT)),
                      key=lambda s: (s.address, -s.size))
        self.starts = [s.address for s in syms]
        self.syms = syms
        self.built = True

    def _direct(self, address: int) -> Symbol | None:
        try:
            return self.prog.symbol(address)
        except LookupError:
            return None

    def lookup(self, address: int) -> Symbol | None:
        """Return the symbol containing ``address``, or None."""
        if address in self._cache:
            return self._cache[address]
        if not self.built:
            if len(self._cache) < DIRECT_LOOKUPS:
                found = self._cache[address] = self._direct(address)
                return found
            self.build()
        i = bisect.bisect_right(self.starts, address) - 1
        found = None
        while i >= 0 and self.starts[i] > address - (1 << 24):
            s = self.syms[i]
            if s.address <= address < s.address + s.size:
                found = s
                break
            i -= 1
            if i >= 0 and self.syms[i].address + self.syms[i].size <= address and \
                    self.syms[i].address < s.address:
                break
        if found is None:
            found = self._direct(address)
        self._cache[address] = found
        return found


def symbol_index(prog: Program) -> SymbolIndex:
    """Return the program's :class:`SymbolIndex`, building it on first use."""
    index = prog.cache.get("pycrash_symbol_index")
    if index is None:
        index = SymbolIndex(prog)
        prog.cache["pycrash_symbol_index"] = index
    return index


def find_symbol(prog: Program, address: int) -> Symbol:
    """Return the symbol containing ``address``; LookupError when there is none."""
    sym = symbol_index(prog).lookup(address)
    if sym is None:
        raise LookupError(f"no symbol at {address:#x}")
    return sym
