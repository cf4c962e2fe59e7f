"""list: the renderer (no dump needed), and the command on the real dump, whole and corrupted."""

from __future__ import annotations

import pytest
from conftest import Dump
from pycrash.commands import list as list_command
from rows import pid_struct

from pycrash.command import Result


@pytest.mark.fast
def test_list_entries_and_members() -> None:
    rows = [list_command.ListEntry(0xFF3CF916811F0000, pid_struct(1)),
            list_command.ListEntry(0xFF3CF916811F4180, pid_struct(2))]
    assert list(list_command.render(Result(rows))) == [
        "ff3cf916811f0000", "  pid = 1,", "ff3cf916811f4180", "  pid = 2,"]
    assert list(list_command.render(Result([list_command.ListEntry(0x10)]))) == ["10"]


def test_list_over_init_task_tasks_visits_every_process(session) -> None:  # type: ignore[no-untyped-def]
    entries = session.run("list -H init_task.tasks -o task_struct.tasks").rows
    ps = [r for r in session.run("ps").rows if r.pid != 0]
    leaders = [r for r in ps if session.task(str(r.pid)).tgid.value_() == r.pid]
    assert len(entries) == len(leaders)
    assert {e.address for e in entries} == {r.task for r in leaders}
    shown = session.run("list -H init_task.tasks -o task_struct.tasks "
                        "-s task_struct.pid").rows
    first = shown[0].struct
    assert first.type == "struct task_struct" and first.address == shown[0].address
    assert [(m.path, m.value.value, m.value.text) for m in first.members] == [("pid", 1, "1")]
    assert str(session.run("list -H init_task.tasks -o task_struct.tasks "
                           "-s task_struct.pid")).splitlines()[1] == "  pid = 1,"


def test_a_corrupted_list_ends_with_an_error(dump: Dump) -> None:
    import pycrash

    s = pycrash.open(str(dump.vmcore), str(dump.vmlinux))
    entries = s.run("list -H init_task.tasks -o task_struct.tasks").rows
    offset = s.prog.type("struct task_struct").member("tasks").offset
    victim = entries[3].address + offset  # the 4th process's list_head
    bad = 0xDEAD000000000100  # LIST_POISON1, as a freed entry would hold

    def overlay(address: int, count: int, offs: int, physical: bool) -> bytes:
        return bad.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(victim, 8, overlay, False)  # next pointer only
    result = s.run("list -H init_task.tasks -o task_struct.tasks")
    assert len(result.rows) == 4
    assert result.errors == [result.errors[0]]
    assert f"invalid next pointer {bad:x}" in result.errors[0]
    # and a loop that never comes back to the head is named too
    loop_to = entries[1].address + offset

    def loop(address: int, count: int, offs: int, physical: bool) -> bytes:
        return loop_to.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(victim, 8, loop, False)
    looped = s.run("list -H init_task.tasks -o task_struct.tasks")
    assert looped.errors and "loop" in looped.errors[0]
    assert len(looped.rows) == 4
