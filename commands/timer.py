"""timer: pending timers of each CPU's timer wheel; -r high-resolution timers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.timer import hrtimer_clock_base_for_each, timer_base_for_each

from pycrash.cmdlib.resolve import symbol_name
from pycrash.command import Result, arg, command
from pycrash.kernel.walk import WalkError, bounded, collect, note
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Timer:
    """A pending kernel timer: its base (timer_bases[] index, or hrtimer clock base), when
    it expires (jiffies; ns for hrtimers), its timer_list or hrtimer, and its function with
    the function's symbol."""

    base: int
    expires: int
    timer: Hex
    function: Hex
    function_symbol: str | None


@dataclass(frozen=True)
class CpuTimers:
    """One CPU's pending timers, soonest first, and the jiffies count of the dump."""

    cpu: int
    jiffies: int
    timers: tuple[Timer, ...]


@dataclass(frozen=True)
class TimerView:
    """Whether timer shows hrtimers (-r, no JIFFIES header) or the timer wheel."""

    hrtimers: bool


def render(result: Result) -> Iterable[str]:
    """crash's timer output: JIFFIES (not for -r), then each CPU's pending timers."""
    if not result.view.hrtimers and result.rows:
        yield f"JIFFIES\n{result.rows[0].jiffies}"
    for q in result.rows:
        if not q.timers:
            continue
        yield f"TIMER_BASES[{q.cpu}]"
        yield "  EXPIRES        TIMER_LIST        FUNCTION"
        for t in q.timers:
            yield f"  {t.expires:<12}  {t.timer:016x}  {t.function_symbol or f'{t.function:x}'}"


@command(
    "timer",
    summary="timer queue data",
    synopsis="timer [-r]",
    description="""
Lists each CPU's pending timer_list timers (expiry in jiffies, the timer and
its function), soonest first; -r lists the high-resolution timers instead
(expiry in ns).
""",
    examples="crash> timer\ncrash> timer -r",
    arguments=(arg("-r", dest="hrtimers", action="store_true", help="hrtimers"),),
    records=(CpuTimers, Timer),
)
def timer(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`CpuTimers` per online CPU."""
    prog = session.prog
    jiffies = prog["jiffies"].value_()
    rows = []
    errors: list[str] = []
    for cpu in for_each_online_cpu(prog):
        found: list[Timer] = []
        if args.hrtimers:
            bases = per_cpu(prog["hrtimer_bases"], cpu).clock_base
            for i in range(len(bases)):
                try:
                    for t in bounded(hrtimer_clock_base_for_each(bases[i].address_of_()),
                                     f"the hrtimer queue {i} of CPU {cpu}"):
                        found.append(_timer(prog, i, t.node.expires.value_(), t))
                except WalkError as exc:
                    if exc.fault is None:  # a loop (an unreadable queue is skipped)
                        note(errors, str(exc))
                except (FaultError, LookupError):
                    continue
        else:
            bases = per_cpu(prog["timer_bases"], cpu)
            for i in range(len(bases)):
                for t in collect(bounded(timer_base_for_each(bases[i].address_of_()),
                                         f"the timer wheel {i} of CPU {cpu}"), errors):
                    found.append(_timer(prog, i, t.expires.value_(), t))
        found.sort(key=lambda t: t.expires)
        rows.append(CpuTimers(cpu, jiffies, tuple(found)))
    return Result(rows, render=render, errors=errors, view=TimerView(args.hrtimers))


def _timer(prog: Program, base: int, expires: int, timer: Object) -> Timer:
    """Return the :class:`Timer` of a ``struct timer_list *`` or ``struct hrtimer *``."""
    function = timer.function.value_()
    return Timer(base, expires, timer.value_(), function, symbol_name(prog, function))
