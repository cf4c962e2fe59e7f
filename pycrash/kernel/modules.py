"""Loaded kernel modules: name, address of ``struct module``, text base and size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import Object, Program

from pycrash.kernel.walk import list_entries, walk_list


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


def module_list(prog: Program) -> Iterator[Object]:
    """Yield every ``struct module *`` on the ``modules`` list (drgn's ``for_each_module``),
    bounded: a loop raises :class:`pycrash.kernel.walk.WalkError` after the modules
    before it."""
    yield from list_entries("struct module", prog["modules"].address_of_(), "list",
                            "the module list")


def modules(prog: Program, errors: list[str] | None = None) -> list[ModuleInfo]:
    """Return every loaded module, ordered by ``struct module`` address as crash lists them.
    A loop in the module list ends it: noted in ``errors``, else raised."""
    out = []
    walk = module_list(prog)
    for mod in (walk if errors is None else walk_list(walk, errors)):
        base, size = module_base_size(mod)
        out.append(ModuleInfo(mod.value_(), mod.name.string_().decode(), base, size))
    out.sort(key=lambda m: m.module)
    return out


def find_module(prog: Program, name: str) -> Object | None:
    """Return the ``struct module *`` of the loaded module ``name``, or None (drgn's
    ``find_module``, over the bounded walk: a loop raises
    :class:`pycrash.kernel.walk.WalkError`)."""
    wanted = name.encode()
    for mod in module_list(prog):
        if mod.name.string_() == wanted:
            return mod
    return None


def module_sections(mod: Object, path: str) -> list[tuple[str, int, int]]:
    """Return ``(name, start, end)`` of each section a loaded module has in memory: its
    address from ``mod->sect_attrs`` (what /sys/module/NAME/sections shows), its size
    from the section header of the module's object file ``path`` (sections the file does
    not have, or does not load (SHF_ALLOC), are left out)."""
    from pycrash.memory.elffile import sections

    sizes = {s.name: s.size for s in sections(path) if s.flags & 0x2}  # SHF_ALLOC
    attrs = mod.sect_attrs
    if not attrs:
        return []
    out = []
    for i in range(min(int(attrs.nsections.value_()), 4096)):
        a = attrs.attrs[i]
        name = a.battr.attr.name.string_().decode("utf-8", "replace")
        start = a.address.value_()
        if name in sizes and start:
            out.append((name, start, start + sizes[name]))
    return out
