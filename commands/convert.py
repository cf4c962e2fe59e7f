"""eval, ascii, ptov, vtop, ptob, btop: numbers and address translations."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError

from pycrash.cmdlib.resolve import parse_hex, resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class Number:
    """The 64-bit value of an integer expression (eval)."""

    value: Hex


def _size(v: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if v >= 1 << shift and v % (1 << shift) == 0:
            return f"  ({v >> shift}{unit})"
    return ""


def render_number(result: Result) -> Iterable[str]:
    """crash's eval output: the value in hex (with its size in GB/MB/KB when whole),
    decimal (and signed when negative), octal and binary."""
    for row in result.rows:
        n = row.value
        yield f"hexadecimal: {n:x}{_size(n)}"
        yield f"    decimal: {n}" + (f"  ({n - (1 << 64)})" if n >= 1 << 63 else "")
        yield f"      octal: {n:o}"
        yield f"     binary: {n:064b}"


@command("eval", summary="evaluate", synopsis="eval [-b] expression", raw=True,
         description="Evaluates an integer expression and shows it in hex, decimal, octal "
                     "and binary.",
         examples="crash> eval 4096 * 3\ncrash> eval jiffies_64 - 100",
         records=(Number,))
def eval_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Number`."""
    text = args.text
    if text.startswith("-b "):
        text = text[3:]
    if not text:
        raise CommandError("no expression given")
    obj, _ = evaluate(session.prog, text)
    try:
        v = obj.value_()
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:#x}") from None
    if not isinstance(v, int):
        raise CommandError(f"{text} is not an integer")
    return Result([Number(v & ((1 << 64) - 1))], render=render_number)


@dataclass(frozen=True)
class Characters:
    """A number read as characters (ascii): the number, and its eight bytes (a long),
    lowest first, as Latin-1 text."""

    value: Hex
    text: str


#: crash's names of the control characters, by code (0x7f: DEL)
CONTROL_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 "
                 "DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US").split()

#: crash's ascii without an argument: the ASCII chart
ASCII_CHART = [
    "",
    "      0    1   2   3   4   5   6   7",
    "    +-------------------------------",
    "  0 | NUL DLE  SP  0   @   P   '   p",
    "  1 | SOH DC1  !   1   A   Q   a   q",
    '  2 | STX DC2  "   2   B   R   b   r',
    "  3 | ETX DC3  #   3   C   S   c   s",
    "  4 | EOT DC4  $   4   D   T   d   t",
    "  5 | ENQ NAK  %   5   E   U   e   u",
    "  6 | ACK SYN  &   6   F   V   f   v",
    "  7 | BEL ETB  `   7   G   W   g   w",
    "  8 |  BS CAN  (   8   H   X   h   x",
    "  9 |  HT  EM  )   9   I   Y   i   y",
    "  A |  LF SUB  *   :   J   Z   j   z",
    "  B |  VT ESC  +   ;   K   [   k   {",
    "  C |  FF  FS  ,   <   L   \\   l   |",
    "  D |  CR  GS  _   =   M   ]   m   }",
    "  E |  SO  RS  .   >   N   ^   n   ~",
    "  F |  SI  US  /   ?   O   -   o  DEL",
    "",
]


def _char(c: str) -> str:
    code = ord(c)
    if 0x20 <= code < 0x7F:
        return c
    if code > 0x7F:
        return f"<{code:02x}>"
    return f"<{CONTROL_NAMES[code]}>" if code < 0x20 else "<DEL>"


def render_characters(result: Result) -> Iterable[str]:
    """crash's ascii output: ``VALUE: chars``, the value in 16 hex digits, each of its
    eight bytes a character, a control character by its name (``<NUL>``), a byte above
    0x7f in hex (``<xx>``); without a value, the ASCII chart."""
    if not result.rows:
        yield from ASCII_CHART
    for row in result.rows:
        yield f"{row.value:016x}: " + "".join(_char(c) for c in row.text)


@command("ascii", summary="translate a hexadecimal value to ASCII", synopsis="ascii [value ...]",
         description="Shows the characters a number holds, lowest byte first; without a "
                     "value, the ASCII chart.",
         examples="crash> ascii 6f6c6c6568",
         arguments=(arg("values", nargs="*"),), records=(Characters,))
def ascii_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Characters` per value (the low 64 bits, as crash reads it)."""
    rows = []
    for spec in args.values:
        digits = spec[2:] if spec[:2] in ("0x", "0X") else spec
        if len(digits) > 16:
            raise CommandError(f'input string too large: "{digits}" ({len(digits)} vs 16)')
        v = parse_hex(spec, "hexadecimal value") & ((1 << 64) - 1)
        rows.append(Characters(v, v.to_bytes(8, "little").decode("latin-1")))
    return Result(rows, render=render_characters)


@dataclass(frozen=True)
class Translation:
    """A kernel virtual address and the physical address it maps (None: not mapped)."""

    virtual: Hex
    physical: OptHex


def render_translation(result: Result) -> Iterable[str]:
    """crash's ptov/vtop output: a ``VIRTUAL PHYSICAL`` table."""
    yield "VIRTUAL           PHYSICAL"
    for t in result.rows:
        phys = "(not mapped)" if t.physical is None else f"{t.physical:x}"
        yield f"{t.virtual:<16x}  {phys}"


@command("ptov", summary="physical to virtual", synopsis="ptov address ...",
         description="Translates physical addresses to their kernel direct-map addresses.",
         examples="crash> ptov 1000", arguments=(arg("addresses", nargs="+"),),
         records=(Translation,))
def ptov(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Translation` per address: its address in the kernel's direct map
    (x86-64's page_offset_base, arm64's PAGE_OFFSET and memstart, through drgn)."""
    from drgn.helpers.linux.mm import phys_to_virt

    physical = [parse_hex(a) for a in args.addresses]
    return Result([Translation(phys_to_virt(session.prog, p).value_(), p) for p in physical],
                  render=render_translation)


@command("vtop", summary="virtual to physical", synopsis="vtop [-u|-k] address ...",
         description="Translates virtual addresses by walking the page tables: kernel "
                     "addresses through init_mm, user addresses (-u) through the context "
                     "task's.",
         examples="crash> vtop ffffffff81000000",
         arguments=(arg("-u", dest="user", action="store_true"),
                    arg("-k", dest="kernel", action="store_true"),
                    arg("addresses", nargs="+")),
         records=(Translation,))
def vtop(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Translation` per address."""
    from drgn.helpers.linux.mm import follow_phys

    prog = session.prog
    rows = []
    for a in args.addresses:
        addr = resolve_address(prog, a)
        user = args.user or (not args.kernel and addr < 1 << 63)
        if user:
            if session.context is None or not session.context.mm:
                raise CommandError("a user address needs a user task as the context")
            mm = session.context.mm
        else:
            mm = prog["init_mm"].address_of_()
        try:
            rows.append(Translation(addr, follow_phys(mm, addr).value_()))
        except FaultError:
            rows.append(Translation(addr, None))
    return Result(rows, render=render_translation)


@dataclass(frozen=True)
class PageAddress:
    """A page frame number and the physical address of the page's first byte (ptob), or
    of a byte in it (btop)."""

    pfn: Hex
    address: Hex


def render_ptob(result: Result) -> Iterable[str]:
    """crash's ptob output: ``PFN: ADDRESS``."""
    for row in result.rows:
        yield f"{row.pfn:x}: {row.address:x}"


def render_btop(result: Result) -> Iterable[str]:
    """crash's btop output: ``ADDRESS: PFN``."""
    for row in result.rows:
        yield f"{row.address:x}: {row.pfn:x}"


@command("ptob", summary="page to bytes", synopsis="ptob page_number ...",
         description="Converts page frame numbers to byte addresses.",
         examples="crash> ptob 1", arguments=(arg("values", nargs="+"),),
         records=(PageAddress,))
def ptob(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`PageAddress` per page frame number."""
    page = int(session.prog["PAGE_SIZE"].value_())
    pfns = [parse_hex(x, "number") for x in args.values]
    return Result([PageAddress(p, p * page) for p in pfns], render=render_ptob)


@command("btop", summary="bytes to page", synopsis="btop address ...",
         description="Converts byte addresses to page frame numbers.",
         examples="crash> btop 1000", arguments=(arg("values", nargs="+"),),
         records=(PageAddress,))
def btop(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`PageAddress` per address."""
    page = int(session.prog["PAGE_SIZE"].value_())
    addresses = [parse_hex(x) for x in args.values]
    return Result([PageAddress(a // page, a) for a in addresses], render=render_btop)
