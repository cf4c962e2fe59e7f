"""rd: read memory and show it as words, with ASCII or symbols."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError, named
from pycrash.kernel.stack import symbolize_address
from pycrash.kernel.symbols import address_of
from pycrash.session import Session


@dataclass(frozen=True)
class MemLine:
    """One line of ``rd``: its address, the values read, their text, and the ASCII column."""

    address: int
    values: list[int]
    cells: list[str]
    ascii: str


def _render(result: Result) -> Iterable[str]:
    width = result.options["cell_width"]
    for m in result.rows:
        cells = "  ".join(c.rjust(width) if not result.options["symbols"] else c.ljust(width)
                          for c in m.cells)
        tail = f"   {m.ascii}" if m.ascii else ""
        yield f"{m.address:x}:  {cells}{tail}".rstrip()


def resolve(session: Session, spec: str) -> int:
    """Return the address of a hex number, or of a kernel symbol."""
    with named("rd"):
        return address_of(session.prog, spec)


@command(
    "rd",
    summary="read memory",
    synopsis="rd [-8|-16|-32|-64] [-p|-u] [-s|-S] [-x|-d] [-a] [-o offs] [-e end] "
             "address|symbol [count]",
    description="""
Shows memory from a kernel virtual address (or symbol), a physical address
(-p) or the context task's user address (-u): count units of 64 bits (or
-8, -16, -32 bits), in hex (-x, the default) or decimal (-d), with their
ASCII. -s shows kernel text and data addresses as symbol+offset (-S also
with slab cache names); -a shows a NUL-terminated string; -o adds an
offset to the address; -e reads up to an end address.
""",
    examples="""
crash> rd jiffies
crash> rd -s ff4a70ccc04fbbf8 8      (a stack, with symbolic return addresses)
crash> rd -a linux_banner
crash> rd -p 1000 4
""",
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
        arg("address", metavar="address|symbol"),
        arg("count", nargs="?", default=None),
    ),
)
def rd(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`MemLine` rows (or one string for -a)."""
    prog = session.prog
    addr = resolve(session, args.address) + int(args.offset, 0)
    bits = args.bits or 64
    size = bits // 8
    count = int(args.count, 0) if args.count else 1
    if args.end:
        count = max((resolve(session, args.end) - addr) // size, 1)
    symbols = args.symbols or args.slab_symbols

    def read(at: int, n: int) -> bytes:
        try:
            if args.user:
                from drgn.helpers.linux.mm import access_process_vm

                if session.context is None:
                    raise CommandError("rd: -u needs a context task")
                return access_process_vm(session.context, at, n)
            return prog.read(at, n, args.physical)
        except FaultError as exc:
            space = "physical" if args.physical else "user" if args.user else "kernel virtual"
            raise CommandError(f"rd: invalid {space} address: {exc.address:x}: "
                               f"{session.explain_fault(exc)}") from None

    if args.ascii:
        data = read(addr, 4096 if not args.count else count)
        text = data.split(b"\0", 1)[0].decode("latin-1").rstrip("\n")
        return Result([MemLine(addr, [], [text], "")], render=lambda r: [
            f"{r.rows[0].address:x}:  {r.rows[0].cells[0]}"], options={})
    data = read(addr, count * size)
    per_line = {8: 16, 16: 8, 32: 4, 64: 2}[bits]
    rows = []
    for i in range(0, count, per_line):
        chunk = data[i * size : (i + per_line) * size]
        values = [int.from_bytes(chunk[j : j + size], "little")
                  for j in range(0, len(chunk), size)]
        cells = []
        for v in values:
            if symbols and bits == 64 and v >= 1 << 63:
                name = symbolize_address(prog, v)
                if args.slab_symbols and name == f"{v:x}":
                    from pycrash.kernel.slabs import find_slab_object

                    hit = find_slab_object(prog, v)
                    name = f"[{hit.cache.name}]" if hit else name
                cells.append(name if name != f"{v:x}" else f"{v:016x}")
            elif args.dec:
                cells.append(str(v))
            else:
                cells.append(f"{v:0{size * 2}x}")
        ascii_col = "" if symbols else "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(MemLine(addr + i * size, values, cells, ascii_col))
    width = max((len(c) for r in rows for c in r.cells), default=size * 2)
    return Result(rows, render=_render, options={"cell_width": width if symbols else size * 2,
                                                 "symbols": symbols})
