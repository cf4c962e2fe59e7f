"""runq: each CPU's run queue: the running task, then the RT and CFS queues."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.sched import cpu_rq

from pycrash.cmdlib.select import dump_cpus, parse_cpus
from pycrash.command import Result, arg, command
from pycrash.kernel.iterators import fair_tasks, rt_tasks
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import collect
from pycrash.records import Hex
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
class RunqView:
    """Whether runq shows each run queue's clock (-t)."""

    clock: bool


def render(result: Result) -> Iterable[str]:
    """crash's runq output: per CPU the run queue, its current task, and its RT and CFS
    queues."""
    for i, q in enumerate(result.rows):
        if i:
            yield ""
        yield f"CPU {q.cpu} RUNQUEUE: {q.rq:x}"
        if result.view.clock:
            yield f"  CLOCK: {q.clock}"
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
    synopsis="runq [-t] [-c cpu[,cpu|-cpu]]",
    description="""
For each CPU: the run queue's address, the task it was running, and the tasks
queued on its real-time and CFS (fair) queues, with their priorities. -t
adds the run queue's clock; -c selects CPUs.
""",
    examples="""
crash> runq
crash> runq -c 1
""",
    arguments=(
        arg("-t", dest="times", action="store_true", help="show the run queue clock"),
        arg("-c", dest="cpus", metavar="cpus", help="only these CPUs"),
    ),
    records=(RunQueue, QueuedTask),
)
def runq(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`RunQueue` per CPU."""
    prog = session.prog
    cpus = parse_cpus(prog, args.cpus) if args.cpus else dump_cpus(prog)
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
    return Result(rows, render=render, errors=errors, view=RunqView(args.times))
