"""whatis: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import whatis
from rows import LIST_HEAD

from pycrash.command import Result


@pytest.mark.fast
def test_whatis_declarations() -> None:
    rows = [whatis.Declaration("init_task", "variable", "struct task_struct init_task;"),
            whatis.Declaration("list_head", "struct", LIST_HEAD.definition, 16),
            whatis.Declaration("pid_type", "enum", "enum pid_type {\n  PIDTYPE_PID = 0\n};"),
            whatis.Declaration("pid_t", "typedef", "typedef __kernel_pid_t pid_t;"),
            whatis.Declaration("int", "type", "int", 4)]
    assert list(whatis.render(Result(rows))) == [
        "struct task_struct init_task;",
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16",
        "enum pid_type {", "  PIDTYPE_PID = 0", "};",
        "typedef __kernel_pid_t pid_t;",
        "type = int", "SIZE: 4"]


def test_whatis(session) -> None:  # type: ignore[no-untyped-def]
    assert str(session.run("whatis init_task")).strip() == "struct task_struct init_task;"
    assert str(session.run("whatis panic")).strip() == "void panic(const char *, ...);"
    assert str(session.run("whatis struct list_head")).splitlines()[-1] == "SIZE: 16"


def test_whatis_takes_a_bare_tag_as_crash(session) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: whatis task_struct needed 'struct'; crash 8.0.2 shows the definition
    (and SIZE: 9728 on this 6.1 kernel) for the bare tag, as for struct task_struct."""
    bare = str(session.run("whatis task_struct")).splitlines()
    assert bare == str(session.run("whatis struct task_struct")).splitlines()
    assert bare[0] == "struct task_struct {" and bare[-1] == "SIZE: 9728"
    dev = str(session.run("whatis net_device")).splitlines()  # gdb's one-line enum
    assert ("    enum {RTNL_LINK_INITIALIZED, RTNL_LINK_INITIALIZING} rtnl_link_state : 16;"
            in dev)


def test_whatis_o_r_m_and_typedefs_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): whatis refused -o, -r and -m; a typedef of a struct showed one
    line where crash shows the struct, a typedef of a base type no size, and an enum was
    drgn's C. Each command's lines are crash 8.0.2's on this dump: offsets (-o) of a
    struct and of typedefs of named and anonymous structs, the types of a size or range
    holding a member of a type (-r with -m, -m alone), and '(none found)'."""
    commands = ["whatis -o list_head", "whatis -o struct wait_queue_head",
                "whatis -o wait_queue_head_t", "whatis -o irq_cpustat_t", "whatis irq_cpustat_t",
                "whatis atomic_t", "whatis -o pid_t", "whatis u8", "whatis -o init_task",
                "whatis enum pid_type", "whatis -m mm_struct", "whatis -r 16-17 -m list_head",
                "whatis -r 3000-100000 -m task_struct", "whatis -r 192", "whatis -r 99999"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command


def test_whatis_r_lists_every_type_of_a_size(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """whatis -r lists the types of the kernel's BTF: every type crash 8.0.2 lists for
    ``-r 4`` on this dump (1,400 structs, unions, enums, base types and typedefs) is
    listed, in crash's order (size, then strcmp); crash's gdb lists only the typedefs it
    has resolved before, so pycrash's extra lines are typedefs (and three enums BTF keeps
    that the DWARF declares in no file's scope), each of size 4 indeed."""
    theirs = crash_commands(dump, ["whatis -r 4"])["whatis -r 4"]
    ours = str(session.run("whatis -r 4")).splitlines()
    assert ours[0] == theirs[0] == "SIZE  TYPE"
    assert len(theirs) > 1000
    position = {line: i for i, line in enumerate(ours)}
    assert all(line in position for line in theirs)
    assert [position[line] for line in theirs] == sorted(position[line] for line in theirs)
    from drgn import sizeof

    extra = [line.split()[1] for line in ours if line not in set(theirs)]
    assert extra
    for name in extra:
        try:
            t = session.prog.type(name)
        except LookupError:  # an enum BTF keeps and the DWARF has in no file's scope
            t = session.prog.type(f"enum {name}")
        assert t.kind.name in ("TYPEDEF", "ENUM") and sizeof(t) == 4, name
