"""The other views of ``ps`` (-p -c -t -l -a -g -r -S): their records and crash's text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from drgn import FaultError, Object
from drgn.helpers.linux.mm import mm_cmdline, mm_environ
from drgn.helpers.linux.resource import task_rlimits
from drgn.helpers.linux.sched import task_cpu

from pycrash.cmdlib.render import center, days_clock, days_width, per_task
from pycrash.cmdlib.select import cpu_mask, select_tasks
from pycrash.command import Result
from pycrash.kernel import schedtime, taskinfo
from pycrash.kernel.system import format_uptime, uptime_seconds
from pycrash.kernel.tasks import TaskId, is_kernel_thread, task_id, task_state
from pycrash.session import Session

Rows = Callable[[Session, list[Object], list[str]], Result]


@dataclass
class Family:
    """A task and the tasks related to it: its ancestry from the oldest ancestor down to
    itself (-p), its children (-c) or the other threads of its group (-g)."""

    task: TaskId
    related: list[TaskId] = field(default_factory=list)


def _indented(t: TaskId, indent: int) -> str:
    return " " * indent + t.header()


def _ancestry(f: Family) -> list[str]:
    return [_indented(a, i) for i, a in enumerate(f.related)]


def _listed(f: Family, none: str) -> list[str]:
    return [f.task.header(), *([_indented(r, 2) for r in f.related] or [f"  ({none})"])]


def _children(f: Family) -> list[str]:
    return _listed(f, "no children")


def _threads(f: Family) -> list[str]:
    return _listed(f, "no threads")


def each_then_blank(rows: Iterable[Any], body: Callable[[Any], Iterable[str]]) -> Iterable[str]:
    """Yield each row's lines followed by an empty line, as crash ends each task's part
    of ps -p, -c, -g, -t and -r."""
    for row in rows:
        yield from body(row)
        yield ""


def render_parents(result: Result) -> Iterable[str]:
    """crash's ps -p: each task's ancestry, one more space of indent per generation."""
    return each_then_blank(result.rows, _ancestry)


def render_children(result: Result) -> Iterable[str]:
    """crash's ps -c: each task's header, then its children's indented (or none)."""
    return each_then_blank(result.rows, _children)


def render_group(result: Result) -> Iterable[str]:
    """crash's ps -g: each thread group leader's header, then its other threads
    indented (or none)."""
    return each_then_blank(result.rows, _threads)


def parents(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`Family` of each task with its ancestry (through task->parent)."""
    rows = [Family(task_id(t), [task_id(a) for a in taskinfo.ancestry(t)]) for t in tasks]
    return Result(rows, render=render_parents, errors=errors)


def children(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`Family` of each task with the tasks whose task->parent it is, in
    crash's task order (``init_task`` is its own parent, and the other idle tasks'), as
    crash's ps -c finds them."""
    kids = taskinfo.by_parent(session.tasks())
    rows = [Family(task_id(t), [task_id(c) for c in kids.get(t.value_(), [])]) for t in tasks]
    return Result(rows, render=render_children, errors=errors)


def group(session: Session, tasks: list[Object], errors: list[str], named: bool = False) -> Result:
    """Return a :class:`Family` of each thread group leader among ``tasks`` with the other
    tasks of its thread group id, in crash's task order, as crash's ps -g shows them: a
    thread named (``named``) stands for its leader, other threads are left out; the idle
    tasks, which share tgid 0, are shown once, under ``init_task``. Each group's thread
    list is walked too, and a loop or bad pointer in it noted in ``errors``."""
    everyone = session.tasks()
    groups = taskinfo.by_tgid(everyone)
    leaders = {t.pid.value_(): t for t in everyone if t.pid.value_() == t.tgid.value_()}
    rows: list[Family] = []
    idle_shown = False
    for t in tasks:
        tgid = t.tgid.value_()
        if t.pid.value_() != tgid:
            if not named or tgid not in leaders:
                continue
            t = leaders[tgid]
        if tgid == 0 and idle_shown:
            continue
        others = [o for o in groups.get(tgid, []) if o.value_() != t.value_()]
        idle_shown = idle_shown or any(o.pid.value_() == 0 for o in others)
        if tgid:  # the group's own list, walked to name a broken one (as a note)
            taskinfo.threads(t, errors)
        rows.append(Family(task_id(t), [task_id(o) for o in others]))
    return Result(rows, render=render_group, errors=errors)


@dataclass(frozen=True)
class Times:
    """ps -t: a task's run time (from its start to the dump) and its start, user and system
    times, in ns."""

    task: TaskId
    run_time_ns: int
    start_time: int
    utime: int
    stime: int
    error: str | None = None


def _times_body(r: Times) -> Iterable[str]:
    yield r.task.header()
    yield f"    RUN TIME: {format_uptime(r.run_time_ns / 1e9)}"
    yield f"  START TIME: {r.start_time}"
    yield f"       UTIME: {r.utime}"
    yield f"       STIME: {r.stime}"


def render_times(result: Result) -> Iterable[str]:
    """crash's ps -t: per task, its run, start, user and system times, then an empty
    line."""
    return each_then_blank(result.rows, _times_body)


def times(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`Times` of each task, earliest started first (crash's order;
    ties keep the task order): the run time is the uptime (in jiffies, as ``sys``
    counts it) less the start time."""
    uptime_ns = int(uptime_seconds(session.prog) * 1e9)
    rows = []
    for t in tasks:
        tt = taskinfo.task_times(t)
        rows.append(Times(task_id(t), max(uptime_ns - tt.start, 0), tt.start, tt.utime, tt.stime))
    rows.sort(key=lambda r: r.start_time)
    return Result(rows, render=render_times, errors=errors)


@dataclass(frozen=True)
class LastRun:
    """ps -l: when a task last ran (sched_info.last_arrival, ns since boot) and its state."""

    last_arrival: int
    state: str
    task: TaskId


@dataclass(frozen=True)
class SinceRun:
    """ps -m: how long before its CPU's run queue clock a task last came onto a CPU
    (``rq->clock - sched_info.last_arrival``, ns, 0 when negative), that clock, and the
    task's state."""

    since_ns: int
    rq_clock: int
    state: str
    task: TaskId


@dataclass(frozen=True)
class Blocked:
    """ps -b: how long a task had been off its CPU at the crash (ns; None when it was
    running or runnable): for a task in UN state, how long it had been blocked
    (:func:`pycrash.kernel.schedtime.blocked_ns`); and its state."""

    blocked_ns: int | None
    state: str
    task: TaskId


@dataclass(frozen=True)
class TimingView:
    """How ps -l/-m show their rows: grouped under ``CPU: N`` for each CPU of -C (None:
    not grouped), that grouping repeated ``repeat`` times (crash prints it once per task
    named with -C), the width of -l's timestamps (the most recent one's), in hex when
    crash's radix is 16."""

    cpus: tuple[int, ...] | None = None
    repeat: int = 1
    width: int = 0
    hex: bool = False


def _last_line(x: LastRun, view: TimingView) -> str:
    stamp = f"{x.last_arrival:>{view.width}x}" if view.hex else f"{x.last_arrival:>{view.width}}"
    return f"[{stamp}] [{x.state}]  {x.task.header()}"


def _since_line(x: SinceRun, view: TimingView) -> str:
    pad = " " * (days_width(x.rq_clock) - days_width(x.since_ns))
    return f"[{pad}{days_clock(x.since_ns)}] [{x.state}]  {x.task.header()}"


def _by_cpu(result: Result, line: Callable[[Any, TimingView], str]) -> Iterable[str]:
    view: TimingView = result.view
    if view.cpus is None:
        for x in result.rows:
            yield line(x, view)
        return
    for _ in range(view.repeat):
        for i, cpu in enumerate(view.cpus):
            if i:
                yield ""
            yield f"CPU: {cpu}"
            for x in result.rows:
                if x.task.cpu == cpu:
                    yield line(x, view)


def render_last(result: Result) -> Iterable[str]:
    """crash's ps -l: a line per task, most recently run first, the timestamps as wide
    as the most recent one (under ``CPU: N`` with -C)."""
    return _by_cpu(result, _last_line)


def render_since(result: Result) -> Iterable[str]:
    """crash's ps -m: a line per task, most recently run first: how long before its run
    queue's clock it last ran, as ``D HH:MM:SS.mmm`` (days padded to the clock's)."""
    return _by_cpu(result, _since_line)


def render_blocked(result: Result) -> Iterable[str]:
    """ps -b: a line per task as ps -m prints it, with the time off the CPU, longest
    first."""
    for x in result.rows:
        stamp = "-".rjust(14) if x.blocked_ns is None else days_clock(x.blocked_ns)
        yield f"[{stamp}] [{x.state}]  {x.task.header()}"


def _pid_order(t: Object) -> tuple[int, int]:
    """crash's default task order: by pid, the idle tasks by CPU."""
    return (t.pid.value_(), task_cpu(t))


def timing(session: Session, which: str, specs: list[str], cpus: str | None,
           kernel: bool, user: bool) -> Result:
    """Return ps -l (``which="last"``) or ps -m (``"msecs"``) as crash 8.0.2 shows them:
    every task sorted by last run (most recent first; ties in pid order), or the tasks
    ``specs`` name in that order, once per spec naming them; with ``cpus`` (-C) grouped by
    CPU, all tasks of each CPU, repeated for each task named (crash's quirk)."""
    prog = session.prog
    errors: list[str] = []
    order = sorted(session.tasks(), key=_pid_order)
    stamps = {t.value_(): schedtime.last_run_ns(t) for t in order}
    order.sort(key=lambda t: -stamps[t.value_()])
    hex_mode = session.state.settings.get("radix") == 16
    first = stamps[order[0].value_()] if order else 0
    view = TimingView(width=len(f"{first:x}" if hex_mode else str(first)), hex=hex_mode)
    cpu_list = cpu_mask(prog, cpus) if cpus is not None else None

    def keep(t: Object) -> bool:
        return not (kernel or user) or is_kernel_thread(t) == kernel

    if specs:
        if cpu_list is not None:
            errors.append("-C option is not applicable with specified tasks")
        named: list[set[int]] = []
        for spec in specs:
            sel = select_tasks(session, [spec], default="none", kernel=kernel, user=user)
            errors += sel.errors
            named.append({t.value_() for t in sel.tasks})
        picked = [t for t in order for found in named if t.value_() in found]
        if cpu_list is not None:
            chosen = [t for t in order if task_cpu(t) in cpu_list]
            view = replace(view, cpus=tuple(cpu_list), repeat=len(picked))
        else:
            chosen = picked
    else:
        chosen = [t for t in order if keep(t)]
        if cpu_list is not None:
            chosen = [t for t in chosen if task_cpu(t) in cpu_list]
            view = replace(view, cpus=tuple(cpu_list))
    if which == "last":
        rows: list[Any] = [LastRun(stamps[t.value_()], task_state(t), task_id(t))
                           for t in chosen]
        return Result(rows, render=render_last, errors=errors, view=view)
    clocks = {cpu: schedtime.rq_clock_ns(prog, cpu) for cpu in {task_cpu(t) for t in chosen}}
    rows = []
    for t in chosen:
        clock = clocks[task_cpu(t)]
        rows.append(SinceRun(max(clock - stamps[t.value_()], 0), clock, task_state(t),
                             task_id(t)))
    return Result(rows, render=render_since, errors=errors, view=view)


def blocked(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`Blocked` time of each task, longest first (tasks not blocked
    last, in the order given)."""
    rows = [Blocked(schedtime.blocked_ns(session.prog, t), task_state(t), task_id(t))
            for t in tasks]
    rows.sort(key=lambda r: (r.blocked_ns is None, -(r.blocked_ns or 0)))
    return Result(rows, render=render_blocked, errors=errors)


@dataclass
class Args:
    """ps -a: a task's command line and environment (None when unreadable, with why)."""

    task: TaskId
    arg: list[str] | None
    env: list[str] | None
    error: str | None = None


def _args_body(r: Args) -> Iterable[str]:
    yield "ARG: " + " ".join(r.arg or [])
    yield "ENV: " + "\n     ".join(r.env or [])


def render_args(result: Result) -> Iterable[str]:
    """crash's ps -a: per task, its arguments and environment."""
    return per_task(result.rows, _args_body, "ps")


def arguments(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`Args` of each task, read from its user memory."""
    rows = []
    for t in tasks:
        row = Args(task_id(t), None, None)
        if not t.mm:
            row.error = "(kernel thread)"
        else:
            try:
                row.arg = [a.decode("utf-8", "replace") for a in mm_cmdline(t.mm)]
                row.env = [e.decode("utf-8", "replace") for e in mm_environ(t.mm)]
            except FaultError as exc:
                row.error = (f"cannot read its user memory at {exc.address:#x}: "
                             f"{session.explain_fault(exc)}")
        rows.append(row)
    return Result(rows, render=render_args, errors=errors)


@dataclass(frozen=True)
class Limit:
    """ps -r: one resource limit (None is unlimited)."""

    name: str
    current: int | None
    maximum: int | None


@dataclass
class Limits:
    """ps -r: a task's resource limits."""

    task: TaskId
    limits: list[Limit]
    error: str | None = None


def _cell(v: int | None) -> str:
    """A limit as crash writes it: ``(unlimited)``, or the number centred in its width
    (an odd space to the right)."""
    return "(unlimited)" if v is None else center(str(v), 11)


def _limits_body(r: Limits) -> Iterable[str]:
    yield r.task.header()
    width = max((len(x.name) for x in r.limits), default=6)
    yield f"  {'RLIMIT':>{width}}   {center('CURRENT', 11, right=True)}   " \
          f"{center('MAXIMUM', 11, right=True)}"
    for x in r.limits:
        yield f"  {x.name:>{width}}   {_cell(x.current)}   {_cell(x.maximum)}"


def render_limits(result: Result) -> Iterable[str]:
    """crash's ps -r: per task, a line per resource limit, then an empty line."""
    return each_then_blank(result.rows, _limits_body)


def rlimits(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`Limits` of each task."""
    rows = [Limits(task_id(t), [Limit(name.upper(), r.cur, r.max)
                                for name, r in task_rlimits(t).items()]) for t in tasks]
    return Result(rows, render=render_limits, errors=errors)


@dataclass(frozen=True)
class StateCount:
    """ps -S: how many tasks are in one state."""

    state: str
    count: int


def render_summary(result: Result) -> Iterable[str]:
    """crash's ps -S: a line per state with its count."""
    for x in result.rows:
        yield f"  {x.state}: {x.count}"


def summary(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`StateCount` per task state, in the order crash finds the states
    (the first task of each in crash's task order: pid order, the idle tasks first)."""
    counts = Counter(task_state(t) for t in sorted(tasks, key=_pid_order))
    rows = [StateCount(s, n) for s, n in counts.items()]
    return Result(rows, render=render_summary, errors=errors)


VIEWS: dict[str, Rows] = {
    "parents": parents, "children": children, "times": times, "args": arguments,
    "group": group, "rlimits": rlimits, "summary": summary, "blocked": blocked,
}
#: The views of the tasks' last run (ps -l, -m), made by :func:`timing`.
TIMING = ("last", "msecs")
#: Every record type of the views (for the command's declaration).
RECORDS = (Family, Times, LastRun, SinceRun, Blocked, Args, Limit, Limits, StateCount)
