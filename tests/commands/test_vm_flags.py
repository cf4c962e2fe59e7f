"""vm -P, vm -R and vm -p's page lines on the real dumps, against crash 8.0.2."""

from __future__ import annotations

import re

from conftest import Dump, assert_one_line_error, crash_commands, fixture_dump, pycrash

#: the mm line's RSS: pycrash counts the file and shmem pages crash 8.0.2 leaves out
#: (README's differences), so the column is compared without it
RSS = re.compile(r"^([0-9a-f]{16}  [0-9a-f]{16}  ) *\d+k +")


def _same(lines: list[str]) -> list[str]:
    return [RSS.sub(r"\1RSS ", ln) for ln in lines]


def test_vm_p_P_and_R_are_crash_s_text() -> None:
    """On 5.10, where crash 8.0.2 reads every task's VMAs: vm -p (each VMA under its own
    heading, FILE: and OFFSET: for file pages not in memory), -P of a VMA with pages not
    mapped and of a file VMA, -P of no VMA, and -R by VMA flags, file name, virtual and
    physical address, VMA and mm address and file offset, and foreach vm -R, line for
    line."""
    dump = fixture_dump("bullseye-small")
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x"]
    init = pycrash("--output", "json", *base, "vm -p 1")
    import json

    tv = json.loads(init.out)["rows"][0]
    anon = next(v for v in tv["vmas"] if not v["file"]
                and any(p["physical"] is None for p in v["pages"]))
    text = tv["vmas"][0]
    unmapped = next(p["virtual"] for p in anon["pages"] if p["physical"] is None)
    phys = text["pages"][0]["physical"]
    offset = next(p["file_offset"] for v in tv["vmas"] for p in v["pages"]
                  if p["file_offset"])
    commands = ["vm -p 1", f"vm -P {anon['vma']:x} 1", f"vm -P {text['vma']:x} 1",
                "vm -P 1234 1", f"vm -R {text['flags']:x} 1", "vm -R busybox 1",
                f"vm -R {unmapped:x} 1", f"vm -R {anon['vma']:x} 1", f"vm -R {phys:x} 1",
                f"vm -R {offset:x} 1", f"vm -R {tv['mm']:x} 1", "vm -R 8100073",
                "foreach vm -R 8100073", "foreach vm -R /bin/busybox"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash(*base, cmd)
        assert run.rc == 0, run.err
        assert _same(run.out.splitlines()) == _same(theirs[cmd]), cmd
    assert any("FILE: /bin/busybox  OFFSET: " in ln for ln in theirs["vm -p 1"])


def test_vm_P_is_the_vma_s_part_of_vm_p(session) -> None:  # type: ignore[no-untyped-def]
    """-P VMA translates that VMA's pages as -p does, and no other's."""
    tv = session.run("vm -p pcfix-sleeper1").rows[0]
    for v in (tv.vmas[0], tv.vmas[-1]):
        one = session.run(f"vm -P {v.vma:x} pcfix-sleeper1").rows[0].vma
        assert one == v
        assert len(one.pages) == (v.end - v.start) // 4096


def test_vm_R_finds_the_pages_and_areas_of_a_reference(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """-R of a page's physical address finds that page, in its VMA, in the task; -R of a
    file name every VMA that maps it, in every task that maps it; the guest's /proc/PID/
    stat vsize is the sum of the areas."""
    tv = session.run("vm -p pcfix-sleeper1").rows[0]
    page = next(p for v in tv.vmas for p in v.pages if p.physical is not None)
    (hit,) = session.run(f"vm -R {page.physical:x} pcfix-sleeper1").rows[0].hits
    assert page in hit.pages and hit.vma.start <= page.virtual < hit.vma.end
    items = session.run("foreach vm -R /bin/busybox").rows
    users = {i.task.pid for i in items}
    assert tv.task.pid in users and 1 in users
    for item in items:
        assert all(h.vma.file == "/bin/busybox" and not h.pages for h in item.rows[0].hits)
    assert_one_line_error(pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x",
                                  "vm -P nothex 1"), "vm: invalid vm_area_struct address")
    assert_one_line_error(pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x",
                                  "vm -m -R 1 1"), "mutually exclusive")
