"""crash's text for bt's records: frames, register blocks, frame data and stack scans."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from pycrash.kernel.stack import ExceptionFrame, Frame


class OffsetMode(enum.Enum):
    """How bt shows a frame's function: plain, or with its offset in decimal or hex."""

    NONE = ""
    DECIMAL = "s"
    HEX = "x"


@dataclass(frozen=True)
class BtView:
    """bt's display choices: file:line (-l), offsets (-s/-x/-d), frame data symbolic
    (-F, 1) with slab object addresses (-FF, 2)."""

    lines: bool = False
    offsets: OffsetMode = OffsetMode.NONE
    symbolic: int = 0


_X86_REGS = ("RIP", "RSP", "RFLAGS", "RAX", "RBX", "RCX", "RDX", "RSI", "RDI",
             "RBP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15")


def _arm64_lines(regs: dict[str, int], pc_name: str | None, lr_name: str | None,
                 kernel: bool) -> Iterator[str]:
    """Yield crash's arm64 exception frame from crash-named registers (``PC``, ``LR``,
    ``SP``, ``PSTATE``, ``X0``..``X29``, ``ORIG_X0``, ``SYSCALLNO``)."""
    if kernel:
        yield (f"     PC: {regs['PC']:016x}  "
               + (f"[{pc_name}]" if pc_name else "[unknown or invalid address]"))
        yield (f"     LR: {regs['LR']:016x}  "
               + (f"[{lr_name}]" if lr_name else "[unknown or invalid address]"))
        yield f"     SP: {regs['SP']:016x}  PSTATE: {regs['PSTATE']:08x}"
    else:
        yield f"     PC: {regs['PC']:016x}   LR: {regs['LR']:016x}   SP: {regs['SP']:016x}"
    cells = [f"{'' if i >= 10 else ' '}X{i}: {regs[f'X{i}']:016x}" for i in range(29, -1, -1)]
    for j in range(0, len(cells), 3):
        yield "    " + "  ".join(cells[j : j + 3])
    if not kernel:
        yield (f"    ORIG_X0: {regs['ORIG_X0']:016x}  SYSCALLNO: {regs['SYSCALLNO']:x}"
               f"  PSTATE: {regs['PSTATE']:08x}")


def register_lines(exc: ExceptionFrame) -> Iterator[str]:
    """Yield crash's register block: ``[exception RIP: ...]`` and the registers."""
    regs = exc.regs
    if exc.arch == "arm64":
        yield from _arm64_lines(regs, *exc.names, regs.get("PSTATE", 0) & 0xF != 0)
        return
    if exc.kernel_rip:
        yield f"    [exception RIP: {exc.kernel_rip}]"
    cells = [f"RFLAGS: {regs[name]:08x}" if name == "RFLAGS" else f"{name:>3}: {regs[name]:016x}"
             for name in _X86_REGS if name in regs]
    for i in range(0, len(cells), 3):
        yield "    " + "  ".join(cells[i : i + 3])
    tail = []
    if "ORIG_RAX" in regs:
        tail.append(f"ORIG_RAX: {regs['ORIG_RAX']:016x}")
    if "CS" in regs:
        tail.append(f"CS: {regs['CS']:04x}")
    if "SS" in regs:
        tail.append(f"SS: {regs['SS']:04x}")
    if tail:
        yield "    " + "  ".join(tail)


def frame_line(frame: Frame, offsets: OffsetMode = OffsetMode.NONE) -> str:
    """Return crash's ``#N [addr] function at pc`` line (with `` [module]`` when in one)."""
    addr = f"{frame.stack_addr:016x}" if frame.stack_addr is not None else "?" * 16
    mod = f" [{frame.module}]" if frame.module else ""
    name = frame.function
    if offsets != OffsetMode.NONE and frame.offset:
        name += f"+{frame.offset:#x}" if offsets == OffsetMode.HEX else f"+{frame.offset}"
    return f"{'#' + str(frame.level):>3} [{addr}] {name} at {frame.pc:x}{mod}"
