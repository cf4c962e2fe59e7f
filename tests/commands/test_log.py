"""log: the renderer (no dump needed), and the command on the real dump against the guest's
dmesg."""

from __future__ import annotations

import re
import time

import pytest
from conftest import Dump, pycrash
from pycrash.commands.log import LogRecord, LogView, render

from pycrash.command import Result


def _lines(view: LogView) -> list[str]:
    rows = [LogRecord(0, 0, 5, 0, "Linux version 6.1.0", None, 0),
            LogRecord(1, 8_229_030_123, 6, 0, "sysrq: Trigger a crash\nsecond line", 1, None)]
    return list(render(Result(rows, view=view)))


@pytest.mark.fast
def test_times_and_levels() -> None:
    # a message's further lines are indented past its time and level, as crash prints them
    assert _lines(LogView("plain", False)) == [
        "[    0.000000] Linux version 6.1.0", "[    8.229030] sysrq: Trigger a crash",
        "               second line"]
    assert _lines(LogView("none", True)) == [
        "<5>Linux version 6.1.0", "<6>sysrq: Trigger a crash", "   second line"]


@pytest.mark.fast
def test_human_times_start_at_the_boot_time() -> None:
    import time

    first = _lines(LogView("human", False, 0.0))[0]
    assert first == time.strftime("[%a %b %e %H:%M:%S %Z %Y] ", time.localtime(0)) + \
        "Linux version 6.1.0"  # crash's ctime_tz(): the time zone before the year


def test_log_holds_the_guest_dmesg_and_the_marker(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "log")
    assert run.rc == 0, run.err
    ours = run.out.splitlines()
    assert any("pycrash-fixture: marker before crash" in line for line in ours)
    # dmesg repeats the time on a message's further lines, crash indents them
    for i, line in enumerate(ours):
        if i and line.startswith(" " * 15):
            ours[i] = ours[i - 1][:15] + line[15:]
    guest = [line for line in dump.truth("dmesg.txt").splitlines() if line.strip()]
    assert len(guest) > 100
    # every line the guest's dmesg printed is in our log, in the same order
    pos = 0
    for line in guest:
        pos = ours.index(line, pos) + 1
    assert any("sysrq: Trigger a crash" in line for line in ours[pos - 1:])


def test_log_flags(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    plain = str(session.run("log")).splitlines()
    bare = str(session.run("log -t")).splitlines()
    levels = str(session.run("log -m")).splitlines()
    human = str(session.run("log -T")).splitlines()
    assert len(plain) == len(bare) == len(levels) == len(human)
    assert all(p.endswith(b) for p, b in zip(plain, bare, strict=True))
    assert re.match(r"^\[    0\.000000\] <5>Linux version ", levels[0])
    marker = next(line for line in human if "marker before crash" in line)
    stamp = re.match(r"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) \w+ (\d{4})\] ", marker)
    assert stamp, marker
    when = time.mktime(time.strptime(" ".join(stamp.groups()), "%a %b %d %H:%M:%S %Y"))
    # the guest's boot in wall time, from its date and uptime read together: the marker's
    # wall time is that plus its time since boot (date is whole seconds)
    boot = int(dump.truth("date.txt").split()[0]) - float(dump.truth("uptime.txt").split()[0])
    since_boot = float(re.match(r"^\[ *([\d.]+)\]", next(
        line for line in plain if "marker before crash" in line)).group(1))
    assert abs(when - (boot + since_boot)) <= 2


@pytest.mark.fast
def test_dictionary_lines_are_indented_past_time_and_level() -> None:
    rec = LogRecord(1, 860_731_000, 6, 0, "acpi PNP0A03:00: _OSC: OS supports", None, 1,
                    "acpi", "+acpi:PNP0A03:00")
    plain = Result([rec], render=render, view=LogView("plain", False, dictionary=True))
    assert list(plain.lines()) == ["[    0.860731] acpi PNP0A03:00: _OSC: OS supports",
                                   "               SUBSYSTEM=acpi",
                                   "               DEVICE=+acpi:PNP0A03:00"]
    bare = Result([rec], render=render, view=LogView("none", True, dictionary=True))
    assert list(bare.lines())[1:] == ["   SUBSYSTEM=acpi", "   DEVICE=+acpi:PNP0A03:00"]


@pytest.mark.fast
def test_audit_lines() -> None:
    from pycrash.commands.log import AuditRecord, render_audit

    rows = [AuditRecord(1300, "audit(1.2:3): arch=c000003e syscall=59")]
    assert list(render_audit(Result(rows))) == ["type=1300 audit(1.2:3): arch=c000003e syscall=59"]


def _dictionaries(lines: list[str], start: str) -> list[tuple[str, str]]:
    """Each dictionary line with the first line of the message it follows."""
    out = []
    message = ""
    for ln in lines:
        if ln.lstrip().startswith(("SUBSYSTEM=", "DEVICE=")):
            out.append((message, ln))
        elif ln.startswith(start):
            message = ln
    return out


def test_log_d_and_a_match_crash(dump: Dump) -> None:
    """crash 8.0.2's log -d and -a on the small dump: every dictionary line, indented the
    same, after the same message (crash indents a message's later lines where pycrash
    repeats its prefix, as the kernel prints them, so messages are compared by their
    first line)."""
    from conftest import crash_commands

    theirs = crash_commands(dump, ["log -d", "log -d -m -t", "log -a"])
    for cmd, start in (("log -d", "["), ("log -d -m -t", "<")):
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        expected = _dictionaries(theirs[cmd], start)
        assert len(expected) > 10
        ours = run.out.splitlines()
        firsts = [ln for i, ln in enumerate(ours)
                  if i == 0 or ln[:15] != ours[i - 1][:15] or not ln.startswith(start)]
        assert _dictionaries(firsts, start) == expected, cmd
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "log -a")
    assert run.rc == 0
    assert (run.out + run.err).splitlines() == theirs["log -a"]  # the kernel audit log is empty


def test_log_c_names_each_caller(dump: Dump) -> None:
    """``log -c`` (crash 8.1's; 8.0.2 lacks it): the caller id after the time, ``T`` and the
    thread id, or ``C`` and the CPU, in crash's column (6 wide for this pid_max). The boot
    banner comes from the idle task (T0), the sysrq line from the task that panicked, and
    every message of the guest's own dmesg is there with a caller."""
    session = dump.open()
    panic_pid = session.panic_task.pid.value_()
    assert session.prog["pid_max"].value_() <= 99999
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "log -c", "-x", "log -c -t")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    pattern = re.compile(r"^\[ *\d+\.\d{6}\] \[ *([TC])(\d+)\] (.*)$")
    callers = [pattern.match(x) for x in lines if x.startswith("[ ")]
    assert callers[0] is not None and callers[0].group(1, 2) == ("T", "0")
    assert "Linux version" in callers[0].group(3)
    sysrq = [m for m in callers if m is not None and "sysrq: Trigger a crash" in m.group(3)]
    assert sysrq and sysrq[-1].group(1, 2) == ("T", str(panic_pid))
    assert re.search(rf"^\[ *T{panic_pid}\] sysrq: Trigger a crash$", run.out, re.M)
    texts = {m.group(3) for m in callers if m is not None}
    for line in dump.truth("dmesg.txt").splitlines()[:50]:
        assert line.split("] ", 1)[1] in texts, line
    for m in callers:
        assert m is None or len(m.group(0).split("] ")[1]) == 7  # "[" + 6 columns
