"""runq: each CPU's run queue: the running task, then the RT and CFS queues."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError
from drgn.helpers.linux.sched import cpu_curr, cpu_rq

from pycrash.cmdlib.render import days_clock, days_width
from pycrash.cmdlib.select import dump_cpus, parse_cpus
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import schedtime
from pycrash.kernel.iterators import fair_tasks, rt_tasks
from pycrash.kernel.schedtime import CpuWatch, StallState, watchdog_touched
from pycrash.kernel.taskgroups import QueueEntry
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import WalkError, collect
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class QueuedTask:
    """A task waiting on a run queue: its priority and identity."""

    prio: int
    task: TaskId


@dataclass(frozen=True)
class RunQueue:
    """One CPU's run queue (struct rq): its address, clock (ns), the task running, the RT
    prio_array and CFS rb_root, and the tasks queued on each (the running one excluded)."""

    cpu: int
    rq: Hex
    clock: int
    current: TaskId
    rt_array: Hex
    cfs_root: Hex
    rt: tuple[QueuedTask, ...]
    cfs: tuple[QueuedTask, ...]


@dataclass(frozen=True)
class CpuRunTime:
    """runq -t and -m: a CPU's run queue clock (``rq->clock``, ns), the task it was
    running and when that task last came onto the CPU (``sched_info.last_arrival``, ns;
    0 for an idle task, which the scheduler never stamps)."""

    cpu: int
    rq_clock: int
    current: TaskId
    last_run: int


@dataclass(frozen=True)
class ClockLag:
    """runq -T: how far a CPU's run queue clock lags the most recent one (ns)."""

    cpu: int
    rq_clock: int
    lag_ns: int


@dataclass(frozen=True)
class Watchdogs:
    """runq -w: the system's lockup and stall state at the crash, and each CPU's."""

    system: StallState
    cpus: tuple[CpuWatch, ...]


@dataclass(frozen=True)
class GroupRunQueue:
    """runq -g: a CPU, the task it was running, the root task group, and the lines of its
    RT (with RT group scheduling) and CFS hierarchies on that CPU: each group's queue,
    the tasks queued in it (the current one marked), or none."""

    cpu: int
    current: TaskId
    root_group: Hex
    rt_rq: OptHex
    cfs_rq: OptHex
    rt: tuple[QueueEntry, ...]
    cfs: tuple[QueueEntry, ...]


def _group_task(e: QueueEntry) -> str:
    assert e.task is not None
    return (f'[{e.prio:3d}] PID: {e.task.pid:<5}  TASK: {e.task.task:x}  '
            f'COMMAND: "{e.task.comm}"' + (" [CURRENT]" if e.current else ""))


def _group_header(e: QueueEntry, kind: str) -> str:
    name = f" <{e.name}>" if e.name else ""
    sep = " " if kind == "CFS_RQ" else ""
    return (f"TASK_GROUP: {e.group or 0:x}  {kind}: {e.queue or 0:x}{sep}{name}"
            + (" (THROTTLED)" if e.throttled else ""))


def render_groups(result: Result) -> Iterable[str]:
    """crash's runq -g: per CPU its current task, then the root task group's RT and CFS
    queues on it, each child group's queue indented below its parent's."""
    for i, q in enumerate(result.rows):
        if i:
            yield ""
        yield f"CPU {q.cpu}"
        cur = q.current
        yield f'  CURRENT: PID: {cur.pid:<5}  TASK: {cur.task:x}  COMMAND: "{cur.comm}"'
        if q.rt_rq is not None:
            yield f"  ROOT_TASK_GROUP: {q.root_group:x}  RT_RQ: {q.rt_rq:x}"
            for e in q.rt:
                if e.kind == "group":
                    yield (" " * (5 + 6 * (e.depth - 1)) + f"[{e.prio or 0:3d}] "
                           + _group_header(e, "RT_RQ"))
                elif e.kind == "task":
                    yield " " * (5 + 6 * e.depth) + _group_task(e)
                else:
                    yield " " * (5 + 6 * e.depth) + "[no tasks queued]"
        if q.cfs_rq is not None:
            yield f"  ROOT_TASK_GROUP: {q.root_group:x}  CFS_RQ: {q.cfs_rq:x}"
            for e in q.cfs:
                if e.kind == "group":
                    yield " " * (2 + 3 * e.depth) + _group_header(e, "CFS_RQ")
                elif e.kind == "task":
                    yield " " * (5 + 3 * e.depth) + _group_task(e)
                else:
                    yield " " * (5 + 3 * e.depth) + "[no tasks queued]"


def run_queues_by_group(session: Session, cpus: list[int]) -> Result:
    """runq -g: a :class:`GroupRunQueue` per CPU."""
    from pycrash.kernel.taskgroups import cfs_entries, rt_entries, task_groups

    prog = session.prog
    errors: list[str] = []
    try:
        groups = task_groups(prog)
    except KeyError:
        raise CommandError("cannot determine root task_group") from None
    except WalkError as exc:
        raise CommandError(str(exc)) from None
    rows = []
    for cpu in cpus:
        cur = cpu_curr(prog, cpu)
        try:
            rt_rq, rt = rt_entries(prog, groups, cpu)
        except LookupError:
            rt_rq, rt = None, []
        except (WalkError, FaultError) as exc:
            errors.append(f"CPU {cpu}: the RT hierarchy: {exc}")
            rt_rq, rt = None, []
        try:
            cfs_rq, cfs = cfs_entries(prog, groups, cpu, cur)
        except (AttributeError, LookupError):  # no CONFIG_FAIR_GROUP_SCHED
            cfs_rq, cfs = None, []
        except (WalkError, FaultError) as exc:
            errors.append(f"CPU {cpu}: the CFS hierarchy: {exc}")
            cfs_rq, cfs = None, []
        rows.append(GroupRunQueue(cpu, task_id(cur), groups[0].group, rt_rq, cfs_rq,
                                  tuple(rt), tuple(cfs)))
    return Result(rows, render=render_groups, errors=errors)


@dataclass(frozen=True)
class RunqView:
    """How runq shows its rows: the number of CPUs (crash's indents follow it)."""

    ncpus: int = 0


def _ncpus(prog: object) -> int:
    return max(dump_cpus(prog), default=-1) + 1


def _log10(x: int) -> int:
    """crash's ``__log10ul()``: the digits of ``x`` (1 for 0)."""
    return len(str(x))


def _cpu_indent(cpu: int, ncpus: int) -> int:
    """The indent of ``CPU N:`` in runq -m: one per digit of the CPU count, less one per
    digit of N beyond the first."""
    top = 1 if ncpus < 10 else 2 if ncpus < 100 else 3 if ncpus < 1000 else 4
    return top - (0 if cpu < 10 else 1 if cpu < 100 else 2 if cpu < 1000 else 4)


def render_timestamps(result: Result) -> Iterable[str]:
    """crash's runq -t: per CPU its run queue clock, and under it the running task's
    last-run stamp, zero-padded to the clock's width."""
    for r in result.rows:
        clock = str(r.rq_clock)
        yield f"{' ' if r.cpu < 10 else ''}CPU {r.cpu}: {clock}"
        indent = (7 if r.cpu < 10 else 8 if r.cpu < 100 else 9) + (1 if r.cpu < 10 else 0)
        cur = r.current
        yield (f"{' ' * indent}{r.last_run:0{len(clock)}d}  PID: {cur.pid:<5}  "
               f'TASK: {cur.task:x}  COMMAND: "{cur.comm}"')


def render_lag(result: Result) -> Iterable[str]:
    """crash's runq -T: every CPU, most recent clock first, and how far its clock lags
    that one in seconds."""
    ncpus = result.view.ncpus
    for r in result.rows:
        yield f"{' ' * (2 + _log10(ncpus) - _log10(r.cpu))}CPU {r.cpu}: {r.lag_ns / 1e9:.2f} secs"


def render_milliseconds(result: Result) -> Iterable[str]:
    """crash's runq -m: per CPU how long its running task had run (its run queue clock
    minus the task's last arrival) as ``D HH:MM:SS.mmm``."""
    ncpus = result.view.ncpus
    max_days = 0
    for r in result.rows:
        if not max_days:
            max_days = days_width(r.rq_clock)
        since = max(r.rq_clock - r.last_run, 0)
        cur = r.current
        yield (f"{' ' * _cpu_indent(r.cpu, ncpus)}CPU {r.cpu}: "
               f"[{' ' * (max_days - days_width(since))}{days_clock(since)}]  "
               f'PID: {cur.pid:<5}  TASK: {cur.task:x}  COMMAND: "{cur.comm}"')


def _ago(units: int) -> str:
    return f"{units} s ago" if units >= 0 else "ahead"


def _watch_lines(w: CpuWatch, s: StallState, ncpus: int) -> Iterable[str]:
    cur = w.current
    ran = "idle" if w.running_ns is None else days_clock(w.running_ns)
    indent = " " * _cpu_indent(w.cpu, ncpus)
    yield (f"{indent}CPU {w.cpu}: [{ran}]  PID: {cur.pid:<5}  TASK: {cur.task:x}  "
           f'COMMAND: "{cur.comm}"')
    pad = " " * (len(indent) + len(f"CPU {w.cpu}: "))
    yield f"{pad}RQ CLOCK: {w.rq_clock}  LAG: {w.clock_lag_ns / 1e9:.3f} secs"
    if w.touch_ts is not None:
        if watchdog_touched(w.touch_ts):
            line = f"{pad}SOFTLOCKUP: TOUCH_TS: touched"
            age = 0
        else:
            age = s.watchdog_now - w.touch_ts
            line = f"{pad}SOFTLOCKUP: TOUCH_TS: {w.touch_ts} ({_ago(age)})"
        if w.report_ts is not None:
            line += f"  REPORT_TS: {'touched' if watchdog_touched(w.report_ts) else w.report_ts}"
        if s.watchdog_thresh and age > 2 * s.watchdog_thresh:
            line += "  [SOFT LOCKUP]"
        yield line
    if w.hrtimer_interrupts is not None:
        line = (f"{pad}HARDLOCKUP: HRTIMER_INTERRUPTS: {w.hrtimer_interrupts}  "
                f"SAVED: {w.hrtimer_interrupts_saved}")
        if w.hardlockup_warned is not None:
            line += f"  WARNED: {'yes' if w.hardlockup_warned else 'no'}"
        yield line
    if w.rcu_gp_seq is not None:
        yield (f"{pad}RCU: GP_SEQ: {w.rcu_gp_seq}  "
               f"QS PENDING: {'yes' if w.rcu_qs_pending else 'no'}")


def _jiffies_secs(n: int, hz: int | None) -> str:
    return f"{n / hz:.3f} secs" if hz else f"{n} jiffies"


def render_watch(result: Result) -> Iterable[str]:
    """runq -w: the crash clock, the watchdog's and RCU's state, then per CPU as runq -m
    (against the crash clock) with its clock's lag, watchdog stamps and RCU state."""
    for row in result.rows:
        s: StallState = row.system
        yield f"CRASH CLOCK: {s.crash_clock}  (the most recent run queue clock)"
        thresh = ("unknown" if s.watchdog_thresh is None else
                  f"{s.watchdog_thresh} (soft lockup after {2 * s.watchdog_thresh} s)")
        yield f"WATCHDOG: NOW: {s.watchdog_now}  THRESH: {thresh}"
        if s.rcu_gp_seq is not None:
            line = f"RCU: {s.rcu_name}  GP_SEQ: {s.rcu_gp_seq}"
            if not s.rcu_gp_in_progress:
                line += "  no grace period in progress"
            elif s.jiffies is not None and s.rcu_gp_start is not None:
                mask = (1 << 64) - 1
                age = (s.jiffies - s.rcu_gp_start) & mask
                line += f"  GRACE PERIOD: {_jiffies_secs(age, s.hz)} old"
                if s.rcu_jiffies_stall is not None:
                    left = (s.rcu_jiffies_stall - s.jiffies) & mask
                    if left >= 1 << 63:
                        line += "  [STALL]"
                    else:
                        line += f", stall warning in {_jiffies_secs(left, s.hz)}"
            yield line
        yield ""
        for w in row.cpus:
            yield from _watch_lines(w, s, result.view.ncpus)


def render(result: Result) -> Iterable[str]:
    """crash's runq output: per CPU the run queue, its current task, and its RT and CFS
    queues."""
    for i, q in enumerate(result.rows):
        if i:
            yield ""
        yield f"CPU {q.cpu} RUNQUEUE: {q.rq:x}"
        cur = q.current
        yield f'  CURRENT: PID: {cur.pid:<6} TASK: {cur.task:x}  COMMAND: "{cur.comm}"'
        for label, addr, tasks in (("RT PRIO_ARRAY", q.rt_array, q.rt),
                                   ("CFS RB_ROOT", q.cfs_root, q.cfs)):
            yield f"  {label}: {addr:x}"
            if not tasks:
                yield "     [no tasks queued]"
            for t in tasks:
                yield (f'     [{t.prio:>3}] PID: {t.task.pid:<6} TASK: {t.task.task:x}  '
                       f'COMMAND: "{t.task.comm}"')


@command(
    "runq",
    summary="run queue",
    synopsis="runq [-t|-T|-m|-g|-w] [-c cpu[,cpu|-cpu]]",
    description="""
For each CPU: the run queue's address, the task it was running, and the tasks
queued on its real-time and CFS (fair) queues, with their priorities; -c
selects CPUs.

-t shows each CPU's run queue clock (rq->clock, ns) and under it the last-run
stamp (sched_info.last_arrival) of the task it was running. -T shows, for
every CPU (whatever -c says), how far its run queue clock lags the most
recent one, in seconds. -m shows how long each CPU's task had been running:
its run queue clock minus the task's last arrival, in days, hours, minutes,
seconds and milliseconds (an idle task is never stamped: its CPU's clock).
These are crash's; -t comes before -T, and -T before -m.

-g shows each CPU's queues by task group: the root task group's CFS run queue on
that CPU (and its RT one with RT group scheduling), the tasks queued in it (the
running one marked [CURRENT]), and each child group's queue indented below, with
its cgroup name and whether it is throttled.

-w (pycrash's own) shows what tells a lockup or stall: the crash clock (the
most recent run queue clock), the soft-lockup watchdog's clock (the crash
clock >> 30, its "seconds") and threshold, RCU's grace period (gp_seq, how
old, when a stall warning is due); then per CPU how long its task had run
without a context switch (against the crash clock), its run queue clock and
lag, the soft-lockup watchdog's watchdog_touch_ts (and how old) and
watchdog_report_ts, the hrtimer interrupt counts of the hard-lockup check
(hrtimer_interrupts, hrtimer_interrupts_saved) and whether it warned, and
whether RCU's grace period waits for that CPU. Lines the kernel lacks are
left out.
""",
    examples="""
crash> runq
crash> runq -c 1
crash> runq -m
 CPU 0: [0 00:00:08.353]  PID: 0      TASK: ffffffffb441aa40  COMMAND: "swapper/0"
 CPU 1: [0 00:00:00.012]  PID: 143    TASK: ff3622496fdb0000  COMMAND: "sh"
crash> runq -T
  CPU 0: 0.00 secs
  CPU 1: 0.00 secs
crash> runq -w        (soft/hard lockup and RCU stall state)
""",
    arguments=(
        arg("-t", dest="times", action="store_true",
            help="run queue clocks and the running tasks' last-run stamps"),
        arg("-T", dest="lag", action="store_true",
            help="each CPU's clock lag behind the most recent one"),
        arg("-m", dest="msecs", action="store_true",
            help="how long each CPU's task has run"),
        arg("-g", dest="groups", action="store_true",
            help="the queues by task group (the CFS hierarchy)"),
        arg("-w", dest="watch", action="store_true",
            help="lockup watchdogs and RCU stall state per CPU"),
        arg("-c", dest="cpus", metavar="cpus", help="only these CPUs"),
    ),
    records=(RunQueue, QueuedTask, CpuRunTime, ClockLag, Watchdogs, StallState, CpuWatch,
             GroupRunQueue, QueueEntry),
)
def runq(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`RunQueue` per CPU."""
    prog = session.prog
    cpus = parse_cpus(prog, args.cpus) if args.cpus else dump_cpus(prog)
    view = RunqView(_ncpus(prog))
    if args.groups:
        return run_queues_by_group(session, cpus)
    if args.times or (args.msecs and not args.lag):
        times = []
        for cpu in cpus:
            cur = cpu_curr(prog, cpu)
            times.append(CpuRunTime(cpu, schedtime.rq_clock_ns(prog, cpu), task_id(cur),
                                    schedtime.last_run_ns(cur)))
        return Result(times, render=render_timestamps if args.times else render_milliseconds,
                      view=view)
    if args.lag:
        clocks = [(cpu, schedtime.rq_clock_ns(prog, cpu)) for cpu in dump_cpus(prog)]
        clocks.sort(key=lambda c: -c[1])
        top = clocks[0][1] if clocks else 0
        lags = [ClockLag(cpu, clock, top - clock) for cpu, clock in clocks]
        return Result(lags, render=render_lag, view=view)
    if args.watch:
        watch = Watchdogs(schedtime.stall_state(prog),
                          tuple(schedtime.cpu_watches(prog, cpus)))
        return Result([watch], render=render_watch, view=view)
    rows = []
    errors: list[str] = []
    for cpu in cpus:
        rq = cpu_rq(prog, cpu)
        cur = rq.curr
        rt = tuple(QueuedTask(t.prio.value_(), task_id(t))
                   for t in collect(rt_tasks(rq, cpu), errors))
        cfs = tuple(QueuedTask(t.prio.value_(), task_id(t))
                    for t in collect(fair_tasks(rq, cpu), errors)
                    if t.value_() != cur.value_())
        rows.append(RunQueue(cpu, rq.value_(), rq.clock.value_(), task_id(cur),
                             rq.rt.active.address_of_().value_(),
                             rq.cfs.tasks_timeline.address_of_().value_(), rt, cfs))
    return Result(rows, render=render, errors=errors, view=view)
