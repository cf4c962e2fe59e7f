"""cmdlib.select: the one task selector of every command, on stub tasks (no dump needed).

The tasks live in a drgn Program's memory (tests/kernelstub.py); a stand-in session lists
them in crash's order, as the real one walks the kernel's task list.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from drgn import Object
from kernelstub import PF_KTHREAD, StubTask, tasks_program

from pycrash.cmdlib.select import Selection, dump_cpus, parse_cpus, select_tasks
from pycrash.errors import CommandError
from pycrash.session import Session

pytestmark = pytest.mark.fast

#: crash's order: one idle task per CPU, then the others; ``sh`` runs on CPU 1
TASKS = (StubTask(0, "swapper/0", flags=PF_KTHREAD), StubTask(0, "swapper/1", flags=PF_KTHREAD),
         StubTask(1, "init", 1), StubTask(2, "kthreadd", 1, PF_KTHREAD),
         StubTask(30, "kworker/0:1", 0x402, PF_KTHREAD), StubTask(40, "sleeper", 1),
         StubTask(41, "sleeper", 2), StubTask(50, "sh"), StubTask(60, "defunct", exit_state=0x20))
SWAPPER0, SWAPPER1, INIT, KTHREADD, KWORKER, SLEEPER, SLEEPER_D, SH, DEFUNCT = (
    (t.pid, t.comm) for t in TASKS)


class TaskSession(Session):
    """A Session over the stub tasks: swapper/0 runs on CPU 0 and sh on CPU 1; no context
    task (no panic) until a test sets one."""

    def __init__(self) -> None:
        prog, self.stub_tasks = tasks_program(TASKS)
        super().__init__(prog, SimpleNamespace(vmlinux=None))  # type: ignore[arg-type]

    def tasks(self) -> list[Object]:
        return list(self.stub_tasks)

    def active_tasks(self) -> dict[int, int]:
        return {self.stub_tasks[0].value_(): 0, self.stub_tasks[7].value_(): 1}


def picked(sel: Selection) -> list[tuple[int, str]]:
    """The ``(pid, comm)`` of each selected task, in order."""
    return [(t.pid.value_(), t.comm.string_().decode()) for t in sel.tasks]


@pytest.fixture
def s() -> TaskSession:
    return TaskSession()


def test_pids_task_addresses_and_names(s: TaskSession) -> None:
    assert picked(select_tasks(s, ["1"])) == [INIT]
    assert picked(select_tasks(s, ["0"])) == [SWAPPER0, SWAPPER1]  # one idle task per CPU
    sh = s.stub_tasks[7].value_()
    assert picked(select_tasks(s, [f"{sh:x}"])) == picked(select_tasks(s, [f"{sh:#x}"])) == [SH]
    assert picked(select_tasks(s, ["sleeper"])) == [SLEEPER, SLEEPER_D]
    # in the order given, each task once
    assert picked(select_tasks(s, ["sh", "1", "50", "init", f"{sh:x}"])) == [SH, INIT]


def test_what_names_no_task_is_an_error_each(s: TaskSession) -> None:
    sel = select_tasks(s, ["99999", "nosuch", "1", "dead0000"])
    assert picked(sel) == [INIT]
    assert sel.errors == ["invalid task or pid value: 99999", "no task named 'nosuch'",
                          "invalid task or pid value: dead0000"]
    with pytest.raises(CommandError, match="^no task named 'nosuch'$"):
        select_tasks(s, ["1", "nosuch"], strict=True)


def test_regex_over_command_names(s: TaskSession) -> None:
    assert picked(select_tasks(s, ["k.*"], regex=True)) == [KTHREADD, KWORKER]
    assert picked(select_tasks(s, ["^s", "sh"], regex=True)) == [SWAPPER0, SWAPPER1, SLEEPER,
                                                                SLEEPER_D, SH]
    assert select_tasks(s, ["zz.*"], regex=True).errors == ["no task named 'zz.*'"]
    with pytest.raises(CommandError, match=r"^no task matches 'zz\.\*'$"):
        select_tasks(s, ["zz.*"], regex=True, strict=True)
    with pytest.raises(CommandError, match=r"^bad regular expression '\(': "):
        select_tasks(s, ["("], regex=True)
    # without regex a pattern is only a name
    assert select_tasks(s, ["k.*"]).errors == ["no task named 'k.*'"]


def test_states_kernel_user_and_active(s: TaskSession) -> None:
    def of(*words: str) -> list[tuple[int, str]]:
        return picked(select_tasks(s, words, classes=True))

    assert of("RU") == [SWAPPER0, SWAPPER1, SH]
    assert of("IN") == [INIT, KTHREADD, SLEEPER]
    assert of("UN") == [SLEEPER_D]
    assert of("ID") == [KWORKER]  # TASK_UNINTERRUPTIBLE | TASK_NOLOAD
    assert of("ZO") == [DEFUNCT]
    assert of("ST") == []
    assert of("kernel") == [SWAPPER0, SWAPPER1, KTHREADD, KWORKER]
    assert of("user") == [INIT, SLEEPER, SLEEPER_D, SH, DEFUNCT]
    assert of("active") == [SWAPPER0, SH]
    # words and names together: in task-list order, each task once
    assert of("sh", "UN", "active", "1") == [SWAPPER0, INIT, SLEEPER_D, SH]
    # without classes a state is only a name
    assert select_tasks(s, ["RU"]).errors == ["no task named 'RU'"]


def test_kernel_or_user_only(s: TaskSession) -> None:
    assert picked(select_tasks(s, [], default="all", kernel=True)) == [
        SWAPPER0, SWAPPER1, KTHREADD, KWORKER]
    assert picked(select_tasks(s, ["0", "1", "2", "sh"], user=True)) == [INIT, SH]
    with pytest.raises(CommandError, match="^-k and -u are mutually exclusive$"):
        select_tasks(s, [], kernel=True, user=True)


def test_no_arguments_select_the_context_every_task_or_none(s: TaskSession) -> None:
    with pytest.raises(CommandError, match="^no context task: give a pid or task$"):
        select_tasks(s, [])
    s.context = s.stub_tasks[7]  # what set does
    assert picked(select_tasks(s, [])) == [SH]
    assert picked(select_tasks(s, [], default="all")) == [(t.pid, t.comm) for t in TASKS]
    assert select_tasks(s, [], default="none").tasks == []


def test_cpu_lists(s: TaskSession) -> None:
    assert dump_cpus(s.prog) == [0, 1]
    assert parse_cpus(s.prog, "1") == [1]
    assert parse_cpus(s.prog, "0,1") == parse_cpus(s.prog, "0-1") == [0, 1]
    with pytest.raises(CommandError, match="^invalid cpu: 2$"):
        parse_cpus(s.prog, "0-2")
    with pytest.raises(CommandError, match="^invalid cpu list: 1,x$"):
        parse_cpus(s.prog, "1,x")


def test_cpus_stopped_offline_are_still_shown() -> None:
    """A CPU smp_send_stop() marked offline at the panic is present: bt -a, runq and -c
    keep it (before, bt -c 0 called such a CPU invalid)."""
    prog, _tasks = tasks_program([StubTask(1, "init")], cpus=2, online=0b10)
    assert dump_cpus(prog) == [0, 1]
    assert parse_cpus(prog, "0") == [0]
    with pytest.raises(CommandError, match="^invalid cpu: 2$"):
        parse_cpus(prog, "2")
