"""struct, union and *: the renderers (no dump needed), and the command on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, pid_of
from pycrash.commands import struct
from rows import LIST_HEAD

from pycrash.cmdlib.structs import StructDump
from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.kernel.format import CValue, ValueKind


@pytest.mark.fast
def test_struct_layout_with_and_without_offsets() -> None:
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(True)))) == [
        "struct list_head {", "   [0] struct list_head *next;",
        "   [8] struct list_head *prev;", "}", "SIZE: 16"]
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(False)))) == [
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16"]


@pytest.mark.fast
def test_struct_objects() -> None:
    value = CValue(ValueKind.STRUCT, items=(CValue(ValueKind.SCALAR, "next", "0x0", 0),
                                            CValue(ValueKind.SCALAR, "prev", "0x4000", 0x4000)))
    rows = [StructDump("struct list_head", 0x1000, value)]
    assert list(struct.render(Result(rows, view=struct.StructView(False)))) == [
        "struct list_head {", "  next = 0x0,", "  prev = 0x4000", "}"]


def test_struct_members_of_a_task(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    task = session.task("pcfix-sleeper1").value_()
    out = str(session.run(f"struct task_struct.pid,comm {task:x}")).splitlines()
    assert out == [f"  pid = {pid_of(dump, 'pcfix-sleeper1')},", '  comm = "pcfix-sleeper1\\000",']
    layout = str(session.run("struct list_head -o")).splitlines()
    # crash 8.0.2: the offsets right-aligned in the width of the size plus four
    assert layout == ["struct list_head {", "   [0] struct list_head *next;",
                      "   [8] struct list_head *prev;", "}", "SIZE: 16"]


def test_struct_o_of_bitfields_and_nested_members_as_crash(session) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: types with bit fields failed with 'member is not byte-aligned'. Each line
    below is crash 8.0.2's on this 6.1 dump: nested anonymous members with their offsets,
    a bit field at its byte, a named nested struct's members without one, an anonymous
    enum on one line as gdb prints it."""
    skb = str(session.run("struct sk_buff -o")).splitlines()
    assert skb[:4] == ["struct sk_buff {", "        union {", "            struct {",
                       "    [0]         struct sk_buff *next;"]
    for line in ["  [126] __u8 __cloned_offset[0];", "  [126] __u8 fclone : 2;",
                 "  [129]         __u8 l4_hash : 1;", "  [128]     } headers;",
                 "   [40] char cb[48];",
                 "   [96]         void (*destructor)(struct sk_buff *);"]:
        assert line in skb
    assert skb[-2:] == ["}", "SIZE: 232"]
    sock = str(session.run("struct sock -o")).splitlines()
    i = sock.index("  [240] } sk_backlog;")
    assert sock[i - 5:i] == ["        struct {", "            atomic_t rmem_alloc;",
                             "            int len;", "            struct sk_buff *head;",
                             "            struct sk_buff *tail;"]
    dev = str(session.run("struct net_device -o")).splitlines()
    assert ("  [1258] enum {RTNL_LINK_INITIALIZED, RTNL_LINK_INITIALIZING} rtnl_link_state"
            " : 16;") in dev
    task = str(session.run("struct task_struct -o")).splitlines()
    assert "  [2340] unsigned int sched_reset_on_fork : 1;" in task
    assert str(session.run("struct task_struct.se -o")).splitlines() == [
        "struct task_struct {", "   [128] struct sched_entity se;", "}"]
    assert str(session.run("struct task_struct.se")).splitlines() == [
        "struct task_struct {", "   [128] struct sched_entity se;", "}"]


def test_struct_l_and_sym_m(session) -> None:  # type: ignore[no-untyped-def]
    first = session.prog["init_task"].tasks.next.value_()
    out = str(session.run(f"struct task_struct.pid -l task_struct.tasks {first:x}")).rstrip()
    assert out == "  pid = 1,"
    names = {r.name for r in session.run("sym -m dummy").rows}
    assert "dummy_setup" in names and "panic" not in names


def test_struct_negative_count_shows_the_preceding_objects(session) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: ``struct list_head ADDR -2`` printed nothing. crash 8.0.2 on this dump,
    ``struct list_head init_task -c -2``: the object before init_task, then init_task's
    first 16 bytes (its thread_info flags 0x4000), an empty line between them."""
    expected = ["struct list_head {", "  next = 0x0,", "  prev = 0x0", "}", "",
                "struct list_head {", "  next = 0x4000,", "  prev = 0x0", "}"]
    assert str(session.run("struct list_head init_task -c -2")).splitlines() == expected
    assert str(session.run("struct list_head init_task -2")).splitlines() == expected
    forward = str(session.run("struct list_head init_task 2")).splitlines()
    assert forward[:5] == expected[5:] + [""]
    with pytest.raises(Exception, match="invalid count: 0"):
        session.run("struct list_head init_task 0")


def test_struct_p_r_o_and_cpuspec_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): struct refused -p and -r, ignored -o with an address, and read
    a per-CPU symbol at its zero-based link address (``runqueues:0-1`` was refused). Each
    command's lines are crash 8.0.2's on this dump: pointer members with their types and
    what they point to (NULL, a struct, a named struct), raw bytes as rd shows them, the
    members' addresses, and each chosen CPU's instance after ``[CPU]: ADDRESS`` (a
    typedef'd anonymous struct named as crash names it); a CPU given to a symbol that is
    not per-CPU is ignored with crash's warning; -c counts, before and after the address,
    and per CPU."""
    tasks = session.prog["init_task"].tasks.address_
    commands = [
        "struct rq.nr_running runqueues:0-1", "struct rq.nr_running,cpu runqueues:a",
        "struct irq_cpustat_t irq_stat:1", "struct rq.nr_running runqueues:",
        "struct list_head jiffies:1",
        f"struct -o wait_queue_head {tasks:x}", "struct task_struct.pid -o init_task",
        "struct -p task_struct.mm,comm,pid,fs init_task", f"struct -p list_head {tasks:x}",
        "struct -p task_struct.thread_pid,nsproxy init_task",
        f"struct -r list_head {tasks:x}", f"struct -r list_head {tasks:x} 2",
        "struct -r task_struct.comm init_task", "struct -r task_struct.pid init_task",
        "struct -r task_struct.se init_task", f"struct -c 2 list_head {tasks:x}",
        f"struct list_head {tasks:x} -c -2", "struct -c 2 rq.nr_running runqueues:1"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    errors = {"struct -r task_struct.pid,comm init_task": "only one structure member allowed",
              "struct -o task_struct.pid,comm init_task": "-o option not valid with multiple",
              "struct -p list_head": "-p option requires address argument",
              "struct rq.nr_running runqueues:5": "invalid cpu specification: 5"}
    for command, message in errors.items():
        with pytest.raises(CommandError, match=message):
            session.run(command)
