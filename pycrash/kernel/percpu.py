"""Per-CPU variables: which symbols are per-CPU, and where each CPU's instance lives.

A per-CPU variable is linked in the ``.data..percpu`` section, between the symbols
``__per_cpu_start`` and ``__per_cpu_end`` (from zero on x86-64); CPU N's instance is at
the symbol's address plus ``__per_cpu_offset[N]``, as the kernel's ``per_cpu_ptr()``
computes it (crash's ``symbol:cpuspec``).
"""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Program

from pycrash.records import Hex


@dataclass(frozen=True)
class CpuAddress:
    """Where one CPU's instance of a per-CPU variable (or of a per-CPU offset) is."""

    cpu: int
    address: Hex


def percpu_range(prog: Program) -> tuple[int, int] | None:
    """Return ``(__per_cpu_start, __per_cpu_end)``: the addresses per-CPU symbols have
    before a CPU's offset is added, or None when the kernel has no such section (read
    once per program)."""
    found = prog.cache.get("pycrash_percpu_range", False)
    if found is not False:
        return found
    try:
        bounds: tuple[int, int] | None = (prog.symbol("__per_cpu_start").address,
                                          prog.symbol("__per_cpu_end").address)
    except LookupError:
        bounds = None
    prog.cache["pycrash_percpu_range"] = bounds
    return bounds


def is_percpu_symbol(prog: Program, name: str) -> bool:
    """Return whether the kernel symbol ``name`` is a per-CPU variable (its address lies in
    the per-CPU section)."""
    bounds = percpu_range(prog)
    if bounds is None:
        return False
    try:
        address = prog.symbol(name).address
    except LookupError:
        return False
    return bounds[0] <= address < bounds[1]


def per_cpu_offset(prog: Program, cpu: int) -> int:
    """Return ``__per_cpu_offset[cpu]``: what CPU ``cpu``'s instance of a per-CPU variable
    is moved by from the variable's symbol address."""
    return int(prog["__per_cpu_offset"][cpu].value_())


def per_cpu_address(prog: Program, address: int, cpu: int) -> int:
    """Return the address of CPU ``cpu``'s instance of the per-CPU variable (or per-CPU
    pointer value) at ``address``: ``per_cpu_ptr(address, cpu)``."""
    return (address + per_cpu_offset(prog, cpu)) & ((1 << 64) - 1)
