"""eval, ascii, ptov, vtop, ptob, btop: numbers and address translations."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drgn import FaultError

from pycrash.cmdlib.resolve import parse_hex, resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.kernel.percpu import CpuAddress
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class Number:
    """The 64-bit value of an integer expression (eval)."""

    value: Hex


def _size(v: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if v >= 1 << shift and v % (1 << shift) == 0:
            return f"({v >> shift}{unit})"
    return ""


@dataclass(frozen=True)
class EvalView:
    """Whether eval lists the bits set (-b)."""

    bits: bool = False


def _bits_lines(n: int) -> list[str]:
    """crash's ``   bits set: `` line(s): each set bit from the highest, a line ending
    once it reaches 77 columns, the next indented under the first."""
    header = "   bits set: "
    lines, current = [], header
    for bit in range(63, -1, -1):
        if n >> bit & 1:
            current += f"{bit} "
            if len(current) >= 77:
                lines.append(current)
                current = " " * len(header)
    if current.strip() or not lines:
        lines.append(current)
    return lines


def render_number(result: Result) -> Iterable[str]:
    """crash's eval output: the value in hex (with its size in GB/MB/KB when whole),
    decimal (and signed when negative), octal and binary; with -b the bits set."""
    for row in result.rows:
        n = row.value
        yield f"hexadecimal: {n:x}  {_size(n)}"
        yield f"    decimal: {n}  " + (f"({n - (1 << 64)})" if n >= 1 << 63 else "")
        yield f"      octal: {n:o}"
        yield f"     binary: {n:064b}"
        if isinstance(result.view, EvalView) and result.view.bits:
            yield from _bits_lines(n)


#: a number with crash's k/m/g suffix (times 1K, 1M, 1G)
_SUFFIXED = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)([kKmMgG])\b")
#: a word that can only be a hexadecimal number (crash takes one without 0x)
_BARE_HEX = re.compile(r"(?<![\w.$])([0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*)(?![\w(])")
#: a symbol standing alone (not a member, nor followed by one): crash's eval takes its
#: address, as it does any symbol's value
_SYMBOL = re.compile(r"(?<![\w.$>&])([A-Za-z_]\w*)(?!\s*(?:[.\[(\w]|->))")


def _crash_numbers(prog: Any, text: str) -> str:
    """Return an eval expression with crash's number forms in C: ``64g`` as ``(64 << 30)``,
    a bare hexadecimal word that names no symbol (``41dc065``) as ``0x41dc065``, and a
    symbol standing alone as its address (crash's value of a symbol)."""
    shifts = {"k": 10, "m": 20, "g": 30}
    text = _SUFFIXED.sub(lambda m: f"({m[1]} << {shifts[m[2].lower()]})", text)

    def bare(m: re.Match[str]) -> str:
        if not m[1][0].isdigit():
            try:
                prog.symbol(m[1])
                return m[1]
            except LookupError:
                pass
            try:
                prog[m[1]]
                return m[1]
            except (KeyError, LookupError):
                pass
        return f"0x{m[1]}"

    def symbol(m: re.Match[str]) -> str:
        try:
            return f"{prog.symbol(m[1]).address:#x}"
        except LookupError:
            return m[1]

    return _SYMBOL.sub(symbol, _BARE_HEX.sub(bare, text))


@command("eval", summary="evaluate", synopsis="eval [-b][-l] (expression) | value", raw=True,
         description="""
Evaluates an integer expression and shows it in hex (with its size in GB,
MB or KB when it is a whole number of them), decimal (and signed when the
top bit is set), octal and binary. Numbers are decimal, or hexadecimal with
0x or when they hold a-f; a k, m or g after a number multiplies it by 1K, 1M
or 1G; a symbol is its address. The expression may use C's operators and
casts (init_task.pid is that member's value).

  -b  also list the bits set, highest first
  -l  64-bit numbers and result (what a 64-bit kernel's values always are)

-b and -l must come before the expression.
""",
         examples="crash> eval 4096 * 3\ncrash> eval -lb 64g\ncrash> eval (init_task + 0x10)",
         records=(Number,))
def eval_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Number`."""
    text = args.text.strip()
    bits = False
    while (m := re.match(r"-([bl]+)(\s+|$)", text)) is not None:
        bits = bits or "b" in m[1]  # -l: 64 bits, as every value is here
        text = text[m.end():]
    if not text:
        raise CommandError("no expression given")
    obj, _ = evaluate(session.prog, _crash_numbers(session.prog, text))
    try:
        v = obj.value_()
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:#x}") from None
    if not isinstance(v, int):
        raise CommandError(f"{text} is not an integer")
    return Result([Number(v & ((1 << 64) - 1))], render=render_number, view=EvalView(bits))


@dataclass(frozen=True)
class Characters:
    """A number read as characters (ascii): the number, and its bytes lowest first as
    Latin-1 text."""

    value: Hex
    text: str


def render_characters(result: Result) -> Iterable[str]:
    """crash's ascii output: ``VALUE: chars``, a byte that is not printable as ``<xx>``."""
    for row in result.rows:
        chars = "".join(c if 32 <= ord(c) < 127 else f"<{ord(c):02x}>" for c in row.text)
        yield f"{row.value:x}: {chars}"


@command("ascii", summary="translate a hexadecimal value to ASCII", synopsis="ascii value ...",
         description="Shows the characters a number holds, lowest byte first.",
         examples="crash> ascii 6f6c6c6568",
         arguments=(arg("values", nargs="+"),), records=(Characters,))
def ascii_command(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Characters` per value."""
    rows = []
    for spec in args.values:
        v = parse_hex(spec, "hexadecimal value")
        data = v.to_bytes(max((v.bit_length() + 7) // 8, 1), "little")
        rows.append(Characters(v, data.decode("latin-1")))
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


@dataclass(frozen=True)
class PerCpuTranslation:
    """A per-CPU offset and the kernel virtual address it has on each CPU chosen
    (``ptov offset:cpuspec``)."""

    offset: Hex
    cpus: tuple[CpuAddress, ...]


def render_ptov(result: Result) -> Iterable[str]:
    """crash's ptov output: per argument, a ``VIRTUAL PHYSICAL`` table of one address, or
    the per-CPU offset and each CPU's ``[N]  VIRTUAL``, with an empty line between."""
    for i, row in enumerate(result.rows):
        if i:
            yield ""
        if isinstance(row, PerCpuTranslation):
            yield f"PER-CPU OFFSET: {row.offset:x}"
            yield f"  CPU    {'VIRTUAL':<16}"
            yield from (f"  [{c.cpu}]  {c.address:x}" for c in row.cpus)
            continue
        yield f"{'VIRTUAL':<16}  {'PHYSICAL':<16}"
        yield f"{row.virtual:<16x}  {row.physical:<16x}"


@command("ptov", summary="physical to virtual",
         synopsis="ptov [address | offset:cpuspec] ...",
         description="""
Translates physical addresses to their kernel direct-map addresses.
Alternatively a hexadecimal per-CPU offset followed by a CPU specification
is translated to the kernel virtual address of each CPU's instance:
   :             the CPU of the current context's task
   :a[ll]        every CPU
   :#[-#][,...]  a CPU list, e.g. 1,3,5 or 1-3 or 0,2-3
""",
         examples="crash> ptov 1000\ncrash> ptov b0c0:a",
         arguments=(arg("addresses", nargs="+", metavar="address|offset:cpuspec"),),
         records=(Translation, PerCpuTranslation))
def ptov(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Translation` per physical address: its address in the kernel's
    direct map (x86-64's page_offset_base, arm64's PAGE_OFFSET and memstart, through drgn),
    and a :class:`PerCpuTranslation` per ``offset:cpuspec``."""
    from drgn.helpers.linux.mm import phys_to_virt

    from pycrash.cmdlib.select import cpu_spec
    from pycrash.kernel.percpu import per_cpu_address

    rows: list[Translation | PerCpuTranslation] = []
    for text in args.addresses:
        if ":" in text:
            offset_text, _, spec = text.partition(":")
            offset = parse_hex(offset_text, "per-cpu offset")
            cpus = tuple(CpuAddress(c, per_cpu_address(session.prog, offset, c))
                         for c in cpu_spec(session, spec))
            rows.append(PerCpuTranslation(offset, cpus))
            continue
        physical = parse_hex(text)
        rows.append(Translation(phys_to_virt(session.prog, physical).value_(), physical))
    return Result(rows, render=render_ptov)


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
