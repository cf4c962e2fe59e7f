"""search: find values or strings in memory."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError

from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex, OptHex
from pycrash.session import Session

CHUNK = 1 << 20


@dataclass(frozen=True)
class Match:
    """A hit of search: the address in the space searched (kernel, user or physical),
    and the value found there, or for -c the string found and what follows it (up to
    40 bytes or a NUL, unprintable bytes as '.')."""

    address: Hex
    value: OptHex = None
    text: str | None = None


def render(result: Result) -> Iterable[str]:
    """crash's search output: ``ADDRESS: VALUE`` (hex) or ``ADDRESS: STRING``."""
    for m in result.rows:
        yield f"{m.address:x}: {m.text if m.value is None else f'{m.value:x}'}"


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
    if args.strings:
        pattern = re.compile(b"|".join(re.escape(v.encode()) for v in args.values))
    else:
        wanted = [resolve_address(prog, v, "value") for v in args.values]
        pattern = re.compile(b"|".join(re.escape(w.to_bytes(width, "little"))
                                       for w in wanted))
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
                tail = data[m.start() : m.start() + 40].split(b"\0", 1)[0]
                rows.append(Match(addr, text=re.sub(rb"[^ -~]", b".", tail).decode("ascii")))
            else:
                rows.append(Match(addr, value=int.from_bytes(m.group(0), "little")))
    return Result(rows, render=render)
