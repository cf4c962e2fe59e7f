"""The other views of ``ps`` (-p -c -t -l -a -g -r -S): their records and crash's text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.mm import mm_cmdline, mm_environ
from drgn.helpers.linux.resource import task_rlimits

from pycrash.cmdlib.render import blocks, per_task
from pycrash.command import Result
from pycrash.kernel import taskinfo
from pycrash.kernel.system import format_uptime
from pycrash.kernel.tasks import TaskId, task_id, task_state
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


def render_parents(result: Result) -> Iterable[str]:
    """crash's ps -p: each task's ancestry, one more space of indent per generation."""
    return blocks(result.rows, _ancestry)


def render_children(result: Result) -> Iterable[str]:
    """crash's ps -c: each task's header, then its children's indented (or none)."""
    return blocks(result.rows, _children)


def render_group(result: Result) -> Iterable[str]:
    """crash's ps -g: each task's header, then its group's other threads indented."""
    return blocks(result.rows, _threads)


def parents(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`Family` of each task with its ancestry."""
    rows = [Family(task_id(t), [task_id(a) for a in taskinfo.ancestry(t)]) for t in tasks]
    return Result(rows, render=render_parents, errors=errors)


def children(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`Family` of each task with its children."""
    rows = [Family(task_id(t), [task_id(c) for c in taskinfo.children(t, errors)]) for t in tasks]
    return Result(rows, render=render_children, errors=errors)


def group(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return a :class:`Family` of each task with the other threads of its group."""
    rows = [Family(task_id(t), [task_id(c) for c in taskinfo.threads(t, errors)]) for t in tasks]
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
    yield f"    RUN TIME: {format_uptime(r.run_time_ns / 1e9)}"
    yield f"  START TIME: {r.start_time}"
    yield f"       UTIME: {r.utime}"
    yield f"       STIME: {r.stime}"


def render_times(result: Result) -> Iterable[str]:
    """crash's ps -t: per task, its run, start, user and system times."""
    return per_task(result.rows, _times_body)


def times(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`Times` of each task."""
    from drgn.helpers.linux.timekeeping import ktime_get_coarse_boottime_ns

    try:
        now = ktime_get_coarse_boottime_ns(session.prog).value_()
    except (LookupError, FaultError):
        now = 0
    rows = []
    for t in tasks:
        tt = taskinfo.task_times(t)
        rows.append(Times(task_id(t), max(now - tt.start, 0), tt.start, tt.utime, tt.stime))
    return Result(rows, render=render_times, errors=errors)


@dataclass(frozen=True)
class LastRun:
    """ps -l: when a task last ran (sched_info.last_arrival, ns since boot) and its state."""

    last_arrival: int
    state: str
    task: TaskId


def render_last(result: Result) -> Iterable[str]:
    """crash's ps -l: a line per task, most recently run first."""
    for x in result.rows:
        yield f"[{x.last_arrival}] [{x.state}]  {x.task.header()}"


def last(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    """Return the :class:`LastRun` of each task, most recent first."""
    rows = sorted((LastRun(taskinfo.task_times(t).last_arrival, task_state(t), task_id(t))
                   for t in tasks), key=lambda r: -r.last_arrival)
    return Result(rows, render=render_last, errors=errors)


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
    return "(unlimited)" if v is None else str(v)


def _limits_body(r: Limits) -> Iterable[str]:
    yield "      RLIMIT     CURRENT       MAXIMUM"
    for x in r.limits:
        yield f"{x.name:>12} {_cell(x.current):>11} {_cell(x.maximum):>13}"


def render_limits(result: Result) -> Iterable[str]:
    """crash's ps -r: per task, a line per resource limit."""
    return per_task(result.rows, _limits_body)


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
    """Return a :class:`StateCount` per task state, in state order."""
    counts = Counter(task_state(t) for t in tasks)
    rows = [StateCount(s, n) for s, n in sorted(counts.items())]
    return Result(rows, render=render_summary, errors=errors)


VIEWS: dict[str, Rows] = {
    "parents": parents, "children": children, "times": times, "last": last,
    "args": arguments, "group": group, "rlimits": rlimits, "summary": summary,
}
#: Every record type of the views (for the command's declaration).
RECORDS = (Family, Times, LastRun, Args, Limit, Limits, StateCount)
