"""search: the renderer (no dump needed), and the command's flags against crash 8.0.2;
the kernel-image and vmalloc aliases and the strings' context against crash on 5.10 are
in test_crash_layout.py."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.search import Match, SearchView, render

from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.kernel.tasks import TaskId


@pytest.mark.fast
def test_values_and_strings() -> None:
    rows = [Match(0xFF3CF9169CE21F54, value=0xDEADBEEF),
            Match(0xFF3CF91681234570, text="pycrash-fixture: marker before crash."),
            Match(0xFF3CF91681234578, value=0xFFFFFFFF81000000, name="_text")]
    # crash's "%lx: %lx %s": a space, then the argument when it was a symbol
    assert list(render(Result(rows))) == [
        "ff3cf9169ce21f54: deadbeef ",
        "ff3cf91681234570: pycrash-fixture: marker before crash.",
        "ff3cf91681234578: ffffffff81000000 (_text)"]


@pytest.mark.fast
def test_context_and_task_headers() -> None:
    task = TaskId(1, 0xFFFF888003C9C180, 0, "init")
    rows = [Match(0x1010, 0xAA, before=(1, 2), after=(3,), task=task),
            Match(0x2000, 0xBB, before=(4, 5), after=(6,), task=TaskId(2, 0x20, 1, "kthreadd"))]
    lines = list(render(Result(rows, view=SearchView(1))))
    assert lines[:6] == [task.header(),
                         "1000:  0000000000000001 0000000000000002   " + "." * 16,
                         "            1010:  aa ",
                         "1018:  0000000000000003                    ........", "", ""]
    assert lines[6].startswith("PID: 2 ")


def test_search_m_x_l_and_names_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): search refused -m, -x and -l, and printed no name after a
    symbol's value nor crash's space after a number. Over the panic task's task_struct
    (in the direct map, where both search kernel memory), each command's lines are
    crash 8.0.2's on this dump: its pointers to itself, with two values around each (-x),
    matched in their upper bits only (-m), as 32-bit words with context, 16-bit words
    masked, pointers to init_nsproxy named, and an (expression)."""
    task = session.panic_task.value_()
    size = session.prog.type("struct task_struct").size
    where = f"-s {task:x} -l {size:#x}"
    commands = [f"search {where} {task:x}", f"search {where} -x 2 {task:x}",
                f"search {where} -m ffff {task | 0xFFFF:x}",
                f"search {where} -w -x 3 {task & 0xFFFFFFFF:x}",
                f"search {where} init_nsproxy", f"search {where} -h -m ff00 0",
                f"search {where} (fair_sched_class+0)", f"search -s {task:x} -l 0x400 -x 1 0"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    assert theirs[commands[0]] and theirs[commands[4]] and theirs[commands[6]]
    with pytest.raises(CommandError, match="-x option is not allowed with -c"):
        session.run("search -x 1 -c foo")
    with pytest.raises(CommandError, match="-t option cannot be used with other memory"):
        session.run(f"search -t -s {task:x} 0")


def test_search_t_and_T_as_crash() -> None:
    """search -t and -T (every task's kernel stack, or the running tasks') on Debian 11's
    5.10 dump, where crash 8.0.2 sees every task: each line is crash's, the task headers
    in crash's order, hits with context (-x) and masked 32-bit words included."""
    dump = fixture_dump("bullseye-small")
    s = dump.open()
    init = s.task("1").value_()
    commands = [f"search -t {init:x}", f"search -T {init:x}", f"search -t -x 1 {init:x}",
                "search -T init_task", f"search -t -w -m ffff0000 {init & 0xFFFF:x}"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(s.run(command)).splitlines() == theirs[command], command
    headers = [line for line in theirs[commands[0]] if line.startswith("PID:")]
    assert len(headers) > 5 and headers[0].startswith("PID: 1 ")
    running = s.active_tasks()
    assert all(int(line.split()[3], 16) in running
               for line in theirs[commands[1]] if line.startswith("PID:"))
