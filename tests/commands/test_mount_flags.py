"""mount -n, -f and -i on the real dumps, against crash 8.0.2 and the guest's records."""

from __future__ import annotations

from conftest import Dump, assert_one_line_error, crash_commands, fixture_dump, pycrash


def test_mount_and_mount_n_are_crash_s_text() -> None:
    """On 5.10, where crash 8.0.2 sees every task: mount, and mount -n of a process by pid
    and by task address and of a kernel thread, line for line as crash prints them."""
    dump = fixture_dump("bullseye-small")
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x"]
    init = next(ln.split()[3] for ln in pycrash(*base, "ps 1").out.splitlines()[1:])
    commands = ["mount", "mount -n 1", f"mount -n {init}", "mount -n 2"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash(*base, cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd
    assert_one_line_error(pycrash(*base, "mount -n 99999"), "mount: invalid")


def test_mount_matches_proc_mounts(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    want = [ln.split()[:3] for ln in dump.truth("mounts.txt").splitlines()]
    rows = session.run("mount").rows
    assert [[m.devname, m.dirname, m.type] for m in rows] == want


def test_mount_f_lists_the_guest_s_open_files(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """-f: under /tmp the files the guest's pcfix-files holds open there (its
    /proc/PID/fd), with the dentries and inodes files shows for them; under /dev one
    line per open /dev/null (each open is a struct file of its own)."""
    rows = {m.dirname: m for m in session.run("mount -f").rows}
    fds = dump.truth("fds.txt")
    held = sorted({ln.split(" -> ")[1] for ln in fds.splitlines() if " -> /tmp/" in ln})
    assert sorted("/tmp/" + f.path for f in rows["/tmp"].files) == held
    task = session.run("files pcfix-files").rows[0]
    by_path = {f.path: (f.dentry, f.inode) for f in task.files}
    for f in rows["/tmp"].files:
        assert (f.dentry, f.inode) == by_path["/tmp/" + f.path]
        assert f.type == "REG "
    nulls = [f for f in rows["/dev"].files if f.path == "null"]
    opens = sum(1 for ln in fds.splitlines() if ln.endswith(" -> /dev/null"))
    assert len(nulls) >= opens and {f.type for f in nulls} == {"CHR "}
    assert all(m.files is not None and m.dirty is None for m in rows.values())


def test_mount_i_lists_the_inodes_with_dirty_state(session) -> None:  # type: ignore[no-untyped-def]
    """-i: each file system's inodes whose i_state has I_DIRTY_SYNC, I_DIRTY_DATASYNC or
    I_DIRTY_PAGES (the kernel's definitions), counted again here with drgn's own list
    walker: the same inodes, in the same order."""
    from drgn import Object
    from drgn.helpers.linux.list import list_for_each_entry

    prog = session.prog
    rows = session.run("mount -i").rows
    assert sum(len(m.dirty) for m in rows) > 0
    for m in rows:
        sb = Object(prog, "struct super_block *", m.superblock)
        want = [i.value_() for i in list_for_each_entry("struct inode", sb.s_inodes.address_of_(),
                                                       "i_sb_list")
                if i.i_state.value_() & 7]
        assert m.dirty == want, m.dirname
