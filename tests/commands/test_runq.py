"""runq: the renderer (no dump needed), and runq and sig on the real dump."""

from __future__ import annotations

import pytest
from pycrash.commands.runq import QueuedTask, RunQueue, RunqView, render

from pycrash.command import Result
from pycrash.kernel.tasks import TaskId


@pytest.mark.fast
def test_run_queues() -> None:
    idle = TaskId(0, 0xFFFFFFFF8FC1AA40, 0, "swapper/0")
    sh = TaskId(142, 0xFF3CF9169E460000, 1, "sh")
    rows = [RunQueue(0, 0xFF3CF916AE031980, 5235103378, idle, 0xFF3CF916AE031BC0,
                     0xFF3CF916AE031A30, (), ()),
            RunQueue(1, 0xFF3CF916AE131980, 7, sh, 0x10, 0x20, (QueuedTask(0, idle),),
                     (QueuedTask(120, sh),))]
    assert list(render(Result(rows, view=RunqView(False)))) == [
        "CPU 0 RUNQUEUE: ff3cf916ae031980",
        '  CURRENT: PID: 0      TASK: ffffffff8fc1aa40  COMMAND: "swapper/0"',
        "  RT PRIO_ARRAY: ff3cf916ae031bc0", "     [no tasks queued]",
        "  CFS RB_ROOT: ff3cf916ae031a30", "     [no tasks queued]",
        "",
        "CPU 1 RUNQUEUE: ff3cf916ae131980",
        '  CURRENT: PID: 142    TASK: ff3cf9169e460000  COMMAND: "sh"',
        "  RT PRIO_ARRAY: 10",
        '     [  0] PID: 0      TASK: ffffffff8fc1aa40  COMMAND: "swapper/0"',
        "  CFS RB_ROOT: 20",
        '     [120] PID: 142    TASK: ff3cf9169e460000  COMMAND: "sh"']
    assert list(render(Result(rows[:1], view=RunqView(True))))[1] == "  CLOCK: 5235103378"


def test_runq_and_sig(session) -> None:  # type: ignore[no-untyped-def]
    queues = session.run("runq").rows
    assert [q.cpu for q in queues] == [0, 1]
    assert queues[1].current.task == session.panic_task.value_()
    ts = session.run("sig 1").rows[0]
    assert len(ts.actions) == 64 and ts.nr_threads == 1
    assert str(session.run("sig 1")).splitlines()[1].startswith("SIGNAL_STRUCT: ")
