"""Per-task details for ``ps``'s views: times, family, threads, limits, arguments."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object

from pycrash.kernel.tasks import TaskId, task_id, thread_group
from pycrash.kernel.walk import list_entries, walk_list


def children(task: Object, errors: list[str] | None = None) -> list[Object]:
    """Return the ``struct task_struct *`` children of a task, in list order; a loop in
    the list ends it, noted in ``errors`` (else raised as WalkError)."""
    walk = list_entries("struct task_struct", task.children.address_of_(), "sibling",
                        f"the children list of pid {task.pid.value_()}")
    return list(walk) if errors is None else walk_list(walk, errors)


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


def threads(task: Object, errors: list[str] | None = None) -> list[Object]:
    """Return the other threads of the task's thread group; a loop in the group ends it,
    noted in ``errors`` (else raised as WalkError)."""
    try:
        walk = thread_group(task)
        return list(walk) if errors is None else walk_list(walk, errors)
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
