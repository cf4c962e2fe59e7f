"""bt -t, -T, -r, -e and -E: read kernel stacks word by word rather than unwinding them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program
from pycrash.commands.bt.text import register_lines

from pycrash.cmdlib.render import blocks, per_task
from pycrash.command import Result
from pycrash.kernel.stack import (
    X86_64_REGS,
    ExceptionFrame,
    describe_word,
    symbolize_address,
    text_entries,
)
from pycrash.kernel.tasks import TaskId, stack_bounds, task_id
from pycrash.kernel.unwind_x86_64 import PT_REGS
from pycrash.records import Hex
from pycrash.session import Session


class ScanKind(enum.Enum):
    """What a stack scan looks for: text addresses from the trace's start (-t) or the
    stack's base (-T), every word (-r), or exception frames (-e)."""

    TEXT = "text"
    ALLTEXT = "alltext"
    RAW = "raw"
    EXCEPTIONS = "exceptions"


@dataclass(frozen=True)
class StackWord:
    """A stack slot and the word in it, with what it names: the function a text address
    is in (its module, if any) for -t/-T, a symbol or slab cache for -r (else "")."""

    slot: Hex
    value: Hex
    name: str
    module: str | None = None


@dataclass(frozen=True)
class FoundException:
    """A ``struct pt_regs`` found on a stack (its slot), of kernel or user mode."""

    slot: Hex
    user: bool
    frame: ExceptionFrame


@dataclass
class StackScan:
    """What was found reading one task's stack, or one CPU stack for ``-E``
    (``task`` None; ``cpu`` and ``stack``, the stack's name, instead).

    ``words`` are the text addresses (-t/-T) or every word (-r); ``start`` is where
    the trace starts (-t's ``START:``); ``exceptions`` the pt_regs found (-e/-E);
    ``user_regs`` the user-mode registers at the stack's top, which crash shows last
    (-t/-T).
    """

    task: TaskId | None
    base: Hex
    top: Hex
    words: list[StackWord] = field(default_factory=list)
    exceptions: list[FoundException] = field(default_factory=list)
    start: StackWord | None = None
    user_regs: ExceptionFrame | None = None
    cpu: int | None = None
    stack: str | None = None
    error: str | None = None


RECORDS = (StackScan, StackWord, FoundException)


def search(session: Session, tasks: list[Object], kind: ScanKind, errors: list[str]) -> Result:
    """Return a :class:`StackScan` of each task's stack for ``kind``."""
    prog = session.prog
    rows = []
    for t in tasks:
        base, top = stack_bounds(t)
        scan = StackScan(task_id(t), base, top)
        try:
            data = prog.read(base, top - base)
        except FaultError as exc:
            scan.error = f"cannot read the stack: {session.explain_fault(exc)}"
            rows.append(scan)
            continue
        if kind == ScanKind.EXCEPTIONS:
            _exception_frames(prog, base, data, scan)
        elif kind == ScanKind.RAW:  # every word; kernel and module addresses by symbol
            for i in range(0, len(data), 8):
                w = int.from_bytes(data[i : i + 8], "little")
                scan.words.append(StackWord(base + i, w, describe_word(prog, w, slabs=False)
                                            or ""))
        else:
            lo = base
            if kind == ScanKind.TEXT:
                try:
                    frames = session.trace(t).frames
                except (ValueError, LookupError, FaultError):
                    frames = []
                if frames and frames[0].stack_addr is not None \
                        and base <= frames[0].stack_addr < top:
                    lo = frames[0].stack_addr
                    scan.start = StackWord(lo, frames[0].pc, frames[0].function,
                                           frames[0].module)
            for slot, value, name, module in text_entries(prog, lo, top):
                scan.words.append(StackWord(slot, value, name, module))
            scan.user_regs = _user_regs(prog, top, data, base)
        rows.append(scan)
    render = {ScanKind.TEXT: render_text, ScanKind.ALLTEXT: render_text,
              ScanKind.RAW: render_raw, ScanKind.EXCEPTIONS: render_exceptions}[kind]
    return Result(rows, render=render, errors=errors)


def cpu_stacks(session: Session, cpus: list[int]) -> Result:
    """Return a :class:`StackScan` of exception frames for each IRQ and exception stack
    of ``cpus`` (crash's ``bt -E``): every IRQ stack first, then each CPU's others."""
    from pycrash.kernel.stackmem import cpu_regions

    prog = session.prog
    per_cpu = {cpu: cpu_regions(prog, cpu) for cpu in cpus}
    order = [(c, r) for c in cpus for r in per_cpu[c] if r.name == "IRQ stack"]
    order += [(c, r) for c in cpus for r in per_cpu[c] if r.name != "IRQ stack"]
    rows = []
    for cpu, region in order:
        name = (region.name or "").upper().replace(" STACK", "")
        scan = StackScan(None, region.lo, region.hi, cpu=cpu, stack=name)
        try:
            data = prog.read(region.lo, region.hi - region.lo)
        except FaultError:
            continue  # not mapped: the VC stacks exist only in SEV-ES guests
        _exception_frames(prog, region.lo, data, scan)
        rows.append(scan)
    return Result(rows, render=render_cpu_stacks)


def _user_regs(prog: Program, top: int, data: bytes, base: int) -> ExceptionFrame | None:
    """Return the user-mode registers saved at the top of a task's stack, or None."""
    size = len(PT_REGS) * 8
    at = top - size - base
    if at < 0:
        return None
    regs = {name: int.from_bytes(data[at + 8 * i : at + 8 * i + 8], "little")
            for i, name in enumerate(PT_REGS)}
    if regs["cs"] & 3 != 3 or regs["ss"] & 3 != 3:
        return None
    return ExceptionFrame({n: regs[m] for n, m in X86_64_REGS}, None, top - size)


def _exception_frames(prog: Program, base: int, data: bytes, scan: StackScan) -> None:
    """Find ``struct pt_regs`` on a stack: a valid CS/SS pair and RFLAGS with bit 1 set."""
    size = len(PT_REGS) * 8
    names = {m: i for i, m in enumerate(PT_REGS)}

    def word(at: int) -> int:
        return int.from_bytes(data[at : at + 8], "little")

    for off in range(0, len(data) - size + 1, 8):
        cs, ss = word(off + 8 * names["cs"]), word(off + 8 * names["ss"])
        flags = word(off + 8 * names["flags"])
        if (cs, ss) in ((0x10, 0x18), (0x33, 0x2B), (0x10, 0)) and flags & 0x2 and \
                flags < 1 << 22:
            regs = {m: word(off + 8 * i) for i, m in enumerate(PT_REGS)}
            user = cs != 0x10
            rip = None if user else symbolize_address(prog, regs["ip"])
            scan.exceptions.append(FoundException(base + off, user, ExceptionFrame(
                {n: regs[m] for n, m in X86_64_REGS}, rip, base + off)))


def _text_lines(scan: StackScan) -> Iterator[str]:
    if scan.start is not None:
        mod = f" [{scan.start.module}]" if scan.start.module else ""
        yield f"              START: {scan.start.name} at {scan.start.value:x}{mod}"
    for w in scan.words:
        mod = f" [{w.module}]" if w.module else ""
        yield f"  [{w.slot:016x}] {w.name} at {w.value:x}{mod}"
    if scan.user_regs is not None:
        yield from register_lines(scan.user_regs)


def _raw_lines(scan: StackScan) -> Iterator[str]:
    cells = [(w.slot, w.name if w.name else f"{w.value:016x}") for w in scan.words]
    for j in range(0, len(cells), 2):  # two words a line, symbols in place, as crash
        group = cells[j : j + 2]
        yield f"{group[0][0]:x}:  " + " ".join(f"{c:<16}" for _, c in group) + " "


def _exception_lines(scan: StackScan) -> Iterator[str]:
    if not scan.exceptions:
        yield "  (no exception frames found)"
    for found in scan.exceptions:
        yield ""
        yield f"  {'USER' if found.user else 'KERNEL'}-MODE EXCEPTION FRAME AT: {found.slot:x}"
        yield from register_lines(found.frame)


def _cpu_stack_lines(scan: StackScan) -> Iterator[str]:
    yield f"CPU {scan.cpu} {scan.stack} STACK:"
    if not scan.exceptions:
        yield "(none found)"
    else:
        yield from _exception_lines(scan)


def render_text(result: Result) -> Iterable[str]:
    """crash's bt -t/-T: per task, the text addresses found on its stack."""
    return per_task(result.rows, _text_lines, "bt")


def render_raw(result: Result) -> Iterable[str]:
    """crash's bt -r: per task, its stack two words a line, symbols in place."""
    return per_task(result.rows, _raw_lines, "bt")


def render_exceptions(result: Result) -> Iterable[str]:
    """crash's bt -e: per task, the exception frames found on its stack."""
    return per_task(result.rows, _exception_lines, "bt")


def render_cpu_stacks(result: Result) -> Iterable[str]:
    """crash's bt -E: per CPU stack, the exception frames found on it."""
    return blocks(result.rows, _cpu_stack_lines)
