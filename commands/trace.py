"""trace: the ftrace ring buffer of the global trace array, as /sys/kernel/tracing/trace
shows it, and dumped for trace-cmd (crash's trace extension)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Program

from pycrash.cmdlib.select import parse_cpus
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.ftrace import (
    CpuBuffer,
    Decoder,
    cmdline_table,
    cpu_buffers,
    format_entry,
    format_file,
    header_event,
    header_page,
    kallsyms,
    kernel_decoder,
    lat_flags,
    printk_formats,
    ring_page_size,
    saved_comms,
)
from pycrash.kernel.tracedat import TraceData, trace_dat
from pycrash.kernel.walk import WalkError
from pycrash.records import Hex
from pycrash.session import Session

HEADER = """\
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |"""


@dataclass(frozen=True)
class TraceEvent:
    """A ring buffer entry: CPU, time stamp (ns), task pid and command (the tracer's saved
    name), trace_entry flags and preempt count, and what the entry says (the function
    line, message or event)."""

    cpu: int
    timestamp: int
    pid: int
    comm: str
    flags: Hex
    preempt_count: int
    text: str


@dataclass(frozen=True)
class TraceCpu:
    """A CPU's ring buffer: entries in it, and entries written (with those overrun)."""

    cpu: int
    entries: int
    written: int


@dataclass(frozen=True)
class TraceBuffer:
    """The global trace array's buffer: its tracer, its CPUs, and its entries in time
    order (of the CPUs asked for)."""

    tracer: str
    cpus: tuple[TraceCpu, ...]
    events: tuple[TraceEvent, ...]


@dataclass(frozen=True)
class TraceTracer:
    """``trace`` alone: the current tracer."""

    tracer: str


@dataclass(frozen=True)
class TraceDumpCpu:
    """A CPU's part of a dump: its ring buffer pages written and their events."""

    cpu: int
    pages: int
    events: int


@dataclass(frozen=True)
class TraceDump:
    """What ``trace dump`` wrote: the trace.dat file (-t) or the directory, its CPUs, the
    event formats and saved command lines it holds."""

    path: str
    trace_dat: bool
    cpus: tuple[TraceDumpCpu, ...]
    formats: int
    cmdlines: int


def render(result: Result) -> Iterable[str]:
    """``trace show``: the text of /sys/kernel/tracing/trace (the header with entries in
    buffer / written, then one line per entry); ``trace``: the current tracer; ``trace
    dump``: nothing, as crash."""
    for buf in result.rows:
        if isinstance(buf, TraceTracer):
            yield f"current tracer is {buf.tracer}"
            continue
        if not isinstance(buf, TraceBuffer):
            continue
        entries = sum(c.entries for c in buf.cpus)
        written = sum(c.written for c in buf.cpus)
        yield f"# tracer: {buf.tracer}"
        yield "#"
        yield f"# entries-in-buffer/entries-written: {entries}/{written}   #P:{len(buf.cpus)}"
        yield from HEADER.splitlines()
        for e in buf.events:
            secs, usecs = divmod((e.timestamp + 500) // 1000, 1000000)  # ns2usecs rounds
            yield (f"{e.comm:>16}-{e.pid:<7} [{e.cpu:03d}] "
                   f"{lat_flags(e.flags, e.preempt_count)} {secs:5d}.{usecs:06d}: {e.text}")


def _symbol(prog: Program, addr: int) -> str:
    try:
        return prog.symbol(addr).name
    except LookupError:
        return f"0x{addr:x}"


def _offset_symbol(prog: Program, addr: int) -> str:
    """%pS: ``name+0xoff/0xsize``."""
    try:
        sym = prog.symbol(addr)
    except LookupError:
        return f"0x{addr:x}"
    return f"{sym.name}+0x{addr - sym.address:x}/0x{sym.size:x}"


def _buffers(prog: Program) -> tuple[str, list[CpuBuffer]]:
    try:
        return cpu_buffers(prog)
    except KeyError as exc:
        raise CommandError("the kernel has no ftrace (global_trace not found)") from exc
    except (FaultError, WalkError) as exc:
        raise CommandError(f"cannot read the ftrace ring buffer: {exc}") from exc


def _decoder(prog: Program) -> Decoder:
    try:
        return kernel_decoder(prog, lambda a: _symbol(prog, a),
                              lambda a: _offset_symbol(prog, a))
    except (FaultError, WalkError) as exc:
        raise CommandError(f"cannot read the trace event types: {exc}") from exc


def _show(session: Session, cpus: str | None) -> Result:
    prog = session.prog
    tracer, buffers = _buffers(prog)
    wanted = set(parse_cpus(prog, cpus)) if cpus else None
    events: list[TraceEvent] = []
    if any(b.events for b in buffers):
        decoder = _decoder(prog)
        try:
            comm = saved_comms(prog)
        except (KeyError, FaultError):
            def comm(pid: int) -> str:
                return "<idle>" if pid == 0 else "<...>"
        for b in buffers:
            if wanted is not None and b.cpu not in wanted:
                continue
            for raw in b.events:
                pid, flags, preempt, text = format_entry(raw.data, decoder)
                events.append(TraceEvent(b.cpu, raw.ts, pid, comm(pid), flags, preempt, text))
        events.sort(key=lambda e: (e.timestamp, e.cpu))
    cpu_rows = tuple(TraceCpu(b.cpu, b.entries, b.written) for b in buffers)
    return Result([TraceBuffer(tracer, cpu_rows, tuple(events))], render=render)


def _event_files(decoder: Decoder) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The ftrace system's format files, and every other system's (by system, each
    system's events by id)."""
    systems: dict[str, list[str]] = {}
    for _id, event in sorted(decoder.events.items()):
        systems.setdefault(event.system or "ftrace", []).append(
            format_file(event, decoder.common))
    ftrace = systems.pop("ftrace", [])
    return ftrace, sorted(systems.items())


def _cmdlines(prog: Program) -> list[tuple[int, str]]:
    try:
        return cmdline_table(prog)
    except (KeyError, FaultError):
        return []


def _dump_dat(session: Session, path: str) -> Result:
    prog = session.prog
    _tracer, buffers = _buffers(prog)
    decoder = _decoder(prog)
    ftrace, systems = _event_files(decoder)
    cmdlines = _cmdlines(prog)
    data = TraceData(ring_page_size(prog), header_page(prog), header_event(), ftrace, systems,
                     kallsyms(prog), printk_formats(prog),
                     "".join(f"{pid} {name}\n" for pid, name in cmdlines),
                     [b.pages for b in buffers])
    try:
        with open(path, "wb") as out:
            for chunk in trace_dat(data):
                out.write(chunk)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from exc
    cpus = tuple(TraceDumpCpu(b.cpu, len(b.pages), len(b.events)) for b in buffers)
    formats = len(ftrace) + sum(len(f) for _s, f in systems)
    return Result([TraceDump(path, True, cpus, formats, len(cmdlines))], render=render)


def _write(path: str, content: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)


def _dump_dir(session: Session, path: str, meta: bool, symbols: bool) -> Result:
    """crash's ``trace dump [-sm] DIR``: per_cpu/cpuN/trace_pipe_raw (the CPU's ring
    buffer pages), with -m the event formats and saved_cmdlines, with -s kallsyms."""
    prog = session.prog
    _tracer, buffers = _buffers(prog)
    try:
        os.mkdir(path)
    except FileExistsError:
        raise CommandError(f"mkdir: {path} exists") from None
    except OSError as exc:
        raise CommandError(f"cannot create {path}: {exc.strerror}") from exc
    formats = cmdlines = 0
    try:
        for b in buffers:
            cpu_dir = os.path.join(path, "per_cpu", f"cpu{b.cpu}")
            os.makedirs(cpu_dir)
            size = ring_page_size(prog)
            _write(os.path.join(cpu_dir, "trace_pipe_raw"),
                   b"".join(p[:size].ljust(size, b"\0") for p in b.pages))
        if meta:
            decoder = _decoder(prog)
            events = os.path.join(path, "events")
            os.makedirs(events)
            _write(os.path.join(events, "header_page"), header_page(prog))
            _write(os.path.join(events, "header_event"), header_event())
            for event in decoder.events.values():
                event_dir = os.path.join(events, event.system or "ftrace", event.name)
                os.makedirs(event_dir, exist_ok=True)
                _write(os.path.join(event_dir, "format"), format_file(event, decoder.common))
                formats += 1
            table = _cmdlines(prog)
            cmdlines = len(table)
            _write(os.path.join(path, "saved_cmdlines"),
                   "".join(f"{pid} {name}\n" for pid, name in table))
            _write(os.path.join(path, "printk_formats"), printk_formats(prog))
        if symbols:
            _write(os.path.join(path, "kallsyms"), kallsyms(prog))
    except OSError as exc:
        raise CommandError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    cpus = tuple(TraceDumpCpu(b.cpu, len(b.pages), len(b.events)) for b in buffers)
    return Result([TraceDump(path, False, cpus, formats, cmdlines)], render=render)


@command(
    "trace",
    summary="show or dump the tracing info",
    synopsis="trace [show [-c cpulist] | dump [-sm] [dir] | dump -t [trace.dat]]",
    description="""
trace      shows the current tracer.
show       prints the global trace array's ring buffer as the kernel's
           /sys/kernel/tracing/trace does: the tracer, entries in the buffer and
           entries written, then each entry in time order (all CPUs merged), the
           task names from the tracer's saved command lines: the function tracer's
           "func <-parent", trace_printk's and trace_marker's messages, and trace
           events as their own print formats (from the dump's ftrace_events list)
           print them (field=value for a format pycrash cannot evaluate). A buffer
           with no entries prints the header alone.
  -c cpulist  only the entries of these CPUs (the header still counts all).
report     the same as show.
dump [-sm] [dir]
           writes the ring buffers into dir (default dump_tracing_dir), laid out
           as the tracing directory: per_cpu/cpuN/trace_pipe_raw.
  -m       also the event formats (events/header_page, header_event,
           events/SYSTEM/EVENT/format), saved_cmdlines and printk_formats.
  -s       also kallsyms, the kernel's symbols.
dump -t [trace.dat]
           writes the ring buffers and all their metadata into a file that
           trace-cmd reads (default trace.dat): "trace-cmd report trace.dat".
""",
    examples="""
crash> trace
current tracer is function
crash> trace show -c 1
crash> trace dump -t /tmp/trace.dat
""",
    arguments=(arg("action", nargs="?", choices=("show", "report", "dump"),
                   metavar="show|report|dump"),
               arg("path", nargs="?", metavar="dir|file"),
               arg("-c", dest="cpus", metavar="cpulist"),
               arg("-t", dest="dat", action="store_true"),
               arg("-m", dest="meta", action="store_true"),
               arg("-s", dest="symbols", action="store_true")),
    records=(TraceBuffer, TraceCpu, TraceEvent, TraceTracer, TraceDump, TraceDumpCpu),
)
def trace(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`TraceBuffer` of the global trace array (show), the tracer, or
    what a dump wrote."""
    if args.action in ("show", "report"):
        if args.path or args.dat or args.meta or args.symbols:
            raise CommandError("show takes only -c cpulist")
        return _show(session, args.cpus)
    if args.cpus is not None:
        raise CommandError("-c is an option of show")
    if args.action == "dump":
        if args.dat:
            if args.meta or args.symbols:
                raise CommandError("-t writes a trace.dat: -s and -m do not apply")
            return _dump_dat(session, args.path or "trace.dat")
        return _dump_dir(session, args.path or "dump_tracing_dir", args.meta, args.symbols)
    if args.path or args.dat or args.meta or args.symbols:
        raise CommandError("options need show or dump")
    tracer, _buffers_ = _buffers(session.prog)
    return Result([TraceTracer(tracer)], render=render)
