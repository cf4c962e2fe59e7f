"""sym: the renderer (no dump needed), and the command on the real dump and the crash zoo."""

from __future__ import annotations

import re

import pytest
from conftest import Dump
from pycrash.commands import sym

from pycrash.command import Result
from pycrash.kernel.symbols import SymbolRow, symbol_line


@pytest.mark.fast
def test_sym_lines() -> None:
    rows = [SymbolRow(0xFFFFFFFF8EBCCF41, "T", "panic", 16, None, "kernel/panic.c", 276),
            SymbolRow(0xFFFFFFFFC0402000, "t", "loop_init", 0, "loop", None, None)]
    assert list(sym.render(Result(rows))) == [
        "ffffffff8ebccf41 (T) panic+16 kernel/panic.c: 276",
        "ffffffffc0402000 (t) loop_init [loop] "]  # crash: the empty line number of module text


def test_sym_of_an_address_inside_panic_round_trips(session) -> None:  # type: ignore[no-untyped-def]
    panic = session.prog.symbol("panic")
    row = session.run(f"sym {panic.address + 16:x}").rows[0]
    text = symbol_line(row)
    # the file under the kernel's compilation directory, as crash (gdb) names it
    assert re.fullmatch(rf"{panic.address + 16:016x} \(T\) panic\+16 debian/build/"
                        r"build_amd64_none_cloud-amd64/kernel/panic\.c: \d+", text)
    back = session.run("sym panic").rows[0]
    assert back.address == panic.address and back.name == "panic" and back.offset == 0


def test_sym_names_a_frame_as_bt_does(zoo: Dump) -> None:
    """sym of any frame's pc gives bt's name (labels such as
    entry_SYSCALL_64_after_hwframe, module functions from kallsyms without debuginfo)."""
    s = zoo.open()
    frames = s.run("bt").rows[0].frames
    for f in frames:
        if not f.offset:
            continue
        # a return address may lie just past its function (a call that never returns):
        # the call instruction's last byte is inside it, as bt looks it up
        row = s.run(f"sym {f.pc - 1:x}").rows[0]
        assert (row.name, row.offset, row.module) == (f.function, f.offset - 1, f.module), f


def test_sym_l_is_crash_s_list(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """sym -l lists what crash 8.0.2 reads through BFD from the vmlinux's symbol table (its
    per-CPU symbols first, section symbols by their section's name, nm's letters from the
    section flags: .rodata is writable in a vmlinux, so its symbols are d), then each
    module's symbols between MODULE START and MODULE END: the same lines on 6.1."""
    from conftest import crash_commands

    lines = ["sym -l", "sym -q sysrq", "sym -q loop", "sym _end", "sym __per_cpu_start"]
    theirs = crash_commands(dump, lines)
    ours = str(session.run("sym -l")).splitlines()
    assert len(ours) > 100_000 and ours == theirs["sym -l"]
    for line in lines[1:]:  # the same table: its letters, per-CPU and module symbols
        assert str(session.run(line)).splitlines() == theirs[line], line
