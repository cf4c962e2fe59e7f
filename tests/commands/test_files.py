"""files on the real dump."""

from __future__ import annotations

import re

from conftest import Dump, pycrash


def test_files_of_pcfix_files(session) -> None:  # type: ignore[no-untyped-def]
    tf = session.run("files pcfix-files").rows[0]
    fds = {f.fd: f for f in tf.files}
    assert fds[3].path == "/tmp/work/hello.txt" and fds[3].type == "REG"
    assert fds[4].path == "/tmp/work/out.log"
    assert fds[0].path == "/dev/null" and fds[0].type == "CHR"
    text = str(session.run("files pcfix-files"))
    assert re.search(r"^  3 [0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16} REG  /tmp/work/hello.txt$",
                     text, re.M)
    assert "ROOT: /    CWD: /" in text


def _files_flags_match_crash(dump: Dump, pid: int) -> None:
    from conftest import crash_commands

    rows = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "--output", "json", "-x",
                   f"files {pid}")
    import json

    opened = json.loads(rows.out)["rows"][0]["files"]
    dentries = sorted({f["dentry"] for f in opened})
    commands = [f"files -c {pid}", f"files -c {pid} 1", *(f"files -d {d:x}" for d in dentries)]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd


def test_files_c_and_d_match_crash() -> None:
    """On 5.10, where crash 8.0.2 sees every task: pcfix-files' descriptors with their
    mappings and cached pages, and each of their dentries."""
    from conftest import fixture_dump, pid_of

    dump = fixture_dump("bullseye-small")
    _files_flags_match_crash(dump, pid_of(dump, "pcfix-files"))


def test_files_d_and_c_on_6_1(session) -> None:  # type: ignore[no-untyped-def]
    """On 6.1 (crash 8.0.2 misses most tasks): -d's inode and type are those files gives,
    its path the end of the file's path; -c's mapping is the inode's."""
    from drgn import Object

    task_files = session.run("files pcfix-files").rows[0]
    prog = session.prog
    cached = session.run(f"files -c {task_files.task.pid}").rows[0].files
    for f, c in zip(task_files.files, cached, strict=True):
        d = session.run(f"files -d {f.dentry:x}").rows[0]
        assert (d.inode, d.type) == (f.inode, f.type)
        assert f.path.endswith(d.path) or f.type in ("SOCK", "PIPE", "UNKN")
        inode = Object(prog, "struct inode *", f.inode)
        assert c.mapping == inode.i_mapping.value_()
        assert c.nrpages == inode.i_mapping.nrpages.value_()
