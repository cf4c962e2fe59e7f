"""bt, log and sys on the real dump, against the guest's records and crash's formats."""

from __future__ import annotations

import re
import time

from conftest import Dump, pycrash

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


def test_log_holds_the_guest_dmesg_and_the_marker(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "log")
    assert run.rc == 0, run.err
    ours = run.out.splitlines()
    assert any("pycrash-fixture: marker before crash" in line for line in ours)
    guest = [line for line in dump.truth("dmesg.txt").splitlines() if line.strip()]
    assert len(guest) > 100
    # every line the guest's dmesg printed is in our log, in the same order
    pos = 0
    for line in guest:
        pos = ours.index(line, pos) + 1
    assert any("sysrq: Trigger a crash" in line for line in ours[pos - 1:])


def test_log_flags(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    plain = str(session.run("log")).splitlines()
    bare = str(session.run("log -t")).splitlines()
    levels = str(session.run("log -m")).splitlines()
    human = str(session.run("log -T")).splitlines()
    assert len(plain) == len(bare) == len(levels) == len(human)
    assert all(p.endswith(b) for p, b in zip(plain, bare, strict=True))
    assert re.match(r"^\[    0\.000000\] <5>Linux version ", levels[0])
    marker = next(line for line in human if "marker before crash" in line)
    stamp = re.match(r"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] ", marker)
    assert stamp, marker
    when = time.mktime(time.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y"))
    guest_date = int(dump.truth("date.txt").split()[0])
    assert abs(when - guest_date) <= 3  # the marker was written a second before `date` ran


def test_sys_shows_release_cpus_and_panic(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys")
    assert run.rc == 0, run.err
    fields = dict(re.findall(r"^ *([A-Z ]+): (.*)$", run.out, re.M))
    release = dump.truth("uname.txt").split()[2]
    assert fields["RELEASE"] == release
    assert fields["CPUS"] == "2"
    assert fields["PANIC"] == '"Kernel panic - not syncing: sysrq triggered crash"'
    assert fields["DUMPFILE"] == f"{dump.vmcore}  [PARTIAL DUMP]"
    assert fields["KERNEL"] == str(dump.vmlinux)
    version = dump.truth("uname.txt").split(release, 1)[1].rsplit(" x86_64", 1)[0].strip()
    assert fields["VERSION"] == version
    assert fields["MACHINE"].startswith("x86_64")
    ram = 0
    for line in dump.truth("iomem.txt").splitlines():
        if line.endswith(" : System RAM") and not line.startswith(" "):
            lo, hi = line.split(" : ")[0].split("-")
            ram += int(hi, 16) - int(lo, 16) + 1
    mem = re.match(r"([\d.]+) (MB|GB)", fields["MEMORY"])
    assert mem and ram
    mem_bytes = float(mem.group(1)) * (1 << (20 if mem.group(2) == "MB" else 30))
    # MEMORY counts present pages; /proc/iomem's System RAM differs only by the
    # partly usable first megabyte, and the text is rounded to 0.1 MB.
    assert abs(mem_bytes - ram) <= 0.01 * ram
    up = float(dump.truth("uptime.txt").split()[0])
    h, m, s = (int(x) for x in fields["UPTIME"].split(":"))
    assert 0 <= h * 3600 + m * 60 + s - int(up) <= 5  # truth was taken just before the crash


def test_banner_is_the_startup_sys_output(dump: Dump) -> None:
    run = pycrash(str(dump.vmlinux), str(dump.vmcore), "-x", "q")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "" and lines[1].strip().startswith("KERNEL:")
    assert re.search(r"^       STATE: TASK_RUNNING \(PANIC\)$", run.out, re.M)
    assert re.search(r'^     COMMAND: "sh"$', run.out, re.M)
