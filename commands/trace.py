"""trace: the ftrace ring buffer of the global trace array, as /sys/kernel/tracing/trace."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Program

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.ftrace import cpu_buffers, format_entry, kernel_decoder, lat_flags
from pycrash.kernel.tasks import comm
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
    """A ring buffer entry: CPU, time stamp (ns), task pid and command, trace_entry flags
    and preempt count, and what the entry says (the function line, message or event)."""

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
    order."""

    tracer: str
    cpus: tuple[TraceCpu, ...]
    events: tuple[TraceEvent, ...]


def render(result: Result) -> Iterable[str]:
    """The text of /sys/kernel/tracing/trace: the header (entries in buffer / written),
    then one line per entry."""
    for buf in result.rows:
        entries = sum(c.entries for c in buf.cpus)
        written = sum(c.written for c in buf.cpus)
        yield f"# tracer: {buf.tracer}"
        yield "#"
        yield f"# entries-in-buffer/entries-written: {entries}/{written}   #P:{len(buf.cpus)}"
        yield from HEADER.splitlines()
        for e in buf.events:
            secs, usecs = divmod(e.timestamp // 1000, 1000000)
            yield (f"{e.comm:>16}-{e.pid:<7} [{e.cpu:03d}] "
                   f"{lat_flags(e.flags, e.preempt_count)} {secs:5d}.{usecs:06d}: {e.text}")


def _comms(session: Session) -> dict[int, str]:
    names = {0: "<idle>"}
    for t in session.tasks():
        names.setdefault(t.pid.value_(), comm(t))
    return names


def _symbol(prog: Program, addr: int) -> str:
    try:
        return prog.symbol(addr).name
    except LookupError:
        return f"0x{addr:x}"


@command(
    "trace",
    summary="show the ftrace ring buffer",
    synopsis="trace show",
    description="""
show  prints the global trace array's ring buffer as the kernel's
      /sys/kernel/tracing/trace does: the tracer, entries in the buffer and
      entries written, then each entry in time order (all CPUs merged): the
      function tracer's "func <-parent", trace_printk's messages and trace
      events (sched_switch by its format, others as field=value). A buffer
      with no entries prints the header alone, "entries-in-buffer/entries-written:
      0/0".
""",
    examples="crash> trace show",
    arguments=(arg("action", choices=("show",), metavar="show"),),
    records=(TraceBuffer, TraceCpu, TraceEvent),
)
def trace(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`TraceBuffer` of the global trace array."""
    prog = session.prog
    try:
        tracer, buffers = cpu_buffers(prog)
    except KeyError as exc:
        raise CommandError("the kernel has no ftrace (global_trace not found)") from exc
    except (FaultError, WalkError) as exc:
        raise CommandError(f"cannot read the ftrace ring buffer: {exc}") from exc
    events: list[TraceEvent] = []
    if any(b.events for b in buffers):
        decoder = kernel_decoder(prog, lambda addr: _symbol(prog, addr))
        names = _comms(session)
        for b in buffers:
            for raw in b.events:
                pid, flags, preempt, text = format_entry(raw.data, decoder)
                events.append(TraceEvent(b.cpu, raw.ts, pid, names.get(pid, "<...>"),
                                         flags, preempt, text))
        events.sort(key=lambda e: (e.timestamp, e.cpu))
    cpus = tuple(TraceCpu(b.cpu, b.entries, b.written) for b in buffers)
    return Result([TraceBuffer(tracer, cpus, tuple(events))], render=render)
