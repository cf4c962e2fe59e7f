"""Tasks: enumerate them as crash does, and describe each one.

crash lists one idle task (``swapper/N``, pid 0) per CPU, then every other
thread. A task is *active* when it is the current task of its CPU's run queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program, cast
from drgn.helpers.linux.cpumask import for_each_online_cpu, for_each_possible_cpu
from drgn.helpers.linux.pid import for_each_task, pid_task
from drgn.helpers.linux.sched import cpu_curr, idle_task, task_cpu, task_state_to_char

from pycrash.kernel.walk import bounded, idr_entries, list_entries
from pycrash.records import Hex

PF_KTHREAD = 0x00200000

#: drgn's one-letter task states (as in /proc/PID/stat) to crash's two-letter ones.
STATE_NAMES = {
    "R": "RU",
    "S": "IN",
    "D": "UN",
    "T": "ST",
    "t": "TR",
    "X": "DE",
    "Z": "ZO",
    "P": "PA",
    "I": "ID",
    "N": "NE",
    "W": "WA",
}

#: crash's two-letter states to the kernel's names (for ``sys``'s STATE line).
STATE_LONG = {
    "RU": "TASK_RUNNING",
    "IN": "TASK_INTERRUPTIBLE",
    "UN": "TASK_UNINTERRUPTIBLE",
    "ST": "TASK_STOPPED",
    "TR": "TASK_TRACED",
    "DE": "EXIT_DEAD",
    "ZO": "EXIT_ZOMBIE",
    "PA": "TASK_PARKED",
    "ID": "TASK_IDLE",
    "NE": "TASK_NEW",
    "WA": "TASK_WAKING",
}


def all_tasks(prog: Program) -> Iterator[Object]:
    """Yield every ``struct task_struct *``: each online CPU's idle task, then all threads
    (the pids of the initial pid namespace, in order, as crash and drgn's ``for_each_task``
    find them). The walk is bounded: a corrupt pid tree, or a task met twice, ends it with
    :class:`pycrash.kernel.walk.WalkError` after the tasks found."""
    for cpu in for_each_online_cpu(prog):
        yield idle_task(prog, cpu)
    yield from bounded(_pid_tasks(prog), "the task list")


def _pid_tasks(prog: Program) -> Iterator[Object]:
    """The task of each pid of the initial pid namespace (its IDR), bounded."""
    ns = prog["init_pid_ns"]
    if not hasattr(ns, "idr"):  # before 4.15: the pid hash (drgn's walk, bounded above)
        yield from for_each_task(prog)
        return
    pid_type = prog["PIDTYPE_PID"].value_()
    pid_ptr = prog.type("struct pid *")
    for _nr, entry in idr_entries(ns.idr.address_of_(), "the task list (pid tree)"):
        task = pid_task(cast(pid_ptr, entry), pid_type)
        if task:
            yield task


def thread_group(task: Object, include_self: bool = False) -> Iterator[Object]:
    """Yield the threads of ``task``'s thread group (``signal->thread_head``), as drgn's
    ``for_each_task_in_group``, bounded: a loop ends it with
    :class:`pycrash.kernel.walk.WalkError` naming the thread it goes back to."""
    what = f"the thread group of pid {task.tgid.value_()}"
    try:
        head = task.signal.thread_head.address_of_()
        member = "thread_node"
    except AttributeError:  # before 3.14 (never reached on supported kernels)
        head = task.group_leader.thread_group.address_of_()
        member = "thread_group"
    for other in list_entries("struct task_struct", head, member, what):
        if include_self or other.value_() != task.value_():
            yield other


def active_tasks(prog: Program) -> dict[int, int]:
    """Return ``{task address: cpu}`` for the task each online CPU was running."""
    return {cpu_curr(prog, cpu).value_(): cpu for cpu in for_each_online_cpu(prog)}


def cpu_count(prog: Program) -> int:
    """Return the number of possible CPUs (crash's ``CPUS:``)."""
    return sum(1 for _ in for_each_possible_cpu(prog))


def task_state(task: Object) -> str:
    """Return crash's two-letter state of ``task`` (``RU``, ``IN``, ``UN``, ``ID``...)."""
    try:
        char = task_state_to_char(task)
    except (FaultError, ValueError, LookupError):
        return "??"
    return STATE_NAMES.get(char, "??")


#: the task state bits crash names (include/linux/sched.h, stable since 4.14), in crash's
#: order; TASK_DEAD and EXIT_DEAD share crash's name
_STATE_BITS = (("TASK_INTERRUPTIBLE", 0x1), ("TASK_UNINTERRUPTIBLE", 0x2),
               ("TASK_STOPPED", 0x4), ("TASK_TRACED", 0x8), ("EXIT_DEAD", 0x10 | 0x80),
               ("EXIT_ZOMBIE", 0x20), ("TASK_WAKING", 0x200), ("TASK_WAKEKILL", 0x100),
               ("TASK_NOLOAD", 0x400), ("TASK_NEW", 0x800))
_TASK_PARKED = 0x40


def state_names(task: Object) -> str:
    """Return a task's state (``__state`` or ``state``, with ``exit_state``) as crash's
    verbose state names it: ``TASK_RUNNING``, or each bit's name joined with ``|``
    (``TASK_UNINTERRUPTIBLE|TASK_NOLOAD`` for an idle kernel thread)."""
    try:
        state = task.member_("__state").value_()
    except LookupError:
        state = task.state.value_()
    state = (state | task.exit_state.value_()) & 0xFFFFFFFF
    if state == 0:
        return "TASK_RUNNING"
    if state == _TASK_PARKED:
        return "TASK_PARKED"
    names = []
    for name, bits in _STATE_BITS:
        if state & bits:
            both = name == "EXIT_DEAD" and (state & bits) == bits
            names.append("EXIT_DEAD|TASK_DEAD" if both else name)
    return "|".join(names)


def is_kernel_thread(task: Object) -> bool:
    """Return whether ``task`` is a kernel thread (PF_KTHREAD set, or an idle task)."""
    return bool(task.flags.value_() & PF_KTHREAD) or task.pid.value_() == 0


def comm(task: Object) -> str:
    """Return ``task->comm`` as text (at most 15 characters)."""
    return task.comm.string_().decode("utf-8", "replace")


def parent_pid(task: Object) -> int:
    """Return the pid of ``task->real_parent`` (0 for the idle tasks and init)."""
    if task.pid.value_() == 0:
        return 0
    return int(task.real_parent.pid.value_())


@dataclass(frozen=True, slots=True)
class TaskId:
    """The identity crash prints in task headers: ``PID: ... TASK: ... CPU: ... COMMAND:``."""

    pid: int
    task: Hex
    cpu: int
    comm: str

    def header(self) -> str:
        """Return crash's one-line task header."""
        return f'PID: {self.pid:<8} TASK: {self.task:x}  CPU: {self.cpu:<4} COMMAND: "{self.comm}"'


def task_id(task: Object) -> TaskId:
    """Return the :class:`TaskId` of a ``struct task_struct *``."""
    return TaskId(task.pid.value_(), task.value_(), task_cpu(task), comm(task))


def stack_bounds(task: Object) -> tuple[int, int]:
    """Return ``(base, top)`` of a task's kernel stack (THREAD_SIZE, else four pages)."""
    from pycrash.kernel.stackmem import thread_size

    base = task.stack.value_()
    return base, base + thread_size(task.prog_)


#: the kernel's scheduling policies (SCHED_NORMAL...), by value, as crash's ``ps -y`` names them
SCHED_POLICIES = ("NORMAL", "FIFO", "RR", "BATCH", "ISO", "IDLE", "DEADLINE")


def saved_stack_pointer(task: Object) -> int:
    """Return the kernel stack pointer a task that is not running saved when it left its
    CPU: ``thread.sp`` (x86-64), ``thread.cpu_context.sp`` (arm64)."""
    thread = task.thread
    try:
        return int(thread.sp.value_())
    except AttributeError:
        return int(thread.cpu_context.sp.value_())


def is_group_leader(task: Object) -> bool:
    """Return whether a task leads its thread group (its pid is the group's tgid)."""
    return bool(task.pid.value_() == task.tgid.value_())
