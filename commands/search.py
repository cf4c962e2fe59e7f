"""search: find values or strings in memory."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Program

from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex, OptHex
from pycrash.session import Session

CHUNK = 1 << 20


#: how many bytes crash shows from a string hit on (CHARS_CTX), within its page
CHARS_CONTEXT = 56


@dataclass(frozen=True)
class Match:
    """A hit of search: the address in the space searched (kernel, user or physical),
    and the value found there (``name``: the symbol it was asked for by), or for -c the
    string found and what follows it (56 bytes from its start, as far as its page goes,
    unprintable bytes as '.')."""

    address: Hex
    value: OptHex = None
    text: str | None = None
    name: str | None = None


def render(result: Result) -> Iterable[str]:
    """crash's search output: ``ADDRESS: VALUE `` (hex, then the symbol asked for in
    parentheses) or ``ADDRESS: STRING``."""
    for m in result.rows:
        if m.value is None:
            yield f"{m.address:x}: {m.text}"
        else:
            yield f"{m.address:x}: {m.value:x} " + (f"({m.name})" if m.name else "")


def _ram_ranges(session: Session) -> Iterator[tuple[int, int]]:
    """Yield ``(physical start, size)`` of the memory the dump holds."""
    kd = session.target.kdump
    page = int(session.prog["PAGE_SIZE"].value_())
    if kd is not None:
        for start, count in kd.dumped.runs():
            yield start * page, count * page
        return
    from drgn.helpers.linux.mm import for_each_valid_page_range

    for start, end, _ in for_each_valid_page_range(session.prog):
        yield start * page, (end - start) * page


def _chunks(session: Session, space: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(address in the searched space, bytes)`` chunks of readable memory."""
    prog = session.prog
    if space == "user":
        from drgn.helpers.linux.mm import access_process_vm

        from pycrash.kernel.iterators import vmas

        task = session.context
        if task is None or not task.mm:
            raise CommandError("-u needs a user task as the context (set PID)")
        for vma in vmas(task.mm):
            start, end = vma.vm_start.value_(), vma.vm_end.value_()
            for at in range(start, end, CHUNK):
                try:
                    yield at, access_process_vm(task, at, min(CHUNK, end - at))
                except FaultError:
                    continue
        return
    base = prog["page_offset_base"].value_() if space == "kernel" else 0
    for start, size in _ram_ranges(session):
        for at in range(start, start + size, CHUNK):
            n = min(CHUNK, start + size - at)
            try:
                yield base + at, prog.read(at, n, True)
            except FaultError:
                continue
    if space == "kernel":
        yield from _kernel_aliases(session)


def _pages(prog: Program, start: int, end: int, physical: bool = False,
           offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(address, page)`` of each readable page of ``[start, end)`` (virtual
    addresses read through the page tables, or with ``physical`` as the physical
    address ``address - offset``)."""
    page = int(prog["PAGE_SIZE"].value_())
    for at in range(start & ~(page - 1), end, page):
        try:
            yield at, prog.read((at - offset) & ((1 << 64) - 1) if physical else at, page,
                                physical)
        except (FaultError, ValueError, OverflowError):
            continue


def _kernel_aliases(session: Session) -> Iterator[tuple[int, bytes]]:
    """The other kernel mappings crash's search -k reads after the direct map, in its
    order: the vmalloc areas in use (stacks, modules...), the page array (vmemmap), then
    the kernel image's mapping (__START_KERNEL_map up to _end, physical memory from
    phys_base on): the same pages again, under those addresses (x86-64)."""
    from pycrash.kernel.meminfo import vmap_areas
    from pycrash.kernel.pagetable import START_KERNEL_MAP, is_x86_64, phys_base

    prog = session.prog
    if not is_x86_64(prog):
        return
    areas = sorted(vmap_areas(prog, []), key=lambda a: a.start)
    for area in areas:
        yield from _pages(prog, area.start, area.end)
    try:
        from drgn.helpers.linux.mm import pfn_to_page
        from drgn.helpers.linux.mmzone import for_each_online_pgdat

        last = list(for_each_online_pgdat(prog))[-1]
        end_pfn = last.node_start_pfn.value_() + last.node_spanned_pages.value_()
        vmemmap = int(prog["vmemmap_base"].value_())
        if not any(a.start <= vmemmap < a.end for a in areas):
            yield from _pages(prog, vmemmap, pfn_to_page(prog, end_pfn).value_())
    except (KeyError, LookupError, FaultError, IndexError):
        pass
    try:
        base = phys_base(prog)
        end = prog.symbol("_end").address
    except (KeyError, LookupError, FaultError):
        return
    first = max(START_KERNEL_MAP, (START_KERNEL_MAP - base) & ((1 << 64) - 1)) \
        if base >= 1 << 63 else START_KERNEL_MAP
    yield from _pages(prog, first, end, physical=True, offset=START_KERNEL_MAP - base)


@command(
    "search",
    summary="search memory",
    synopsis="search [-s start] [-e end] [-k|-u|-p] [-c|-w|-h] value ...",
    description="""
Searches the kernel's memory (through its direct map; -p physical
addresses; -u the context task's user memory) for 64-bit values (-w 32-bit,
-h 16-bit, at aligned addresses) or strings (-c), between -s start and -e
end. Each hit is shown as ADDRESS: VALUE (a string with what follows it).
Values are hexadecimal numbers or symbol names (their addresses).
""",
    examples="""
crash> search -k ffffffff8521aa40        (who points at init_task)
crash> search -c pycrash-fixture
""",
    arguments=(
        arg("-s", dest="start", help="start address"),
        arg("-e", dest="end", help="end address"),
        arg("-k", dest="kernel", action="store_true", help="kernel memory (default)"),
        arg("-u", dest="user", action="store_true", help="user memory of the context task"),
        arg("-p", dest="physical", action="store_true", help="physical memory"),
        arg("-c", dest="strings", action="store_true", help="search for strings"),
        arg("-w", dest="u32", action="store_true", help="32-bit values"),
        arg("-h", dest="u16", action="store_true", help="16-bit values"),
        arg("values", nargs="+", metavar="value"),
    ),
    records=(Match,),
)
def search(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Match` per hit."""
    prog = session.prog
    space = "user" if args.user else "physical" if args.physical else "kernel"
    lo = resolve_address(prog, args.start) if args.start else 0
    hi = resolve_address(prog, args.end) if args.end else 1 << 64
    width = 4 if args.u32 else 2 if args.u16 else 8
    names: dict[int, str] = {}
    if args.strings:
        pattern = re.compile(b"|".join(re.escape(v.encode()) for v in args.values))
    else:
        wanted = []
        for v in args.values:
            value = resolve_address(prog, v, "value")
            wanted.append(value)
            if re.fullmatch(r"[A-Za-z_][\w.]*", v) and not _is_number(v):
                names[value] = v  # crash shows the symbol a value was asked for by
        pattern = re.compile(b"|".join(re.escape(w.to_bytes(width, "little"))
                                       for w in wanted))
    page = int(prog["PAGE_SIZE"].value_())
    rows = []
    for at, data in _chunks(session, space):
        if at + len(data) <= lo or at >= hi:
            continue
        for m in pattern.finditer(data):
            if not args.strings and m.start() % width:
                continue
            addr = at + m.start()
            if not lo <= addr < hi:
                continue
            if args.strings:
                page_end = (m.start() // page + 1) * page
                tail = data[m.start() : min(m.start() + CHARS_CONTEXT, page_end)]
                rows.append(Match(addr, text=re.sub(rb"[^ -~]", b".", tail).decode("ascii")))
            else:
                value = int.from_bytes(m.group(0), "little")
                rows.append(Match(addr, value=value, name=names.get(value)))
    return Result(rows, render=render)


def _is_number(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
