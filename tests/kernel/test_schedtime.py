"""pycrash.kernel.schedtime on the small fixture, against the guest's own log and clock."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, pid_of

from pycrash.cmdlib.render import days_clock, days_width
from pycrash.kernel import schedtime


@pytest.mark.fast
def test_days_clock_is_crash_s_translate_nanoseconds() -> None:
    assert days_clock(0) == "0 00:00:00.000"
    assert days_clock(8_353_088_507) == "0 00:00:08.353"
    assert days_clock((((3 * 24 + 5) * 60 + 7) * 60 + 9) * 10**9 + 999_999) == "3 05:07:09.000"
    assert days_width(11 * 86_400 * 10**9) == 2
    assert schedtime.watchdog_touched((1 << 64) - 1) and not schedtime.watchdog_touched(7)


def test_crash_clock_against_the_kernel_log(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """The crash clock is the most recent run queue clock: after the guest read its
    uptime (the boot-time clock starts after sched_clock), and within a second of the
    log's "sysrq: Trigger a crash" (the log's time is sched_clock)."""
    prog = session.prog
    crash = schedtime.crash_clock_ns(prog)
    assert crash == max(schedtime.rq_clocks(prog).values())
    assert crash >= float(dump.truth("uptime.txt").split()[0]) * 1e9
    m = re.search(r"^\[\s*([\d.]+)\] sysrq: Trigger a crash", (dump.dir / "console.log")
                  .read_text(errors="replace"), re.M)
    assert m, "no sysrq line in console.log"
    assert abs(crash - float(m.group(1)) * 1e9) < 1e9


def test_blocked_ns(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    prog = session.prog
    crash = schedtime.crash_clock_ns(prog)
    assert schedtime.blocked_ns(prog, session.panic_task) is None  # running
    sleeper = session.find_task(str(pid_of(dump, "pcfix-sleeper1")))[0]
    blocked = schedtime.blocked_ns(prog, sleeper)
    # it went to sleep after it last came onto its CPU (start_time is CLOCK_MONOTONIC,
    # another time base)
    assert blocked is not None
    assert 0 < blocked <= crash - schedtime.last_run_ns(sleeper)
    for t in session.tasks():
        b = schedtime.blocked_ns(prog, t)
        assert b is None or 0 <= b <= crash
        assert schedtime.last_run_ns(t) <= crash  # no task ran after the crash
