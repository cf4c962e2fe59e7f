"""vm on the real dump against the guest's /proc/PID/stat."""

from __future__ import annotations

from conftest import Dump, pycrash


def test_vm_matches_proc_stat(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    stat_line = next(line for line in dump.truth("stat.txt").splitlines()
                     if " (pcfix-sleeper1) " in line)
    fields = stat_line.rsplit(") ", 1)[1].split()
    vsize, rss_pages = int(fields[20]), int(fields[21])
    tv = session.run("vm pcfix-sleeper1").rows[0]
    assert tv.total_vm_kb == vsize // 1024
    # /proc/PID/stat's rss leaves out the counts a task caches until it syncs them
    # (SPLIT_RSS_COUNTING); vm adds them, as ps does, so it can only be larger
    assert rss_pages * 4 <= tv.rss_kb <= tv.total_vm_kb
    assert any(v.file == "/bin/busybox" for v in tv.vmas)
    assert sum(v.end - v.start for v in tv.vmas) == vsize
    pages = session.run("vm -p pcfix-sleeper1").rows[0].vmas[0].pages
    assert pages and all(p.virtual % 4096 == 0 for p in pages)
    assert any(p.physical is not None for p in pages)


VM_FLAGS = ["vm -f 8100073", "vm -f 0", "vm -f 875", "vm -f 0xffffffffff"]


def test_vm_f_names_flags_as_crash(dump: Dump) -> None:
    from conftest import crash_commands

    theirs = crash_commands(dump, VM_FLAGS)
    for cmd in VM_FLAGS:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.out.splitlines() == theirs[cmd], cmd


def _struct_text(lines: list[str]) -> list[str]:
    """Lines as the struct formatter and gdb share them: without gdb's ``<symbol>`` after
    a pointer to a data symbol, the indentation of arrays of structs and flexible arrays
    (``cpu_bitmap``), which pycrash's struct formatter prints differently."""
    import re

    return [re.sub(r" <[\w.+]+>", "", ln).strip() for ln in lines if "cpu_bitmap" not in ln]


def test_vm_m_and_v_dump_the_structs_as_crash_does() -> None:
    """On 5.10, where crash 8.0.2 sees every task: the task header, the mm_struct and each
    vm_area_struct, member by member, as crash prints them (but for gdb's symbol notes
    and nesting, which pycrash's struct command also leaves out)."""
    from conftest import crash_commands, fixture_dump

    dump = fixture_dump("bullseye-small")
    commands = ["vm -m 1", "vm -v 1"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        ours = run.out.splitlines()
        assert ours[0] == theirs[cmd][0]
        assert _struct_text(ours) == _struct_text(theirs[cmd]), cmd


def test_vm_m_and_v_are_the_struct_command_s_dumps(session) -> None:  # type: ignore[no-untyped-def]
    vm = session.run("vm 1").rows[0]
    mm = session.run("vm -m 1")
    assert str(mm).splitlines()[1:] == str(session.run(f"struct mm_struct {vm.mm:x}")
                                          ).splitlines()
    vmas = session.run("vm -v 1").rows[0].dumps
    assert [d.address for d in vmas] == [v.vma for v in vm.vmas]
