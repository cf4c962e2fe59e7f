"""bt on the real dump and the crash zoo: crash's format, the guest's records, each flag,
and Debian's crash frame by frame."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import Dump, fixture_dump, pycrash

FRAME = re.compile(r"^ ?#(\d+) \[([0-9a-f]{16})\] (\S+) at ([0-9a-f]+)$")


def test_bt_of_panic_task_in_crash_format(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "bt")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    header = re.match(r'^PID: (\d+) +TASK: ([0-9a-f]+)  CPU: (\d+) +COMMAND: "(.*)"$', lines[0])
    assert header, lines[0]
    assert header.group(3) == "1"  # the fixture crashes on CPU 1 (taskset 2)
    assert header.group(4) == "sh"
    frames = [FRAME.match(line) for line in lines[1:] if line.lstrip().startswith("#")]
    assert frames and all(frames), lines
    names = [m.group(3) for m in frames if m]
    for fn in ("__crash_kexec", "panic", "sysrq_handle_crash"):
        assert fn in names, names
    assert names.index("__crash_kexec") < names.index("panic") < names.index("sysrq_handle_crash")
    levels = [int(m.group(1)) for m in frames if m]
    assert levels == list(range(len(levels)))
    slots = [int(m.group(2), 16) for m in frames if m]
    assert slots == sorted(slots)  # the stack grows down: callers sit higher
    # The write(2) that triggered sysrq: the syscall's registers close the trace.
    regs_line = r"^    RIP: [0-9a-f]{16}  RSP: [0-9a-f]{16}  RFLAGS: [0-9a-f]{8}$"
    assert re.search(regs_line, run.out, re.M)
    assert "ORIG_RAX: 0000000000000001  CS: 0033  SS: 002b" in run.out


def test_bt_addresses_are_return_addresses_inside_the_named_function(session) -> None:  # type: ignore[no-untyped-def]
    stack = session.run("bt").rows[0]
    prog = session.prog
    for frame in stack.frames[1:]:
        sym = prog.symbol(frame.pc - 1)
        # the function, or an assembler label within it that crash and kallsyms name
        # (entry_SYSCALL_64_after_hwframe within entry_SYSCALL_64)
        named = prog.symbol(frame.function).address
        assert sym.address <= named <= frame.pc - 1 < sym.address + sym.size, frame
        # crash's bracketed address is the stack slot that holds this return address
        assert prog.read_u64(frame.stack_addr) == frame.pc


def test_bt_all_cpus_and_by_pid(session) -> None:  # type: ignore[no-untyped-def]
    stacks = session.run("bt -a").rows
    assert [s.task.cpu for s in stacks] == [0, 1]
    assert all(s.frames and not s.error for s in stacks)
    sleeper = session.run("bt pcfix-sleeper1").rows[0]
    names = [f.function for f in sleeper.frames]
    assert "schedule" in names and "do_wait" in names
    withlines = session.run("bt -l").rows[0]
    panic = next(f for f in withlines.frames if f.function == "panic")
    assert panic.file and panic.file.endswith("kernel/panic.c") and panic.line


def test_bt_flags(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    panic_cpu = session.panic_task.cpu.value_() if hasattr(session.panic_task, "cpu") else 1
    by_cpu = session.run(f"bt -c {panic_cpu}").rows[0]
    assert by_cpu.task.pid == session.panic_task.pid.value_()
    text = session.run("bt -t").rows[0]
    assert any(w.name == "panic" for w in text.words)
    assert text.start is not None and text.start.name == "machine_kexec"
    exc = session.run("bt -e").rows[0]
    assert any(e.user and e.frame.regs["CS"] == 0x33 for e in exc.exceptions)
    raw = str(session.run("bt -r")).splitlines()
    assert len(raw) > 500 and re.match(r"^[0-9a-f]{16}:  ", raw[1])
    assert re.search(r"^ #\d \[[0-9a-f]{16}\] panic\+\d+ at [0-9a-f]+$",
                     str(session.run("bt -s")), re.M)
    assert re.search(r"panic\+0x[0-9a-f]+ at", str(session.run("bt -x")))


def _crash(d: Dump, commands: str) -> str:
    run = subprocess.run(["crash", "-s", str(d.vmlinux), str(d.vmcore)],
                         input=commands + "\nq\n", capture_output=True, text=True,
                         timeout=300, cwd="/tmp")
    return run.stdout


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()
            if line.strip() and not line.startswith("WARNING:")]


def test_bt_v_finds_an_overwritten_stack_end(dump: Dump) -> None:
    s = dump.open()
    assert str(s.run("bt -v")).strip() == "No stack overflows detected"
    task = s.find_task("pcfix-sleeper3")[0]
    end = task.stack.value_()

    def smashed(address: int, count: int, offs: int, physical: bool) -> bytes:
        return (0x4141414141414141).to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(end, 8, smashed, False)
    rows = s.run("bt -v").rows
    assert [r.task.pid for r in rows] == [task.pid.value_()]
    assert "4141414141414141 != STACK_END_MAGIC" in str(s.run("bt -v"))


def test_bt_r_ref_and_panic_flags(zoo: Dump) -> None:
    s = zoo.open()
    panic = s.run("bt -p").rows
    assert [r.task.task for r in panic] == [s.panic_task.value_()]
    assert s.run("bt -R machine_kexec").rows and not s.run("bt -R do_wait").rows
    waiting = s.run("foreach bt -R do_wait").rows
    assert waiting and all(
        any(f.function == "do_wait" for f in item.rows[0].frames) for item in waiting)
    kexec = s.prog.symbol("machine_kexec").address
    pc = s.run("bt").rows[0].frames[0].pc
    assert s.run(f"bt -R {pc:x}").rows and kexec < pc


@pytest.mark.skipif(shutil.which("crash") is None, reason="Debian's crash is not installed")
def test_bt_E_t_T_F_e_match_crash_on_the_oops() -> None:
    d = fixture_dump("zoo-oops")
    s = d.open()
    # -E: the exception frames found on the IRQ and exception stacks, at crash's addresses
    theirs = re.findall(r"EXCEPTION FRAME AT: ([0-9a-f]+)", _crash(d, "bt -E"))
    ours = re.findall(r"EXCEPTION FRAME AT: ([0-9a-f]+)", str(s.run("bt -E")))
    assert theirs and ours == theirs
    # -e, -t and -T: the same lines
    for flags in ("bt -e", "bt -t", "bt -T", "bt -o"):
        assert _lines(str(s.run(flags))) == _lines(_crash(d, flags)), flags
    # -F and -FF: each frame crash and pycrash both show has the same data words
    for flags in ("bt -F", "bt -FF"):
        def blocks(text: str) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            key = ""
            for line in _lines(text):
                if re.match(r"^ ?#\d+ \[", line):
                    key = line.split("] ", 1)[1]
                    out[key] = []
                elif key and re.match(r"^    [0-9a-f]{16}: ", line):
                    out[key].append(line)
            return out

        mine, crash_blocks = blocks(str(s.run(flags))), blocks(_crash(d, flags))
        shared = [k for k in mine if k in crash_blocks]
        assert len(shared) >= 10
        # the frame before one of crash's stale frames ends where that stale frame starts
        same = [k for k in shared if mine[k] == crash_blocks[k]]
        assert len(same) >= len(shared) - 2, [k for k in shared if k not in same]


#: crash 8.0.2 sees every task of Debian 11's 5.10 kernel: there, bt's outputs must be
#: crash's (up to trailing blanks)
CRASH_SAME_510 = ("bt -a", "foreach bt", "bt", "bt -f", "bt -F", "bt -FF", "bt -t", "bt -T",
                  "bt -r", "bt -e", "bt -l", "bt -f 1", "bt -t 1", "bt -r 1", "bt -FF 1",
                  "bt -f {pcfix-sleeper1}", "bt -t {pcfix-files}", "bt -r {pcfix-files}",
                  "foreach bt -R do_wait", "bt -l 1", "foreach bt -l", "bt -o",
                  "foreach bt -o")


@pytest.mark.skipif(shutil.which("crash") is None, reason="Debian's crash is not installed")
def test_bt_equals_crash_on_debian_11() -> None:
    d = fixture_dump("bullseye-small")
    s = d.open()
    # crash's bt takes pids, not names
    pids = {name: str(s.find_task(name)[0].pid.value_())
            for name in ("pcfix-sleeper1", "pcfix-files")}
    commands = [re.sub(r"\{([\w-]+)\}", lambda m: pids[m.group(1)], c)
                for c in CRASH_SAME_510]
    theirs = _crash(d, "\n".join(commands))
    ours = "\n".join(str(s.run(c)) for c in commands)
    assert _lines(ours) == _lines(theirs)
    assert len(_lines(theirs)) > 3000
