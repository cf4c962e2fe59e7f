"""bt -t, -r and -e: read a task's whole kernel stack rather than unwinding it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program

from pycrash.command import Result
from pycrash.kernel.stack import X86_64_REGS, symbolize_address
from pycrash.kernel.tasks import stack_bounds, task_id
from pycrash.session import Session


@dataclass
class StackScan:
    """What was found reading one task's stack: ``entries`` are (slot, value, text)."""

    header: str
    base: int
    top: int
    entries: list[tuple[int, int, str]] = field(default_factory=list)
    error: str | None = None


def _is_text(prog: Program, value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value < bounds[1]


def search(session: Session, tasks: list[Object], kind: str, errors: list[str]) -> Result:
    """Return a :class:`StackScan` per task for ``kind`` ``text``, ``raw`` or ``exceptions``."""
    from pycrash.kernel.symbols import section_bounds

    prog = session.prog
    text = section_bounds(prog).get("text", (0, 0))
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
        words = [int.from_bytes(data[i : i + 8], "little") for i in range(0, len(data), 8)]
        if kind == "exceptions":
            scan.entries = _exception_frames(prog, base, data)
        else:
            for i, w in enumerate(words):
                if _is_text(prog, w, text):
                    scan.entries.append((base + 8 * i, w, symbolize_address(prog, w)))
                elif kind == "raw":
                    scan.entries.append((base + 8 * i, w, ""))
        rows.append(scan)
    render = {"text": _render_text, "raw": _render_raw, "exceptions": _render_exc}[kind]
    return Result(rows, render=render, errors=errors)


def _exception_frames(prog: Program, base: int, data: bytes) -> list[tuple[int, int, str]]:
    """Find ``struct pt_regs`` on the stack: a valid CS/SS pair and RFLAGS with bit 1 set."""
    t = prog.type("struct pt_regs")
    cs_off, ss_off, fl_off = (t.member(m).offset for m in ("cs", "ss", "flags"))
    found = []
    def word(at: int) -> int:
        return int.from_bytes(data[at : at + 8], "little")

    for off in range(0, len(data) - t.size + 1, 8):
        cs, ss, flags = word(off + cs_off), word(off + ss_off), word(off + fl_off)
        if (cs, ss) in ((0x10, 0x18), (0x33, 0x2B), (0x10, 0)) and flags & 0x2 and \
                flags < 1 << 22:
            regs = Object(prog, t, address=base + off)
            text = "  ".join(f"{name}: {regs.member_(m).value_():016x}"
                             for name, m in X86_64_REGS[:3])
            mode = "KERNEL" if cs == 0x10 else "USER"
            found.append((base + off, cs, f"{mode}-MODE EXCEPTION FRAME  {text}"))
    return found


def _text_lines(scan: StackScan) -> Iterable[str]:
    for slot, value, text in scan.entries:
        yield f"  [{slot:016x}] {text} at {value:x}"


def _raw_lines(scan: StackScan) -> Iterable[str]:
    cells = [(slot, text if text else f"{value:016x}") for slot, value, text in scan.entries]
    for j in range(0, len(cells), 4):
        group = cells[j : j + 4]
        yield f"{group[0][0]:x}:  " + " ".join(f"{c:<16}" for _, c in group).rstrip()


def _exception_lines(scan: StackScan) -> Iterable[str]:
    if not scan.entries:
        yield "  (no exception frames found)"
    for slot, _cs, text in scan.entries:
        yield f"  [{slot:016x}] {text}"


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


_render_text = _renderer(_text_lines)
_render_raw = _renderer(_raw_lines)
_render_exc = _renderer(_exception_lines)
