"""bt: backtraces of tasks, in crash's frame format."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.sched import cpu_curr

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.stack import Frame
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.session import Session


@dataclass(slots=True, eq=False)
class TaskStack:
    """One task's backtrace: its identity, its frames, or why it could not be unwound.

    ``frame_data`` (with ``-f``) maps a frame level to the stack words between
    that frame's slot and the next one's.
    """

    task: TaskId
    frames: list[Frame]
    error: str | None = None
    frame_data: dict[int, list[int]] = field(default_factory=dict)
    #: why the trace ended before the stack's end (a corrupt or unreadable stack)
    note: str | None = None


def stack_of(session: Session, task: Object, want_data: bool = False,
             with_source: bool = False) -> TaskStack:
    """Return the :class:`TaskStack` of a ``struct task_struct *``."""
    tid = task_id(task)
    try:
        trace = session.trace(task, with_source)
    except (ValueError, FaultError, LookupError) as exc:
        return TaskStack(tid, [], error=f"cannot unwind the stack: {exc}")
    frames = trace.frames
    stack = TaskStack(tid, frames, note=trace.note)
    if want_data:  # crash shows the words after a frame's slot up to the next frame's slot
        for cur, nxt in zip(frames, frames[1:], strict=False):
            if cur.stack_addr is None or nxt.stack_addr is None or nxt.marker:
                continue
            lo, hi = cur.stack_addr + 8, nxt.stack_addr + 8
            if not 0 < hi - lo <= 0x2000:
                continue
            try:
                raw = session.prog.read(lo, hi - lo)
            except FaultError:
                continue
            stack.frame_data[cur.level] = [
                int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)
            ]
    return stack


def frame_line(frame: Frame, offsets: str = "") -> str:
    """Return crash's ``#N [addr] function at pc`` line (with `` [module]`` when in one).

    ``offsets`` is ``s`` (decimal, as crash's -s), ``x`` or ``d`` to show
    ``function+offset``.
    """
    addr = f"{frame.stack_addr:016x}" if frame.stack_addr is not None else "?" * 16
    mod = f" [{frame.module}]" if frame.module else ""
    name = frame.function
    if offsets and frame.offset:
        name += f"+{frame.offset:#x}" if offsets == "x" else f"+{frame.offset}"
    return f"{'#' + str(frame.level):>3} [{addr}] {name} at {frame.pc:x}{mod}"


def exception_lines(frame: Frame) -> Iterable[str]:
    """Yield crash's register block for the exception after ``frame``."""
    exc = frame.exception
    if exc is None:
        return
    if exc.kernel_rip:
        yield f"    [exception RIP: {exc.kernel_rip}]"
    regs = exc.regs
    cells = [
        f"{name:>3}: {regs[name]:016x}"
        for name in ("RIP", "RSP", "RFLAGS", "RAX", "RBX", "RCX", "RDX", "RSI", "RDI",
                     "RBP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15")
        if name in regs
    ]
    if "RFLAGS" in regs:  # crash prints RFLAGS with 8 digits
        cells = [c if not c.startswith("RFLAGS") else f"RFLAGS: {regs['RFLAGS']:08x}"
                 for c in cells]
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


def stack_lines(stack: TaskStack, show_lines: bool = False,
                offsets: str = "") -> Iterable[str]:
    """Yield crash's ``bt`` output for one task."""
    yield stack.task.header()
    if stack.error:
        yield f"bt: {stack.error}"
        return
    for frame in stack.frames:
        if frame.marker:
            yield f"--- <{frame.marker}> ---"
        yield frame_line(frame, offsets)
        if show_lines and frame.file:
            yield f"    {frame.file}: {frame.line}"
        words = stack.frame_data.get(frame.level)
        if words:
            base = (frame.stack_addr or 0) + 8
            for i in range(0, len(words), 2):
                cells = " ".join(f"{w:016x}" for w in words[i : i + 2])
                yield f"    {base + i * 8:x}: {cells} "
        yield from exception_lines(frame)
    if stack.note:
        yield f"bt: the trace ends here: {stack.note}"


def _render(result: Result) -> Iterable[str]:
    show_lines = bool(result.options.get("lines"))
    offsets = str(result.options.get("offsets", ""))
    for i, stack in enumerate(result.rows):
        if i:
            yield ""
        yield from stack_lines(stack, show_lines, offsets)


@command(
    "bt",
    summary="backtrace",
    synopsis="bt [-a|-c cpu] [-f] [-l] [-t|-r|-e] [-s|-x|-d] [pid | task] ...",
    description="""
Displays a kernel stack backtrace of the current context (the panicking task
by default), or of each given pid or task address. Each frame shows its
level, the stack slot holding the return address, the function and the
address within it. Where the stack crosses a system call or exception
entry, the registers of the interrupted context follow.
""",
    examples="""
crash> bt
PID: 139      TASK: ff276d7aeff10000  CPU: 1    COMMAND: "sh"
 #0 [ff76934f0050bbb8] __crash_kexec at ffffffff8676475a
 #1 [ff76934f0050bc78] panic at ffffffff86fcd06e
 #2 [ff76934f0050bcf8] sysrq_handle_crash at ffffffff86ca8a06
crash> bt -a          (the active task of every CPU)
crash> bt -l 1        (with file and line numbers)
""",
    arguments=(
        arg("-a", dest="all_cpus", action="store_true",
            help="the active task on each CPU"),
        arg("-f", dest="frame_data", action="store_true",
            help="display the stack data of each frame"),
        arg("-l", dest="lines", action="store_true", help="show file and line numbers"),
        arg("-c", dest="cpus", metavar="cpu[,cpu]", help="the active task of these CPUs"),
        arg("-t", dest="text", action="store_true",
            help="kernel text addresses found on the stack"),
        arg("-r", dest="raw", action="store_true", help="the whole stack, word by word"),
        arg("-e", dest="exceptions", action="store_true",
            help="search the stack for exception frames"),
        arg("-s", dest="sym_offsets", action="store_true", help="function+offset, decimal"),
        arg("-x", dest="hex_offsets", action="store_true", help="function+offset, hex"),
        arg("-d", dest="dec_offsets", action="store_true", help="function+offset, decimal"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def bt(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`TaskStack` per selected task."""
    from drgn.helpers.linux.cpumask import for_each_online_cpu

    errors: list[str] = []
    tasks: list[Object] = []
    if args.cpus:
        from pycrash.kernel.tasks import parse_cpus

        tasks = [cpu_curr(session.prog, c) for c in parse_cpus(session.prog, args.cpus, "bt")]
    elif args.all_cpus:
        tasks = [cpu_curr(session.prog, cpu) for cpu in for_each_online_cpu(session.prog)]
    elif args.specs:
        for spec in args.specs:
            try:
                tasks.extend(session.find_task(spec))
            except CommandError as exc:
                errors.append(f"bt: {exc}")
    else:
        ctx = session.context
        if ctx is None:
            raise CommandError("bt: no panic task and no context set: give a pid or task")
        tasks = [ctx]
    if args.text or args.raw or args.exceptions:
        from pycrash.commands import bt_search

        kind = "text" if args.text else "raw" if args.raw else "exceptions"
        return bt_search.search(session, tasks, kind, errors)
    rows = [stack_of(session, t, args.frame_data, args.lines) for t in tasks]
    offsets = "x" if args.hex_offsets else "s" if (args.sym_offsets or args.dec_offsets) else ""
    return Result(rows, render=_render, errors=errors,
                  options={"lines": args.lines, "offsets": offsets})
