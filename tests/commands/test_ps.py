"""ps on the real dump against the guest's own /proc/*/stat."""

from __future__ import annotations

import json
import re

import pytest
from conftest import Dump, crash_commands, parse_stat, pid_of, pycrash, same_comm

from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.kernel.schedtime import crash_clock_ns
from pycrash.kernel.tasks import TaskId


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


# ps -l, -m (crash's) and -b (pycrash's): the time since each task last ran or left its CPU

TIMING = ["ps -m", "ps -l", "ps -m -u", "ps -m -k", "ps -l -u", "ps -m sh", "ps -m 0",
          "ps -m 0 sh 143", "ps -m ff36224941268000", "ps -m -C 1", "ps -l -C 1",
          "ps -m -C 0,1", "ps -m -C all", "ps -l -C 0-1", "ps -m -C 1-0", "ps -m -C 1 sh",
          "ps -l -C 0 sh swapper/1"]


@pytest.fixture(scope="module")
def crash_timing(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, [*TIMING, "ps -C 1", "ps -m -C 5", "ps -l -m"])


def _subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(line in it for line in part)


def _text(session, line: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    result = session.run(line)
    return str(result).splitlines(), result.errors


def test_ps_l_and_m_print_crash_lines_in_crash_order(session, crash_timing) -> None:  # type: ignore[no-untyped-def]
    """crash 8.0.2 sees 3 of the small fixture's tasks (the idle tasks and the panic
    task): each of its lines is pycrash's, in the same order, with the same values and
    widths, under the same ``CPU: N`` headers; pycrash adds the tasks crash misses."""
    for line in TIMING:
        theirs = [x for x in crash_timing[line] if not x.startswith("ps: ")]
        ours, _ = _text(session, line)
        assert bool(theirs) == bool(ours), line  # ps -m -C 1-0: nothing, as crash
        assert _subsequence(theirs, ours), (line, theirs, ours[:8])
        if "-C" in line:
            assert [x for x in ours if x.startswith("CPU")] == \
                [x for x in theirs if x.startswith("CPU")], line


def test_ps_timing_selection_follows_crash(session, crash_timing) -> None:  # type: ignore[no-untyped-def]
    ours, _ = _text(session, "ps -m 0 sh 143")
    assert ours == crash_timing["ps -m 0 sh 143"]  # sh once per spec naming it
    assert _text(session, "ps -m -C 1-0") == ([], [])
    ours, errors = _text(session, "ps -l -C 0 sh swapper/1")
    assert errors == ["-C option is not applicable with specified tasks"]
    assert sum(1 for x in ours if x == "CPU: 0") == 2  # crash repeats it per task named
    for line, message in (("ps -C 1", "-C option is only applicable with -l and -m"),
                          ("ps -m -C 5", "invalid cpu specification: 5"),
                          ("ps -l -m", "flags are all mutually-exclusive")):
        assert any(message in x for x in crash_timing[line]), crash_timing[line]
        with pytest.raises(CommandError, match=message):
            session.run(line)


def test_ps_m_against_the_guest(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("ps -m").rows
    panic = session.panic_task.value_()
    sh = next(r for r in rows if r.task.task == panic)
    assert sh.since_ns < 1_000_000_000  # the panic task ran within the last second
    assert all(r.since_ns <= r.rq_clock for r in rows)
    lasts = session.run("ps -l").rows
    assert [r.last_arrival for r in lasts] == sorted((r.last_arrival for r in lasts),
                                                      reverse=True)
    crash = max(r.rq_clock for r in rows)
    assert all(r.last_arrival <= crash for r in lasts)  # nothing ran after the crash
    # the sleepers started before the guest recorded its truth and slept since
    sleeper = pid_of(dump, "pcfix-sleeper1")
    row = next(r for r in rows if r.task.pid == sleeper)
    uptime = float(dump.truth("uptime.txt").split()[0])
    assert row.state == "IN" and 0 < row.since_ns < uptime * 1e9


def test_ps_b_time_off_the_cpu(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    assert session.run("ps -b").rows == []  # no task in UN state on the small fixture
    sleeper = pid_of(dump, "pcfix-sleeper1")
    rows = session.run(f"ps -b {sleeper} 1 143").rows
    assert [r.task.pid for r in rows][-1] == 143 and rows[-1].blocked_ns is None
    arrived = {r.task.pid: r.last_arrival for r in session.run(f"ps -l {sleeper} 1").rows}
    crash = crash_clock_ns(session.prog)
    for r in rows[:-1]:  # it left its CPU after it last came onto it
        assert r.blocked_ns is not None and 0 < r.blocked_ns <= crash - arrived[r.task.pid]
    text = str(session.run("ps -b 143")).splitlines()
    assert text == ['[             -] [RU]  PID: 143      TASK: '
                    f'{session.panic_task.value_():x}  CPU: 1    COMMAND: "sh"']


@pytest.mark.fast
def test_ps_timing_renderers() -> None:
    from pycrash.commands.ps.views import (
        LastRun,
        SinceRun,
        TimingView,
        render_last,
        render_since,
    )

    a = TaskId(143, 0xFF3622496FDB0000, 1, "sh")
    b = TaskId(0, 0xFF36224941268000, 1, "swapper/1")
    last = [LastRun(8336420931, "RU", a), LastRun(0, "RU", b)]
    assert list(render_last(Result(last, view=TimingView(width=10)))) == [
        '[8336420931] [RU]  PID: 143      TASK: ff3622496fdb0000  CPU: 1    COMMAND: "sh"',
        '[         0] [RU]  PID: 0        TASK: ff36224941268000  CPU: 1    COMMAND: '
        '"swapper/1"']
    assert list(render_last(Result(last[:1], view=TimingView(width=9, hex=True))))[0] \
        .startswith("[1f0e3b043] ")
    day = 86_400 * 10**9
    since = [SinceRun(12_886_000, 12 * day, "RU", a), SinceRun(11 * day + 5, 12 * day, "RU", b)]
    assert list(render_since(Result(since, view=TimingView(cpus=(0, 1), repeat=1)))) == [
        "CPU: 0", "", "CPU: 1",
        '[ 0 00:00:00.012] [RU]  PID: 143      TASK: ff3622496fdb0000  CPU: 1    COMMAND: "sh"',
        '[11 00:00:00.000] [RU]  PID: 0        TASK: ff36224941268000  CPU: 1    COMMAND: '
        '"swapper/1"']


@pytest.mark.fast
def test_ps_policies_and_kstackp_line() -> None:
    from pycrash.commands.ps import TaskRow, ps_line, sched_policies

    assert sched_policies("fifo,0,RR,0x5") == {1, 0, 2, 5}
    with pytest.raises(CommandError, match="^bogus: invalid scheduling policy$"):
        sched_policies("1,bogus")
    running = TaskRow(132, 1, 1, 0xFFFF97DAAF651F40, "RU", 0.0, 2260, 60, "sh", True, False)
    assert ps_line(running, kstackp=True) == (
        ">     132       1   1         --         RU   0.0     2260       60  sh")
    sleeping = TaskRow(1, 0, 1, 0xFFFF97DA811D1F40, "IN", 0.0, 2260, 76, "init", False, False,
                       0xFFFFB17340013DC8)
    assert ps_line(sleeping, kstackp=True) == (
        "        1       0   1  ffffb17340013dc8  IN   0.0     2260       76  init")


def test_ps_A_G_y_s_against_the_guest(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    from pycrash.kernel.tasks import stack_bounds

    truth = dump.truth("stat.txt").splitlines()
    # /proc/PID/stat's 41st field is the scheduling policy; /proc lists group leaders only
    policy = {int(ln.split()[0]): int(ln.rsplit(")", 1)[1].split()[38]) for ln in truth if ln}
    everything = session.run("ps").rows
    assert [r.task for r in session.run("ps -A").rows] == [r.task for r in everything
                                                             if r.active]
    leaders = {r.pid for r in session.run("ps -G").rows}
    assert set(policy) <= leaders
    fifo = {r.pid for r in session.run("ps -y FIFO").rows}
    assert fifo and {p for p, v in policy.items() if v == 1} == fifo & set(policy)
    assert {r.pid for r in session.run("ps -y 0,fifo").rows} == {r.pid for r in everything}
    by_task = {t.value_(): t for t in session.tasks()}
    for row in session.run("ps -s").rows:
        if row.active:
            assert row.kstackp is None
        else:
            lo, hi = stack_bounds(by_task[row.task])
            assert lo <= row.kstackp < hi, row
    text = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "ps -s 'pcfix-sl.*'")
    assert text.rc == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == "      PID    PPID  CPU      KSTACKP      ST  %MEM      VSZ      RSS  COMM"
    assert [ln.split()[-1] for ln in lines[1:]] == [
        "pcfix-sleeper1", "pcfix-sleeper2", "pcfix-sleeper3"]


PS_FLAGS = ["ps -A", "ps -s", "ps -y FIFO", "ps -G", "ps 'kworker.*'", "ps -y 0,fifo -k",
            "ps -G -s -A", "ps -A -t", "ps -y bogus"]


def test_ps_flags_match_crash_where_crash_sees_every_task() -> None:
    """On 5.10 crash 8.0.2 finds every task: the same lines but for %MEM and RSS (crash
    8.0.2 counts 5.10's RSS from the per-thread cache only)."""
    from conftest import fixture_dump

    dump = fixture_dump("bullseye-small")
    theirs = crash_commands(dump, PS_FLAGS)

    def masked(lines: list[str]) -> list[str]:
        return [re.sub(r"^([> ].{44}) *[\d.]+( +\d+) +\d+  ", r"\1 %MEM\2 RSS  ", ln)
                for ln in lines]

    for cmd in PS_FLAGS:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        ours = (run.out + run.err).splitlines()
        assert masked(ours) == masked(theirs[cmd]), cmd


def test_ps_H_leaves_out_the_header(dump: Dump) -> None:
    """``ps -H`` (crash 8.1's: no header line) prints ps's task lines alone: crash 8.0.2's
    own ``ps`` lines for the idle tasks (the only ones it reads right on 6.1: it gives
    the panic task PPID -1), and every task of the guest's /proc."""
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "ps -H", "-x", "ps -H -s")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert not any("COMM" in x and "PID" in x for x in lines)
    theirs = crash_commands(dump, ["ps"])["ps"]
    assert theirs[0].split() == ["PID", "PPID", "CPU", "TASK", "ST", "%MEM", "VSZ", "RSS",
                                 "COMM"]
    idle = [x for x in theirs[1:] if "swapper/" in x]
    assert len(idle) == 2
    for line in idle:
        assert line in lines, line
    pids = {int(x.lstrip("> ").split()[0]) for x in lines if x.strip()}
    assert set(parse_stat(dump.truth("stat.txt"))) <= pids
