"""fuser: the tasks using a file, as the guest's own /proc/PID/fd listing shows them
(small fixture, where crash 8.0.2 cannot read 6.1's VMAs), and as crash 8.0.2 prints them
on Debian 11's 5.10 dump, where it sees every task."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.fuser import user_line

from pycrash.kernel.fuser import FileUser
from pycrash.kernel.tasks import TaskId


def _fd_holders(dump: Dump, path: str) -> set[int]:
    """The pids whose /proc/PID/fd holds ``path`` in the guest's truth/fds.txt."""
    pids, pid = set(), None
    for line in dump.truth("fds.txt").splitlines():
        m = re.match(r"/proc/(\d+) ", line)
        if m:
            pid = int(m.group(1))
        elif line.endswith(f" -> {path}") and pid is not None:
            pids.add(pid)
    return pids


def test_fuser_lists_the_guests_holders_of_hello_txt(session, dump: Dump) -> None:
    (q,) = session.run("fuser /tmp/work/hello.txt").rows
    holders = _fd_holders(dump, "/tmp/work/hello.txt")
    assert holders and holders <= {u.task.pid for u in q.users}
    files = next(u for u in q.users if u.task.comm == "pcfix-files")
    assert files.task.pid in holders and files.uses == ["fd"]
    text = str(session.run("fuser /tmp/work/hello.txt")).splitlines()
    assert text[0] == " PID         TASK        COMM             USAGE"
    assert any(re.fullmatch(rf"\s+{files.task.pid}  [0-9a-f]{{16}}  \"pcfix-files\"    fd ", x)
               for x in text)


def test_fuser_by_inode_equals_by_path(session) -> None:
    """The inode of hello.txt, as files shows it, names the same users."""
    (q,) = session.run("fuser /tmp/work/hello.txt").rows
    pid = next(u.task.pid for u in q.users if u.task.comm == "pcfix-files")
    (tf,) = session.run(f"files {pid}").rows
    inode = next(f.inode for f in tf.files if f.path == "/tmp/work/hello.txt")
    (byino,) = session.run(f"fuser {inode:x}").rows
    assert byino.users == q.users


def test_fuser_busybox_is_mapped_by_every_user_process(session, dump: Dump) -> None:
    (q,) = session.run("fuser /bin/busybox").rows
    assert {u.task.pid for u in q.users} >= _fd_holders(dump, "/dev/null") | {1}
    assert all(u.uses == ["mmap"] for u in q.users)


def test_fuser_no_users(session) -> None:
    assert str(session.run("fuser /nonexistent")) == "No users of /nonexistent found\n"


@pytest.mark.fast
def test_command_is_cut_as_crash_cuts_it() -> None:
    u = FileUser(TaskId(91, 0xFFFF97DA81F4DDC0, 1, "pcfix-sleeper1"), ["root", "cwd"])
    assert user_line(u) == '   91  ffff97da81f4ddc0  "pcfix-sleeper1  root cwd '


FUSER = ["fuser /tmp/work/hello.txt", "fuser /", "fuser /tmp/work", "fuser /bin/busybox",
         "fuser /dev/console", "fuser /nonexistent", "fuser /tmp/work/hello.txt /dev/null",
         "fuser /tmp/work/out.log"]


def test_fuser_equals_crash_on_bullseye() -> None:
    d = fixture_dump("bullseye-small")
    s = d.open()
    (q,) = s.run("fuser /tmp/work/hello.txt").rows
    (tf,) = s.run(f"files {q.users[0].task.pid}").rows
    by_inode = "fuser " + next(f"{f.inode:x}" for f in tf.files if f.path.endswith("hello.txt"))
    theirs = crash_commands(d, [*FUSER, by_inode])
    for line in [*FUSER, by_inode]:
        assert str(s.run(line)).splitlines() == theirs[line], line
