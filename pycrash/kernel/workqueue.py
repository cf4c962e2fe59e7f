"""Workqueues and worker pools, as the kernel's own "Showing busy workqueues and worker
pools:" dump (kernel/workqueue.c, show_all_workqueues()) sees them, and the delayed works
waiting on timers.

The layout read, and where it changed:

- every workqueue is on ``workqueues`` (``workqueue_struct.list``), its pool_workqueues on
  ``wq->pwqs`` (``pwq->pwqs_node``): per-CPU pwqs (``cpu_pwqs``, from 6.6 ``cpu_pwq``) and
  unbound ones (``numa_pwq_tbl``/``dfl_pwq``) alike, so that list is the one walked;
- every worker pool is in ``worker_pool_idr``: the per-CPU pools (``cpu_worker_pools``),
  from 6.10 the softirq (BH) pools (``bh_worker_pools``, whose one worker has no task), and
  the unbound pools (``unbound_pool_hash``);
- a pool's workers are on ``pool->workers`` (``worker->node``); the busy ones in
  ``pool->busy_hash`` (``worker->hentry``), the idle ones on ``pool->idle_list``
  (``worker->entry``);
- pending work items are on ``pool->worklist`` (``work->entry``); a queued item's
  ``work->data`` holds its pwq (flag WORK_STRUCT_PWQ; the low WORK_STRUCT_FLAG_BITS bits,
  from 6.8 WORK_STRUCT_PWQ_SHIFT bits, are flags); items held back by max_active wait on
  ``pwq->inactive_works`` (``delayed_works`` before 5.11);
- ``pwq->max_active`` went away in 6.9 (``wq->max_active`` then), ``pool->watchdog_ts``
  became ``last_progress_ts`` in 7.x.

Every list walk is bounded and ends at a loop (:func:`pycrash.kernel.walk.bounded`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program, TypeKind, cast, container_of
from drgn.helpers.linux.cpumask import for_each_cpu, for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.timer import timer_base_for_each

from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import bounded, hlist_entries, idr_entries, list_entries
from pycrash.records import Hex, OptHex

#: worker->flags: the worker is on its pool's idle list (kernel/workqueue.c WORKER_IDLE)
WORKER_IDLE = 1 << 2
#: worker_pool->flags: a softirq (BH) pool, 6.10 on
POOL_BH = 1 << 0
#: workqueue_struct->flags: not bound to any CPU
WQ_UNBOUND = 1 << 1


@dataclass(frozen=True)
class WorkItem:
    """A work item: its work_struct, function (with its symbol), the workqueue and
    pool_workqueue it is queued on (from work->data; None when off queue or unknown), for
    a flush barrier (wq_barrier_func) the pid of the task waiting for it, and whether the
    next item is linked to it (WORK_STRUCT_LINKED: they run together)."""

    work: Hex
    func: Hex
    func_symbol: str | None
    workqueue: str | None
    pwq: OptHex
    barrier_pid: int | None
    linked: bool


@dataclass(frozen=True)
class Worker:
    """A kworker of a pool: its struct worker, its task (None: a softirq pool's worker),
    its id (the M of kworker/N:M), its state (``busy`` running a work item, ``idle`` on the
    pool's idle list, ``running`` between items, managing, starting or dying), its flags,
    the work it runs (current_work, current_func and symbol, current_pwq and its
    workqueue; 0 and None when not busy), the items it will run next (worker->scheduled),
    the function it ran last (last_func; None: none, or a kernel without it), its
    description (worker->desc: the workqueue it last worked for, which /proc shows after
    the comm) and, for a rescuer, its workqueue."""

    worker: Hex
    task: TaskId | None
    id: int
    state: str
    flags: Hex
    current_work: Hex
    current_func: Hex
    current_func_symbol: str | None
    current_pwq: Hex
    current_workqueue: str | None
    scheduled: tuple[WorkItem, ...]
    last_func_symbol: str | None
    desc: str
    rescuer_of: str | None


@dataclass(frozen=True)
class PoolInfo:
    """What names a worker pool: its struct worker_pool, id, CPU (-1: unbound), NUMA node
    (-1: none), flags, nice value of its workers, whether it is a softirq (BH) pool, and
    the CPUs its workers may run on."""

    pool: Hex
    id: int
    cpu: int
    node: int
    flags: Hex
    nice: int
    bh: bool
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class WorkerPool:
    """A worker pool: what names it, its worker counts (nr_workers, nr_idle, nr_running),
    how many seconds its first pending item has waited (the kernel's ``hung=``; 0 with
    nothing pending), the pid of its manager (None: none), the pids on its idle list in
    order, its workers, and its pending work items (pool->worklist) in order."""

    info: PoolInfo
    nr_workers: int
    nr_idle: int
    nr_running: int
    hung_seconds: int
    manager_pid: int | None
    idle_pids: tuple[int, ...]
    workers: tuple[Worker, ...]
    pending: tuple[WorkItem, ...]


@dataclass(frozen=True)
class PoolWorkqueue:
    """A pool_workqueue, which links a workqueue to a pool: its address, the pool, its
    active items and their limit (max_active; None from 6.9, where the limit is the
    workqueue's), its reference count, whether it asked for a rescuer (mayday), its pool's
    busy workers running its items (in flight), its items pending on the pool's worklist,
    and those held back by max_active (inactive)."""

    pwq: Hex
    pool: PoolInfo
    nr_active: int
    max_active: int | None
    refcnt: int
    mayday: bool
    in_flight: tuple[Worker, ...]
    pending: tuple[WorkItem, ...]
    inactive: tuple[WorkItem, ...]

    @property
    def busy(self) -> bool:
        """Whether the kernel's dump shows it: active or inactive items."""
        return bool(self.nr_active or self.inactive)


@dataclass(frozen=True)
class Workqueue:
    """A workqueue: its workqueue_struct, name, flags (WQ_*), whether it is unbound, its
    max_active, the pid of its rescuer thread (None: no WQ_MEM_RECLAIM rescuer), and its
    pool_workqueues in the order of wq->pwqs."""

    workqueue: Hex
    name: str
    flags: Hex
    unbound: bool
    max_active: int
    rescuer_pid: int | None
    pwqs: tuple[PoolWorkqueue, ...]

    @property
    def busy(self) -> bool:
        """Whether the kernel's dump shows it: any pwq with active or inactive items."""
        return any(p.busy for p in self.pwqs)


@dataclass(frozen=True)
class DelayedWork:
    """A delayed work waiting on its timer (a timer_list whose function is
    delayed_work_timer_fn): the CPU and timer_bases[] index of the timer base it is
    queued on, when it expires (jiffies), its timer_list and struct delayed_work, the work
    function with its symbol, the workqueue it will be queued on (dwork->wq; None: unknown),
    and the CPU asked for (dwork->cpu; None: WORK_CPU_UNBOUND)."""

    cpu: int
    base: int
    expires: int
    timer: Hex
    delayed_work: Hex
    func: Hex
    func_symbol: str | None
    workqueue: str | None
    target_cpu: int | None


@dataclass(frozen=True)
class WorkqueueState:
    """Every workqueue and every worker pool (in pool id order), read once."""

    workqueues: tuple[Workqueue, ...]
    pools: tuple[WorkerPool, ...]


def _member(obj: Object, *names: str) -> Object | None:
    """Return the first of ``names`` that is a member of ``obj``, or None."""
    for name in names:
        try:
            return obj.member_(name)
        except (LookupError, TypeError):  # not a member; not a struct at all
            continue
    return None


def _enum(prog: Program, name: str, default: int) -> int:
    try:
        return prog[name].value_()
    except (KeyError, LookupError):
        return default


def _list(head: Object, type_name: str, member: str, what: str) -> Iterator[Object]:
    """The entries of a kernel list, bounded."""
    return list_entries(type_name, head.address_of_(), member, what)


def func_symbol(prog: Program, address: int) -> str | None:
    """Return the name of the function at ``address`` (``name+off`` inside one), or None
    when no symbol holds it."""
    from pycrash.kernel.symindex import find_symbol

    if not address:
        return None
    try:
        sym = find_symbol(prog, address)
    except LookupError:
        return None
    off = address - sym.address
    return f"{sym.name}+{off:#x}" if off else sym.name


def _name(obj: Object) -> str:
    return obj.string_().decode("utf-8", "replace")


class _Reader:
    """Reads work items, workers and pools, with the kernel's constants looked up once."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.pwq_flag = _enum(prog, "WORK_STRUCT_PWQ", 1 << 2)
        self.linked_flag = _enum(prog, "WORK_STRUCT_LINKED", 1 << 3)
        shift = _enum(prog, "WORK_STRUCT_PWQ_SHIFT", -1)
        if shift < 0:
            shift = _enum(prog, "WORK_STRUCT_FLAG_BITS", 8)
        self.pwq_mask = ~((1 << shift) - 1) & 0xFFFF_FFFF_FFFF_FFFF
        self.barrier_func = self._address("wq_barrier_func")
        self.pwq_names: dict[int, str] = {}  # pwq address -> workqueue name
        self.symbols: dict[int, str | None] = {}
        try:
            prog["bh_worker_pools"]
            self.has_bh = True
        except KeyError:
            self.has_bh = False

    def _address(self, name: str) -> int:
        try:
            return self.prog.symbol(name).address
        except LookupError:
            return 0

    def symbol(self, address: int) -> str | None:
        if address not in self.symbols:
            self.symbols[address] = func_symbol(self.prog, address)
        return self.symbols[address]

    def workqueue_of_pwq(self, pwq: int) -> str | None:
        """The name of the workqueue of a pool_workqueue address (None: unreadable)."""
        if not pwq:
            return None
        if pwq not in self.pwq_names:
            try:
                obj = Object(self.prog, "struct pool_workqueue *", pwq)
                self.pwq_names[pwq] = _name(obj.wq.name)
            except FaultError:
                return None
        return self.pwq_names[pwq]

    def work(self, work: Object) -> WorkItem:
        """Return the :class:`WorkItem` of a ``struct work_struct *``."""
        data = work.data.counter.value_() & 0xFFFF_FFFF_FFFF_FFFF
        func = work.func.value_()
        pwq = data & self.pwq_mask if data & self.pwq_flag else None
        barrier = None
        if func and func == self.barrier_func:
            try:
                barr = container_of(work, "struct wq_barrier", "work")
                barrier = barr.task.pid.value_()
            except (LookupError, FaultError):
                barrier = None
        return WorkItem(work.value_(), func, self.symbol(func),
                        self.workqueue_of_pwq(pwq) if pwq else None, pwq, barrier,
                        bool(data & self.linked_flag))

    def works(self, head: Object, what: str) -> tuple[WorkItem, ...]:
        return tuple(self.work(w) for w in _list(head, "struct work_struct", "entry", what))

    def worker(self, worker: Object, busy: bool) -> Worker:
        """Return the :class:`Worker` of a ``struct worker *``."""
        task = worker.task
        tid = task_id(task) if task.value_() else None
        flags = worker.flags.value_()
        state = "busy" if busy else "idle" if flags & WORKER_IDLE else "running"
        cur_func = worker.current_func.value_() if busy else 0
        cur_pwq = worker.current_pwq.value_() if busy else 0
        last = _member(worker, "last_func")
        rescue = worker.rescue_wq.value_()
        rescuer_of = None
        if rescue:
            try:
                rescuer_of = _name(worker.rescue_wq.name)
            except FaultError:
                rescuer_of = f"{rescue:x}"
        scheduled = self.works(worker.scheduled, f"worker {worker.value_():x} scheduled")
        return Worker(worker.value_(), tid, worker.id.value_(), state, flags,
                      worker.current_work.value_() if busy else 0, cur_func,
                      self.symbol(cur_func), cur_pwq, self.workqueue_of_pwq(cur_pwq), scheduled,
                      self.symbol(last.value_()) if last is not None else None,
                      _name(worker.desc), rescuer_of)

    def pool_info(self, pool: Object) -> PoolInfo:
        """Return the :class:`PoolInfo` of a ``struct worker_pool *``."""
        attrs = pool.attrs
        mask = attrs.cpumask
        real = mask.type_
        while real.kind == TypeKind.TYPEDEF:  # cpumask_var_t: a pointer, or an array of one
            real = real.type
        if real.kind == TypeKind.ARRAY:
            mask = Object(self.prog, real.type, address=mask.address_)
        elif real.kind == TypeKind.POINTER:
            mask = cast(real, mask)[0]
        try:
            cpus = tuple(for_each_cpu(mask))
        except FaultError:
            cpus = ()
        flags = pool.flags.value_()
        return PoolInfo(pool.value_(), pool.id.value_(), pool.cpu.value_(),
                        pool.node.value_(), flags, attrs.nice.value_(),
                        bool(flags & POOL_BH) and self.has_bh, cpus)

    def pool(self, pool: Object, jiffies: int, hz: int | None) -> WorkerPool:
        """Return the :class:`WorkerPool` of a ``struct worker_pool *``."""
        where = f"worker_pool {pool.value_():x}"
        busy: dict[int, Object] = {}
        buckets = pool.busy_hash
        for i in range(len(buckets)):
            for w in hlist_entries("struct worker", buckets[i].address_of_(), "hentry",
                                   f"{where} busy_hash"):
                if w.value_() in busy:
                    raise ValueError(f"{where} busy_hash holds {w.value_():x} twice")
                busy[w.value_()] = w
        idle_pids = []
        for w in _list(pool.idle_list, "struct worker", "entry", f"{where} idle_list"):
            idle_pids.append(w.task.pid.value_() if w.task.value_() else -1)
        workers = [self.worker(w, w.value_() in busy)
                   for w in _list(pool.workers, "struct worker", "node", f"{where} workers")]
        listed = {w.worker for w in workers}
        workers += [self.worker(w, True) for a, w in busy.items() if a not in listed]
        pending = self.works(pool.worklist, f"{where} worklist")
        hung = 0
        ts = _member(pool, "watchdog_ts", "last_progress_ts")
        if pending and ts is not None and hz:
            hung = ((jiffies - ts.value_()) & 0xFFFF_FFFF_FFFF_FFFF) // hz
        manager = pool.manager
        manager_pid = None
        if manager.value_() and manager.task.value_():
            manager_pid = manager.task.pid.value_()
        nr_running = pool.nr_running
        running = nr_running.counter.value_() if _member(nr_running, "counter") is not None \
            else nr_running.value_()
        return WorkerPool(self.pool_info(pool), pool.nr_workers.value_(),
                          pool.nr_idle.value_(), running, hung, manager_pid,
                          tuple(idle_pids), tuple(workers), pending)


def _pools(prog: Program) -> Iterator[Object]:
    """Every ``struct worker_pool *`` of worker_pool_idr, by id."""
    for _id, ptr in idr_entries(prog["worker_pool_idr"].address_of_(), "worker_pool_idr"):
        yield cast("struct worker_pool *", ptr)


def workqueues(prog: Program) -> Iterator[Object]:
    """Every ``struct workqueue_struct *`` on the ``workqueues`` list, bounded."""
    return _list(prog["workqueues"], "struct workqueue_struct", "list", "workqueues")


def workqueue_state(prog: Program) -> WorkqueueState:
    """Return every workqueue and every worker pool of the kernel."""
    from pycrash.kernel.system import hz

    reader = _Reader(prog)
    wqs = list(workqueues(prog))
    pwq_lists: list[list[Object]] = []
    for wq in wqs:
        pwqs = list(_list(wq.pwqs, "struct pool_workqueue", "pwqs_node",
                          f"workqueue {_name(wq.name)} pwqs"))
        for pwq in pwqs:
            reader.pwq_names[pwq.value_()] = _name(wq.name)
        pwq_lists.append(pwqs)
    jiffies = prog["jiffies"].value_()
    rate = hz(prog)
    pools = tuple(reader.pool(p, jiffies, rate) for p in bounded(_pools(prog), "worker pools"))
    by_addr = {p.info.pool: p for p in pools}
    out = []
    for wq, pwqs in zip(wqs, pwq_lists, strict=True):
        rows = []
        for pwq in pwqs:
            addr = pwq.value_()
            pool = by_addr.get(pwq.pool.value_())
            if pool is None:  # a pool not in the idr (being released)
                pool = reader.pool(pwq.pool, jiffies, rate)
            inactive = _member(pwq, "inactive_works", "delayed_works")
            max_active = _member(pwq, "max_active")
            rows.append(PoolWorkqueue(
                addr, pool.info, pwq.nr_active.value_(),
                max_active.value_() if max_active is not None else None,
                pwq.refcnt.value_(),
                pwq.mayday_node.next.value_() != pwq.mayday_node.address_of_().value_(),
                tuple(w for w in pool.workers if w.state == "busy" and w.current_pwq == addr),
                tuple(i for i in pool.pending if i.pwq == addr),
                reader.works(inactive, f"pwq {addr:x} inactive_works")
                if inactive is not None else ()))
        max_active = _member(wq, "max_active", "saved_max_active")
        rescuer = wq.rescuer
        rescuer_pid = None
        if rescuer.value_() and rescuer.task.value_():
            rescuer_pid = rescuer.task.pid.value_()
        flags = wq.flags.value_()
        out.append(Workqueue(wq.value_(), _name(wq.name), flags, bool(flags & WQ_UNBOUND),
                             max_active.value_() if max_active is not None else 0,
                             rescuer_pid, tuple(rows)))
    return WorkqueueState(tuple(out), pools)


def delayed_works(prog: Program) -> list[DelayedWork]:
    """Return the delayed works waiting on the timer wheels of the online CPUs, each CPU's
    soonest first."""
    try:
        fn = prog.symbol("delayed_work_timer_fn").address
    except LookupError:
        return []
    reader = _Reader(prog)
    unbound = _enum(prog, "WORK_CPU_UNBOUND", -1)
    out = []
    for cpu in for_each_online_cpu(prog):
        bases = per_cpu(prog["timer_bases"], cpu)
        found = []
        for i in range(len(bases)):
            for t in bounded(timer_base_for_each(bases[i].address_of_()),
                             f"CPU {cpu} timer_bases[{i}]"):
                if t.function.value_() != fn:
                    continue
                dwork = container_of(t, "struct delayed_work", "timer")
                func = dwork.work.func.value_()
                name = None
                if dwork.wq.value_():
                    try:
                        name = _name(dwork.wq.name)
                    except FaultError:
                        name = None
                target = dwork.cpu.value_()
                found.append(DelayedWork(cpu, i, t.expires.value_(), t.value_(),
                                         dwork.value_(), func, reader.symbol(func), name,
                                         None if target == unbound else target))
        found.sort(key=lambda d: d.expires)
        out += found
    return out
