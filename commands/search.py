"""search: find values or strings in memory, or in the tasks' kernel stacks."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Program

from pycrash.cmdlib.render import memory_lines
from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.records import Hex, OptHex
from pycrash.session import Session

CHUNK = 1 << 20
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]+")


#: how many bytes crash shows from a string hit on (CHARS_CTX), within its page
CHARS_CONTEXT = 56


@dataclass(frozen=True)
class Match:
    """A hit of search: the address in the space searched (kernel, user or physical),
    and the value found there (``width`` bytes), or for -c the string found and what
    follows it (56 bytes from its start, as far as its page goes, unprintable bytes as
    '.'). ``name`` is the argument searched for when it was a symbol or an expression;
    ``task`` the task whose kernel stack holds the hit (-t/-T); with -x the values
    around it."""

    address: Hex
    value: OptHex = None
    text: str | None = None
    name: str | None = None
    width: int = 8
    task: TaskId | None = None
    before: tuple[int, ...] = ()
    after: tuple[int, ...] = ()


@dataclass(frozen=True)
class SearchView:
    """How many values -x shows before and after each hit."""

    context: int = 0


def _value_line(m: Match, context: bool) -> str:
    shown = f"({m.name})" if m.name and not m.name.startswith("(") else (m.name or "")
    if context:
        return f"{m.address:>16x}:  {m.value:x} {shown}"
    return f"{m.address:x}: {m.value:x} {shown}"


def render(result: Result) -> Iterable[str]:
    """crash's search output: ``ADDRESS: VALUE (argument)`` (the argument when it was a
    symbol or expression) or ``ADDRESS: STRING``; with -x the memory around each hit as
    rd shows it, then an empty line; with -t/-T each task's header before its hits, an
    empty line between tasks."""
    context = result.view.context if isinstance(result.view, SearchView) else 0
    task = None
    for m in result.rows:
        if m.task is not None and m.task != task:
            if task is not None:
                yield ""
            yield m.task.header()
            task = m.task
        if m.value is None:
            yield f"{m.address:x}: {m.text}"
            continue
        if not context:
            yield _value_line(m, False)
            continue
        w = m.width
        before = b"".join(v.to_bytes(w, "little") for v in m.before)
        after = b"".join(v.to_bytes(w, "little") for v in m.after)
        yield from memory_lines(m.address - len(before), before, w)
        yield _value_line(m, True)
        yield from memory_lines(m.address + w, after, w)
        yield ""


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


def _stack_chunks(session: Session, active: bool) -> Iterator[tuple[TaskId, int, bytes]]:
    """Yield ``(task, stack base, the stack's bytes)`` of every task's kernel stack (with
    ``active`` only the tasks running on a CPU), in crash's task order."""
    from pycrash.kernel.tasks import stack_bounds

    running = session.active_tasks()
    for task in session.tasks():
        if active and task.value_() not in running:
            continue
        try:
            base, top = stack_bounds(task)
            data = session.prog.read(base, top - base)
        except FaultError:
            continue
        yield task_id(task), base, data


def _pattern(value: int, mask: int, width: int) -> re.Pattern[bytes]:
    """A pattern of the ``width`` bytes of ``value``, a byte matching any byte equal to it
    in the bits the mask does not set (crash's -m: ``(x | mask) == (value | mask)``)."""
    vb, mb = value.to_bytes(width, "little"), mask.to_bytes(width, "little")
    parts = []
    for v, m in zip(vb, mb, strict=True):
        ok = [c for c in range(256) if c | m == v | m]
        parts.append(re.escape(bytes(ok)) if len(ok) == 1 else
                     b"[" + b"".join(re.escape(bytes([c])) for c in ok) + b"]")
    return re.compile(b"".join(parts), re.S)


def _hits(patterns: list[re.Pattern[bytes]], data: bytes, width: int,
          strings: bool) -> Iterator[tuple[int, int]]:
    """Yield ``(offset, argument index)`` of every match in ``data``, at aligned offsets
    for values (overlapping matches included), by offset."""
    found: list[tuple[int, int]] = []
    for i, rx in enumerate(patterns):
        pos = 0
        while (m := rx.search(data, pos)) is not None:
            if strings or m.start() % width == 0:
                found.append((m.start(), i))
            pos = m.start() + 1
    yield from sorted(found)


def _argument(session: Session, text: str, width: int) -> tuple[int, str | None]:
    """The value of a search argument, and the name crash shows after it: the argument
    when it is a symbol or an (expression), None for a number."""
    if _HEX.fullmatch(text):
        value, name = int(text, 16), None
    else:
        inner = text[1:-1] if text.startswith("(") and text.endswith(")") else text
        value, name = resolve_address(session.prog, inner, "value"), text
    if value >> (8 * width):
        flag = {4: "-w", 2: "-h"}.get(width, "")
        raise CommandError(f"value too large for {flag} option: {value:x} "
                           f"{'(' + name + ')' if name and not name.startswith('(') else ''}"
                           .rstrip())
    return value, name


@command(
    "search",
    summary="search memory",
    synopsis="search [-s start] [-k|-u|-p|-t|-T] [-e end | -l length] [-m mask] "
             "[-x count] [-c|-w|-h] value ...",
    description="""
Searches the kernel's memory (through its direct map; -p physical
addresses; -u the context task's user memory) for 64-bit values (-w 32-bit,
-h 16-bit, at aligned addresses) or strings (-c), between -s start and -e
end (or -l length bytes from start). Each hit is shown as ADDRESS: VALUE; a
value given as a symbol or an (expression) is named after it, a string is
shown with what follows it. Values are hexadecimal numbers, symbols (their
addresses) or expressions in parentheses. -t searches only the kernel stack
of every task (-T of each task running on a CPU), each task's hits after
its header. -m ignores the bits set in its mask: a value matches when it
equals the one searched for in every other bit. -x shows count values (of
the size searched for) before and after each hit, as rd shows memory.
""",
    examples="""
crash> search -k ffffffff8521aa40        (who points at init_task)
crash> search -c pycrash-fixture
crash> search -t ffff888003c9c180        (which kernel stacks hold this task)
crash> search -s ffff888003c9c000 -l 4096 -m ffff0000 abcd
crash> search -x 2 init_task
""",
    arguments=(
        arg("-s", dest="start", help="start address"),
        arg("-e", dest="end", help="end address"),
        arg("-l", dest="length", help="length in bytes from the start"),
        arg("-k", dest="kernel", action="store_true", help="kernel memory (default)"),
        arg("-u", dest="user", action="store_true", help="user memory of the context task"),
        arg("-p", dest="physical", action="store_true", help="physical memory"),
        arg("-t", dest="stacks", action="store_true",
            help="only the kernel stack of every task, hits after its header"),
        arg("-T", dest="active", action="store_true",
            help="as -t, only the tasks running on a CPU"),
        arg("-m", dest="mask", help="hexadecimal mask of the bits to ignore"),
        arg("-x", dest="context",
            help="count values shown before and after each hit (not with -c)"),
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
    if args.stacks and args.active:
        raise CommandError("-t and -T options are mutually exclusive")
    stacks = args.stacks or args.active
    if stacks and (args.start or args.end or args.length or args.user or args.physical
                   or args.kernel):
        raise CommandError(f"-{'t' if args.stacks else 'T'} option cannot be used with "
                           f"other memory-selection options")
    if args.end and args.length:
        raise CommandError("-e and -l are mutually exclusive")
    space = "user" if args.user else "physical" if args.physical else "kernel"
    lo = resolve_address(prog, args.start) if args.start else 0
    if args.length:
        try:
            hi = lo + int(args.length, 0)
        except ValueError:
            raise CommandError(f"invalid length: {args.length}") from None
    else:
        hi = resolve_address(prog, args.end) if args.end else 1 << 64
    width = 4 if args.u32 else 2 if args.u16 else 8
    mask = 0
    if args.mask:
        if args.strings:
            raise CommandError("mask ignored on string search")
        try:
            mask = int(args.mask, 16) & ((1 << (8 * width)) - 1)
        except ValueError:
            raise CommandError(f"invalid mask: {args.mask}") from None
    context = 0
    if args.context:
        if args.strings:
            raise CommandError("-x option is not allowed with -c")
        try:
            context = int(args.context, 10)
        except ValueError:
            raise CommandError(f"invalid count: {args.context}") from None
        page = int(prog["PAGE_SIZE"].value_())
        if context > page // width:
            raise CommandError(f"context value {context} is too large: maximum is "
                               f"{page // width}")
    names: list[str | None] = []
    if args.strings:
        patterns = [re.compile(re.escape(v.encode())) for v in args.values]
    else:
        patterns = []
        for v in args.values:
            value, name = _argument(session, v, width)
            patterns.append(_pattern(value, mask, width))
            names.append(None if mask else name)
    if stacks:
        regions: Iterable[tuple[TaskId | None, int, bytes]] = _stack_chunks(session,
                                                                            args.active)
    else:
        regions = ((None, at, data) for at, data in _chunks(session, space))
    page = int(prog["PAGE_SIZE"].value_())
    rows = []
    for task, at, data in regions:
        if at + len(data) <= lo or at >= hi:
            continue
        for offset, i in _hits(patterns, data, width, args.strings):
            addr = at + offset
            if not lo <= addr < hi:
                continue
            if args.strings:
                page_end = (offset // page + 1) * page
                tail = data[offset : min(offset + CHARS_CONTEXT, page_end)]
                rows.append(Match(addr, text=re.sub(rb"[^ -~]", b".", tail).decode("ascii"),
                                  task=task))
                continue
            value = int.from_bytes(data[offset:offset + width], "little")
            before: tuple[int, ...] = ()
            after: tuple[int, ...] = ()
            if context:
                before = _words(session, space, at, data, addr - context * width, context,
                                width)
                after = _words(session, space, at, data, addr + width, context, width)
            rows.append(Match(addr, value, name=names[i], width=width, task=task,
                              before=before, after=after))
    return Result(rows, render=render, view=SearchView(context))


def _words(session: Session, space: str, at: int, data: bytes, addr: int, count: int,
           width: int) -> tuple[int, ...]:
    """``count`` values of ``width`` bytes from ``addr``: from the chunk read when they
    lie in it, else read (nothing where memory cannot be read)."""
    size = count * width
    if at <= addr and addr + size <= at + len(data):
        raw = data[addr - at:addr - at + size]
    else:
        try:
            if space == "physical":
                raw = session.prog.read(addr, size, True)
            elif space == "user":
                from drgn.helpers.linux.mm import access_process_vm

                raw = access_process_vm(session.context, addr, size)
            else:
                raw = session.prog.read(addr, size)
        except (FaultError, ValueError):
            return ()
    return tuple(int.from_bytes(raw[i:i + width], "little") for i in range(0, size, width))


