"""The scheduler's task groups and their per-CPU run queues, as ``runq -g`` shows them:
the CFS hierarchy (each group's ``cfs_rq`` on a CPU, its entities in the red-black tree,
groups whose entity is an inner node ``se->my_q``), and the RT one where the kernel has
RT group scheduling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program, container_of

from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import list_entries, rbtree_nodes
from pycrash.records import OptHex


@dataclass(frozen=True)
class GroupInfo:
    """A task group: its address, depth below the root, cgroup name (None without one,
    an autogroup's) and its parent's index in the list (-1 for the root)."""

    group: int
    depth: int
    name: str | None
    parent: int


@dataclass(frozen=True)
class QueueEntry:
    """One line of a CPU's grouped run queue: a task group's queue (``group``, its
    ``queue``: the cfs_rq or rt_rq, name and whether it is throttled), a task (its
    priority, and whether it is the CPU's current task) or ``[no tasks queued]``
    (``empty``), at a depth below the root group."""

    depth: int
    kind: str
    prio: int | None = None
    task: TaskId | None = None
    current: bool = False
    group: OptHex = None
    queue: OptHex = None
    name: str | None = None
    throttled: bool = False


def group_name(tg: Object) -> str | None:
    """The name of a task group's cgroup directory (``/`` for the root), None without a
    cgroup (an autogroup)."""
    try:
        cgroup = tg.css.cgroup
        if not cgroup:
            return None
        kn = cgroup.kn
        if not kn:
            return None
        if not kn.parent:
            return "/"
        return kn.name.string_().decode("utf-8", "replace")
    except (AttributeError, FaultError, LookupError):
        return None


def task_groups(prog: Program) -> list[GroupInfo]:
    """Return every task group below ``root_task_group``, depth first, then ordered by
    depth (stably), as crash lists them."""
    root = prog["root_task_group"].address_of_()
    found: list[GroupInfo] = []

    def walk(tg: Object, depth: int, parent: int) -> None:
        index = len(found)
        found.append(GroupInfo(tg.value_(), depth, group_name(tg), parent))
        if depth > 64:
            return
        for child in list_entries("struct task_group", tg.children.address_of_(),
                                  "siblings", f"the children of task group {tg.value_():#x}"):
            walk(child, depth + 1, index)

    walk(root, 0, -1)
    return sorted(found, key=lambda g: g.depth)


def _cfs_rq(prog: Program, group: int, cpu: int) -> Object:
    tg = Object(prog, "struct task_group *", group)
    return tg.cfs_rq[cpu]


def _entity_task(se: Object) -> Object:
    return container_of(se, "struct task_struct", "se")


class _CfsWalk:
    """crash's dump_tasks_in_task_group_cfs_rq() over one CPU's hierarchy."""

    def __init__(self, prog: Program, groups: list[GroupInfo], cpu: int,
                 current: Object | None) -> None:
        self.prog = prog
        self.groups = groups
        self.cpu = cpu
        self.current = current.value_() if current is not None else 0
        self.use = [g.depth > 0 for g in groups]  # not yet shown on this CPU
        self.entries: list[QueueEntry] = []
        self.seen: set[int] = set()

    def header(self, index: int, depth: int, cfs_rq: Object) -> None:
        g = self.groups[index]
        try:
            throttled = bool(cfs_rq.throttled.value_())
        except AttributeError:
            throttled = False
        self.entries.append(QueueEntry(depth, "group", group=g.group, queue=cfs_rq.value_(),
                                       name=g.name, throttled=throttled))
        self.use[index] = False

    def task(self, task: Object, depth: int, current: bool) -> None:
        self.entries.append(QueueEntry(depth, "task", int(task.prio.value_()),
                                       task_id(task), current))

    def queue(self, depth: int, cfs_rq: Object) -> int:
        """Add the lines of a cfs_rq at ``depth``; return how many entities it showed."""
        if cfs_rq.value_() in self.seen or depth > 64:
            return 0
        self.seen.add(cfs_rq.value_())
        total = 0
        if depth:
            tg = cfs_rq.tg.value_()
            index = next((i for i, g in enumerate(self.groups) if g.group == tg), None)
            if index is not None:
                self.header(index, depth, cfs_rq)
        curr = cfs_rq.curr.read_()
        my_q = curr.my_q.read_() if curr else None
        if my_q:
            total += 1 + self.queue(depth + 1, my_q)
        elif curr and self.current and _entity_task(curr).value_() == self.current:
            total += 1
            self.task(_entity_task(curr), depth, True)
        timeline = cfs_rq.tasks_timeline
        if hasattr(timeline, "rb_root"):  # rb_root_cached (4.14 on)
            root, leftmost = timeline.rb_root, timeline.rb_leftmost
        else:
            root, leftmost = timeline, cfs_rq.rb_leftmost
        if leftmost:
            for node in rbtree_nodes(root.address_of_(), f"the CFS tree {cfs_rq.value_():#x}"):
                se = container_of(node, "struct sched_entity", "run_node")
                if se.my_q:
                    total += 1 + self.queue(depth + 1, se.my_q.read_())
                    continue
                self.task(_entity_task(se), depth, False)
                total += 1
        total += self.lower(depth, cfs_rq)
        if not total:
            self.entries.append(QueueEntry(depth, "empty"))
        return total

    def parents(self, index: int) -> None:
        """Show the headers of a group's ancestors not yet shown (crash's
        print_parent_task_group_fair())."""
        parent = self.groups[index].parent
        if parent < 0 or not self.use[parent]:
            return
        self.parents(parent)
        g = self.groups[parent]
        self.header(parent, g.depth, _cfs_rq(self.prog, g.group, self.cpu))

    def lower(self, depth: int, cfs_rq: Object) -> int:
        """The child groups of ``cfs_rq``'s group with runnable entities that are not in
        its tree (dequeued: throttled), as crash's dump_tasks_in_lower_dequeued_cfs_rq()."""
        total = 0
        for i, g in enumerate(self.groups):
            if not self.use[i] or g.depth - depth != 1 or g.parent < 0:
                continue
            if cfs_rq.tg.value_() != self.groups[g.parent].group:
                continue
            child = _cfs_rq(self.prog, g.group, self.cpu)
            if child.value_() == cfs_rq.value_():
                continue
            if not child.nr_running.value_():
                total += self.lower(depth + 1, child)
                continue
            self.parents(i)
            total += 1 + self.queue(depth + 1, child)
        return total


def cfs_entries(prog: Program, groups: list[GroupInfo], cpu: int,
                current: Object | None) -> tuple[int, list[QueueEntry]]:
    """Return the root group's cfs_rq on ``cpu`` and the lines of its hierarchy."""
    root = _cfs_rq(prog, groups[0].group, cpu)
    walk = _CfsWalk(prog, groups, cpu, current)
    walk.queue(0, root)
    return root.value_(), walk.entries


def rt_entries(prog: Program, groups: list[GroupInfo], cpu: int) -> tuple[int, list[QueueEntry]]:
    """Return the root group's rt_rq on ``cpu`` and its tasks and groups by priority (RT
    group scheduling); LookupError where the kernel has none."""
    tg = Object(prog, "struct task_group *", groups[0].group)
    try:
        root = tg.rt_rq[cpu]
    except (AttributeError, LookupError):
        raise LookupError("no RT group scheduling") from None
    entries: list[QueueEntry] = []

    def queue(rt_rq: Object, depth: int, prio: int | None = None) -> int:
        total = 0
        if depth:
            g = next((g for g in groups if g.group == rt_rq.tg.value_()), None)
            entries.append(QueueEntry(depth, "group", prio, group=g.group if g else None,
                                      queue=rt_rq.value_(), name=g.name if g else None,
                                      throttled=bool(rt_rq.rt_throttled.value_())))
        if depth > 64:
            return 0
        for prio, head in enumerate(rt_rq.active.queue):
            for rt_se in _rt_entities(head.address_of_(), cpu, prio):
                my_q = rt_se.my_q.read_() if hasattr(rt_se, "my_q") else None
                total += 1
                if my_q:
                    queue(my_q, depth + 1, prio)
                else:
                    entries.append(QueueEntry(depth, "task", prio, task_id(
                        container_of(rt_se, "struct task_struct", "rt"))))
        if not total:
            entries.append(QueueEntry(depth, "empty"))
        return total

    queue(root, 0)
    return root.value_(), entries


def _rt_entities(head: Object, cpu: int, prio: int) -> Iterator[Object]:
    yield from list_entries("struct sched_rt_entity", head, "run_list",
                            f"the RT run queue (priority {prio}) of CPU {cpu}")
