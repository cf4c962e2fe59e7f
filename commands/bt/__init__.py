"""bt: backtraces of tasks, in crash's frame format."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from drgn import FaultError, Object, Program
from drgn.helpers.linux.sched import cpu_curr
from pycrash.commands.bt import search
from pycrash.commands.bt.text import BtView, OffsetMode, frame_line, register_lines

from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import dump_cpus, parse_cpus, select_tasks
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
    #: with -F/-FF: frame data words as crash names them (``symbol+off``, ``[cache]``)
    word_names: dict[int, str] = field(default_factory=dict)


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


def name_words(prog: Program, stack: TaskStack, addresses: bool) -> None:
    """Fill ``stack.word_names`` for its frame data as ``bt -F`` shows it (``addresses``:
    slab objects with their address, as ``-FF``)."""
    from pycrash.kernel.stack import describe_word

    for words in stack.frame_data.values():
        for w in words:
            if w not in stack.word_names:
                text = describe_word(prog, w, addresses)
                if text is not None:
                    stack.word_names[w] = text


def _stack_body(stack: TaskStack, view: BtView) -> Iterator[str]:
    for frame in stack.frames:
        if frame.marker:
            yield f"--- <{frame.marker}> ---"
        yield frame_line(frame, view.offsets)
        if view.lines and frame.file:
            yield f"    {frame.file}: {frame.line}"
        words = stack.frame_data.get(frame.level)
        if frame.exception is not None:
            yield from register_lines(frame.exception)
        if view.lines and frame.exception is not None and frame.exception.source:
            yield f"    {frame.exception.source}"
        if words:
            base = (frame.stack_addr or 0) + 8
            for i in range(0, len(words), 2):
                cells = " ".join(f"{stack.word_names[w]:<16}" if view.symbolic and
                                 w in stack.word_names else f"{w:016x}"
                                 for w in words[i : i + 2])
                yield f"    {base + i * 8:x}: {cells} "
    if stack.note:
        yield f"bt: the trace ends here: {stack.note}"


def render(result: Result) -> Iterable[str]:
    """crash's bt output: per task, its header, then its frames (or why there are none)."""
    view: BtView = result.view or BtView()
    return per_task(result.rows, partial(_stack_body, view=view), "bt", error_lines=False)


@dataclass(slots=True, eq=False)
class Overflow:
    """``bt -v``: a task whose stack end marker was overwritten, and how."""

    task: TaskId
    problem: str


def render_overflows(result: Result) -> Iterable[str]:
    """crash's bt -v: each task whose stack end was overwritten, or that none was."""
    if not result.rows:
        yield "No stack overflows detected"
    for row in result.rows:
        yield row.task.header()
        yield f"  possible stack overflow: {row.problem}"


def _references(stack: TaskStack, ref: str, value: int | None) -> bool:
    """Return whether a trace refers to ``ref``: a function in it, or (a hex
    ``value``) a frame's pc or stack slot, an exception register, or a frame word."""
    for f in stack.frames:
        if f.function == ref:
            return True
        if value is not None:
            if value in (f.pc, f.stack_addr):
                return True
            if f.exception is not None and value in f.exception.regs.values():
                return True
    if value is not None:
        return any(value in words for words in stack.frame_data.values())
    return False


def _old_style(session: Session, stack: TaskStack) -> None:
    """Replace a trace's frames with crash's ``-o`` view: frames 0 and 1 as the trace has
    them, then every kernel text address above that is not a function's first byte (a
    pointer to a function, not a return address): stale return addresses included, the
    exception blocks where the trace found them."""
    from pycrash.kernel.stack import Frame, text_entries
    from pycrash.kernel.symindex import find_symbol
    from pycrash.kernel.tasks import stack_bounds
    from pycrash.kernel.unwind_x86_64 import PT_REGS_SIZE

    frames = stack.frames
    if not frames or frames[0].stack_addr is None:
        return
    task = session.find_task(f"{stack.task.task:x}")[0]
    base, top = stack_bounds(task)
    first = frames[0]
    lo = first.stack_addr
    if lo is None or not base <= lo < top:
        return
    blocks = sorted((f.exception.address, f.exception) for f in frames
                    if f.exception is not None and f.exception.address is not None)
    # frames 0 and 1 as the trace has them (crash knows frame 0's size), then every
    # text address above frame 1's slot
    out: list[Frame] = [Frame(level=i, stack_addr=f.stack_addr, function=f.function, pc=f.pc,
                              offset=f.offset, module=f.module, exception=f.exception)
                        for i, f in enumerate(frames[:2])]
    start = out[-1].stack_addr
    if start is None or not base <= start < top:
        return
    blocks = [(a, exc) for a, exc in blocks if a > start]
    for slot, value, name, module in text_entries(session.prog, start + 8, top):
        if any(a <= slot < a + PT_REGS_SIZE for a, _exc in blocks):
            continue
        try:
            if find_symbol(session.prog, value).address == value:
                continue
        except LookupError:
            pass
        while blocks and blocks[0][0] < slot:  # a pt_regs passed: its block follows
            _a, exc = blocks.pop(0)
            if out[-1].exception is None:
                out[-1].exception = exc
        out.append(Frame(level=len(out), stack_addr=slot, function=name, pc=value,
                         offset=None, module=module))
    for _a, exc in blocks:
        if out[-1].exception is None:
            out[-1].exception = exc
    stack.frames = out
    stack.note = None


@command(
    "bt",
    summary="backtrace",
    synopsis="bt [-a|-c cpu(s)|-p|-t|-T|-r|-e|-E|-f|-F[F]|-l|-o|-v] [-R ref] [-s [-x|d]] "
             "[pid | task] ...",
    description="""
Displays a kernel stack backtrace of the current context (the panicking task
by default), or of each given pid or task address. Each frame shows its
level, the stack slot holding the return address, the function and the
address within it, and [module] for a module's code. Where the stack crosses
a system call or exception entry, the registers of the interrupted context
follow; where it crosses the IRQ or an exception stack, a line names the
stack it leaves (--- <IRQ stack> ---). The panic task's trace starts in
machine_kexec; the other CPUs' running tasks start in the NMI handler that
stopped them. pycrash unwinds with the kernel's own ORC tables, read from the
dump (modules need no debuginfo); a corrupt stack ends with a one-line note.

       -a  the stack traces of the active task on each CPU.
       -p  the stack trace of the panic task only.
   -c cpu  the active task on one or more CPUs ("3", "1,8,9", "1-23").
       -t  all text symbols found from the last known stack location to the top
           of the stack, after a START: line (helpful if the back trace fails).
       -T  all text symbols found from the base of the stack to the top.
       -r  the raw stack data, word by word.
       -l  file and line number of each stack trace text location.
       -e  search the stack for possible kernel and user mode exception frames.
       -E  search the IRQ stacks and the exception stacks of every CPU (or the -c
           CPUs) for possible exception frames; other arguments are ignored.
       -f  all stack data contained in each frame.
    -F[F]  like -f, with the data shown symbolically: symbol+offset, and a slab
           object as [cache] (-FF: [object:cache]).
       -o  the old backtrace method: every kernel text return address found on
           the stack, stale ones included.
       -v  check the kernel stack of every task (or the given ones) for an
           overwritten STACK_END_MAGIC, evidence of a stack overflow.
   -R ref  the stack trace only if it refers to this symbol or address.
       -s  symbol name plus its offset; -x in hexadecimal, -d in decimal.
""",
    records=(TaskStack, Overflow, *search.RECORDS),
    examples="""
crash> bt
PID: 139      TASK: ff276d7aeff10000  CPU: 1    COMMAND: "sh"
 #0 [ff76934f0050bb60] machine_kexec at ffffffff8666c62f
 #1 [ff76934f0050bbb8] __crash_kexec at ffffffff867646b7
 #2 [ff76934f0050bc78] panic at ffffffff86fcd06e
 #3 [ff76934f0050bcf8] sysrq_handle_crash at ffffffff86ca8a06
crash> bt -a          (the active task of every CPU)
crash> bt -l 1        (with file and line numbers)
crash> foreach bt -R do_wait      (every task whose trace passes through do_wait)
""",
    arguments=(
        arg("-a", dest="all_cpus", action="store_true",
            help="the active task on each CPU"),
        arg("-p", dest="panic", action="store_true", help="the panic task only"),
        arg("-f", dest="frame_data", action="store_true",
            help="display the stack data of each frame"),
        arg("-F", dest="symbolic", action="count", default=0,
            help="frame data shown symbolically (-FF: with slab object addresses)"),
        arg("-l", dest="lines", action="store_true", help="show file and line numbers"),
        arg("-c", dest="cpus", metavar="cpu[,cpu]", help="the active task of these CPUs"),
        arg("-t", dest="text", action="store_true",
            help="kernel text addresses found on the stack from the trace's start"),
        arg("-T", dest="alltext", action="store_true",
            help="kernel text addresses found on the whole stack"),
        arg("-r", dest="raw", action="store_true", help="the whole stack, word by word"),
        arg("-e", dest="exceptions", action="store_true",
            help="search the stack for exception frames"),
        arg("-E", dest="cpu_stacks", action="store_true",
            help="search the IRQ and exception stacks for exception frames"),
        arg("-o", dest="old", action="store_true",
            help="the old backtrace: every text return address on the stack"),
        arg("-v", dest="overflow", action="store_true",
            help="check every task's stack for an overflow"),
        arg("-R", dest="ref", metavar="ref",
            help="only stacks that refer to this symbol or address"),
        arg("-s", dest="sym_offsets", action="store_true", help="function+offset, decimal"),
        arg("-x", dest="hex_offsets", action="store_true", help="function+offset, hex"),
        arg("-d", dest="dec_offsets", action="store_true", help="function+offset, decimal"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def bt(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`TaskStack` per selected task (or the records of -t/-T/-r/-e/-E/-v)."""
    errors: list[str] = []
    tasks: list[Object] = []
    if args.cpu_stacks:
        cpus = (parse_cpus(session.prog, args.cpus) if args.cpus
                else dump_cpus(session.prog))
        return search.cpu_stacks(session, cpus)
    if args.cpus:
        tasks = [cpu_curr(session.prog, c) for c in parse_cpus(session.prog, args.cpus)]
    elif args.all_cpus:
        tasks = [cpu_curr(session.prog, cpu) for cpu in dump_cpus(session.prog)]
    elif args.specs:
        sel = select_tasks(session, args.specs)
        tasks, errors = sel.tasks, sel.errors
    elif args.panic:
        if session.panic_task is None:
            raise CommandError("no panic task in this dump")
        tasks = [session.panic_task]
    elif args.overflow:
        tasks = session.tasks()
    else:
        ctx = session.context
        if ctx is None:
            raise CommandError("no panic task and no context set: give a pid or task")
        tasks = [ctx]
    if args.overflow:
        from pycrash.kernel.stack import stack_overflow

        found = []
        for t in tasks:
            problem = stack_overflow(t)
            if problem is not None:
                found.append(Overflow(task_id(t), problem))
        return Result(found, render=render_overflows, errors=errors)
    if args.text or args.alltext or args.raw or args.exceptions:
        kind = (search.ScanKind.TEXT if args.text else search.ScanKind.ALLTEXT if args.alltext
                else search.ScanKind.RAW if args.raw else search.ScanKind.EXCEPTIONS)
        return search.search(session, tasks, kind, errors)
    want_data = args.frame_data or bool(args.symbolic) or bool(args.ref)
    rows = [stack_of(session, t, want_data, args.lines) for t in tasks]
    if args.lines:
        from pycrash.kernel.nodebug import needs_dwarf

        missing = needs_dwarf(session.prog, "file and line numbers (-l)")
        if missing:
            errors.append(missing)
    if args.ref:
        value = None
        try:
            value = int(args.ref, 16)
        except ValueError:
            try:
                value = session.prog.symbol(args.ref).address
            except LookupError:
                pass
        rows = [r for r in rows if _references(r, args.ref, value)]
        if not args.frame_data and not args.symbolic:
            for r in rows:
                r.frame_data = {}
    if args.old:
        for r in rows:
            _old_style(session, r)
    if args.symbolic:
        for r in rows:
            name_words(session.prog, r, args.symbolic > 1)
    # a task whose stack cannot be unwound: an error (stderr, a failed command), not output
    errors = [*errors, *(f"PID {r.task.pid}: {r.error}" for r in rows if r.error)]
    offsets = OffsetMode.HEX if args.hex_offsets else OffsetMode.DECIMAL \
        if (args.sym_offsets or args.dec_offsets) else OffsetMode.NONE
    return Result(rows, render=render, errors=errors,
                  view=BtView(args.lines, offsets, args.symbolic))
