"""The kernel's symbol list as crash's ``sym -l`` shows it: the vmlinux's own symbol table
read as crash reads it through BFD (every symbol of ``.symtab``, section symbols named after
their section, nm's type letters from the section flags), in crash's order and with its
filter, then each module's symbols between ``MODULE START`` and ``MODULE END`` lines."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Program, SymbolBinding, SymbolKind

from pycrash.records import Hex

STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
STT_OBJECT, STT_SECTION, STT_FILE, STT_GNU_IFUNC = 1, 3, 4, 10
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
SHT_NOBITS = 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
#: gcc's clone endings crash cuts off names (strip_symbol_end)
CLONE_SUFFIXES = (".isra.", ".part.", ".llvm.")


@dataclass(frozen=True)
class ListedSymbol:
    """One line of ``sym -l``: an address, nm's type letter and a name; a module's
    boundary is a line of its own (``marker`` ``MODULE START`` or ``MODULE END``, the
    module's name in ``name``)."""

    address: Hex
    type: str
    name: str
    module: str | None = None
    marker: str | None = None


def _strip(name: str) -> str:
    for suffix in CLONE_SUFFIXES:
        at = name.find(suffix)
        if at >= 0:
            return name[:at]
    return name


def _letter(info: int, shndx: int, flags: dict[int, tuple[int, int]]) -> str:
    """nm's letter of an ELF symbol (BFD's bfd_decode_symclass, its section's flags)."""
    bind, kind = info >> 4, info & 0xF
    if shndx == SHN_COMMON:
        return "C"
    if shndx == SHN_UNDEF:
        return "w" if bind == STB_WEAK else "U"
    if kind == STT_GNU_IFUNC:
        return "i"
    if bind == STB_WEAK:
        return "V" if kind == STT_OBJECT else "W"
    if bind == STB_GNU_UNIQUE:
        return "u"
    if bind not in (STB_LOCAL, STB_GLOBAL):
        return "?"
    if shndx == SHN_ABS:
        c = "a"
    else:
        stype, sflags = flags.get(shndx, (0, 0))
        if sflags & SHF_EXECINSTR:
            c = "t"
        elif sflags & SHF_ALLOC and stype != SHT_NOBITS:
            c = "d" if sflags & SHF_WRITE else "r"
        elif sflags & SHF_ALLOC:
            c = "b"
        else:
            c = "n"
    return c.upper() if bind == STB_GLOBAL else c


def vmlinux_symbols(path: str) -> list[tuple[int, str, str, bool]]:
    """Return every symbol of a vmlinux's ``.symtab`` as ``(link-time value, letter,
    name, defined)``, section symbols named after their section, in crash's order (by
    value, then name)."""
    from pycrash.kernel.symcache import ELF64_SYM, _tables
    from pycrash.memory.elffile import sections

    symtab, strtab, _ = _tables(path)
    secs = sections(path)
    flags = {i: (s.type, s.flags) for i, s in enumerate(secs)}
    out = []
    data = symtab[: len(symtab) - len(symtab) % ELF64_SYM.size]
    for i, (st_name, info, _other, shndx, value, _size) in enumerate(ELF64_SYM.iter_unpack(data)):
        if i == 0:
            continue
        if info & 0xF == STT_SECTION and shndx < len(secs):
            name = secs[shndx].name
        else:
            end = strtab.find(b"\0", st_name)
            name = strtab[st_name:end].decode("utf-8", "replace")
        out.append((value, _letter(info, shndx, flags), name, shndx != SHN_UNDEF))
    out.sort(key=lambda s: (s[3], s[0], s[2].encode()))  # undefined first, as BFD sorts
    return out


def kernel_list(prog: Program, path: str) -> list[ListedSymbol]:
    """Return the vmlinux's symbols as crash keeps them: before the first of ``_text``
    and ``_stext`` only the per-CPU symbols from ``__per_cpu_start`` on (those named
    per_cpu*, ``__per_cpu_end`` and data: V, d, D); from there every named symbol;
    KASLR's offset added to each value from ``_stext``'s up, clone endings cut."""
    found = vmlinux_symbols(path)
    link_stext = next((v for v, _t, n, _d in found if n == "_stext"), None)
    offset = prog.symbol("_stext").address - link_stext if link_stext is not None else 0
    out = []
    started = percpu = False
    for value, letter, name, _defined in found:
        if not name:
            continue
        if not started:
            if name in ("_text", "_stext"):
                started = True
            elif name == "__per_cpu_start":
                percpu = True
            elif not (percpu and (name.startswith("per_cpu") or name == "__per_cpu_end"
                                  or letter in "VdD")):
                continue
        relocated = value + offset if link_stext is not None and value >= link_stext else value
        out.append(ListedSymbol(relocated & ((1 << 64) - 1), letter, _strip(name)))
    return out


def kernel_letters(prog: Program) -> dict[tuple[int, str], str]:
    """Return ``{(address, name): letter}`` of the vmlinux's symbols as :func:`kernel_list`
    types them (crash's letters), cached for the program; empty without the vmlinux's
    symbol table."""
    found = prog.cache.get("pycrash_nm_letters")
    if found is None:
        found = {}
        where = prog.cache.get("pycrash_vmlinux")
        if where is not None:
            try:
                found = {(s.address, s.name): s.type for s in kernel_list(prog, where[0])}
            except (LookupError, OSError, ValueError):
                found = {}
        prog.cache["pycrash_nm_letters"] = found
    return dict(found)


def module_list(prog: Program, errors: list[str] | None = None) -> list[ListedSymbol]:
    """Return each loaded module's symbols (its kallsyms within its core: functions T/t,
    anything else ``?``, as crash shows them without the module's debuginfo), by address
    (the module's own order where they share one), between its ``MODULE START`` (its
    core's base) and ``MODULE END`` (base plus core size) lines, modules in address
    order."""
    from drgn.helpers.linux.kallsyms import module_kallsyms

    from pycrash.kernel.modules import module_list as modules
    from pycrash.kernel.walk import walk_list

    walk = modules(prog)
    found = walk_list(walk, errors) if errors is not None else list(walk)
    blocks = []
    for mod in found:
        name = mod.name.string_().decode("utf-8", "replace")
        try:
            base, size = mod.core_layout.base.value_(), mod.core_layout.size.value_()
        except AttributeError:  # 6.4+: the module's memory types
            base = mod.mem[0].base.value_()
            size = max(m.base.value_() + m.size.value_() for m in mod.mem) - base
        syms = {}
        for s in module_kallsyms(mod):
            if not s.name or not base <= s.address <= base + size:
                continue
            if s.kind == SymbolKind.FUNC:
                letter = "t" if s.binding == SymbolBinding.LOCAL else "T"
            else:
                letter = "?"
            syms[(s.address, s.name)] = ListedSymbol(s.address, letter, _strip(s.name), name)
        lines = [ListedSymbol(base, "", name, name, "MODULE START")]
        lines += sorted(syms.values(), key=lambda x: x.address)  # ties: kallsyms order
        lines.append(ListedSymbol(base + size, "", name, name, "MODULE END"))
        blocks.append((base, lines))
    blocks.sort(key=lambda b: b[0])
    return [line for _base, lines in blocks for line in lines]
