"""System memory accounting (``kmem -i``, ``-z``, ``-V``, ``-f``, ``-n``) from vm counters."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object, Program, container_of
from drgn.helpers.linux.mm import totalram_pages
from drgn.helpers.linux.vmstat import global_node_page_state, global_zone_page_state

from pycrash.kernel.walk import WalkError
from pycrash.records import Hex


def _enum(prog: Program, name: str) -> int | None:
    try:
        return prog.constant(name).value_()
    except LookupError:
        return None


def node_state(prog: Program, name: str) -> int:
    """Return a ``vm_node_stat`` counter by its enum name (0 when the kernel lacks it)."""
    item = _enum(prog, name)
    return global_node_page_state(prog, item) if item is not None else 0


def zone_state(prog: Program, name: str) -> int:
    """Return a ``vm_zone_stat`` counter by its enum name (0 when the kernel lacks it)."""
    item = _enum(prog, name)
    return global_zone_page_state(prog, item) if item is not None else 0


def _var(prog: Program, name: str, default: int = 0) -> int:
    try:
        obj = prog[name]
    except KeyError:
        return default
    try:
        return obj.counter.value_() if hasattr(obj, "counter") else obj.value_()
    except AttributeError:
        return obj.value_()


def buffer_pages(prog: Program) -> int:
    """Return the pages of block-device page cache (meminfo's Buffers)."""
    total = 0
    try:
        from pycrash.kernel.walk import list_entries

        sb = prog["blockdev_superblock"]
        for inode in list_entries("struct inode", sb.s_inodes.address_of_(), "i_sb_list",
                                  "the block device inode list"):
            total += inode.i_mapping.nrpages.value_()
    except WalkError:
        return total  # a broken list: the pages of the inodes before the break
    except (KeyError, LookupError, FaultError):
        return 0
    return total


def committed_pages(prog: Program) -> int:
    """Return ``vm_committed_as`` summed over CPUs (meminfo's Committed_AS)."""
    from drgn.helpers.linux.percpu import percpu_counter_sum

    try:
        return int(percpu_counter_sum(prog["vm_committed_as"].address_of_()))
    except (KeyError, LookupError, FaultError):
        return 0


@dataclass(frozen=True)
class MemRow:
    """One line of the memory summary (kmem -i): what it counts (TOTAL MEM, FREE, ...),
    its pages, and its share in percent of another line (``of``; None: no share)."""

    name: str
    pages: int
    of: str | None  # what the percentage is of: "TOTAL MEM", "TOTAL HUGE", ...
    percent: int | None


def summary(prog: Program) -> list[MemRow]:
    """Return the rows of ``kmem -i`` in crash's order, counted as /proc/meminfo counts."""
    total = int(totalram_pages(prog))
    free = zone_state(prog, "NR_FREE_PAGES")
    buffers = buffer_pages(prog)
    swapcache = node_state(prog, "NR_SWAPCACHE")
    cached = node_state(prog, "NR_FILE_PAGES") - swapcache - buffers
    shared = node_state(prog, "NR_SHMEM")
    slab = node_state(prog, "NR_SLAB_RECLAIMABLE_B") + node_state(prog, "NR_SLAB_UNRECLAIMABLE_B")
    huge_total = huge_free = 0
    try:
        hstate = prog["hstates"][0]
        huge_total = hstate.nr_huge_pages.value_() << hstate.order.value_()
        huge_free = hstate.free_huge_pages.value_() << hstate.order.value_()
    except (KeyError, LookupError, FaultError, IndexError):
        pass
    swap_total = _var(prog, "total_swap_pages")
    swap_free = _var(prog, "nr_swap_pages")
    overcommit_ratio = _var(prog, "sysctl_overcommit_ratio", 50)
    commit_limit = (total - huge_total) * overcommit_ratio // 100 + swap_total
    committed = committed_pages(prog)

    def pct(part: int, whole: int) -> int:
        return part * 100 // whole if whole else 0

    return [
        MemRow("TOTAL MEM", total, None, None),
        MemRow("FREE", free, "TOTAL MEM", pct(free, total)),
        MemRow("USED", total - free, "TOTAL MEM", pct(total - free, total)),
        MemRow("SHARED", shared, "TOTAL MEM", pct(shared, total)),
        MemRow("BUFFERS", buffers, "TOTAL MEM", pct(buffers, total)),
        MemRow("CACHED", cached, "TOTAL MEM", pct(cached, total)),
        MemRow("SLAB", slab, "TOTAL MEM", pct(slab, total)),
        MemRow("TOTAL HUGE", huge_total, None, None),
        MemRow("HUGE FREE", huge_free, "TOTAL HUGE", pct(huge_free, huge_total)),
        MemRow("TOTAL SWAP", swap_total, None, None),
        MemRow("SWAP USED", swap_total - swap_free, "TOTAL SWAP",
               pct(swap_total - swap_free, swap_total)),
        MemRow("SWAP FREE", swap_free, "TOTAL SWAP", pct(swap_free, swap_total)),
        MemRow("COMMIT LIMIT", commit_limit, None, None),
        MemRow("COMMITTED", committed, "TOTAL LIMIT", pct(committed, commit_limit)),
    ]


def format_bytes(nbytes: int) -> str:
    """Return crash's size text: ``464 MB``, ``414.6 MB``, ``640 KB``, ``0``."""
    if nbytes == 0:
        return "0"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if nbytes >= scale:
            value = nbytes / scale
            text = f"{value:.1f}"
            return f"{text[:-2] if text.endswith('.0') else text} {unit}"
    return f"{nbytes} B"


@dataclass(frozen=True)
class ZoneRow:
    """A memory zone: its node, index and name, its struct zone, its spanned, present and
    managed pages, free pages, min/low/high watermarks, first pfn and mem_map."""

    node: int
    index: int
    name: str
    address: Hex
    spanned: int
    present: int
    managed: int
    free: int
    min: int
    low: int
    high: int
    start_pfn: int
    mem_map: Hex
    vm_stat: tuple[tuple[str, int], ...] = ()  # the zone's vm_stat[] counters, named


def stat_names(prog: Program, enum: str) -> list[str]:
    """Return the names of a vm counter enum by value (``enum zone_stat_item``...), as
    crash names them: where enumerators share a value the last one's name, the
    ``NR_VM_*_ITEMS`` count left out."""
    names: dict[int, str] = {}
    for e in prog.type(enum).enumerators or ():
        if not (e.name.startswith("NR_VM_") and e.name.endswith("_ITEMS")):
            names[e.value] = e.name
    return [names.get(i, "") for i in range(max(names, default=-1) + 1)]


def zones(prog: Program) -> list[ZoneRow]:
    """Return every zone of every online node."""
    from drgn.helpers.linux.mmzone import for_each_online_pgdat

    out = []
    for pgdat in for_each_online_pgdat(prog):
        node = pgdat.node_id.value_()
        for i in range(len(pgdat.node_zones)):
            z = pgdat.node_zones[i]
            wm = z._watermark if hasattr(z, "_watermark") else z.watermark
            free = z.vm_stat[_enum(prog, "NR_FREE_PAGES") or 0].counter.value_()
            start = z.zone_start_pfn.value_()
            try:
                from drgn.helpers.linux.mm import pfn_to_page

                mem_map = pfn_to_page(prog, start).value_() if z.present_pages else 0
            except (LookupError, FaultError):
                mem_map = 0
            try:
                names = stat_names(prog, "enum zone_stat_item")
                counters = tuple((n, z.vm_stat[k].counter.value_())
                                 for k, n in enumerate(names) if k < len(z.vm_stat))
            except (LookupError, FaultError):
                counters = ()
            out.append(ZoneRow(node, i, z.name.string_().decode(), z.address_of_().value_(),
                               z.spanned_pages.value_(), z.present_pages.value_(),
                               z.managed_pages.counter.value_(), free, wm[0].value_(),
                               wm[1].value_(), wm[2].value_(), start, mem_map, counters))
    return out


def vm_counters(prog: Program) -> list[tuple[str, str, int]]:
    """Return ``(group, name, value)`` of the global vm counters as crash's kmem -V shows
    them: vm_zone_stat, vm_node_stat, the NUMA counters (vm_numa_stat, or 5.14's
    vm_numa_event), then the per-CPU vm_event_states summed over the CPUs."""
    from drgn.helpers.linux.cpumask import for_each_possible_cpu
    from drgn.helpers.linux.percpu import per_cpu

    out: list[tuple[str, str, int]] = []
    for group, array, enum in (("VM_ZONE_STAT", "vm_zone_stat", "enum zone_stat_item"),
                               ("VM_NODE_STAT", "vm_node_stat", "enum node_stat_item"),
                               ("VM_NUMA_STAT", "vm_numa_stat", "enum numa_stat_item"),
                               ("VM_NUMA_EVENT", "vm_numa_event", "enum numa_stat_item")):
        try:
            values = prog[array]
            names = stat_names(prog, enum)
        except (KeyError, LookupError):
            continue
        for i, name in enumerate(names):
            if i < len(values) and name:
                out.append((group, name, values[i].counter.value_()))
    try:
        names = stat_names(prog, "enum vm_event_item")
        totals = [0] * len(names)
        for cpu in for_each_possible_cpu(prog):
            events = per_cpu(prog["vm_event_states"], cpu).event
            for i in range(min(len(names), len(events))):
                totals[i] += events[i].value_()
        out += [("VM_EVENT_STATES", n, v) for n, v in zip(names, totals, strict=True) if n]
    except (KeyError, LookupError, FaultError):
        pass
    return out


@dataclass(frozen=True)
class FreeArea:
    """A zone's free list of one order and migrate type: its free_area struct and the
    free blocks on it (each 2**order pages); with ``kmem -F`` the first struct page of
    each block, in list order."""

    zone: str
    order: int
    migratetype: int
    address: Hex
    blocks: int
    zone_address: Hex = 0
    pages: tuple[int, ...] = ()


def _count_nodes(head: Object, limit: int) -> int:
    """Count the nodes of a list (a free list may hold millions of pages: no seen-set);
    -1 when a pointer cannot be read or there are more than ``limit`` (the zone has no
    more pages: the list loops)."""
    stop = head.value_()
    n = 0
    try:
        pos = head.next.read_()
        while pos.value_() != stop:
            n += 1
            if n > limit or not pos.value_():
                return -1
            pos = pos.next.read_()
    except FaultError:
        return -1
    return n


def find_free_block(prog: Program, pfn: int) -> tuple[ZoneRow, FreeArea, int] | None:
    """Return the zone, free list and first page (struct page address) of the free block
    that holds page frame ``pfn``, or None when no free list holds it (kmem -f ADDRESS)."""
    from drgn.helpers.linux.list import list_for_each
    from drgn.helpers.linux.mm import page_to_pfn

    for z in zones(prog):
        if not z.present or not z.start_pfn <= pfn < z.start_pfn + z.spanned:
            continue
        zone = Object(prog, "struct zone", address=z.address)
        for order in range(len(zone.free_area)):
            area = zone.free_area[order]
            for mt in range(len(area.free_list)):
                head = area.free_list[mt].address_of_()
                try:
                    for n, node in enumerate(list_for_each(head)):
                        if n > z.spanned:  # no zone holds more pages: the list loops
                            break
                        page = container_of(node, "struct page", "lru")
                        first = page_to_pfn(page).value_()
                        if first <= pfn < first + (1 << order):
                            return (z, FreeArea(z.name, order, mt, head.value_(), -1),
                                    page.value_())
                except (FaultError, ValueError):
                    continue
    return None


def free_areas(prog: Program, with_pages: bool = False,
               errors: list[str] | None = None) -> list[FreeArea]:
    """Return every zone's free lists (``kmem -f``), counting the blocks on each list;
    ``with_pages`` (``kmem -F``) also gives the first page of each block (a bounded
    walk: a broken list's pages up to the break, its line in ``errors``)."""
    from drgn import offsetof

    from pycrash.kernel.walk import WalkError, list_nodes

    lru = offsetof(prog.type("struct page"), "lru")
    out = []
    for z in zones(prog):
        if not z.present:  # an unpopulated zone's lists were never initialised
            continue
        zone = Object(prog, "struct zone", address=z.address)
        for order in range(len(zone.free_area)):
            area = zone.free_area[order]
            for mt in range(len(area.free_list)):
                head = area.free_list[mt].address_of_()
                limit = (zone.spanned_pages.value_() >> order) + 1
                pages: list[int] = []
                if with_pages:
                    what = f"the {z.name} order-{order} free list {head.value_():#x}"
                    try:
                        for node in list_nodes(head, what, limit, offset=lru):
                            pages.append(node.value_() - lru)
                    except WalkError as exc:
                        if errors is not None:
                            errors.append(str(exc))
                    blocks = len(pages)
                else:
                    blocks = _count_nodes(head, limit)
                out.append(FreeArea(z.name, order, mt, head.value_(), blocks, z.address,
                                    tuple(pages)))
    return out


def per_cpu_offsets(prog: Program) -> list[int]:
    """Return ``__per_cpu_offset[cpu]`` of each possible CPU (what a per-CPU variable's
    address is moved by on that CPU)."""
    from drgn.helpers.linux.cpumask import for_each_possible_cpu

    offsets = prog["__per_cpu_offset"]
    return [int(offsets[cpu].value_()) for cpu in for_each_possible_cpu(prog)]


@dataclass(frozen=True)
class HugePool:
    """One huge page size the kernel set up (``struct hstate``): its address, the size of
    a page in bytes, free and total pages, and its name (``hugepages-2048kB``)."""

    hstate: Hex
    page_bytes: int
    free: int
    total: int
    name: str


def huge_pools(prog: Program) -> list[HugePool]:
    """Return a :class:`HugePool` per used entry of ``hstates[]`` (order not 0)."""
    page = int(prog["PAGE_SIZE"].value_())
    out = []
    hstates = prog["hstates"]
    for i in range(len(hstates)):
        h = hstates[i]
        order = int(h.order.value_())
        if not order:
            continue
        out.append(HugePool(h.address_ or 0, page << order, int(h.free_huge_pages.value_()),
                            int(h.nr_huge_pages.value_()),
                            h.name.string_().decode("utf-8", "replace")))
    return out


@dataclass(frozen=True)
class VmapArea:
    """A vmalloc or vmap area in use (``struct vmap_area`` with a ``vm_struct``): its
    address, its vm_struct's, and the range ``[start, end)`` (guard page included)."""

    vmap_area: Hex
    vm_struct: Hex
    start: Hex
    end: Hex


def vmap_areas(prog: Program, errors: list[str]) -> list[VmapArea]:
    """Return the :class:`VmapArea` of ``vmap_area_list`` (sorted by address) that have a
    ``vm_struct``, as crash's ``kmem -v``; a broken list is noted in ``errors``."""
    from pycrash.kernel.walk import list_entries, walk_list

    head = prog["vmap_area_list"].address_of_()
    out = []
    for va in walk_list(list_entries("struct vmap_area", head, "list", "the vmap_area list"),
                        errors):
        vm = int(va.vm.value_())
        if not vm:
            continue
        out.append(VmapArea(va.value_(), vm, int(va.va_start.value_()), int(va.va_end.value_())))
    return out


def page_flag_bits(prog: Program) -> list[tuple[str, int]]:
    """Return ``enum pageflags``' enumerators in their order (aliases too)."""
    enum = prog.type("enum pageflags")
    return [(e.name, int(e.value)) for e in enum.enumerators or ()]


def paddr_digits(prog: Program) -> int:
    """Return how many hex digits the end of physical memory takes (``max_pfn`` pages:
    crash's PADDR_PRLEN, the width of its physical address columns)."""
    page = int(prog["PAGE_SIZE"].value_())
    try:
        end = int(prog["max_pfn"].value_()) * page
    except (KeyError, LookupError, FaultError):
        from drgn.helpers.linux.mm import totalram_pages

        end = int(totalram_pages(prog)) * page
    return len(f"{end:x}")
