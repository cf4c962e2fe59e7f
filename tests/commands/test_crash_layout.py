"""crash 8.0.2's text, line for line, on Debian 11's 5.10 kernel (where crash sees every
task): the layout of ps's views, ascii, log, files and task, run through both tools on the
same dump (issue 18's "differs from crash" list). Where pycrash is right and crash is
wrong (README, "Where pycrash differs from crash, and why") the test checks both answers
against the kernel's own numbers instead."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, crash_commands, fixture_dump

#: command lines whose text must equal crash's
SAME = [
    "ps -S", "ps -p", "ps -c", "ps -g", "ps -p 1", "ps -c 1 2", "ps -g 1", "ps -r 1 2",
    "ascii", "ascii 0x6b7361", "ascii 6c6c6568 0", "ascii ff7f0a1b00",
    "log", "log -m", "log -t",
    "files", "files 1", "files 1 2", "files 0", "files -c 1 2",
    "task -R pid", "task -R pid,comm 1 2", "foreach 1 2 task -R pid", "foreach 1 2 files",
    "task", "task 2 3", "foreach 2 3 task", "struct task_struct init_task",
    "sym -l", "sym panic", "sym schedule init_task", "sym nosuchsym panic",
    "sym virtqueue_get_vring_size", "sym -q sysrq_handle", "sym -q vring", "sym -q sysrq",
    "sym __per_cpu_start", "sym _end", "set 1", "foreach 0 1 set",
    "dev", "dev -d", "dev -p", "irq", "irq -a", "irq -s", "irq 1 24 2",
    "timer", "timer -r", "timer -C 1", "timer -r -C 0",
    "kmem -z", "kmem -V", "kmem -n", "kmem -S kmalloc-64", "kmem -S task_struct", "kmem -s",
    "kmem -f",
    "search -c pycrash-fixture", "search -w 0xdeadbeef", "search init_task",
    "ptov 0 1000", "ptob 16", "ptob 0x10 1f",
]
#: command lines compared with a documented difference masked
MASKED = ["ps -t", "ps -t 1 2", "log -T", "vm", "vm 1 2", "vm -p 1"]


@pytest.fixture(scope="module")
def bullseye() -> Dump:
    return fixture_dump("bullseye-small")


@pytest.fixture(scope="module")
def ours(bullseye: Dump):  # type: ignore[no-untyped-def]
    return bullseye.open()


@pytest.fixture(scope="module")
def addresses(ours) -> list[str]:  # type: ignore[no-untyped-def]
    """vtop lines over this build's addresses: kernel text, the direct map (a task), a
    vmalloc'ed stack, a struct page, a module, and pid 1's pages (one mapped, one of a
    file not in memory, one anonymous not in memory)."""
    prog = ours.prog
    init = ours.task(1)
    vm = ours.run("vm -p 1").rows[0]
    pages = [p for v in vm.vmas for p in v.pages]
    mapped = next(p for p in pages if p.physical is not None)
    in_file = next(p for p in pages if p.file is not None)
    anon = next(p for p in pages if p.physical is None and p.file is None)
    module = ours.run("mod").rows[0].base
    text = prog.symbol("panic").address
    lines = [f"vtop {text:x}", f"vtop {init.value_():x}", f"vtop {init.stack.value_() + 0x10:x}",
             f"vtop {module:x}", f"vtop {text & ~0x1FFFFF:x}",
             f"vtop -c 1 {mapped.virtual:x}", f"vtop -c 1 {in_file.virtual:x}",
             f"vtop -c 1 {anon.virtual:x}", f"vtop -c 1 {text:x} {mapped.virtual:x}",
             f"vtop -k {mapped.virtual:x}", "vtop -c 1 1000"]
    page = ours.run(f"vtop {init.value_():x}").rows[0].page
    lines.append(f"vtop {page.page:x}")
    lines.append(f"search {init.value_():x}")  # its direct-map, stack and image aliases
    detail = ours.run("kmem -S kmalloc-64").rows[0]
    free = next(o.address for sl in detail.slabs for o in sl.objects if not o.allocated)
    init_task = prog.symbol("init_task").address
    lines += [f"kmem {init.value_() + 8:x}", f"kmem {text:x}", f"kmem {init_task:x}",
              f"kmem {module:x}", f"kmem {page.page:x}", f"kmem {mapped.physical:x}",
              f"kmem {free:x}", f"kmem {init.stack.value_() + 0x10:x}",
              f"kmem {anon.virtual:x}", f"kmem {init.value_():x} {mapped.physical:x}",
              f"kmem {page.physical:x}"]
    return lines


@pytest.fixture(scope="module")
def theirs(bullseye: Dump, addresses: list[str]) -> dict[str, list[str]]:
    return crash_commands(bullseye, SAME + MASKED + addresses
                          + [f"files {_pid1_task(bullseye):x}"])


def _pid1_task(dump: Dump) -> int:
    from conftest import pycrash

    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "ps 1")
    return int(run.out.splitlines()[1].split()[3], 16)


def _text(session, line: str) -> list[str]:  # type: ignore[no-untyped-def]
    import io

    from pycrash.interpreter import Interpreter

    out, err = io.StringIO(), io.StringIO()
    Interpreter(session).run_line(line, out=out, err=err)
    return (out.getvalue() + err.getvalue()).splitlines()


@pytest.mark.parametrize("line", SAME)
def test_text_equals_crash(ours, theirs: dict[str, list[str]], line: str) -> None:  # type: ignore[no-untyped-def]
    assert theirs[line], line  # crash ran it
    assert _text(ours, line) == theirs[line]


def test_files_of_a_task_address_ends_without_an_empty_line(ours, theirs, bullseye) -> None:  # type: ignore[no-untyped-def]
    line = f"files {_pid1_task(bullseye):x}"
    assert _text(ours, line) == theirs[line] and theirs[line][-1] != ""
    assert _text(ours, "files 1") == theirs[line] + [""]  # by pid: an empty line after


def test_ps_S_counts_states_in_the_order_crash_meets_them(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    counts = {r.state: r.count for r in ours.run("ps -S").rows}
    assert sum(counts.values()) == len(ours.run("ps").rows)
    # crash's order: the state of the first task (swapper/0, running) first
    assert theirs["ps -S"][0] == f"  RU: {counts['RU']}"


def test_ps_p_and_c_follow_task_parent_as_crash(ours) -> None:  # type: ignore[no-untyped-def]
    """The other CPU's idle task descends from init_task (its task->parent), and
    init_task is its own parent: crash's ps -p and -c show them so."""
    swappers = [r.task for r in ours.run("ps 0").rows]
    family = ours.run(f"ps -p {swappers[1]:x}").rows[0]
    assert [t.task for t in family.related] == swappers
    kids = ours.run(f"ps -c {swappers[0]:x}").rows[0].related
    assert [t.task for t in kids[:2]] == swappers and {t.pid for t in kids[2:]} == {1, 2}


def _run_times(lines: list[str]) -> list[tuple[str, str, int]]:
    out = []
    for i, line in enumerate(lines):
        if line.startswith("    RUN TIME: "):
            out.append((lines[i - 1], line[14:], int(lines[i + 1].split()[-1])))
    return out


@pytest.mark.parametrize("line", ["ps -t", "ps -t 1 2"])
def test_ps_t_equals_crash_but_the_run_time(ours, theirs, line: str) -> None:  # type: ignore[no-untyped-def]
    """Everything but RUN TIME is crash's (the order by start time, an empty line after
    each task). crash takes whole seconds off the start time before subtracting it from
    the uptime, and so counts up to a second too much; pycrash subtracts the start time
    in ns: the run time is the uptime less the start, rounded down."""
    from pycrash.kernel.system import format_uptime, uptime_seconds

    mine, crash = _text(ours, line), theirs[line]
    strip = re.compile(r"^    RUN TIME: .*$")
    assert [strip.sub("", x) for x in mine] == [strip.sub("", x) for x in crash]
    assert mine[-1] == ""
    up = uptime_seconds(ours.prog)
    for (head, ran, start), (_, crash_ran, _) in zip(_run_times(mine), _run_times(crash),
                                                     strict=True):
        assert ran == format_uptime(up - start / 1e9), head
        assert crash_ran == format_uptime(up - start // 10**9), head


def test_log_T_equals_crash_but_the_seconds(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    """crash's layout (the time zone before the year, a message's further lines indented
    past the time); the times themselves are the boot time plus each message's time
    since boot, which crash rounds the other way (README)."""
    mine, crash = _text(ours, "log -T"), theirs["log -T"]
    import time

    zone = time.strftime("%Z")  # both print local time with its zone (crash's ctime_tz)
    stamp = re.compile(r"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) " + re.escape(zone)
                       + r" (\d{4})\] ")
    assert len(mine) == len(crash) > 100
    continued = 0
    for a, b in zip(mine, crash, strict=True):
        ma, mb = stamp.match(a), stamp.match(b)
        if mb:
            assert ma and a[ma.end():] == b[mb.end():], (a, b)
            assert abs(_seconds(ma) - _seconds(mb)) <= 1
        else:  # a further line of a message: indented as far as crash indents it
            continued += 1
            assert a == b and a.startswith(" " * 20)
    assert continued > 0


def _seconds(m: re.Match[str]) -> float:
    import time

    return time.mktime(time.strptime(" ".join(m.groups()), "%a %b %d %H:%M:%S %Y"))


def _rss_masked(lines: list[str]) -> tuple[list[str], list[str]]:
    """The lines with each mm line's RSS column blanked, and those RSS values."""
    out, rss = [], []
    for i, line in enumerate(lines):
        if i and lines[i - 1].startswith("       MM               PGD"):
            rss.append(line[36:42].strip())
            line = line[:36] + line[42:]
        out.append(line)
    return out, rss


@pytest.mark.parametrize("line", ["vm", "vm 1 2", "vm -p 1"])
def test_vm_equals_crash_but_rss(ours, theirs, line: str) -> None:  # type: ignore[no-untyped-def]
    """crash's layout (each area under its own header with -p, a page not in memory named
    by the file and offset that back it); RSS is pycrash's, which counts the shared
    memory pages (file and shmem) crash leaves out."""
    from drgn.helpers.linux.mm import task_rss

    mine, mine_rss = _rss_masked(_text(ours, line))
    crash, crash_rss = _rss_masked(theirs[line])
    assert mine == crash
    tasks = ours.run(line.replace("-p ", "")).rows
    for tv, got, theirs_rss in zip(tasks, mine_rss, crash_rss, strict=True):
        if not tv.mm:  # a kernel thread
            assert got == theirs_rss == "0k"
            continue
        rss = task_rss(ours.prog, ours.task(f"{tv.task.task:x}"))
        assert got == f"{rss.total * 4}k"
        assert int(theirs_rss[:-1]) < int(got[:-1])
    if "-p" in line:
        assert any("  FILE: /bin/busybox  OFFSET: " in x for x in mine)


def test_vtop_and_kmem_address_equal_crash(ours, theirs, addresses: list[str]) -> None:  # type: ignore[no-untyped-def]
    """vtop: the walk (each level's entry), the page and its PTE decoded, the memory area
    of a user address and what backs a page not in memory, and the struct page, on kernel
    text, the direct map, a vmalloc'ed stack, a module, a struct page and user pages.
    kmem ADDRESS: the symbol, the stack's task and vmap area, the slab object, the task
    holding it and the page, on the same kinds of addresses and physical ones. search of
    a task's address: each hit in the direct map, then at its vmalloc (stack) and
    kernel-image aliases."""
    for line in addresses:
        assert theirs[line], line
        assert _text(ours, line) == theirs[line], line
    text = ours.run(addresses[0]).rows[0]  # __pa(): less the image's link base, plus phys_base
    phys_base = int.from_bytes(ours.prog.read(ours.prog.symbol("phys_base").address, 8),
                               "little")
    assert text.physical == (ours.prog.symbol("panic").address - 0xFFFFFFFF80000000
                             + phys_base) & ((1 << 64) - 1)
    assert ours.prog.read(text.physical, 16, True) == \
        ours.prog.read(ours.prog.symbol("panic").address, 16)


def test_kmem_address_of_a_free_page_names_its_block(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    """A page of a free buddy block: pycrash names the block (kmem -f ADDRESS's lines);
    crash 8.0.2's search of its free lists misses it and shows the page alone. The page
    is free: PageBuddy in page_type, its block's order in page->private."""
    from drgn import Object, container_of
    from drgn.helpers.linux.mm import page_to_pfn

    prog = ours.prog
    free = next(a for a in ours.run("kmem -f").rows[0].areas if a.blocks and a.order >= 3)
    first = Object(prog, "struct list_head *", prog.read_u64(free.address))  # free_list.next
    head = container_of(first, "struct page", "lru")
    pfn = page_to_pfn(head).value_()
    assert head.page_type.value_() & 0xFFFFFFFF == 0xFFFFFF7F  # PageBuddy
    assert head.private.value_() == free.order
    line = f"kmem {pfn << 12:x}"
    theirs_now = crash_commands(fixture_dump("bullseye-small"), [line])[line]
    mine = _text(ours, line)
    assert mine[-2:] == theirs_now[-2:]  # the page
    assert mine[4].startswith(f"{head.value_():x}  ({pfn << 12:x} is 1st of {1 << free.order}")
