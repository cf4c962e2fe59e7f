"""timer: pending timers of each CPU's timer wheel; -r high-resolution timers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.timer import hrtimer_clock_base_for_each, timer_base_for_each

from pycrash.cmdlib.render import center
from pycrash.cmdlib.select import cpu_mask, dump_cpus
from pycrash.command import Result, arg, command
from pycrash.kernel.walk import WalkError, bounded, collect, note
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Timer:
    """A pending kernel timer: when it expires (jiffies; ns for an hrtimer, with its soft
    expiry), its time to expire (``tte``: the expiry less the base's current time, jiffies
    or ns, negative when overdue), its timer_list or hrtimer, and its function with the
    function's symbol."""

    expires: int
    tte: int
    timer: Hex
    function: Hex
    function_symbol: str | None
    soft_expires: int | None = None


@dataclass(frozen=True)
class TimerBase:
    """One base of a CPU's timers: a timer wheel (``BASE_STD``, ``BASE_DEF``: its struct
    timer_base) or an hrtimer clock base (``CLOCK: N``: its struct hrtimer_clock_base, the
    clock's get_time function and the base's current time in ns), and its pending timers,
    soonest first."""

    name: str
    address: Hex
    timers: tuple[Timer, ...]
    get_time: str | None = None
    now: int = 0


@dataclass(frozen=True)
class CpuTimers:
    """One CPU's timer bases (its struct hrtimer_cpu_base with -r) and the jiffies count
    of the dump."""

    cpu: int
    jiffies: int
    bases: tuple[TimerBase, ...]
    address: Hex = 0


@dataclass(frozen=True)
class TimerView:
    """Whether timer shows hrtimers (-r, no JIFFIES header) or the timer wheel."""

    hrtimers: bool


def _wheel_lines(b: TimerBase, cpu: int, jiffies_width: int) -> Iterable[str]:
    yield f"TIMER_BASES[{cpu}][{b.name}]: {b.address:x}"
    tlen = max(len(str(max((abs(t.tte) for t in b.timers), default=0))) + 1, 3)
    yield f"  {'EXPIRES':<{jiffies_width}}     {'TTE':<{tlen}}     TIMER_LIST     FUNCTION"
    for t in b.timers:
        yield (f"  {t.expires:>{jiffies_width}}  {t.tte:>{tlen}}  "
               f"{center(f'{t.timer:>16x}', 16)}  {t.function:>16x}  "
               f"<{t.function_symbol or ''}>")
    if not b.timers:
        yield "  (none)"


def _hrtimer_lines(b: TimerBase) -> Iterable[str]:
    yield f"  {b.name}  HRTIMER_CLOCK_BASE: {b.address:x}  [{b.get_time or ''}]"
    if not b.timers:
        yield "  (empty)"
        return
    last = b.timers[-1]  # crash sizes the columns to the last timer's numbers
    elen = max(len(str(last.expires)), 7)
    slen = max(len(str(last.soft_expires)), 11) if last.soft_expires is not None else -1
    tlen = len(str(last.tte))
    first = slen if slen > 0 else elen
    yield f"  {center('CURRENT', first, True)}"
    yield f"  {center(str(b.now), first, True)}"
    soft = f"{center('SOFTEXPIRES', slen, True)}  " if slen > 0 else ""
    yield (f"  {soft}{center('EXPIRES', elen, True)}  {center('TTE', tlen, True)}  "
           f"{center('HRTIMER', 16)}  {center('FUNCTION', 16)}")
    for t in b.timers:
        soft = f"{center(str(t.soft_expires), slen, True)}  " if slen > 0 else ""
        yield (f"  {soft}{center(str(t.expires), elen, True)}  {t.tte:>{tlen}}  "
               f"{t.timer:x}  {t.function:x}  <{t.function_symbol or ''}>")


def render(result: Result) -> Iterable[str]:
    """crash's timer output: JIFFIES, then each CPU's timer wheels (BASE_STD, BASE_DEF)
    with each timer's expiry, time to expire, timer_list and function; with -r each
    CPU's hrtimer clock bases with their current time and their hrtimers."""
    if result.view.hrtimers:
        for i, q in enumerate(result.rows):
            if i:
                yield ""
            yield f"CPU: {q.cpu}  HRTIMER_CPU_BASE: {q.address:x}"
            for j, b in enumerate(q.bases):
                if j:
                    yield ""
                yield from _hrtimer_lines(b)
        return
    if not result.rows:
        return
    jiffies = result.rows[0].jiffies
    width = max(len(str(jiffies)), len("JIFFIES"))
    yield f"{'JIFFIES':<{width}}"
    yield f"{jiffies:>{width}}"
    yield ""
    for i, q in enumerate(result.rows):
        if i:
            yield ""
        for b in q.bases:
            yield from _wheel_lines(b, q.cpu, width)


@command(
    "timer",
    summary="timer queue data",
    synopsis="timer [-r] [-C cpu]",
    description="""
Lists each CPU's timer wheels (BASE_STD and, where timers can migrate, BASE_DEF),
each pending timer_list with its expiry in jiffies, its time to expire (TTE,
negative when overdue), the timer and its function, soonest first. -r lists each
CPU's high-resolution timer clock bases instead: the base's current time and
each hrtimer's soft and hard expiry, time to expire (ns), hrtimer and function.
-C cpu[,cpu|-cpu|all] restricts either to those CPUs.
""",
    examples="crash> timer\ncrash> timer -r -C 1",
    arguments=(arg("-r", dest="hrtimers", action="store_true", help="hrtimers"),
               arg("-C", dest="cpus", metavar="cpu", help="only these CPUs")),
    records=(CpuTimers, TimerBase, Timer),
)
def timer(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`CpuTimers` per CPU."""
    prog = session.prog
    jiffies = prog["jiffies"].value_()
    cpus = cpu_mask(prog, args.cpus) if args.cpus is not None else dump_cpus(prog)
    errors: list[str] = []
    if args.hrtimers:
        rows = [_hrtimer_cpu(prog, cpu, jiffies, errors) for cpu in cpus]
    else:
        rows = [_wheel_cpu(prog, cpu, jiffies, errors) for cpu in cpus]
    return Result(rows, render=render, errors=errors, view=TimerView(args.hrtimers))


#: the names of a CPU's timer wheels, by their number (6.10 split BASE_STD in two)
BASE_NAMES = {1: ("BASE_STD",), 2: ("BASE_STD", "BASE_DEF"),
              3: ("BASE_LOCAL", "BASE_GLOBAL", "BASE_DEF")}


def _wheel_cpu(prog: Program, cpu: int, jiffies: int, errors: list[str]) -> CpuTimers:
    """A CPU's timer wheels: BASE_STD, and BASE_DEF where the kernel can migrate timers
    (``sysctl_timer_migration``), as crash shows them (6.10's BASE_LOCAL, BASE_GLOBAL
    and BASE_DEF by those names)."""
    bases = per_cpu(prog["timer_bases"], cpu)
    count = len(bases) if _has_symbol(prog, "sysctl_timer_migration") else 1
    names = BASE_NAMES.get(count, tuple(f"BASE_{i}" for i in range(count)))
    out = []
    for i in range(count):
        found = []
        for t in collect(bounded(timer_base_for_each(bases[i].address_of_()),
                                 f"the timer wheel {i} of CPU {cpu}"), errors):
            expires = t.expires.value_()
            found.append(_timer(prog, expires, _signed(expires - jiffies), t))
        found.sort(key=lambda t: t.expires)  # stable: the wheel's order for ties
        out.append(TimerBase(names[i], bases[i].address_of_().value_(), tuple(found)))
    return CpuTimers(cpu, jiffies, tuple(out))


def _hrtimer_cpu(prog: Program, cpu: int, jiffies: int, errors: list[str]) -> CpuTimers:
    """A CPU's hrtimer clock bases, each with its current time as crash reckons it: the
    jiffies since boot in ns, plus the base's offset."""
    from pycrash.kernel.system import hz

    rate = hz(prog) or 250
    uptime_ns = ((jiffies - ((1 << 32) - 300 * rate)) & ((1 << 64) - 1)) * (10**9 // rate)
    cpu_base = per_cpu(prog["hrtimer_bases"], cpu)
    clocks = cpu_base.clock_base
    out = []
    for i in range(len(clocks)):
        base = clocks[i]
        try:
            offset = base.offset.value_()
        except AttributeError:
            offset = 0
        now = uptime_ns + offset
        found = []
        try:
            for t in bounded(hrtimer_clock_base_for_each(base.address_of_()),
                             f"the hrtimer queue {i} of CPU {cpu}"):
                expires = t.node.expires.value_()
                soft = t._softexpires.value_() if hasattr(t, "_softexpires") else None
                found.append(_timer(prog, expires, expires - now, t, soft))
        except WalkError as exc:
            if exc.fault is None:  # a loop (an unreadable queue is shown empty)
                note(errors, str(exc))
        except (FaultError, LookupError):
            pass
        get_time = base.get_time.value_()
        out.append(TimerBase(f"CLOCK: {i}", base.address_of_().value_(), tuple(found),
                             _symbol(prog, get_time) if get_time else None, now))
    return CpuTimers(cpu, jiffies, tuple(out), cpu_base.address_of_().value_())


def _has_symbol(prog: Program, name: str) -> bool:
    """Whether the kernel's symbol table has ``name`` (crash's kernel_symbol_exists())."""
    try:
        prog.symbol(name)
    except LookupError:
        return False
    return True


def _signed(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _symbol(prog: Program, address: int) -> str | None:
    """``name`` or ``name+offset``, as crash's value_to_symstr() writes it."""
    from pycrash.kernel.symindex import find_symbol

    try:
        sym = find_symbol(prog, address)
    except LookupError:
        return None
    off = address - sym.address
    return f"{sym.name}+{off}" if off else sym.name


def _timer(prog: Program, expires: int, tte: int, timer: Object,
           soft: int | None = None) -> Timer:
    """Return the :class:`Timer` of a ``struct timer_list *`` or ``struct hrtimer *``."""
    function = timer.function.value_()
    return Timer(expires, tte, timer.value_(), function, _symbol(prog, function), soft)
