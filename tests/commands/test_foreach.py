"""foreach on the real dump."""

from __future__ import annotations

import re

from conftest import Dump, crash_commands, fixture_dump, pid_of, pycrash

from pycrash.kernel.tasks import task_id


def test_foreach_regex_bt_prints_one_trace_per_pcfix_task(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "foreach 'pcfix-.*' bt")
    assert run.rc == 0, run.err
    headers = re.findall(r'^PID: (\d+) .*COMMAND: "(pcfix-[^"]+)"$', run.out, re.M)
    assert sorted(c for _, c in headers) == ["pcfix-files", "pcfix-sleeper1",
                                             "pcfix-sleeper2", "pcfix-sleeper3"]
    assert run.out.count("PID: ") == 4
    assert run.out.count(" do_wait at ") == 4


def test_foreach_task_header_once(session) -> None:  # type: ignore[no-untyped-def]
    lines = str(session.run("foreach 'kthread.*' task -R pid")).splitlines()
    assert lines[0].startswith("PID: 2 ") and lines[1] == "  pid = 2,", lines[:3]
    # each task's part ends with an empty line, as crash's task -R does
    assert sum(1 for line in lines if line.startswith("PID: ")) == lines.count("")
    assert lines[-1] == "" and "" not in lines[:2]


def test_foreach_set_shows_each_context(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: help foreach names set; it was refused. Each task's header, then set's
    block for it (crash's show_context); the context itself stays where it was."""
    pid = pid_of(dump, "pcfix-sleeper1")
    before = str(session.run("set"))
    out = str(session.run(f"foreach 1 {pid} set")).splitlines()
    task = session.task(pid).value_()
    assert out[7:] == [task_id(session.task(pid)).header(),
                       f"    PID: {pid}", 'COMMAND: "pcfix-sleeper1"',
                       f"   TASK: {task:x}  [THREAD_INFO: {task:x}]",
                       f"    CPU: {task_id(session.task(pid)).cpu}",
                       "  STATE: TASK_INTERRUPTIBLE "]  # crash's space after the state
    assert out[1] == "    PID: 1" and out[6] == ""
    assert str(session.run("set")) == before


def test_foreach_set_is_crash_s_on_debian_11() -> None:
    """On 5.10 crash 8.0.2 sees every task: foreach set as crash prints it (the idle
    tasks' "(1 of 2)", "(ACTIVE)" after a running task's state, the space after it)."""
    d = fixture_dump("bullseye-small")
    lines = ["foreach 1 2 set", "foreach 0 set"]
    theirs = crash_commands(d, lines)
    s = d.open()
    for line in lines:
        assert str(s.run(line)).splitlines() == theirs[line]
