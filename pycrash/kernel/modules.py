"""Loaded kernel modules: name, address of ``struct module``, text base and size."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Object, Program
from drgn.helpers.linux.module import for_each_module


@dataclass(frozen=True)
class ModuleInfo:
    """One loaded module: ``module`` is the ``struct module`` address; ``size`` in bytes
    is what ``/proc/modules`` shows (all of the module's memory)."""

    module: int
    name: str
    base: int
    size: int


def module_base_size(mod: Object) -> tuple[int, int]:
    """Return ``(text base, total size)`` of a ``struct module *`` across kernel versions."""
    try:  # Linux 6.4 and later: mod->mem[MOD_TEXT ... MOD_INIT_RODATA]
        mem = mod.mem
    except AttributeError:
        core, init = mod.core_layout, mod.init_layout
        size = core.size.value_() + init.size.value_()
        try:
            size += mod.data_layout.size.value_()
        except AttributeError:
            pass
        return core.base.value_(), size
    return mem[0].base.value_(), sum(mem[i].size.value_() for i in range(len(mem)))


def modules(prog: Program) -> list[ModuleInfo]:
    """Return every loaded module, ordered by ``struct module`` address as crash lists them."""
    out = []
    for mod in for_each_module(prog):
        base, size = module_base_size(mod)
        out.append(ModuleInfo(mod.value_(), mod.name.string_().decode(), base, size))
    out.sort(key=lambda m: m.module)
    return out
