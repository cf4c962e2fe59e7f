"""wq: workqueues and worker pools, as the kernel's "Showing busy workqueues and worker
pools:" dump shows them; -p each pool's workers and pending work; -d delayed works on
their timers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.workqueue import (
    DelayedWork,
    PoolInfo,
    PoolWorkqueue,
    Worker,
    WorkerPool,
    WorkItem,
    Workqueue,
    delayed_works,
    workqueue_state,
)
from pycrash.session import Session


@dataclass(frozen=True)
class CpuDelayedWorks:
    """One CPU's delayed works waiting on its timer wheel, soonest first, and the jiffies
    count of the dump."""

    cpu: int
    jiffies: int
    works: tuple[DelayedWork, ...]


@dataclass(frozen=True)
class WqView:
    """What wq shows: ``state`` (the kernel's dump; ``everything``: idle workqueues and
    pools too; ``header``: the kernel's first line), ``pools`` (-p) or ``delayed`` (-d)."""

    table: str
    everything: bool = False
    header: bool = True


def cpu_list(cpus: Sequence[int]) -> str:
    """The kernel's ``%*pbl`` of a CPU set: ranges, ``0-3,8``."""
    out: list[str] = []
    start = prev = None
    for c in sorted(cpus):
        if prev is not None and c == prev + 1:
            prev = c
            continue
        if start is not None:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = c
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ",".join(out)


def pool_info(info: PoolInfo) -> str:
    """The kernel's pr_cont_pool_info(): ``cpus=0-1 node=0 flags=0x4 nice=0``."""
    text = f" cpus={cpu_list(info.cpus)}"
    if info.node != -1:
        text += f" node={info.node}"
    text += f" flags={info.flags:#x}"
    if info.bh:
        return text + (" bh-hi" if info.nice < 0 else " bh")
    return text + f" nice={info.nice}"


def _func(symbol: str | None, address: int) -> str:
    return symbol or f"{address:x}"


class _Works:
    """The kernel's pr_cont_work()/pr_cont_work_flush(): runs of one function become
    ``N*func``, flush barriers ``BAR(pid)``, linked items follow without a comma."""

    def __init__(self) -> None:
        self.text = ""
        self.count = 0
        self.func: str | None = None
        self.comma = False

    def flush(self, comma: bool, func: str | None) -> None:
        if self.count:
            if func is not None and func == self.func:
                self.count += 1
                return
            times = f"{self.count}*" if self.count > 1 else ""
            self.text += f"{',' if self.comma else ''} {times}{self.func}"
            self.count = 0
        if func is None:
            return
        self.comma, self.func, self.count = comma, func, 1

    def work(self, comma: bool, item: WorkItem) -> None:
        if item.barrier_pid is not None:
            self.flush(comma, None)
            self.text += f"{',' if comma else ''} BAR({item.barrier_pid})"
            return
        if not comma:
            self.flush(comma, None)
        self.flush(comma, _func(item.func_symbol, item.func))

    def items(self, items: Iterable[WorkItem]) -> str:
        comma = False
        for item in items:
            self.work(comma, item)
            comma = not item.linked
        self.flush(comma, None)
        return self.text


def in_flight(workers: Iterable[Worker]) -> str:
    """The kernel's in-flight list: ``pid:func`` per busy worker, then its scheduled
    items."""
    out = _Works()
    comma = False
    for w in workers:
        pid = w.task.pid if w.task else -1
        rescuer = "(RESCUER)" if w.rescuer_of is not None else ""
        out.text += (f"{',' if comma else ''} {pid}{rescuer}:"
                     f"{_func(w.current_func_symbol, w.current_func)}")
        for item in w.scheduled:
            out.work(False, item)
        out.flush(comma, None)
        comma = True
    return out.text


def pwq_lines(pwq: PoolWorkqueue) -> Iterator[str]:
    """The kernel's show_pwq()."""
    active = f"{pwq.nr_active}" if pwq.max_active is None else f"{pwq.nr_active}/{pwq.max_active}"
    yield (f"  pwq {pwq.pool.id}:{pool_info(pwq.pool)} active={active} refcnt={pwq.refcnt}"
           + (" MAYDAY" if pwq.mayday else ""))
    if pwq.in_flight:
        yield "    in-flight:" + in_flight(pwq.in_flight)
    if pwq.pending:
        yield "    pending:" + _Works().items(pwq.pending)
    if pwq.inactive:
        yield "    inactive:" + _Works().items(pwq.inactive)


def pool_line(pool: WorkerPool) -> str:
    """The kernel's show_one_worker_pool() line."""
    text = (f"pool {pool.info.id}:{pool_info(pool.info)} hung={pool.hung_seconds}s "
            f"workers={pool.nr_workers}")
    if pool.manager_pid is not None:
        text += f" manager: {pool.manager_pid}"
    if pool.idle_pids:
        text += " idle: " + " ".join(map(str, pool.idle_pids))
    return text


def _state_lines(result: Result) -> Iterator[str]:
    everything = result.view.everything
    if result.view.header:
        yield "Showing busy workqueues and worker pools:"
    for row in result.rows:
        if isinstance(row, Workqueue):
            yield f"workqueue {row.name}: flags={row.flags:#x}"
            for pwq in row.pwqs:
                if everything or pwq.busy:
                    yield from pwq_lines(pwq)
        elif isinstance(row, WorkerPool):
            yield pool_line(row)


def _worker_line(w: Worker) -> str:
    pid = f"{w.task.pid:>7}" if w.task else "      -"
    comm = w.task.comm if w.task else "-"
    if w.state == "busy":
        work = f"{w.current_work:016x}"
        func = _func(w.current_func_symbol, w.current_func)
        wq = w.current_workqueue or "?"
    else:
        work = f"{'-':<16}"
        func = f"({w.last_func_symbol})" if w.last_func_symbol else "-"
        wq = f"({w.desc})" if w.desc else "-"
    if w.rescuer_of is not None:
        wq += f" [rescuer of {w.rescuer_of}]"
    return f"  {pid}  {w.worker:016x}  {w.state:<7}  {comm:<16} {work}  {func:<28} {wq}"


def _item_line(item: WorkItem) -> str:
    func = _func(item.func_symbol, item.func)
    if item.barrier_pid is not None:
        func += f" (barrier of pid {item.barrier_pid})"
    return f"  {item.work:016x}  {func:<36} {item.workqueue or '?'}"


def _pool_lines(result: Result) -> Iterator[str]:
    for n, pool in enumerate(result.rows):
        if n:
            yield ""
        info = pool.info
        where = "UNBOUND" if info.cpu < 0 else f"{info.cpu}"
        yield (f"POOL: {info.id:<3} WORKER_POOL: {info.pool:x}  CPU: {where}  "
               f"CPUS: {cpu_list(info.cpus)}  NICE: {info.nice}" + ("  BH" if info.bh else ""))
        manager = f"  MANAGER: {pool.manager_pid}" if pool.manager_pid is not None else ""
        yield (f"  WORKERS: {pool.nr_workers}  IDLE: {pool.nr_idle}  RUNNING: "
               f"{pool.nr_running}  HUNG: {pool.hung_seconds}s{manager}")
        if pool.workers:
            yield ("      PID  WORKER            STATE    COMM             CURRENT_WORK      "
                   "FUNCTION                     WORKQUEUE")
            yield from (_worker_line(w) for w in pool.workers)
        if not pool.pending:
            yield "  [no pending work]"
            continue
        yield f"  PENDING: {len(pool.pending)}"
        yield f"  {'WORK_STRUCT':<16}  {'FUNCTION':<36} WORKQUEUE"
        yield from (_item_line(i) for i in pool.pending)


def _delayed_lines(result: Result) -> Iterator[str]:
    if result.rows:
        yield f"JIFFIES\n{result.rows[0].jiffies}"
    for q in result.rows:
        if not q.works:
            continue
        yield f"TIMER_BASES[{q.cpu}]"
        yield ("  EXPIRES        TIMER_LIST        DELAYED_WORK      CPU  "
               "FUNCTION                     WORKQUEUE")
        for d in q.works:
            cpu = "-" if d.target_cpu is None else str(d.target_cpu)
            yield (f"  {d.expires:<12}  {d.timer:016x}  {d.delayed_work:016x}  {cpu:>3}  "
                   f"{_func(d.func_symbol, d.func):<28} {d.workqueue or '?'}")


def render(result: Result) -> Iterable[str]:
    """wq's text: the kernel's workqueue dump, the pools' workers, or the delayed works."""
    table = result.view.table
    if table == "pools":
        return _pool_lines(result)
    if table == "delayed":
        return _delayed_lines(result)
    return _state_lines(result)


@command(
    "wq",
    summary="workqueues and worker pools",
    synopsis="wq [-a] [-p | -d] [workqueue ...]",
    description="""
Shows the kernel's workqueues as the kernel itself reports them when a
workqueue stalls or sysrq-t is pressed ("Showing busy workqueues and worker
pools:", kernel/workqueue.c show_all_workqueues()): each busy workqueue, its
flags (WQ_*) and its busy pool_workqueues ("pwq POOL_ID:" with the pool's
CPUs, NUMA node, flags and nice value, the active work items and their limit,
the reference count, MAYDAY when it asked for its rescuer), the workers
running its items ("in-flight: PID:FUNCTION", a rescuer with "(RESCUER)"),
and its items pending on the pool's worklist and held back by max_active
("inactive:"); a run of one function is written N*FUNCTION, a flush barrier
BAR(PID) with the pid of the task waiting in flush_work() or
flush_workqueue(). Then each pool that has busy workers or pending work:
"hung=" the seconds its first pending item has waited, its workers, its
manager and its idle workers' pids. A task stuck in flush_work() waits for
the BAR() item; a pool whose hung= grows has workers all blocked.

  -a  every workqueue and every pool, idle ones too.
  -p  each worker pool (all of them) with each worker: pid, struct worker,
      state (busy: running an item; idle: on the pool's idle list; running:
      between items, managing or starting), command, and for a busy worker
      its work_struct, function and workqueue (for the others, in
      parentheses, the function it ran last and the workqueue it last
      worked for, which /proc shows after a kworker's name); then the
      pool's pending work items: work_struct, function, workqueue.
  -d  delayed works waiting on their timers (timer_list functions that are
      delayed_work_timer_fn), by CPU, soonest first: expiry in jiffies,
      the timer_list, the struct delayed_work, the CPU it will be queued on
      ("-": any), the work function and the workqueue.
  workqueue  only these workqueues (by name), with all their
      pool_workqueues.
""",
    examples="""
crash> wq
crash> wq -a
crash> wq events kblockd
crash> wq -p
crash> wq -d
""",
    arguments=(
        arg("-a", dest="everything", action="store_true",
            help="every workqueue and pool, idle ones too"),
        arg("-p", dest="pools", action="store_true",
            help="each worker pool with its workers and pending work"),
        arg("-d", dest="delayed", action="store_true",
            help="delayed works waiting on their timers"),
        arg("names", nargs="*", metavar="workqueue", help="only these workqueues"),
    ),
    records=(Workqueue, PoolWorkqueue, PoolInfo, Worker, WorkItem, WorkerPool,
             CpuDelayedWorks, DelayedWork),
)
def wq(session: Session, args: argparse.Namespace) -> Result:
    """Return the workqueues and pools (Workqueue, WorkerPool), the pools (-p) or the
    delayed works per CPU (-d)."""
    prog = session.prog
    if args.pools and args.delayed:
        raise CommandError("-p and -d cannot be used together")
    if args.names and (args.pools or args.delayed):
        raise CommandError("workqueue names cannot be used with -p or -d")
    try:
        if args.delayed:
            jiffies = prog["jiffies"].value_()
            works = delayed_works(prog)
            cpus = sorted({d.cpu for d in works})
            rows: list[object] = [CpuDelayedWorks(c, jiffies,
                                                  tuple(d for d in works if d.cpu == c))
                                  for c in cpus]
            return Result(rows, render=render, view=WqView("delayed"))
        state = workqueue_state(prog)
    except (ValueError, LookupError) as exc:
        raise CommandError(str(exc)) from None
    if args.pools:
        return Result(list(state.pools), render=render, view=WqView("pools"))
    if args.names:
        names = list(dict.fromkeys(args.names))
        known = {w.name for w in state.workqueues}
        errors = [f"no workqueue named {n}" for n in names if n not in known]
        # in the order asked; a name may be two workqueues' (7.x has two "events")
        rows = [w for n in names for w in state.workqueues if w.name == n]
        if not rows:
            raise CommandError(errors[0])
        return Result(rows, render=render, errors=errors,
                      view=WqView("state", everything=True, header=False))
    if args.everything:
        rows = [*state.workqueues, *state.pools]
        return Result(rows, render=render, view=WqView("state", everything=True, header=False))
    rows = [*(w for w in state.workqueues if w.busy),
            *(p for p in state.pools if p.nr_workers != p.nr_idle or p.pending)]
    return Result(rows, render=render, view=WqView("state"))
