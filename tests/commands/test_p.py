"""p: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import p

from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.kernel.format import CValue, ValueKind, format_char_array, value_text


@pytest.mark.fast
def test_p_values() -> None:
    tasks = CValue(ValueKind.STRUCT, items=(CValue(ValueKind.SCALAR, "next", "0x10", 0x10),
                                            CValue(ValueKind.SCALAR, "prev", "0x20", 0x20)))
    rows = [p.Printed(1, "jiffies", "jiffies", "volatile unsigned long",
                      CValue(ValueKind.SCALAR, text="4294893556", value=4294893556)),
            p.Printed(2, "init_task.tasks", None, "struct list_head", tasks)]
    assert list(p.render(Result(rows))) == [
        "jiffies = $1 = 4294893556", "$2 = {", "  next = 0x10,", "  prev = 0x20", "}"]


@pytest.mark.fast
def test_char_arrays_as_crash_s_gdb_prints_them() -> None:
    """gdb escapes a digit after an octal escape (the comm "set\\000" then "0"), and stops
    after print_max (256, crash's) characters, taking a run of equal ones whole, with
    "..." after: task's thread_info and fpu padding on 5.10 (tests/commands/
    test_crash_layout.py compares them with crash's)."""
    assert format_char_array(b"sh\0\0set\x000\0\0") == '"sh\\000\\000set\\000\\060\\000"'
    assert format_char_array(b"a\n1") == '"a\\n1"'  # named escapes need none
    assert format_char_array(b"x" * 300, 256) == '"' + "x" * 300 + '"'
    assert format_char_array(b"x" * 300 + b"y", 256) == '"' + "x" * 300 + '"...'
    assert format_char_array(b"ab" * 200, 256) == '"' + "ab" * 128 + '"...'
    assert format_char_array(b"ab" * 128 + b"\0", 256) == '"' + "ab" * 128 + '"'


def test_p_prints_as_crash_does(session) -> None:  # type: ignore[no-untyped-def]
    comm = str(session.run("p init_task.comm")).strip()
    assert re.fullmatch(r'\$\d+ = "swapper/0\\000\\000\\000\\000\\000\\000"', comm)
    jiffies = str(session.run("p jiffies")).strip()
    m = re.fullmatch(r"jiffies = \$\d+ = (\d+)", jiffies)
    assert m and int(m.group(1)) == session.prog["jiffies"].value_()
    addr = str(session.run("p &init_task")).strip()
    assert addr.endswith(f"(struct task_struct *) {session.prog['init_task'].address_:#x} "
                         "<init_task>")
    pid = str(session.run("p ((struct task_struct *)&init_task)->tasks.next->prev == "
                          "&init_task.tasks")).strip()
    assert pid.endswith("= 1")
    per_cpu = session.run("p runqueues:1").rows[0]
    assert "cpu = 1" in value_text(per_cpu.value)  # p holds its value as a CValue
    numbers = [session.run("p 1").rows[0].number for _ in range(2)]
    assert numbers[1] == numbers[0] + 1


def test_p_char_pointer_prints_its_string(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: p of a char pointer printed ``(char *) 0x...``; crash (gdb) prints the
    address and the string: crash 8.0.2 on this dump prints ``saved_command_line = $1 =
    0xff3622496ffd8740 "console=ttyS0 crashkernel=256M panic=1 loglevel=6"``. A struct's
    char pointer members too (``name = 0x... "ext4"``); NULL stays 0x0."""
    ptr = session.prog["saved_command_line"].value_()
    text = str(session.run("p saved_command_line"))
    cmdline = dump.truth("cmdline.txt").strip()  # the guest's /proc/cmdline
    assert text.rstrip("\n") == f'saved_command_line = ${text.split("$")[1].split(" ")[0]} = ' \
        f'{ptr:#x} "{cmdline}"', text
    assert re.fullmatch(r"\$\d+ = 0x0\n?", str(session.run("p (char *)0")))
    name = str(session.run("struct file_system_type.name ext4_fs_type"))
    assert re.fullmatch(r'  name = 0x[0-9a-f]+ "ext4",\n?', name), name


def test_p_slash_x_is_gdb_s(session) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: p/x was 'command not found'. crash 8.0.2 hands it to gdb, which prints
    ``$2 = 0xfffee338`` for jiffies on this dump: no symbol before the number."""
    jiffies = session.prog["jiffies"].value_()
    assert re.fullmatch(rf"\$\d+ = {jiffies:#x}\n?", str(session.run("p/x jiffies")))
    assert re.fullmatch(rf"\$\d+ = {jiffies}\n?", str(session.run("p/d jiffies")))
    assert str(session.run("p -x jiffies")).startswith("jiffies = $")


def test_p_history_sizeof_and_per_cpu_as_crash(dump: Dump) -> None:
    """Issue 18 (batch B): p knew neither gdb's value history ($N, $, $$, $$N) nor sizeof,
    and a per-CPU symbol printed its zero-based link address (unreadable) or, with :N,
    its instance under the symbol's own name. In one session from the start, as crash
    8.0.2 numbers its values: each command's lines are crash's on this dump, among them
    the per-CPU symbol's type and addresses, every CPU's instance (:a), a CPU list, the
    context's CPU (:) and the warning for a CPU given to a symbol that is not per-CPU."""
    commands = ["p sizeof(struct task_struct)", "p $1", "p jiffies", "p $", "p $$2",
                "p sizeof(init_task)", "p sizeof init_task.pid", "p irq_stat", "p irq_stat:a",
                "p -x irq_stat:0", "p irq_stat:", "p irq_stat:0,1", "p jiffies:a", "p $$"]
    theirs = crash_commands(dump, commands)
    s = dump.open()
    for command in commands:
        assert str(s.run(command)).splitlines() == theirs[command], command
    assert s.prog.type("struct task_struct").size == int(theirs[commands[0]][0].split()[-1])
    with pytest.raises(CommandError, match="invalid cpu specification: 2"):
        s.run("p irq_stat:2")
    with pytest.raises(CommandError, match=r"History has not yet reached \$99"):
        s.run("p $99")


def test_p_names_pointers_into_kernel_symbols_as_gdb(dump: Dump) -> None:
    """gdb follows a pointer into a kernel symbol with ``<symbol+offset>`` (crash 8.0.2:
    ``sched_class = 0xffffffffb3d982d0 <fair_sched_class>``, ``prev = 0x... <init_task+
    2192>``); pycrash printed the bare number, in p, struct and task alike. Every line of
    crash's ``task`` (the panic task's whole task_struct) that names a symbol after a
    pointer is pycrash's too, and p/x names none, as gdb."""
    theirs = crash_commands(dump, ["task", "p &init_task.tasks", "p/x init_task.se.group_node"])
    s = dump.open()
    ours = str(s.run("task")).splitlines()
    named = [line for line in theirs["task"] if re.search(r"= 0x[0-9a-f]+ <", line)]
    assert len(named) > 10
    missing = [line for line in named if line not in ours]
    assert not missing, missing[:5]
    for command in ("p &init_task.tasks", "p/x init_task.se.group_node"):
        assert str(s.run(command)).splitlines()[1:] == theirs[command][1:], command
        assert str(s.run(command)).splitlines()[0].split("=", 1)[1] == \
            theirs[command][0].split("=", 1)[1], command


def test_arrays_are_shown_whole_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """crash runs gdb with its repeat threshold at 0x7fffffff: a run of equal elements is
    never collapsed to ``<repeats N times>`` (the panic task's comm ``"sh"`` and 13 NULs,
    the cpumask's 127 equal words); pycrash collapsed them as gdb's default does."""
    commands = ["task -R pid,comm", "p init_task.cpus_mask", "p -x init_task.cpus_mask",
                f"struct task_struct.comm {session.panic_task.value_():x}"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        ours = str(session.run(command)).splitlines()
        if command.startswith("p "):  # the history numbers differ
            ours, theirs[command] = ours[1:], theirs[command][1:]
        assert ours == theirs[command], command
    assert "<repeats" not in str(session.run("task"))
