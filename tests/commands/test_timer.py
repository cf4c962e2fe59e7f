"""timer's renderer (no dump needed)."""

from __future__ import annotations

import pytest
from pycrash.commands.timer import CpuTimers, Timer, TimerView, render

from pycrash.command import Result

pytestmark = pytest.mark.fast

TIMERS = [CpuTimers(0, 4294893556, (Timer(0, 4294893573, 0xFF7C529D00433DB8, 0x10,
                                          "process_timeout"),
                                    Timer(1, 4294893750, 0x20, 0xFFFFFFFF81000000, None))),
          CpuTimers(1, 4294893556, ())]


def test_timer_wheel() -> None:
    assert list(render(Result(TIMERS, view=TimerView(False)))) == [
        "JIFFIES\n4294893556", "TIMER_BASES[0]", "  EXPIRES        TIMER_LIST        FUNCTION",
        "  4294893573    ff7c529d00433db8  process_timeout",
        "  4294893750    0000000000000020  ffffffff81000000"]


def test_hrtimers_have_no_jiffies() -> None:
    assert list(render(Result(TIMERS, view=TimerView(True))))[0] == "TIMER_BASES[0]"
