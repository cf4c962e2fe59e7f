"""eval, ascii, ptov, vtop, ptob, btop: numbers and address translations."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drgn import FaultError, Object, Program

from pycrash.cmdlib.memtext import PAGE_HEADER, VMA_HEADER, page_line, pte_lines, vma_line
from pycrash.cmdlib.resolve import parse_hex, resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.kernel.pages import PageRow
from pycrash.kernel.pagetable import TableEntry, TableWalk
from pycrash.kernel.percpu import CpuAddress
from pycrash.kernel.pte import PteDecode
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


@dataclass(frozen=True)
class AreaHit:
    """The memory area of a task holding a user address: its vm_area_struct, range, flags
    and the file it maps."""

    vma: Hex
    start: Hex
    end: Hex
    flags: Hex
    file: str


@dataclass(frozen=True)
class VtopRow:
    """vtop of one address as crash shows it: the physical address (None: not mapped;
    for a kernel address outside the vmalloc, vmemmap and module areas the kernel's
    linear translation, as crash takes it), whether it went through a task's page tables
    (``user``) and whether it is in one of the task's areas (``accessible``), the walk
    (x86-64: the directory and each entry; None elsewhere), the leaf entry decoded, the
    task's area holding it, the swap entry or file offset that backs a page not in
    memory, and the struct page of the page."""

    virtual: Hex
    physical: OptHex
    user: bool = False
    accessible: bool = True
    kernel_space: bool = True
    walk: TableWalk | None = None
    pte: PteDecode | None = None
    area: AreaHit | None = None
    swap: str | None = None
    file: str | None = None
    page: PageRow | None = None


def _walk_lines(r: VtopRow) -> Iterable[str]:
    """crash's verbose walk (x86_64_kvtop/uvtop): each entry, the page and its PTE."""
    w = r.walk
    if w is None:
        return
    entries = list(w.entries)
    if not r.user and entries:
        yield f"PGD DIRECTORY: {w.directory:x}"
        yield f"PAGE DIRECTORY: {entries.pop(0).value:x}"
    for e in entries:
        yield f"{e.level:>6}: {e.address:x} => {e.value:x}"
    if w.physical is not None:
        base = w.physical & ~(w.page_size - 1)
        size = {1 << 30: "  (1GB)", 1 << 21: "  (2MB)"}.get(w.page_size, "")
        yield f"  PAGE: {base:x}{size}"
        yield ""
        if r.pte is not None:
            yield from pte_lines(r.pte)
    elif r.pte is not None:  # a PTE that is not present but holds a swap entry
        yield ""
        yield from pte_lines(r.pte)


def _vtop_lines(r: VtopRow, page_header: bool) -> Iterable[str]:
    width = 10 if r.user else 16
    yield f"{'VIRTUAL':<{width}}  {'PHYSICAL':<16}"
    if not r.kernel_space:  # -k with a user address
        yield f"{r.virtual:<8x}  (not a kernel virtual address)"
        yield ""
        return
    if not r.accessible:
        yield f"{r.virtual:<{width}x}  (not accessible)"
        yield ""
        return
    phys = "(not mapped)" if r.physical is None else f"{r.physical:<16x}"
    yield f"{r.virtual:<{width}x}  {phys}"
    yield ""
    yield from _walk_lines(r)
    if r.area is not None:
        yield ""
        yield VMA_HEADER
        a = r.area
        yield vma_line(a.vma, a.start, a.end, a.flags, a.file)
        if r.physical is None and (r.swap or r.file):
            yield ""
            yield f"SWAP: {r.swap}" if r.swap else f"FILE: {r.file}"
    yield ""
    if r.page is not None:
        if page_header:
            yield PAGE_HEADER
        yield page_line(r.page)


def render_vtop(result: Result) -> Iterable[str]:
    """crash's vtop output: per address (an empty line between), the translation, the
    page-table walk with the leaf PTE decoded, the task's memory area (user addresses)
    or what backs a page not in memory, and the page's struct page (under kmem -p's
    header, which crash prints once per command)."""
    header = True
    for i, r in enumerate(result.rows):
        if i:
            yield ""
        if r.walk is None and r.accessible and r.kernel_space:  # no walk (not x86-64)
            yield "VIRTUAL           PHYSICAL"
            phys = "(not mapped)" if r.physical is None else f"{r.physical:x}"
            yield f"{r.virtual:<16x}  {phys}"
            continue
        yield from _vtop_lines(r, header)
        header = header and r.page is None


def _area(task: Object, addr: int) -> tuple[Object, str] | None:
    """The task's vm_area_struct holding ``addr`` and the path of the file it maps."""
    from drgn.helpers.linux.fs import d_path

    from pycrash.kernel.iterators import vmas

    for vma in vmas(task.mm):
        if vma.vm_start.value_() <= addr < vma.vm_end.value_():
            path = ""
            if vma.vm_file:
                try:
                    path = d_path(vma.vm_file.f_path.address_of_()).decode("utf-8", "replace")
                except (FaultError, LookupError, ValueError):
                    path = "?"
            return vma, path
    return None


def vtop_row(prog: Program, addr: int, task: Object | None) -> VtopRow:
    """Return the :class:`VtopRow` of ``addr``: a user address through ``task``'s page
    tables (x86-64, as crash walks them; drgn's follow_phys elsewhere), a kernel address
    through the kernel's."""
    from drgn.helpers.linux.mm import follow_phys

    from pycrash.kernel.pages import page_row, phys_page
    from pycrash.kernel.pagetable import is_x86_64, kernel_pgd, linear_phys, walk
    from pycrash.kernel.pte import decode_pte

    user = task is not None
    if not is_x86_64(prog):
        mm = task.mm if task is not None else prog["init_mm"].address_of_()
        try:
            return VtopRow(addr, follow_phys(mm, addr).value_(), user)
        except FaultError:
            return VtopRow(addr, None, user)
    area = None
    if task is not None:
        found = _area(task, addr) if task.mm else None
        if found is None:
            return VtopRow(addr, None, user=True, accessible=False)
        vma, path = found
        area = AreaHit(vma.value_(), vma.vm_start.value_(), vma.vm_end.value_(),
                       vma.vm_flags.value_(), path)
        w = walk(prog, int(task.mm.pgd.value_()), addr)
        physical = w.physical
    else:
        if addr < 1 << 63:
            return VtopRow(addr, None, kernel_space=False)
        w = walk(prog, kernel_pgd(prog), addr)
        physical = linear_phys(prog, addr)
        if physical is None:
            physical = w.physical
    pte = None
    swap = file = None
    if w.physical is not None:
        pte = decode_pte(prog, w.leaf)
    elif w.leaf and w.entries[-1].level == "PTE":
        pte = decode_pte(prog, w.leaf)
        if pte.swap_device is not None:
            swap = f"{pte.swap_device}  OFFSET: {pte.swap_offset}"
    if area is not None and physical is None and swap is None and area.file:
        page = int(prog["PAGE_SIZE"].value_())
        offset = ((addr - area.start) // page + vma.vm_pgoff.value_()) * page
        file = f"{area.file}  OFFSET: {offset:x}"
    struct_page = phys_page(prog, physical) if physical is not None else None
    return VtopRow(addr, physical, user, walk=w, pte=pte, area=area, swap=swap, file=file,
                   page=page_row(prog, struct_page) if struct_page is not None else None)


@command("vtop", summary="virtual to physical",
         synopsis="vtop [-c [pid | taskp]] [-u|-k] address ...",
         description="""
Translates virtual addresses to physical addresses by walking the page tables,
as crash shows it: the page-table entry of each level, the page mapped and its
PTE decoded, then the page's struct page. A kernel address outside the vmalloc,
vmemmap and module areas translates linearly (the direct map, the kernel image),
as the kernel's __pa() does; the walk is shown as well. A user address goes
through the context task's page tables (-c: those of the task given) and is
shown with the task's memory area holding it, and for a page not in memory, the
swap entry or the file and offset that back it.

  -u  the address is a user address      -k  the address is a kernel address
""",
         examples="crash> vtop ffffffff81000000\ncrash> vtop -c 1 400000",
         arguments=(arg("-u", dest="user", action="store_true"),
                    arg("-k", dest="kernel", action="store_true"),
                    arg("-c", dest="task", metavar="pid|taskp"),
                    arg("addresses", nargs="+")),
         records=(VtopRow, AreaHit, TableWalk, TableEntry, PteDecode, PageRow))
def vtop(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`VtopRow` per address."""
    prog = session.prog
    if args.user and args.kernel:
        raise CommandError("-u and -k options are mutually exclusive")
    task = session.context
    if args.task is not None:
        found = session.find_task(args.task)
        task = found[0]
    rows = []
    for a in args.addresses:
        addr = resolve_address(prog, a)
        user = args.user or (not args.kernel and addr < 1 << 63)
        if user and task is None:
            raise CommandError("no current user process")
        rows.append(vtop_row(prog, addr, task if user else None))
    return Result(rows, render=render_vtop)


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
         description="Converts page frame numbers to byte addresses. A number of decimal "
                     "digits is decimal, as crash reads it; 0x or a hex letter makes it "
                     "hexadecimal.",
         examples="crash> ptob 1", arguments=(arg("values", nargs="+"),),
         records=(PageAddress,))
def ptob(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`PageAddress` per page frame number."""
    page = int(session.prog["PAGE_SIZE"].value_())
    pfns = [int(x) if x.isdigit() else parse_hex(x, "number") for x in args.values]
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
