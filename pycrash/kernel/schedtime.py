"""Scheduler time at the crash: when tasks last ran, how long a task has been blocked,
each CPU's run queue clock, and the lockup detectors' per-CPU state.

The clocks. ``rq->clock`` is a CPU's ``sched_clock`` as the scheduler last read it
(``update_rq_clock()``: on each tick and each pass through the scheduler);
``rq->clock_task`` is the same clock less the time the CPU spent in interrupts and the
time the hypervisor stole (IRQ_TIME_ACCOUNTING, PARAVIRT_TIME_ACCOUNTING; equal to
``rq->clock`` without them). A CPU that idles without ticks (NOHZ) leaves its clock
behind, and a CPU stuck with interrupts off stops it, so the most recent clock of all
CPUs (:func:`crash_clock_ns`) is the best "now" in that time base: a tick (1/HZ) or less
before the crash on the CPU that crashed, which was running. ``sched_clock`` is not
``CLOCK_MONOTONIC``: it counts from early boot, a second or two before ``/proc/uptime``
starts, and is what the kernel log's timestamps show.

Task stamps. ``sched_info.last_arrival`` (CONFIG_SCHED_INFO) is ``rq->clock`` when the
task last came onto its CPU (never set for the idle tasks); crash's ``ps -l``/``ps -m``
and ``runq -m``/``-t`` use it (:func:`last_run_ns`). ``se.exec_start`` is
``rq->clock_task`` when the scheduler last charged the task's run time: on each tick while
it runs, and when it leaves the CPU, so for a task that is not running it is when it
went off the CPU (:func:`blocked_ns`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program, ProgramFlags, TypeKind
from drgn.helpers.linux.cpumask import for_each_online_cpu, for_each_possible_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.sched import cpu_curr, cpu_rq, task_cpu

from pycrash.kernel.progcache import per_program
from pycrash.kernel.tasks import TaskId, task_id, task_state

#: ``get_timestamp()`` of kernel/watchdog.c: ``running_clock() >> 30``, "seconds" of
#: 2^30 ns, the unit of ``watchdog_touch_ts`` and ``watchdog_report_ts``.
WATCHDOG_SHIFT = 30


def watchdog_touched(stamp: int | None) -> bool:
    """Return whether a soft-lockup watchdog stamp is the kernel's "touched" mark
    (ULONG_MAX: SOFTLOCKUP_RESET in ``watchdog_touch_ts`` before 5.18,
    SOFTLOCKUP_DELAY_REPORT in ``watchdog_report_ts`` after; ``panic()`` touches it)."""
    return stamp in ((1 << 64) - 1, (1 << 32) - 1)


def rq_clock_ns(prog: Program, cpu: int) -> int:
    """Return ``rq->clock`` of a CPU's run queue (ns of sched_clock: crash's run queue
    timestamp)."""
    return int(cpu_rq(prog, cpu).clock.value_())


def _clocks(prog: Program) -> dict[int, int]:
    cpus = set(for_each_possible_cpu(prog)) | set(for_each_online_cpu(prog))
    out = {}
    for cpu in sorted(cpus):
        try:
            out[cpu] = rq_clock_ns(prog, cpu)
        except FaultError:  # a run queue the dump does not hold
            continue
    return out


def rq_clocks(prog: Program) -> dict[int, int]:
    """Return ``{cpu: rq->clock}`` for every possible CPU whose run queue is readable
    (read once per dump; every time on a live system)."""
    if prog.flags & ProgramFlags.IS_LIVE:
        return _clocks(prog)
    clocks: dict[int, int] = per_program(prog, "schedtime.rq_clocks", lambda: _clocks(prog))
    return clocks


def crash_clock_ns(prog: Program) -> int:
    """Return the time of the crash in the scheduler's clock (ns since sched_clock
    started): the most recent ``rq->clock`` of all CPUs. It is at most about a tick
    before the crash (the crashing CPU updated its clock at its last tick or schedule)."""
    clocks = rq_clocks(prog)
    return max(clocks.values()) if clocks else 0


def last_run_ns(task: Object) -> int:
    """Return when a task last came onto a CPU: ``sched_info.last_arrival`` (rq->clock,
    ns), as crash's ``task_last_run()``; ``se.exec_start`` on kernels without
    sched_info. 0 for the idle tasks (the scheduler never stamps them)."""
    try:
        return int(task.sched_info.last_arrival.value_())
    except AttributeError:
        return int(task.se.exec_start.value_())


def _schedstat_block_start(prog: Program, task: Object) -> int | None:
    """``stats.block_start`` (``se.statistics`` before 5.15) when schedstats are on: the
    rq->clock when a fair task last blocked in D state, reset when it wakes; stale when
    schedstats are off, so None then."""
    try:
        if prog["sched_schedstats"].key.enabled.counter.value_() <= 0:
            return None
    except (KeyError, LookupError, AttributeError, FaultError):
        return None
    for path in ("stats", "se.statistics"):
        stats = task
        try:
            for part in path.split("."):
                stats = getattr(stats, part)
            start = int(stats.block_start.value_())
        except AttributeError:
            continue
        return start or None
    return None


def blocked_ns(prog: Program, task: Object) -> int | None:
    """Return how long ``task`` had been off its CPU at the crash, in ns: for a task in
    UN state, how long it had been blocked. None for a task that was running or runnable
    (RU) or has never run.

    With schedstats on (``kernel.sched_schedstats=1``) and a UN task of the fair class,
    ``crash clock - stats.block_start``: exact but for the tick the crash clock may lag.
    Otherwise ``(rq->clock_task - se.exec_start) + (crash clock - rq->clock)`` on the
    task's CPU: the time since it left the CPU in that CPU's task clock, plus how far
    that CPU's clock lags the most recent one (an idle CPU's clock stops). The task
    clock leaves out the CPU's interrupt and stolen time, so the answer can be short by
    the interrupt and steal time of that CPU during the wait (at most
    ``rq->clock - rq->clock_task``, the CPU's total since boot) and by up to a tick.
    """
    try:
        state = task_state(task)
        if state == "RU":
            return None
        crash = crash_clock_ns(prog)
        start = _schedstat_block_start(prog, task) if state == "UN" else None
        if start is not None and start <= crash:
            return crash - start
        exec_start = int(task.se.exec_start.value_())
        if not exec_start:
            return None
        rq = cpu_rq(prog, task_cpu(task))
        clock = int(rq.clock.value_())
        clock_task = int(rq.clock_task.value_())
    except (FaultError, LookupError, AttributeError):
        return None
    return max(clock_task - exec_start, 0) + max(crash - clock, 0)


@dataclass(frozen=True)
class CpuWatch:
    """One CPU at the crash, to tell a soft or hard lockup or an RCU stall: the task it
    ran and how long that task had run without a context switch (crash clock minus its
    ``sched_info.last_arrival``, ns; None for an idle task), its run queue clock and how
    far it lags the most recent one (ns), the soft-lockup watchdog's
    ``watchdog_touch_ts`` and ``watchdog_report_ts`` (units of 2^30 ns), its hrtimer
    interrupt count and the copy the hard-lockup check saved (``hrtimer_interrupts``,
    ``hrtimer_interrupts_saved``), whether the hard-lockup detector warned for it, and
    RCU: the last grace period it noticed (``rcu_data.gp_seq``) and whether the current
    grace period still waits for its quiescent state. None: not in this kernel."""

    cpu: int
    current: TaskId
    running_ns: int | None
    rq_clock: int
    clock_lag_ns: int
    touch_ts: int | None
    report_ts: int | None
    hrtimer_interrupts: int | None
    hrtimer_interrupts_saved: int | None
    hardlockup_warned: bool | None
    rcu_gp_seq: int | None
    rcu_qs_pending: bool | None


@dataclass(frozen=True)
class StallState:
    """The system at the crash, for reading :class:`CpuWatch`: the crash clock (ns, the
    most recent run queue clock) and the soft-lockup watchdog's clock then (crash clock
    >> 30, the unit of ``watchdog_touch_ts``), its threshold (``watchdog_thresh``, s: a
    soft lockup is reported after twice it, a hard lockup after it), RCU's flavour name,
    ``gp_seq``, whether a grace period was in progress, its start and the jiffies at
    which a stall is reported (``rcu_state.gp_start``, ``jiffies_stall``), jiffies at the
    crash and HZ. None: not in this kernel."""

    crash_clock: int
    watchdog_now: int
    watchdog_thresh: int | None
    rcu_name: str | None
    rcu_gp_seq: int | None
    rcu_gp_in_progress: bool | None
    rcu_gp_start: int | None
    rcu_jiffies_stall: int | None
    jiffies: int | None
    hz: int | None


def _per_cpu_int(prog: Program, name: str, cpu: int) -> int | None:
    try:
        value = per_cpu(prog[name], cpu)
        if value.type_.unaliased_kind() == TypeKind.STRUCT:  # atomic_t (6.12 on)
            value = value.counter
        return int(value.value_())
    except (KeyError, LookupError, FaultError, AttributeError):
        return None


def _hardlockup_warned(prog: Program, cpu: int) -> bool | None:
    for name in ("watchdog_hardlockup_warned", "hard_watchdog_warn"):  # 6.6 on, before
        value = _per_cpu_int(prog, name, cpu)
        if value is not None:
            return bool(value)
    return None


def _gp_seq_state(seq: int) -> int:
    """``rcu_seq_state()``: the low two bits, nonzero while a grace period runs."""
    return seq & 0x3


def _rcu_cpu(prog: Program, cpu: int) -> tuple[int | None, bool | None]:
    try:
        rdp = per_cpu(prog["rcu_data"], cpu)
        gp_seq = int(rdp.gp_seq.value_())
        if not _gp_seq_state(int(prog["rcu_state"].gp_seq.value_())):
            return gp_seq, False
        return gp_seq, bool(rdp.mynode.qsmask.value_() & rdp.grpmask.value_())
    except (KeyError, LookupError, FaultError, AttributeError):
        return None, None


def cpu_watch(prog: Program, cpu: int) -> CpuWatch:
    """Return the :class:`CpuWatch` of a CPU."""
    crash = crash_clock_ns(prog)
    clock = rq_clocks(prog).get(cpu)
    if clock is None:
        clock = rq_clock_ns(prog, cpu)
    cur = cpu_curr(prog, cpu)
    running = None
    if cur.pid.value_() != 0:
        arrival = last_run_ns(cur)
        running = max(crash - arrival, 0) if arrival else None
    gp_seq, pending = _rcu_cpu(prog, cpu)
    return CpuWatch(
        cpu=cpu, current=task_id(cur), running_ns=running, rq_clock=clock,
        clock_lag_ns=max(crash - clock, 0),
        touch_ts=_per_cpu_int(prog, "watchdog_touch_ts", cpu),
        report_ts=_per_cpu_int(prog, "watchdog_report_ts", cpu),
        hrtimer_interrupts=_per_cpu_int(prog, "hrtimer_interrupts", cpu),
        hrtimer_interrupts_saved=_per_cpu_int(prog, "hrtimer_interrupts_saved", cpu),
        hardlockup_warned=_hardlockup_warned(prog, cpu),
        rcu_gp_seq=gp_seq, rcu_qs_pending=pending)


def cpu_watches(prog: Program, cpus: Iterable[int]) -> list[CpuWatch]:
    """Return the :class:`CpuWatch` of each CPU of ``cpus``, in that order."""
    return [cpu_watch(prog, cpu) for cpu in cpus]


def _int(prog: Program, name: str) -> int | None:
    try:
        return int(prog[name].value_())
    except (KeyError, LookupError, FaultError):
        return None


def stall_state(prog: Program) -> StallState:
    """Return the system's :class:`StallState` at the crash."""
    from pycrash.kernel.system import hz

    crash = crash_clock_ns(prog)
    name = seq = start = stall = None
    try:
        rsp = prog["rcu_state"]
        seq = int(rsp.gp_seq.value_())
        start = int(rsp.gp_start.value_())
        stall = int(rsp.jiffies_stall.value_())
        name = rsp.name.string_().decode("utf-8", "replace")
    except (KeyError, LookupError, FaultError, AttributeError):
        pass
    return StallState(
        crash_clock=crash, watchdog_now=crash >> WATCHDOG_SHIFT,
        watchdog_thresh=_int(prog, "watchdog_thresh"), rcu_name=name, rcu_gp_seq=seq,
        rcu_gp_in_progress=None if seq is None else bool(_gp_seq_state(seq)),
        rcu_gp_start=start, rcu_jiffies_stall=stall, jiffies=_int(prog, "jiffies"),
        hz=hz(prog))
