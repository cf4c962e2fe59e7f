"""runq: each CPU's run queue: the running task, then the RT and CFS queues."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.sched import cpu_rq, rq_for_each_fair_task, rq_for_each_rt_task

from pycrash.command import Result, arg, command
from pycrash.kernel.tasks import comm, parse_cpus
from pycrash.session import Session


@dataclass(frozen=True)
class QueuedTask:
    """A task waiting on a run queue: its priority, pid, address and name."""

    prio: int
    pid: int
    task: int
    comm: str


@dataclass
class RunQueue:
    """One CPU's run queue: its address, current task, timestamp and queued tasks."""

    cpu: int
    rq: int
    clock: int
    current_pid: int
    current: int
    current_comm: str
    rt_array: int
    cfs_root: int
    rt: list[QueuedTask] = field(default_factory=list)
    cfs: list[QueuedTask] = field(default_factory=list)


def _render(result: Result) -> Iterable[str]:
    for i, q in enumerate(result.rows):
        if i:
            yield ""
        yield f"CPU {q.cpu} RUNQUEUE: {q.rq:x}"
        if result.options.get("times"):
            yield f"  CLOCK: {q.clock}"
        yield f'  CURRENT: PID: {q.current_pid:<6} TASK: {q.current:x}  COMMAND: "{q.current_comm}"'
        for label, addr, tasks in (("RT PRIO_ARRAY", q.rt_array, q.rt),
                                   ("CFS RB_ROOT", q.cfs_root, q.cfs)):
            yield f"  {label}: {addr:x}"
            if not tasks:
                yield "     [no tasks queued]"
            for t in tasks:
                yield (f'     [{t.prio:>3}] PID: {t.pid:<6} TASK: {t.task:x}  '
                       f'COMMAND: "{t.comm}"')


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
)
def runq(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`RunQueue` per CPU."""
    prog = session.prog
    cpus = parse_cpus(prog, args.cpus) if args.cpus else \
        list(for_each_online_cpu(prog))
    rows = []
    for cpu in cpus:
        rq = cpu_rq(prog, cpu)
        cur = rq.curr
        q = RunQueue(cpu, rq.value_(), rq.clock.value_(), cur.pid.value_(),
                     cur.value_(), comm(cur), rq.rt.active.address_of_().value_(),
                     rq.cfs.tasks_timeline.address_of_().value_())
        for t in rq_for_each_rt_task(rq):
            q.rt.append(QueuedTask(t.prio.value_(), t.pid.value_(), t.value_(), comm(t)))
        for t in rq_for_each_fair_task(rq):
            if t.value_() != cur.value_():
                q.cfs.append(QueuedTask(t.prio.value_(), t.pid.value_(), t.value_(), comm(t)))
        rows.append(q)
    return Result(rows, render=_render, options={"times": args.times})
