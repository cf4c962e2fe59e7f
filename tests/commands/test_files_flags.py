"""files -R, -p and -n on the real dumps, against crash 8.0.2 and the guest's /proc."""

from __future__ import annotations

from conftest import (
    Dump,
    assert_one_line_error,
    crash_commands,
    fixture_dump,
    pid_of,
    pycrash,
)


def _busybox_inode(session) -> int:  # type: ignore[no-untyped-def]
    """The inode of the file init maps first (/bin/busybox in the fixtures)."""
    from drgn import Object

    vma = session.run("vm 1").rows[0].vmas[0]
    return Object(session.prog, "struct vm_area_struct *", vma.vma).vm_file.f_inode.value_()


def test_files_p_is_crash_s_page_list(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """-p: the inode's page-cache pages, line for line as crash 8.0.2 prints them; as
    many as the mapping's nrpages, indexes from 0, each page's mapping the inode's."""
    inode = _busybox_inode(session)
    cmd = f"files -p {inode:x}"
    theirs = crash_commands(dump, [cmd])[cmd]
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
    assert run.rc == 0, run.err
    assert run.out.splitlines() == theirs
    row = session.run(cmd).rows[0]
    assert row.nrpages > 100 and len(row.pages) == row.nrpages
    assert [p.index for p in row.pages] == list(range(row.nrpages))
    mapping = session.prog.read_u64(inode + session.prog.type("struct inode").member(
        "i_mapping").offset)
    assert {p.mapping for p in row.pages} == {mapping}


def test_files_n_counts_the_pages_per_node(session) -> None:  # type: ignore[no-untyped-def]
    """-n: the machine has one node, which holds every page -p lists (no large folios
    in this page cache); crash's layout of the node table."""
    inode = _busybox_inode(session)
    pages = session.run(f"files -p {inode:x}").rows[0]
    result = session.run(f"files -n {inode:x}")
    assert result.rows[0].nodes == {0: len(pages.pages)}
    assert str(result).splitlines()[2:] == ["", "     NODE           PAGES",
                                            f"      0          {len(pages.pages):8d}"]


def test_files_R_finds_the_guest_s_open_files(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """foreach files -R /tmp/work: the task that holds files there (the guest's
    /proc/PID/fd, recorded for the pcfix processes), with those descriptors only, and
    its children that inherited them; a descriptor number keeps that fd."""
    fds = dump.truth("fds.txt")
    holders: dict[str, set[int]] = {}
    comm = ""
    for line in fds.splitlines():
        if line.startswith("/proc/"):
            comm = line.split()[1]
        elif " -> /tmp/work/" in line:
            holders.setdefault(comm, set()).add(int(line.split(" -> ")[0].split()[-1]))
    items = session.run("foreach files -R /tmp/work").rows
    found = {i.task.pid: {f.fd for f in i.rows[0].files} for i in items}
    (comm,) = holders
    pid = next(i.task.pid for i in items if i.task.comm == comm)
    assert found[pid] == holders[comm]
    for other in set(found) - {pid}:  # a child (sleep) holds its parent's descriptors
        child = session.run(f"ps {other}").rows[0]
        assert child.ppid == pid and found[other] == holders[comm]
    (fd,) = [f for f in holders[comm] if f == max(holders[comm])]
    row = session.run(f"files -R {fd} {comm}").rows[0]
    assert [f.fd for f in row.files] == [fd]


def test_files_R_is_crash_s_text() -> None:
    """On 5.10, where crash 8.0.2 sees every task: files -R by name, path component, fd,
    file/dentry/inode address, type, with -c by address_space, and foreach files -R,
    line for line (blank lines included) as crash prints them."""
    dump = fixture_dump("bullseye-small")
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x"]
    files95 = pycrash(*base, "files -c pcfix-files").out.splitlines()
    inode, mapping = files95[-2].split()[1:3]
    dentry = pycrash(*base, "files 1").out.splitlines()[3].split()[2]
    pid = pid_of(dump, "pcfix-files")
    commands = ["files -R console 1", "files -R 10 1", f"files -R {dentry} 1",
                "files -R / 1", f"files -R REG {pid}", f"files -R 3 {pid} 1",
                f"files -R {inode} {pid}", f"files -c -R {mapping} {pid}",
                "foreach files -R null",
                "foreach files -R tmp", "foreach files -R nothing-such"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash(*base, cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd
    assert_one_line_error(pycrash(*base, "files -p nothex"), "files: invalid inode address")
