"""kmem: the renderers (no dump needed), and the command on the real dump against the
guest's slabinfo and meminfo and Debian's crash."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, crash_commands, pid_of, pycrash, slabinfo
from pycrash.commands import kmem

from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.kernel.meminfo import FreeArea, MemRow, ZoneRow
from pycrash.kernel.slabs import CacheRow, SlabObject, SlabView
from pycrash.kernel.symbols import SymbolRow

CACHE = CacheRow(0xFF3CF91681034500, 64, 1624, 1728, 27, 4096, "kmalloc-64")
CACHE_LINE = "ff3cf91681034500       64       1624      1728     27     4k  kmalloc-64"


@pytest.mark.fast
def test_caches_and_slabs() -> None:
    from pycrash.kernel.slabs import CpuSlabs, NodeSlabs

    assert list(kmem.render_caches(Result([CACHE]))) == [kmem.CACHE_HEADER, CACHE_LINE]
    slab = SlabView("cpu 0", 0xFFD2DE3FC0001000, 0xFF3CF91680040000, 0,
                    [SlabObject(0xFF3CF91680040000, True), SlabObject(0xFF3CF91680040040, False, 0),
                     SlabObject(0xFF3CF91680040080, False)])
    detail = kmem.CacheDetail(CACHE, [CpuSlabs(0, 0xFF3CF9169E2380A0, slab, []),
                                      CpuSlabs(1, 0xFF3CF9169E3380A0, None, [slab])],
                              [NodeSlabs(0, 0xFF3CF91681041F00, 22, 1, 1, [slab], None)])
    body = ["  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE",
            "  ffd2de3fc0001000  ff3cf91680040000     0      3          1     2"]
    objects = ["  FREE / [ALLOCATED]", "  [ff3cf91680040000]", "   ff3cf91680040040  (cpu 0 cache)",
               "   ff3cf91680040080  "]  # crash ends a free object's line with two spaces
    assert list(kmem.render_detail(Result([detail]))) == [
        kmem.CACHE_HEADER, CACHE_LINE, "CPU 0 KMEM_CACHE_CPU:", "  ff3cf9169e2380a0",
        "CPU 0 SLAB:", *body, *objects, "CPU 0 PARTIAL:", "  (empty)",
        "CPU 1 KMEM_CACHE_CPU:", "  ff3cf9169e3380a0", "CPU 1 SLAB:", "  (empty)",
        "CPU 1 PARTIAL:", *body, *objects,
        "KMEM_CACHE_NODE   NODE  SLABS  PARTIAL  PER-CPU",
        "ff3cf91681041f00     0     22        1        1",
        "NODE 0 PARTIAL:", *body, "NODE 0 FULL:", "  (not tracked)", ""]


@pytest.mark.fast
def test_info() -> None:
    rows = [MemRow("TOTAL MEM", 118788, None, None), MemRow("FREE", 105959, "TOTAL MEM", 89),
            MemRow("TOTAL SWAP", 0, None, None)]
    assert list(kmem.render_info(Result(rows, view=kmem.InfoView(4096)))) == [
        "                 PAGES        TOTAL      PERCENTAGE",
        "    TOTAL MEM   118788       464 MB         ----",
        "         FREE   105959     413.9 MB   89% of TOTAL MEM",
        "",
        "   TOTAL SWAP        0            0         ----"]


@pytest.mark.fast
def test_zones_counters_nodes() -> None:
    """crash's layouts: PRESENT only when fewer than spanned, the zone's counters right-
    aligned to the longest name, two empty lines after a populated zone; kmem -V's groups
    apart, the events aligned on their own."""
    zones = [ZoneRow(0, 0, "DMA", 0xFF01000, 4095, 3998, 3840, 3808, 22, 27, 32, 1, 0x2000,
                     (("NR_FREE_PAGES", 3808), ("NR_ZONE_INACTIVE_ANON", 0))),
             ZoneRow(0, 1, "DMA32", 0xFF02000, 10, 10, 10, 5, 1, 2, 3, 4096, 0x3000,
                     (("NR_FREE_PAGES", 5),)),
             ZoneRow(0, 4, "Device", 0xFF03000, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    assert list(kmem.render_zones(Result(zones))) == [
        'NODE: 0  ZONE: 0  ADDR: ff01000  NAME: "DMA"',
        "  SIZE: 4095  PRESENT: 3998  MIN/LOW/HIGH: 22/27/32", "  VM_STAT:",
        "        NR_FREE_PAGES: 3808", "NR_ZONE_INACTIVE_ANON: 0", "", "",
        'NODE: 0  ZONE: 1  ADDR: ff02000  NAME: "DMA32"', "  SIZE: 10  MIN/LOW/HIGH: 1/2/3",
        "  VM_STAT:", "NR_FREE_PAGES: 5", "", "",
        'NODE: 0  ZONE: 4  ADDR: ff03000  NAME: "Device"', "  [unpopulated]", ""]
    counters = [kmem.Counter("VM_ZONE_STAT", "NR_FREE_PAGES", 5),
                kmem.Counter("VM_NODE_STAT", "NR_FILE", 7),
                kmem.Counter("VM_EVENT_STATES", "PGFREE", 9)]
    assert list(kmem.render_counters(Result(counters))) == [
        "  VM_ZONE_STAT:", "NR_FREE_PAGES: 5", "", "  VM_NODE_STAT:", "      NR_FILE: 7", "",
        "  VM_EVENT_STATES:", "PGFREE: 9"]


@pytest.mark.fast
def test_free_lists_add_up_or_not() -> None:
    """crash's -f: each zone's line, its areas where it has free pages (an empty zone's
    line alone), then whether the blocks add up; -F each list under its heading and its
    blocks' first pages."""
    dma = ZoneRow(0, 0, "DMA", 0x1000, 4095, 3998, 3840, 5, 22, 27, 32, 1, 0x2000)
    normal = ZoneRow(0, 2, "Normal", 0x3000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    areas = (FreeArea("DMA", 0, 0, 0x1000, 3, 0x1000, (0x10, 0x20, 0x30)),
             FreeArea("DMA", 1, 0, 0x1010, 1, 0x1000, (0x40,)))
    lists = kmem.FreeLists(5, areas, (dma, normal), (0, 0))
    zone_header = "ZONE  NAME        SIZE    FREE      MEM_MAP       START_PADDR  START_MAPNR"
    assert list(kmem.render_free(Result([lists]))) == [
        zone_header,
        "  0   DMA         4095       5  0000000000002000      1000          0     ",
        "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES",
        "  0       4k  0000000000001000       3      3",
        "  1       8k  0000000000001010       1      2", "", zone_header,
        "  2   Normal         0       0         0               0            0     ",
        "", "nr_free_pages: 5  (verified)"]
    assert list(kmem.render_free(Result([lists], view=True)))[2:8] == [
        "AREA    SIZE  FREE_AREA_STRUCT", "  0       4k  0000000000001000  ", "10", "20", "30",
        "AREA    SIZE  FREE_AREA_STRUCT"]
    more = kmem.FreeLists(6, areas, (dma, normal), (0, 0))
    assert list(kmem.render_free(Result([more])))[-1] == "nr_free_pages: 6  (found 5)"


PAGE = kmem.PageRow(0xFFD2DE3FC0000040, 0x1000, 0, 0, 1, 0x7FFFFC0001000, ("reserved",))
PAGE_LINE = "ffd2de3fc0000040     1000                0        0  1 7ffffc0001000 reserved"


@pytest.mark.fast
def test_pages() -> None:
    assert list(kmem.render_pages(Result([PAGE]))) == [kmem.PAGE_HEADER, PAGE_LINE]
    two = kmem.PageRow(0x10, 0, 0x20, 0x7, 2, 0x24, ("referenced", "lru"))
    assert kmem.page_line(two).endswith(" 2 24 referenced,lru")
    assert kmem.page_line(kmem.PageRow(0x10, 0, 0, 0, 0, 0, ())).endswith(" 0 0")


@pytest.mark.fast
def test_what_an_address_is() -> None:
    """crash's kmem_search() order, each part followed by an empty line, the page last."""
    from pycrash.cmdlib.context import Context
    from pycrash.kernel.meminfo import VmapArea

    objects = [SlabObject(0xFF3CF91680040000, False, None)]
    slab = kmem.CacheOfAddress(CACHE, SlabView("", 0xFFD2DE3FC0001000, 0xFF3CF91680040000, 0,
                                               objects), 0xFF3CF91680040000, False)
    sh = Context(102, "sh", 0xFF3CF9169E460000, 1, "TASK_INTERRUPTIBLE")
    rows = [kmem.AddressInfo(0xFF3CF91680040010, False, slab=slab, page=PAGE),
            kmem.AddressInfo(0xFFA0000000001000, False, stack_task=sh,
                             vmap=VmapArea(0x10, 0x20, 0xFFA0000000000000, 0xFFA0000000005000),
                             page=PAGE),
            kmem.AddressInfo(0xFFFFFFFF8FC1AA40, False,
                             symbol=SymbolRow(0xFFFFFFFF8FC1AA40, "D", "init_task", 0, None,
                                              None, None), page=PAGE),
            kmem.AddressInfo(0x7FFCE82AC000, True, translated=True)]
    assert list(kmem.render_address(Result(rows))) == [
        kmem.CACHE_HEADER, CACHE_LINE,
        "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE",
        "  ffd2de3fc0001000  ff3cf91680040000     0      1          0     1",
        "  FREE / [ALLOCATED]", "   ff3cf91680040000  ", "", kmem.PAGE_HEADER, PAGE_LINE, "",
        "    PID: 102", 'COMMAND: "sh"',
        "   TASK: ff3cf9169e460000  [THREAD_INFO: ff3cf9169e460000]",
        "    CPU: 1", "  STATE: TASK_INTERRUPTIBLE ", "",
        "   VMAP_AREA         VM_STRUCT                 ADDRESS RANGE                SIZE",
        "0000000000000010  0000000000000020  ffa0000000000000 - ffa0000000005000    20480", "",
        kmem.PAGE_HEADER, PAGE_LINE, "",
        "ffffffff8fc1aa40 (D) init_task", "", kmem.PAGE_HEADER, PAGE_LINE, "",
        "kmem: cannot determine page for 7ffce82ac000",
        "7ffce82ac000: physical address not found in mem map"]


def test_kmem_s_has_every_cache_ofslabinfo(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Every cache of /proc/slabinfo, with the same object count within the drift.

    The guest copies slabinfo a moment before the crash and then goes on reading
    /proc/PID/* of every task (proc inodes, dentries, LSM blobs, files, maple
    nodes) and writing its truth archive to a block device (buffer heads, bios,
    biovecs): those caches grow by up to a few hundred objects before the crash.
    So: most caches match exactly, none differs by more than 300 objects, and the
    total differs by less than 2%.
    """
    rows = {r.name: r for r in session.run("kmem -s").rows}
    truth = slabinfo(dump)
    assert set(rows) == set(truth)
    exact = [n for n in truth if rows[n].total == truth[n][1]]
    assert len(exact) >= 0.9 * len(truth), sorted(set(truth) - set(exact))
    for name, (_active, num_objs, size) in truth.items():
        r = rows[name]
        # OBJSIZE is object_size; slabinfo's objsize column is the padded size
        assert r.objsize <= size
        assert abs(r.total - num_objs) <= 300, (name, r.total, num_objs)
    assert abs(sum(r.total for r in rows.values()) - sum(t[1] for t in truth.values())) \
        <= 0.02 * sum(t[1] for t in truth.values())


def test_kmem_s_matches_crash(dump: Dump) -> None:
    import shutil
    import subprocess

    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    theirs = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                            input="kmem -s\nq\n", capture_output=True, text=True).stdout
    ours = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "kmem -s").out
    header = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"
    assert ours.splitlines()[0] == header
    their_rows = {line.split()[-1]: line.split() for line in theirs.splitlines()
                  if re.match(r"^[0-9a-f]{16} ", line)}
    our_rows = {line.split()[-1]: line.split() for line in ours.splitlines()[1:]}
    assert set(our_rows) == set(their_rows)
    for name, ours_f in our_rows.items():
        # every column as crash reads it from the same dump: ALLOCATED counts the
        # objects on each CPU's freelist and its active slab's remote-free list as free
        assert ours_f == their_rows[name], name


def test_kmem_i_agrees_with_meminfo(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    info = {r.name: r.pages for r in session.run("kmem -i").rows}
    mem = {k: int(v) for k, v in re.findall(r"^(\w+): +(\d+) kB", dump.truth("meminfo.txt"),
                                            re.M)}
    assert info["TOTAL MEM"] * 4 == mem["MemTotal"]
    # free memory moves while the guest writes its truth files and loads nothing else:
    # within 1% of MemFree
    assert abs(info["FREE"] * 4 - mem["MemFree"]) <= 0.01 * mem["MemFree"]
    assert info["USED"] == info["TOTAL MEM"] - info["FREE"]
    text = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "kmem -i").out.splitlines()
    assert text[0] == "                 PAGES        TOTAL      PERCENTAGE"
    assert re.match(r"^    TOTAL MEM +\d+ +[\d.]+ MB +----$", text[1])
    assert re.match(r"^         FREE +\d+ +[\d.]+ MB +\d+% of TOTAL MEM$", text[2])


def test_kmem_address_names_slab_object_and_task_stack(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    detail = session.run("kmem -S kmalloc-1k").rows[0]
    addr = next(o.address for s in detail.slabs for o in s.objects if o.allocated)
    info = session.run(f"kmem {addr + 16:x}").rows[0]
    assert info.slab.cache.name == "kmalloc-1k" and info.task is None
    assert info.slab.object == addr and info.page is not None
    text = str(session.run(f"kmem {addr + 16:x}"))
    assert f"  [{addr:016x}]" in text.splitlines() and "kmalloc-1k" in text
    frame = session.run("bt pcfix-sleeper1").rows[0].frames[1]
    stack = session.run(f"kmem {frame.stack_addr:x}").rows[0]
    pid = pid_of(dump, "pcfix-sleeper1")
    assert stack.stack_task.command == "pcfix-sleeper1" and stack.stack_task.pid == pid
    assert stack.vmap.start <= frame.stack_addr < stack.vmap.end
    assert f"    PID: {pid}" in str(session.run(f"kmem {frame.stack_addr:x}")).splitlines()


def test_kmem_other_views(session) -> None:  # type: ignore[no-untyped-def]
    zones = session.run("kmem -z").rows
    assert {z.name for z in zones} >= {"DMA", "DMA32"}
    free = {r.name: r.pages for r in session.run("kmem -i").rows}["FREE"]
    assert sum(z.free for z in zones) == free
    assert str(session.run("kmem -f")).rstrip().endswith(f"nr_free_pages: {free}  (verified)")
    counters = {c.name: c.value for c in session.run("kmem -V").rows}
    assert counters["NR_FREE_PAGES"] == free
    assert session.run("kmem -n").rows[0].nodes[0].node == 0


def test_kmem_p_takes_physical_and_kernel_addresses(session) -> None:  # type: ignore[no-untyped-def]
    """kmem -p ADDRESS: a number below the kernel's space is a physical address (as crash
    takes it; it was read as a struct page before), a kernel address is translated through
    the page tables (the image's too), a struct page's own address is that page."""
    (low,) = session.run("kmem -p 0x1000").rows
    assert low.physical == 0x1000
    assert low.page == session.prog["vmemmap_base"].value_() + session.prog.type(
        "struct page").size
    text = session.prog.symbol("_stext").address
    (img,) = session.run(f"kmem -p {text:x}").rows
    assert img.physical == session.run(f"vtop {text:x}").rows[0].physical & ~0xFFF
    (same,) = session.run(f"kmem -p {img.page:x}").rows
    assert same == img



def test_kmem_p_and_f_are_crash_s(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: kmem -p lines as crash 8.0.2 prints them (the flags' value and the names of
    the kernel's pageflag_names table; drgn's decoding adds aliases such as PG_savepinned),
    for physical, kernel-image and struct page addresses; kmem -f ADDRESS names the free
    block that holds it (the argument was ignored), nothing for a page on no free list.
    (crash finds no block for a block's first page, its search stops before it; pycrash
    names it: that case is left out of the comparison.)"""
    image = session.prog.symbol("init_task").address
    free = next(a for a in session.run("kmem -f").rows[0].areas if a.order == 10 and a.blocks)
    head = session.prog.read_u64(free.address)  # the first free block's page.lru
    page = head - session.prog.type("struct page").member("lru").offset
    phys = session.run(f"kmem -p {page:x}").rows[0].physical
    commands = ["kmem -p 1000", "kmem -p 2000000", "kmem -p 3000000", f"kmem -p {image:x}",
                f"kmem -p {page:x}", f"kmem -f {phys + 0x1000:x}", f"kmem -f {phys + 0x3000:x}",
                f"kmem -f {page + 0x40:x}", "kmem -f 1000"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    assert theirs[f"kmem -f {phys + 0x1000:x}"][-1].endswith(
        f"({phys + 0x1000:x} is 2nd of 1024 pages)")
    with pytest.raises(CommandError, match="no address arguments allowed"):
        session.run("kmem -z 1")
    with pytest.raises(CommandError, match=r"invalid option -- '=' in -i=shared"):
        session.run("kmem -i=shared")


KMEM_FLAGS = ["kmem -o", "kmem -h", "kmem -v", "kmem -g", "kmem -g 0x10000", "kmem -g 0",
              "kmem -g 0x200000000000"]


def _kmem_flags_match_crash(dump: Dump) -> None:
    from conftest import crash_commands

    theirs = crash_commands(dump, KMEM_FLAGS)
    for cmd in KMEM_FLAGS:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd


def test_kmem_o_h_v_g_match_crash(dump: Dump) -> None:
    """Per-CPU offsets, hstates, vmap areas and page flags: crash 8.0.2's lines."""
    _kmem_flags_match_crash(dump)


def test_kmem_o_h_v_g_match_crash_on_5_10() -> None:
    from conftest import fixture_dump

    _kmem_flags_match_crash(fixture_dump("bullseye-small"))


def test_kmem_v_and_o_against_the_kernel(session) -> None:  # type: ignore[no-untyped-def]
    """Each vmap area holds its vm_struct's range (the guard page after it); the per-CPU
    offsets move a per-CPU variable to where drgn's per_cpu() finds it."""
    from drgn import Object
    from drgn.helpers.linux.percpu import per_cpu

    prog = session.prog
    areas = session.run("kmem -v").rows
    assert len(areas) > 20
    assert [a.start for a in areas] == sorted(a.start for a in areas)
    for a in areas[:50]:
        vm = Object(prog, "struct vm_struct *", a.vm_struct)
        assert vm.addr.value_() == a.start
        assert a.end - a.start == vm.size.value_()
    runqueues = prog["runqueues"]
    for row in session.run("kmem -o").rows:
        assert per_cpu(runqueues, row.cpu).address_ == runqueues.address_ + row.offset


@pytest.mark.fast
def test_huge_page_sizes_and_offsets_text() -> None:
    assert [kmem._huge_size(n) for n in (64 << 10, 2 << 20, 32 << 20, 1 << 30, 3 << 29)] == [
        "64KB", "2MB", "32MB", "1GB", "1.5GB"]
    rows = [kmem.CpuOffset(0, 0xFF36), kmem.CpuOffset(12, 0x10)]
    assert list(kmem.render_offsets(Result(rows))) == [
        "PER-CPU OFFSET VALUES:", "  CPU 0: ff36", " CPU 12: 10"]


def test_kmem_s_and_S_of_an_address_match_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """The cache, slab and object holding an address, free or allocated, inside the
    object too; an address outside the slabs; a cache named beside an address."""
    detail = session.run("kmem -S kmalloc-64").rows[0]
    objects = [o for s in detail.slabs for o in s.objects]
    free = next(o.address for o in objects if not o.allocated)
    used = next(o.address for o in objects if o.allocated)
    task = session.panic_task.value_()
    # (crash 8.0.2 shows a second address's object in the first one's slab: not compared)
    commands = [f"kmem -s {free:x}", f"kmem -S {used + 8:x}",
                f"kmem -s kmalloc-64 {task:x}", f"kmem -S {task + 0x100:x}",
                f"kmem -s {session.prog['init_task'].address_:x}"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        # crash's notes come first on its one stream; pycrash's go to stderr
        assert run.out.splitlines() == [ln for ln in theirs[cmd] if not ln.startswith("kmem:")]
        assert run.err.splitlines() == [ln for ln in theirs[cmd] if ln.startswith("kmem:")]


def test_kmem_s_I_marks_ignored_caches_as_crash(dump: Dump) -> None:
    cmd = "kmem -s -I kmalloc-64,task_struct"
    theirs = crash_commands(dump, [cmd])
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
    assert run.rc == 0, run.err
    assert run.out.splitlines() == theirs[cmd]
    assert sum("[IGNORED]" in ln for ln in theirs[cmd]) == 2


def test_kmem_views_equal_crash_on_6_1(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """kmem -z, -n, -S and -f as crash 8.0.2 prints them on 6.1 (-V too, but for the NUMA event
    counters of 5.14 and later, which crash 8.0.2 does not know)."""
    lines = ["kmem -z", "kmem -n", "kmem -S kmalloc-64", "kmem -f", "kmem -V"]
    theirs = crash_commands(dump, lines)
    for line in lines[:4]:
        assert str(session.run(line)).splitlines() == theirs[line], line
    ours = str(session.run("kmem -V")).splitlines()
    numa = ours.index("  VM_NUMA_EVENT:")
    assert ours[:numa - 1] + ours[ours.index("  VM_EVENT_STATES:") - 1:] == theirs["kmem -V"]
