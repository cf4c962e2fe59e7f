"""dis: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, crash_commands
from pycrash.commands.dis import Instruction, render

from pycrash.command import Result


@pytest.mark.fast
def test_instructions_and_source_lines() -> None:
    rows = [Instruction(0xFFFFFFFF8EBCCF31, "panic", "0f1f440000", "nopl", "(%rax, %rax)",
                        "kernel/panic.c", 276),
            Instruction(0xFFFFFFFF8EBCCF36, "panic+5", "55", "pushq", "%rbp",
                        "kernel/panic.c", 276),
            Instruction(0xFFFFFFFF8EBCCF37, "panic+6", "c3", "retq", "",
                        "kernel/panic.c", 277)]
    assert list(render(Result(rows))) == [
        "kernel/panic.c: 276",
        "0xffffffff8ebccf31 <panic>:\tnopl   (%rax, %rax)",
        "0xffffffff8ebccf36 <panic+5>:\tpushq  %rbp",
        "kernel/panic.c: 277",
        "0xffffffff8ebccf37 <panic+6>:\tretq"]


def test_dis_r_ends_with_the_instruction_holding_the_address(session) -> None:  # type: ignore[no-untyped-def]
    """dis -r SYMBOL+OFF: from the function's start through the first instruction that
    starts at or past the address, as crash's x/Ni loop stops (kernel.c cmd_dis): one
    past the instruction holding a mid-instruction address (before issue 12,
    symbol+offset was not taken at all)."""
    start = session.prog.symbol("panic").address
    rows = session.run("dis -r panic+20").rows
    assert rows[0].address == start and rows[0].location == "panic"
    last = rows[-1]
    assert rows[-2].address < start + 20 <= last.address
    assert all(a.address < b.address for a, b in zip(rows, rows[1:], strict=False))


def test_dis_panic_5(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("dis panic 5").rows
    assert len(rows) == 5
    assert rows[0].address == session.prog.symbol("panic").address
    assert rows[0].location == "panic" and rows[1].location.startswith("panic+")
    text = str(session.run("dis sysrq_handle_crash"))
    assert re.search(r"call\w*\s+0x[0-9a-f]+ <panic>", text)
    assert "drivers/tty/sysrq.c" in str(session.run("dis -l sysrq_handle_crash"))


def _objdump(vmlinux: str, function: str) -> list[tuple[int, str, str]]:
    """Return ``(address, mnemonic, operands)`` of a function as binutils' aarch64 objdump
    disassembles it from the vmlinux file."""
    import subprocess

    out = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn",
                          f"--disassemble={function}", vmlinux],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\t(\S+)\s*(.*)$", line)
        if m:
            rows.append((int(m.group(1), 16), m.group(2), m.group(3)))
    return rows


def test_arm64_dis_panic_is_objdumps() -> None:
    """dis on arm64 decodes AArch64 (it decoded x86 before): panic's instructions are the
    ones objdump shows in the vmlinux, at the KASLR-moved addresses. The first two are the
    patchable entry ftrace rewrites at boot (the dump holds ``mov x9, x30``, the file a
    nop), so the comparison starts after them; a static key's branch the kernel patched
    to a nop (or back) is the one other difference allowed."""
    from conftest import fixture_dump

    d = fixture_dump("arm64-small")
    s = d.open()
    rows = s.run("dis panic 40").rows
    ref = _objdump(str(d.vmlinux), "panic")
    slide = rows[0].address - ref[0][0]  # KASLR
    assert slide % 0x10000 == 0 and len(rows) == 40
    assert [r.address - slide for r in rows] == [a for a, _m, _o in ref[:40]]
    pairs = [(r.mnemonic, m) for r, (_a, m, _o) in zip(rows[2:], ref[2:40], strict=True)]
    assert all(a == b or {a, b} == {"nop", "b"} for a, b in pairs), pairs
    assert sum(a == b for a, b in pairs) >= len(pairs) - 2
    # branch and page targets as gdb shows them: 0x... <symbol+offset>, moved by the slide
    adrp = next(r for r in rows if r.mnemonic == "adrp")
    target = int(re.search(r"0x([0-9a-f]+) <", adrp.operands).group(1), 16)
    assert any(m == "adrp" and o.split(", ")[1].startswith(f"{target - slide:x} ")
               for _a, m, o in ref)
    call = next(r for r in rows if r.mnemonic == "bl")
    assert re.search(r"0x[0-9a-f]{16} <\w+(\+\d+)?>$", call.operands)


def test_dis_is_gdb_s_att_text_as_crash_prints_it(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: dis printed capstone's AT&T text (pushq, $2, callq, no comments); only 7
    of 60 lines of dis __schedule 60 were crash's. Now gdb's spelling, hex immediates and
    displacements, 0x0(%rax,%rax,1), the # 0x... <symbol> comment of RIP-relative
    operands, [FTRACE NOP], string instructions, data16 nops, ud1 and crash's -r and -l
    are crash 8.0.2's, line for line, but for symbols that share an address (crash may
    name the other one: __x86_indirect_thunk_array for _rax, jiffies for jiffies_64)."""
    commands = ["dis __schedule 60", "dis sysrq_handle_crash", "dis -l sysrq_handle_crash",
                "dis -r panic+40", "dis copy_process 80", "dis schedule", "dis ksys_write",
                "dis kmem_cache_alloc 60", "dis memcpy 8", "dis __fdget_pos",
                "dis entry_SYSCALL_64 40", "dis -r schedule+20"]
    theirs = crash_commands(dump, commands)
    aliases = re.compile(r"<(__x86_indirect_thunk_\w+|jiffies(_64)?|_?_?memcpy)(\+\d+)?>")
    for command in commands:
        ours = [aliases.sub("<ALIAS>", line) for line in str(session.run(command)).splitlines()]
        assert ours == [aliases.sub("<ALIAS>", line) for line in theirs[command]], command


def test_dis_f_and_b_as_crash(dump: Dump) -> None:
    """Issue 18 (batch B): dis refused -f and -b. Each command's lines are crash 8.0.2's
    on this dump, in one session: -f from inside an instruction (crash decodes the
    function from its start and shows from the first instruction at or past the
    address) to the function's end, -f with a count (count instructions from the address
    itself), -b alone (0 on this kernel: its __bug_table holds BUG()'s data), and do_exit's
    BUG()s with 4 bytes skipped after each ud2, then none again."""
    s = dump.open()
    # each command once (crash_commands keys the outputs by command): spaces differ
    commands = ["dis -b", "dis -f do_exit+2800", "dis -f do_exit+2800 2", "dis -b 4",
                "dis do_exit+1225 4", "dis  -b", "dis -b 0", "dis  do_exit+1225 4"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(s.run(command)).splitlines() == theirs[command], command
    skipped = [i.address for i in s.run("dis -b 4 do_exit+1225 2").rows]
    assert skipped[1] - skipped[0] == 2 + 4
    s.run("dis -b 0")
    end = s.prog.symbol("do_exit")
    forward = s.run("dis -f do_exit+2800").rows
    assert forward[-1].address < end.address + end.size <= forward[-1].address + 15


def test_dis_s_lists_the_source_as_crash(dump: Dump, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): dis -s (the source of a text address) was refused. The kernel's
    sources are not on this machine: crash 8.0.2 prints FILE and LINE, then says so;
    with a kernel/exit.c under the current directory (where gdb looks, after the
    compilation directory) it lists it from five lines before do_exit+1225's line to the
    end of the function (the first '}' alone on a line), or count lines past it. pycrash
    prints the same lines in the same directory."""
    lines = ["}" if n in (700, 716) else "\tif (x) {" if n == 712 else f"/* line {n} */"
             for n in range(1, 801)]
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "exit.c").write_text("\n".join(lines) + "\n")
    commands = ["dis -s do_exit+1225", "dis -s do_exit+1225 3", "dis -s panic"]
    theirs = crash_commands(dump, commands, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    s = dump.open()
    for command in commands[:2]:
        assert str(s.run(command)).splitlines() == theirs[command], command
    assert theirs[commands[0]][:3] == ["FILE: kernel/exit.c", "LINE: 710", ""]
    assert theirs[commands[0]][-2:] == ["  716\t}", ""]
    panic = s.run("dis -s panic")
    assert str(panic).splitlines() == theirs["dis -s panic"][:3]
    assert panic.errors == ["panic: source code is not available"]
    assert theirs["dis -s panic"][3] == "dis: panic: source code is not available"
