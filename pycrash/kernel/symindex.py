"""Fast address-to-symbol look-up for backtraces and symbolic memory dumps.

drgn's ``Program.symbol(address)`` costs about a millisecond here; backtraces
of thousands of tasks look up tens of thousands of addresses. pycrash keeps
the vmlinux's symbol table sorted (:mod:`pycrash.kernel.symcache`, cached on
disk by build id) and searches it by bisection, adding the kernel's KASLR
offset; module addresses are named from each module's kallsyms; sessions
without a known vmlinux go to drgn.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from drgn import Program


class Sym(NamedTuple):
    """A symbol containing an address: its name, start address and size."""

    name: str
    address: int
    size: int


class SymbolIndex:
    """Look-ups against the cached vmlinux symbol table, relocated; drgn for the rest."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self._cache: dict[int, Sym | None] = {}
        self.table = None
        self.bias = 0
        from pycrash.kernel.nodebug import info

        self.kallsyms = info(prog) is not None  # no vmlinux: drgn's kallsyms
        where = prog.cache.get("pycrash_vmlinux")
        if where is not None:
            from pycrash.kernel import symcache

            try:
                self.table = symcache.load(*where)
                # the KASLR offset, from a function every kernel has
                link = self.table.find("start_kernel")
                if link is None:
                    self.table = None
                else:
                    self.bias = prog.symbol("start_kernel").address - link
            except (OSError, LookupError, ValueError):
                self.table = None

    def _direct(self, address: int) -> Sym | None:
        if self.kallsyms:
            return self._kallsyms(address)
        try:
            s = self.prog.symbol(address)
        except LookupError:
            return None
        return Sym(s.name, s.address, s.size)

    def _kallsyms(self, address: int) -> Sym | None:
        """A session without a vmlinux: of kallsyms' names for the address, the one the
        vmlinux's table would give (not a linker's ``__start_``/``__end_`` marker), without
        gcc's clone ending, as crash names it."""
        from drgn import SymbolBinding

        from pycrash.kernel.symcache import strip_clone_suffix

        found = self.prog.symbols(address)
        if not found:
            return None
        s = min(found, key=lambda s: (s.name.startswith(("__start_", "__stop_", "__end_")),
                                      s.binding != SymbolBinding.GLOBAL))
        return Sym(strip_clone_suffix(s.name.encode()).decode(), s.address, s.size)

    def _module(self, address: int) -> Sym | None:
        from pycrash.kernel.modtext import module_symbol

        found = module_symbol(self.prog, address)
        if found is None:
            return None
        name, start, size, _module = found
        return Sym(name, start, size)

    def _from_table(self, address: int) -> Sym | None:
        table = self.table
        assert table is not None
        link = address - self.bias
        addresses, sizes = table.addresses, table.sizes
        i = bisect.bisect_right(addresses, link) - 1
        stop = max(i - 64, -1)
        while i > stop:
            start = addresses[i]
            if start <= link < start + sizes[i]:
                # of several names for one function, the first: global before local
                while i > 0 and addresses[i - 1] == start and sizes[i - 1] == sizes[i]:
                    i -= 1
                return Sym(table.name(i), start + self.bias, sizes[i])
            i -= 1
        return None

    def lookup(self, address: int) -> Sym | None:
        """Return the symbol containing ``address``, or None."""
        if address in self._cache:
            return self._cache[address]
        found = self._from_table(address) if self.table is not None else None
        if found is None:
            found = self._module(address)
        if found is None:
            found = self._direct(address)
        self._cache[address] = found
        return found


def symbol_index(prog: Program) -> SymbolIndex:
    """Return the program's :class:`SymbolIndex`, made on first use."""
    from pycrash.kernel.progcache import per_program

    return per_program(prog, "pycrash_symbol_index", lambda: SymbolIndex(prog))


def find_symbol(prog: Program, address: int) -> Sym:
    """Return the symbol containing ``address``; LookupError when there is none."""
    sym = symbol_index(prog).lookup(address)
    if sym is None:
        raise LookupError(f"no symbol at {address:#x}")
    return sym
