"""pycrash's x86-64 stack engine: the kernel's ORC unwinding, over stack words read once.

It follows the kernel's own ``unwind_orc.c``: each step looks up the ORC
entry of the pc, finds the caller's stack pointer (CFA) and frame pointer,
and reads either a return address (``CALL``), a whole ``struct pt_regs``
(``REGS``: an exception or interrupt entry) or an IRET frame
(``REGS_PARTIAL``). Text without ORC data is assumed to keep a frame pointer,
as the kernel assumes. The walk moves across the task, IRQ and exception
stacks, and ends at the stack's end marker, at user mode, or with a note:
a return address that is not kernel text, a stack pointer that goes back or
leaves the known stacks, unreadable words, or too many frames.

Frames are *raw*: a pc, crash's bracketed stack slot, and the registers of an
exception that follows. :mod:`pycrash.kernel.stack` names them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from pycrash.kernel import orc as O
from pycrash.kernel.stackmem import StackMemory

#: ``struct pt_regs`` member offsets (the same since Linux 2.6.25)
PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
           "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss")
PT_REGS_SIZE = 8 * len(PT_REGS)
IP_OFFSET = 8 * PT_REGS.index("ip")
#: ORC register numbers that name a pt_regs member
ORC_REG_MEMBER = {O.REG_R10: "r10", O.REG_R13: "r13", O.REG_DI: "di", O.REG_DX: "dx",
                  O.REG_AX: "ax"}
#: The most frames one trace may have before it is called corrupt
MAX_FRAMES = 256


@dataclass(slots=True, eq=False)
class RawFrame:
    """One frame before naming: ``pc``, crash's ``slot`` and what follows it.

    ``interrupted`` says ``pc`` is exact (taken from registers), not a return
    address; ``regs`` are the registers of the context an entry interrupted
    (the block crash prints after this frame), ``regs_addr`` where they were
    found; ``marker`` is the stack crash names before this frame
    (``IRQ stack``) because the trace left it.
    """

    pc: int
    slot: int
    interrupted: bool = False
    regs: dict[str, int] | None = None
    regs_addr: int | None = None
    marker: str | None = None


@dataclass(slots=True)
class Start:
    """Where an unwind begins: the first frame's pc, stack pointer and frame pointer.

    ``slot`` is the address crash shows for frame 0; ``interrupted`` says the pc
    is exact; ``regs`` (pt_regs member names) are the full registers when known.
    """

    pc: int
    sp: int
    bp: int
    slot: int
    interrupted: bool = False
    regs: dict[str, int] | None = None
    #: where ``bp`` was read from the stack, when it was (for the memory's log)
    bp_at: int | None = None


def read_pt_regs(mem: StackMemory, addr: int) -> dict[str, int] | None:
    """Return the ``struct pt_regs`` at ``addr`` on a known stack, or None."""
    r = mem.region(addr)
    if r is None or r is not mem.region(addr + PT_REGS_SIZE - 8) or addr & 7:
        return None
    data = mem.data(r, addr)
    values = struct.unpack_from(f"<{len(PT_REGS)}Q", data, addr - r.read_lo)
    regs = dict(zip(PT_REGS, values, strict=True))
    if mem.log is not None:  # user registers end the walk: only CS decides; else all do
        at = [PT_REGS.index("cs")] if regs["cs"] & 3 else range(len(PT_REGS))
        mem.log.extend((addr + 8 * i, values[i]) for i in at)
    return regs


def unwind(mem: StackMemory, index: O.OrcIndex, is_text: Callable[[int], bool],
           start: Start, is_call_site: Callable[[int], bool] = lambda _a: True,
           max_frames: int = MAX_FRAMES,
           saved: dict[str, int] | None = None) -> tuple[list[RawFrame], str | None]:
    """Return the raw frames from ``start`` and why the walk stopped early (None: the
    stack's natural end, or user mode).

    ``saved`` are registers the CPU saved inside the trace (the panic CPU's
    NT_PRSTATUS, taken in ``__crash_kexec``): where ORC cannot describe a
    function, they give the frame pointer its callers left.
    """
    if not is_text(start.pc if start.interrupted else start.pc - 1):
        return [], f"the saved pc {start.pc:#x} at {start.slot:#x} is not kernel text"
    frames = [RawFrame(start.pc, start.slot, start.interrupted)]
    ip, sp, bp = start.pc, start.sp, start.bp
    # where the current bp came from: logged only when the walk uses bp, since a saved
    # frame pointer is often just a callee-saved register's old value
    bp_src = (start.bp_at, bp) if start.bp_at is not None else None

    def use_bp() -> None:
        if bp_src is not None and mem.log is not None:
            mem.log.append(bp_src)

    regs = start.regs
    signal = start.interrupted
    while True:
        if regs is not None and regs.get("cs", 0) & 3:
            return frames, None  # user mode: the trace ends with the user registers
        if len(frames) >= max_frames:
            return frames, f"more than {max_frames} frames: the stack may loop"
        look = ip if signal else ip - 1
        entry = index.find(look)
        if entry is None:
            if not is_text(look):
                return frames, f"{ip:#x} is not kernel text"
            entry = O.FP_ENTRY
        if entry.type == O.END_OF_STACK:
            return frames, None
        if entry.type == O.UNDEFINED:
            # code objtool could not describe (STACK_FRAME_NON_STANDARD, like
            # __crash_kexec): find the caller as crash does, by the next return address
            found = _scan_return(mem, sp, is_text, is_call_site)
            if found is None:
                return frames, f"no unwind information at {ip:#x}"
            slot, ret = found
            frames.append(RawFrame(ret, slot))
            if saved is not None and sp <= saved.get("sp", 0) <= slot \
                    and mem.region(saved["sp"]) is mem.region(sp):
                bp = saved.get("bp", bp)  # the callee-saved bp, as the caller left it
            ip, sp, regs, signal = ret, slot + 8, None, False
            continue
        if entry.sp_reg in (O.REG_BP, O.REG_BP_INDIRECT):
            use_bp()
        cfa = _cfa(mem, entry, sp, bp, regs)
        if cfa is None:
            return frames, f"cannot find the caller's stack pointer at {ip:#x}"
        here = mem.region(sp)
        if entry.type == O.CALL and cfa <= sp and mem.region(cfa) is here:
            return frames, f"the stack pointer goes back at {cfa:#x}: the stack loops"
        if entry.type == O.CALL:
            slot = cfa - 8
            word = mem.word(slot)
            if word is None:
                return frames, f"stack pointer {cfa:#x} is outside the stack"
            if not is_text(word - 1):
                return frames, f"return address {word:#x} at {slot:#x} is not kernel text"
            new_ip, new_sp, regs, signal = word, cfa, None, False
            frame = RawFrame(word, slot)
        elif entry.type == O.REGS:
            full = read_pt_regs(mem, cfa)
            if full is None:
                return frames, f"registers at {cfa:#x} are outside the stack"
            frames[-1].regs, frames[-1].regs_addr = full, cfa
            new_ip, new_sp, regs, signal = full["ip"], full["sp"], full, True
            frame = None
            if not full["cs"] & 3 and not is_text(new_ip):
                return frames, f"the exception RIP {new_ip:#x} at {cfa:#x} is not kernel text"
            if not full["cs"] & 3 and mem.region(new_sp) is not mem.region(cfa):
                frame = RawFrame(new_ip, new_sp, True)  # crash shows it on the new stack
        elif entry.type == O.REGS_PARTIAL:
            iret = [mem.word(cfa + 8 * i) for i in range(5)]
            if any(v is None for v in iret):
                return frames, f"an interrupt frame at {cfa:#x} is outside the stack"
            part = dict(zip(("ip", "cs", "flags", "sp", "ss"), iret, strict=True))
            frames[-1].regs = {k: v for k, v in part.items() if v is not None}
            frames[-1].regs_addr = cfa - IP_OFFSET
            new_ip, new_sp, signal = part["ip"] or 0, part["sp"] or 0, True
            regs = None if not (part["cs"] or 0) & 3 else frames[-1].regs
            frame = None
            if not (part["cs"] or 0) & 3 and mem.region(new_sp) is not mem.region(cfa):
                frame = RawFrame(new_ip, new_sp, True)
        else:
            return frames, f"unknown unwind entry type {entry.type} at {ip:#x}"
        # the caller's frame pointer
        if entry.bp_reg == O.REG_UNDEFINED:
            if entry.type == O.REGS and regs is not None:
                bp, bp_src = regs["bp"], None  # logged with the registers
        elif entry.bp_reg == O.REG_PREV_SP:
            at = cfa + entry.bp_offset
            bp = mem.peek(at) or 0
            bp_src = (at, bp)
        elif entry.bp_reg == O.REG_BP:
            use_bp()
            at = bp + entry.bp_offset
            bp = mem.peek(at) or 0
            bp_src = (at, bp)
        if regs is not None and regs.get("cs", 0) & 3:
            return frames, None
        there = mem.region(new_sp)
        if there is None:
            return frames, f"stack pointer {new_sp:#x} is outside the stack"
        if there is here and new_sp <= sp:
            return frames, f"the stack pointer goes back at {new_sp:#x}: the stack loops"
        if frame is not None:
            frames.append(frame)
        ip, sp = new_ip, new_sp


#: How far above the stack pointer a return address is looked for where ORC has no entry
SCAN_LIMIT = 0x400


def _scan_return(mem: StackMemory, sp: int, is_text: Callable[[int], bool],
                 is_call_site: Callable[[int], bool]) -> tuple[int, int] | None:
    """Return ``(slot, return address)`` of the first word at or above ``sp`` that is a
    return address (kernel text just after a call instruction), or None."""
    region = mem.region(sp)
    if region is None:
        return None
    for slot in range(sp, min(sp + SCAN_LIMIT, region.hi - 7), 8):
        value = mem.word(slot)
        if value is not None and is_text(value - 1) and is_call_site(value):
            return slot, value
    return None


def call_site_checker(read: Callable[[int, int], bytes]) -> Callable[[int], bool]:
    """Return a test of whether an address follows an x86-64 call instruction, given a
    reader of kernel text (``read(address, size)``, raising on a fault)."""
    cache: dict[int, bool] = {}

    def check(ret: int) -> bool:
        if ret in cache:
            return cache[ret]
        try:
            b = read(ret - 7, 7)
        except Exception:  # unreadable text: not a call site we can vouch for
            cache[ret] = False
            return False
        ok = (b[2] == 0xE8  # call rel32
              or (b[5] == 0xFF and (b[6] >> 3) & 7 == 2 and b[6] >> 6 == 3)  # call *%reg
              or (b[4] == 0xFF and (b[5] >> 3) & 7 == 2)  # call *disp8(%reg) / REX call
              or (b[3] == 0xFF and (b[4] >> 3) & 7 == 2)
              or (b[1] == 0xFF and (b[2] >> 3) & 7 == 2)  # call *disp32(...)
              or (b[0] == 0xFF and (b[1] >> 3) & 7 == 2))
        cache[ret] = ok
        return ok

    return check


def _cfa(mem: StackMemory, entry: O.OrcEntry, sp: int, bp: int,
         regs: dict[str, int] | None) -> int | None:
    """Return the caller's stack pointer an entry describes, or None when unknown."""
    reg = entry.sp_reg
    if reg == O.REG_SP:
        return sp + entry.sp_offset
    if reg == O.REG_BP:
        return bp + entry.sp_offset
    if reg == O.REG_SP_INDIRECT:
        top = mem.word(sp)
        return None if top is None else top + entry.sp_offset
    if reg == O.REG_BP_INDIRECT:
        return mem.word(bp + entry.sp_offset)
    member = ORC_REG_MEMBER.get(reg)
    if member is not None and regs is not None:
        return regs.get(member)
    return None


def add_markers(mem: StackMemory, frames: list[RawFrame]) -> None:
    """Mark each frame that follows one on another, named stack (``--- <IRQ stack> ---``)."""
    for prev, cur in zip(frames, frames[1:], strict=False):
        a, b = mem.region(prev.slot), mem.region(cur.slot)
        if a is not b and a is not None and a.name:
            cur.marker = a.name
