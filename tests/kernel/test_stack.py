"""pycrash's own stack engine (pycrash/kernel/stack.py: ORC on x86-64, frame records on
arm64) on real dumps: the small fixture, the crash zoo and arm64.

Truth: the guest's /proc/PID/task/TID/stack just before the crash
(truth/stacks.txt), the kernel's own oops report on the serial console, drgn's
unwinder, and Debian's crash 8.0.2.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SUITES, Dump, fixture_dump

#: a kernel stack-trace line: ``[  7.02] ? pcfix_write+0x122/0x130 [pcfix_oops]``
TRACE_LINE = re.compile(
    r"^\[ *[\d.]+\]  (\? )?([\w.]+)\+0x([0-9a-f]+)/0x[0-9a-f]+( \[(\w+)\])?$")


def guest_stacks(d: Dump) -> dict[int, tuple[str, str, list[str]]]:
    """Return ``{tid: (state, comm, functions)}`` from the guest's truth/stacks.txt."""
    out: dict[int, tuple[str, str, list[str]]] = {}
    tid = None
    for line in d.truth("stacks.txt").splitlines():
        if line.startswith("task "):
            _t, _pid, t, state, *comm = line.split()
            tid = int(t)
            out[tid] = (state, " ".join(comm), [])
        elif line.startswith("[<") and tid is not None:
            out[tid][2].append(line.split("] ", 1)[1].split("+", 1)[0])
    return out


def oops_report(d: Dump) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """Return the first oops report of the console: its reliable ``Call Trace:`` entries
    as ``(function, module)`` (the ``?`` ones left out) and its RIP/RSP line values."""
    lines = (d.dir / "console.log").read_text(errors="replace").splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("Call Trace:"))
    regs: dict[str, str] = {}
    for line in lines[max(0, start - 40) : start]:
        m = re.search(r"\] RIP: 0010:([\w.]+\+0x[0-9a-f]+)", line)
        if m:
            regs["RIP"] = m.group(1)
        m = re.search(r"\] RSP: 0018:([0-9a-f]+)", line)
        if m:
            regs["RSP"] = m.group(1)
    trace = []
    for line in lines[start + 1 :]:
        if line.endswith("</TASK>") or any(
                end in line for end in ("Modules linked in", "---[ end trace", "Kernel panic",
                                        "Call Trace:")):
            break  # 6.1 closes the trace with </TASK>; 5.10 with the end-of-trace line
        m = TRACE_LINE.match(line)
        if m and not m.group(1):
            trace.append((m.group(2), m.group(5)))
    return trace, regs


def _subsequence(needle: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)


def _check_against_proc(session, d: Dump) -> int:  # type: ignore[no-untyped-def]
    """Assert every sleeping task's trace holds its /proc stack; return tasks compared
    (at least 70% of the guest's threads: the rest ran after the guest read its stacks)."""
    from pycrash.kernel.stack import _text_check

    truth = guest_stacks(d)
    # tasks that ran after the guest read its stacks may sleep elsewhere now: the
    # scheduler's last arrival on a CPU (ns since boot) against the guest's uptime then
    taken_ns = float(d.truth("uptime-stacks.txt").split()[0]) * 1e9
    is_text = _text_check(session.prog)
    active = session.active_tasks()
    compared = 0
    for task in session.tasks():
        trace = session.trace(task)
        assert trace.note is None, (task.pid.value_(), trace.note)
        for f in trace.frames:  # no frame's pc lies outside kernel or module text
            assert is_text(f.pc if f.exception and f.offset == 0 else f.pc - 1) or is_text(f.pc)
        tid = task.pid.value_()
        if tid not in truth or task.value_() in active:
            continue
        if task.sched_info.last_arrival.value_() > taken_ns:
            continue
        state, comm, funcs = truth[tid]
        if state not in ("S", "D", "I") or not funcs:
            continue
        ours = [f.function for f in trace.frames]
        assert _subsequence(funcs, ours), (tid, comm, funcs, ours)
        compared += 1
    assert compared >= 0.7 * len(truth), (compared, len(truth))
    return compared


def test_every_task_of_the_small_fixture_holds_its_proc_stack(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    assert _check_against_proc(session, dump) > 40


def test_engine_holds_every_frame_drgns_unwinder_finds(session) -> None:  # type: ignore[no-untyped-def]
    from pycrash.kernel.stack import task_frames

    for task in session.tasks():
        ours = [f.function for f in session.trace(task).frames]
        ref = [f.function for f in task_frames(session.prog, task, session.cpu_regs(task))]
        # drgn starts the panic task at the registers __crash_kexec saved and names
        # assembler labels by their enclosing function
        ref = [{"entry_SYSCALL_64": "entry_SYSCALL_64_after_hwframe",
                "secondary_startup_64": "secondary_startup_64_no_verify"}.get(f, f) for f in ref]
        assert _subsequence(ref, ours), (task.pid.value_(), ref, ours)


def test_panic_and_nmi_stopped_cpus_as_crash_shows_them(session) -> None:  # type: ignore[no-untyped-def]
    stacks = session.run("bt -a").rows
    by_cpu = {s.task.cpu: s for s in stacks}
    panic = next(s for s in stacks if s.task.task == session.panic_task.value_())
    names = [f.function for f in panic.frames]
    assert names[:3] == ["machine_kexec", "__crash_kexec", "panic"]
    assert names[-1] == "entry_SYSCALL_64_after_hwframe"
    assert panic.frames[-1].exception.regs["CS"] & 3 == 3  # the user registers
    other = next(s for c, s in by_cpu.items() if s is not panic)
    onames = [f.function for f in other.frames]
    assert onames[0] == "crash_nmi_callback" and "exc_nmi" in onames
    marked = [f for f in other.frames if f.marker]
    assert [f.marker for f in marked] == ["NMI exception stack"]
    before = other.frames[marked[0].level - 1]
    assert before.exception and before.exception.kernel_rip  # the interrupted context
    assert marked[0].pc == before.exception.regs["RIP"]
    text = str(session.run(f"bt -c {other.task.cpu}"))
    assert "--- <NMI exception stack> ---" in text and "[exception RIP: " in text


def test_zoo_panic_task_holds_the_kernels_own_call_trace(zoo: Dump) -> None:
    s = zoo.open()
    trace, regs = oops_report(zoo)
    assert trace
    stack = s.run("bt").rows[0]
    assert stack.note is None and not stack.error
    frames = stack.frames
    names = [f.function for f in frames]
    assert names[:2] == ["machine_kexec", "__crash_kexec"]  # the kexec path comes first
    # compared by function address: crash's names (and pycrash's) leave out gcc's .part.N
    # endings and may pick another alias (asm_call_irq_on_stack / asm_call_on_stack)
    starts = [f.pc - (f.offset or 0) for f in frames]
    from pycrash.kernel.modtext import module_symbol_address

    def address(func: str, module: str | None) -> int | None:
        if module:  # no debuginfo for the module: its own kallsyms
            return module_symbol_address(s.prog, func)
        return s.prog.symbol(func).address

    theirs = [address(func, module) for func, module in trace]
    assert _subsequence(theirs, starts), (trace, names)
    for (_func, module), start in zip(trace, theirs, strict=True):  # module frames: [module]
        ours = next(f for f in frames if f.pc - (f.offset or 0) == start)
        assert ours.module == module
    exc = next(f.exception for f in frames if f.exception and f.exception.kernel_rip)
    name, off = regs["RIP"].split("+0x")
    assert exc.kernel_rip == f"{name}+{int(off, 16)}"
    assert exc.regs["RSP"] == int(regs["RSP"], 16)
    # the module's frames are named the same once its debuginfo is loaded
    ko = zoo.dir / "modules" / "pcfix_oops.ko"
    assert not s.run(f"mod -s pcfix_oops {ko}").errors
    s.prog.cache.pop("pycrash_symbol_index", None)
    again = s.run("bt").rows[0]
    assert [(f.function, f.pc, f.stack_addr, f.module) for f in again.frames] == [
        (f.function, f.pc, f.stack_addr, f.module) for f in frames]


def test_zoo_every_task_holds_its_proc_stack(zoo: Dump) -> None:
    s = zoo.open()
    assert _check_against_proc(s, zoo) > 40
    kt = s.run("bt pcfix_kt1").rows[0]
    mods = [(f.function, f.module) for f in kt.frames if f.module]
    assert ("pcfix_sleep_inner", "pcfix_oops") in mods


@pytest.mark.parametrize("name", ["zoo-timer", *(f"{s}-zoo-timer" for s in SUITES)])
def test_timer_oops_crosses_the_irq_stack(name: str) -> None:
    d = fixture_dump(name)
    s = d.open()
    frames = s.run("bt").rows[0].frames
    marked = [f for f in frames if f.marker]
    assert [f.marker for f in marked] == ["IRQ stack"]
    names = [f.function for f in frames]
    assert names.index("call_timer_fn") < names.index(marked[0].function)
    assert "pcfix_timer_fn" in names and frames[-1].function.endswith("startup_64") or \
        frames[-1].function.endswith("startup_64_no_verify")
    assert "--- <IRQ stack> ---" in str(s.run("bt"))


@pytest.mark.skipif(shutil.which("crash") is None, reason="Debian's crash is not installed")
def test_panic_task_matches_crash_frame_by_frame() -> None:
    d = fixture_dump("zoo-oops")
    run = subprocess.run(["crash", "-s", str(d.vmlinux), str(d.vmcore)], input="bt\nq\n",
                         capture_output=True, text=True, timeout=300, cwd="/tmp")
    theirs = [line for line in run.stdout.splitlines() if re.match(r"^ ?#\d+ \[", line)]
    assert len(theirs) > 10, run.stdout + run.stderr
    ours_text = str(d.open().run("bt"))
    ours = [line for line in ours_text.splitlines() if re.match(r"^ ?#\d+ \[", line)]
    strip = lambda line: line.split(" ", 1)[1] if line.startswith("#") else line.split(" ", 2)[2]  # noqa: E731
    stale = {f for f, _m in _stale_entries(d)}
    ours_body = [strip(line) for line in ours]
    extra = []
    for line in theirs:
        body = strip(line)
        if body not in ours_body:
            extra.append(body)
    # what crash shows beyond pycrash are stale return addresses it found by scanning,
    # which the kernel's own report marks unreliable ("?")
    assert all(re.search(r"\] (\S+) at", b).group(1) in stale for b in extra), extra  # type: ignore[union-attr]
    assert all(b in [strip(t) for t in theirs] for b in ours_body), (ours, theirs)


def _stale_entries(d: Dump) -> list[tuple[str, str | None]]:
    lines = (d.dir / "console.log").read_text(errors="replace").splitlines()
    out = []
    for line in lines:
        m = TRACE_LINE.match(line)
        if m and m.group(1):
            out.append((m.group(2), m.group(5)))
    return out


def test_corrupt_stacks_end_with_a_note(dump: Dump) -> None:
    """A garbage return address and a stack pointer sent backwards end the trace with a
    note; nothing loops and no data address is printed as a function."""
    from pycrash.kernel import orc

    s = dump.open()
    task = s.find_task("pcfix-sleeper2")[0]
    frames = s.trace(task).frames
    assert len(frames) > 4
    victim = frames[3].stack_addr  # the slot holding frame 3's return address
    garbage = 0x6E7261772D78

    def bad(address: int, count: int, offs: int, physical: bool) -> bytes:
        return garbage.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(victim, 8, bad, False)
    trace = s.trace(task)
    assert len(trace.frames) == 3 and trace.note and "not kernel text" in trace.note
    text = str(s.run("bt pcfix-sleeper2"))
    assert f"{garbage:x}" not in text.split("bt:")[0] and "the trace ends here" in text

    # a frame whose caller's stack pointer comes from a frame pointer that points back
    index = orc.orc_index(s.prog)
    table = index.vmlinux
    if isinstance(table, orc.LookupTable):  # read through orc_lookup: take the whole table
        table = table.whole()
    assert table is not None
    i = next(i for i in range(table.count)
             if orc.decode(table.entries, 6 * i, table.version).sp_reg == orc.REG_BP
             and orc.decode(table.entries, 6 * i, table.version).type == orc.CALL)
    ret = table._ip(i) + 1
    sp0 = task.thread.sp.value_()
    fake = {sp0 + 0x28: sp0 - 0x200, sp0 + 0x30: ret}  # inactive_task_frame: bp, ret_addr

    def loop(address: int, count: int, offs: int, physical: bool) -> bytes:
        return fake[address].to_bytes(8, "little")[offs : offs + count]

    for addr in fake:
        s.prog.add_memory_segment(addr, 8, loop, False)
    trace = s.trace(task)
    assert len(trace.frames) == 1 and trace.note and "goes back" in trace.note


def test_no_orc_falls_back_to_drgn(dump: Dump) -> None:
    s = dump.open()
    s.prog.cache["pycrash_orc"] = type("NoOrc", (), {"__bool__": lambda self: False})()
    frames = s.frames(s.find_task("pcfix-sleeper1")[0])
    assert "do_wait" in [f.function for f in frames]


def test_stack_engine_survives_a_zoo_without_module_debuginfo(zoo: Dump) -> None:
    # the module's debug file is only beside the dump, never found on its own
    assert not (Path("/lib/modules") / zoo.release / "updates" / "pcfix_oops.ko").exists()
    s = zoo.open()
    kt = s.run("bt pcfix_kt2").rows[0]
    assert all(f.function != f"{f.pc:x}" for f in kt.frames)


def test_arm64_frame_records_hold_proc_stacks_and_drgns_frames() -> None:
    """arm64: pycrash's frame-record unwinder on a real arm64 kdump (Debian 12, pointer
    authentication on): every sleeping task's /proc stack, drgn's frames, the user
    registers at the end of a user task's trace, and a loop ends with a note."""
    from pycrash.kernel.stack import engine_trace_arm64, task_frames

    d = fixture_dump("arm64-small")
    s = d.open()
    assert s.prog.platform.arch.name == "AARCH64"
    assert _check_against_proc(s, d) > 30
    for task in s.tasks():
        ours = [f.function for f in s.trace(task).frames]
        ref = [f.function for f in task_frames(s.prog, task, s.cpu_regs(task))]
        assert _subsequence(ref, ours), (task.pid.value_(), ref, ours)
    init = s.run("bt 1").rows[0]
    assert init.frames[0].function == "__switch_to"
    last = init.frames[-1]
    assert last.function == "el0t_64_sync" and last.exception is not None
    assert last.exception.regs["PSTATE"] & 0xF == 0  # EL0: the user registers
    assert "SYSCALLNO:" in str(s.run("bt 1"))
    # a frame record pointing back down the stack ends the trace with a note
    task = s.find_task("pcfix-sleeper1")[0]
    frames = engine_trace_arm64(s.prog, task).frames
    record = frames[2].stack_addr
    back = frames[1].stack_addr

    def loop(address: int, count: int, offs: int, physical: bool) -> bytes:
        return back.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(record, 8, loop, False)
    trace = engine_trace_arm64(s.prog, task)
    assert trace.note and "goes back" in trace.note and len(trace.frames) == 3


@pytest.mark.parametrize("name", ["small", "bullseye-small"])
def test_replayed_traces_equal_fresh_unwinds(name: str) -> None:
    """Sleeping tasks whose stacks repeat the words an earlier unwind read get that
    trace replayed: it equals a fresh unwind of each task, registers included."""
    d = fixture_dump(name)
    replayed, fresh = d.open(), d.open()
    tasks = replayed.tasks()

    def view(trace):  # type: ignore[no-untyped-def]
        return [(f.function, f.pc, f.stack_addr, f.module, f.marker,
                 f.exception.regs if f.exception else None,
                 f.exception.address if f.exception else None) for f in trace.frames]

    for task in tasks:
        ours = replayed.trace(task)
        fresh.prog.cache.pop("pycrash_replay_memo", None)
        again = fresh.trace(fresh.find_task(f"{task.value_():x}")[0])
        assert view(ours) == view(again), task.pid.value_()
    memo = replayed.prog.cache["pycrash_replay_memo"]
    sleeping = len(tasks) - len(replayed.active_tasks())
    assert 0 < memo.count < sleeping  # some traces were replayed, not unwound
