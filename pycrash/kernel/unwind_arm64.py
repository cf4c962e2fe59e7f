"""pycrash's arm64 stack engine: the kernel's frame-pointer records, over stack words read once.

arm64 kernels always keep frame pointers: x29 points to a 16-byte record
``{caller's x29, return address}``. Exception entries store a record inside
``struct pt_regs`` (``stackframe``) that links the interrupted context in, and
the last record of a user task's stack is the zeroed one in its ``pt_regs``.
Return addresses may carry pointer-authentication bits, stripped by setting
the bits above the kernel's virtual-address width.

Raw frames follow crash's arm64 conventions: the bracketed address is the
frame record of the function named, and a return address is shown as the
branch that made the call (four bytes before it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pycrash.kernel.stackmem import StackMemory
from pycrash.kernel.unwind_x86_64 import MAX_FRAMES, RawFrame

#: the exception vector entries (el1h_64_irq, el0t_64_sync...), whose frame record
#: lies in the struct pt_regs they saved
ENTRY = re.compile(r"^el[01][th]_(64|32)_(sync|irq|fiq|error)$")


@dataclass(frozen=True)
class PtRegsLayout:
    """Where ``struct pt_regs`` keeps what the unwinder reads (byte offsets)."""

    size: int
    sp: int
    pc: int
    pstate: int
    orig_x0: int
    syscallno: int
    stackframe: int


def pac_stripper(va_bits: int) -> Callable[[int], int]:
    """Return a function that strips pointer-authentication bits from a kernel address."""
    high = ((1 << 64) - 1) ^ ((1 << va_bits) - 1)

    def strip(addr: int) -> int:
        return addr | high if addr >> 55 & 1 else addr

    return strip


def read_regs(mem: StackMemory, at: int, layout: PtRegsLayout) -> dict[str, int] | None:
    """Return the ``struct pt_regs`` at ``at`` (``x0``..``x30``, ``sp``, ``pc``, ``pstate``,
    ``orig_x0``, ``syscallno``), or None when it is not on a known stack."""
    out: dict[str, int] = {}
    for i in range(31):
        v = mem.word(at + 8 * i)
        if v is None:
            return None
        out[f"x{i}"] = v
    for name in ("sp", "pc", "pstate", "orig_x0"):
        v = mem.word(at + getattr(layout, name))
        if v is None:
            return None
        out[name] = v
    word = mem.word(at + layout.syscallno & ~7)
    out["syscallno"] = (word or 0) >> (32 if layout.syscallno & 4 else 0) & 0xFFFFFFFF
    return out


def unwind(mem: StackMemory, name_of: Callable[[int], str], is_text: Callable[[int], bool],
           strip: Callable[[int], int], layout: PtRegsLayout, pc: int, fp: int,
           exact: bool, max_frames: int = MAX_FRAMES) -> tuple[list[RawFrame], str | None]:
    """Walk the frame records from ``fp`` with frame 0 at ``pc`` (``exact``: taken from
    registers, not a return address). Return the raw frames and why the walk
    stopped early (None: the stack's last record)."""
    shown = pc if exact else pc - 4
    if not is_text(shown):
        return [], f"the saved pc {pc:#x} is not kernel text"
    frames = [RawFrame(shown, fp, True)]
    interrupted_next = False
    while True:
        if len(frames) >= max_frames:
            return frames, f"more than {max_frames} frames: the stack may loop"
        if fp == 0:
            return frames, None
        here = mem.region(fp)
        if here is None or fp & 15:
            return frames, f"frame pointer {fp:#x} is outside the stack"
        name = name_of(frames[-1].pc)
        regs_at = fp - layout.stackframe
        if ENTRY.match(name):  # an exception entry: its record is in pt_regs
            regs = read_regs(mem, regs_at, layout)
            if regs is not None:
                frames[-1].regs, frames[-1].regs_addr = regs, regs_at
                if regs["pstate"] & 0xF == 0:  # EL0: the user context, the end
                    return frames, None
                interrupted_next = True
        next_fp, ret = mem.word(fp), mem.word(fp + 8)
        if next_fp is None or ret is None:
            return frames, f"frame record {fp:#x} is outside the stack"
        if next_fp == 0 and ret == 0:
            return frames, None  # the final record
        ret = strip(ret)
        shown = ret if interrupted_next else ret - 4
        if not is_text(shown):
            return frames, f"return address {ret:#x} at {fp + 8:#x} is not kernel text"
        there = mem.region(next_fp) if next_fp else here
        if next_fp and there is None:
            return frames, f"frame pointer {next_fp:#x} at {fp:#x} is outside the stack"
        if next_fp and there is here and next_fp <= fp:
            return frames, f"the frame pointer goes back at {next_fp:#x}: the stack loops"
        frames.append(RawFrame(shown, next_fp or fp, True))
        interrupted_next = False
        fp = next_fp


def crash_names(regs: dict[str, int]) -> dict[str, int]:
    """Return pt_regs values under crash's names (``PC``, ``LR``, ``SP``, ``X0``...)."""
    out = {f"X{i}": regs[f"x{i}"] for i in range(31)}
    out.update(PC=regs["pc"], LR=regs["x30"], SP=regs["sp"], PSTATE=regs["pstate"],
               ORIG_X0=regs.get("orig_x0", 0), SYSCALLNO=regs.get("syscallno", 0))
    return out
