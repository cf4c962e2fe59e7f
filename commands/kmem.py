"""kmem: kernel memory: the summary, slab caches, zones, vm counters, free lists, addresses."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drgn import FaultError, Object

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import meminfo, slabs
from pycrash.session import Session

CACHE_HEADER = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"


def _ssize(nbytes: int) -> str:
    return f"{nbytes // 1024}k"


def cache_line(r: slabs.CacheRow) -> str:
    """Return crash's ``kmem -s`` line of one cache."""
    return (f"{r.cache:016x} {r.objsize:>8} {r.allocated:>10} {r.total:>9} {r.slabs:>6} "
            f"{_ssize(r.slab_size):>6}  {r.name}")


# -- -i -------------------------------------------------------------------------

def _render_info(result: Result) -> Iterable[str]:
    page = result.options["page_size"]
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
    """A cache and the slabs of it that could be found, with their objects."""

    cache: slabs.CacheRow
    slabs: list[slabs.SlabView] = field(default_factory=list)


def _render_detail(result: Result) -> Iterable[str]:
    for detail in result.rows:
        yield CACHE_HEADER
        yield cache_line(detail.cache)
        for s in detail.slabs:
            yield f"{s.where.upper()} SLAB:"
            yield "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE"
            n = len(s.objects)
            yield (f"  {s.slab:016x}  {s.memory:016x} {s.node:>5} {n:>6} {s.allocated:>10} "
                   f"{n - s.allocated:>5}")
            yield "  FREE / [ALLOCATED]"
            for addr, used in s.objects:
                yield f"  [{addr:016x}]" if used else f"   {addr:016x}"


# -- -z, -V, -f, -n ------------------------------------------------------------------

def _render_zones(result: Result) -> Iterable[str]:
    for z in result.rows:
        yield f'NODE: {z.node}  ZONE: {z.index}  ADDR: {z.address:016x}  NAME: "{z.name}"'
        if not z.present:
            yield "  [unpopulated]"
        else:
            yield (f"  SIZE: {z.spanned}  PRESENT: {z.present}  MANAGED: {z.managed}  "
                   f"MIN/LOW/HIGH: {z.min}/{z.low}/{z.high}")
            yield f"  FREE: {z.free}  START_PFN: {z.start_pfn}  MEM_MAP: {z.mem_map:016x}"
        yield ""


@dataclass(frozen=True)
class Counter:
    """A vm counter: its group (VM_ZONE_STAT...), name and value."""

    group: str
    name: str
    value: int


def _render_counters(result: Result) -> Iterable[str]:
    group = None
    width = max((len(c.name) for c in result.rows), default=10)
    for c in result.rows:
        if c.group != group:
            if group is not None:
                yield ""
            group = c.group
            yield f"  {group}:"
        yield f"  {c.name:>{width}}: {c.value}"


def _render_free(result: Result) -> Iterable[str]:
    zone = None
    for f in result.rows:
        if f.zone != zone:
            zone = f.zone
            yield ""
            yield f"ZONE  {zone}"
            yield "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES"
        yield (f"{f.order:>3} {4 << f.order:>6}k  {f.address:016x} {f.blocks:>7} "
               f"{f.blocks << f.order:>6}")
    total = sum(f.blocks << f.order for f in result.rows)
    yield ""
    yield f"nr_free_pages: {result.options['nr_free']}  " + (
        "(verified)" if total == result.options["nr_free"] else f"(free lists hold {total})")


def _render_nodes(result: Result) -> Iterable[str]:
    yield "NODE    SIZE      PGLIST_DATA       ZONES"
    for node, size, pgdat, zones in result.rows:
        yield f"{node:>3} {size:>9}  {pgdat:016x}  " + " ".join(f"{z:016x}" for z in zones)


# -- -p -------------------------------------------------------------------------

@dataclass(frozen=True)
class PageRow:
    """A ``struct page``: its address, physical address, mapping, index, count, flags."""

    page: int
    physical: int
    mapping: int
    index: int
    count: int
    flags: str


def page_row(prog: object, page: Object) -> PageRow:
    """Return the :class:`PageRow` of a ``struct page *``."""
    from drgn.helpers.linux.mm import decode_page_flags, page_to_phys

    try:
        mapping = page.mapping.value_()
        index = page.index.value_()
    except AttributeError:
        mapping = index = 0
    return PageRow(page.value_(), page_to_phys(page).value_(), mapping, index,
                   page._refcount.counter.value_(), decode_page_flags(page))


def _render_pages(result: Result) -> Iterable[str]:
    yield "      PAGE        PHYSICAL      MAPPING       INDEX CNT FLAGS"
    for p in result.rows:
        yield (f"{p.page:016x} {p.physical:>9x} {p.mapping:016x} {p.index:>8x} {p.count:>3} "
               f"{p.flags}")


# -- ADDRESS --------------------------------------------------------------------

@dataclass
class AddressInfo:
    """What an address is: ``kind`` is slab, stack, vmalloc, symbol or page."""

    address: int
    kind: str
    slab: slabs.SlabHit | None = None
    task_pid: int | None = None
    task: int | None = None
    task_comm: str | None = None
    vmap_start: int | None = None
    vmap_end: int | None = None
    symbol: str | None = None
    page: PageRow | None = None


def _render_address(result: Result) -> Iterable[str]:
    for info in result.rows:
        if info.slab is not None:
            hit = info.slab
            yield CACHE_HEADER
            yield cache_line(hit.cache)
            yield "  SLAB              OBJECT"
            state = f"[{hit.object:016x}]" if hit.allocated else f" {hit.object:016x}  (free)"
            yield f"  {hit.slab:016x}  {state}"
        if info.task is not None:
            yield (f"{info.address:x}: kernel stack of PID: {info.task_pid}  TASK: "
                   f'{info.task:x}  COMMAND: "{info.task_comm}"')
        if info.vmap_start is not None:
            yield "    VMAP_AREA RANGE                         SIZE"
            yield (f"    {info.vmap_start:016x} - {info.vmap_end:016x}  "
                   f"{(info.vmap_end or 0) - info.vmap_start:>8}")
        if info.symbol is not None:
            yield info.symbol
        if info.page is not None:
            yield from _render_pages(Result([info.page]))


def _task_of_stack(session: Session, addr: int) -> Object | None:
    from pycrash.kernel.tasks import stack_bounds

    for t in session.tasks():
        base, top = stack_bounds(t)
        if base <= addr < top:
            return t
    return None


def describe_address(session: Session, addr: int) -> AddressInfo:
    """Return what ``addr`` is, or raise :class:`CommandError` when it is nothing known."""
    from drgn.helpers.linux.mm import find_vmap_area, virt_to_page

    prog = session.prog
    info = AddressInfo(addr, "")
    task = _task_of_stack(session, addr)
    if task is not None:
        from pycrash.kernel.tasks import comm

        info.kind = "stack"
        info.task, info.task_pid, info.task_comm = task.value_(), task.pid.value_(), comm(task)
    try:
        va = find_vmap_area(prog, addr)
        if va:
            info.vmap_start, info.vmap_end = va.va_start.value_(), va.va_end.value_()
            info.kind = info.kind or "vmalloc"
    except (LookupError, FaultError, ValueError):
        pass
    if info.kind:
        return info
    hit = slabs.find_slab_object(prog, addr)
    if hit is not None:
        info.kind, info.slab = "slab", hit
        return info
    try:
        sym = prog.symbol(addr)
        from pycrash.kernel.symbols import lookup, section_bounds

        info.kind, info.symbol = "symbol", lookup(prog, f"{addr:x}", section_bounds(prog)).text()
        del sym
        return info
    except (LookupError, CommandError):
        pass
    try:
        page = virt_to_page(prog, addr)
        prog.read(page.value_(), 8)
        prog.read(addr, 1)
        info.kind, info.page = "page", page_row(prog, page)
        return info
    except (FaultError, LookupError, ValueError):
        pass
    raise CommandError(f"kmem: {addr:x}: not a kernel address this dump maps "
                       f"(no slab object, stack, vmalloc area, symbol or page)")


@command(
    "kmem",
    summary="kernel memory",
    synopsis="kmem [-i | -s | -S [cache] | -z | -V | -n | -f | -p [addr]] | address ...",
    description="""
-i  the memory summary: total, free, used, shared, buffers, cached, slab, huge
    pages, swap, commit limit and committed, counted as /proc/meminfo counts
-s  every slab cache: OBJSIZE (the object size; /proc/slabinfo shows the padded
    size), allocated and total objects, slabs, slab size
-S  with a cache name or address: the cache's slabs that can be found (per-CPU,
    per-CPU partial, per-node partial) and each object, [allocated] or free
-z  zone statistics       -V  vm_stat counters       -n  memory nodes
-f  free lists of every zone and order                -p  page structs
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
        arg("-p", dest="pages", action="store_true", help="page structs"),
        arg("args", nargs="*", metavar="cache|address"),
    ),
)
def kmem(session: Session, args: argparse.Namespace) -> Result:
    """Return the records of the chosen view."""
    prog = session.prog
    page = int(prog["PAGE_SIZE"].value_())
    rows: list[Any]
    if args.info:
        return Result(meminfo.summary(prog), render=_render_info, options={"page_size": page})
    if args.caches or args.detail:
        found = list(slabs.caches(prog))
        if args.args:
            wanted = []
            for spec in args.args:
                cache = slabs.find_cache(prog, spec)
                if cache is None:
                    raise CommandError(f"kmem: invalid slab cache: {spec}")
                wanted.append(cache)
            found = wanted
        if args.detail:
            details = [CacheDetail(slabs.cache_row(c), slabs.cache_slabs(c)) for c in found]
            return Result(details, render=_render_detail)
        return Result([slabs.cache_row(c) for c in found],
                      render=lambda r: [CACHE_HEADER, *map(cache_line, r.rows)])
    if args.zones:
        return Result(meminfo.zones(prog), render=_render_zones)
    if args.vmstat:
        rows = [Counter(g, n, v) for g, n, v in meminfo.vm_counters(prog)]
        return Result(rows, render=_render_counters)
    if args.free:
        return Result(meminfo.free_areas(prog), render=_render_free,
                      options={"nr_free": meminfo.zone_state(prog, "NR_FREE_PAGES")})
    if args.nodes:
        from drgn.helpers.linux.mmzone import for_each_online_pgdat

        rows = [(p.node_id.value_(), p.node_spanned_pages.value_(), p.value_(),
                 [p.node_zones[i].address_of_().value_() for i in range(len(p.node_zones))])
                for p in for_each_online_pgdat(prog)]
        return Result(rows, render=_render_nodes)
    if args.pages:
        from drgn.helpers.linux.mm import for_each_page, virt_to_page

        if args.args:
            rows = []
            for spec in args.args:
                addr = _parse_address(spec)
                page_obj = virt_to_page(prog, addr) if addr >= 1 << 63 and not \
                    _is_page_struct(prog, addr) else Object(prog, "struct page *", addr)
                rows.append(page_row(prog, page_obj))
            return Result(rows, render=_render_pages)
        rows = []
        for p in for_each_page(prog):
            try:
                rows.append(page_row(prog, p))
            except FaultError:
                continue
        return Result(rows, render=_render_pages)
    if not args.args:
        raise CommandError("kmem: give a flag (-i, -s, -S, -z, -V, -n, -f, -p) or an address")
    rows, errors = [], []
    for spec in args.args:
        try:
            rows.append(describe_address(session, _parse_address(spec)))
        except CommandError as exc:
            errors.append(str(exc))
    return Result(rows, render=_render_address, errors=errors)


def _parse_address(spec: str) -> int:
    try:
        return int(spec, 16)
    except ValueError:
        raise CommandError(f"kmem: invalid address: {spec}") from None


def _is_page_struct(prog: object, addr: int) -> bool:
    try:
        base = prog["vmemmap_base"].value_()  # type: ignore[index]
    except (KeyError, TypeError):
        return False
    return bool(base <= addr < base + (1 << 40))
