"""whatis: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import pytest
from pycrash.commands import whatis
from rows import LIST_HEAD

from pycrash.command import Result


@pytest.mark.fast
def test_whatis_declarations() -> None:
    rows = [whatis.Declaration("init_task", "variable", "struct task_struct init_task;"),
            whatis.Declaration("list_head", "struct", LIST_HEAD.definition, 16),
            whatis.Declaration("pid_type", "enum", "enum pid_type {\n\tPIDTYPE_PID = 0,\n}"),
            whatis.Declaration("pid_t", "typedef", "typedef __kernel_pid_t pid_t;"),
            whatis.Declaration("int", "type", "int", 4)]
    assert list(whatis.render(Result(rows))) == [
        "struct task_struct init_task;",
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16",
        "enum pid_type {", "    PIDTYPE_PID = 0,", "}",
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
