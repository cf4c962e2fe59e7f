"""lock and waitq on the zoo's hangs, against the guest's truth: its /proc stacks and
sched files read before the crash, its log (dmesg), and the hung-task report in the
console log."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, assert_one_line_error, fixture_dump, pid_of, pycrash

from pycrash.kernel.locks import LockKind
from pycrash.kernel.waitfor import ChainEnd

#: the hung-task detector's timeout the hang fixtures set (testdata/fixture.py)
HUNG_TIMEOUT = 4.0
_STAMPED = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")


def console(dump: Dump) -> list[tuple[float, str]]:
    """The serial console's kernel lines: (seconds since boot, text)."""
    out = []
    for line in (dump.dir / "console.log").read_text(errors="replace").splitlines():
        m = _STAMPED.match(line)
        if m:
            out.append((float(m[1]), m[2]))
    return out


def blocked_for(dump: Dump) -> dict[int, tuple[float, int]]:
    """The last "blocked for more than N seconds" of each task the detector named: when
    it was printed (seconds since boot) and N. (The detector stops naming tasks once its
    hung_task_warnings run out, so the last report may come before the panic.)"""
    found = {}
    for t, text in console(dump):
        m = re.search(r"INFO: task .+:(\d+) blocked for more than (\d+) seconds", text)
        if m:
            found[int(m[1])] = (t, int(m[2]))
    return found


def panic_time(dump: Dump) -> float:
    """When the kernel panicked, in seconds since boot (its console line)."""
    return next(t for t, text in console(dump) if "Kernel panic - not syncing" in text)


def block_order(dump: Dump, lock: str) -> list[str]:
    """The tasks that logged blocking on ``lock`` (the module's message), in order."""
    return re.findall(rf"pcfix_oops: (\S+) blocks on {lock}\b", dump.truth("dmesg.txt"))


def pid_named(dump: Dump, comm: str) -> int:
    """The pid of the task named ``comm`` (a kworker's /proc name adds +WQ or -WQ)."""
    from conftest import parse_stat

    return next(p for p, (c, _s, _pp) in parse_stat(dump.truth("stat.txt")).items()
                if c == comm or c.startswith((f"{comm}+", f"{comm}-")))


def exec_start(dump: Dump, pid: int) -> float:
    """``se.exec_start`` of /proc/PID/sched read before the crash, in seconds."""
    m = re.search(r"se\.exec_start\s*:\s*([\d.]+)", dump.truth(f"sched/{pid}"))
    assert m
    return float(m[1]) / 1000


def first_stack_line(dump: Dump, pid: int) -> str:
    """The function of the first line of the task's /proc/PID/stack."""
    block = next(b for b in dump.truth("stacks.txt").split("\n\n")
                 if b.startswith(f"task {pid} "))
    return block.splitlines()[1].split()[1].split("+")[0]


@pytest.fixture(scope="module")
def hung() -> Dump:
    return fixture_dump("zoo-hung")


def graph(dump: Dump):  # type: ignore[no-untyped-def]
    result = dump.open().run("lock")
    assert len(result.rows) == 1
    return result.rows[0]


def test_hung_mutex_holder_and_waiters(hung: Dump) -> None:
    g = graph(hung)
    assert len(g.locks) == 1 and g.deadlocks == 0
    lock = g.locks[0]
    assert lock.kind == LockKind.MUTEX and lock.symbol == "pcfix_mutex" and lock.locked
    holder = pid_of(hung, "pcfix_holder")
    assert lock.owner is not None and lock.owner.task.pid == holder
    assert lock.owner.state == "IN"
    assert (lock.owner.where, lock.owner.module) == (first_stack_line(hung, holder), "pcfix_oops")
    # the three waiters, oldest first: the order they logged blocking in
    order = [n for n in block_order(hung, "pcfix_mutex") if n != "pcfix_holder"]
    assert order == ["pcfix_waiter1", "pcfix_waiter2", "pcfix_waiter3"]
    assert [w.task.pid for w in lock.waiters] == [pid_of(hung, n) for n in order]
    assert all(w.state == "UN" for w in lock.waiters)
    # every chain goes from a waiter to the holder, who sleeps in module code
    assert {c.steps[0].task.pid for c in g.chains} == {w.task.pid for w in lock.waiters}
    for c in g.chains:
        assert c.end == ChainEnd.FREE and c.last.task.pid == holder
        assert c.steps[0].lock == lock.address


def test_hung_blocked_times_agree_with_the_detector(hung: Dump) -> None:
    lock = graph(hung).locks[0]
    reported = blocked_for(hung)
    panic = panic_time(hung)
    assert set(reported) == {w.task.pid for w in lock.waiters}
    for w in lock.waiters:
        secs = w.blocked_ns / 1e9
        # at least what the detector said when it last named the task, plus the time from
        # then to the panic; at most one of its checking periods more (and a second for
        # khungtaskd waking late in a guest under TCG on a loaded host)
        when, said = reported[w.task.pid]
        since = secs - (panic - when)
        assert said <= since <= said + HUNG_TIMEOUT + 1, (w, when, said)
        # and the time since the task left its CPU, as /proc/PID/sched said, to the panic
        assert abs(secs - (panic - exec_start(hung, w.task.pid))) < 0.05, w


def test_abba_deadlock_names_both_tasks_and_locks() -> None:
    dump = fixture_dump("zoo-abba")
    g = graph(dump)
    a, b = pid_of(dump, "pcfix_abba_a"), pid_of(dump, "pcfix_abba_b")
    assert g.deadlocks == 1
    (cycle,) = [c for c in g.chains if c.end == ChainEnd.CYCLE]
    assert {t.pid for t in cycle.cycle} == {a, b}
    assert {s.symbol for s in cycle.steps} == {"pcfix_mutex_a", "pcfix_mutex_b"}
    # each holds the lock it logged taking first, and waits on the other
    owners = {lk.symbol: lk.owner.task.pid for lk in g.locks}
    assert block_order(dump, "pcfix_mutex_a")[0] == "pcfix_abba_a"
    assert owners == {"pcfix_mutex_a": a, "pcfix_mutex_b": b}
    text = str(dump.open().run("lock -c"))
    assert text.count("DEADLOCK:") == 1 and "pcfix_abba_a" in text and "pcfix_abba_b" in text


def test_rwsem_writer_and_readers() -> None:
    dump = fixture_dump("zoo-rwsem")
    (lock,) = graph(dump).locks
    assert lock.kind == LockKind.RWSEM and lock.symbol == "pcfix_rwsem"
    assert lock.owner is not None and lock.owner.task.pid == pid_of(dump, "pcfix_writer")
    # three reader kthreads, then the kworker running pcfix_work_fn, in that order
    readers = block_order(dump, "pcfix_rwsem")
    assert readers[:3] == ["pcfix_reader1", "pcfix_reader2", "pcfix_reader3"]
    assert len(readers) == 4 and readers[3].startswith("kworker/")
    assert [(w.task.pid, w.mode) for w in lock.waiters] == [(pid_named(dump, n), "read")
                                                             for n in readers]


def test_lock_by_symbol_and_address_agree(hung: Dump) -> None:
    s = hung.open()
    by_name = s.run("lock pcfix_mutex").rows[0]
    by_addr = s.run(f"lock {by_name.address:x}").rows[0]
    assert by_name == by_addr and by_name.kind_from == "waiters"
    waiters = graph(hung).locks[0].waiters
    assert [w.task.pid for w in by_name.waiters] == [w.task.pid for w in waiters]


def test_waitq_lists_the_task_on_the_module_queue(hung: Dump) -> None:
    # pcfix_kt1 sleeps in wait_event_interruptible(pcfix_wq): its /proc stack says so
    kt1 = pid_of(hung, "pcfix_kt1")
    assert first_stack_line(hung, kt1) == "pcfix_sleep_inner"
    (q,) = hung.open().run("waitq pcfix_wq").rows
    assert [t.pid for t in q.tasks] == [kt1]


@pytest.mark.parametrize("cmd,message", [
    ("lock jiffies", "lock: jiffies is not a lock: its type is volatile unsigned long"),
    ("lock pcfix_wq", "is not a lock"),
    ("lock -t nosuch pcfix_mutex", "unknown lock kind: nosuch"),
    ("lock nosuchsymbol", "invalid lock address or symbol: nosuchsymbol"),
    ("waitq nosuchsymbol", "invalid symbol or address"),
])
def test_wrong_input_is_one_line(hung: Dump, cmd: str, message: str) -> None:
    run = pycrash("-s", str(hung.vmlinux), str(hung.vmcore), "-x", cmd)
    assert_one_line_error(run, message)
    assert run.err.count("\n") == 1


def test_no_lock_on_the_small_dump(dump: Dump) -> None:
    g = dump.open().run("lock").rows[0]
    assert g.locks == () and g.chains == ()


@pytest.mark.parametrize("name", ["zoo-hung", "zoo-rwsem"])
def test_waiter_records_on_the_stacks_find_the_same_locks(name: str) -> None:
    """Without the lock functions' DWARF variables, each waiter's record on its stack
    (linked into the lock's wait list) leads to the same lock."""
    from pycrash.kernel import locks

    s = fixture_dump(name).open()
    found = 0
    for task in s.tasks():
        wait = locks.waiting_on(s.prog, task) if task.pid.value_() else None
        if wait is None or wait.kind == locks.LockKind.SPINLOCK:
            continue
        assert wait.found_by == "dwarf"
        assert locks._from_waiter_record(s.prog, task, wait.kind) == wait.address
        found += 1
    assert found >= 3
