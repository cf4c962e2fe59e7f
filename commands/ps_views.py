"""The other views of ``ps`` (-p -c -t -l -a -g -r -S): records and crash's text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.mm import mm_cmdline, mm_environ
from drgn.helpers.linux.resource import task_rlimits

from pycrash.command import Result
from pycrash.kernel import taskinfo
from pycrash.kernel.system import format_uptime
from pycrash.kernel.tasks import task_id, task_state
from pycrash.session import Session

Rows = Callable[[Session, list[Object], list[str]], Result]


def _hdr(task: Object, indent: int = 0) -> str:
    return " " * indent + task_id(task).header()


@dataclass
class Family:
    """A task and the tasks related to it (ancestors for -p, children for -c, threads
    for -g), as pids and header lines."""

    pid: int
    header: str
    related: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parents(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    rows = []
    for t in tasks:
        chain = taskinfo.ancestry(t)
        rows.append(Family(t.pid.value_(), _hdr(t), [a.pid.value_() for a in chain],
                           [_hdr(a, i) for i, a in enumerate(chain)]))
    return _family(rows, errors)


def _listed(tasks: list[Object], errors: list[str],
            relatives: Callable[[Object], list[Object]], none: str) -> Result:
    """Each task's header, then its relatives' headers indented (or ``none``)."""
    rows = []
    for t in tasks:
        related = relatives(t)
        lines = [_hdr(r, 2) for r in related] or [f"  ({none})"]
        rows.append(Family(t.pid.value_(), _hdr(t), [r.pid.value_() for r in related],
                           [_hdr(t), *lines]))
    return _family(rows, errors)


def children(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    return _listed(tasks, errors, taskinfo.children, "no children")


def group(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    return _listed(tasks, errors, taskinfo.threads, "no threads")


def _family(rows: list[Family], errors: list[str]) -> Result:
    def render(result: Result) -> Iterable[str]:
        for i, f in enumerate(result.rows):
            if i:
                yield ""
            yield from f.lines

    return Result(rows, render=render, errors=errors)


@dataclass(frozen=True)
class Times:
    """ps -t: a task's run time (since it started, to the dump) and its times in ns."""

    pid: int
    header: str
    run_time: str
    start_time: int
    utime: int
    stime: int


def times(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    from drgn.helpers.linux.timekeeping import ktime_get_coarse_boottime_ns

    try:
        now = ktime_get_coarse_boottime_ns(session.prog).value_()
    except (LookupError, FaultError):
        now = 0
    rows = []
    for t in tasks:
        tt = taskinfo.task_times(t)
        rows.append(Times(t.pid.value_(), _hdr(t), format_uptime(max(now - tt.start, 0) / 1e9),
                          tt.start, tt.utime, tt.stime))

    def render(result: Result) -> Iterable[str]:
        for i, r in enumerate(result.rows):
            if i:
                yield ""
            yield r.header
            yield f"    RUN TIME: {r.run_time}"
            yield f"  START TIME: {r.start_time}"
            yield f"       UTIME: {r.utime}"
            yield f"       STIME: {r.stime}"

    return Result(rows, render=render, errors=errors)


@dataclass(frozen=True)
class LastRun:
    """ps -l: when a task last ran (ns since boot) and its state."""

    last_arrival: int
    state: str
    pid: int
    header: str


def last(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    rows = sorted((LastRun(taskinfo.task_times(t).last_arrival, task_state(t), t.pid.value_(),
                           _hdr(t)) for t in tasks), key=lambda r: -r.last_arrival)
    return Result(rows, render=lambda r: [f"[{x.last_arrival}] [{x.state}]  {x.header}"
                                          for x in r.rows], errors=errors)


@dataclass
class Args:
    """ps -a: a task's command line and environment (None when unreadable)."""

    pid: int
    header: str
    arg: list[str] | None
    env: list[str] | None
    error: str | None = None


def arguments(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    rows = []
    for t in tasks:
        row = Args(t.pid.value_(), _hdr(t), None, None)
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

    def render(result: Result) -> Iterable[str]:
        for i, r in enumerate(result.rows):
            if i:
                yield ""
            yield r.header
            if r.error:
                yield f"ps: {r.error}"
                continue
            yield "ARG: " + " ".join(r.arg or [])
            yield "ENV: " + "\n     ".join(r.env or [])

    return Result(rows, render=render, errors=errors)


@dataclass(frozen=True)
class Limit:
    """ps -r: one resource limit (None is unlimited)."""

    name: str
    current: int | None
    maximum: int | None


@dataclass
class Limits:
    """ps -r: a task's resource limits."""

    pid: int
    header: str
    limits: list[Limit]


def rlimits(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    rows = []
    for t in tasks:
        lim = [Limit(name.upper(), r.cur, r.max) for name, r in task_rlimits(t).items()]
        rows.append(Limits(t.pid.value_(), _hdr(t), lim))

    def cell(v: int | None) -> str:
        return "(unlimited)" if v is None else str(v)

    def render(result: Result) -> Iterable[str]:
        for i, r in enumerate(result.rows):
            if i:
                yield ""
            yield r.header
            yield "      RLIMIT     CURRENT       MAXIMUM"
            for x in r.limits:
                yield f"{x.name:>12} {cell(x.current):>11} {cell(x.maximum):>13}"

    return Result(rows, render=render, errors=errors)


@dataclass(frozen=True)
class StateCount:
    """ps -S: how many tasks are in one state."""

    state: str
    count: int


def summary(session: Session, tasks: list[Object], errors: list[str]) -> Result:
    counts = Counter(task_state(t) for t in tasks)
    rows = [StateCount(s, n) for s, n in sorted(counts.items())]
    return Result(rows, render=lambda r: [f"  {x.state}: {x.count}" for x in r.rows],
                  errors=errors)


VIEWS: dict[str, Rows] = {
    "parents": parents, "children": children, "times": times, "last": last,
    "args": arguments, "group": group, "rlimits": rlimits, "summary": summary,
}
