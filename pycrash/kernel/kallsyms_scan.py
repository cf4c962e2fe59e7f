"""Find the kernel's kallsyms tables in memory when VMCOREINFO does not name them.

Since Linux 6.0 VMCOREINFO gives the addresses of ``kallsyms_names`` and the other
tables (drgn's :func:`drgn.helpers.linux.kallsyms.load_vmlinux_kallsyms` reads them).
Older kernels give only a few symbols (``_stext``, ``init_uts_ns``...), so the tables
are found here by scanning the kernel image from ``_stext``, as ``scripts/kallsyms.c``
of Linux 4.6 to 6.1 lays them out in ``.rodata`` (6.2 moved them; 6.0 and later are
named in VMCOREINFO anyway), each label aligned to the word size; little-endian::

    kallsyms_offsets         int[N] (CONFIG_KALLSYMS_BASE_RELATIVE), or
    kallsyms_addresses       unsigned long[N]
    kallsyms_relative_base   unsigned long (base-relative only)
    kallsyms_num_syms        unsigned int: N
    kallsyms_names           per symbol: its length in tokens (two bytes from 6.1 if
                             over 127), then the tokens
    kallsyms_markers         int[ceil(N / 256)] (long[] before 4.20): where every
                             256th symbol starts in kallsyms_names; the first is 0
    kallsyms_seqs_of_names   3 bytes a symbol (6.2, and Debian's 6.1 has it)
    kallsyms_token_table     256 NUL-terminated strings
    kallsyms_token_index     u16[256]: where each string starts; the first is 0

The scan looks for the token table: a byte that occurs in symbol names stands for
itself, so the digits' entries read ``0\\0 1\\0 ... 9\\0``. Each such anchor is
checked: a token index must follow the table (starting at 0, increasing, each entry
just after a NUL of the table); then, walking back, the markers (0 first, increasing),
the names (the count before them; N names that end where the markers begin, every
256th where a marker says) and the address table, whose entry for ``_stext`` must
give VMCOREINFO's ``_stext``. Reads go by chunks, under a time limit; the scan stops
at the first anchor that checks out.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, PlatformFlags, Program, SymbolIndex

#: The token table's entries for the digits: a run no other table is likely to hold.
ANCHOR = b"".join(bytes([c]) + b"\0" for c in b"0123456789")
#: How much of the image is read at once.
CHUNK = 1 << 20
#: How far past ``_stext`` the scan goes at most (text and rodata of a large kernel).
MAX_SCAN = 256 << 20
#: Seconds the scan may take.
TIMEOUT = 30.0
#: The fewest markers (256 symbols each) taken for the kallsyms tables: a kernel's
#: kallsyms has tens of thousands of symbols, a false candidate a few markers' worth.
MIN_GROUPS = 8
#: The size of kallsyms_names at most (about 1.2 MB for 97,000 symbols).
MAX_NAMES = 64 << 20
#: How far before the token table kallsyms_seqs_of_names may start (3 bytes a symbol).
MAX_SEQS = 4 << 20
#: The token table's size at most (256 tokens; about 1 KiB in practice).
MAX_TOKEN_TABLE = 1 << 16
_PAGE = 4096


class KallsymsScanError(ValueError):
    """The kallsyms tables were not found: one line saying why."""


@dataclass(frozen=True)
class KallsymsTables:
    """Where the kallsyms tables are (0: a table this layout does not have), and how
    many symbols they hold."""

    names: int
    markers: int
    token_table: int
    token_index: int
    num_syms: int
    count: int
    offsets: int = 0
    relative_base: int = 0
    addresses: int = 0


def vmcoreinfo_symbols(prog: Program) -> dict[str, int]:
    """The ``SYMBOL(name)=hex`` entries of the kernel's VMCOREINFO."""
    text = prog["VMCOREINFO"].string_().decode(errors="replace")
    return {name: int(value, 16)
            for name, value in re.findall(r"^SYMBOL\(([^)]+)\)=([0-9A-Fa-f]+)$", text, re.M)}


def long_names(release: str) -> bool:
    """Whether the kernel's kallsyms_names may spend two bytes on a length (Linux 6.1's
    "big" symbols): drgn's guess, by release, which the scan must share."""
    found = re.match(r"(\d+)\.(\d+)", release)
    return bool(found) and (int(found[1]), int(found[2])) >= (6, 1)  # type: ignore[index]


def _read(prog: Program, address: int, size: int) -> bytes:
    """``size`` bytes at ``address``; pages the dump lacks read as zeros."""
    try:
        return prog.read(address, size)
    except FaultError:
        pass
    out = bytearray(size)
    at = address
    while at < address + size:
        step = min(_PAGE - at % _PAGE, address + size - at)
        try:
            out[at - address:at - address + step] = prog.read(at, step)
        except FaultError:
            pass
        at += step
    return bytes(out)


class _Scanner:
    """Checks one anchor: reads around it and walks the tables back from it."""

    def __init__(self, prog: Program, stext: int, release: str) -> None:
        self.prog = prog
        self.stext = stext
        platform = prog.platform
        self.word = 8 if platform and platform.flags & PlatformFlags.IS_64_BIT else 4
        self.long_names = long_names(release)

    def _align(self, value: int) -> int:
        return -(-value // self.word) * self.word

    def tables(self, anchor: int) -> KallsymsTables | None:
        """The tables whose token table holds the digits' entries at ``anchor``, if
        everything around it checks out; else None."""
        tokens = self._token_index(anchor)
        if tokens is None:
            return None
        table, index, idx = tokens
        text = _read(self.prog, table, index - table)
        strings = [text[i:text.index(b"\0", i)] for i in idx]
        for markers, values, count in self._markers(table):
            names = self._names(markers, values)
            if names is None or count not in (None, names[1]):
                continue
            start, count, data = names
            found = self._addresses(start, count, data, strings)
            if found is not None:
                offsets, base, addresses = found
                return KallsymsTables(start, markers, table, index, start - self.word, count,
                                      offsets, base, addresses)
        return None

    def _token_index(self, anchor: int) -> tuple[int, int, list[int]] | None:
        """(token table, token index, its 256 entries) around ``anchor`` (where the
        table's entry for "0" is). Tokens are not empty: the table ends at the first
        two NULs in a row after the anchor, and the index starts at the next word (an
        empty token would end it early: a few more tries)."""
        lo = anchor - MAX_TOKEN_TABLE
        data = _read(self.prog, lo, 2 * MAX_TOKEN_TABLE + 512)
        at = anchor - lo
        for _ in range(8):
            at = data.find(b"\0\0", at, 2 * MAX_TOKEN_TABLE)
            if at < 0:
                return None
            index = self._align(lo + at + 1) - lo
            idx = list(struct.unpack_from("<256H", data, index))
            table = anchor - idx[ord("0")] - lo
            if 0 <= table and (lo + table) % self.word == 0 and \
                    self._is_token_index(data, table, index, idx):
                return lo + table, lo + index, idx
            at += 1
        return None

    def _is_token_index(self, data: bytes, table: int, at: int, idx: list[int]) -> bool:
        """Whether ``idx`` (read at ``at``) indexes the token table at ``table``, which
        ends right before it."""
        if idx[0] != 0 or any(b <= a for a, b in zip(idx, idx[1:], strict=False)):
            return False
        if any(data[table + i - 1] != 0 for i in idx[1:]):
            return False
        end = data.find(b"\0", table + idx[255])
        if end < 0 or not 0 <= at - (end + 1) < self.word:
            return False
        text = data[table:end]
        return all(c == 0 or 0x20 < c < 0x7F for c in text)

    def _most(self) -> int:
        """The bytes 256 names take at most (a length, then up to 255 tokens; up to
        16383 with Linux 6.1's two-byte lengths)."""
        return 256 * (2 + (0x3FFF if self.long_names else 0xFF))

    def _markers(self, table: int) -> Iterator[tuple[int, list[int], int | None]]:
        """Candidate (address, values, N if known) of kallsyms_markers: 0 first, then
        increasing by at least two bytes per symbol. They end right before the token
        table at ``table`` (ints, or longs before Linux 4.20; padding or not), or
        before kallsyms_seqs_of_names (Linux 6.2, and Debian's 6.1): 3 bytes a symbol,
        which give N."""
        span = MAX_TOKEN_TABLE
        data = _read(self.prog, table - span, span)
        for size, fmt in ((4, "<I"), (8, "<Q")):
            for pad in range(0, self.word, size):
                values: list[int] = []
                at = span - pad - size
                while at >= 0:
                    (value,) = struct.unpack_from(fmt, data, at)
                    if values and not 512 <= values[-1] - value <= self._most():
                        break
                    values.append(value)
                    if value == 0:
                        yield table - span + at, values[::-1], None
                        break
                    at -= size
        span = MAX_SEQS  # the markers' first 0, then seqs_of_names: searched back
        data = _read(self.prog, table - span, span)
        at = span
        for _ in range(1 << 14):
            at = data.rfind(b"\0\0\0\0", 0, at + 3)
            if at < 0:
                break
            if (table - span + at) % self.word == 0:
                yield from self._seqs_markers(table, table - span + at, data, at)
            at -= 1

    def _seqs_markers(self, table: int, start: int, data: bytes,
                      at: int) -> list[tuple[int, list[int], int]]:
        """The markers at ``start`` (offset ``at`` in ``data``) followed by
        kallsyms_seqs_of_names that end right before ``table``: their N symbols."""
        values = [0]
        at += 4
        while at + 4 <= len(data):
            (value,) = struct.unpack_from("<I", data, at)
            if not 512 <= value - values[-1] <= self._most():
                break
            values.append(value)
            at += 4
        out = []
        for groups in {len(values), max(len(values) - 1, 1)}:  # a seq may look like one
            seqs = start + 4 * groups
            for pad in range(self.word):
                count, rest = divmod(table - pad - seqs, 3)
                if not rest and 256 * (groups - 1) < count <= 256 * groups:
                    out.append((start, values[:groups], count))
        return out

    def _walk(self, names: bytes, at: int, count: int) -> int:
        """Where the ``count`` names from offset ``at`` of ``names`` end; -1 past the end."""
        size = len(names)
        for _ in range(count):
            if at >= size:
                return -1
            length = names[at]
            if length & 0x80 and self.long_names:
                if at + 1 >= size:
                    return -1
                length = (length & 0x7F) | (names[at + 1] << 7)
                at += 1
            at += length + 1
        return at if at <= size else -1

    def _names(self, markers: int, values: list[int]) -> tuple[int, int, bytes] | None:
        """(kallsyms_names, N, its bytes): the names that end before ``markers`` (at
        most one word of padding between), the count N in the word before them, every
        256th name where ``values`` says. N is one of 256 values: the counts are found
        by their upper three bytes (``groups - 1``), then checked."""
        groups, last = len(values), values[-1]
        if groups < MIN_GROUPS or last > MAX_NAMES:
            return None
        widest = max(b - a for a, b in zip(values, values[1:], strict=False))
        lo = markers - last - min(4 * widest, self._most()) - 2 * self.word
        data = _read(self.prog, lo, markers - lo)
        begins = set()
        for key, skip in (((groups - 1).to_bytes(3, "little"), 1),
                          ((256 * groups).to_bytes(4, "little"), 0)):
            at = data.find(key, skip)
            while at >= 0 and at - skip <= markers - last - lo - self.word:
                if (lo + at - skip) % self.word == 0:
                    begins.add(at - skip + self.word)
                at = data.find(key, at + 1)
        for begin in sorted(begins, reverse=True):
            (count,) = struct.unpack_from("<I", data, begin - self.word)
            if not 256 * (groups - 1) < count <= 256 * groups:
                continue
            names = data[begin:markers - lo]
            end = self._walk(names, last, count - 256 * (groups - 1))
            if end < 0 or not 0 <= len(names) - end < self.word:
                continue
            at = 0
            for value in values:  # every 256th name where its marker says
                if at != value:
                    break
                at = self._walk(names, at, 256)
            else:
                return lo + begin, count, names
        return None

    def _first(self, names: bytes, tokens: list[bytes], count: int, name: bytes) -> int | None:
        """The index of symbol ``name`` in the names (checked by :meth:`_walk`),
        decoding from the first one."""
        at = 0
        for i in range(count):
            length = names[at]
            if length & 0x80 and self.long_names:
                length = (length & 0x7F) | (names[at + 1] << 7)
                at += 1
            text = b"".join(tokens[c] for c in names[at + 1:at + 1 + length])
            if text[1:] == name:
                return i
            at += length + 1
        return None

    def _addresses(self, names: int, count: int, data: bytes,
                   tokens: list[bytes]) -> tuple[int, int, int] | None:
        """(kallsyms_offsets, kallsyms_relative_base, kallsyms_addresses) before the
        count at ``names - word``: the one layout whose entry for ``_stext`` is
        VMCOREINFO's ``_stext``."""
        stext = self._first(data, tokens, count, b"_stext")
        if stext is None:
            return None
        word = self.word
        fmt = "<Q" if word == 8 else "<I"
        count_at = names - word
        base_at = count_at - word
        offsets = base_at - self._align(4 * count)
        (base,) = struct.unpack(fmt, _read(self.prog, base_at, word))
        (offset,) = struct.unpack("<i", _read(self.prog, offsets + 4 * stext, 4))
        if (base + (offset & 0xFFFFFFFF)) % (1 << 64) == self.stext or (
                offset < 0 and base - 1 - offset == self.stext):
            return offsets, base_at, 0
        addresses = count_at - word * count
        (address,) = struct.unpack(fmt, _read(self.prog, addresses + word * stext, word))
        if address == self.stext:
            return 0, 0, addresses
        return None


def find_tables(prog: Program, release: str, timeout: float = TIMEOUT) -> KallsymsTables:
    """Find the kallsyms tables in the kernel image from VMCOREINFO's ``_stext`` up (to
    the highest image symbol VMCOREINFO names, at most :data:`MAX_SCAN` bytes on).
    Raises :class:`KallsymsScanError` in one line when they are not there."""
    symbols = vmcoreinfo_symbols(prog)
    stext = symbols.get("_stext")
    if stext is None:
        raise KallsymsScanError("VMCOREINFO gives no _stext to scan the kernel image from")
    above = [v for v in symbols.values() if stext < v < stext + MAX_SCAN]
    end = max(above) if above else stext + MAX_SCAN
    scanner = _Scanner(prog, stext, release)
    deadline = time.monotonic() + timeout
    tail, addr, anchors = b"", stext, 0
    while addr < end:
        if time.monotonic() > deadline:
            raise KallsymsScanError(f"no kallsyms tables found in {timeout:.0f} s of "
                                    f"scanning the kernel image")
        size = min(CHUNK, end - addr)
        data = tail + _read(prog, addr, size)
        base = addr - len(tail)
        at = data.find(ANCHOR)
        while at >= 0:
            anchors += 1
            found = scanner.tables(base + at)
            if found is not None:
                return found
            at = data.find(ANCHOR, at + 1)
        tail = data[-(len(ANCHOR) - 1):]
        addr += size
    raise KallsymsScanError(
        f"no kallsyms tables in the kernel image ({end - stext >> 20} MiB from _stext "
        f"scanned, {anchors} candidate token tables rejected)")


def load_index(prog: Program, tables: KallsymsTables) -> SymbolIndex:
    """A drgn symbol index of the vmlinux's kallsyms at ``tables``, built by drgn's own
    kallsyms loader (the one :func:`load_vmlinux_kallsyms` feeds from VMCOREINFO),
    checked against every kernel-image symbol VMCOREINFO names. Raises
    :class:`KallsymsScanError` in one line."""
    try:
        from _drgn import _linux_helper_load_builtin_kallsyms as loader
    except ImportError:
        raise KallsymsScanError("this drgn has no built-in kallsyms loader") from None
    symbols = vmcoreinfo_symbols(prog)
    try:
        index = loader(prog, names=tables.names, token_table=tables.token_table,
                       token_index=tables.token_index, num_syms=tables.num_syms,
                       offsets=tables.offsets, relative_base=tables.relative_base,
                       addresses=tables.addresses, _stext=symbols["_stext"])
    except (LookupError, ValueError, FaultError) as exc:
        raise KallsymsScanError(f"the kallsyms tables found cannot be read ({exc})") from None
    stext = symbols["_stext"]
    for name, value in symbols.items():
        if not stext <= value < stext + MAX_SCAN:
            continue  # a pointer's value (mem_section), not a symbol's address
        found = [s.address for s in index(prog, name, None, False)]
        if found and value not in found:
            raise KallsymsScanError(f"the kallsyms tables found put {name} at "
                                    f"{found[0]:#x}, VMCOREINFO at {value:#x}")
    return index
