"""Scheduler clocks at the crash: how long ago a task last left its CPU."""

from __future__ import annotations

from drgn import FaultError, Object, Program
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.sched import task_cpu


def crash_clock_ns(prog: Program) -> int:
    """Return the latest run-queue clock (``rq->clock``, ns since boot) of any online CPU:
    the scheduler's time of the crash."""
    return max(per_cpu(prog["runqueues"], cpu).clock.value_()
               for cpu in for_each_online_cpu(prog))


def blocked_ns(prog: Program, task: Object, now: int | None = None) -> int | None:
    """Return the nanoseconds since a sleeping task left its CPU (``se.exec_start``,
    set when it was dequeued, against its run queue's task clock, brought forward to
    ``now``, by default :func:`crash_clock_ns`), or None when unreadable."""
    try:
        rq = per_cpu(prog["runqueues"], task_cpu(task))
        now = crash_clock_ns(prog) if now is None else now
        ahead = now - rq.clock.value_()
        return max(0, rq.clock_task.value_() + ahead - task.se.exec_start.value_())
    except (FaultError, LookupError):
        return None
