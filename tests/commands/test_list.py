"""list: the renderer (no dump needed), and the command on the real dump, whole and corrupted."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import list as list_command
from rows import pid_struct

from pycrash.command import Result
from pycrash.errors import CommandError


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


def test_list_positional_offset_and_h_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: list task_struct.tasks -h init_task (a positional offset) was refused,
    and -h took start as the embedded list_head (the walk began at a bogus address). As
    crash 8.0.2: the offset may come without -o, and -h start is the struct that holds
    the list_head; the task list, init_task first. Without -h or -H each next pointer is
    the next entry itself (crash's first kind of list)."""
    head = session.prog["init_task"].tasks.address_
    commands = ["list task_struct.tasks -h init_task", "list -o task_struct.tasks -h init_task",
                "list task_struct.tasks init_task", f"list -H {head:x} -o task_struct.tasks",
                f"list -o 8 {head:x}", f"list {head:x}"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    init = session.prog["init_task"].address_
    assert theirs[commands[0]][0] == f"{init:x}" and len(theirs[commands[0]]) > 50
    with pytest.raises(CommandError, match="unexpected arguments"):
        session.run("list -o 8 task_struct.tasks init_task")


def test_list_r_e_S_l_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): list refused -r, -e, -S, -l, -x and -d. Each command's lines
    are crash 8.0.2's on this dump (the whole task list, 60-odd entries): the list walked
    backwards through the prev pointers from its head or from init_task (-h), members
    read from memory (-S: unsigned numbers, pointers in hex with a function's name, a
    char array as a string, larger members as -s shows them), ending before an entry
    (-e, and with -H through the head when the end is not in the list), and a walk from
    a list_head with -l showing the structs that hold it."""
    head = session.prog["init_task"].tasks.address_
    tasks = session.prog.type("struct task_struct").member("tasks").offset
    entries = session.run(f"list -H {head:x} -o task_struct.tasks").rows
    fifth = entries[4].address + tasks  # the fifth task's list_head
    first = session.prog["init_task"].tasks.next.value_()
    commands = [
        f"list -r -H {head:x} -o task_struct.tasks", "list -r -h -o task_struct.tasks init_task",
        f"list -H {head:x} -o task_struct.tasks -S task_struct.pid,comm",
        f"list -r -H {head:x} -o task_struct.tasks -S task_struct.pid,mm,flags,real_parent",
        f"list -H {head:x} -o task_struct.tasks -S task_struct.sched_class,se",
        f"list -x -H {head:x} -o task_struct.tasks -S task_struct.pid,prio",
        f"list -d -H {head:x} -o task_struct.tasks -s task_struct.pid",
        f"list -H {head:x} -o task_struct.tasks -e {fifth:x}",
        f"list -H {head:x} -o task_struct.tasks -e {entries[4].address:x}",
        f"list -o task_struct.tasks -h init_task -e {fifth:x}",
        f"list {first:x} -l task_struct.tasks -s task_struct.comm",
        f"list {first:x} -l task_struct.tasks -S task_struct.pid"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    backwards = [e.address for e in session.run(commands[0]).rows]
    assert backwards == [e.address for e in reversed(entries)]
    assert len(session.run(commands[7]).rows) == 4
    with pytest.raises(CommandError, match="-l option can only be used with -s or -S"):
        session.run(f"list {first:x} -l task_struct.tasks")
