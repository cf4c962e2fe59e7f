"""ps on the real dump against the guest's own /proc/*/stat."""

from __future__ import annotations

import json
import re

from conftest import Dump, parse_stat, pid_of, pycrash, same_comm


def test_every_guest_task_is_listed_with_its_parent_and_name(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    truth = parse_stat(dump.truth("stat.txt"))
    assert len(truth) > 40  # the guest had dozens of tasks: the file was read whole
    rows = {r.pid: r for r in session.run("ps").rows if r.pid}
    for pid, (comm, _state, ppid) in truth.items():
        assert pid in rows, f"pid {pid} ({comm}) missing from ps"
        row = rows[pid]
        assert row.ppid == ppid, (pid, row.ppid, ppid)
        assert same_comm(row.comm, comm, row.kernel), (pid, row.comm, comm)


def test_ps_marks_idle_tasks_active_task_and_kernel_threads(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("ps").rows
    idle = [r for r in rows if r.pid == 0]
    assert [r.cpu for r in idle] == [0, 1]
    panic = session.panic_task
    active = [r for r in rows if r.active]
    assert len(active) == 2  # one per CPU
    assert panic.value_() in {r.task for r in active}
    by_pid = {r.pid: r for r in rows if r.pid}
    assert by_pid[2].kernel and by_pid[2].comm == "kthreadd"
    assert not by_pid[1].kernel and by_pid[1].vsz_kb > 0 and by_pid[1].rss_kb > 0


def test_ps_filters_and_text_format(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "ps pcfix-sleeper1 2 1")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM"
    row = re.compile(
        r"^[> ] +(\d+) +(\d+) +\d+  [0-9a-f]{16}  (RU|IN|UN|ID)  +\d+\.\d +\d+ +\d+  (.+)$"
    )
    parsed = [row.match(line) for line in lines[1:]]
    assert all(parsed), lines
    got = [(int(m.group(1)), int(m.group(2)), m.group(4)) for m in parsed if m]
    sleeper = pid_of(dump, "pcfix-sleeper1")
    assert got == [(1, 0, "init"), (2, 0, "[kthreadd]"), (sleeper, 1, "pcfix-sleeper1")]


def test_ps_kernel_and_user_selection(session) -> None:  # type: ignore[no-untyped-def]
    kernel = session.run("ps -k").rows
    user = session.run("ps -u").rows
    everything = session.run("ps").rows
    assert len(kernel) + len(user) == len(everything)
    assert all(r.kernel for r in kernel) and not any(r.kernel for r in user)
    assert {"pcfix-sleeper1", "pcfix-files", "init"} <= {r.comm for r in user}


def test_json_output_has_the_same_rows_as_text(dump: Dump) -> None:
    text = pycrash("-s", str(dump.vmcore), str(dump.vmlinux), "-x", "ps")
    js = pycrash(str(dump.vmcore), str(dump.vmlinux), "--output", "json", "-x", "ps")
    assert text.rc == 0 and js.rc == 0, (text.err, js.err)
    doc = json.loads(js.out)
    assert doc["command"] == "ps"
    text_rows = [line.split() for line in text.out.splitlines()[1:]]
    text_pids = [int(cols[1] if cols[0] == ">" else cols[0]) for cols in text_rows]
    assert [r["pid"] for r in doc["rows"]] == text_pids
    assert {r["comm"] for r in doc["rows"]} >= {"pcfix-sleeper1", "pcfix-files", "swapper/0"}
    for r in doc["rows"]:
        assert f"{r['task']:016x}" in text.out


def test_ps_views(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    truth = parse_stat(dump.truth("stat.txt"))
    sleeper = pid_of(dump, "pcfix-sleeper1")
    child = next(p for p, (c, _s, pp) in truth.items() if pp == sleeper)
    fam = session.run(f"ps -p {child}").rows[0]
    assert [t.pid for t in fam.related] == [0, 1, sleeper, child]
    kids = {t.pid for t in session.run("ps -c 1").rows[0].related}
    assert {p for p, (_c, _s, pp) in truth.items() if pp == 1} <= kids
    counts = {r.state: r.count for r in session.run("ps -S").rows}
    assert sum(counts.values()) == len(session.run("ps").rows)
    limits = {x.name: x for x in session.run("ps -r 1").rows[0].limits}
    assert limits["NOFILE"].current == 1024 and limits["CPU"].current is None
    assert session.run("ps -g 1").rows[0].related == []
    t1, t2 = session.run(f"ps -t 1 {sleeper}").rows
    assert t1.start_time < t2.start_time
    last = [r.last_arrival for r in session.run("ps -l").rows]
    assert last == sorted(last, reverse=True)
    args = session.run("ps -a 1").rows[0]
    assert args.arg is not None or "excluded" in (args.error or "")
