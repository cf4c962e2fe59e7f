"""timer: pending timers of each CPU's timer wheel; -r high-resolution timers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.timer import hrtimer_clock_base_for_each, timer_base_for_each

from pycrash.command import Result, arg, command
from pycrash.kernel.stack import symbolize_address
from pycrash.session import Session


@dataclass(frozen=True)
class Timer:
    """A pending timer: CPU, base, expiry (jiffies, or ns for hrtimers), struct, function."""

    cpu: int
    base: str
    expires: int
    timer: int
    function: str


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
)
def timer(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Timer` per pending timer."""
    prog = session.prog
    rows = []
    for cpu in for_each_online_cpu(prog):
        if args.hrtimers:
            bases = per_cpu(prog["hrtimer_bases"], cpu).clock_base
            for i in range(len(bases)):
                try:
                    for t in hrtimer_clock_base_for_each(bases[i].address_of_()):
                        rows.append(Timer(cpu, f"clock {i}", t.node.expires.value_(),
                                          t.value_(), symbolize_address(prog,
                                                                        t.function.value_())))
                except (FaultError, LookupError):
                    continue
            continue
        bases = per_cpu(prog["timer_bases"], cpu)
        for i in range(len(bases)):
            for t in timer_base_for_each(bases[i].address_of_()):
                rows.append(Timer(cpu, f"base {i}", t.expires.value_(), t.value_(),
                                  symbolize_address(prog, t.function.value_())))
    rows.sort(key=lambda t: (t.cpu, t.expires))
    jiffies = prog["jiffies"].value_()

    def render(result: Result) -> Iterable[str]:
        if not args.hrtimers:
            yield f"JIFFIES\n{jiffies}"
        cpu = None
        for t in result.rows:
            if t.cpu != cpu:
                cpu = t.cpu
                yield f"TIMER_BASES[{cpu}]"
                yield "  EXPIRES        TIMER_LIST        FUNCTION"
            yield f"  {t.expires:<12}  {t.timer:016x}  {t.function}"

    return Result(rows, render=render)
