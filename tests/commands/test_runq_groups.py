"""runq -g on the real dumps, against crash 8.0.2 and runq's own queues."""

from __future__ import annotations

import pytest
from conftest import crash_commands, fixture_dump, pycrash


def test_runq_g_is_crash_s_text() -> None:
    """On 5.10, where crash 8.0.2 sees every task: each CPU's current task, the root task
    group's CFS run queue on it and the current task queued there marked [CURRENT], line
    for line."""
    dump = fixture_dump("bullseye-small")
    commands = ["runq -g", "runq -g -c 1"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd


def _check_against_runq(session) -> int:  # type: ignore[no-untyped-def]
    """Each CPU's grouped CFS queue holds runq's CFS tasks and the running task (unless it
    is the idle task), its root queue is root_task_group.cfs_rq[cpu]; returns how many
    tasks were queued besides the running ones."""
    from drgn import Object

    prog = session.prog
    root = prog["root_task_group"]
    plain = {q.cpu: q for q in session.run("runq").rows}
    queued = 0
    for g in session.run("runq -g").rows:
        assert g.root_group == root.address_
        assert g.cfs_rq == root.cfs_rq[g.cpu].value_()
        tasks = [e for e in g.cfs if e.kind == "task"]
        current = [e.task.pid for e in tasks if e.current]
        idle = g.current.pid == 0
        assert current == ([] if idle else [g.current.pid])
        others = sorted(e.task.task for e in tasks if not e.current)
        assert others == sorted(t.task.task for t in plain[g.cpu].cfs)
        for e in tasks:
            task = Object(prog, "struct task_struct *", e.task.task)
            assert e.prio == task.prio.value_()
        queued += len(others)
    return queued


def test_runq_g_holds_runq_s_tasks(session) -> None:  # type: ignore[no-untyped-def]
    _check_against_runq(session)


def test_runq_g_with_a_queued_task() -> None:
    """The soft-lockup dump: a kworker waits on the CPU the spinning task holds; -g shows
    it under the root group, after the current task."""
    dump = fixture_dump("zoo-softlockup")
    session = dump.open()
    if not _check_against_runq(session):
        pytest.fail("the soft-lockup dump has no task waiting on a run queue")
