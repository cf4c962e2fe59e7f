"""Slab caches (``kmem -s``, ``-S``) and what an address is (``kmem ADDRESS``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program
from drgn.helpers.linux.slab import slab_cache_usage, slab_object_info

from pycrash.kernel.walk import list_entries
from pycrash.records import Hex


@dataclass(frozen=True)
class CacheRow:
    """One slab cache as ``kmem -s`` lists it.

    ``objsize`` is the object size callers asked for (``object_size``; /proc/slabinfo
    shows the padded ``size``); ``slab_size`` is the bytes of one slab.
    """

    cache: Hex
    objsize: int
    allocated: int
    total: int
    slabs: int
    slab_size: int
    name: str


def cache_row(cache: Object) -> CacheRow:
    """Return the :class:`CacheRow` of a ``struct kmem_cache *``."""
    prog = cache.prog_
    page = int(prog["PAGE_SIZE"].value_())
    try:
        order = cache.oo.x.value_() >> 16  # SLUB: order in the high bits of oo
    except AttributeError:
        order = cache.gfporder.value_()  # SLAB
    try:
        if hasattr(cache, "cpu_slab"):
            total, allocated, slabs = slub_usage(cache)
        else:
            usage = slab_cache_usage(cache)
            total, allocated, slabs = usage.num_objs, usage.active_objs, usage.num_slabs
    except (ValueError, FaultError, LookupError):
        total = allocated = slabs = -1
    return CacheRow(cache.value_(), cache.object_size.value_(), allocated, total, slabs,
                    page << order, cache.name.string_().decode("utf-8", "replace"))


def _swab64(x: int) -> int:
    return int.from_bytes(x.to_bytes(8, "little"), "big")


def cpu_of_slab(cache: Object, slab: int) -> int | None:
    """Return the CPU whose active slab (``cpu_slab->slab``, ``->page`` before 5.17) of
    ``cache`` is ``slab``, or None."""
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.percpu import per_cpu_ptr

    for cpu in for_each_online_cpu(cache.prog_):
        try:
            c = per_cpu_ptr(cache.cpu_slab, cpu)
            active = c.slab if hasattr(c, "slab") else c.page
            if active.value_() == slab:
                return int(cpu)
        except FaultError:
            continue
    return None


def freelist_length(cache: Object, head: int, limit: int) -> int:
    """Return how many objects a SLUB freelist starting at ``head`` links (at most ``limit``).

    With CONFIG_SLAB_FREELIST_HARDENED each link is stored as
    ``ptr ^ cache->random ^ swab(address of the link)``.
    """
    prog = cache.prog_
    offset = cache.offset.value_()
    random = cache.random.value_() if hasattr(cache, "random") else None
    n, p = 0, head
    while p and n < limit:
        at = p + offset
        value = prog.read_u64(at)
        if random is not None:
            value ^= random ^ _swab64(at)
        p, n = value, n + 1
    return n


def slub_usage(cache: Object) -> tuple[int, int, int]:
    """Return ``(objects, allocated, slabs)`` of a SLUB cache.

    Totals come from the per-node counters (CONFIG_SLUB_DEBUG); free objects are
    those on each CPU's lockless freelist and its active slab's freelist (remote
    frees), plus ``objects - inuse`` of every per-CPU and per-node partial slab.
    """
    from drgn.helpers.linux.cpumask import for_each_possible_cpu
    from drgn.helpers.linux.nodemask import for_each_online_node
    from drgn.helpers.linux.percpu import per_cpu_ptr

    prog = cache.prog_
    total = slabs = free = 0
    slab_type = _slab_type(prog)
    for node in for_each_online_node(prog):
        n = cache.node[node]
        if not n:
            continue
        total += n.total_objects.counter.value_()
        slabs += n.nr_slabs.counter.value_()
        for slab in list_entries(slab_type, n.partial.address_of_(), "slab_list",
                                 f"the partial slab list of node {node} of a cache"):
            free += slab.objects.value_() - slab.inuse.value_()
    limit = max(total, 1)
    for cpu in for_each_possible_cpu(prog):
        c = per_cpu_ptr(cache.cpu_slab, cpu)
        active = c.slab if hasattr(c, "slab") else c.page
        if active:
            free += freelist_length(cache, c.freelist.value_(), limit)
            free += freelist_length(cache, active.freelist.value_(), limit)
        partial = c.partial
        seen = 0
        while partial and seen < 100000:
            free += partial.objects.value_() - partial.inuse.value_()
            partial = partial.next
            seen += 1
    return total, total - free, slabs


def _slab_type(prog: Program) -> str:
    try:
        prog.type("struct slab")
        return "struct slab"
    except LookupError:
        return "struct page"


def slab_type_name(prog: Program) -> str:
    """Return the type of a slab: ``struct slab`` (5.17 and later), else ``struct page``."""
    return _slab_type(prog)


def caches(prog: Program) -> Iterator[Object]:
    """Yield every ``struct kmem_cache *`` in ``slab_caches`` order (bounded: a loop in
    the list raises :class:`pycrash.kernel.walk.WalkError` after the caches before it)."""
    yield from list_entries("struct kmem_cache", prog["slab_caches"].address_of_(), "list",
                            "the slab cache list")


def find_cache(prog: Program, spec: str) -> Object | None:
    """Return the cache named ``spec`` or at address ``spec``, or None."""
    name = spec.encode()
    try:
        addr: int | None = int(spec, 16)
    except ValueError:
        addr = None
    by_address = None
    for cache in caches(prog):
        if cache.name.string_() == name:
            return cache
        if by_address is None and cache.value_() == addr:
            by_address = cache
    return by_address


@dataclass(frozen=True)
class SlabObject:
    """An object of a slab: its address, and whether it is allocated (else free)."""

    address: Hex
    allocated: bool
    cpu_cache: int | None = None  # free in this CPU's active slab (crash's "(cpu N cache)")


@dataclass
class SlabView:
    """One slab of a cache: where it sits (``cpu N``, ``cpu N partial``, ``node N
    partial`` or ``full``), its struct slab (or page), the memory its objects are in, its
    NUMA node, and its objects."""

    where: str
    slab: Hex
    memory: Hex
    node: int
    objects: list[SlabObject] = field(default_factory=list)

    @property
    def allocated(self) -> int:
        """How many objects of the slab are in use."""
        return sum(1 for o in self.objects if o.allocated)


def slab_objects(cache: Object, slab: Object, where: str) -> SlabView:
    """Return the :class:`SlabView` of a ``struct slab *`` (or page) of ``cache``."""
    from drgn import cast
    from drgn.helpers.linux.mm import page_to_virt

    prog = cache.prog_
    page = cast("struct page *", slab)
    base = page_to_virt(page).value_()
    size = cache.size.value_()
    n = slab.objects.value_()
    on_cpu = cpu_of_slab(cache, slab.value_())  # its free objects are that CPU's cache
    objs = []
    for i in range(n):
        addr = base + i * size
        info = slab_object_info(prog, addr)
        allocated = bool(info and info.allocated)
        objs.append(SlabObject(addr, allocated, None if allocated else on_cpu))
    node = 0
    try:
        from drgn.helpers.linux.mm import page_to_pfn
        from drgn.helpers.linux.mmzone import for_each_online_pgdat

        pfn = page_to_pfn(page).value_()
        for pgdat in for_each_online_pgdat(prog):
            start = pgdat.node_start_pfn.value_()
            if start <= pfn < start + pgdat.node_spanned_pages.value_():
                node = pgdat.node_id.value_()
    except (LookupError, FaultError):
        pass
    return SlabView(where, slab.value_(), base, node, objs)


def cache_slabs(cache: Object) -> list[SlabView]:
    """Return the slabs of a SLUB cache that can be found: per-CPU, per-CPU partial and
    per-node partial lists (full slabs are only tracked by debug kernels)."""
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.percpu import per_cpu_ptr

    prog = cache.prog_
    out = []
    for cpu in for_each_online_cpu(prog):
        c = per_cpu_ptr(cache.cpu_slab, cpu)
        slab = c.slab if hasattr(c, "slab") else c.page
        if slab:
            out.append(slab_objects(cache, slab, f"cpu {cpu}"))
        partial = c.partial
        seen = 0
        while partial and seen < 10000:
            out.append(slab_objects(cache, partial, f"cpu {cpu} partial"))
            partial = partial.next
            seen += 1
    from drgn.helpers.linux.nodemask import for_each_online_node

    slab_type = _slab_type(prog)
    # kmem_cache.node[] is allocated for nr_node_ids entries only: read online nodes only
    for node in for_each_online_node(prog):
        n = cache.node[node]
        if not n:
            continue
        try:
            for slab in list_entries(slab_type, n.partial.address_of_(), "slab_list",
                                     f"the partial slab list of node {node}"):
                out.append(slab_objects(cache, slab, f"node {node} partial"))
        except (LookupError, FaultError):
            continue
    return out


@dataclass(frozen=True)
class CpuSlabs:
    """A CPU's part of a SLUB cache: its struct kmem_cache_cpu, the slab it allocates
    from (None: none) and its per-CPU partial slabs."""

    cpu: int
    cache_cpu: Hex
    slab: SlabView | None
    partial: list[SlabView] = field(default_factory=list)


@dataclass(frozen=True)
class NodeSlabs:
    """A node's part of a SLUB cache: its struct kmem_cache_node, its slab and partial
    counts, how many CPU slabs are on the node, its partial slabs, and its full slabs
    (None: not tracked, as without SLAB_STORE_USER)."""

    node: int
    cache_node: Hex
    nr_slabs: int
    nr_partial: int
    per_cpu: int
    partial: list[SlabView] = field(default_factory=list)
    full: list[SlabView] | None = None


#: SLAB_STORE_USER: a cache whose full slabs are on its nodes' full lists
SLAB_STORE_USER = 0x00010000


def cache_layout(cache: Object) -> tuple[list[CpuSlabs], list[NodeSlabs]]:
    """Return the slabs of a SLUB cache as crash's kmem -S walks them: each online CPU's
    slab and partial slabs, then each online node's counts, partial and (tracked) full
    slabs."""
    from drgn.helpers.linux.cpumask import for_each_online_cpu
    from drgn.helpers.linux.nodemask import for_each_online_node
    from drgn.helpers.linux.percpu import per_cpu_ptr

    prog = cache.prog_
    cpus = []
    per_node: dict[int, int] = {}
    for cpu in for_each_online_cpu(prog):
        c = per_cpu_ptr(cache.cpu_slab, cpu)
        slab = c.slab if hasattr(c, "slab") else c.page
        view = slab_objects(cache, slab, f"cpu {cpu}") if slab else None
        if view is not None:
            per_node[view.node] = per_node.get(view.node, 0) + 1
        partial = []
        p = c.partial
        seen = 0
        while p and seen < 10000:
            partial.append(slab_objects(cache, p, f"cpu {cpu} partial"))
            p = p.next
            seen += 1
        cpus.append(CpuSlabs(cpu, c.value_(), view, partial))
    slab_type = _slab_type(prog)
    tracked = bool(cache.flags.value_() & SLAB_STORE_USER) and hasattr(cache.node[0], "full")
    nodes = []
    for node in for_each_online_node(prog):
        n = cache.node[node]
        if not n:
            nodes.append(NodeSlabs(node, 0, 0, 0, per_node.get(node, 0)))
            continue
        lists: dict[str, list[SlabView]] = {"partial": [], "full": []}
        for name in ("partial", "full") if tracked else ("partial",):
            try:
                for slab in list_entries(slab_type, getattr(n, name).address_of_(),
                                         "slab_list", f"the {name} slab list of node {node}"):
                    lists[name].append(slab_objects(cache, slab, f"node {node} {name}"))
            except (LookupError, FaultError):
                continue
        nodes.append(NodeSlabs(node, n.value_(), n.nr_slabs.counter.value_(),
                               n.nr_partial.value_(), per_node.get(node, 0),
                               lists["partial"], lists["full"] if tracked else None))
    return cpus, nodes


@dataclass(frozen=True)
class SlabHit:
    """An address inside a slab object: the cache, the slab, the object, and whether it
    is in use."""

    cache: CacheRow
    slab: Hex
    object: Hex
    allocated: bool


def find_slab_object(prog: Program, addr: int) -> SlabHit | None:
    """Return the slab object containing ``addr``, or None when it is not slab memory."""
    try:
        info = slab_object_info(prog, addr)
    except (FaultError, LookupError, ValueError):
        return None
    if info is None or not info.slab_cache:
        return None
    return SlabHit(cache_row(info.slab_cache), info.slab.value_(), info.address,
                   bool(info.allocated))


def slab_cache_of(prog: Program, addr: int) -> tuple[int, str] | None:
    """Return ``(object address, cache name)`` of the slab object holding ``addr``, or None
    (not slab memory). Lighter than :func:`find_slab_object`: no usage counts."""
    try:
        info = slab_object_info(prog, addr)
        if info is None or not info.slab_cache:
            return None
        return info.address, info.slab_cache.name.string_().decode("utf-8", "replace")
    except (FaultError, LookupError, ValueError):
        return None
