"""kmem: kernel memory: the summary, slab caches, zones, vm counters, free lists, addresses."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from drgn import FaultError, Object, Program

from pycrash.cmdlib.context import Context, context_lines, task_context
from pycrash.cmdlib.render import PAGE_HEADER, center, page_line
from pycrash.cmdlib.resolve import resolve_address
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import meminfo, memnodes, slabs
from pycrash.kernel.devices import has_object
from pycrash.kernel.machine import is_page_struct
from pycrash.kernel.pages import PageMember, PageRow, page_row
from pycrash.kernel.symbols import SymbolRow, lookup, section_bounds, symbol_line
from pycrash.kernel.walk import walk_list
from pycrash.records import Hex
from pycrash.session import Session

CACHE_HEADER = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"


def _ssize(nbytes: int) -> str:
    return f"{nbytes // 1024}k"


def cache_line(r: slabs.CacheRow) -> str:
    """Return crash's ``kmem -s`` line of one cache."""
    return (f"{r.cache:016x} {r.objsize:>8} {r.allocated:>10} {r.total:>9} {r.slabs:>6} "
            f"{_ssize(r.slab_size):>6}  {r.name}")


@dataclass(frozen=True)
class IgnoredCache:
    """A slab cache ``kmem -s -I`` was told to leave out: its address and name."""

    cache: Hex
    name: str


def render_caches(result: Result) -> Iterable[str]:
    """crash's kmem -s output: a table of slab caches (-I's marked [IGNORED])."""
    yield CACHE_HEADER
    for row in result.rows:
        if isinstance(row, IgnoredCache):
            yield f"{row.cache:016x} [IGNORED]".ljust(CACHE_HEADER.index("NAME")) + row.name
        else:
            yield cache_line(row)


# -- -i -------------------------------------------------------------------------

@dataclass(frozen=True)
class InfoView:
    """The page size kmem -i turns page counts into bytes with."""

    page_size: int


def render_info(result: Result) -> Iterable[str]:
    """crash's kmem -i output: pages, bytes and share of each line of the summary."""
    page = result.view.page_size
    yield "                 PAGES        TOTAL      PERCENTAGE"
    for r in result.rows:
        if r.name in ("TOTAL HUGE", "TOTAL SWAP", "COMMIT LIMIT"):
            yield ""
        size = meminfo.format_bytes(r.pages * page)
        share = f"{'----':>13}" if r.of is None else f"{r.percent:>5}% of {r.of}"
        yield f"{r.name:>13}{r.pages:>9}{size:>13}{share}"


# -- -S -------------------------------------------------------------------------

@dataclass
class CacheDetail:
    """A slab cache and the slabs that could be found: each CPU's (its kmem_cache_cpu,
    slab and partial slabs) and each node's (its counts, partial and tracked full
    slabs), with their objects."""

    cache: slabs.CacheRow
    cpus: list[slabs.CpuSlabs] = field(default_factory=list)
    nodes: list[slabs.NodeSlabs] = field(default_factory=list)

    @property
    def slabs(self) -> list[slabs.SlabView]:
        """Every slab found: each CPU's slab and partial slabs, each node's partial and
        full slabs."""
        found: list[slabs.SlabView] = []
        for c in self.cpus:
            found += ([c.slab] if c.slab is not None else []) + c.partial
        for n in self.nodes:
            found += n.partial + (n.full or [])
        return found


SLAB_HEADER = "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE"


def object_line(o: slabs.SlabObject) -> str:
    """crash's line of a slab object: ``[address]`` allocated, else the address (and two
    spaces, as crash ends it) and the CPU whose active slab holds it."""
    if o.allocated:
        return f"  [{o.address:016x}]"
    cpu = f"(cpu {o.cpu_cache} cache)" if o.cpu_cache is not None else ""
    return f"   {o.address:016x}  {cpu}"


def _slab_line(s: slabs.SlabView) -> str:
    n = len(s.objects)
    return (f"  {s.slab:016x}  {s.memory:016x} {s.node:>5} {n:>6} {s.allocated:>10} "
            f"{n - s.allocated:>5}")


def _slab_lines(s: slabs.SlabView) -> Iterable[str]:
    yield SLAB_HEADER
    yield _slab_line(s)
    yield "  FREE / [ALLOCATED]"
    for o in s.objects:
        yield object_line(o)


def _node_slab_lines(title: str, found: list[slabs.SlabView] | None) -> Iterable[str]:
    yield title
    if found is None:
        yield "  (not tracked)"
    elif not found:
        yield "  (empty)"
    else:
        yield SLAB_HEADER
        yield from map(_slab_line, found)


def render_detail(result: Result) -> Iterable[str]:
    """crash's kmem -S output: each cache, then per CPU its kmem_cache_cpu, slab and
    partial slabs with their objects ([allocated]), then per node its counts and its
    partial and full slabs, then an empty line."""
    for i, detail in enumerate(result.rows):
        if i:
            yield ""
        yield CACHE_HEADER
        yield cache_line(detail.cache)
        for c in detail.cpus:
            yield f"CPU {c.cpu} KMEM_CACHE_CPU:"
            yield f"  {c.cache_cpu:x}"
            yield f"CPU {c.cpu} SLAB:"
            if c.slab is None:
                yield "  (empty)"
            else:
                yield from _slab_lines(c.slab)
            yield f"CPU {c.cpu} PARTIAL:"
            if not c.partial:
                yield "  (empty)"
            for s in c.partial:
                yield from _slab_lines(s)
        for n in detail.nodes:
            yield "KMEM_CACHE_NODE   NODE  SLABS  PARTIAL  PER-CPU"
            yield (f"{n.cache_node:x}  {n.node:>4}  {n.nr_slabs:>5}  {n.nr_partial:>7}  "
                   f"{n.per_cpu:>7}")
            yield from _node_slab_lines(f"NODE {n.node} PARTIAL:", n.partial)
            yield from _node_slab_lines(f"NODE {n.node} FULL:", n.full)
        yield ""


@dataclass
class CacheOfAddress:
    """``kmem -s/-S ADDRESS``: the cache and slab holding an address, the object it lies
    in, and the slab's objects (with -S all of them are shown, else only that one)."""

    cache: slabs.CacheRow
    slab: slabs.SlabView
    object: Hex
    every_object: bool


def render_cache_of(result: Result) -> Iterable[str]:
    """crash's kmem -s/-S ADDRESS: the cache, the slab, and the object (-S: every object)."""
    for i, row in enumerate(result.rows):
        if i:
            yield ""
        yield CACHE_HEADER
        yield cache_line(row.cache)
        s = row.slab
        n = len(s.objects)
        yield "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE"
        yield (f"  {s.slab:016x}  {s.memory:016x} {s.node:>5} {n:>6} {s.allocated:>10} "
               f"{n - s.allocated:>5}")
        yield "  FREE / [ALLOCATED]"
        for o in s.objects:
            if row.every_object or o.address == row.object:
                yield object_line(o)


def _is_hex(spec: str) -> bool:
    try:
        int(spec, 16)
    except ValueError:
        return False
    return True


def caches_of_addresses(prog: Program, specs: list[str], every_object: bool,
                        errors: list[str]) -> list[CacheOfAddress]:
    """Return the :class:`CacheOfAddress` of each address; one not in a slab object is
    noted in ``errors`` as crash words it."""
    rows = []
    for spec in specs:
        addr = resolve_address(prog, spec)
        hit = slabs.find_slab_object(prog, addr)
        if hit is None:
            errors.append(f"address is not allocated in slab subsystem: {addr:x}")
            continue
        cache = slabs.find_cache(prog, f"{hit.cache.cache:x}")
        if cache is None:
            errors.append(f"address is not allocated in slab subsystem: {addr:x}")
            continue
        slab = Object(prog, f"{slabs.slab_type_name(prog)} *", hit.slab)
        rows.append(CacheOfAddress(hit.cache, slabs.slab_objects(cache, slab, ""), hit.object,
                                   every_object))
    return rows


# -- -z, -V, -f, -n ------------------------------------------------------------------

def render_zones(result: Result) -> Iterable[str]:
    """crash's kmem -z output: each zone's sizes (PRESENT only when fewer than spanned),
    watermarks and vm_stat counters, names right-aligned to the longest."""
    for z in result.rows:
        yield f'NODE: {z.node}  ZONE: {z.index}  ADDR: {z.address:x}  NAME: "{z.name}"'
        if not z.spanned:
            yield "  [unpopulated]"
            yield ""
            continue
        present = f"  PRESENT: {z.present}" if z.present < z.spanned else ""
        yield f"  SIZE: {z.spanned}{present}  MIN/LOW/HIGH: {z.min}/{z.low}/{z.high}"
        yield "  VM_STAT:"
        width = max((len(n) for n, _v in z.vm_stat), default=0)
        for name, value in z.vm_stat:
            yield f"{name:>{width}}: {value}"
        yield ""
        yield ""


@dataclass(frozen=True)
class Counter:
    """A vm counter: its group (VM_ZONE_STAT, VM_NODE_STAT, ...), name and value."""

    group: str
    name: str
    value: int


def render_counters(result: Result) -> Iterable[str]:
    """crash's kmem -V output: the counters of each group, an empty line between groups,
    the names right-aligned to the longest of the zone, node and NUMA counters (the
    events' to their own longest)."""
    group = None
    stats = max((len(c.name) for c in result.rows if c.group != "VM_EVENT_STATES"), default=0)
    events = max((len(c.name) for c in result.rows if c.group == "VM_EVENT_STATES"), default=0)
    for c in result.rows:
        if c.group != group:
            if group is not None:
                yield ""
            group = c.group
            yield f"  {group}:"
        yield f"{c.name:>{events if c.group == 'VM_EVENT_STATES' else stats}}: {c.value}"


@dataclass(frozen=True)
class FreeLists:
    """The free lists of every zone and order, and the free pages the kernel counts
    (NR_FREE_PAGES), which the blocks on the lists should add up to; every zone, with
    its first page's distance from its node's (crash's START_MAPNR)."""

    nr_free_pages: int
    areas: tuple[meminfo.FreeArea, ...]
    #: every zone (crash lists the empty ones too) and its first page's distance from
    #: its node's first page (START_MAPNR)
    zones: tuple[meminfo.ZoneRow, ...] = ()
    start_mapnr: tuple[int, ...] = ()


@dataclass(frozen=True)
class FreeBlock:
    """Where kmem -f ADDRESS found the address: the zone, its first page's distance from
    its node's first page (crash's START_MAPNR), the free list, the block's first page
    (struct page), the address asked for, whether it was physical, and which page of the
    block it is in (0: the first)."""

    zone: meminfo.ZoneRow
    start_mapnr: int
    area: meminfo.FreeArea
    page: Hex
    address: Hex
    physical: bool
    offset: int


def _center(text: str, width: int) -> str:
    """crash's mkstring(CENTER|RJUST): centred, the odd space on the left."""
    pad = max(width - len(text), 0)
    return " " * (pad - pad // 2) + text + " " * (pad // 2)


ZONE_HEADER = "ZONE  NAME        SIZE    FREE      MEM_MAP       START_PADDR  START_MAPNR"


def zone_line(z: meminfo.ZoneRow, start_mapnr: int) -> str:
    """crash's line of one zone above its free lists (dump_free_pages_zones_v2)."""
    mem_map = f"{z.mem_map:016x}" if z.mem_map else f"{'0':^16}"
    return (f"{z.index:>3}   {z.name:<9} {z.spanned:>6}  {z.free:>6}  {mem_map}  "
            f"{_center(f'{z.start_pfn << 12:x}', 11)}  {_center(str(start_mapnr), 11)}")


def render_free_block(result: Result) -> Iterable[str]:
    """crash's kmem -f ADDRESS output (memory.c dump_free_pages_zones_v2): the zone, the
    free list and the block's first page that hold the address."""
    for i, b in enumerate(result.rows):
        if i:
            yield ""
        yield ZONE_HEADER
        yield zone_line(b.zone, b.start_mapnr)
        yield "AREA    SIZE  FREE_AREA_STRUCT"
        yield f"{b.area.order:>3}  {f'{4 << b.area.order}k':>7}  {b.area.address:016x}  "
        line = f"{b.page:x}  "
        if b.area.order:
            ordinal = _ordinal(b.offset + 1)
            inside = "in " if b.physical and b.address & 0xFFF else ""
            line += f"({b.address:x} is {inside}{ordinal} of {1 << b.area.order} pages)"
        yield line


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _free_block(session: Session, spec: str) -> list[FreeBlock]:
    """kmem -f ADDRESS: a page pointer, a physical address or a kernel virtual address,
    as crash takes them; nothing when no free list holds it."""
    from drgn.helpers.linux.mm import follow_phys, page_to_pfn

    prog = session.prog
    addr = resolve_address(prog, spec)
    physical = addr < 1 << 63
    if physical:
        pfn = addr >> 12
    elif is_page_struct(prog, addr):
        pfn = page_to_pfn(Object(prog, "struct page *", addr)).value_()
    else:
        pfn = follow_phys(prog["init_mm"].address_of_(), addr).value_() >> 12
    found = meminfo.find_free_block(prog, pfn)
    if found is None:
        return []
    zone, area, page = found
    first = page_to_pfn(Object(prog, "struct page *", page)).value_()
    node_start = prog["node_data"][zone.node].node_start_pfn.value_() \
        if has_object(prog, "node_data") else 0
    return [FreeBlock(zone, zone.start_pfn - node_start, area, page, addr, physical,
                      pfn - first)]


def render_free(result: Result) -> Iterable[str]:
    """crash's kmem -f output: each zone and, where it has free pages, its free areas
    with their blocks and pages (-F: each free list under its own heading, followed by
    the first page of each of its blocks), then whether they add up to nr_free_pages."""
    pages = bool(result.view)
    for lists in result.rows:
        total = 0
        for i, (z, mapnr) in enumerate(zip(lists.zones, lists.start_mapnr, strict=True)):
            if i:
                yield ""
            yield ZONE_HEADER
            yield zone_line(z, mapnr)
            if not z.free:
                continue
            areas = [f for f in lists.areas if f.zone_address == z.address]
            if not pages:
                yield "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES"
            for f in areas:
                size = f"{4 << f.order}k"
                if pages:
                    yield "AREA    SIZE  FREE_AREA_STRUCT"
                    yield f"{f.order:>3}  {size:>7}  {f.address:016x}  "
                    yield from (f"{page:x}" for page in f.pages)
                else:
                    yield (f"{f.order:>3}  {size:>7}  {f.address:016x}  {f.blocks:>6} "
                           f"{f.blocks << f.order:>6}")
                total += max(f.blocks, 0) << f.order
        nr_free = lists.nr_free_pages
        yield ""
        yield f"nr_free_pages: {nr_free}  " + (
            "(verified)" if total == nr_free else f"(found {total})")


@dataclass(frozen=True)
class MemoryLayout:
    """kmem -n: the memory nodes with their zones, the sparse memory sections and the
    memory block devices, and the width of a physical address (crash's PADDR_PRLEN)."""

    nodes: list[memnodes.MemoryNode]
    sections: list[memnodes.MemSection]
    blocks: list[memnodes.MemoryBlock]
    paddr_width: int = 8


def _node_lines(n: memnodes.MemoryNode) -> Iterable[str]:
    yield (f"NODE  {center('SIZE', 8)}  {center('PGLIST_DATA', 16)}  "
           f"{center('BOOTMEM_DATA', 16)}  {center('NODE_ZONES', 16)}")
    first = center(f"{n.zones[0]:x}", 16) if n.zones else ""
    yield (f" {n.node:>2}   {center(str(n.size), 8)}  {center(f'{n.pglist_data:x}', 16)}  "
           f"{center('----', 16)}  {first}")
    indent = 12 + 8 + 16 + 16 + (len(first) - len(first.lstrip()))
    for address in n.zones[1:]:
        yield " " * indent + f"{address:x}"
    yield f"{center('MEM_MAP', 16)}     START_PADDR    START_MAPNR"
    yield (f"{center(f'{n.mem_map:x}', 16)}  {center(f'{n.start_paddr:x}', 16, True)}  "
           f"{center(str(n.start_mapnr), 11, True)}")
    yield ""
    yield f"ZONE  NAME         SIZE  {center('MEM_MAP', 16, True)}  START_PADDR  START_MAPNR"
    for z in n.zone_rows:
        yield (f" {z.index:>2}   {z.name:<9} {z.size:>7}  {z.mem_map:>16x}  "
               f"{z.start_paddr:>11x}  {z.start_mapnr:>11}")


def render_nodes(result: Result) -> Iterable[str]:
    """crash's kmem -n output: each node and its zones, then the memory sections and the
    memory blocks (SPARSEMEM)."""
    for layout in result.rows:
        width = len("ZONE  NAME         SIZE") + 2 + 16 + len("  START_PADDR  START_MAPNR")
        for i, n in enumerate(layout.nodes):
            if i:
                yield ""
                yield "-" * width
                yield ""
                yield ""
            yield from _node_lines(n)
        if not layout.sections:
            continue
        yield ""
        yield "-" * 67
        yield ""
        yield (f"NR  {center('SECTION', 16)}  {center('CODED_MEM_MAP', 16)}  "
               f"{center('MEM_MAP', 16)}  STATE PFN")
        for sec in layout.sections:
            yield (f"{sec.nr:>2}  {center(f'{sec.section:x}', 16)}  "
                   f"{center(f'{sec.coded_mem_map:x}', 16, True)}  "
                   f"{center(f'{sec.mem_map:x}', 16, True)}  {center(sec.state, 5)} "
                   f"{sec.pfn:<16}")
        if not layout.blocks:
            continue
        pw = layout.paddr_width
        nodes = layout.blocks[0].node is not None
        yield ""
        if nodes:
            yield (f"{center('MEM_BLOCK', 16)} {center('NAME', 10)}   "
                   f"{center('PHYSICAL RANGE', pw * 2 + 2)}   NODE  {'STATE':<7} "
                   f"{'START_SECTION_NO':<12}")
        else:
            yield (f"{center('MEM_BLOCK', 16)} {center('NAME', 10)}   "
                   f"{center('PHYSICAL RANGE', pw * 2)}    {'STATE':<7} "
                   f"{'START_SECTION_NO':<12}")
        for b in layout.blocks:
            where = f"{b.start:>{pw}x} - {b.end:>{pw}x}"
            node = f" {center(str(b.node), 4)}" if b.node is not None else ""
            yield (f" {b.block:<16x} {center(b.name, 12 if nodes else 10)} {where}{node}  "
                   f"{b.state:<7} {str(b.start_section):<12}")


# -- -p -------------------------------------------------------------------------

def render_pages(result: Result) -> Iterable[str]:
    """crash's kmem -p output: a table of pages."""
    yield PAGE_HEADER
    yield from map(page_line, result.rows)


# -- ADDRESS --------------------------------------------------------------------

@dataclass(frozen=True)
class AddressInfo:
    """What a kernel virtual or physical address is, as crash's ``kmem ADDRESS`` finds
    it, each part None where it does not apply: the kernel symbol it is in (kernel image
    or module), the task whose vmalloc'ed stack it is in and the vmap area holding it,
    the slab object (its cache and slab) holding it, the free block holding its page, the
    task whose task_struct or stack it is in, and the struct page of its page (None:
    not found in the page array, with ``translated`` False when the address maps no
    physical page at all)."""

    address: Hex
    physical: bool
    symbol: SymbolRow | None = None
    stack_task: Context | None = None
    vmap: meminfo.VmapArea | None = None
    slab: CacheOfAddress | None = None
    free: FreeBlock | None = None
    task: Context | None = None
    page: PageRow | None = None
    translated: bool = True


def _address_lines(info: AddressInfo) -> Iterable[str]:
    if info.symbol is not None:
        yield symbol_line(info.symbol)
        yield ""
    if info.stack_task is not None:
        yield from context_lines(info.stack_task)
        yield ""
    if info.vmap is not None:
        yield from render_vmap(Result([info.vmap]))
        yield ""
    if info.slab is not None:
        yield from render_cache_of(Result([info.slab]))
        yield ""
    if info.free is not None:
        yield from render_free_block(Result([info.free]))
        yield ""
    if info.task is not None:
        yield from context_lines(info.task)
        yield ""
    if info.physical and info.page is None:  # crash's free-list search finds no page
        yield f"kmem: cannot determine page for {info.address:x}"
    if info.page is not None:
        yield PAGE_HEADER
        yield page_line(info.page)
        return
    if not info.translated:
        yield f"WARNING: cannot make virtual-to-physical translation: {info.address:x}"
    kind = "physical" if info.physical else "kernel virtual"
    yield f"{info.address:x}: {kind} address not found in mem map"


def render_address(result: Result) -> Iterable[str]:
    """crash's kmem ADDRESS output, an empty line between addresses: the symbol, the
    vmalloc'ed stack's task and vmap area, the slab object, the free block, the task it
    is part of, and the page, each followed by an empty line, as crash's kmem_search()
    prints them."""
    for i, info in enumerate(result.rows):
        if i:
            yield ""
        yield from _address_lines(info)


def _task_holding(session: Session, addr: int) -> Object | None:
    """The task whose task_struct, else whose kernel stack, holds ``addr``."""
    size = session.prog.type("struct task_struct").size
    tasks = session.tasks()
    for t in tasks:
        if t.value_() <= addr < t.value_() + size:
            return t
    return _stack_task(session, addr)


def _stack_task(session: Session, addr: int) -> Object | None:
    from pycrash.kernel.tasks import stack_bounds

    for t in session.tasks():
        base, top = stack_bounds(t)
        if base <= addr < top:
            return t
    return None


def _vmap_of(prog: Program, addr: int) -> meminfo.VmapArea | None:
    from drgn.helpers.linux.mm import find_vmap_area

    try:
        va = find_vmap_area(prog, addr)
    except (LookupError, FaultError, ValueError):
        return None
    if not va or not va.vm:
        return None
    return meminfo.VmapArea(va.value_(), va.vm.value_(), va.va_start.value_(),
                            va.va_end.value_())


def _slab_of(prog: Program, addr: int) -> CacheOfAddress | None:
    rows = caches_of_addresses(prog, [f"{addr:x}"], False, [])
    return rows[0] if rows else None


def _page_of(prog: Program, addr: int, physical: bool) -> tuple[PageRow | None, bool]:
    """The struct page kmem -p shows for an address (a page pointer itself, else the page
    it translates to), and whether it translated."""
    from pycrash.kernel.pages import phys_page
    from pycrash.kernel.pagetable import is_x86_64, kernel_pgd, linear_phys, walk

    if not physical and is_page_struct(prog, addr):
        return page_row(prog, Object(prog, "struct page *", addr)), True
    phys: int | None = addr
    if not physical:
        phys = linear_phys(prog, addr) if is_x86_64(prog) else None
        if phys is None:
            try:
                phys = walk(prog, kernel_pgd(prog), addr).physical if is_x86_64(prog) \
                    else _follow(prog, addr)
            except FaultError:
                phys = None
    if phys is None:
        return None, False
    page = phys_page(prog, phys)
    return (page_row(prog, page) if page is not None else None), True


def _follow(prog: Program, addr: int) -> int | None:
    from drgn.helpers.linux.mm import follow_phys

    try:
        return int(follow_phys(prog["init_mm"].address_of_(), addr).value_())
    except FaultError:
        return None


def _in_image(prog: Program, addr: int) -> bool:
    """Whether ``addr`` is in the kernel image (``_stext`` to ``_end``) or the module
    area."""
    from pycrash.kernel.pagetable import MODULES_END, MODULES_VADDR

    try:
        if prog.symbol("_stext").address <= addr <= prog.symbol("_end").address:
            return True
    except LookupError:
        pass
    return MODULES_VADDR <= addr < MODULES_END


def describe_address(session: Session, addr: int) -> AddressInfo:
    """Return what ``addr`` is (a kernel virtual address, else a physical one), in the
    order crash's kmem_search() looks: symbol, vmalloc'ed stack and area (then only the
    page), slab object, free block, task_struct or stack, page."""
    from drgn.helpers.linux.mm import phys_to_virt

    from pycrash.kernel.pagetable import is_vmalloc_address, is_x86_64, kernel_pgd, walk

    prog = session.prog
    physical = addr < 1 << 63
    vaddr: int | None = addr
    if physical:
        try:
            vaddr = phys_to_virt(prog, addr).value_() if addr < _high_memory(prog) else None
        except (LookupError, FaultError, ValueError):
            vaddr = None
    info = AddressInfo(addr, physical)
    if vaddr is not None and _in_image(prog, vaddr):
        try:
            info = replace(info, symbol=lookup(prog, f"{vaddr:x}", section_bounds(prog)))
        except (LookupError, CommandError):
            pass
    if not physical and is_vmalloc_address(prog, addr):
        stack = _stack_task(session, addr)
        if stack is not None:
            info = replace(info, stack_task=task_context(session, stack))
        try:
            phys = walk(prog, kernel_pgd(prog), addr).physical if is_x86_64(prog) \
                else _follow(prog, addr)
        except FaultError:
            phys = None
        vmap = _vmap_of(prog, addr) if phys is not None else None
        if vmap is not None:
            page, _ = _page_of(prog, phys or 0, True)
            return replace(info, vmap=vmap, page=page)
    if vaddr is not None:
        info = replace(info, slab=_slab_of(prog, vaddr))
        try:
            blocks = _free_block(session, f"{addr:x}")
        except (FaultError, LookupError, ValueError, CommandError):
            blocks = []
        if blocks:
            info = replace(info, free=blocks[0])
        task = _task_holding(session, vaddr)
        if task is not None:
            info = replace(info, task=task_context(session, task))
        page, translated = _page_of(prog, addr, physical)
        info = replace(info, page=page, translated=translated)
    return info


def _high_memory(prog: Program) -> int:
    """The physical end of the direct map (``__pa(high_memory)``)."""
    from drgn.helpers.linux.mm import virt_to_phys

    return int(virt_to_phys(prog["high_memory"]).value_())


@dataclass(frozen=True)
class CpuOffset:
    """One CPU's per-CPU offset (``__per_cpu_offset[cpu]``, kmem -o)."""

    cpu: int
    offset: Hex


def render_offsets(result: Result) -> Iterable[str]:
    """crash's kmem -o."""
    yield "PER-CPU OFFSET VALUES:"
    for row in result.rows:
        yield f"{'CPU ' + str(row.cpu):>7}: {row.offset:x}"


def _huge_size(nbytes: int) -> str:
    """crash's size of a huge page: ``2MB``, ``1GB``, ``64KB``, ``1.5GB``."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20)):
        if nbytes >= scale:
            text = f"{nbytes / scale:.1f}"
            return (text[:-2] if text.endswith(".0") else text) + unit
    return f"{nbytes >> 10}KB"


def render_hugepages(result: Result) -> Iterable[str]:
    """crash's kmem -h: one line per huge page size."""
    yield "     HSTATE        SIZE    FREE   TOTAL  NAME"
    for row in result.rows:
        yield (f"{row.hstate:x}  {_huge_size(row.page_bytes):>5}  {row.free:>6}  "
               f"{row.total:>6}  {row.name}")


def render_vmap(result: Result) -> Iterable[str]:
    """crash's kmem -v: each vmap area with its vm_struct, range and size."""
    if result.rows:
        yield ("   VMAP_AREA         VM_STRUCT                 ADDRESS RANGE                "
               "SIZE")
    for row in result.rows:
        yield (f"{row.vmap_area:016x}  {row.vm_struct:016x}  {row.start:016x} - "
               f"{row.end:016x}  {row.end - row.start:7d}")


@dataclass(frozen=True)
class PageFlags:
    """``kmem -g``: the flags value asked about (0: none, list them all) and the
    ``enum pageflags`` bits, as (name, bit) in the enum's order, that it has (all of
    them when none was given); ``name_width`` is the longest enumerator's name."""

    flags: Hex
    bits: list[tuple[str, int]]
    name_width: int
    value_digits: int


def render_page_flags(result: Result) -> Iterable[str]:
    """crash's kmem -g: the header, then each flag's name, bit and value."""
    for row in result.rows:
        indent = "  " if row.flags else ""
        if row.flags:
            yield f"FLAGS: {row.flags:x}"
        yield f"{indent}{'PAGE-FLAG':<{row.name_width}} BIT  VALUE"
        for name, bit in row.bits:
            yield f"{indent}{name:<{row.name_width}}  {bit:2d}  {1 << bit:0{row.value_digits}x}"
        if row.flags and not row.bits:
            yield "  (none found)"


def page_flags(prog: Program, spec: str | None) -> PageFlags:
    """Return the :class:`PageFlags` of a flags value (``None``: every flag)."""
    try:
        enumerators = meminfo.page_flag_bits(prog)
    except LookupError:
        raise CommandError("enum pageflags does not exist in this kernel") from None
    flags = 0
    if spec is not None:
        try:
            flags = int(spec, 16)
        except ValueError:
            raise CommandError(f"invalid flags value: {spec}") from None
    width = max((len(n) for n, _ in enumerators), default=9)
    largest = max((v for n, v in enumerators if "PG_" in n), default=0)
    bits = [(n, v) for n, v in enumerators
            if "PG_" in n and 0 <= v < 64 and (not flags or flags >> v & 1)]
    return PageFlags(flags, bits, max(width, len("PAGE-FLAG")), (largest + 1) // 4 + 1)


# -- -m -------------------------------------------------------------------------

@dataclass(frozen=True)
class PageMembers:
    """``kmem -m``: a struct page and the members asked for, read from it."""

    page: Hex
    members: list[PageMember]


@dataclass(frozen=True)
class MembersView:
    """kmem -m's heading (the members as named) and the output radix for integers."""

    names: tuple[str, ...]
    radix: int


def member_text(m: PageMember, radix: int) -> str:
    """crash's show_page_member_data() text of one member (with its trailing spaces):
    pointers in hex, ``flags`` in hex, ``_count``/``_mapcount`` in decimal, other
    integers in the output radix, a struct as words."""
    if m.kind == "pointer":
        return f"{m.value:016x}  "
    if m.kind == "bool":
        return f"{'true' if m.value else 'false'}  " if m.value <= 1 else (
            f"{m.value}" if radix == 10 else f"{m.value:x}  ")
    if m.kind == "struct":
        if m.member.startswith(("_count", "_mapcount")):
            return f"{_signed(m.value & 0xFFFFFFFF, 4)}  "
        if m.size % 8 == 0:
            return ",".join(f"{w:016x}" for w in m.words) + "  "
        if m.size % 4 == 0:
            return ",".join(f"{w:08x}" for w in m.words)
        return f"{m.value:04x}  "
    if m.member == "flags":
        radix = 16
    elif m.member.startswith(("_count", "_mapcount")):
        radix = 10
    digits = 2 * m.size
    if radix == 10:
        return f"{_signed(m.value, m.size) if m.signed else m.value}  "
    return f"{m.value:0{digits}x}" + ("" if m.signed and m.size == 8 else "  ")


def _signed(value: int, size: int) -> int:
    bits = 8 * size
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def render_members(result: Result) -> Iterable[str]:
    """crash's kmem -m: ``PAGE`` and the members' names, then a line per page."""
    view: MembersView = result.view
    yield "      PAGE      " + "".join(f"  {n}" for n in view.names)
    for row in result.rows:
        yield f"{row.page:x}  " + "".join(member_text(m, view.radix) for m in row.members)


def _members(session: Session, text: str, specs: list[str]) -> Result:
    """kmem -m: the members named of each page given, or of every page."""
    from drgn.helpers.linux.mm import for_each_page

    from pycrash.kernel.pages import member_specs, page_members

    prog = session.prog
    if text.endswith((",", ".")):
        raise CommandError(f"invalid format: {text}")
    names = [n for n in text.split(",") if n]
    if not names:
        raise CommandError(f"invalid page struct member list format: {text}")
    try:
        members = member_specs(prog, names)
    except LookupError as exc:
        raise CommandError(f"invalid page struct member: {exc.args[0]}") from None
    bad = next((m for m in members if m.kind not in ("pointer", "int", "bool", "struct")
                or (m.kind == "struct" and m.size % 4 and m.size != 2)), None)
    if bad is not None:
        raise CommandError(f"unsupported page member reference: page.{bad.name}")
    size = prog.type("struct page").size
    pages = [page_obj(prog, spec).value_() for spec in specs] if specs else (
        p.value_() for p in for_each_page(prog))
    rows = []
    errors: list[str] = []
    for page in pages:
        try:
            rows.append(PageMembers(page, page_members(prog.read(page, size), members)))
        except FaultError as exc:
            if specs:
                errors.append(f"cannot read the page struct at {exc.address:#x}")
    radix = int(session.state.settings.get("radix", 10))
    return Result(rows, render=render_members, errors=errors,
                  view=MembersView(tuple(names), radix))


@command(
    "kmem",
    summary="kernel memory",
    synopsis="kmem [-i | -s | -S [cache] | -z | -V | -n | -f | -F | -p [addr] | "
             "-m member[,member] [addr]] | address ...",
    description="""
-i  the memory summary: total, free, used, shared, buffers, cached, slab, huge
    pages, swap, commit limit and committed, counted as /proc/meminfo counts
-s  every slab cache: OBJSIZE (the object size; /proc/slabinfo shows the padded
    size), allocated and total objects, slabs, slab size
-S  with a cache name or address: the cache's slabs that can be found (per-CPU,
    per-CPU partial, per-node partial) and each object, [allocated] or free
-z  zone statistics       -V  vm_stat counters       -n  memory nodes
-f  free lists of every zone and order                -p  page structs
-F  as -f, each free list under its own heading with the first page of each block
-m member[,member]  those struct page members (lru, lru.next, flags, _refcount...)
    of every page, or of the pages given, as crash shows them
address: says what it is: a slab object (its cache, allocated or free), a task's
kernel stack, a vmalloc area, a kernel symbol, or a page
""",
    examples="""
crash> kmem -i
crash> kmem -s | grep kmalloc-1k
crash> kmem -S kmalloc-1k
crash> kmem ff2a8725d63e8808
""",
    arguments=(
        arg("-i", dest="info", action="store_true", help="memory summary"),
        arg("-s", dest="caches", action="store_true", help="slab caches"),
        arg("-S", dest="detail", action="store_true", help="slab cache detail"),
        arg("-z", dest="zones", action="store_true", help="zone statistics"),
        arg("-V", dest="vmstat", action="store_true", help="vm_stat counters"),
        arg("-n", dest="nodes", action="store_true", help="memory nodes"),
        arg("-f", dest="free", action="store_true", help="free lists"),
        arg("-F", dest="free_pages", action="store_true",
            help="free lists, with the first page of each free block"),
        arg("-m", dest="members", metavar="member[,member]",
            help="these struct page members of each page (or of the pages given)"),
        arg("-p", dest="pages", action="store_true", help="page structs"),
        arg("-I", dest="ignore", metavar="slab[,slab]",
            help="with -s: leave these caches out (marked [IGNORED])"),
        arg("-o", dest="offsets", action="store_true", help="per-CPU offsets"),
        arg("-h", dest="huge", action="store_true", help="huge page pools (hstates)"),
        arg("-v", dest="vmalloc", action="store_true", help="vmalloc and vmap areas"),
        arg("-g", dest="flags", action="store_true",
            help="page flags (enum pageflags), or those of the flags value given"),
        arg("args", nargs="*", metavar="cache|address"),
    ),
    records=(meminfo.MemRow, slabs.CacheRow, CacheDetail, slabs.CpuSlabs, slabs.NodeSlabs,
             meminfo.ZoneRow, Counter, FreeLists,
             MemoryLayout, memnodes.MemoryNode, memnodes.NodeZone, memnodes.MemSection,
             memnodes.MemoryBlock, PageRow, AddressInfo, PageMembers, PageMember, FreeBlock,
             CpuOffset, meminfo.HugePool, meminfo.VmapArea, PageFlags, CacheOfAddress,
             IgnoredCache, Context),
)
def kmem(session: Session, args: argparse.Namespace) -> Result:
    """Return the records of the chosen view."""
    prog = session.prog
    if args.offsets:
        return Result([CpuOffset(c, o) for c, o in enumerate(meminfo.per_cpu_offsets(prog))],
                      render=render_offsets)
    if args.huge:
        try:
            pools = meminfo.huge_pools(prog)
        except (KeyError, LookupError, AttributeError):
            raise CommandError("-h option not supported or applicable on this architecture "
                               "or kernel") from None
        return Result(pools, render=render_hugepages)
    if args.vmalloc and not args.args:
        errors_v: list[str] = []
        try:
            areas = meminfo.vmap_areas(prog, errors_v)
        except (KeyError, LookupError):
            raise CommandError("-v: this kernel has no vmap_area_list (6.9 and later keep "
                               "vmap areas per node)") from None
        return Result(areas, render=render_vmap, errors=errors_v)
    if args.flags:
        if len(args.args) > 1:
            raise CommandError("-g takes one flags value")
        return Result([page_flags(prog, args.args[0] if args.args else None)],
                      render=render_page_flags)
    if args.info:
        page = int(prog["PAGE_SIZE"].value_())
        return Result(meminfo.summary(prog), render=render_info, view=InfoView(page))
    if args.caches or args.detail:
        errors: list[str] = []
        found = walk_list(slabs.caches(prog), errors)
        addresses = [a for a in args.args if _is_hex(a) and slabs.find_cache(prog, a) is None]
        if addresses:  # crash: the cache holding each address (a cache named too is ignored)
            errors += [f"ignoring pre-selected {a} cache for address: {addresses[0]}"
                       for a in args.args if a not in addresses]
            rows_a = caches_of_addresses(prog, addresses, args.detail, errors)
            return Result(rows_a, render=render_cache_of, errors=errors)
        if args.args:
            wanted = []
            for spec in args.args:
                cache = slabs.find_cache(prog, spec)
                if cache is None:
                    raise CommandError(f"invalid slab cache: {spec}")
                wanted.append(cache)
            found = wanted
        if args.detail:
            details = [CacheDetail(slabs.cache_row(c), *slabs.cache_layout(c)) for c in found]
            return Result(details, render=render_detail, errors=errors)
        ignored = set(args.ignore.split(",")) if args.ignore else set()
        if ignored and args.detail:
            raise CommandError("-I is only supported with -s")
        rows_s: list[slabs.CacheRow | IgnoredCache] = []
        for c in found:
            name = c.name.string_().decode("utf-8", "replace")
            rows_s.append(IgnoredCache(c.value_(), name) if name in ignored
                          else slabs.cache_row(c))
        return Result(rows_s, render=render_caches, errors=errors)
    if args.zones and args.args:
        raise CommandError("no address arguments allowed with this option")
    args.free = args.free or args.free_pages
    if args.free and args.args:
        blocks = [b for spec in args.args for b in _free_block(session, spec)]
        return Result(blocks, render=render_free_block)
    if args.zones:
        return Result(meminfo.zones(prog), render=render_zones)
    if args.vmstat:
        counters = [Counter(g, n, v) for g, n, v in meminfo.vm_counters(prog)]
        return Result(counters, render=render_counters)
    if args.free:
        errors_f: list[str] = []
        zone_rows = meminfo.zones(prog)
        lists = FreeLists(meminfo.zone_state(prog, "NR_FREE_PAGES"),
                          tuple(meminfo.free_areas(prog, args.free_pages, errors_f)),
                          tuple(zone_rows), tuple(_start_mapnr(prog, z) for z in zone_rows))
        return Result([lists], render=render_free, errors=errors_f, view=args.free_pages)
    if args.members is not None:
        return _members(session, args.members, args.args)
    if args.nodes:
        layout = MemoryLayout(memnodes.memory_nodes(prog), memnodes.mem_sections(prog),
                              memnodes.memory_blocks(prog), meminfo.paddr_digits(prog))
        return Result([layout], render=render_nodes)
    if args.pages:
        return Result(_pages(prog, args.args), render=render_pages)
    if not args.args:
        raise CommandError("give a flag (-i, -s, -S, -z, -V, -n, -f, -p) or an address")
    rows = [describe_address(session, resolve_address(prog, spec)) for spec in args.args]
    return Result(rows, render=render_address)


def _start_mapnr(prog: Program, z: meminfo.ZoneRow) -> int:
    """crash's START_MAPNR of a zone: its first page's distance from its node's first
    page (0 for a zone without pages)."""
    if not z.mem_map:
        return 0
    try:
        return z.start_pfn - int(prog["node_data"][z.node].node_start_pfn.value_())
    except (KeyError, LookupError):
        return z.start_pfn



def page_obj(prog: Program, spec: str) -> Object:
    """The ``struct page *`` a kmem -p/-m address names: a struct page, a kernel address
    in the page, or as crash takes a number below the kernel's space, a physical
    address."""
    from drgn.helpers.linux.mm import follow_phys, pfn_to_page

    page_shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    addr = resolve_address(prog, spec)
    if addr < 1 << 63:
        return pfn_to_page(prog, addr >> page_shift)
    if is_page_struct(prog, addr):
        return Object(prog, "struct page *", addr)
    # any kernel address, the image's too: through the page tables
    phys = follow_phys(prog["init_mm"].address_of_(), addr).value_()
    return pfn_to_page(prog, phys >> page_shift)


def _pages(prog: Program, specs: list[str]) -> list[PageRow]:
    """Return the :class:`PageRow` of each page named (a struct page, a kernel address in
    the page, or as crash takes a number below the kernel's space: a physical address),
    or of every page."""
    from drgn.helpers.linux.mm import for_each_page

    rows = []
    if specs:
        return [page_row(prog, page_obj(prog, spec)) for spec in specs]
    for p in for_each_page(prog):
        try:
            rows.append(page_row(prog, p))
        except FaultError:
            continue
    return rows



