"""runq: the renderer (no dump needed), and runq and sig on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.runq import (
    ClockLag,
    CpuRunTime,
    QueuedTask,
    RunQueue,
    RunqView,
    render,
    render_lag,
    render_milliseconds,
    render_timestamps,
)

from pycrash.command import Result
from pycrash.kernel.tasks import TaskId


@pytest.mark.fast
def test_run_queues() -> None:
    idle = TaskId(0, 0xFFFFFFFF8FC1AA40, 0, "swapper/0")
    sh = TaskId(142, 0xFF3CF9169E460000, 1, "sh")
    rows = [RunQueue(0, 0xFF3CF916AE031980, 5235103378, idle, 0xFF3CF916AE031BC0,
                     0xFF3CF916AE031A30, (), ()),
            RunQueue(1, 0xFF3CF916AE131980, 7, sh, 0x10, 0x20, (QueuedTask(0, idle),),
                     (QueuedTask(120, sh),))]
    assert list(render(Result(rows, view=RunqView(2)))) == [
        "CPU 0 RUNQUEUE: ff3cf916ae031980",
        '  CURRENT: PID: 0      TASK: ffffffff8fc1aa40  COMMAND: "swapper/0"',
        "  RT PRIO_ARRAY: ff3cf916ae031bc0", "     [no tasks queued]",
        "  CFS RB_ROOT: ff3cf916ae031a30", "     [no tasks queued]",
        "",
        "CPU 1 RUNQUEUE: ff3cf916ae131980",
        '  CURRENT: PID: 142    TASK: ff3cf9169e460000  COMMAND: "sh"',
        "  RT PRIO_ARRAY: 10",
        '     [  0] PID: 0      TASK: ffffffff8fc1aa40  COMMAND: "swapper/0"',
        "  CFS RB_ROOT: 20",
        '     [120] PID: 142    TASK: ff3cf9169e460000  COMMAND: "sh"']


@pytest.mark.fast
def test_runq_timing_renderers() -> None:
    """crash's indents: runq -m by the CPU count's digits, -T by the CPU's, -t by the
    clock's width."""
    sh = TaskId(143, 0xFF3622496FDB0000, 12, "sh")
    rows = [CpuRunTime(3, 8349306527, sh, 8336420931),
            CpuRunTime(12, 2 * 86_400 * 10**9, sh, 0)]
    assert list(render_milliseconds(Result(rows, view=RunqView(16)))) == [
        '  CPU 3: [0 00:00:00.012]  PID: 143    TASK: ff3622496fdb0000  COMMAND: "sh"',
        ' CPU 12: [2 00:00:00.000]  PID: 143    TASK: ff3622496fdb0000  COMMAND: "sh"']
    assert list(render_timestamps(Result(rows[:1], view=RunqView(16)))) == [
        " CPU 3: 8349306527",
        '        8336420931  PID: 143    TASK: ff3622496fdb0000  COMMAND: "sh"']
    lags = [ClockLag(12, 9, 0), ClockLag(3, 8, 1_234_567_890)]
    assert list(render_lag(Result(lags, view=RunqView(16)))) == [
        "  CPU 12: 0.00 secs", "   CPU 3: 1.23 secs"]


RUNQ = ["runq -m", "runq -T", "runq -t", "runq -m -c 1", "runq -t -c 1", "runq -T -c 0",
        "runq -m -T", "runq -t -m"]


def _same_as_crash(d: Dump, commands: list[str]) -> None:
    theirs = crash_commands(d, commands)
    s = d.open()
    for line in commands:
        assert str(s.run(line)).splitlines() == theirs[line], line


def test_runq_timing_is_crash_s(dump: Dump) -> None:
    """runq -m, -T and -t print what crash 8.0.2 prints (each CPU's running task crash
    sees on the small fixture too), with crash's precedence of -t over -T over -m."""
    _same_as_crash(dump, RUNQ)


def test_timing_is_crash_s_where_crash_sees_every_task() -> None:
    """On 5.10 crash sees every task: ps -l/-m and runq's timing views line for line."""
    _same_as_crash(fixture_dump("bullseye-small"),
                   [*RUNQ, "ps -m", "ps -l", "ps -m -C 1", "ps -l -C 0", "ps -m -u",
                    "ps -m -k", "ps -m 1 sh 0"])


def test_runq_w_lockup_view(session) -> None:  # type: ignore[no-untyped-def]
    (row,) = session.run("runq -w").rows
    system, cpus = row.system, row.cpus
    assert [w.cpu for w in cpus] == [0, 1]
    assert system.crash_clock == max(w.rq_clock for w in cpus)
    assert min(w.clock_lag_ns for w in cpus) == 0
    assert system.watchdog_now == system.crash_clock >> 30
    assert system.watchdog_thresh == 10 and system.rcu_name == "rcu_preempt"
    panic = next(w for w in cpus if w.current.task == session.panic_task.value_())
    assert panic.running_ns is not None and panic.running_ns < 10**9  # sh ran < 1 s
    idle = next(w for w in cpus if w.current.pid == 0)
    assert idle.running_ns is None
    for w in cpus:  # no lockup: the watchdog was fed within its threshold
        assert w.touch_ts is not None and 0 <= system.watchdog_now - w.touch_ts < 20
        assert w.hrtimer_interrupts is not None and w.hardlockup_warned is False
    text = str(session.run("runq -w")).splitlines()
    assert text[0].startswith("CRASH CLOCK: ") and "[SOFT LOCKUP]" not in "".join(text)
    assert any(x.strip().startswith("SOFTLOCKUP: TOUCH_TS: ") for x in text)


def test_runq_and_sig(session) -> None:  # type: ignore[no-untyped-def]
    queues = session.run("runq").rows
    assert [q.cpu for q in queues] == [0, 1]
    assert queues[1].current.task == session.panic_task.value_()
    ts = session.run("sig 1").rows[0]
    assert len(ts.actions) == 64 and ts.nr_threads == 1
    assert str(session.run("sig 1")).splitlines()[1].startswith("SIGNAL_STRUCT: ")
