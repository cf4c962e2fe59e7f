"""Line numbers as gdb (and so crash's ``bt -l``) picks them from the DWARF line table.

Where the line table has several rows at one address (inlined code), gdb takes
the last row that is a statement (``is_stmt``); drgn takes the last row. This
reads the line program of the compilation unit holding an address (through
``.debug_aranges``) and applies gdb's rule. It is only used by ``bt -l``: the
vmlinux's DWARF is opened with pyelftools on first use (about 0.3 s), and each
unit's rows are decoded once (about 0.2 s for the largest).
"""

from __future__ import annotations

import bisect
from typing import Any

from drgn import Program


class LineTables:
    """gdb's line for vmlinux addresses (link-time), from the vmlinux's DWARF."""

    def __init__(self, vmlinux: str) -> None:
        from elftools.elf.elffile import ELFFile

        self._file = open(vmlinux, "rb")  # noqa: SIM115 (kept open for pyelftools' streams)
        elf = ELFFile(self._file)
        self.dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
        self.aranges = self.dwarf.get_aranges()
        #: per unit: sorted row addresses, and each row's (line, is a statement, file)
        self._units: dict[int, tuple[list[int], list[tuple[int, bool, str]]]] = {}

    @staticmethod
    def _files(program: Any) -> list[str]:
        """Return the unit's file names (relative to the compilation directory where
        their directory is it), indexed as the line program's rows index them."""
        header = program.header
        version = header["version"]
        dirs = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d)
                for d in header["include_directory"]]
        out = []
        for entry in header["file_entry"]:
            name = entry.name.decode("utf-8", "replace") if isinstance(
                entry.name, bytes) else str(entry.name)
            index = entry.dir_index
            if version >= 5:  # directory 0 is the compilation directory
                folder = dirs[index] if 0 < index < len(dirs) else ""
            else:  # 0 is the compilation directory, the list starts at 1
                folder = dirs[index - 1] if 0 < index <= len(dirs) else ""
            out.append(f"{folder}/{name}" if folder and not name.startswith("/") else name)
        return out if version >= 5 else ["", *out]

    def _rows(self, offset: int) -> tuple[list[int], list[tuple[int, bool, str]]]:
        if offset not in self._units:
            cu = self.dwarf.get_CU_at(offset)
            program = self.dwarf.line_program_for_CU(cu)
            rows: list[tuple[int, int, bool, str]] = []
            if program is not None:
                files = self._files(program)
                for entry in program.get_entries():
                    st = entry.state
                    if st is not None:
                        name = files[st.file] if 0 <= st.file < len(files) else ""
                        rows.append((st.address, st.line,
                                     bool(st.is_stmt) and not st.end_sequence, name))
            rows.sort(key=lambda r: r[0])  # stable: rows at one address keep their order
            self._units[offset] = ([r[0] for r in rows], [r[1:] for r in rows])
        return self._units[offset]

    def line(self, address: int) -> tuple[str, int] | None:
        """Return the file and line gdb gives for a link-time ``address``, or None."""
        if self.aranges is None:
            return None
        offset = self.aranges.cu_offset_at_addr(address)
        if offset is None:
            return None
        addresses, rows = self._rows(offset)
        end = bisect.bisect_right(addresses, address)
        if end == 0:
            return None
        best = addresses[end - 1]
        start = bisect.bisect_left(addresses, best)
        candidates = rows[start:end]
        stmts = [r for r in candidates if r[1]]
        line, _stmt, name = stmts[-1] if stmts else candidates[-1]
        return name, line


def gdb_line(prog: Program, address: int) -> tuple[str, int] | None:
    """Return gdb's file and line for a vmlinux ``address`` (runtime), or None when the
    vmlinux or its line table is not at hand (the caller keeps drgn's)."""
    tables: Any = prog.cache.get("pycrash_line_tables")
    if tables is None:
        where = prog.cache.get("pycrash_vmlinux")
        tables = False
        if where is not None:
            try:
                tables = LineTables(where[0])
            except Exception:  # no DWARF, a damaged file: drgn's lines stand
                tables = False
        prog.cache["pycrash_line_tables"] = tables
    if not tables:
        return None
    from pycrash.kernel.symindex import symbol_index

    index = symbol_index(prog)
    if index.table is None:
        return None
    try:
        return tables.line(address - index.bias)
    except Exception:  # a unit pyelftools cannot decode: drgn's line stands
        return None
