"""kmem's renderers: caches, slabs, zones, counters, free lists, nodes, pages, addresses."""

from __future__ import annotations

from pycrash.commands import kmem

from pycrash.command import Result
from pycrash.kernel.meminfo import FreeArea, MemRow, ZoneRow
from pycrash.kernel.slabs import CacheRow, SlabHit, SlabObject, SlabView
from pycrash.kernel.symbols import SymbolRow
from pycrash.kernel.tasks import TaskId

CACHE = CacheRow(0xFF3CF91681034500, 64, 1624, 1728, 27, 4096, "kmalloc-64")
CACHE_LINE = "ff3cf91681034500       64       1624      1728     27     4k  kmalloc-64"


def test_caches_and_slabs() -> None:
    assert list(kmem.render_caches(Result([CACHE]))) == [kmem.CACHE_HEADER, CACHE_LINE]
    slab = SlabView("cpu 0", 0xFFD2DE3FC0001000, 0xFF3CF91680040000, 0,
                    [SlabObject(0xFF3CF91680040000, True), SlabObject(0xFF3CF91680040040, False)])
    assert list(kmem.render_detail(Result([kmem.CacheDetail(CACHE, [slab])]))) == [
        kmem.CACHE_HEADER, CACHE_LINE, "CPU 0 SLAB:",
        "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE",
        "  ffd2de3fc0001000  ff3cf91680040000     0      2          1     1",
        "  FREE / [ALLOCATED]", "  [ff3cf91680040000]", "   ff3cf91680040040"]


def test_info() -> None:
    rows = [MemRow("TOTAL MEM", 118788, None, None), MemRow("FREE", 105959, "TOTAL MEM", 89),
            MemRow("TOTAL SWAP", 0, None, None)]
    assert list(kmem.render_info(Result(rows, view=kmem.InfoView(4096)))) == [
        "                 PAGES        TOTAL      PERCENTAGE",
        "    TOTAL MEM   118788       464 MB         ----",
        "         FREE   105959     413.9 MB   89% of TOTAL MEM",
        "",
        "   TOTAL SWAP        0            0         ----"]


def test_zones_counters_nodes() -> None:
    zones = [ZoneRow(0, 0, "DMA", 0x1000, 4095, 3998, 3840, 3808, 22, 27, 32, 1, 0x2000),
             ZoneRow(0, 4, "Device", 0x3000, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    assert list(kmem.render_zones(Result(zones))) == [
        'NODE: 0  ZONE: 0  ADDR: 0000000000001000  NAME: "DMA"',
        "  SIZE: 4095  PRESENT: 3998  MANAGED: 3840  MIN/LOW/HIGH: 22/27/32",
        "  FREE: 3808  START_PFN: 1  MEM_MAP: 0000000000002000", "",
        'NODE: 0  ZONE: 4  ADDR: 0000000000003000  NAME: "Device"', "  [unpopulated]", ""]
    counters = [kmem.Counter("VM_ZONE_STAT", "NR_FREE_PAGES", 5),
                kmem.Counter("VM_NODE_STAT", "NR_FILE", 7)]
    assert list(kmem.render_counters(Result(counters))) == [
        "  VM_ZONE_STAT:", "  NR_FREE_PAGES: 5", "", "  VM_NODE_STAT:", "        NR_FILE: 7"]
    nodes = [kmem.MemoryNode(0, 196569, 0x1000, (0x1000, 0x1600))]
    assert list(kmem.render_nodes(Result(nodes))) == [
        "NODE    SIZE      PGLIST_DATA       ZONES",
        "  0    196569  0000000000001000  0000000000001000 0000000000001600"]


def test_free_lists_add_up_or_not() -> None:
    areas = (FreeArea("DMA", 0, 0, 0x1000, 3), FreeArea("DMA", 1, 0, 0x1010, 1))
    assert list(kmem.render_free(Result([kmem.FreeLists(5, areas)]))) == [
        "", "ZONE  DMA", "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES",
        "  0      4k  0000000000001000       3      3",
        "  1      8k  0000000000001010       1      2", "", "nr_free_pages: 5  (verified)"]
    assert list(kmem.render_free(Result([kmem.FreeLists(6, areas)])))[-1] == \
        "nr_free_pages: 6  (free lists hold 5)"


PAGE = kmem.PageRow(0xFFD2DE3FC0000040, 0x1000, 0, 0, 1, 0x400, ("PG_reserved",))
PAGE_LINE = "ffd2de3fc0000040      1000 0000000000000000        0   1 PG_reserved"


def test_pages() -> None:
    assert list(kmem.render_pages(Result([PAGE]))) == [kmem.PAGE_HEADER, PAGE_LINE]
    two = kmem.PageRow(0x10, 0, 0x20, 0x7, 2, 0x24, ("PG_referenced", "PG_lru"))
    assert kmem.page_line(two).endswith("  2 PG_referenced|PG_lru")


def test_what_an_address_is() -> None:
    hit = SlabHit(CACHE, 0xFFD2DE3FC0001000, 0xFF3CF91680040000, False)
    stack = TaskId(102, 0xFF3CF9169E460000, 1, "sh")
    rows = [kmem.AddressInfo(0xFF3CF91680040010, "slab", slab=hit),
            kmem.AddressInfo(0xFFA0000000001000, "stack", task=stack,
                             vmap_start=0xFFA0000000000000, vmap_end=0xFFA0000000005000),
            kmem.AddressInfo(0xFFFFFFFF8FC1AA40, "symbol",
                             symbol=SymbolRow(0xFFFFFFFF8FC1AA40, "D", "init_task", 0, None,
                                              None, None)),
            kmem.AddressInfo(0xFF3CF91680001000, "page", page=PAGE)]
    assert list(kmem.render_address(Result(rows))) == [
        kmem.CACHE_HEADER, CACHE_LINE, "  SLAB              OBJECT",
        "  ffd2de3fc0001000   ff3cf91680040000  (free)",
        'ffa0000000001000: kernel stack of PID: 102  TASK: ff3cf9169e460000  COMMAND: "sh"',
        "    VMAP_AREA RANGE                         SIZE",
        "    ffa0000000000000 - ffa0000000005000     20480",
        "ffffffff8fc1aa40 (D) init_task",
        kmem.PAGE_HEADER, PAGE_LINE]
