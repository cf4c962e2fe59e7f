"""wq: the kernel's workqueue dump from records (no dump needed), and workqueues, worker
pools and delayed works on the real dumps, against the guest's own /proc (every kworker's
name says its pool; its stack says whether it was busy), pycrash's ``bt`` at the crash, and
the timer wheel."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SUITES, Dump, assert_one_line_error, fixture_dump, pycrash
from pycrash.commands.wq import CpuDelayedWorks, WqView, cpu_list, render

from pycrash.command import Result
from pycrash.kernel.tasks import TaskId
from pycrash.kernel.workqueue import (
    DelayedWork,
    PoolInfo,
    PoolWorkqueue,
    Worker,
    WorkerPool,
    WorkItem,
    Workqueue,
)

CPU1 = PoolInfo(0xFF00, 2, 1, 0, 0, 0, False, (1,))
UNBOUND = PoolInfo(0xFF80, 4, -1, -1, 4, 0, False, (0, 1))
BH = PoolInfo(0xFFC0, 0, 0, 0, 5, -20, True, (0,))


def _item(func: str, *, linked: bool = False, barrier: int | None = None,
          addr: int = 0x1000) -> WorkItem:
    return WorkItem(addr, 0xFFFFFFFF81000000, func, "events", 0x2000, barrier, linked)


def _worker(pid: int, func: str | None, scheduled: tuple[WorkItem, ...] = (),
            rescuer: str | None = None) -> Worker:
    task = TaskId(pid, 0xFFFF888000000000 + pid, 1, f"kworker/1:{pid}")
    busy = func is not None
    return Worker(0xFFFF888100000000 + pid, task, pid, "busy" if busy else "idle", 0,
                  0x3000 if busy else 0, 0xFFFFFFFF81000010 if busy else 0, func,
                  0x2000 if busy else 0, "events" if busy else None, scheduled,
                  "vmstat_update", "events", rescuer)


@pytest.mark.fast
def test_cpu_list_is_the_kernels_pbl() -> None:
    assert cpu_list([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"
    assert cpu_list([1]) == "1" and cpu_list([]) == ""


@pytest.mark.fast
def test_the_kernels_busy_workqueue_dump() -> None:
    busy = _worker(57, "vmstat_update", (_item("free_work"),))
    rescuer = _worker(10, "drain_local_pages_wq", rescuer="mm_percpu_wq")
    pending = (_item("free_work"), _item("free_work"), _item("kfree_rcu_monitor"),
               _item("wq_barrier_func", barrier=141), _item("neigh_managed_work"))
    pwq = PoolWorkqueue(0x2000, CPU1, 2, 256, 3, True, (busy, rescuer), pending,
                        (_item("a", linked=True), _item("b")))
    idle = PoolWorkqueue(0x2100, UNBOUND, 0, None, 1, False, (), (), ())
    wq = Workqueue(0x4000, "events", 0, False, 256, None, (pwq, idle))
    pool = WorkerPool(CPU1, 3, 1, 1, 12, 29, (22,), (busy, rescuer), pending)
    lines = list(render(Result([wq, pool], view=WqView("state"))))
    assert lines == [
        "Showing busy workqueues and worker pools:",
        "workqueue events: flags=0x0",
        "  pwq 2: cpus=1 node=0 flags=0x0 nice=0 active=2/256 refcnt=3 MAYDAY",
        "    in-flight: 57:vmstat_update free_work, 10(RESCUER):drain_local_pages_wq",
        "    pending: 2*free_work, kfree_rcu_monitor, BAR(141), neigh_managed_work",
        "    inactive: a b",
        "pool 2: cpus=1 node=0 flags=0x0 nice=0 hung=12s workers=3 manager: 29 idle: 22"]
    everything = list(render(Result([wq], view=WqView("state", everything=True,
                                                      header=False))))
    # 6.9 on: the limit is the workqueue's, not the pwq's; an unbound pool has no node
    assert everything[-1] == "  pwq 4: cpus=0-1 flags=0x4 nice=0 active=0 refcnt=1"
    bh = PoolWorkqueue(0x2200, BH, 0, None, 1, False, (), (), ())
    assert list(render(Result([Workqueue(0x4100, "events_bh", 0x1, False, 256, None, (bh,))],
                              view=WqView("state", everything=True, header=False))))[1] \
        == "  pwq 0: cpus=0 node=0 flags=0x5 bh-hi active=0 refcnt=1"


@pytest.mark.fast
def test_pools_and_delayed_works_tables() -> None:
    busy = _worker(57, "vmstat_update")
    idle = _worker(22, None)
    pool = WorkerPool(CPU1, 2, 1, 1, 0, None, (22,), (busy, idle), (_item("free_work"),))
    lines = list(render(Result([pool], view=WqView("pools"))))
    assert lines[0] == "POOL: 2   WORKER_POOL: ff00  CPU: 1  CPUS: 1  NICE: 0"
    assert lines[1] == "  WORKERS: 2  IDLE: 1  RUNNING: 1  HUNG: 0s"
    assert lines[3].split() == ["57", "ffff888100000039", "busy", "kworker/1:57",
                                "0000000000003000", "vmstat_update", "events"]
    assert lines[4].split() == ["22", "ffff888100000016", "idle", "kworker/1:22", "-",
                                "(vmstat_update)", "(events)"]
    assert lines[-1].split() == ["0000000000001000", "free_work", "events"]
    dw = DelayedWork(1, 0, 4294894497, 0xFF10, 0xFF00, 0x10, "vmstat_update",
                     "mm_percpu_wq", 1)
    lines = list(render(Result([CpuDelayedWorks(1, 4294894392, (dw,))],
                               view=WqView("delayed"))))
    assert lines[0] == "JIFFIES\n4294894392" and lines[1] == "TIMER_BASES[1]"
    assert lines[3].split() == ["4294894497", "000000000000ff10", "000000000000ff00", "1",
                                "vmstat_update", "mm_percpu_wq"]


#: kworker/N:M[H] (per-CPU pool of CPU N, highpri), kworker/uP:M (unbound pool P); /proc
#: adds "-WQ" (idle, last workqueue) or "+WQ" (busy)
KWORKER = re.compile(r"kworker/(?:(?P<cpu>\d+)|u(?P<pool>\d+)):(?P<id>\d+)(?P<hi>H?)(?:[-+].*)?$")


def _truth_stacks(d: Dump) -> dict[int, tuple[str, list[str]]]:
    """``{pid: (/proc comm, functions innermost first)}`` of every thread the guest saw."""
    out: dict[int, tuple[str, list[str]]] = {}
    for block in d.truth("stacks.txt").split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or not lines[0].startswith("task "):
            continue
        _task, _pid, tid, _state, name = lines[0].split(" ", 4)
        funcs = [m.group(1) for ln in lines[1:] if (m := re.search(r"\] (\w+)\+", ln))]
        out[int(tid)] = (name, funcs)
    return out


def check_workqueues(d: Dump, s) -> None:  # type: ignore[no-untyped-def]
    """The checks every kernel of the matrix passes."""
    rows = s.run("wq -a").rows
    wqs = [w for w in rows if isinstance(w, Workqueue)]  # names repeat (7.x: two events)
    pools = [p for p in rows if isinstance(p, WorkerPool)]
    assert {"events", "events_unbound", "events_highpri", "events_long", "kblockd",
            "mm_percpu_wq"} <= {w.name for w in wqs}
    cpus = [r.cpu for r in s.run("runq").rows]
    by_pool = {p.info.pool: p for p in pools}
    for w in wqs:  # every pwq is on a known pool; a per-CPU queue has every CPU
        assert all(pwq.pool.pool in by_pool for pwq in w.pwqs), w.name
        if not w.unbound:
            assert sorted(pwq.pool.cpu for pwq in w.pwqs) == cpus, w.name
        else:
            assert all(pwq.pool.cpu == -1 for pwq in w.pwqs), w.name
    for p in pools:  # the kernel's counters agree with the lists walked
        assert p.nr_workers == len(p.workers), p.info
        assert p.nr_idle == len(p.idle_pids) == sum(w.state == "idle" for w in p.workers)
    # every kworker the guest had is a worker of the pool its name says, busy exactly when
    # its /proc stack ran process_one_work (then running the function called from it)
    workers = {w.task.pid: (p, w) for p in pools for w in p.workers if w.task}
    truth = _truth_stacks(d)
    seen = 0
    for pid, (name, funcs) in truth.items():
        m = KWORKER.match(name)
        if not m:
            continue
        seen += 1
        pool, worker = workers[pid]
        assert worker.id == int(m["id"]), name
        if m["cpu"] is not None:  # H: a highpri per-CPU pool (unbound names do not say)
            assert pool.info.cpu == int(m["cpu"]) and not pool.info.bh, name
            assert (pool.info.nice < 0) == bool(m["hi"]), name
        else:
            assert pool.info.cpu == -1 and pool.info.id == int(m["pool"]), name
        if "process_one_work" in funcs:
            i = funcs.index("process_one_work")
            assert worker.state == "busy", name
            if i:
                assert worker.current_func_symbol == funcs[i - 1], name
        else:
            assert worker.state != "busy", (name, worker)
    assert seen >= 4
    # rescuers: the threads in rescuer_thread are the workqueues' rescuers
    rescuers = {pid for pid, (_n, funcs) in truth.items() if "rescuer_thread" in funcs}
    assert rescuers and rescuers == {w.rescuer_pid for w in wqs if w.rescuer_pid}
    for pid, (name, _f) in truth.items():  # 6.9 on, /proc names a rescuer kworker/R-WQ
        if name.startswith("kworker/R-"):
            assert (name[len("kworker/R-"):], pid) in {(w.name, w.rescuer_pid) for w in wqs}
    # at the crash: a busy worker's stack (pycrash's bt) runs process_one_work
    for pid, (_pool, worker) in workers.items():
        names = [f.function for f in s.run(f"bt {pid}").rows[0].frames]
        assert ("process_one_work" in names) == (worker.state == "busy"), (pid, names)
    # the default view shows exactly the busy workqueues
    shown = [ln.split()[1].rstrip(":") for ln in str(s.run("wq")).splitlines()
             if ln.startswith("workqueue ")]
    assert shown == [w.name for w in wqs if w.busy]


def check_delayed_works(s) -> None:  # type: ignore[no-untyped-def]
    """Delayed works: real functions, on workqueues that exist, their timers in the timer
    wheel (``timer``) with the same expiry and delayed_work_timer_fn."""
    names = {w.name for w in s.run("wq -a").rows if isinstance(w, Workqueue)}
    timers = {(q.cpu, t.timer): t for q in s.run("timer").rows for b in q.bases
              for t in b.timers}
    works = [d for q in s.run("wq -d").rows for d in q.works]
    assert works and "vmstat_shepherd" in {d.func_symbol for d in works}
    for d in works:
        sym = s.prog.symbol(d.func)
        assert sym.name == d.func_symbol and sym.address == d.func, d
        assert d.workqueue in names, d
        t = timers[(d.cpu, d.timer)]
        assert t.expires == d.expires and t.function_symbol == "delayed_work_timer_fn", d
        assert d.delayed_work < d.timer < d.delayed_work + 0x100
    assert len(works) == sum(t.function_symbol == "delayed_work_timer_fn"
                             for t in timers.values())


def test_wq_on_the_small_dump(dump: Dump, session) -> None:  # type: ignore[no-untyped-def]
    check_workqueues(dump, session)
    check_delayed_works(session)


def test_wq_names_json_and_errors(dump: Dump, session) -> None:  # type: ignore[no-untyped-def]
    res = session.run("wq kblockd events")
    assert [w.name for w in res.rows] == ["kblockd", "events"]
    assert str(res).splitlines()[0] == "workqueue kblockd: flags=0x18"
    doc = json.loads(session.run("wq -p").to_json())
    assert doc and all("info" in p and "workers" in p for p in doc)
    assert json.loads(session.run("wq -d").to_json())[0]["works"][0]["func_symbol"]
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "wq nosuchqueue")
    assert_one_line_error(run, "wq: no workqueue named nosuchqueue")
    assert len(run.err.splitlines()) == 1
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "wq -p -d")
    assert_one_line_error(run, "wq: -p and -d cannot be used together")


@pytest.mark.parametrize("name", [*(f"{s}-small" for s in SUITES), "arm64-small"])
def test_wq_on_the_kernel_matrix(name: str) -> None:
    d = fixture_dump(name)  # skipped outside the matrix (PYCRASH_MATRIX=1)
    s = d.open()
    check_workqueues(d, s)
    check_delayed_works(s)


def test_wq_on_a_stuck_kworker() -> None:
    """zoo-rwsem queues pcfix_work_fn on the system workqueue behind the writer of
    pcfix_rwsem: its kworker is busy running it at the crash, as its /proc stack said."""
    d = fixture_dump("zoo-rwsem")
    s = d.open()
    check_workqueues(d, s)
    stuck = [pid for pid, (name, funcs) in _truth_stacks(d).items()
             if KWORKER.match(name) and funcs[:2] == ["pcfix_down_read", "pcfix_work_fn"]]
    assert len(stuck) == 1
    (events,) = [w for w in s.run("wq events").rows if isinstance(w, Workqueue)]
    busy = [w for pwq in events.pwqs for w in pwq.in_flight]
    assert [(w.task.pid, w.current_func_symbol) for w in busy] == [(stuck[0], "pcfix_work_fn")]
    assert f"in-flight: {stuck[0]}:pcfix_work_fn" in str(s.run("wq"))
