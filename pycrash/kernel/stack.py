"""Kernel stack traces as crash shows them: one frame per real (not inlined) call.

A frame's *stack address* is crash's bracketed value: the stack slot that
holds the frame's return address (the stack pointer after the call, less one
word). Where the stack crosses an exception or system-call entry, the
interrupted context's registers are attached to the last frame before it.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field
from typing import Any

from drgn import FaultError, Object, Program, StackFrame, StackTrace

from pycrash.kernel.progcache import per_program
from pycrash.records import Hex, OptHex

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
    address: OptHex = None
    #: the source position of a kernel RIP (with ``bt -l``)
    source: str | None = None
    #: the architecture whose register block this is (``x86_64`` or ``arm64``)
    arch: str = "x86_64"
    #: arm64: the names of the PC's and LR's functions (crash's ``[symbol+offset]``)
    names: tuple[str | None, str | None] = (None, None)


class FrameKind(enum.Enum):
    """Where a frame's code ran: a task's kernel stack, a kernel context an entry
    interrupted, or user space."""

    TASK = "TASK"
    KERNEL = "KERNEL"
    USER = "USER"


@dataclass(slots=True, eq=False)
class Frame:
    """One real frame: crash's ``#N [stack address] function at pc``.

    ``inlined`` lists functions inlined at this pc, innermost first;
    ``file``/``line`` are the source position of the pc (innermost);
    ``exception`` is the interrupted context that follows this frame.
    """

    level: int
    stack_addr: OptHex
    function: str
    pc: Hex
    offset: int | None
    module: str | None
    file: str | None = None
    line: int | None = None
    inlined: list[str] = field(default_factory=list)
    kind: FrameKind = FrameKind.TASK
    exception: ExceptionFrame | None = None
    #: the stack crash names in a ``--- <IRQ stack> ---`` line before this frame
    marker: str | None = None


@dataclass(slots=True, eq=False)
class Trace:
    """A task's frames and, when the walk ended early, why (crash's one-line note)."""

    frames: list[Frame]
    note: str | None = None


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


def _segments(trace: StackTrace) -> list[tuple[FrameKind, list[StackFrame]]]:
    """Split a trace where an entry interrupted a context: ``(kind, frames)``, innermost first.

    ``kind`` is ``USER`` for user-space frames, else ``KERNEL``.
    """
    out: list[tuple[FrameKind, list[StackFrame]]] = []
    current: list[StackFrame] = []
    for frame in trace:
        if current and frame.interrupted and not current[-1].is_inline:
            out.append(_kind(current))
            current = []
        current.append(frame)
    if current:
        out.append(_kind(current))
    return out


def _kind(frames: list[StackFrame]) -> tuple[FrameKind, list[StackFrame]]:
    pc = frames[0].pc
    return (FrameKind.USER if pc < 1 << 63 else FrameKind.KERNEL), frames


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
        if kind == FrameKind.USER:
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


# -- pycrash's own stack engine --------------------------------------------------

#: Functions a stopped CPU sits in: the panic CPU in machine_kexec (kexec's jump to
#: the capture kernel), the others in the NMI handler that stopped them.
PANIC_STOPS = ("machine_kexec",)
NMI_STOPS = ("crash_nmi_callback",)
#: How many return addresses into a stop function are tried as a trace's start
MAX_CANDIDATES = 8


def _function_range(prog: Program, name: str) -> tuple[int, int] | None:
    """Return ``[start, end)`` of the kernel function ``name``, or None."""

    def make() -> tuple[int, int] | None:
        try:
            sym = prog.symbol(name)
        except LookupError:
            return None
        return (sym.address, sym.address + sym.size) if sym.size else None

    return per_program(prog, f"pycrash_function_range {name}", make)


def _text_check(prog: Program) -> Any:
    """Return a function telling whether an address is kernel or module text."""

    def make() -> Any:
        from pycrash.kernel.modtext import module_at
        from pycrash.kernel.symbols import section_bounds

        spans = []
        bounds = section_bounds(prog)
        if "text" in bounds:
            spans.append(bounds["text"])
        for lo, hi in (("_sinittext", "_einittext"),):
            try:
                spans.append((prog.symbol(lo).address, prog.symbol(hi).address))
            except LookupError:
                pass

        def check(addr: int) -> bool:
            if any(a <= addr < b for a, b in spans):
                return True
            rng = module_at(prog, addr)
            return rng is not None and rng.text

        return check

    return per_program(prog, "pycrash_is_text", make)


def _call_sites(prog: Program) -> Any:
    """Return the program's test of whether an address follows a call instruction."""
    from pycrash.kernel.unwind_x86_64 import call_site_checker

    return per_program(prog, "pycrash_call_sites", lambda: call_site_checker(prog.read))


def _inactive_layout(prog: Program) -> tuple[int, int, int]:
    """Return ``(bp offset, ret_addr offset, size)`` of ``struct inactive_task_frame``."""
    def make() -> tuple[int, int, int]:
        try:
            t = prog.type("struct inactive_task_frame")
            return (int(t.member("bp").offset), int(t.member("ret_addr").offset), int(t.size))
        except LookupError:  # Linux 4.9 and later, without frame pointers
            return (0x28, 0x30, 0x38)

    return per_program(prog, "pycrash_inactive_frame", make)


def _sleeping_start(prog: Program, task: Object, mem: Any) -> Any:
    """Return where a task that is not running resumes: ``thread.sp``'s saved frame."""
    from pycrash.kernel.unwind_x86_64 import Start

    sp0 = task.thread.sp.value_()
    bp_off, ret_off, size = _inactive_layout(prog)
    bp, ret = mem.peek(sp0 + bp_off), mem.word(sp0 + ret_off)
    if bp is None or ret is None:
        raise ValueError(f"saved stack pointer {sp0:#x} is outside the task's stack")
    fork = _function_range(prog, "ret_from_fork")
    return Start(ret, sp0 + size, bp, sp0, interrupted=fork is not None and ret == fork[0],
                 bp_at=sp0 + bp_off)


def _stop_candidates(prog: Program, mem: Any, names: tuple[str, ...],
                     first: Any) -> list[Any]:
    """Return starts at return addresses into ``names`` found on the stacks, the stack
    ``first`` (a region) first, lowest address first."""
    from pycrash.kernel.unwind_x86_64 import Start

    spans = [r for r in (_function_range(prog, n) for n in names) if r]
    if not spans:
        return []
    regions = ([first] if first is not None else []) + [r for r in mem.regions if r is not first]
    low, high = min(lo for lo, _ in spans), max(hi for _, hi in spans)
    out = []
    for region in regions:
        for addr, value in mem.words(region):
            if low < value <= high and any(lo < value <= hi for lo, hi in spans):
                out.append(Start(value, addr + 8, 0, addr))
                if len(out) >= MAX_CANDIDATES:
                    return out
    return out


def _raw_trace(prog: Program, task: Object, regs: dict[str, int] | None,
               panic: bool, log: bool = False) -> tuple[Any, list[Any], str | None]:
    """Unwind a task with the ORC engine: ``(memory, raw frames, note)``; with ``log``
    the memory keeps the words the unwind read."""
    from drgn.helpers.linux.sched import task_cpu

    from pycrash.kernel.orc import orc_index
    from pycrash.kernel.stackmem import StackMemory, cpu_regions, task_region
    from pycrash.kernel.unwind_x86_64 import Start, add_markers, unwind

    index = orc_index(prog)
    if not index:
        raise ValueError("this kernel has no ORC unwind tables")
    is_text = _text_check(prog)
    calls = _call_sites(prog)
    regions = [task_region(task)]
    if regs is not None:
        regions += cpu_regions(prog, task_cpu(task))
    mem = StackMemory(prog, regions)
    if log:
        mem.log = []
    if regs is None:
        raws, note = unwind(mem, index, is_text, _sleeping_start(prog, task, mem), calls)
        add_markers(mem, raws)
        return mem, raws, note
    stops = PANIC_STOPS if panic else NMI_STOPS
    for start in _stop_candidates(prog, mem, stops, mem.region(regs.get("sp", 0))):
        raws, note = unwind(mem, index, is_text, start, calls, saved=regs)
        if len(raws) >= 3:
            add_markers(mem, raws)
            return mem, raws, note
    start = Start(regs["ip"], regs["sp"], regs.get("bp", 0), regs["sp"], True, regs)
    raws, note = unwind(mem, index, is_text, start, calls)
    add_markers(mem, raws)
    return mem, raws, note


def _frame_name(prog: Program, pc: int, exact: bool) -> tuple[str, int | None, str | None]:
    """Return ``(function, offset, module)`` of a pc (a return address unless ``exact``),
    remembered per pc for the session (thousands of tasks share their return addresses)."""
    memo: dict[tuple[int, bool], tuple[str, int | None, str | None]] = prog.cache.setdefault(
        "pycrash_frame_names", {})
    found = memo.get((pc, exact))
    if found is not None:
        return found
    from pycrash.kernel.modtext import module_at
    from pycrash.kernel.symindex import find_symbol

    rng = module_at(prog, pc)
    module = rng.name if rng is not None else None
    try:
        sym = find_symbol(prog, pc if exact else pc - 1)
        found = (sys.intern(sym.name), pc - sym.address, module)
    except LookupError:
        found = (sys.intern(f"{pc:x}"), None, module)
    memo[(pc, exact)] = found
    return found


def _exception_of(prog: Program, regs: dict[str, int], addr: int | None) -> ExceptionFrame:
    values = {name: regs[member] for name, member in X86_64_REGS if member in regs}
    kernel_rip = None
    if not regs.get("cs", 0) & 3 and "ip" in regs:
        kernel_rip = symbolize_address(prog, regs["ip"])
    return ExceptionFrame(values, kernel_rip, addr)


def source_of(prog: Program, pc: int) -> tuple[str | None, int | None]:
    """Return the file and line of a pc as crash's ``bt -l`` shows them: a relative
    file name under the kernel's compilation directory."""
    from pycrash.kernel.symbols import source_line

    name, line = source_line(prog, pc)
    if name is not None:
        from pycrash.kernel.linetable import gdb_line
        from pycrash.kernel.modtext import module_at

        if module_at(prog, pc) is None:
            found = gdb_line(prog, pc)
            if found is not None and found[0]:
                name, line = found
    if name and not name.startswith("/"):
        from pycrash.kernel.compdir import comp_dir

        base = comp_dir(prog)
        if base:
            name = f"{base}/{name}"
    return name, line


def _frame_of(prog: Program, raw: Any, level: int, with_source: bool) -> Frame:
    """Return the named :class:`Frame` of a raw frame (file and line with ``with_source``)."""
    name, offset, module = _frame_name(prog, raw.pc, raw.interrupted)
    file = line = None
    if with_source:
        file, line = source_of(prog, raw.pc)
    return Frame(level=level, stack_addr=raw.slot, function=name, pc=raw.pc,
                 offset=offset, module=module, file=file, line=line, marker=raw.marker)


class ReplayMemo:
    """Sleeping tasks whose stacks agree where the unwinder looked are unwound once.

    An unwind is a deterministic function of the stack words it reads (return
    addresses, saved frame pointers, the registers of an entry) and of the
    kernel's ORC tables. The memo keeps, per saved stack-pointer offset, the words
    each unwind read (pointers into the task's own stack made relative to it) and
    its trace; another task whose stack holds the same words there gets the same
    trace, moved to its stack, with its own user registers. Thousands of tasks
    sleeping in the same system call unwind once.
    """

    #: traces kept per saved stack-pointer offset, and in all
    PER_KEY, LIMIT = 8, 20000

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.entries: dict[int, list[tuple[tuple[tuple[int, int, bool], ...], Trace]]] = {}
        self.count = 0

    @staticmethod
    def _relative(log: list[tuple[int, int]], base: int,
                  top: int) -> tuple[tuple[int, int, bool], ...]:
        return tuple((addr - base, value - base if base <= value < top else value,
                      base <= value < top) for addr, value in log)

    def _bounds(self, task: Object) -> tuple[int, int, int]:
        """Return the task's stack ``(base, top)`` and its saved stack pointer's offset."""
        from pycrash.kernel.tasks import stack_bounds

        base, top = stack_bounds(task)
        return base, top, task.thread.sp.value_() - base

    def replay(self, task: Object) -> Trace | None:
        """Return the trace of a sleeping task from an unwind whose words its stack
        repeats, or None."""
        from pycrash.kernel.stackmem import StackMemory, task_region

        base, top, key = self._bounds(task)
        candidates = self.entries.get(key)
        if not candidates:
            return None
        mem = StackMemory(self.prog, [task_region(task)])
        for reads, trace in candidates:
            if all((value + base if inside else value) == mem.word(off + base)
                   for off, value, inside in reads):
                return self._moved(trace, base, mem)
        return None

    def _moved(self, trace: Trace, base: int, mem: Any) -> Trace:
        from dataclasses import replace

        from pycrash.kernel.unwind_x86_64 import read_pt_regs

        frames = []
        for f in trace.frames:
            exc = f.exception
            if exc is not None and exc.address is not None:
                regs = read_pt_regs(mem, exc.address + base)  # this task's own registers
                exc = (_exception_of(self.prog, regs, exc.address + base) if regs is not None
                       else replace(exc, address=exc.address + base))
            frames.append(replace(f, stack_addr=None if f.stack_addr is None
                                  else f.stack_addr + base, exception=exc))
        return Trace(frames, trace.note)

    def remember(self, task: Object, mem: Any, trace: Trace) -> None:
        """Keep a sleeping task's trace and the words its unwind read."""
        if mem.log is None or trace.note is not None or self.count >= self.LIMIT:
            return  # a note names this stack's addresses: never another task's
        base, top, key = self._bounds(task)
        if any(not base <= addr < top for addr, _v in mem.log):
            return
        candidates = self.entries.setdefault(key, [])
        if len(candidates) >= self.PER_KEY:
            return
        moved = self._moved(trace, -base, _NoRegs())
        candidates.append((self._relative(mem.log, base, top), moved))
        self.count += 1


class _NoRegs:
    """A stack with no words: makes :meth:`ReplayMemo._moved` keep register blocks."""

    def region(self, addr: int) -> None:
        return None


def _replay_memo(prog: Program) -> ReplayMemo:
    return per_program(prog, "pycrash_replay_memo", lambda: ReplayMemo(prog))


def engine_trace(prog: Program, task: Object, regs: dict[str, int] | None = None,
                 panic: bool = False, with_source: bool = False) -> Trace:
    """Return crash's frames of a ``struct task_struct *`` from pycrash's ORC engine.

    ``regs`` (pt_regs member names: ``ip``, ``sp``, ``bp``...) are the registers
    its CPU saved at the crash when the task was running; ``panic`` says the task
    is the one that panicked (its trace starts in ``machine_kexec``; another
    running task's starts in the NMI handler that stopped its CPU, when found).
    A sleeping task starts from its saved ``thread.sp``. ``with_source`` adds
    each frame's file and line. Raises :class:`ValueError` when the kernel has
    no ORC tables or the task's saved state is unreadable.
    """
    memo = None if regs is not None or with_source else _replay_memo(prog)
    if memo is not None:
        found = memo.replay(task)
        if found is not None:
            return found
    mem, raws, note = _raw_trace(prog, task, regs, panic, log=memo is not None)
    out: list[Frame] = []
    for raw in raws:
        frame = _frame_of(prog, raw, len(out), with_source)
        if raw.regs is not None:
            frame.exception = _exception_of(prog, raw.regs, raw.regs_addr)
            if with_source and frame.exception.kernel_rip:
                efile, eline = source_of(prog, raw.regs["ip"])
                if efile:
                    frame.exception.source = f"{efile}: {eline}"
        out.append(frame)
    trace = Trace(out, note)
    if memo is not None:
        memo.remember(task, mem, trace)
    return trace


# -- what bt -F, -v and -R look at -------------------------------------------------

#: The word the kernel writes at the far end of every task's stack (``STACK_END_MAGIC``)
STACK_END_MAGIC = 0x57AC6E9D


def stack_overflow(task: Object) -> str | None:
    """Return why a task's stack looks overflowed (its end marker is overwritten), or None.

    The kernel writes ``STACK_END_MAGIC`` at the lowest word of each task's stack
    (``end_of_stack()``); a deep call chain that ran past it overwrites it.
    """
    base = task.stack.value_()
    try:
        value = task.prog_.read_u64(base)
    except FaultError as exc:
        return f"cannot read the end of the stack at {base:x}: {exc.message}"
    if value != STACK_END_MAGIC:
        return f"{base:x}: {value:x} != STACK_END_MAGIC"
    return None


def _init_range(prog: Program) -> tuple[int, int]:
    """Return ``[__init_begin, __init_end)``, the kernel's init sections (or an empty range)."""
    def make() -> tuple[int, int]:
        try:
            return (prog.symbol("__init_begin").address, prog.symbol("__init_end").address)
        except LookupError:
            return (0, 0)

    return per_program(prog, "pycrash_init_range", make)


def describe_word(prog: Program, value: int, with_address: bool = False,
                  slabs: bool = True) -> str | None:
    """Return how crash's ``bt -F`` shows a stack word, or None to show it in hex.

    A kernel or module address is ``symbol+offset``; with ``slabs``, a pointer
    into a slab object is ``[cache]`` (``[object:cache]`` with ``with_address``,
    crash's ``-FF``).
    """
    value = code_address(prog, value)
    if value < 1 << 63 or value == (1 << 64) - 1:
        return None
    from pycrash.kernel.modtext import module_at
    from pycrash.kernel.symindex import find_symbol

    init = _init_range(prog)
    if init[0] <= value < init[1]:
        return None  # init code and data were freed after boot: crash shows them in hex
    for probe in (value, value - 1):  # a return address just past a noreturn call
        try:
            sym = find_symbol(prog, probe)
        except LookupError:
            continue
        if probe < sym.address + max(sym.size, 1) or module_at(prog, probe) is not None:
            off = value - sym.address
            return f"{sym.name}+{off}" if off else sym.name
    if not slabs:
        return None
    from pycrash.kernel.slabs import slab_cache_of

    hit = slab_cache_of(prog, value)
    if hit is None:
        return None
    _obj, name = hit
    return f"[{value:x}:{name}]" if with_address else f"[{name}]"


def text_entries(prog: Program, lo: int, hi: int) -> list[tuple[int, int, str, str | None]]:
    """Return ``(slot, value, function, module)`` for each kernel or module text address
    stored in ``[lo, hi)`` of a stack (crash's ``bt -t`` and ``-T``)."""
    from pycrash.kernel.stackmem import StackMemory, StackRegion

    is_text = _text_check(prog)
    mem = StackMemory(prog, [StackRegion(lo, hi, None)])
    out = []
    for slot, raw in mem.words(mem.regions[0]):
        value = code_address(prog, raw)
        if value >= 1 << 63 and is_text(value):
            name, _off, module = _frame_name(prog, value, True)
            if name == f"{value:x}":
                name, _off, module = _frame_name(prog, value, False)
            out.append((slot, value, name, module))
    return out


# -- arm64 -------------------------------------------------------------------------


def _arm64_layout(prog: Program) -> Any:
    from pycrash.kernel.unwind_arm64 import PtRegsLayout

    def make() -> PtRegsLayout:
        t = prog.type("struct pt_regs")
        return PtRegsLayout(t.size, *(t.member(m).offset for m in (
            "sp", "pc", "pstate", "orig_x0", "syscallno", "stackframe")))

    return per_program(prog, "pycrash_arm64_pt_regs", make)


def code_address(prog: Program, value: int) -> int:
    """Return ``value`` as a kernel code address: on arm64 without the pointer-authentication
    bits a signed return address carries (``e0d3c59431ab9180`` -> ``ffffc59431ab9180``);
    elsewhere unchanged."""
    if value < 1 << 55 or prog.platform is None or prog.platform.arch.name != "AARCH64":
        return value
    from pycrash.kernel.unwind_arm64 import pac_stripper

    strip = per_program(prog, "pycrash_pac_strip", lambda: pac_stripper(_va_bits(prog)))
    return int(strip(value))


def _va_bits(prog: Program) -> int:
    """Return the kernel's virtual address width (48 unless the kernel says otherwise)."""
    for key in ("vabits_actual", "vabits_user"):
        try:
            return int(prog[key].value_())
        except (KeyError, LookupError, FaultError):
            continue
    info = ""
    try:
        info = prog["vmcoreinfo_data"].string_().decode("utf-8", "replace")
    except (KeyError, LookupError, FaultError, ValueError):
        pass
    import re

    m = re.search(r"NUMBER\(VA_BITS\)=(\d+)", info)
    return int(m.group(1)) if m else 48


def engine_trace_arm64(prog: Program, task: Object, regs: dict[str, int] | None = None,
                       with_source: bool = False) -> Trace:
    """Return crash-style frames of a ``struct task_struct *`` on arm64, from its frame
    records. ``regs`` (``pc``, ``fp``) are what its CPU saved at the crash when it was
    running; a sleeping task starts from ``thread.cpu_context``."""
    from drgn.helpers.linux.sched import task_cpu

    from pycrash.kernel.stackmem import StackMemory, cpu_regions, task_region
    from pycrash.kernel.unwind_arm64 import crash_names, pac_stripper, unwind
    from pycrash.kernel.unwind_x86_64 import add_markers

    regions = [task_region(task)]
    if regs is not None:
        regions += cpu_regions(prog, task_cpu(task))
    mem = StackMemory(prog, regions)
    if regs is not None:
        pc, fp, exact = regs["pc"], regs["fp"], True
    else:
        ctx = task.thread.cpu_context
        pc, fp, exact = ctx.pc.value_(), ctx.fp.value_(), False
    strip = per_program(prog, "pycrash_pac_strip", lambda: pac_stripper(_va_bits(prog)))
    is_text = _text_check(prog)

    def name_of(addr: int) -> str:
        return _frame_name(prog, addr, True)[0]

    raws, note = unwind(mem, name_of, is_text, strip, _arm64_layout(prog), strip(pc), fp, exact)
    add_markers(mem, raws)
    out: list[Frame] = []
    for raw in raws:
        frame = _frame_of(prog, raw, len(out), with_source)  # arm64's raw pcs are exact
        if raw.regs is not None:
            named = crash_names(raw.regs)
            kernel = raw.regs["pstate"] & 0xF != 0
            pc_name = symbolize_address(prog, raw.regs["pc"]) if kernel else None
            lr_name = symbolize_address(prog, strip(raw.regs["x30"])) if kernel else None
            if kernel:
                named["LR"] = strip(raw.regs["x30"])
            frame.exception = ExceptionFrame(named, pc_name, raw.regs_addr, arch="arm64",
                                             names=(pc_name, lr_name))
        out.append(frame)
    return Trace(out, note)
