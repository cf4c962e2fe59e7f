"""Kernel stack traces as crash shows them: one frame per real (not inlined) call.

A frame's *stack address* is crash's bracketed value: the stack slot that
holds the frame's return address (the stack pointer after the call, less one
word). Where the stack crosses an exception or system-call entry, the
interrupted context's registers are attached to the last frame before it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program, StackFrame, StackTrace

#: pt_regs members in crash's order for an x86-64 exception frame.
X86_64_REGS = (
    ("RIP", "ip"), ("RSP", "sp"), ("RFLAGS", "flags"),
    ("RAX", "ax"), ("RBX", "bx"), ("RCX", "cx"),
    ("RDX", "dx"), ("RSI", "si"), ("RDI", "di"),
    ("RBP", "bp"), ("R8", "r8"), ("R9", "r9"),
    ("R10", "r10"), ("R11", "r11"), ("R12", "r12"),
    ("R13", "r13"), ("R14", "r14"), ("R15", "r15"),
    ("ORIG_RAX", "orig_ax"), ("CS", "cs"), ("SS", "ss"),
)
#: drgn's register names for the same, used when no pt_regs is found in memory.
DRGN_REG_NAMES = {"ip": "rip", "sp": "rsp", "flags": "rflags", "ax": "rax", "bx": "rbx",
                  "cx": "rcx", "dx": "rdx", "si": "rsi", "di": "rdi", "bp": "rbp",
                  "cs": "cs", "ss": "ss"}


@dataclass(slots=True, eq=False)
class ExceptionFrame:
    """The registers of the context an entry interrupted (crash's register block).

    ``regs`` maps crash's register names (``RIP``, ``RSP``...) to values;
    ``kernel_rip`` is ``symbol+offset`` when the interrupted code was the
    kernel's (crash's ``[exception RIP: ...]``), else None; ``address`` is
    the ``struct pt_regs`` address when it was found on the stack.
    """

    regs: dict[str, int]
    kernel_rip: str | None = None
    address: int | None = None


@dataclass(slots=True, eq=False)
class Frame:
    """One real frame: crash's ``#N [stack address] function at pc``.

    ``inlined`` lists functions inlined at this pc, innermost first;
    ``file``/``line`` are the source position of the pc (innermost);
    ``exception`` is the interrupted context that follows this frame.
    """

    level: int
    stack_addr: int | None
    function: str
    pc: int
    offset: int | None
    module: str | None
    file: str | None = None
    line: int | None = None
    inlined: list[str] = field(default_factory=list)
    kind: str = "TASK"
    exception: ExceptionFrame | None = None


def _group_inline(frames: list[StackFrame]) -> list[list[StackFrame]]:
    """Group drgn frames into real calls: inline frames join the next real frame."""
    groups: list[list[StackFrame]] = []
    current: list[StackFrame] = []
    for f in frames:
        current.append(f)
        if not f.is_inline:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _symbolize(prog: Program, frame: StackFrame) -> tuple[str, int | None, str | None]:
    """Return ``(name, offset, module)`` of a frame's pc from the symbol table.

    A return address (every frame but an interrupted one) is looked up one byte
    earlier, inside the call, as drgn's ``StackFrame.symbol()`` does.
    """
    from pycrash.kernel.symindex import find_symbol

    try:
        sym = find_symbol(prog, frame.pc if frame.interrupted else frame.pc - 1)
        module = None
        try:
            mod = prog.module(frame.pc)
            module = None if mod.name == "kernel" else mod.name
        except LookupError:
            pass
        return sys.intern(sym.name), frame.pc - sym.address, module
    except LookupError:
        return frame.name or f"{frame.pc:x}", None, None


def symbolize_address(prog: Program, addr: int) -> str:
    """Return ``symbol+offset`` for a kernel address, or the address in hex.

    A return address just past a function's end (the function's last
    instruction was a call that does not return, like ``call panic``) is
    named after that function, as crash does.
    """
    from pycrash.kernel.symindex import find_symbol

    try:
        sym = find_symbol(prog, addr)
    except LookupError:
        try:
            sym = find_symbol(prog, addr - 1)
        except LookupError:
            return f"{addr:x}"
    off = addr - sym.address
    return f"{sym.name}+{off}" if off else sym.name


def _find_pt_regs(prog: Program, start: int, regs: dict[str, int]) -> Object | None:
    """Look for the ``struct pt_regs`` holding ``regs`` (ip and sp) on the stack from ``start``."""
    try:
        pt_regs_type = prog.type("struct pt_regs")
    except LookupError:
        return None
    ip, sp = regs.get("rip"), regs.get("rsp")
    if ip is None or sp is None:
        return None
    ip_off = pt_regs_type.member("ip").offset
    sp_off = pt_regs_type.member("sp").offset
    data = b""
    for length in (0x400, 0x100 + pt_regs_type.size, pt_regs_type.size):
        try:  # the stack may end (or its next page be missing) within the window
            data = prog.read(start, length)
            break
        except FaultError:
            continue
    word = lambda at: int.from_bytes(data[at : at + 8], "little")  # noqa: E731
    for base in range(0, len(data) - pt_regs_type.size + 1, 8):
        if word(base + ip_off) == ip and word(base + sp_off) == sp:
            return Object(prog, pt_regs_type, address=start + base)
    return None


def _exception(prog: Program, after: StackFrame, interrupted: StackFrame) -> ExceptionFrame:
    """Describe the context ``interrupted`` that an entry just below ``after`` saved."""
    drgn_regs = interrupted.registers()
    regs_obj = _find_pt_regs(prog, after.sp, drgn_regs)
    values: dict[str, int] = {}
    if regs_obj is not None:
        for name, member in X86_64_REGS:
            try:
                values[name] = regs_obj.member_(member).value_()
            except (LookupError, FaultError):
                pass
    else:
        for name, member in X86_64_REGS:
            key = DRGN_REG_NAMES.get(member, member)
            if key in drgn_regs:
                values[name] = drgn_regs[key]
    cs = values.get("CS", drgn_regs.get("cs", 0))
    kernel_rip = None
    if cs & 3 == 0 and "RIP" in values:
        kernel_rip = symbolize_address(prog, values["RIP"])
    return ExceptionFrame(values, kernel_rip, regs_obj.address_ if regs_obj is not None else None)


def _segments(trace: StackTrace) -> list[tuple[str, list[StackFrame]]]:
    """Split a trace where an entry interrupted a context: ``(kind, frames)``, innermost first.

    ``kind`` is ``USER`` for user-space frames, else ``KERNEL``.
    """
    out: list[tuple[str, list[StackFrame]]] = []
    current: list[StackFrame] = []
    for frame in trace:
        if current and frame.interrupted and not current[-1].is_inline:
            out.append(_kind(current))
            current = []
        current.append(frame)
    if current:
        out.append(_kind(current))
    return out


def _kind(frames: list[StackFrame]) -> tuple[str, list[StackFrame]]:
    pc = frames[0].pc
    return ("USER" if pc < 1 << 63 else "KERNEL"), frames


def task_frames(prog: Program, task: Object, regs: Object | None = None,
                with_source: bool = False) -> list[Frame]:
    """Return crash-style frames of a ``struct task_struct *``'s kernel stack.

    ``regs`` (a ``struct pt_regs``) starts the unwind instead of the task's
    saved state: the registers a running CPU saved at the crash. User-space
    frames are not included; the registers of the user context (the system
    call's pt_regs) are attached to the last kernel frame. ``with_source``
    looks up each frame's file and line (slower: only for ``bt -l``). Raises
    :class:`ValueError` or :class:`drgn.FaultError` when the stack cannot be
    unwound.
    """
    trace = prog.stack_trace(regs if regs is not None else task)
    out: list[Frame] = []
    segments = _segments(trace)
    for si, (kind, frames) in enumerate(segments):
        if kind == "USER":
            break
        for group in _group_inline(frames):
            real = group[-1]
            name, offset, module = _symbolize(prog, real)
            try:
                sp: int | None = real.sp - 8
            except LookupError:
                sp = None
            file = line = None
            if with_source:
                try:
                    file, line, _col = group[0].source()
                except LookupError:
                    pass
            out.append(Frame(level=len(out), stack_addr=sp, function=name, pc=real.pc,
                             offset=offset, module=module, file=file, line=line,
                             inlined=[sys.intern(f.name) for f in group[:-1] if f.name],
                             kind=kind))
        if si + 1 < len(segments) and frames and out:
            try:
                out[-1].exception = _exception(prog, frames[-1], segments[si + 1][1][0])
            except (LookupError, FaultError, ValueError):
                pass
    return out
