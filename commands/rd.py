"""rd: read memory and show it as words, with ASCII or symbols."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Program

from pycrash.cmdlib.resolve import parse_offset, resolve_address, symbol_name
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class MemoryLine:
    """One line of memory as rd reads it: the address of its first unit, the units'
    values (8, 16, 32 or 64 bits each, read little-endian), and with -s/-S what each
    unit points to (``symbol+offset`` or ``[slab cache]``; None: nothing known)."""

    address: Hex
    values: tuple[int, ...]
    symbols: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class MemoryString:
    """A NUL-terminated string in memory (rd -a): its address and its text."""

    address: Hex
    text: str


@dataclass(frozen=True)
class RawCopy:
    """``rd -r FILE``: how many bytes were copied from which address to which file."""

    address: Hex
    count: int
    path: str


def render_raw(result: Result) -> Iterable[str]:
    """crash's rd -r: ``N bytes copied from 0xADDR to FILE``."""
    for r in result.rows:
        yield f"{r.count} bytes copied from {r.address:#x} to {r.path}"


@dataclass(frozen=True)
class RdView:
    """How rd shows units: their size in bits, in decimal or hex, with symbols (-s/-S),
    and the width of a cell."""

    bits: int
    decimal: bool
    symbols: bool
    cell_width: int


def _cell(view: RdView, value: int, symbol: str | None) -> str:
    if symbol is not None:
        return symbol
    if view.symbols and view.bits == 64 and value >= 1 << 63:
        return f"{value:016x}"
    return str(value) if view.decimal else f"{value:0{view.bits // 4}x}"


def _ascii(view: RdView, values: tuple[int, ...]) -> str:
    size = view.bits // 8
    data = b"".join(v.to_bytes(size, "little") for v in values)
    return "".join(chr(b) if 32 <= b < 127 else "." for b in data)


def render(result: Result) -> Iterable[str]:
    """crash's rd output: ``ADDRESS:  cell  cell ...   ASCII`` (no ASCII with -s/-S);
    a string (-a) as ``ADDRESS:  TEXT``."""
    view = result.view
    for m in result.rows:
        if isinstance(m, MemoryString):
            yield f"{m.address:x}:  {m.text}"
            continue
        symbols = m.symbols or (None,) * len(m.values)
        cells = "  ".join(_cell(view, v, s).ljust(view.cell_width) if view.symbols
                          else _cell(view, v, s).rjust(view.cell_width)
                          for v, s in zip(m.values, symbols, strict=True))
        tail = "" if view.symbols else f"   {_ascii(view, m.values)}"
        yield f"{m.address:x}:  {cells}{tail}".rstrip()


@command(
    "rd",
    summary="read memory",
    synopsis="rd [-8|-16|-32|-64] [-p|-u] [-s|-S] [-x|-d] [-a] [-o offs] [-e end] "
             "[-r file] address|symbol [count]",
    description="""
Shows memory from a kernel virtual address (or symbol), a physical address
(-p) or the context task's user address (-u): count units of 64 bits (or
-8, -16, -32 bits), in hex (-x, the default) or decimal (-d), with their
ASCII. -s shows kernel text and data addresses as symbol+offset (-S also
with slab cache names); -a shows a NUL-terminated string; -o adds an
offset to the address; -e reads up to an end address. -r file copies the
memory, raw, to a file: count (or -e) says how many bytes.
""",
    examples="""
crash> rd jiffies
crash> rd -s ff4a70ccc04fbbf8 8      (a stack, with symbolic return addresses)
crash> rd -a linux_banner
crash> rd -p 1000 4
crash> rd -r banner.bin linux_banner 64
""",
    records=(MemoryLine, MemoryString, RawCopy),
    arguments=(
        arg("-8", dest="bits", action="store_const", const=8),
        arg("-16", dest="bits", action="store_const", const=16),
        arg("-32", dest="bits", action="store_const", const=32),
        arg("-64", dest="bits", action="store_const", const=64),
        arg("-p", dest="physical", action="store_true", help="physical address"),
        arg("-u", dest="user", action="store_true", help="user address of the context task"),
        arg("-s", dest="symbols", action="store_true", help="symbolic"),
        arg("-S", dest="slab_symbols", action="store_true", help="symbolic, with slab caches"),
        arg("-x", dest="hex", action="store_true", help="hexadecimal"),
        arg("-d", dest="dec", action="store_true", help="decimal"),
        arg("-a", dest="ascii", action="store_true", help="a string"),
        arg("-o", dest="offset", default="0", help="offset added to the address"),
        arg("-e", dest="end", help="end address"),
        arg("-r", dest="raw", metavar="file", help="copy the bytes, raw, to a file"),
        arg("address", metavar="address|symbol"),
        arg("count", nargs="?", default=None),
    ),
)
def rd(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`MemoryLine` rows (or one :class:`MemoryString` for -a)."""
    prog = session.prog
    addr = resolve_address(prog, args.address) + _offset(args.offset)
    bits = args.bits or 64
    size = bits // 8
    count = int(args.count, 0) if args.count else 1
    if args.end:
        count = max((resolve_address(prog, args.end) - addr) // size, 1)
    symbols = args.symbols or args.slab_symbols

    def read(at: int, n: int) -> bytes:
        try:
            if args.user:
                from drgn.helpers.linux.mm import access_process_vm

                if session.context is None:
                    raise CommandError("-u needs a context task")
                return access_process_vm(session.context, at, n)
            return prog.read(at, n, args.physical)
        except FaultError as exc:
            space = "physical" if args.physical else "user" if args.user else "kernel virtual"
            raise CommandError(f"invalid {space} address: {exc.address:x}: "
                               f"{session.explain_fault(exc)}") from None

    if args.raw is not None:
        return _raw_copy(prog, args, addr, read)
    if args.ascii:
        data = read(addr, 4096 if not args.count else count)
        text = data.split(b"\0", 1)[0].decode("latin-1").rstrip("\n")
        return Result([MemoryString(addr, text)], render=render)
    data = read(addr, count * size)
    per_line = {8: 16, 16: 8, 32: 4, 64: 2}[bits]
    rows = []
    for i in range(0, count, per_line):
        chunk = data[i * size : (i + per_line) * size]
        values = tuple(int.from_bytes(chunk[j : j + size], "little")
                       for j in range(0, len(chunk), size))
        names = tuple(_points_to(session, v, args.slab_symbols) if symbols and bits == 64
                      else None for v in values) if symbols else ()
        rows.append(MemoryLine(addr + i * size, values, names))
    view = RdView(bits, bool(args.dec), bool(symbols), size * 2)
    if symbols:
        width = max((len(_cell(view, v, s)) for r in rows
                     for v, s in zip(r.values, r.symbols, strict=True)), default=size * 2)
        view = RdView(bits, bool(args.dec), True, width)
    return Result(rows, render=render, view=view)


#: how many bytes rd -r reads at a time
RAW_CHUNK = 1 << 20


def _raw_copy(prog: Program, args: argparse.Namespace, addr: int,
              read: Callable[[int, int], bytes]) -> Result:
    """rd -r: copy ``count`` bytes (or up to -e's address) from ``addr`` to the file, whole
    or not at all; a page that cannot be read fails the copy, naming its address."""
    from pycrash.outfile import write_binary

    if args.count:
        try:
            count = int(args.count, 0)
        except ValueError:
            raise CommandError(f"invalid count: {args.count}") from None
    elif args.end:
        count = resolve_address(prog, args.end) - addr
    else:
        raise CommandError("-r option requires either a count argument or the -e option")
    if count <= 0:
        raise CommandError(f"invalid count: {count}")

    def chunks() -> Iterator[bytes]:
        for at in range(0, count, RAW_CHUNK):
            yield read(addr + at, min(RAW_CHUNK, count - at))

    try:
        write_binary(args.raw, chunks())
    except OSError as exc:
        raise CommandError(f"cannot write to: {args.raw}: {exc.strerror or exc}") from None
    return Result([RawCopy(addr, count, args.raw)], render=render_raw)


def _offset(text: str) -> int:
    """Return rd -o's offset (decimal, or hex after 0x)."""
    try:
        return parse_offset(text)
    except ValueError:
        raise CommandError(f"invalid offset: {text}") from None


def _points_to(session: Session, value: int, slabs: bool) -> str | None:
    """Return what a kernel address points into, for rd -s/-S: ``symbol+offset``, or
    ``[cache]`` of a slab object (with -S); None for anything else."""
    if value < 1 << 63:
        return None
    name = symbol_name(session.prog, value)
    if name is None and slabs:
        from pycrash.kernel.slabs import find_slab_object

        hit = find_slab_object(session.prog, value)
        name = f"[{hit.cache.name}]" if hit else None
    return name
