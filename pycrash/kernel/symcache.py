"""A compact, on-disk copy of a vmlinux's symbol table, for fast address look-ups.

Reading ``.symtab`` once costs about 0.1 s; the result (sorted addresses, sizes
and names of functions and objects) is kept in ``~/.cache/pycrash/symbols/``
under the vmlinux's build id, and loads in a few milliseconds. Addresses are
the link-time ones: the caller adds the kernel's KASLR offset.
"""

from __future__ import annotations

import array
import functools
import os
import struct
from pathlib import Path

STT_NOTYPE, STT_OBJECT, STT_FUNC = 0, 1, 2
#: Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size
ELF64_SYM = struct.Struct("<IBBHQQ")
MAGIC = b"PYCSYM03"


def cache_dir() -> Path:
    """Return where symbol tables are cached (``$PYCRASH_CACHE/symbols``)."""
    root = os.environ.get("PYCRASH_CACHE") or os.path.join(Path.home(), ".cache", "pycrash")
    return Path(root) / "symbols"


class SymbolTable:
    """Sorted link-time ``addresses`` (with ``sizes``) and their names."""

    def __init__(self, addresses: array.array[int], sizes: array.array[int],
                 offsets: array.array[int], blob: bytes) -> None:
        self.addresses = addresses
        self.sizes = sizes
        self.offsets = offsets
        self.blob = blob

    def name(self, i: int) -> str:
        """Return the name of entry ``i``."""
        return self.blob[self.offsets[i] : self.offsets[i + 1] - 1].decode("utf-8", "replace")

    def find(self, name: str) -> int | None:
        """Return the link-time address of a symbol name (a linear search; rarely used)."""
        import bisect

        at = (b"\0" + self.blob).find(b"\0" + name.encode() + b"\0")
        if at < 0:
            return None
        i = bisect.bisect_left(self.offsets, at)
        if i < len(self.addresses) and self.offsets[i] == at:
            return self.addresses[i]
        return None


def _tables(path: str) -> tuple[bytes, bytes, set[int]]:
    """Return the vmlinux's ``.symtab`` and ``.strtab`` bytes, and the indexes of the
    sections whose ``STT_NOTYPE`` symbols are code labels (executable ones, and
    ``.rodata`` for the string literals ``.LC0``... that crash names in bt -F and rd -s).
    LookupError when the file has no symbol table or is damaged."""
    from pycrash.errors import DumpError
    from pycrash.memory.elffile import SHF_EXECINSTR, open_elf

    try:
        with open_elf(path) as elf:
            sections = list(elf.iter_sections())
            label_index = {i for i, sec in enumerate(sections)
                           if sec["sh_flags"] & SHF_EXECINSTR or sec.name == ".rodata"}
            symtab, strtab = elf.get_section_by_name(".symtab"), elf.get_section_by_name(".strtab")
            if symtab is None or strtab is None:
                raise LookupError(f"{path}: no symbol table")
            return symtab.data(), strtab.data(), label_index
    except DumpError as exc:
        raise LookupError(str(exc)) from None


def _read_symtab(path: str) -> SymbolTable:
    symtab, strtab, exec_index = _tables(path)
    # pyelftools finds the tables; the entries are unpacked here: its iter_symbols()
    # takes 2.0 s for the 119,021 symbols of Debian 6.1's vmlinux, this whole function
    # 0.165 s as before pyelftools found the tables, plus 0.014 s for importing it (the
    # result is cached on disk by build id, so a vmlinux pays this once)
    symtab = symtab[: len(symtab) - len(symtab) % ELF64_SYM.size]
    entries = []
    labels = []
    for st_name, st_info, _other, shndx, value, sz in ELF64_SYM.iter_unpack(symtab):
        kind = st_info & 0xF
        if sz and kind in (STT_FUNC, STT_OBJECT) and shndx:
            entries.append((value, -sz, (st_info >> 4) != 1, st_name))  # globals first
        elif kind == STT_NOTYPE and shndx in exec_index and value:
            labels.append((value, sz, st_name))
    entries += _labels(labels, strtab, {e[0] for e in entries})
    entries.sort()
    addresses = array.array("Q")
    sizes = array.array("Q")
    offsets = array.array("Q")
    names = bytearray()
    for value, negsize, _local, st_name in entries:
        end = strtab.find(b"\0", st_name)
        addresses.append(value)
        sizes.append(-negsize)
        offsets.append(len(names))
        names += strip_clone_suffix(strtab[st_name:end]) + b"\0"
    offsets.append(len(names))
    return SymbolTable(addresses, sizes, offsets, bytes(names))


#: gcc's endings for cloned functions that crash leaves out of names (``.constprop.N``
#: and ``.cold`` stay)
CLONE_SUFFIXES = (b".isra.", b".part.", b".llvm.")


def strip_clone_suffix(name: bytes) -> bytes:
    """Return a symbol name without gcc's clone ending, as crash shows it
    (``_get_random_bytes.part.0`` -> ``_get_random_bytes``)."""
    for suffix in CLONE_SUFFIXES:
        at = name.find(suffix)
        if at > 0:
            return name[:at]
    return name


def _labels(labels: list[tuple[int, int, int]], strtab: bytes,
            known: set[int]) -> list[tuple[int, int, bool, int]]:
    """Return table entries for assembler code labels (``entry_SYSCALL_64_after_hwframe``,
    ``end_repeat_nmi``...), which kallsyms and crash name like functions.

    A label without a size reaches to the next label or symbol; section markers
    (``_stext``, ``__entry_text_start``...) and labels at a function's start are left out.
    """
    out = []
    starts = sorted(known | {v for v, _s, _n in labels})
    import bisect

    for value, size, st_name in labels:
        name = strtab[st_name : strtab.find(b"\0", st_name)]
        if value in known and not size:
            continue
        if name.startswith(b"_") and (name.endswith(b"_start") or name.endswith(b"_end")
                                      or name in (b"_stext", b"_etext", b"_sinittext",
                                                  b"_einittext", b"_text")):
            continue
        if not size:
            i = bisect.bisect_right(starts, value)
            size = min(starts[i] - value, 0x1000) if i < len(starts) else 0x1000
        entries_key = (value, -size, False, st_name)
        out.append(entries_key)
    return out


def load(vmlinux: str, build_id: str | None) -> SymbolTable:
    """Return the vmlinux's symbol table: from this process's memory (the last four builds,
    so that a triage worker opening many dumps of one build reads each once), else from
    the cache on disk when it is there, else read from the file."""
    return _loaded(vmlinux, build_id) if build_id else _load(vmlinux, build_id)


@functools.lru_cache(maxsize=4)
def _loaded(vmlinux: str, build_id: str) -> SymbolTable:
    return _load(vmlinux, build_id)


def _load(vmlinux: str, build_id: str | None) -> SymbolTable:
    path = cache_dir() / f"{build_id}.sym" if build_id else None
    if path is not None and path.exists():
        data = path.read_bytes()
        if data.startswith(MAGIC):
            n, blob_len = struct.unpack_from("<QQ", data, 8)
            pos = 24
            arrays = []
            for count in (n, n, n + 1):
                a = array.array("Q")
                a.frombytes(data[pos : pos + 8 * count])
                arrays.append(a)
                pos += 8 * count
            return SymbolTable(arrays[0], arrays[1], arrays[2], data[pos : pos + blob_len])
    table = _read_symtab(vmlinux)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                f.write(MAGIC + struct.pack("<QQ", len(table.addresses), len(table.blob)))
                f.write(table.addresses.tobytes() + table.sizes.tobytes()
                        + table.offsets.tobytes() + table.blob)
            tmp.replace(path)
        except OSError:
            pass  # no cache: still correct, only slower next time
    return table
