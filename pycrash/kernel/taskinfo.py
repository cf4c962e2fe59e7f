"""Per-task details for ``ps``'s views: times, family, threads, limits, arguments."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task_in_group

from pycrash.kernel.tasks import TaskId, task_id


def children(task: Object) -> list[Object]:
    """Return the ``struct task_struct *`` children of a task, in list order."""
    return list(list_for_each_entry("struct task_struct", task.children.address_of_(),
                                    "sibling"))


def ancestry(task: Object) -> list[Object]:
    """Return the task's ancestors from the idle task down to the task itself."""
    chain = [task]
    seen = {task.value_()}
    cur = task
    while cur.pid.value_() != 0:
        cur = cur.real_parent
        if cur.value_() in seen:
            break
        seen.add(cur.value_())
        chain.append(cur)
    return list(reversed(chain))


def threads(task: Object) -> list[Object]:
    """Return the other threads of the task's thread group."""
    try:
        return list(for_each_task_in_group(task))
    except (FaultError, LookupError):
        return []


@dataclass(frozen=True)
class TaskTimes:
    """A task's times in nanoseconds: started (since boot), user and system CPU time,
    and when it last ran (``sched_info.last_arrival``)."""

    start: int
    utime: int
    stime: int
    last_arrival: int


def task_times(task: Object) -> TaskTimes:
    """Return the :class:`TaskTimes` of a task."""
    start = task.start_time.value_()
    try:
        last = task.sched_info.last_arrival.value_()
    except AttributeError:
        last = task.se.exec_start.value_()
    return TaskTimes(start, task.utime.value_(), task.stime.value_(), last)


def header(task: Object) -> TaskId:
    """Return the task's identity for a header line."""
    return task_id(task)
