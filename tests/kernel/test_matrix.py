"""The same truth, on every kernel of the matrix: each release's small fixture (and arm64's)
against the guest's own /proc, recorded just before the crash. The small fixture's own tests
(tests/commands/) go further; these keep every other kernel honest."""

from __future__ import annotations

import pytest
from conftest import SUITES, Dump, fixture_dump, parse_stat, same_comm, slabinfo

NAMES = [*(f"{s}-small" for s in SUITES), "arm64-small"]
#: the guest's recorder, gone by the time of the crash
TRANSIENT = {"cat", "tar", "ps", "awk", "grep", "ls", "record-stacks", "date", "uname", "dmesg"}


@pytest.fixture(scope="module", params=NAMES)
def fx(request: pytest.FixtureRequest) -> tuple[Dump, object]:
    d = fixture_dump(request.param)
    return d, d.open()


def test_ps_is_the_guests_processes(fx) -> None:  # type: ignore[no-untyped-def]
    d, s = fx
    rows = {r.pid: r for r in s.run("ps").rows if r.pid}
    for pid, (comm, _state, ppid) in parse_stat(d.truth("stat.txt")).items():
        if comm in TRANSIENT:
            continue
        assert pid in rows and rows[pid].ppid == ppid, (pid, comm)
        assert same_comm(rows[pid].comm, comm, rows[pid].kernel), (pid, rows[pid].comm, comm)


def test_log_holds_the_guests_dmesg(fx) -> None:  # type: ignore[no-untyped-def]
    from pycrash.kernel.printkring import dmesg_stamp

    d, s = fx
    # dmesg repeats a message's time on each of its lines (log indents them, as crash)
    ours = [f"{dmesg_stamp(r.timestamp_ns)} {text}" for r in s.run("log").rows
            for text in r.text.split("\n")]
    pos = 0
    for line in (x for x in d.truth("dmesg.txt").splitlines() if x.strip()):
        pos = ours.index(line, pos) + 1
    assert any("pycrash-fixture: marker before crash" in line for line in ours)


def test_mod_kmem_mount_files_net(fx) -> None:  # type: ignore[no-untyped-def]
    d, s = fx
    modules = {line.split()[0] for line in d.truth("modules.txt").splitlines()}
    assert {m.name for m in s.run("mod").rows} == modules
    assert {r.name for r in s.run("kmem -s").rows} == set(slabinfo(d))
    mounts = {(m.devname, m.dirname, m.type) for m in s.run("mount").rows}
    seen = {tuple(line.split()[:3]) for line in d.truth("mounts.txt").splitlines()}
    # /proc/mounts shows what the process's root reaches; the namespace also holds 7.x's
    # nullfs, the mount below the initramfs's rootfs
    assert seen <= mounts and mounts - seen <= {("nullfs", "/", "nullfs")}, mounts - seen
    fds = {f.fd: f.path for f in s.run("files pcfix-files").rows[0].files}
    assert fds[3] == "/tmp/work/hello.txt" and fds[4] == "/tmp/work/out.log"
    assert {"lo", "pcfix0"} <= {n.name for n in s.run("net").rows}


def test_bt_of_the_panic_task_reaches_the_sysrq_write(fx) -> None:  # type: ignore[no-untyped-def]
    _d, s = fx
    stack = s.run("bt").rows[0]
    names = [f.function for f in stack.frames]
    assert stack.error is None and "sysrq_handle_crash" in names, names
    assert stack.task.pid == s.panic_task.pid.value_()
