"""Per-task details for ``ps``'s views: times, family, threads, limits, arguments."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.kernel.tasks import TaskId, task_id, thread_group
from pycrash.kernel.walk import list_entries, walk_list


def children(task: Object, errors: list[str] | None = None) -> list[Object]:
    """Return the ``struct task_struct *`` children of a task, in list order; a loop in
    the list ends it, noted in ``errors`` (else raised as WalkError)."""
    walk = list_entries("struct task_struct", task.children.address_of_(), "sibling",
                        f"the children list of pid {task.pid.value_()}")
    return list(walk) if errors is None else walk_list(walk, errors)


def ancestry(task: Object) -> list[Object]:
    """Return the task's ancestors through ``task->parent`` (the tracer of a traced task,
    else its real parent), from the first task that is its own parent (``init_task``)
    down to the task itself: an idle task of another CPU descends from ``init_task``, as
    crash's ``ps -p`` shows it. A loop ends the chain where it closes."""
    chain = [task]
    seen = {task.value_()}
    cur = task
    while True:
        parent = cur.parent
        if parent.value_() in seen:
            break
        seen.add(parent.value_())
        chain.append(parent)
        cur = parent
    return list(reversed(chain))


def by_parent(tasks: list[Object]) -> dict[int, list[Object]]:
    """Return ``{parent task address: [tasks whose task->parent it is]}`` over ``tasks``,
    in their order: every task, an idle task too (``init_task`` is its own parent and the
    parent of the other CPUs' idle tasks, which are in no children list)."""
    out: dict[int, list[Object]] = {}
    for t in tasks:
        out.setdefault(t.parent.value_(), []).append(t)
    return out


def by_tgid(tasks: list[Object]) -> dict[int, list[Object]]:
    """Return ``{tgid: [tasks of that thread group id]}`` over ``tasks``, in their order
    (the idle tasks share tgid 0)."""
    out: dict[int, list[Object]] = {}
    for t in tasks:
        out.setdefault(t.tgid.value_(), []).append(t)
    return out


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


def vm_flag_names(prog: Program, flags: int) -> list[str]:
    """Return the names crash 8.0.2 gives the bits of a ``vm_flags`` value, in its order
    and from its own table (older kernels' meanings where a bit was reused: DENYWRITE,
    EXECUTABLE, RESERVED...); bit 9 is GROWSUP where the kernel has ``expand_upwards``,
    else NOHUGEPAGE, and bit 24 HUGEPAGE where ``mm_struct`` has ``pmd_huge_pte``, else
    MAPPED_COPY."""
    def has_symbol(name: str) -> bool:
        try:
            prog.symbol(name)
        except LookupError:
            return False
        return True

    def has_member(struct: str, member: str) -> bool:
        try:
            return prog.type(struct).has_member(member)
        except LookupError:
            return False

    table = [
        (0x1, "READ"), (0x2, "WRITE"), (0x4, "EXEC"), (0x8, "SHARED"), (0x10, "MAYREAD"),
        (0x20, "MAYWRITE"), (0x40, "MAYEXEC"), (0x80, "MAYSHARE"), (0x100, "GROWSDOWN"),
        (0x200, "GROWSUP" if has_symbol("expand_upwards") else "NOHUGEPAGE"),
        (0x400, "PFNMAP"), (0x800, "DENYWRITE"), (0x1000, "EXECUTABLE"), (0x2000, "LOCKED"),
        (0x4000, "IO"), (0x8000, "SEQ_READ"), (0x10000, "RAND_READ"), (0x20000, "DONTCOPY"),
        (0x40000, "DONTEXPAND"), (0x80000, "RESERVED"), (0x400000, "HUGETLB"),
        (0x100000, "ACCOUNT"), (0x800000, "NONLINEAR"),
        (0x1000000, "HUGEPAGE" if has_member("struct mm_struct", "pmd_huge_pte")
         else "MAPPED_COPY"),
        (0x2000000, "INSERTPAGE"), (0x4000000, "ALWAYSDUMP"), (0x8000000, "CAN_NONLINEAR"),
        (0x10000000, "MIXEDMAP"), (0x20000000, "SAO"), (0x40000000, "PFN_AT_MMAP"),
        (0x80000000, "MERGEABLE"),
    ]
    return [name for bit, name in table if flags & bit]
