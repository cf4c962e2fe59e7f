"""timer's renderer (no dump needed), and the command against crash 8.0.2 on 6.1 (on 5.10
in test_crash_layout.py)."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands.timer import CpuTimers, Timer, TimerBase, TimerView, render

from pycrash.command import Result

STD = TimerBase("BASE_STD", 0xFF3CF9169E224480,
                (Timer(4294893556, 0, 0xFF7C529D00433DB8, 0xFFFFFFFF81100000,
                       "process_timeout"),
                 Timer(4294903556, 10000, 0xFFFFFFFF82000000, 0xFFFFFFFF81000000, None)))
DEF = TimerBase("BASE_DEF", 0xFF3CF9169E225700, ())
TIMERS = [CpuTimers(0, 4294893556, (STD, DEF)), CpuTimers(1, 4294893556, (DEF,))]


@pytest.mark.fast
def test_timer_wheel() -> None:
    """JIFFIES as wide as its value, each base named, TTE as wide as its largest value plus
    a sign, the timer_list centred in 16 columns, as crash prints them."""
    assert list(render(Result(TIMERS, view=TimerView(False)))) == [
        "JIFFIES   ", "4294893556", "",
        "TIMER_BASES[0][BASE_STD]: ff3cf9169e224480",
        "  EXPIRES        TTE        TIMER_LIST     FUNCTION",
        "  4294893556       0  ff7c529d00433db8  ffffffff81100000  <process_timeout>",
        "  4294903556   10000  ffffffff82000000  ffffffff81000000  <>",
        "TIMER_BASES[0][BASE_DEF]: ff3cf9169e225700",
        "  EXPIRES        TTE     TIMER_LIST     FUNCTION", "  (none)", "",
        "TIMER_BASES[1][BASE_DEF]: ff3cf9169e225700",
        "  EXPIRES        TTE     TIMER_LIST     FUNCTION", "  (none)"]


@pytest.mark.fast
def test_hrtimers() -> None:
    clock = TimerBase("CLOCK: 0", 0x10, (Timer(7488000000, 400000000, 0x20, 0x30,
                                               "tick_sched_timer", 7488000000),),
                      "ktime_get", 7088000000)
    empty = TimerBase("CLOCK: 1", 0x50, (), "ktime_get_real", 7088000000)
    rows = [CpuTimers(0, 4294893556, (clock, empty), 0x40)]
    assert list(render(Result(rows, view=TimerView(True)))) == [
        "CPU: 0  HRTIMER_CPU_BASE: 40",
        "  CLOCK: 0  HRTIMER_CLOCK_BASE: 10  [ktime_get]",
        "    CURRENT  ", "   7088000000",  # centred in the soft expiry's width (11)
        "  SOFTEXPIRES    EXPIRES      TTE         HRTIMER           FUNCTION    ",
        "   7488000000  7488000000  400000000  20  30  <tick_sched_timer>",
        "", "  CLOCK: 1  HRTIMER_CLOCK_BASE: 50  [ktime_get_real]", "  (empty)"]


def test_timer_equals_crash_on_6_1(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    lines = ["timer", "timer -r", "timer -C 1"]
    theirs = crash_commands(dump, lines)
    for line in lines:
        assert str(session.run(line)).splitlines() == theirs[line], line
    # TTE is each timer's expiry less jiffies
    jiffies = session.prog["jiffies"].value_()
    for q in session.run("timer").rows:
        for b in q.bases:
            assert all(t.tte == t.expires - jiffies for t in b.timers)
