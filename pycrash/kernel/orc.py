"""The kernel's ORC unwind tables (x86-64), read from the dump's memory.

``CONFIG_UNWINDER_ORC`` kernels keep, for every range of kernel text, one
6-byte ``struct orc_entry`` that says where the caller's stack pointer and
frame pointer are. The vmlinux's table lies between ``__start_orc_unwind_ip``
and ``__stop_orc_unwind_ip`` (``int`` offsets relative to each slot) and at
``__start_orc_unwind``; each module's is in ``struct module``'s
``arch.orc_unwind_ip``, ``arch.orc_unwind`` and ``arch.num_orcs``. Both are
sorted in memory (by the build for vmlinux, at load time for modules), so a
look-up is a bisection. Tables are read from memory, so modules need no
debuginfo and the vmlinux's tables are those of the running kernel.

The entry format changed three times (Linux 6.3 added ``signal``, 6.4 widened
``type`` and added ``UNDEFINED``/``END_OF_STACK``, 7.1 renumbered the registers,
adding AX); entries are normalised to 6.4's meaning, registers to the numbering
before 7.1 (plus :data:`REG_AX`).
"""

from __future__ import annotations

import bisect
import struct
from array import array
from typing import NamedTuple

from drgn import FaultError, Object, Program

# entry types, in Linux 6.4's numbering
UNDEFINED, END_OF_STACK, CALL, REGS, REGS_PARTIAL = range(5)
# registers an entry names
REG_UNDEFINED, REG_PREV_SP, REG_DX, REG_DI, REG_BP, REG_SP, REG_R10, REG_R13 = range(8)
REG_BP_INDIRECT, REG_SP_INDIRECT, REG_AX = 8, 9, 10
#: Linux 7.1's register numbers ("objtool/x86: Reorder ORC register numbering") in the
#: numbering above: UNDEFINED, AX, DX, SP, BP, DI, R10, R13, PREV_SP, SP_INDIRECT,
#: BP_INDIRECT
REGS_V4 = (REG_UNDEFINED, REG_AX, REG_DX, REG_SP, REG_BP, REG_DI, REG_R10, REG_R13,
           REG_PREV_SP, REG_SP_INDIRECT, REG_BP_INDIRECT)
#: ``.orc_header`` (the hash of orc_types.h the kernel keeps since 6.4) of the 7.1 format
ORC_HASH_7_1 = bytes.fromhex("137c36ad7627c4dd55932176bb0ecdbd5041fc82")

#: The most entries a table may claim: the largest kernels have under 2 million.
MAX_ENTRIES = 4_000_000


class OrcEntry(NamedTuple):
    """One ORC entry: where the caller's sp and bp are, and what kind of frame this is.

    ``sp_reg``/``sp_offset`` locate the previous stack pointer (CFA);
    ``bp_reg``/``bp_offset`` the saved frame pointer; ``type`` is one of
    ``CALL``, ``REGS`` (a full ``struct pt_regs`` at the CFA), ``REGS_PARTIAL``
    (an IRET frame at the CFA), ``END_OF_STACK`` or ``UNDEFINED``; ``signal``
    says the frame was interrupted (its pc is exact, not a return address).
    """

    sp_offset: int
    bp_offset: int
    sp_reg: int
    bp_reg: int
    type: int
    signal: bool


#: The entry the kernel assumes for text without ORC data (BPF, trampolines): a
#: frame-pointer frame.
FP_ENTRY = OrcEntry(16, -16, REG_BP, REG_PREV_SP, CALL, False)


def orc_version(prog: Program) -> int:
    """Return the ORC format version of the kernel (1: before 6.3, 2: 6.3, 3: 6.4 to 7.0,
    4: 7.1 on, its registers renumbered).

    Read from the kernel's ``.orc_header`` hash in memory and ``struct orc_entry``'s
    members where the debuginfo has them, else from the kernel release.
    """
    try:
        header = prog.read(prog.symbol("__start_orc_header").address, 20)
        if header == ORC_HASH_7_1:
            return 4
    except (LookupError, FaultError):
        pass
    release_version = _release_version(prog)
    try:
        members = {m.name: m for m in prog.type("struct orc_entry").members or ()}
        if "signal" not in members:
            return 1
        if members["type"].bit_field_size == 3:
            return 4 if release_version >= (7, 1) else 3
        return 2
    except (LookupError, KeyError):
        pass
    ver = release_version
    return 4 if ver >= (7, 1) else 3 if ver >= (6, 4) else 2 if ver >= (6, 3) else 1


def _release_version(prog: Program) -> tuple[int, int]:
    """Return the kernel's ``(major, minor)`` from its release string ((0, 0): unknown)."""
    import re

    try:
        rel = prog["UTS_RELEASE"].string_().decode()
    except (KeyError, LookupError, FaultError):
        try:
            rel = prog["init_uts_ns"].name.release.string_().decode()
        except (KeyError, LookupError, FaultError):
            return (0, 0)
    m = re.match(r"(\d+)\.(\d+)", rel)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def decode(raw: bytes, at: int, version: int) -> OrcEntry:
    """Decode the 6-byte entry at ``raw[at:]`` and normalise it to version 3's meaning."""
    sp_off, bp_off, flags = struct.unpack_from("<hhH", raw, at)
    sp_reg, bp_reg = flags & 0xF, (flags >> 4) & 0xF
    if version >= 4:
        sp_reg = REGS_V4[sp_reg] if sp_reg < len(REGS_V4) else REG_UNDEFINED
        bp_reg = REGS_V4[bp_reg] if bp_reg < len(REGS_V4) else REG_UNDEFINED
    if version >= 3:
        kind, signal = (flags >> 8) & 7, bool(flags & 0x800)
    else:
        old = (flags >> 8) & 3
        kind = (CALL, REGS, REGS_PARTIAL, UNDEFINED)[old]
        end = bool(flags & (0x400 if version == 1 else 0x800))
        signal = bool(flags & 0x400) if version == 2 else kind != CALL
        if sp_reg == REG_UNDEFINED:
            kind = END_OF_STACK if end else UNDEFINED
    return OrcEntry(sp_off, bp_off, sp_reg, bp_reg, kind, signal)


class OrcTable:
    """One sorted ORC table: ``find(ip)`` returns the entry covering a text address."""

    def __init__(self, name: str, ip_base: int, ips: array[int], entries: bytes,
                 version: int) -> None:
        self.name = name
        self.ip_base = ip_base
        self.ips = ips
        self.entries = entries
        self.version = version
        n = len(ips)
        self.count = n
        self.first = self._ip(0) if n else 0
        self.last = self._ip(n - 1) if n else -1

    def _ip(self, i: int) -> int:
        return self.ip_base + 4 * i + self.ips[i]

    def covers(self, ip: int) -> bool:
        """Return whether ``ip`` lies within this table's text."""
        return self.first <= ip <= self.last

    def find(self, ip: int) -> OrcEntry | None:
        """Return the entry for ``ip`` (the last entry starting at or below it), or None."""
        if not self.covers(ip):
            return None
        i = bisect.bisect_right(range(self.count), ip, key=self._ip) - 1
        if i < 0:
            return None
        return decode(self.entries, 6 * i, self.version)


class LookupTable:
    """The vmlinux's table, read a block at a time through the kernel's ``orc_lookup``
    index (as the kernel's own ``orc_find`` does): for each 256-byte block of
    ``_stext.._etext`` it gives the range of entries to search, so a look-up reads a
    few dozen bytes instead of the whole 3.6 MB table. Init text falls back to the
    whole table."""

    BLOCK = 256

    def __init__(self, prog: Program, version: int, ip_start: int, entry_start: int,
                 count: int, lookup: int, blocks: int, text: tuple[int, int]) -> None:
        self.prog = prog
        self.version = version
        self.ip_start = ip_start
        self.entry_start = entry_start
        self.count = count
        self.lookup = lookup
        self.blocks = blocks
        self.text = text
        self._blocks: dict[int, OrcTable | None] = {}
        self._whole: OrcTable | None = None
        try:
            self.init = (prog.symbol("_sinittext").address, prog.symbol("_einittext").address)
        except LookupError:
            self.init = (0, 0)

    def covers(self, ip: int) -> bool:
        """Return whether ``ip`` is vmlinux text or init text."""
        return self.text[0] <= ip < self.text[1] or self.init[0] <= ip < self.init[1]

    def whole(self) -> OrcTable | None:
        """Return the whole table, read on first use."""
        if self._whole is None:
            self._whole = _read_table(self.prog, "vmlinux", self.ip_start, self.entry_start,
                                      self.count, self.version)
        return self._whole

    def _block(self, idx: int) -> OrcTable | None:
        if idx not in self._blocks:
            table = None
            try:
                start, stop = struct.unpack("<II", self.prog.read(self.lookup + 4 * idx, 8))
                stop += 1
                if start < stop <= self.count:
                    table = _read_table(self.prog, "vmlinux", self.ip_start + 4 * start,
                                        self.entry_start + 6 * start, stop - start,
                                        self.version)
            except FaultError:
                table = None
            self._blocks[idx] = table
        return self._blocks[idx]

    def find(self, ip: int) -> OrcEntry | None:
        """Return the entry for ``ip`` (the last entry starting at or below it), or None."""
        if self.text[0] <= ip < self.text[1]:
            idx = (ip - self.text[0]) // self.BLOCK
            if idx >= self.blocks - 1:
                return None
            table = self._block(idx)
            if table is None or ip < table.first:
                return None
            return table.find(ip) if ip <= table.last else decode(
                table.entries, 6 * (table.count - 1), self.version)
        whole = self.whole()
        return whole.find(ip) if whole is not None else None


def _read_table(prog: Program, name: str, ip_addr: int, entry_addr: int, count: int,
                version: int) -> OrcTable | None:
    if not 0 < count <= MAX_ENTRIES:
        return None
    try:
        ips = array("i")
        ips.frombytes(prog.read(ip_addr, 4 * count))
        entries = prog.read(entry_addr, 6 * count)
    except FaultError:
        return None
    return OrcTable(name, ip_addr, ips, entries, version)


def vmlinux_table(prog: Program, version: int) -> OrcTable | LookupTable | None:
    """Return the vmlinux's ORC table from memory, or None (no ORC in this kernel):
    read through ``orc_lookup`` a block at a time where the kernel has that index."""
    try:
        start = prog.symbol("__start_orc_unwind_ip").address
        stop = prog.symbol("__stop_orc_unwind_ip").address
        entries = prog.symbol("__start_orc_unwind").address
    except LookupError:
        return None
    count = (stop - start) // 4
    if not 0 < count <= MAX_ENTRIES:
        return None
    try:
        lookup = prog.symbol("orc_lookup").address
        lookup_end = prog.symbol("orc_lookup_end").address
        text = (prog.symbol("_stext").address, prog.symbol("_etext").address)
        return LookupTable(prog, version, start, entries, count, lookup,
                           (lookup_end - lookup) // 4, text)
    except LookupError:
        return _read_table(prog, "vmlinux", start, entries, count, version)


def module_table(prog: Program, mod: Object, name: str, version: int) -> OrcTable | None:
    """Return a ``struct module *``'s ORC table from memory, or None."""
    try:
        arch = mod.arch
        count = arch.num_orcs.value_()
        ip_addr = arch.orc_unwind_ip.value_()
        entry_addr = arch.orc_unwind.value_()
    except (AttributeError, LookupError, FaultError):
        return None
    return _read_table(prog, name, ip_addr, entry_addr, count, version)


class OrcIndex:
    """Every ORC table of the kernel: the vmlinux's and each loaded module's.

    An address is looked up in the table of the module whose memory holds it
    (as the kernel's ``orc_module_find`` does), else in the vmlinux's: a
    module's table may also list its init code, far from its core text.
    """

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.version = orc_version(prog)
        self.vmlinux = vmlinux_table(prog, self.version)
        self.modules: dict[int, OrcTable | None] = {}
        self._cache: dict[int, OrcEntry | None] = {}

    def __bool__(self) -> bool:
        return self.vmlinux is not None

    def _module_table(self, ip: int) -> OrcTable | None:
        from pycrash.kernel.modtext import module_at

        rng = module_at(self.prog, ip)
        if rng is None:
            return None
        key = rng.module.value_()
        if key not in self.modules:
            self.modules[key] = module_table(self.prog, rng.module, rng.name, self.version)
        return self.modules[key]

    def find(self, ip: int) -> OrcEntry | None:
        """Return the ORC entry for the text address ``ip``, or None when no table covers it."""
        if ip in self._cache:
            return self._cache[ip]
        table = self.vmlinux if self.vmlinux is not None and self.vmlinux.covers(ip) else None
        if table is None:
            table = self._module_table(ip)
        found = table.find(ip) if table is not None else None
        self._cache[ip] = found
        return found


def orc_index(prog: Program) -> OrcIndex:
    """Return the program's :class:`OrcIndex`, read on first use."""
    from pycrash.kernel.progcache import per_program

    return per_program(prog, "pycrash_orc", lambda: OrcIndex(prog))
