"""log's renderer: one record per message, time and level as the view asks (no dump)."""

from __future__ import annotations

from pycrash.commands.log import LogRecord, LogView, render

from pycrash.command import Result


def _lines(view: LogView) -> list[str]:
    rows = [LogRecord(0, 0, 5, 0, "Linux version 6.1.0", None, 0),
            LogRecord(1, 8_229_030_123, 6, 0, "sysrq: Trigger a crash\nsecond line", 1, None)]
    return list(render(Result(rows, view=view)))


def test_times_and_levels() -> None:
    assert _lines(LogView("plain", False)) == [
        "[    0.000000] Linux version 6.1.0", "[    8.229030] sysrq: Trigger a crash",
        "[    8.229030] second line"]
    assert _lines(LogView("none", True)) == [
        "<5>Linux version 6.1.0", "<6>sysrq: Trigger a crash", "<6>second line"]


def test_human_times_start_at_the_boot_time() -> None:
    import time

    first = _lines(LogView("human", False, 0.0))[0]
    assert first == time.strftime("[%a %b %e %H:%M:%S %Y] ", time.localtime(0)) + \
        "Linux version 6.1.0"
