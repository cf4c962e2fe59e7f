"""ipcs: the guests create no IPC objects, so the tables are empty as crash 8.0.2 prints
them on the same dumps; the tables with objects are checked on records (crash's help
example's values)."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.ipcs import IpcMiss, IpcsView, render

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
    assert lookup[1:] == ["ffff88047200f9d0 00000000 0          0     600   1         ", "",
                          "invalid id or address: 7", ""]
