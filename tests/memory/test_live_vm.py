"""pycrash inside a Debian 12 guest (the live fixture, testdata/build-live.sh): ``--live`` on
the guest's own running kernel, then, after sysrq-c on CPU 1, in the capture kernel on
``/proc/vmcore`` as it is and with ``--oldmem /dev/mem``. pycrash was installed in the guest
from a wheel of this checkout. Every check is against the guest's own truth: its /proc read
just before (and after) pycrash ran, or by the shell that crashed the kernel, and what the
capture kernel answered to reads of /dev/mem."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, fixture_dump, parse_stat, same_comm

from pycrash.memory.formats.oldmem import elfcorehdr_from_cmdline, iomem_region

pytestmark = pytest.mark.slow
#: the crashing shell's helpers, gone by the time of the crash (it waited for each)
TRANSIENT = {"cat", "tar", "sync"}


@pytest.fixture(scope="module")
def vm() -> Dump:
    """The live fixture (in the kernel matrix: scripts/test --matrix)."""
    return fixture_dump("live")


def text(vm: Dump, name: str) -> str:
    """Return a file the guest wrote (``live/...`` or ``capture/...``)."""
    return (vm.dir / name).read_text(errors="replace")


def ps_rows(out: str) -> dict[int, tuple[int, str, str, bool]]:
    """Parse crash's ``ps`` into ``{pid: (ppid, state, comm, active)}`` (the idle tasks,
    pid 0, left out); a kernel thread's comm keeps its brackets."""
    rows = {}
    for line in out.splitlines()[1:]:
        pid, ppid, _cpu, _task, st, _mem, _vsz, _rss, comm = line[1:].split(None, 8)
        if int(pid):
            rows[int(pid)] = (int(ppid), st, comm, line.startswith(">"))
    return rows


def same_task(row: tuple[int, str, str, bool], comm: str, ppid: int) -> bool:
    """Tell whether a ps row is the process /proc showed with ``comm`` and ``ppid``."""
    kernel = row[2].startswith("[") and row[2].endswith("]")
    return row[0] == ppid and same_comm(row[2].strip("[]") if kernel else row[2], comm, kernel)


def bt_frames(out: str) -> tuple[int, int, list[str]]:
    """Parse crash's ``bt`` of one task into ``(pid, cpu, functions)``."""
    head = re.match(r"PID: (\d+) +TASK: [0-9a-f]+ +CPU: (\d+)", out)
    assert head, out
    funcs = re.findall(r"^ ?#\d+ \[[0-9a-f]+\] (\S+) at ", out, re.M)
    return int(head.group(1)), int(head.group(2)), funcs


def proc_stack(out: str) -> list[str]:
    """Return the functions of a ``/proc/PID/stack``, innermost first."""
    return [line.split("] ", 1)[1].split("+", 1)[0] for line in out.splitlines() if line]


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    """Tell whether ``part`` appears in ``whole`` in order (not necessarily adjacent)."""
    it = iter(whole)
    return all(name in it for name in part)


def sys_fields(out: str) -> dict[str, str]:
    """Parse crash's ``sys`` into ``{KEY: value}``."""
    return {k.strip(): v.strip() for k, v in
            (line.split(": ", 1) for line in out.splitlines() if ": " in line)}


def assert_ran(vm: Dump, name: str) -> None:
    """Assert pycrash run ``name`` in the guest exited 0 without a traceback."""
    err = text(vm, f"{name}-err.txt")
    assert text(vm, f"{name}-rc.txt").strip() == "0", err
    assert "Traceback" not in err, err


# --- pycrash --live: the guest's running kernel -------------------------------------------

def test_live_sys_is_the_running_kernel(vm: Dump) -> None:
    assert_ran(vm, "live/live")
    info = sys_fields(text(vm, "live/sys.txt"))
    release = text(vm, "live/uname.txt").strip()
    assert info["RELEASE"] == release and info["DUMPFILE"] == "/proc/kcore  [LIVE]"
    # no vmlinux on the command line: found by the release, and said so; nothing else said
    # (the guest's HOME is read-only: the symbol cache is not written, silently)
    assert info["KERNEL"] == f"/usr/lib/debug/boot/vmlinux-{release}"
    assert text(vm, "live/live-err.txt").splitlines() == [
        f"pycrash: using vmlinux /usr/lib/debug/boot/vmlinux-{release}"]


def test_live_ps_shows_the_guests_processes(vm: Dump) -> None:
    rows = ps_rows(text(vm, "live/ps.txt"))
    before = parse_stat(text(vm, "live/stat-before.txt"))
    after = parse_stat(text(vm, "live/stat-after.txt"))
    # every process alive both before and after pycrash ran, as /proc showed it
    for pid in before.keys() & after.keys():
        comm, _state, ppid = before[pid]
        assert pid in rows, (pid, comm)
        assert same_task(rows[pid], comm, ppid) or same_task(rows[pid], after[pid][0], ppid), \
            (pid, rows[pid], comm, ppid)
    # pycrash itself, running (its threads too), under /usr/bin/time
    me = int(text(vm, "live/pycrash-pid.txt"))
    ppid, state, comm, _active = rows[me]
    assert comm == "pycrash" and state == "RU" and rows[ppid][2] == "time"
    # nothing else but kernel threads that came or went meanwhile
    known = before.keys() | after.keys() | {me, ppid}
    for pid, (pp, _st, comm, _active) in rows.items():
        assert pid in known or pp == ppid or comm.startswith("["), (pid, comm)


@pytest.mark.parametrize("who", ["sleeper", "kthreadd"])
def test_live_bt_of_a_sleeping_task_holds_its_proc_stack(vm: Dump, who: str) -> None:
    pid = int(text(vm, "live/sleeper.txt")) if who == "sleeper" else 2
    theirs = proc_stack(text(vm, f"live/stack-{pid}.txt"))
    got, _cpu, ours = bt_frames(text(vm, f"live/bt-{pid}.txt"))
    # /proc leaves the scheduler's own frames out; bt shows them as crash does
    assert got == pid and theirs and is_subsequence(theirs, ours), (theirs, ours)
    assert ours[:2] == ["__schedule", "schedule"], ours


# --- the capture kernel: /proc/vmcore, nothing saved first --------------------------------

def test_capture_vmcore_shows_the_panic_task(vm: Dump) -> None:
    assert_ran(vm, "capture/vmcore")
    info = sys_fields(text(vm, "capture/vmcore-sys.txt"))
    assert info["DUMPFILE"] == "/proc/vmcore"
    assert info["RELEASE"] == text(vm, "live/uname.txt").strip()
    assert info["PANIC"] == '"Kernel panic - not syncing: sysrq triggered crash"'
    pid, cpu, funcs = bt_frames(text(vm, "capture/vmcore-bt.txt"))
    # the shell that wrote c to /proc/sysrq-trigger, on CPU 1 (taskset 2)
    assert pid == int(text(vm, "live/panic-pid.txt")) and cpu == 1
    assert {"panic", "sysrq_handle_crash", "write_sysrq_trigger"} <= set(funcs), funcs


def test_capture_vmcore_ps_shows_the_crashed_kernels_processes(vm: Dump) -> None:
    rows = ps_rows(text(vm, "capture/vmcore-ps.txt"))
    truth = parse_stat(text(vm, "live/stat-crash.txt"))
    for pid, (comm, _state, ppid) in truth.items():
        if comm not in TRANSIENT:
            assert pid in rows and same_task(rows[pid], comm, ppid), (pid, comm, rows.get(pid))
    panic = int(text(vm, "live/panic-pid.txt"))
    assert rows[panic][1:] == ("RU", "sh", True)
    # the crashed kernel's, not the capture kernel's: pycrash --live ran and was gone
    assert int(text(vm, "live/pycrash-pid.txt")) not in rows
    assert all(pid in truth or comm.startswith("[") for pid, (_p, _s, comm, _a) in rows.items())


# --- the capture kernel: --oldmem /dev/mem --------------------------------------------------

def devmem(vm: Dump) -> list[tuple[str, int, str]]:
    """Return what the capture kernel answered to reads of /dev/mem: ``(what, address,
    result)``, the ELF core header's page first."""
    return [(w, int(a, 16), r) for w, a, r in
            (line.split(None, 2) for line in text(vm, "capture/devmem.txt").splitlines())]


def test_capture_oldmem_devmem_is_what_the_kernel_allows(vm: Dump) -> None:
    what, addr, result = devmem(vm)[0]
    assert what == "elfcorehdr" and addr == elfcorehdr_from_cmdline(text(vm, "capture/cmdline.txt"))
    err = text(vm, "capture/oldmem-err.txt")
    assert "Traceback" not in err, err
    if result != "EPERM":  # a kernel that serves the header (iomem=relaxed): pycrash reads
        # on, and either opens the dump or says in one line which read the kernel refused
        if text(vm, "capture/oldmem-rc.txt").strip() == "0":
            pid = bt_frames(text(vm, "capture/oldmem-bt.txt"))[0]
            assert pid == int(text(vm, "live/panic-pid.txt"))
        else:
            assert err.count("\n") == 1 and "the kernel refuses to read physical address" in err
        return
    # Debian's kernel refuses the header's page: one line naming the address, the errno and
    # the rule, told by the region of the capture kernel's own /proc/iomem that holds it
    region = iomem_region(addr, text(vm, "capture/iomem.txt"))
    rule = "CONFIG_STRICT_DEVMEM" if region == "System RAM" else "CONFIG_IO_STRICT_DEVMEM"
    assert text(vm, "capture/oldmem-rc.txt").strip() == "2"
    assert err.count("\n") == 1 and err.startswith(
        f"pycrash: /dev/mem: the kernel refuses to read physical address {addr:#x} "
        "(EPERM, Operation not permitted): "), err
    assert f"{rule} keeps " in err and err.rstrip().endswith("open /proc/vmcore instead"), err
    if region != "System RAM":
        assert f'it lies in "{region}" of /proc/iomem' in err, err
