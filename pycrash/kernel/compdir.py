"""The compilation directory of the kernel's C files, which crash prints before each
source file in ``bt -l`` (``debian/build/build_amd64_none_cloud-amd64/kernel/panic.c``).

DWARF keeps it per compilation unit (``DW_AT_comp_dir``); drgn's source locations
leave it out when it is relative. Reading it costs about a second, so it is
cached beside the symbol tables, by build id.
"""

from __future__ import annotations

from drgn import Program

from pycrash.kernel.symcache import cache_dir

#: How many compilation units are looked at for a relative directory
MAX_UNITS = 50


def _read(vmlinux: str) -> str:
    from pycrash.memory.elffile import open_elf

    with open_elf(vmlinux) as elf:
        if not elf.has_dwarf_info():
            return ""
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
        for n, cu in enumerate(dwarf.iter_CUs()):
            attr = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
            if attr is not None:
                value = attr.value.decode("utf-8", "replace") if isinstance(
                    attr.value, bytes) else str(attr.value)
                if not value.startswith("/"):
                    return value
            if n >= MAX_UNITS:
                break
    return ""


def comp_dir(prog: Program) -> str:
    """Return the vmlinux's relative compilation directory, or "" when unknown or absolute."""
    found = prog.cache.get("pycrash_comp_dir")
    if found is not None:
        return str(found)
    where = prog.cache.get("pycrash_vmlinux")
    value = ""
    if where is not None:
        vmlinux, build_id = where
        path = cache_dir() / f"{build_id}.compdir" if build_id else None
        if path is not None and path.exists():
            value = path.read_text()
        else:
            try:
                value = _read(vmlinux)
            except Exception:  # a damaged DWARF section: no prefix, as before
                value = ""
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(value)
                except OSError:
                    pass
    prog.cache["pycrash_comp_dir"] = value
    return value
