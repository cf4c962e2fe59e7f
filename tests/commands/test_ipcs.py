"""ipcs: the small fixture's guest creates no IPC objects, so the tables are empty as crash
8.0.2 prints them on the same dumps; the tracing fixture's guest (matrix) made objects of
each kind: every flag and lookup as crash prints them there, the records against the
guest's /proc/sysvipc; the layout is also checked on records (crash's help example's)."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.ipcs import SEM_HEADER, IpcMiss, IpcsView, render

from pycrash.command import Result
from pycrash.kernel.ipc import MsgQueue, SemArray, ShmSegment

LINES = ["ipcs", "ipcs -s", "ipcs -m", "ipcs -M", "ipcs -q", "ipcs -s -m", "ipcs 0"]


@pytest.fixture(scope="module")
def crash_ipcs(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, LINES)


@pytest.mark.parametrize("line", LINES)
def test_ipcs_equals_crash(session, crash_ipcs: dict[str, list[str]], line: str) -> None:
    assert str(session.run(line)).splitlines() == crash_ipcs[line]


def test_ipcs_namespace_of_a_task_on_bullseye() -> None:
    d = fixture_dump("bullseye-small")
    s = d.open()
    lines = ["ipcs -n 1", "ipcs -n 9999"]
    theirs = crash_commands(d, lines)
    assert str(s.run("ipcs -n 1")).splitlines() == theirs["ipcs -n 1"]
    from pycrash.errors import CommandError

    with pytest.raises(CommandError, match="invalid task or pid value: 9999"):
        s.run("ipcs -n 9999")
    assert theirs["ipcs -n 9999"] == ["ipcs: invalid task or pid value: 9999"]


SHM = [ShmSegment(0xFFFF880473A28310, 0, 0, 0, 0o666, 90000, 1, 22, 1, 0, 0xFFFF88047239CD98),
       ShmSegment(0xFFFF880473A28490, 1, 32769, 0, 0o1666, 90000, 0, 22, 1, 0, 0)]
SEM = [SemArray(0xFFFF88047200F9D0, 0, 0, 0, 0o600, 1)]
MSG = [MsgQueue(0xFFFF8100036BB8D0, 0x79D7, 0, 3369, 0o666, 16640, 104)]


@pytest.mark.fast
def test_tables_render_as_crash() -> None:
    view = IpcsView(("shm", "sem", "msg"), False, False)
    assert list(render(Result([*SHM, *SEM, *MSG], view=view))) == [
        "SHMID_KERNEL     KEY      SHMID      UID   PERMS BYTES      NATTCH STATUS",
        "ffff880473a28310 00000000 0          0     666   90000      1       ",
        "ffff880473a28490 00000001 32769      0     666   90000      0      dest ",
        "",
        "SEM_ARRAY        KEY      SEMID      UID   PERMS NSEMS     ",
        "ffff88047200f9d0 00000000 0          0     600   1         ",
        "",
        "MSG_QUEUE        KEY      MSQID      UID   PERMS USED-BYTES   MESSAGES    ",
        "ffff8100036bb8d0 000079d7 0          3369  666   16640        104         ",
        "",
    ]


@pytest.mark.fast
def test_detail_and_lookup_render_as_crash() -> None:
    verbose = list(render(Result(SHM[:1], view=IpcsView(("shm",), True, False))))
    assert verbose[2:] == ["PAGES ALLOCATED/RESIDENT/SWAPPED: 22/1/0",
                           "INODE: ffff88047239cd98", ""]
    lookup = list(render(Result([SEM[0], IpcMiss("7")], view=IpcsView(("sem",), False, True))))
    # crash prints a miss at once, the objects found at the end
    assert lookup == ["invalid id or address: 7", "", SEM_HEADER,
                      "ffff88047200f9d0 00000000 0          0     600   1         ", ""]


# --- the tracing fixture: the guest made IPC objects of each kind (pcfix_ipc.c) -----------

TRACING_LINES = ["ipcs", "ipcs -s", "ipcs -m", "ipcs -M", "ipcs -q", "ipcs -s -q", "ipcs -m -q",
                 "ipcs 0", "ipcs 1", "ipcs 2", "ipcs 7 1", "ipcs 5 6", "ipcs -m 1", "ipcs -M 0",
                 "ipcs -s 0", "ipcs -q 1"]


@pytest.fixture(scope="module")
def tracing() -> Dump:
    return fixture_dump("tracing")


@pytest.fixture(scope="module")
def tsession(tracing: Dump):  # type: ignore[no-untyped-def]
    return tracing.open()


def _addresses(tsession) -> list[str]:  # type: ignore[no-untyped-def]
    """An address of each facility's first object (ipcs ADDR looks objects up by them)."""
    rows = tsession.run("ipcs").rows
    return [f"{r.shmid_kernel:x}" for r in rows if isinstance(r, ShmSegment)][:1] + \
        [f"{r.sem_array:x}" for r in rows if isinstance(r, SemArray)][:1] + \
        [f"{r.msg_queue:x}" for r in rows if isinstance(r, MsgQueue)][:1]


def test_ipcs_equals_crash_on_objects(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """Every flag and lookup (ids, addresses, a miss, ids of several facilities) as crash
    8.0.2 prints them on the same dump, where the guest made 3 segments (attached, removed
    while attached: dest, SHM_LOCKed: locked), 2 semaphore sets and 2 message queues."""
    addrs = _addresses(tsession)
    lines = [*TRACING_LINES, f"ipcs {addrs[0]} {addrs[1]}", f"ipcs -q {addrs[2]} 1",
             f"ipcs -M {addrs[0]}"]
    theirs = crash_commands(tracing, lines)
    for line in lines:
        assert str(tsession.run(line)).splitlines() == theirs[line], line
    assert "dest" in theirs["ipcs -m"][2] and theirs["ipcs -m"][3].endswith("locked")


def _sysvipc(tracing: Dump, name: str) -> list[dict[str, int]]:
    lines = tracing.truth(f"sysvipc/{name}").splitlines()
    keys = lines[0].split()
    return [dict(zip(keys, map(int, line.split()), strict=True)) for line in lines[1:]]


def test_ipcs_records_are_the_guests_sysvipc(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """The objects of /proc/sysvipc/{shm,sem,msg}: key, id, owner, mode (with the dest and
    locked bits), size, attaches, resident and swapped pages, semaphores, bytes and
    messages queued."""
    rows = tsession.run("ipcs -M").rows
    shm = sorted((r for r in rows if isinstance(r, ShmSegment)), key=lambda r: r.shmid)
    truth = _sysvipc(tracing, "shm")
    assert len(shm) == len(truth) == 3
    for r, t in zip(shm, truth, strict=True):
        assert (r.key, r.shmid, r.uid, r.mode & 0o7777, r.bytes, r.nattch) == \
            (t["key"], t["shmid"], t["uid"], int(str(t["perms"]), 8), t["size"], t["nattch"])
        assert (r.rss * 4096, r.swap * 4096) == (t["rss"], t["swap"])
    sem = sorted((r for r in tsession.run("ipcs -s").rows), key=lambda r: r.semid)
    truth = _sysvipc(tracing, "sem")
    assert [(r.key, r.semid, r.uid, r.mode & 0o777, r.nsems) for r in sem] == \
        [(t["key"], t["semid"], t["uid"], int(str(t["perms"]), 8), t["nsems"]) for t in truth]
    msg = sorted((r for r in tsession.run("ipcs -q").rows), key=lambda r: r.msqid)
    truth = _sysvipc(tracing, "msg")
    assert [(r.key, r.msqid, r.uid, r.mode & 0o777, r.used_bytes, r.messages) for r in msg] == \
        [(t["key"], t["msqid"], t["uid"], int(str(t["perms"]), 8), t["cbytes"], t["qnum"])
         for t in truth]
    assert [r.messages for r in msg] == [3, 0] and msg[0].used_bytes == 1110


def test_ipcs_of_a_tasks_namespace(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """-n PID: the namespace of the process that made the objects (the only one: the same
    as init's). crash 8.0.2 sees only 3 tasks of 6.1 and refuses the pid."""
    pid = next(int(line.split()[1]) for line in tracing.truth("bpf.txt").splitlines()
               if line.startswith("pid "))
    assert str(tsession.run(f"ipcs -n {pid}")) == str(tsession.run("ipcs"))
    assert crash_commands(tracing, [f"ipcs -n {pid}"])[f"ipcs -n {pid}"] == \
        [f"ipcs: invalid task or pid value: {pid}"]
