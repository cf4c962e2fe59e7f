"""bt -t, -T, -r, -e and -E: read kernel stacks word by word rather than unwinding them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program

from pycrash.command import Result
from pycrash.kernel.stack import (
    X86_64_REGS,
    ExceptionFrame,
    describe_word,
    symbolize_address,
    text_entries,
)
from pycrash.kernel.tasks import stack_bounds, task_id
from pycrash.kernel.unwind_x86_64 import PT_REGS
from pycrash.session import Session


@dataclass
class StackScan:
    """What was found reading one task's stack (or one CPU stack, for ``-E``).

    ``entries`` are ``(slot, value, text)``: for ``-t``/``-T`` the function a
    text address is in (``module`` names its module, by slot), for ``-r`` every
    word, for ``-e``/``-E`` each exception frame found; ``start`` is crash's
    ``START:`` line (``-t``) and ``exceptions`` the register blocks by slot.
    """

    header: str
    base: int
    top: int
    entries: list[tuple[int, int, str]] = field(default_factory=list)
    error: str | None = None
    start: str | None = None
    modules: dict[int, str] = field(default_factory=dict)
    exceptions: dict[int, ExceptionFrame] = field(default_factory=dict)
    #: the user-mode registers at the top of the stack, which crash shows last (-t, -T)
    user_regs: ExceptionFrame | None = None


def search(session: Session, tasks: list[Object], kind: str, errors: list[str]) -> Result:
    """Return a :class:`StackScan` per task for ``kind``: ``text`` (crash's -t: text
    addresses from where the trace starts), ``alltext`` (-T: from the stack's base),
    ``raw`` (-r) or ``exceptions`` (-e)."""
    prog = session.prog
    rows = []
    for t in tasks:
        base, top = stack_bounds(t)
        scan = StackScan(task_id(t).header(), base, top)
        try:
            data = prog.read(base, top - base)
        except FaultError as exc:
            scan.error = f"cannot read the stack: {session.explain_fault(exc)}"
            rows.append(scan)
            continue
        if kind == "exceptions":
            _exception_frames(prog, base, data, scan)
        elif kind == "raw":  # every word; kernel and module addresses by symbol, as crash
            for i in range(0, len(data), 8):
                w = int.from_bytes(data[i : i + 8], "little")
                scan.entries.append((base + i, w, describe_word(prog, w, slabs=False) or ""))
        else:
            lo = base
            if kind == "text":
                try:
                    frames = session.trace(t).frames
                except (ValueError, LookupError, FaultError):
                    frames = []
                if frames and frames[0].stack_addr is not None \
                        and base <= frames[0].stack_addr < top:
                    lo = frames[0].stack_addr
                    mod = f" [{frames[0].module}]" if frames[0].module else ""
                    scan.start = f"START: {frames[0].function} at {frames[0].pc:x}{mod}"
            for slot, value, name, module in text_entries(prog, lo, top):
                scan.entries.append((slot, value, name))
                if module:
                    scan.modules[slot] = module
            scan.user_regs = _user_regs(prog, top, data, base)
        rows.append(scan)
    render = {"text": _render_text, "alltext": _render_text, "raw": _render_raw,
              "exceptions": _render_exc}[kind]
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
        scan = StackScan(f"CPU {cpu} {name} STACK:", region.lo, region.hi)
        try:
            data = prog.read(region.lo, region.hi - region.lo)
        except FaultError:
            continue  # not mapped: the VC stacks exist only in SEV-ES guests
        _exception_frames(prog, region.lo, data, scan)
        rows.append(scan)
    return Result(rows, render=_render_cpu_stacks)


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
            mode = "KERNEL" if cs == 0x10 else "USER"
            rip = symbolize_address(prog, regs["ip"]) if mode == "KERNEL" else None
            scan.entries.append((base + off, cs, f"{mode}-MODE EXCEPTION FRAME"))
            scan.exceptions[base + off] = ExceptionFrame(
                {n: regs[m] for n, m in X86_64_REGS}, rip, base + off)


def _text_lines(scan: StackScan) -> Iterable[str]:
    if scan.start:
        yield f"              {scan.start}"
    for slot, value, text in scan.entries:
        mod = f" [{scan.modules[slot]}]" if slot in scan.modules else ""
        yield f"  [{slot:016x}] {text} at {value:x}{mod}"
    if scan.user_regs is not None:
        yield from scan.user_regs.lines()


def _raw_lines(scan: StackScan) -> Iterable[str]:
    cells = [(slot, text if text else f"{value:016x}") for slot, value, text in scan.entries]
    for j in range(0, len(cells), 2):  # two words a line, symbols in place, as crash
        group = cells[j : j + 2]
        yield f"{group[0][0]:x}:  " + " ".join(f"{c:<16}" for _, c in group) + " "


def _exception_lines(scan: StackScan) -> Iterable[str]:
    if not scan.entries:
        yield "  (no exception frames found)"
    for slot, _cs, text in scan.entries:
        yield ""
        yield f"  {text} AT: {slot:x}"
        yield from scan.exceptions[slot].lines()


def _renderer(body: Callable[[StackScan], Iterable[str]]) -> Callable[[Result], Iterable[str]]:
    """Return a renderer: each task's header, its error if any, else ``body``'s lines."""

    def render(result: Result) -> Iterable[str]:
        for i, scan in enumerate(result.rows):
            if i:
                yield ""
            yield scan.header
            if scan.error:
                yield f"bt: {scan.error}"
                continue
            yield from body(scan)

    return render


def _cpu_stack_lines(scan: StackScan) -> Iterable[str]:
    if not scan.entries:
        yield "(none found)"
    else:
        yield from _exception_lines(scan)


_render_text = _renderer(_text_lines)
_render_raw = _renderer(_raw_lines)
_render_exc = _renderer(_exception_lines)
_render_cpu_stacks = _renderer(_cpu_stack_lines)
